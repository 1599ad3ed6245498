//! Docker archives (`docker-archive:TAR`), as `docker save` and
//! `skopeo copy … docker-archive:` write them.
//!
//! The archive is indexed once (entry name → data offset and size, seeking
//! over the data); layers are then read in place with seek + take, never
//! extracted.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::SourceError;
use crate::model::{self, Compression, LayerDescriptor, MAX_METADATA_BYTES, invalid};
use crate::resolve::Resolved;
use crate::{BlobStore, Image};

/// Entries beyond this are refused: real archives hold a handful per layer.
const MAX_ENTRIES: usize = 100_000;
/// Symlink hops followed inside the archive (`<id>/layer.tar -> ../<diff>.tar`).
const MAX_LINK_HOPS: usize = 8;

/// Where an entry's data lives in the archive.
#[derive(Debug, Clone)]
pub(crate) struct ArchiveEntry {
    pub offset: u64,
    pub size: u64,
    link: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn io_error(image: &str, path: &Path, source: std::io::Error) -> SourceError {
    SourceError::Io {
        image: image.to_owned(),
        path: path.to_owned(),
        source,
    }
}

/// Normalises an archive member name (`./a//b` → `a/b`); `None` if it
/// climbs out with `..`.
fn normalise(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn index(image: &str, path: &Path) -> Result<HashMap<String, ArchiveEntry>, SourceError> {
    let file = File::open(path).map_err(|e| io_error(image, path, e))?;
    let mut archive = tar::Archive::new(file);
    let mut entries = HashMap::new();
    let corrupt = |e: std::io::Error| invalid(image, "docker archive", e);
    for entry in archive.entries_with_seek().map_err(corrupt)? {
        let entry = entry.map_err(corrupt)?;
        if entries.len() >= MAX_ENTRIES {
            return Err(invalid(
                image,
                "docker archive",
                format!("more than {MAX_ENTRIES} entries"),
            ));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(name) = normalise(&name) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let link = if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(t.as_ref()).into_owned())
                .unwrap_or_default();
            // Symlinks are relative to the link's directory, hard links to the root.
            let base = if kind.is_symlink() {
                name.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned()
            } else {
                String::new()
            };
            normalise(&format!("{base}/{target}"))
        } else if kind.is_file() {
            None
        } else {
            continue;
        };
        let size = if link.is_some() { 0 } else { entry.size() };
        entries.insert(
            name,
            ArchiveEntry {
                offset: entry.raw_file_position(),
                size,
                link,
            },
        );
    }
    Ok(entries)
}

fn lookup<'a>(
    image: &str,
    entries: &'a HashMap<String, ArchiveEntry>,
    name: &str,
) -> Result<&'a ArchiveEntry, SourceError> {
    let missing = || SourceError::NotFound {
        image: image.to_owned(),
        what: format!("archive member {:?}", crate::digest::truncate(name)),
        available: Vec::new(),
    };
    let mut current = normalise(name).ok_or_else(missing)?;
    for _ in 0..MAX_LINK_HOPS {
        let entry = entries.get(&current).ok_or_else(missing)?;
        match &entry.link {
            Some(target) => current = target.clone(),
            None => return Ok(entry),
        }
    }
    Err(invalid(
        image,
        "docker archive",
        format!("symlink loop at {name:?}"),
    ))
}

fn read_member(
    image: &str,
    path: &Path,
    entry: &ArchiveEntry,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    if entry.size > MAX_METADATA_BYTES {
        return Err(SourceError::TooLarge {
            image: image.to_owned(),
            what: what.to_owned(),
            limit: MAX_METADATA_BYTES,
        });
    }
    let mut file = File::open(path).map_err(|e| io_error(image, path, e))?;
    file.seek(SeekFrom::Start(entry.offset))
        .map_err(|e| io_error(image, path, e))?;
    let mut bytes = Vec::new();
    file.take(entry.size)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(image, path, e))?;
    if bytes.len() as u64 != entry.size {
        return Err(invalid(image, what, "archive truncated"));
    }
    Ok(bytes)
}

