//! The image model handed to the layers stage, and the OCI / Docker JSON
//! documents it is read from.

use std::fmt;

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::SourceError;

/// Largest index, manifest or config accepted (real ones are a few KiB).
pub const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An OS/architecture pair, as in `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`.
    pub architecture: String,
    /// CPU variant (`v7`, `v8`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let ok =
            |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*variant).into()),
            }),
            _ => Err(format!(
                "invalid platform {text:?} (expected os/arch[/variant])"
            )),
        }
    }

    /// The platform of the machine Portcullis runs on, as Docker names it
    /// (images are Linux images even when scanned from another OS).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    /// Whether a manifest's platform satisfies this one (a missing variant
    /// matches any; `arm64` images often omit `v8`).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// How a layer blob is compressed, according to its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `…tar+gzip`, Docker's `rootfs.diff.tar.gzip`.
    Gzip,
    /// `…tar+zstd`.
    Zstd,
    /// A plain tar.
    None,
    /// Not declared (docker archives): the layers stage goes by magic bytes.
    Unknown,
}

impl Compression {
    /// The compression a layer media type declares; `None` for a media type
    /// that is not a layer Portcullis can read.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
                Some(Compression::Zstd)
            }
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            _ => None,
        }
    }
}

/// One layer of an image, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// Digest of the blob as stored (compressed).
    pub digest: Digest,
    /// Digest of the uncompressed tar, from the config's `rootfs.diff_ids`.
    pub diff_id: Option<Digest>,
    /// Media type as declared.
    pub media_type: String,
    /// Declared compression.
    pub compression: Compression,
    /// Declared blob size in bytes, when the format declares one.
    pub size: Option<u64>,
}

/// The parts of the image config Portcullis uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// Digest of the config blob.
    pub digest: Option<Digest>,
    /// `os`.
    pub os: String,
    /// `architecture`.
    pub architecture: String,
    /// `variant`.
    pub variant: Option<String>,
    /// `rootfs.diff_ids`, bottom layer first.
    pub diff_ids: Vec<Digest>,
    /// `created`, as written.
    pub created: Option<String>,
    /// Labels of `config.Labels`.
    pub labels: Vec<(String, String)>,
}

// ---- JSON documents -------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct DescriptorJson {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlatformJson {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An index / manifest list or an image manifest; which one is decided by
/// `mediaType` or by which fields are present.
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestJson {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<DescriptorJson>>,
    #[serde(default)]
    pub config: Option<DescriptorJson>,
    #[serde(default)]
    pub layers: Option<Vec<DescriptorJson>>,
}

#[derive(Debug, Deserialize)]
struct ConfigJson {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    rootfs: Option<RootfsJson>,
    #[serde(default)]
    config: Option<ContainerConfigJson>,
}

#[derive(Debug, Deserialize)]
struct RootfsJson {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ContainerConfigJson {
    #[serde(rename = "Labels", default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// A parsed manifest document.
pub(crate) enum Parsed {
    /// An index or manifest list: pick a child.
    Index(Vec<DescriptorJson>),
    /// An image manifest.
    Manifest {
        config: DescriptorJson,
        layers: Vec<DescriptorJson>,
    },
}

pub(crate) fn invalid(image: &str, what: &str, reason: impl fmt::Display) -> SourceError {
    SourceError::InvalidMetadata {
        image: image.to_owned(),
        what: what.to_owned(),
        reason: crate::digest::truncate(&reason.to_string()),
    }
}

/// Parses a manifest or index document; `declared` is the media type the
/// referring descriptor or HTTP response gave, if any.
pub(crate) fn parse_manifest(
    image: &str,
    what: &str,
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<Parsed, SourceError> {
    let doc: ManifestJson = serde_json::from_slice(bytes).map_err(|e| invalid(image, what, e))?;
    if doc.schema_version != Some(2) {
        return Err(invalid(
            image,
            what,
            format!("schemaVersion {:?} is not 2", doc.schema_version),
        ));
    }
    let media_type = doc.media_type.as_deref().or(declared).unwrap_or("");
    let is_index = match media_type {
        OCI_INDEX | DOCKER_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        // OCI allows omitting mediaType: decide by shape.
        "" | "application/json" => doc.manifests.is_some(),
        other => {
            return Err(SourceError::UnknownMediaType {
                image: image.to_owned(),
                what: what.to_owned(),
                media_type: crate::digest::truncate(other),
            });
        }
    };
    if is_index {
        let manifests = doc
            .manifests
            .ok_or_else(|| invalid(image, what, "index without manifests"))?;
        return Ok(Parsed::Index(manifests));
    }
    let config = doc
        .config
        .ok_or_else(|| invalid(image, what, "manifest without config"))?;
    let layers = doc
        .layers
        .ok_or_else(|| invalid(image, what, "manifest without layers"))?;
    Ok(Parsed::Manifest { config, layers })
}

/// A descriptor's digest and size, checked.
pub(crate) fn descriptor_target(
    image: &str,
    what: &str,
    descriptor: &DescriptorJson,
) -> Result<(Digest, u64), SourceError> {
    let digest = Digest::parse(&descriptor.digest).map_err(|e| invalid(image, what, e))?;
    let size = u64::try_from(descriptor.size)
        .map_err(|_| invalid(image, what, format!("negative size {}", descriptor.size)))?;
    Ok((digest, size))
}

/// Chooses the manifest of `platform` among an index's entries.
pub(crate) fn select_platform<'a>(
    image: &str,
    manifests: &'a [DescriptorJson],
    platform: &Platform,
) -> Result<&'a DescriptorJson, SourceError> {
    let platform_of = |d: &DescriptorJson| {
        d.platform.as_ref().map(|p| Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone(),
        })
    };
    manifests
        .iter()
        .find(|d| platform_of(d).is_some_and(|p| platform.matches(&p)))
        .ok_or_else(|| SourceError::NoMatchingPlatform {
            image: image.to_owned(),
            platform: platform.to_string(),
            available: manifests
                .iter()
                .filter_map(|d| platform_of(d).map(|p| p.to_string()))
                .collect(),
        })
}

