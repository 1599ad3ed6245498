//! The local vulnerability database: one file, checksummed, opened in
//! milliseconds, replaced atomically.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic "PCVULNDB" | format u32 | crc32(body) u32 | body length u64 | body
//! body = meta (u32 len + postcard Metadata)
//!      | index (u32 len + postcard Vec<IndexEntry>, sorted by ecosystem, package)
//!      | advisory offsets (u32 len + postcard Vec<u32>)
//!      | blobs: per key a postcard Vec<AffectedRecord>, per advisory a postcard AdvisoryInfo
//! ```
//!
//! Opening reads the file, checks the checksum and decodes only the metadata
//! and the index; affected records and advisories are decoded when asked for.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ingest::{Batch, Skipped};
use crate::model::{Advisory, Range, Severity, normalize_package_name};

const MAGIC: &[u8; 8] = b"PCVULNDB";
/// Bumped whenever the layout or a stored type changes.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 24;
/// Skip reasons kept per source in the metadata (the count is always exact).
const KEPT_SKIP_REASONS: usize = 100;

/// Why the database could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no vulnerability database at {path}: run `portcullis db update` first")]
    Missing { path: PathBuf },
    #[error("cannot read the vulnerability database {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the vulnerability database {path} is corrupt ({reason}); rebuild it with `portcullis db update` (or `portcullis db pull`)"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the vulnerability database {path} has format {found}, this portcullis reads format {FORMAT_VERSION}; rebuild it with `portcullis db update`"
    )]
    Format { path: PathBuf, found: u32 },
    #[error("cannot write the vulnerability database {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where one source's advisories came from and what was taken from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Path or URL as given to `db update`.
    pub location: String,
    /// Documents read as advisory data.
    pub documents: u64,
    pub advisories: u64,
    /// Entries skipped (malformed or unsupported), exact count.
    pub skipped: u64,
    /// The first reasons (at most 100).
    pub skip_reasons: Vec<Skipped>,
    /// Newest `modified` date among its advisories, when they carry one.
    pub newest_modified: Option<String>,
}

/// What the database holds, shown by `db status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// RFC 3339 time of the build.
    pub built: String,
    pub sources: Vec<SourceInfo>,
    /// Distinct advisories (after merging records of the same id).
    pub advisories: u64,
    /// Withdrawn advisories left out.
    pub withdrawn: u64,
    /// (ecosystem, package) keys.
    pub packages: u64,
    /// Affected records over all keys.
    pub affected: u64,
    /// Every ecosystem present, sorted (`Alpine:v3.20`, `Debian:12`, `PyPI`…).
    pub ecosystems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    ecosystem: String,
    package: String,
    start: u32,
    end: u32,
}

/// One advisory's affected versions of one package, as stored. Read back
/// with `S = &str`: versions borrowed from the database file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedRecord<S = String> {
    /// Number of the advisory, for [`Database::advisory`].
    pub advisory: u32,
    pub ranges: Vec<Range<S>>,
    pub versions: Vec<S>,
    /// The distribution's rating for this package, when it gives one.
    pub severity: Option<Severity>,
}

/// An advisory's own fields (its affected list is in the index). Read back
/// with `S = &str`, borrowed from the database file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryInfo<S = String> {
    pub id: S,
    pub aliases: Vec<S>,
    pub summary: Option<S>,
    pub severity: Option<Severity>,
    pub published: Option<S>,
    pub modified: Option<S>,
}

