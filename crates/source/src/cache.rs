//! The blob cache: verified blobs stored by digest, shared between images.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::SourceError;

/// The default cache directory: `$XDG_CACHE_HOME/portcullis`, else
/// `$HOME/.cache/portcullis`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .map(|p| p.join("portcullis"))
        .or_else(|| from_env("HOME").map(|home| home.join(".cache").join("portcullis")))
}

/// Blobs under `<cache>/blobs/sha256/<hex>`.
#[derive(Debug, Clone)]
pub(crate) struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    pub(crate) fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("blobs").join("sha256"),
        }
    }

    /// Where `digest` is (or would be) stored.
    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Whether `digest` is already cached.
    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Streams `reader` (already verifying) into a temporary file inside the
    /// cache, then renames it into place, so a reader never sees half a blob
    /// and concurrent writers of the same blob do not clash. `on_bytes` is
    /// told every chunk's length (progress).
    pub(crate) fn store(
        &self,
        digest: &Digest,
        reader: &mut dyn Read,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<PathBuf, StoreError> {
        let cache_err = |source| {
            StoreError::Cache(SourceError::Cache {
                path: self.dir.clone(),
                source,
            })
        };
        fs::create_dir_all(&self.dir).map_err(cache_err)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.dir)
            .map_err(cache_err)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::Read(e)),
            };
            temp.write_all(buf.get(..n).unwrap_or_default())
                .map_err(cache_err)?;
            on_bytes(n as u64);
        }
        let path = self.path(digest);
        temp.persist(&path).map_err(|e| cache_err(e.error))?;
        Ok(path)
    }
}

/// Why storing a blob failed: the source or the cache.
pub(crate) enum StoreError {
    /// Reading (and verifying) the blob failed.
    Read(io::Error),
    /// Writing the cache failed.
    Cache(SourceError),
}
