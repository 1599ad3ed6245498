//! Errors and warnings of the inventory stage.

use crate::Location;
use serde::Serialize;

/// Why a package database could not be read. Each analyzer returns this; the
/// caller adds where the file was found ([`InventoryError`], [`Warning`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line of a text database (dpkg control file, apk `installed`) that is
    /// neither a field nor a continuation.
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: &'static str },
    /// A binary structure that does not hold together (rpm header, Berkeley DB
    /// page, ndb slot, sqlite file). `offset` is a byte offset into the file or
    /// the header blob named in `what`.
    #[error("{what} at byte {offset}: {reason}")]
    Binary {
        what: &'static str,
        offset: u64,
        reason: String,
    },
    /// A limit that keeps memory bounded was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, limit: u64 },
    /// The sqlite engine refused the rpm database.
    #[error("sqlite: {0}")]
    Sqlite(String),
    /// A manifest that is not valid JSON or lacks a required field.
    #[error("{0}")]
    Manifest(String),
}

impl ParseError {
    pub(crate) fn binary(
        what: &'static str,
        offset: impl TryInto<u64>,
        reason: impl Into<String>,
    ) -> Self {
        ParseError::Binary {
            what,
            offset: offset.try_into().unwrap_or(u64::MAX),
            reason: reason.into(),
        }
    }
}

/// An operating-system package database that could not be read. The whole
/// inventory fails on it: a partial OS package list would hide packages, and
/// so vulnerabilities, without anyone noticing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A corrupt or hostile OS package database.
    #[error("corrupt {database} database {}{}: {source}", .location.path, in_layer(&.location.layer))]
    CorruptDatabase {
        /// `dpkg`, `apk`, `rpm sqlite`, `rpm Berkeley DB` or `rpm ndb`.
        database: &'static str,
        location: Location,
        #[source]
        source: ParseError,
    },
}

fn in_layer(layer: &Option<String>) -> String {
    layer
        .as_deref()
        .map(|l| format!(" (layer {l})"))
        .unwrap_or_default()
}

/// A file that was skipped while the rest of the inventory went on: an
/// unparsable language manifest, a licence file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The file.
    pub location: Location,
    /// What went wrong, for people.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "skipped {}{}: {}",
            self.location.path,
            in_layer(&self.location.layer),
            self.message
        )
    }
}