/// Collects advisories from sources, merges records of the same id, and
/// writes the database.
#[derive(Debug, Default)]
pub struct Builder {
    advisories: BTreeMap<String, Advisory>,
    sources: Vec<SourceInfo>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds what one source gave.
    pub fn add(&mut self, location: &str, batch: Batch) {
        let newest_modified = batch
            .advisories
            .iter()
            .filter_map(|a| a.modified.clone())
            .max();
        self.sources.push(SourceInfo {
            location: location.to_string(),
            documents: batch.documents as u64,
            advisories: batch.advisories.len() as u64,
            skipped: batch.skipped.len() as u64,
            skip_reasons: batch.skipped.into_iter().take(KEPT_SKIP_REASONS).collect(),
            newest_modified,
        });
        for advisory in batch.advisories {
            match self.advisories.entry(advisory.id.clone()) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(advisory);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    merge(slot.get_mut(), advisory)
                }
            }
        }
    }

    /// Serializes the database (see the module docs for the layout).
    pub fn build(self, built: String) -> (Vec<u8>, Metadata) {
        let mut withdrawn = 0u64;
        let mut infos = Vec::new();
        let mut by_key: BTreeMap<(String, String), Vec<AffectedRecord>> = BTreeMap::new();
        for advisory in self.advisories.into_values() {
            if advisory.withdrawn.is_some() {
                withdrawn += 1;
                continue;
            }
            let number = u32::try_from(infos.len()).unwrap_or(u32::MAX);
            for affected in advisory.affected {
                let key = (
                    affected.ecosystem.clone(),
                    normalize_package_name(&affected.ecosystem, &affected.package),
                );
                // Python's listed versions as PEP 440 equality keys, so the
                // matcher compares them as strings.
                let versions = if affected.ecosystem == "PyPI" {
                    affected
                        .versions
                        .into_iter()
                        .map(|v| crate::version::pep440_equality_key(&v))
                        .collect()
                } else {
                    affected.versions
                };
                by_key.entry(key).or_default().push(AffectedRecord {
                    advisory: number,
                    ranges: affected.ranges,
                    versions,
                    severity: affected.severity,
                });
            }
            infos.push(AdvisoryInfo {
                id: advisory.id,
                aliases: advisory.aliases,
                summary: advisory.summary,
                severity: advisory.severity,
                published: advisory.published,
                modified: advisory.modified,
            });
        }
        let mut blobs = Vec::new();
        let mut index = Vec::with_capacity(by_key.len());
        let mut affected_total = 0u64;
        let mut ecosystems: Vec<String> = Vec::new();
        for ((ecosystem, package), records) in by_key {
            affected_total += records.len() as u64;
            let start = blobs.len();
            blobs.extend(postcard::to_stdvec(&records).unwrap_or_default());
            if ecosystems.last() != Some(&ecosystem) {
                ecosystems.push(ecosystem.clone());
            }
            index.push(IndexEntry {
                ecosystem,
                package,
                start: offset(start),
                end: offset(blobs.len()),
            });
        }
        ecosystems.sort();
        ecosystems.dedup();
        let mut advisory_offsets = Vec::with_capacity(infos.len() + 1);
        for info in &infos {
            advisory_offsets.push(offset(blobs.len()));
            blobs.extend(postcard::to_stdvec(info).unwrap_or_default());
        }
        advisory_offsets.push(offset(blobs.len()));
        let meta = Metadata {
            built,
            sources: self.sources,
            advisories: infos.len() as u64,
            withdrawn,
            packages: index.len() as u64,
            affected: affected_total,
            ecosystems,
        };
        let mut body = Vec::with_capacity(blobs.len() + 1024 * 1024);
        for section in [
            postcard::to_stdvec(&meta).unwrap_or_default(),
            postcard::to_stdvec(&index).unwrap_or_default(),
            postcard::to_stdvec(&advisory_offsets).unwrap_or_default(),
        ] {
            body.extend(offset(section.len()).to_le_bytes());
            body.extend(section);
        }
        body.extend(blobs);
        let mut file = Vec::with_capacity(HEADER_LEN + body.len());
        file.extend(MAGIC);
        file.extend(FORMAT_VERSION.to_le_bytes());
        file.extend(crc32fast::hash(&body).to_le_bytes());
        file.extend((body.len() as u64).to_le_bytes());
        file.extend(body);
        (file, meta)
    }

    /// Builds and writes the database to `path` atomically: a temporary file
    /// in the same directory, flushed to disk, then renamed over the old one.
    /// A crash at any point leaves the previous database intact.
    pub fn write(self, path: &Path, built: String) -> Result<Metadata, DbError> {
        let (bytes, meta) = self.build(built);
        write_atomically(path, &bytes)?;
        Ok(meta)
    }
}

