//! Typed errors of the layers stage.

use std::io;
use std::path::PathBuf;

use portcullis_source::{BlobError, ErrorKind, SourceError};

/// Everything that can go wrong while collecting files from an image.
#[derive(Debug, thiserror::Error)]
pub enum LayersError {
    /// Opening or downloading a blob failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A blob failed verification (digest or size).
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A tar entry that would reach outside the image's tree.
    #[error("image {image}: layer {layer}: entry {entry:?} refused: {reason}")]
    Hostile {
        /// The image.
        image: String,
        /// The layer's digest.
        layer: String,
        /// The entry's path as written in the archive.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// The layer is not a readable (compressed) tar stream.
    #[error("image {image}: layer {layer}: corrupt: {reason}")]
    Corrupt {
        /// The image.
        image: String,
        /// The layer's digest.
        layer: String,
        /// What was wrong.
        reason: String,
    },
    /// The layer decompresses to more than the limits allow.
    #[error("image {image}: layer {layer}: decompression bomb refused: {reason}")]
    Bomb {
        /// The image.
        image: String,
        /// The layer's digest.
        layer: String,
        /// Which limit was hit.
        reason: String,
    },
    /// A wanted file larger than the per-file limit.
    #[error(
        "image {image}: layer {layer}: entry {entry:?} is {size} bytes, over the {limit}-byte limit for a kept file"
    )]
    FileTooLarge {
        /// The image.
        image: String,
        /// The layer's digest.
        layer: String,
        /// The entry's path.
        entry: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading the root filesystem failed.
    #[error("image {image}: {}: {source}", path.display())]
    Rootfs {
        /// The `rootfs:` reference.
        image: String,
        /// The file involved.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },
}

impl LayersError {
    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LayersError::Source(e) => e.kind(),
            LayersError::Blob(_)
            | LayersError::Hostile { .. }
            | LayersError::Corrupt { .. }
            | LayersError::Bomb { .. }
            | LayersError::FileTooLarge { .. } => ErrorKind::Refused,
            LayersError::Rootfs { .. } => ErrorKind::Usage,
        }
    }
}

/// A limit hit while decompressing, carried through `io::Error`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LimitHit(pub String);
