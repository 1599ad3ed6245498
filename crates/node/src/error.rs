//! Typed errors of the node audit.
//!
//! Two kinds matter to callers: [`CatalogError`] and [`RootError`] make the
//! whole audit unusable (exit 2); [`FsError`] and a configuration file that
//! does not parse are reported on the checks that met them, and the audit
//! goes on.

use thiserror::Error;

/// Reading a file under the audited root failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FsError {
    #[error("{path}: {message}")]
    Io {
        path: String,
        message: String,
        not_found: bool,
    },
    #[error("{0}: too many levels of symbolic links (a loop?)")]
    SymlinkLoop(String),
    #[error("{path}: larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{0}: is a directory")]
    IsADirectory(String),
    #[error("{0}: not a regular file")]
    NotAFile(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
}

impl FsError {
    pub(crate) fn io(path: impl std::fmt::Display, error: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_string(),
            message: error.to_string(),
            not_found: error.kind() == std::io::ErrorKind::NotFound,
        }
    }

    /// Whether the file simply does not exist (as opposed to being
    /// unreadable, a loop, too large…).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Io {
                not_found: true,
                ..
            }
        )
    }
}

/// The check catalog (embedded or `--checks FILE`) is unusable.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("cannot read check catalog {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("check catalog {origin} is not valid YAML for the catalog format: {message}")]
    Parse { origin: String, message: String },
    #[error("check catalog {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The `--root` directory cannot be audited.
#[derive(Debug, Error)]
#[error("cannot audit root {path}: {source}")]
pub struct RootError {
    pub path: String,
    #[source]
    pub source: FsError,
}