/// Offsets fit in u32: the database is refused beyond 4 GiB at open.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn merge(into: &mut Advisory, other: Advisory) {
    into.aliases.extend(other.aliases);
    into.aliases.retain(|a| *a != into.id);
    into.aliases.sort();
    into.aliases.dedup();
    if into.summary.is_none() {
        into.summary = other.summary;
    }
    if into.severity.is_none() {
        into.severity = other.severity;
    }
    if into.published.is_none() {
        into.published = other.published;
    }
    into.modified = into.modified.take().max(other.modified);
    into.affected.extend(other.affected);
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DbError> {
    let write_error = |source| DbError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".vulndb-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_error)?;
    temp.write_all(bytes).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(path).map_err(|e| write_error(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An opened database.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Where the blob region starts in `bytes`.
    blobs_at: usize,
    meta: Metadata,
    index: Vec<IndexEntry>,
    advisory_offsets: Vec<u32>,
}

impl Database {
    /// Opens and verifies the database file.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::Missing { path: path.into() });
            }
            Err(source) => {
                return Err(DbError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        Self::from_bytes(path, bytes)
    }

    /// Verifies and indexes database bytes (`path` only names it in errors).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, DbError> {
        let corrupt = |reason: &str| DbError::Corrupt {
            path: path.into(),
            reason: reason.to_string(),
        };
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| corrupt("shorter than its header"))?;
        if &header[..8] != MAGIC {
            return Err(corrupt("not a portcullis vulnerability database"));
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let format = word(8);
        if format != FORMAT_VERSION {
            return Err(DbError::Format {
                path: path.into(),
                found: format,
            });
        }
        let crc = word(12);
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[16..24]);
        let body_len = u64::from_le_bytes(len_bytes);
        let body = &bytes[HEADER_LEN..];
        if body.len() as u64 != body_len {
            return Err(corrupt("truncated (length does not match its header)"));
        }
        if body.len() > u32::MAX as usize {
            return Err(corrupt("larger than 4 GiB"));
        }
        if crc32fast::hash(body) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let mut at = HEADER_LEN;
        let mut section = |what: &str| -> Result<&[u8], DbError> {
            let len_field = bytes.get(at..at + 4).ok_or_else(|| corrupt(what))?;
            let len = u32::from_le_bytes([len_field[0], len_field[1], len_field[2], len_field[3]])
                as usize;
            let data = bytes
                .get(at + 4..at + 4 + len)
                .ok_or_else(|| corrupt(what))?;
            at += 4 + len;
            Ok(data)
        };
        let meta: Metadata = postcard::from_bytes(section("metadata")?)
            .map_err(|_| corrupt("unreadable metadata"))?;
        let index: Vec<IndexEntry> =
            postcard::from_bytes(section("index")?).map_err(|_| corrupt("unreadable index"))?;
        let advisory_offsets: Vec<u32> = postcard::from_bytes(section("advisory table")?)
            .map_err(|_| corrupt("unreadable advisory table"))?;
        let blobs_at = at;
        Ok(Self {
            path: path.into(),
            bytes,
            blobs_at,
            meta,
            index,
            advisory_offsets,
        })
    }

    /// The whole verified file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    fn blob(&self, start: u32, end: u32) -> Result<&[u8], DbError> {
        let (start, end) = (self.blobs_at + start as usize, self.blobs_at + end as usize);
        self.bytes.get(start..end).ok_or_else(|| DbError::Corrupt {
            path: self.path.clone(),
            reason: "record outside the file".into(),
        })
    }

    /// Every advisory's affected versions of `package` in `ecosystem`
    /// (exact ecosystem string, e.g. `Debian:12`; PyPI names normalized here).
    pub fn affected(
        &self,
        ecosystem: &str,
        package: &str,
    ) -> Result<Vec<AffectedRecord<&str>>, DbError> {
        let package = normalize_package_name(ecosystem, package);
        let found = self.index.binary_search_by(|e| {
            (e.ecosystem.as_str(), e.package.as_str()).cmp(&(ecosystem, package.as_str()))
        });
        let Ok(position) = found else {
            return Ok(Vec::new());
        };
        let entry = &self.index[position];
        let blob = self.blob(entry.start, entry.end)?;
        postcard::from_bytes(blob).map_err(|_| DbError::Corrupt {
            path: self.path.clone(),
            reason: format!("unreadable record for {ecosystem}/{package}"),
        })
    }

    /// The advisory numbered `number` (from [`AffectedRecord::advisory`]).
    pub fn advisory(&self, number: u32) -> Result<AdvisoryInfo<&str>, DbError> {
        let corrupt = |reason: String| DbError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let i = number as usize;
        let (Some(&start), Some(&end)) = (
            self.advisory_offsets.get(i),
            self.advisory_offsets.get(i + 1),
        ) else {
            return Err(corrupt(format!("advisory {number} missing")));
        };
        postcard::from_bytes(self.blob(start, end)?)
            .map_err(|_| corrupt(format!("unreadable advisory {number}")))
    }

    /// Every (ecosystem, package) key, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.index
            .iter()
            .map(|e| (e.ecosystem.as_str(), e.package.as_str()))
    }

    /// Whether any advisory exists for this ecosystem.
    pub fn has_ecosystem(&self, ecosystem: &str) -> bool {
        self.meta
            .ecosystems
            .binary_search_by(|e| e.as_str().cmp(ecosystem))
            .is_ok()
    }
}

/// The default database file: `$XDG_CACHE_HOME/portcullis/db/vulndb.bin`,
/// else `~/.cache/portcullis/db/vulndb.bin`.
pub fn default_path() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(cache.join("portcullis").join("db").join("vulndb.bin"))
}
