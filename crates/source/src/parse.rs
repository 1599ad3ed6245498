//! The byte-level parsers behind [`open`](crate::open), exposed so that they
//! can be exercised on hostile input (fuzz targets) without a registry, an
//! OCI layout on disk or a docker archive.

use crate::model::{self, Parsed};
use crate::{ImageConfig, LayerDescriptor, Platform, SourceError};

/// What a manifest or index document holds, as [`open`](crate::open) reads it.
#[derive(Debug)]
pub enum ManifestDocument {
    /// An image index (OCI index or Docker manifest list): the platform
    /// entries it lists, as `os/arch[/variant]`.
    Index(Vec<String>),
    /// An image manifest: the config digest and size, and the layer count.
    Manifest {
        /// The config blob's digest and size.
        config: (crate::Digest, u64),
        /// How many layers the manifest lists.
        layers: usize,
    },
}

/// Parses a manifest or index document (`declared` is the media type the
/// HTTP response or referring descriptor gave, if any), checking the config
/// descriptor as `open` does.
pub fn manifest(bytes: &[u8], declared: Option<&str>) -> Result<ManifestDocument, SourceError> {
    match model::parse_manifest("input", "manifest", bytes, declared)? {
        Parsed::Index(manifests) => {
            // Selection for an arbitrary platform exercises the same path
            // `open` takes; its result is not needed here.
            let _ = model::select_platform("input", &manifests, &Platform::host());
            let platforms = manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            Ok(ManifestDocument::Index(platforms))
        }
        Parsed::Manifest { config, layers } => {
            let config = model::descriptor_target("input", "config", &config)?;
            Ok(ManifestDocument::Manifest {
                config,
                layers: layers.len(),
            })
        }
    }
}

/// Parses an image config blob.
pub fn image_config(bytes: &[u8]) -> Result<ImageConfig, SourceError> {
    model::parse_config("input", None, bytes)
}

/// Parses a manifest and its config together and builds the layer list,
/// pairing manifest descriptors with the config's `diff_ids`.
pub fn layers(
    manifest_bytes: &[u8],
    config_bytes: &[u8],
) -> Result<Vec<LayerDescriptor>, SourceError> {
    let config = image_config(config_bytes)?;
    match model::parse_manifest("input", "manifest", manifest_bytes, None)? {
        Parsed::Manifest { layers, .. } => model::layer_descriptors("input", &layers, &config),
        Parsed::Index(_) => Ok(Vec::new()),
    }
}

/// Parses a registry `WWW-Authenticate` challenge (`Bearer realm="…",
/// service=…`) into its scheme and parameters; `None` when malformed.
pub fn auth_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
    crate::auth::parse_challenge(header)
}

/// The credentials a Docker `config.json`'s `auths` entry gives `registry`
/// (base64 `auth`, else `username`/`password`); credential helpers
/// (`credHelpers`, `credsStore`) are never run here.
pub fn docker_config_auths(
    registry: &str,
    config_json: &[u8],
) -> Result<Option<crate::Credentials>, SourceError> {
    crate::auth::auths_in_config(registry, config_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/images/oci"
    );

    #[test]
    fn reads_the_fixture_layout_documents() {
        let index = std::fs::read(format!("{LAYOUT}/index.json")).expect("fixture index.json");
        assert!(matches!(
            manifest(&index, None).expect("index parses"),
            ManifestDocument::Index(_)
        ));
        let digest = "4eac62f75633b9fa929abb0faba1160ec55a9c0a3430d44ee040f49f6bcc88d0";
        let bytes =
            std::fs::read(format!("{LAYOUT}/blobs/sha256/{digest}")).expect("manifest blob");
        let ManifestDocument::Manifest {
            config,
            layers: count,
        } = manifest(&bytes, None).expect("manifest parses")
        else {
            panic!("a manifest, not an index");
        };
        let config_bytes = std::fs::read(format!("{LAYOUT}/blobs/sha256/{}", config.0.hex()))
            .expect("config blob");
        let built = layers(&bytes, &config_bytes).expect("layers pair with diff_ids");
        assert_eq!(built.len(), count);
        assert!(count > 0);
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(manifest(b"{\"schemaVersion\":1}", None).is_err());
        assert!(image_config(b"[").is_err());
        assert!(auth_challenge("Bearer realm=\"unterminated").is_none());
        assert!(
            docker_config_auths("ghcr.io", br#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#).is_err()
        );
        let hub = br#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6cHc="}}}"#;
        let found = docker_config_auths("docker.io", hub).ok().flatten();
        assert_eq!(
            found.map(|c| (c.username, c.password)),
            Some(("alice".into(), "pw".into()))
        );
        // A helper named in the file is not run by this reader.
        let helper = br#"{"credHelpers":{"ghcr.io":"../../bin/sh"}}"#;
        assert!(matches!(docker_config_auths("ghcr.io", helper), Ok(None)));
    }
}
