//! Reading advisory feeds: OSV JSON (single files, directories, zip
//! archives), OSV YAML, Alpine secdb, the Debian security tracker JSON and
//! DSA/DLA lists, Debian OVAL, Rocky Linux OVAL and the Node.js Security
//! WG's npm advisories. A malformed advisory is skipped and counted with its
//! reason; an unreadable source or a corrupt archive fails the whole read.

pub mod alpine;
pub mod debian;
pub mod nswg;
pub mod osv;
pub mod oval;
pub mod rpm_oval;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::Advisory;

/// Largest single advisory document or archive entry accepted.
const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;
/// Largest archive or download accepted.
const MAX_SOURCE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 32;

/// Why reading a source failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt or truncated archive {name}: {message}")]
    Archive { name: String, message: String },
    #[error("{name} is larger than the {limit} bytes accepted")]
    TooLarge { name: String, limit: u64 },
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
}

/// One advisory (or feed entry) left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// File (and archive entry) it came from.
    pub location: String,
    pub reason: String,
}

/// What one source gave.
#[derive(Debug, Default)]
pub struct Batch {
    pub advisories: Vec<Advisory>,
    pub skipped: Vec<Skipped>,
    /// Documents read as advisory data.
    pub documents: usize,
    /// Files that are not advisory data (READMEs, licenses, unsupported feeds).
    pub ignored: Vec<String>,
    /// Rocky OVAL advisories read so far: id → (snapshot timestamp, index
    /// in `advisories`), so overlapping snapshots keep the newest.
    oval_snapshots: std::collections::HashMap<String, (Option<String>, usize)>,
}

impl Batch {
    fn skip(&mut self, location: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            location: location.to_string(),
            reason: reason.into(),
        });
    }
}

/// Reads a file, a directory (recursively, in name order) or a zip archive.
pub fn load_path(path: &Path) -> Result<Batch, IngestError> {
    let mut batch = Batch::default();
    walk(path, 0, &mut batch)?;
    Ok(batch)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn walk(path: &Path, depth: usize, batch: &mut Batch) -> Result<(), IngestError> {
    let meta = std::fs::symlink_metadata(path).map_err(io_error(path))?;
    if meta.is_dir() {
        if depth > MAX_DEPTH {
            batch
                .ignored
                .push(format!("{} (nested too deep)", path.display()));
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io_error(path))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_error(path))?;
        entries.sort();
        for entry in entries {
            walk(&entry, depth + 1, batch)?;
        }
        return Ok(());
    }
    if !meta.is_file() {
        // Symlinks and special files are not followed: a feed directory
        // must not lead the reader elsewhere.
        batch.ignored.push(path.display().to_string());
        return Ok(());
    }
    let name = path.display().to_string();
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(IngestError::TooLarge {
            name,
            limit: MAX_SOURCE_BYTES,
        });
    }
    // A file named on the command line is always read; inside a directory,
    // only files whose names say they hold advisory data.
    if depth > 0 && !is_candidate(&name) {
        batch.ignored.push(name);
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    read_document(&name, &bytes, batch)
}

/// Whether a file name may hold advisory data worth opening.
fn is_candidate(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    [".json", ".yaml", ".yml", ".zip", ".xml", ".xml.bz2"]
        .iter()
        .any(|ext| file.ends_with(ext))
        || file.ends_with("_list")
        || file == "list"
}

/// Reads one in-memory source (a downloaded file): zip, JSON, YAML or list.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Batch, IngestError> {
    let mut batch = Batch::default();
    read_document(name, bytes, &mut batch)?;
    Ok(batch)
}