/// Builds the layer list from manifest descriptors and the config's diff_ids.
pub(crate) fn layer_descriptors(
    image: &str,
    layers: &[DescriptorJson],
    config: &ImageConfig,
) -> Result<Vec<LayerDescriptor>, SourceError> {
    if !config.diff_ids.is_empty() && config.diff_ids.len() != layers.len() {
        return Err(invalid(
            image,
            "config",
            format!(
                "{} diff_ids for {} layers",
                config.diff_ids.len(),
                layers.len()
            ),
        ));
    }
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let what = format!("layer {i}");
            let (digest, size) = descriptor_target(image, &what, layer)?;
            let compression = Compression::from_media_type(&layer.media_type).ok_or_else(|| {
                SourceError::UnknownMediaType {
                    image: image.to_owned(),
                    what: format!("layer {digest}"),
                    media_type: crate::digest::truncate(&layer.media_type),
                }
            })?;
            Ok(LayerDescriptor {
                digest,
                diff_id: config.diff_ids.get(i).cloned(),
                media_type: layer.media_type.clone(),
                compression,
                size: Some(size),
            })
        })
        .collect()
}

/// Parses an image config blob.
pub(crate) fn parse_config(
    image: &str,
    digest: Option<Digest>,
    bytes: &[u8],
) -> Result<ImageConfig, SourceError> {
    let what = match &digest {
        Some(d) => format!("config {d}"),
        None => "config".to_owned(),
    };
    let doc: ConfigJson = serde_json::from_slice(bytes).map_err(|e| invalid(image, &what, e))?;
    let diff_ids = doc
        .rootfs
        .map(|r| r.diff_ids)
        .unwrap_or_default()
        .iter()
        .map(|d| Digest::parse(d).map_err(|e| invalid(image, &what, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ImageConfig {
        digest,
        os: doc.os,
        architecture: doc.architecture,
        variant: doc.variant,
        diff_ids,
        created: doc.created,
        labels: doc
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .into_iter()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        let p = Platform::parse("linux/arm64/v8").ok();
        assert_eq!(
            p.as_ref().map(|p| p.to_string()).as_deref(),
            Some("linux/arm64/v8")
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
        let arm64 = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: None,
        };
        assert!(p.is_some_and(|p| p.matches(&arm64)));
        assert_eq!(Platform::host().os, "linux");
    }

    #[test]
    fn unknown_layer_media_type_is_refused() {
        let layers = vec![DescriptorJson {
            media_type: "application/x-evil".into(),
            digest: format!("sha256:{}", "1".repeat(64)),
            size: 3,
            platform: None,
            annotations: None,
        }];
        let err = layer_descriptors("img", &layers, &ImageConfig::default());
        assert!(matches!(err, Err(SourceError::UnknownMediaType { .. })));
    }

    #[test]
    fn manifest_shapes() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest("i", "m", index, None),
            Ok(Parsed::Index(_))
        ));
        let schema1 = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(matches!(
            parse_manifest("i", "m", schema1, None),
            Err(SourceError::InvalidMetadata { .. })
        ));
        let odd = br#"{"schemaVersion":2,"mediaType":"text/html"}"#;
        assert!(matches!(
            parse_manifest("i", "m", odd, None),
            Err(SourceError::UnknownMediaType { .. })
        ));
        assert!(parse_manifest("i", "m", b"<html>", None).is_err());
    }
}