/// The digest a member's name promises (`blobs/sha256/<hex>`, `<hex>.json`,
/// `<hex>.tar`), if any.
fn digest_in_name(name: &str) -> Option<Digest> {
    let file = name.rsplit('/').next()?;
    let stem = file
        .strip_suffix(".json")
        .or_else(|| file.strip_suffix(".tar"))
        .unwrap_or(file);
    Digest::parse(&format!("sha256:{stem}")).ok()
}

pub(crate) fn open(image: &str, path: &Path, tag: Option<&str>) -> Result<Image, SourceError> {
    let entries = index(image, path)?;
    let manifest_entry = lookup(image, &entries, "manifest.json")?;
    let manifest_bytes = read_member(image, path, manifest_entry, "manifest.json")?;
    let manifests: Vec<ArchiveManifest> =
        serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(image, "manifest.json", e))?;
    let chosen = match tag {
        Some(tag) => manifests
            .iter()
            .find(|m| m.repo_tags.iter().flatten().any(|t| t == tag))
            .ok_or_else(|| SourceError::NotFound {
                image: image.to_owned(),
                what: format!("tag {tag:?}"),
                available: manifests
                    .iter()
                    .flat_map(|m| m.repo_tags.iter().flatten().cloned())
                    .collect(),
            })?,
        None => match manifests.as_slice() {
            [only] => only,
            _ => {
                return Err(SourceError::NotFound {
                    image: image.to_owned(),
                    what: format!(
                        "a single image (the archive holds {}; write docker-archive:TAR:REPO:TAG)",
                        manifests.len()
                    ),
                    available: manifests
                        .iter()
                        .flat_map(|m| m.repo_tags.iter().flatten().cloned())
                        .collect(),
                });
            }
        },
    };
    let config_entry = lookup(image, &entries, &chosen.config)?;
    let config_bytes = read_member(image, path, config_entry, "config")?;
    let config_digest = Digest::of(&config_bytes);
    if let Some(promised) = digest_in_name(&chosen.config)
        && promised != config_digest
    {
        return Err(crate::error::BlobError::DigestMismatch {
            image: image.to_owned(),
            blob: promised,
            actual: config_digest.to_string(),
        }
        .into());
    }
    let config = model::parse_config(image, Some(config_digest), &config_bytes)?;
    if config.diff_ids.len() != chosen.layers.len() {
        return Err(invalid(
            image,
            "manifest.json",
            format!(
                "{} layers for {} diff_ids",
                chosen.layers.len(),
                config.diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::new();
    let mut locations = HashMap::new();
    for (name, diff_id) in chosen.layers.iter().zip(&config.diff_ids) {
        let entry = lookup(image, &entries, name)?;
        // `blobs/sha256/<hex>` names the stored blob; older layouts store the
        // uncompressed tar, whose digest is the diff_id.
        let digest = match digest_in_name(name) {
            Some(d) if name.contains("blobs/") => d,
            _ => diff_id.clone(),
        };
        locations.insert(digest.clone(), entry.clone());
        layers.push(LayerDescriptor {
            digest,
            diff_id: Some(diff_id.clone()),
            media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
            compression: Compression::Unknown,
            size: Some(entry.size),
        });
    }
    let resolved = Resolved {
        manifest_digest: None,
        reference_digest: None,
        config,
        layers,
    };
    Ok(Image::new(
        image,
        resolved,
        BlobStore::Archive {
            path: path.to_owned(),
            locations,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_within_the_archive() {
        assert_eq!(normalise("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalise("x/../y.tar").as_deref(), Some("y.tar"));
        assert_eq!(normalise("../etc/passwd"), None);
        let hex = "0".repeat(64);
        assert!(digest_in_name(&format!("{hex}.tar")).is_some());
        assert!(digest_in_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(digest_in_name("abc/layer.tar").is_none());
    }
}
