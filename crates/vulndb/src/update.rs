//! `db update`: read every source, then build and atomically replace the
//! database. Any source failing as a whole (unreachable URL, corrupt
//! archive) fails the update before anything is written.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::db::{Builder, DbError, Metadata};
use crate::ingest::{self, IngestError};

/// OSV's per-ecosystem exports for what Portcullis inventories.
pub const DEFAULT_SOURCES: &[&str] = &[
    "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/AlmaLinux/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Rocky%20Linux/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Maven/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/RubyGems/all.zip",
];

/// Largest download accepted.
const MAX_DOWNLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Why an update failed; the previous database is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Source(#[from] IngestError),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl UpdateError {
    /// Whether the failure is the network's (exit code 4) rather than the data's.
    pub fn is_network(&self) -> bool {
        matches!(self, UpdateError::Source(IngestError::Fetch { .. }))
    }
}

/// Reads `sources` (paths or http(s) URLs) and writes the database to `path`.
pub fn update(sources: &[String], path: &Path, built: String) -> Result<Metadata, UpdateError> {
    let mut builder = Builder::new();
    for source in sources {
        let batch = if source.starts_with("http://") || source.starts_with("https://") {
            let bytes = fetch(source)?;
            let name = source.rsplit('/').next().unwrap_or(source).to_string();
            ingest::load_bytes(&name, &bytes)?
        } else {
            ingest::load_path(Path::new(source))?
        };
        tracing::info!(
            source,
            advisories = batch.advisories.len(),
            skipped = batch.skipped.len(),
            "source read"
        );
        builder.add(source, batch);
    }
    Ok(builder.write(path, built)?)
}

/// Downloads a source, bounded in size and time.
pub fn fetch(url: &str) -> Result<Vec<u8>, IngestError> {
    let fail = |message: String| IngestError::Fetch {
        url: url.to_string(),
        message,
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .connect_timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = client.get(url).send().map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut bytes = Vec::new();
    response
        .take(MAX_DOWNLOAD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_DOWNLOAD_BYTES {
        return Err(IngestError::TooLarge {
            name: url.to_string(),
            limit: MAX_DOWNLOAD_BYTES,
        });
    }
    Ok(bytes)
}
