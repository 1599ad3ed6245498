//! The per-layer extract cache: what a layer contributed for one path
//! filter, stored by layer digest so a rescan reads no layer blob at all.
//!
//! A compact length-prefixed binary file ending in the sha256 of its body; a
//! file that does not decode or check out is simply a miss.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::walk::{DroppedPaths, ExtractedFile, LayerExtract};

/// Version 2 added the dropped-paths filter and hard links.
const MAGIC: &[u8] = b"PCLX\x02";

/// Where the extract of `layer` under `filter_key` lives.
pub(crate) fn entry_path(
    cache_dir: &Path,
    layer: &str,
    filter_key: &str,
    max_file_bytes: u64,
) -> PathBuf {
    let mut hasher = Sha256::new();
    for part in [
        MAGIC,
        layer.as_bytes(),
        filter_key.as_bytes(),
        &max_file_bytes.to_le_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    cache_dir
        .join("layers")
        .join(hex::encode(hasher.finalize()))
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    out.extend_from_slice(&(count as u64).to_le_bytes());
}

pub(crate) fn encode(extract: &LayerExtract) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    put_count(&mut out, extract.files.len());
    for (path, file) in &extract.files {
        put_bytes(&mut out, path.as_bytes());
        out.extend_from_slice(&file.mode.to_le_bytes());
        put_bytes(&mut out, &file.data);
    }
    for list in [&extract.whiteouts, &extract.opaque_dirs] {
        put_count(&mut out, list.len());
        for path in list {
            put_bytes(&mut out, path.as_bytes());
        }
    }
    for links in [&extract.symlinks, &extract.hardlinks] {
        put_count(&mut out, links.len());
        for (path, target) in links {
            put_bytes(&mut out, path.as_bytes());
            put_bytes(&mut out, target.as_bytes());
        }
    }
    put_count(&mut out, extract.dropped.words().len());
    for word in extract.dropped.words() {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        // Every record takes at least 8 bytes: refuse counts the file cannot hold.
        (n <= self.rest.len() / 8).then_some(n)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Option<LayerExtract> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let mut d = Decoder {
        rest: body.strip_prefix(MAGIC)?,
    };
    let mut extract = LayerExtract::default();
    for _ in 0..d.count()? {
        let path = d.string()?;
        let mode = d.u32()?;
        let data: Arc<[u8]> = Arc::from(d.bytes()?);
        extract.files.insert(path, ExtractedFile { mode, data });
    }
    for list in [&mut extract.whiteouts, &mut extract.opaque_dirs] {
        for _ in 0..d.count()? {
            list.push(d.string()?);
        }
    }
    for links in [&mut extract.symlinks, &mut extract.hardlinks] {
        for _ in 0..d.count()? {
            let path = d.string()?;
            links.insert(path, d.string()?);
        }
    }
    let words = d.count()?;
    let mut dropped = Vec::with_capacity(words);
    for _ in 0..words {
        dropped.push(d.u64()?);
    }
    extract.dropped = DroppedPaths::from_words(dropped)?;
    d.rest.is_empty().then_some(extract)
}

/// Loads a cached extract; any problem is a miss.
pub(crate) fn load(path: &Path) -> Option<LayerExtract> {
    decode(&std::fs::read(path).ok()?)
}

/// Stores an extract atomically (temp file + rename in the same directory).
pub(crate) fn store(path: &Path, extract: &LayerExtract) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path without directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)?;
    temp.write_all(&encode(extract))?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut extract = LayerExtract::default();
        extract.files.insert(
            "/var/lib/dpkg/status".into(),
            ExtractedFile {
                mode: 0o644,
                data: Arc::from(&b"Package: x\n"[..]),
            },
        );
        extract.whiteouts.push("/etc/gone".into());
        extract.opaque_dirs.push("/opt".into());
        extract
            .symlinks
            .insert("/etc/os-release".into(), "../usr/lib/os-release".into());
        extract.dropped.insert("/usr/bin/ls");
        extract
            .hardlinks
            .insert("/want/linked".into(), "/usr/lib/original".into());
        let bytes = encode(&extract);
        assert_eq!(decode(&bytes), Some(extract));
        for cut in [0, 5, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None);
        }
        let mut flipped = bytes.clone();
        if let Some(b) = flipped.get_mut(10) {
            *b ^= 1;
        }
        assert_eq!(decode(&flipped), None);
    }
}
