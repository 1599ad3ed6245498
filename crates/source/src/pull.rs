//! Pulling an image from a registry: resolving its manifest (through indexes)
//! and config, and downloading layer blobs into the digest-keyed cache, over
//! the one registry client, [`RepositoryClient`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::{BlobCache, StoreError};
use crate::digest::{Digest, VerifiedReader};
use crate::error::{BlobError, SourceError};
use crate::model::{
    DOCKER_LIST, DOCKER_MANIFEST, MAX_METADATA_BYTES, OCI_INDEX, OCI_MANIFEST, Platform,
};
use crate::reference::RegistryRef;
use crate::registry::{Access, FetchedManifest, RepositoryClient};
use crate::resolve::{self, MetadataKind, Resolved, verify_small};
use crate::{Progress, SourceOptions};

/// What an image pull accepts as a manifest.
const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// One registry image: its repository client and the blob cache.
pub(crate) struct RegistryImage {
    client: RepositoryClient,
    cache: BlobCache,
    progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for RegistryImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryImage")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl RegistryImage {
    pub(crate) fn new(
        reference: &RegistryRef,
        options: &SourceOptions,
        cache_dir: PathBuf,
    ) -> Result<Self, SourceError> {
        Ok(Self {
            client: RepositoryClient::connect(reference, options, Access::Pull)?,
            cache: BlobCache::new(&cache_dir),
            progress: options.progress.clone(),
        })
    }

    fn image(&self) -> &str {
        self.client.name()
    }

    /// Fetches a manifest or index by tag or digest; refuses a document that
    /// declares itself as something else.
    fn manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let FetchedManifest {
            bytes, media_type, ..
        } = self.client.get_manifest(reference, &MANIFEST_TYPES)?;
        if let Some(media_type) = &media_type
            && media_type != "application/json"
            && !MANIFEST_TYPES.contains(&media_type.as_str())
        {
            return Err(SourceError::RegistryGarbage {
                image: self.image().to_owned(),
                url: self.client.url("manifests", reference),
                reason: format!("manifest with content type {media_type:?}"),
            });
        }
        Ok((bytes, media_type))
    }

    /// A small blob (config, child manifest), from the cache or the registry.
    fn metadata(
        &self,
        digest: &Digest,
        size: Option<u64>,
        kind: MetadataKind,
    ) -> Result<Vec<u8>, SourceError> {
        let cached = self.cache.path(digest);
        if let Ok(bytes) = std::fs::read(&cached)
            && verify_small(self.image(), digest, size, &bytes).is_ok()
        {
            return Ok(bytes);
        }
        let bytes = match kind {
            MetadataKind::Manifest => self.manifest(digest.as_str())?.0,
            MetadataKind::Config => {
                let mut bytes = Vec::new();
                self.client
                    .fetch_blob_to(digest, size, MAX_METADATA_BYTES, &mut bytes)?;
                bytes
            }
        };
        verify_small(self.image(), digest, size, &bytes)?;
        let mut reader = &bytes[..];
        // A cache write failure is not fatal for a document already in memory.
        if let Err(StoreError::Cache(e)) = self.cache.store(digest, &mut reader, &mut |_| {}) {
            tracing::warn!("{e}");
        }
        Ok(bytes)
    }

    /// Resolves the reference to one platform's manifest and config.
    pub(crate) fn resolve(&self, platform: &Platform) -> Result<Resolved, SourceError> {
        let reference = self.client.reference();
        let (bytes, declared, digest) = match &reference.digest {
            Some(digest) => (
                self.metadata(digest, None, MetadataKind::Manifest)?,
                None,
                digest.clone(),
            ),
            None => {
                let (bytes, content_type) = self.manifest(&reference.manifest_reference())?;
                let digest = Digest::of(&bytes);
                (bytes, content_type, digest)
            }
        };
        let fetch = |digest: &Digest, size: Option<u64>, kind| self.metadata(digest, size, kind);
        resolve::resolve(self.image(), digest, bytes, declared, platform, &fetch)
    }

    /// The cached path of a layer blob, downloading (and verifying) it first
    /// if needed.
    pub(crate) fn layer_path(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<PathBuf, SourceError> {
        let path = self.cache.path(digest);
        if path.is_file() {
            return Ok(path);
        }
        let response = self.client.open_blob(digest, size)?;
        let total = size.or(response.content_length());
        if let Some(progress) = &self.progress {
            progress.started(self.image(), digest, total);
        }
        let mut reader = VerifiedReader::new(response, self.image(), digest.clone(), size);
        let progress = self.progress.clone();
        let mut advance = |n: u64| {
            if let Some(p) = &progress {
                p.advanced(digest, n);
            }
        };
        let stored = self.cache.store(digest, &mut reader, &mut advance);
        if let Some(progress) = &self.progress {
            progress.finished(digest);
        }
        match stored {
            Ok(path) => Ok(path),
            Err(StoreError::Cache(e)) => Err(e),
            Err(StoreError::Read(e)) => Err(BlobError::from_io(e, self.image(), digest).into()),
        }
    }

    /// Whether a layer blob is already in the cache.
    pub(crate) fn is_cached(&self, digest: &Digest) -> bool {
        self.cache.contains(digest)
    }
}
