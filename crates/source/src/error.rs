//! Typed errors of the source stage.

use std::io;
use std::path::PathBuf;

use crate::digest::Digest;

/// What kind of failure an error is, so the binary can map it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unusable input: a bad reference, a missing file or tag.
    Usage,
    /// Hostile or corrupt content: digest or size mismatch, garbage metadata.
    Refused,
    /// The registry or the network failed.
    Network,
}

/// A blob that is not what its descriptor promised, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The bytes hash to another digest.
    #[error("image {image}: blob {blob} does not match its digest (got {actual})")]
    DigestMismatch {
        /// The image the blob belongs to.
        image: String,
        /// The digest the descriptor promised.
        blob: Digest,
        /// What the bytes actually hash to.
        actual: String,
    },
    /// The blob has another length than its descriptor says.
    #[error("image {image}: blob {blob} is {actual} bytes or more, its descriptor says {expected}")]
    SizeMismatch {
        /// The image the blob belongs to.
        image: String,
        /// The blob's digest.
        blob: Digest,
        /// The size the descriptor promised.
        expected: u64,
        /// Bytes seen so far (the blob may be longer still).
        actual: u64,
    },
    /// Reading the underlying file or connection failed.
    #[error("image {image}: reading blob {blob}: {source}")]
    Read {
        /// The image the blob belongs to.
        image: String,
        /// The blob's digest.
        blob: Digest,
        /// The underlying failure.
        source: io::Error,
    },
}

impl BlobError {
    /// Recovers the [`BlobError`] carried by an I/O error that came out of a
    /// [`crate::VerifiedReader`] (possibly through decompressors); any other
    /// I/O error becomes [`BlobError::Read`] of `blob`.
    pub fn from_io(error: io::Error, image: &str, blob: &Digest) -> BlobError {
        if error.get_ref().is_some_and(|inner| inner.is::<BlobError>()) {
            if let Some(inner) = error.into_inner()
                && let Ok(blob_error) = inner.downcast::<BlobError>()
            {
                return *blob_error;
            }
            // into_inner cannot fail after get_ref succeeded; keep a readable fallback.
            return BlobError::Read {
                image: image.to_owned(),
                blob: blob.clone(),
                source: io::Error::other("unreadable blob error"),
            };
        }
        BlobError::Read {
            image: image.to_owned(),
            blob: blob.clone(),
            source: error,
        }
    }

    /// Whether the I/O error carries a [`BlobError`].
    pub fn is_in(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|inner| inner.is::<BlobError>())
    }
}

/// Everything that can go wrong while opening an image.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The image reference does not parse.
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference {
        /// What the user wrote.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A local file or directory could not be read.
    #[error("image {image}: {}: {source}", path.display())]
    Io {
        /// The image being opened.
        image: String,
        /// The file involved.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },
    /// The image (or tag, or blob) is not there.
    #[error("image {image}: {what} not found{}", hint(available))]
    NotFound {
        /// The image being opened.
        image: String,
        /// What was looked for.
        what: String,
        /// What exists instead (tags, platforms), when known.
        available: Vec<String>,
    },
    /// Metadata (index, manifest, config, archive manifest) is not valid.
    #[error("image {image}: invalid {what}: {reason}")]
    InvalidMetadata {
        /// The image being opened.
        image: String,
        /// Which document (`manifest sha256:…`, `index.json`).
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// A media type Portcullis does not know how to read.
    #[error("image {image}: {what} has unknown media type {media_type:?}")]
    UnknownMediaType {
        /// The image being opened.
        image: String,
        /// The descriptor (`layer sha256:…`, `manifest`).
        what: String,
        /// The media type found.
        media_type: String,
    },
    /// A document larger than any sane one.
    #[error("image {image}: {what} is larger than {limit} bytes")]
    TooLarge {
        /// The image being opened.
        image: String,
        /// Which document.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// No manifest of an index matches the requested platform.
    #[error(
        "image {image}: no manifest for platform {platform}{}",
        hint(available)
    )]
    NoMatchingPlatform {
        /// The image being opened.
        image: String,
        /// The platform asked for.
        platform: String,
        /// Platforms the index offers.
        available: Vec<String>,
    },
    /// A blob failed verification.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The registry answered with an HTTP error.
    #[error("image {image}: registry answered {status} for {url}: {message}")]
    RegistryStatus {
        /// The image being pulled.
        image: String,
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error message (truncated), if any.
        message: String,
    },
    /// The registry answered something that is not a valid reply.
    #[error("image {image}: registry sent an invalid reply for {url}: {reason}")]
    RegistryGarbage {
        /// The image being pulled.
        image: String,
        /// The request URL.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Authentication with the registry failed or was impossible.
    #[error("image {image}: authentication with {registry} failed: {reason}")]
    Auth {
        /// The image being pulled.
        image: String,
        /// The registry host.
        registry: String,
        /// Why.
        reason: String,
    },
    /// The connection failed (DNS, TCP, TLS, timeout).
    #[error("image {image}: request to {url} failed: {source}")]
    Network {
        /// The image being pulled.
        image: String,
        /// The request URL.
        url: String,
        /// The underlying failure.
        source: reqwest::Error,
    },
    /// Client setup failed (unreadable CA file, bad credentials config).
    #[error("{what}: {reason}")]
    Config {
        /// What was being set up.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A fetched blob could not be written where the caller asked.
    #[error("image {image}: writing blob {blob}: {source}")]
    Sink {
        /// The image or artifact the blob belongs to.
        image: String,
        /// The blob's digest.
        blob: Digest,
        /// The underlying failure.
        source: io::Error,
    },
    /// The blob cache could not be written.
    #[error("cache {}: {source}", path.display())]
    Cache {
        /// The cache path involved.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },
}

fn hint(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", available.join(", "))
    }
}

impl SourceError {
    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::InvalidReference { .. }
            | SourceError::Io { .. }
            | SourceError::NotFound { .. }
            | SourceError::NoMatchingPlatform { .. }
            | SourceError::Config { .. }
            | SourceError::Sink { .. }
            | SourceError::Cache { .. } => ErrorKind::Usage,
            SourceError::InvalidMetadata { .. }
            | SourceError::UnknownMediaType { .. }
            | SourceError::TooLarge { .. }
            | SourceError::Blob(_)
            | SourceError::RegistryGarbage { .. } => ErrorKind::Refused,
            SourceError::RegistryStatus { .. }
            | SourceError::Auth { .. }
            | SourceError::Network { .. } => ErrorKind::Network,
        }
    }
}