fn read_document(name: &str, bytes: &[u8], batch: &mut Batch) -> Result<(), IngestError> {
    if bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || name.ends_with(".zip")
    {
        return read_zip(name, bytes, batch);
    }
    let lower = name.to_ascii_lowercase();
    if bytes.starts_with(b"BZh") || lower.ends_with(".bz2") {
        let inflated = decompress_bzip2(name, bytes)?;
        let inner = name.strip_suffix(".bz2").unwrap_or(name);
        return read_document(inner, &inflated, batch);
    }
    if lower.ends_with(".xml") {
        let text = String::from_utf8_lossy(bytes);
        if rpm_oval::looks_like(&text) {
            batch.documents += 1;
            add_rpm_oval(name, &text, batch);
        } else if oval::looks_like(&text) {
            batch.documents += 1;
            let (advisories, skipped) = oval::from_text(&text);
            if advisories.is_empty() {
                batch.skip(name, "OVAL document without Debian (`DPKG is earlier than`) definitions: of OVAL, only Debian and Rocky Linux (`rpminfo_test`) documents are read");
            }
            batch.advisories.extend(advisories);
            // Per-definition skips of non-Debian OVAL would be thousands of
            // lines: count them, keep a few reasons.
            for reason in skipped {
                batch.skip(name, reason);
            }
        } else {
            batch.ignored.push(name.to_string());
        }
        return Ok(());
    }
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        batch.documents += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            batch.skip(name, "not UTF-8");
            return Ok(());
        };
        if text.contains("distroversion:") {
            match alpine::from_yaml(text) {
                Ok(secdb) => add_secdb(name, secdb, batch),
                Err(reason) => batch.skip(name, reason),
            }
        } else {
            match osv::parse_yaml(text) {
                Ok(advisory) => batch.advisories.push(advisory),
                Err(reason) => batch.skip(name, reason),
            }
        }
        return Ok(());
    }
    // DSA lists start with `[date]`, so look for them before JSON.
    if let Ok(text) = std::str::from_utf8(bytes)
        && debian::looks_like_list(text)
    {
        batch.documents += 1;
        let (advisories, skipped) = debian::from_list(text);
        batch.advisories.extend(advisories);
        for reason in skipped {
            batch.skip(name, reason);
        }
        return Ok(());
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') || first == Some(&b'[') || lower.ends_with(".json") {
        batch.documents += 1;
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                batch.skip(name, format!("malformed JSON: {e}"));
                return Ok(());
            }
        };
        if alpine::looks_like(&value) {
            match alpine::from_value(value) {
                Ok(secdb) => add_secdb(name, secdb, batch),
                Err(reason) => batch.skip(name, reason),
            }
        } else if nswg::looks_like_npm(&value) {
            match nswg::from_value(value, name) {
                Ok(advisory) => batch.advisories.push(advisory),
                Err(reason) => batch.skip(name, reason),
            }
        } else if nswg::looks_like_index(&value) {
            batch.skip(
                name,
                "index of the Node.js Security WG advisories: each is read from its own file",
            );
        } else if nswg::looks_like_core(&value) {
            let id = nswg::file_number(name)
                .map(|n| format!("NSWG-COR-{n}"))
                .unwrap_or_else(|| "Node.js core advisory".to_string());
            batch.skip(
                name,
                format!(
                    "{id}: Node.js core advisory; no inventory ecosystem holds the Node.js runtime"
                ),
            );
        } else if value.get("id").is_some() {
            match osv::from_value(value) {
                Ok(advisory) => batch.advisories.push(advisory),
                Err(reason) => batch.skip(name, reason),
            }
        } else if debian::looks_like_tracker(&value) {
            let (advisories, skipped) = debian::from_tracker(value);
            batch.advisories.extend(advisories);
            for reason in skipped {
                batch.skip(name, reason);
            }
        } else {
            batch.skip(
                name,
                "JSON document is neither OSV, Alpine secdb nor Debian tracker data",
            );
        }
        return Ok(());
    }
    batch.ignored.push(name.to_string());
    Ok(())
}

