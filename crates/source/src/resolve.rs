//! From a manifest or index document to one platform's image: shared by the
//! OCI layout and the registry client.

use crate::digest::Digest;
use crate::error::SourceError;
use crate::model::{
    self, ImageConfig, LayerDescriptor, Parsed, Platform, descriptor_target, invalid,
};

/// Indexes nest (an index pointing at an index); real images nest once at most.
const MAX_INDEX_DEPTH: usize = 4;

/// What a manifest resolves to.
pub(crate) struct Resolved {
    /// `None` for docker archives, which have no manifest blob.
    pub manifest_digest: Option<Digest>,
    /// The document the reference named: the index when it named one, else
    /// the manifest itself (`None` for docker archives).
    pub reference_digest: Option<Digest>,
    pub config: ImageConfig,
    pub layers: Vec<LayerDescriptor>,
}

/// Which kind of small blob is fetched (registries serve them at different endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetadataKind {
    /// A manifest or index.
    Manifest,
    /// An image config.
    Config,
}

/// Fetches a small blob (manifest, index or config) by digest, verified.
pub(crate) type FetchMetadata<'a> =
    dyn Fn(&Digest, Option<u64>, MetadataKind) -> Result<Vec<u8>, SourceError> + 'a;

/// Resolves `bytes` (the document with digest `digest`, declared media type
/// `declared`) to an image manifest for `platform`, then reads its config.
pub(crate) fn resolve(
    image: &str,
    mut digest: Digest,
    mut bytes: Vec<u8>,
    mut declared: Option<String>,
    platform: &Platform,
    fetch: &FetchMetadata<'_>,
) -> Result<Resolved, SourceError> {
    let reference_digest = digest.clone();
    for _ in 0..=MAX_INDEX_DEPTH {
        let what = format!("manifest {digest}");
        match model::parse_manifest(image, &what, &bytes, declared.as_deref())? {
            Parsed::Index(manifests) => {
                let chosen = model::select_platform(image, &manifests, platform)?;
                let (child, size) = descriptor_target(image, &what, chosen)?;
                bytes = fetch(&child, Some(size), MetadataKind::Manifest)?;
                declared = Some(chosen.media_type.clone()).filter(|m| !m.is_empty());
                digest = child;
            }
            Parsed::Manifest { config, layers } => {
                let (config_digest, config_size) = descriptor_target(image, "config", &config)?;
                let config_bytes = fetch(&config_digest, Some(config_size), MetadataKind::Config)?;
                let config = model::parse_config(image, Some(config_digest), &config_bytes)?;
                let layers = model::layer_descriptors(image, &layers, &config)?;
                return Ok(Resolved {
                    manifest_digest: Some(digest),
                    reference_digest: Some(reference_digest),
                    config,
                    layers,
                });
            }
        }
    }
    Err(invalid(
        image,
        "index",
        format!("indexes nested deeper than {MAX_INDEX_DEPTH}"),
    ))
}

/// Checks a small blob against its digest and declared size.
pub(crate) fn verify_small(
    image: &str,
    digest: &Digest,
    size: Option<u64>,
    bytes: &[u8],
) -> Result<(), SourceError> {
    if let Some(size) = size
        && size != bytes.len() as u64
    {
        return Err(crate::error::BlobError::SizeMismatch {
            image: image.to_owned(),
            blob: digest.clone(),
            expected: size,
            actual: bytes.len() as u64,
        }
        .into());
    }
    let actual = Digest::of(bytes);
    if &actual != digest {
        return Err(crate::error::BlobError::DigestMismatch {
            image: image.to_owned(),
            blob: digest.clone(),
            actual: actual.to_string(),
        }
        .into());
    }
    Ok(())
}