/// Inflates a bzip2 stream, refusing more than [`MAX_DOCUMENT_BYTES`].
fn decompress_bzip2(name: &str, bytes: &[u8]) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    bzip2::read::BzDecoder::new(bytes)
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Archive {
            name: name.to_string(),
            message: format!("bzip2: {e}"),
        })?;
    if out.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(IngestError::TooLarge {
            name: name.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(out)
}

/// Adds a Rocky Linux OVAL document. Mirrors keep overlapping snapshots of
/// the feed, whose definitions for one RLSA can differ (the fixed versions
/// move on): of the same id read from two files, the definition from the
/// newer snapshot (generator timestamp) is kept and the other counted as
/// skipped, never merged into one.
fn add_rpm_oval(name: &str, text: &str, batch: &mut Batch) {
    let read = match rpm_oval::from_text(text) {
        Ok(read) => read,
        Err(reason) => {
            batch.skip(name, reason);
            return;
        }
    };
    for reason in read.skipped_definitions {
        batch.skip(name, reason);
    }
    for reason in read.skipped_tests {
        batch.skip(name, format!("test left out: {reason}"));
    }
    let snapshot = read.timestamp;
    for advisory in read.advisories {
        let held = batch
            .oval_snapshots
            .get(&advisory.id)
            .and_then(|(held_snapshot, at)| {
                Some((held_snapshot.clone(), *at, batch.advisories.get(*at)?))
            });
        match held {
            None => {
                batch.oval_snapshots.insert(
                    advisory.id.clone(),
                    (snapshot.clone(), batch.advisories.len()),
                );
                batch.advisories.push(advisory);
            }
            Some((_, _, held)) if *held == advisory => batch.skip(
                name,
                format!(
                    "{}: the same definition was read from another file",
                    advisory.id
                ),
            ),
            Some((held_snapshot, at, _)) if snapshot > held_snapshot => {
                let reason = format!(
                    "{}: an older snapshot's definition ({}) is replaced by this one ({})",
                    advisory.id,
                    held_snapshot.as_deref().unwrap_or("undated"),
                    snapshot.as_deref().unwrap_or("undated"),
                );
                batch
                    .oval_snapshots
                    .insert(advisory.id.clone(), (snapshot.clone(), at));
                if let Some(slot) = batch.advisories.get_mut(at) {
                    *slot = advisory;
                }
                batch.skip(name, reason);
            }
            Some((held_snapshot, _, _)) => batch.skip(
                name,
                format!(
                    "{}: a definition of the same id from a snapshot as new or newer ({}) was read first",
                    advisory.id,
                    held_snapshot.as_deref().unwrap_or("undated"),
                ),
            ),
        }
    }
}

fn add_secdb(name: &str, secdb: alpine::Secdb, batch: &mut Batch) {
    batch.advisories.extend(secdb.advisories);
    for reason in secdb.skipped {
        batch.skip(name, reason);
    }
}

fn read_zip(name: &str, bytes: &[u8], batch: &mut Batch) -> Result<(), IngestError> {
    let archive_error = |message: String| IngestError::Archive {
        name: name.to_string(),
        message,
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| archive_error(e.to_string()))?;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| archive_error(e.to_string()))?;
        if !entry.is_file() {
            continue;
        }
        let inner = entry
            .name()
            .map_err(|e| archive_error(e.to_string()))?
            .to_string();
        let entry_name = format!("{name}!{inner}");
        if !is_candidate(&inner) || inner.ends_with(".zip") {
            batch.ignored.push(entry_name);
            continue;
        }
        if entry.size() > MAX_DOCUMENT_BYTES {
            return Err(IngestError::TooLarge {
                name: entry_name,
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        total = total.saturating_add(entry.size());
        if total > MAX_SOURCE_BYTES {
            return Err(IngestError::TooLarge {
                name: name.to_string(),
                limit: MAX_SOURCE_BYTES,
            });
        }
        // Read at most one byte past the declared size: a lying header is a
        // corrupt archive, not a memory bomb.
        let declared = entry.size();
        let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        (&mut entry)
            .take(declared.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| archive_error(format!("{inner}: {e}")))?;
        read_document(&entry_name, &data, batch)?;
    }
    Ok(())
}
