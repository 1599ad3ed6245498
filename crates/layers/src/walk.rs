//! One layer: decompress as a stream, walk the tar entries, keep what is
//! wanted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use portcullis_source::{BlobError, Compression};

use crate::error::{LayersError, LimitHit};
use crate::fileset::PathFilter;
use crate::paths;

/// Limits applied while a layer is read.
#[derive(Debug, Clone)]
pub struct LayerLimits {
    /// Most uncompressed bytes one layer may expand to.
    pub max_layer_bytes: u64,
    /// Most uncompressed bytes per compressed byte, checked once a layer has
    /// expanded past [`LayerLimits::ratio_floor`].
    pub max_ratio: u64,
    /// Uncompressed size below which the ratio is not checked (small layers
    /// of empty files legitimately compress extremely well).
    pub ratio_floor: u64,
    /// Largest single file kept in memory.
    pub max_file_bytes: u64,
}

impl Default for LayerLimits {
    fn default() -> Self {
        Self {
            max_layer_bytes: 16 << 30,
            max_ratio: 1000,
            ratio_floor: 64 << 20,
            max_file_bytes: 256 << 20,
        }
    }
}

/// A kept regular file of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedFile {
    /// Unix mode bits.
    pub mode: u32,
    /// Contents.
    pub data: Arc<[u8]>,
}

/// What one layer contributes: its wanted files, and the changes it makes to
/// the layers below (whiteouts, opaque directories, symlinks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerExtract {
    /// Wanted regular files, by absolute normalised path.
    pub files: BTreeMap<String, ExtractedFile>,
    /// Paths deleted from lower layers (`.wh.<name>`).
    pub whiteouts: Vec<String>,
    /// Directories whose lower-layer contents are hidden (`.wh..wh..opq`).
    pub opaque_dirs: Vec<String>,
    /// Symlinks: path → target as written.
    pub symlinks: BTreeMap<String, String>,
    /// Wanted hard links to files this layer did not keep: path → the
    /// target's absolute path in this layer. [`collect`](crate::collect)
    /// reads those targets from the same layer again and moves the links to
    /// [`LayerExtract::files`]; [`scan_layer`](crate::scan_layer) leaves them
    /// here.
    pub hardlinks: BTreeMap<String, String>,
    /// Every other path this layer put an entry at without keeping it.
    pub dropped: DroppedPaths,
}

/// Bits of [`DroppedPaths`]: 2^19 (64 KiB), a false-positive rate under 1%
/// up to ~25,000 dropped entries, about 8% at 100,000.
const DROPPED_WORDS: usize = 8192;
const DROPPED_BITS: u64 = DROPPED_WORDS as u64 * 64;
const DROPPED_PROBES: u64 = 3;

/// The paths a layer wrote (files, hard links, directories, special files)
/// but did not keep, as a fixed-size Bloom filter.
///
/// A wanted symlink's target that the filter did not ask for is kept only by
/// a layer that also holds the link (before the target in its archive).
/// Once layers are merged, the target's merged file is final unless some
/// layer wrote the target without keeping it; this answers that question
/// without a set of every entry of every layer. A false positive only costs
/// a second pass over the layers for that target; there are no false
/// negatives. The size is fixed, so a layer of millions of entries costs no
/// more memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DroppedPaths {
    /// Empty while nothing was dropped, else [`DROPPED_WORDS`] words.
    bits: Vec<u64>,
}

/// FNV-1a, 64 bits: stable across Rust releases (the bits are cached on
/// disk), and cheap enough for every tar entry.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl DroppedPaths {
    /// A filter that may contain every path: for trees where what was not
    /// kept is unknown.
    pub fn unknown() -> Self {
        Self {
            bits: vec![u64::MAX; DROPPED_WORDS],
        }
    }

    /// The bit positions of `path` (double hashing).
    fn probes(path: &str) -> impl Iterator<Item = (usize, u64)> {
        let hash = fnv1a(path.as_bytes());
        let (first, step) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..DROPPED_PROBES).map(move |i| {
            let bit = first.wrapping_add(i.wrapping_mul(step)) % DROPPED_BITS;
            (usize::try_from(bit / 64).unwrap_or(0), 1u64 << (bit % 64))
        })
    }

    /// Records `path`.
    pub fn insert(&mut self, path: &str) {
        if self.bits.is_empty() {
            self.bits = vec![0; DROPPED_WORDS];
        }
        for (word, mask) in Self::probes(path) {
            if let Some(word) = self.bits.get_mut(word) {
                *word |= mask;
            }
        }
    }

    /// Whether `path` may have been recorded (`false`: it certainly was not).
    pub fn may_contain(&self, path: &str) -> bool {
        !self.bits.is_empty()
            && Self::probes(path)
                .all(|(word, mask)| self.bits.get(word).is_some_and(|bits| bits & mask != 0))
    }

    /// The raw words, for the cache.
    pub(crate) fn words(&self) -> &[u64] {
        &self.bits
    }

    /// From raw words; `None` unless empty or of the expected size.
    pub(crate) fn from_words(bits: Vec<u64>) -> Option<Self> {
        (bits.is_empty() || bits.len() == DROPPED_WORDS).then_some(Self { bits })
    }
}

/// Who is being read, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct LayerContext<'a> {
    pub image: &'a str,
    pub layer: &'a str,
}

impl LayerContext<'_> {
    fn hostile(&self, entry: &str, reason: impl Into<String>) -> LayersError {
        LayersError::Hostile {
            image: self.image.to_owned(),
            layer: self.layer.to_owned(),
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> LayersError {
        LayersError::Corrupt {
            image: self.image.to_owned(),
            layer: self.layer.to_owned(),
            reason: reason.into(),
        }
    }

    /// Classifies an I/O error out of the reader stack.
    fn classify(&self, error: io::Error, what: &str) -> LayersError {
        if BlobError::is_in(&error) {
            let digest = portcullis_source::Digest::parse(self.layer)
                .unwrap_or_else(|_| portcullis_source::Digest::of(self.layer.as_bytes()));
            return LayersError::Blob(BlobError::from_io(error, self.image, &digest));
        }
        if let Some(limit) = error.get_ref().and_then(|e| e.downcast_ref::<LimitHit>()) {
            return LayersError::Bomb {
                image: self.image.to_owned(),
                layer: self.layer.to_owned(),
                reason: limit.0.clone(),
            };
        }
        let reason = match error.kind() {
            io::ErrorKind::UnexpectedEof => format!("{what}: stream truncated"),
            _ => format!("{what}: {error}"),
        };
        self.corrupt(reason)
    }
}

/// Counts bytes going through; the compressed side feeds the ratio check.
struct Counted<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Enforces the size and ratio limits on the uncompressed stream.
struct Bounded<R> {
    inner: R,
    compressed: Arc<std::sync::atomic::AtomicU64>,
    expanded: u64,
    limits: LayerLimits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.expanded += n as u64;
        if self.expanded > self.limits.max_layer_bytes {
            return Err(io::Error::other(LimitHit(format!(
                "expands past {} bytes",
                self.limits.max_layer_bytes
            ))));
        }
        if self.expanded > self.limits.ratio_floor {
            let compressed = self
                .compressed
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1);
            if self.expanded / compressed > self.limits.max_ratio {
                return Err(io::Error::other(LimitHit(format!(
                    "{} bytes from {compressed} compressed bytes exceeds ratio {}",
                    self.expanded, self.limits.max_ratio
                ))));
            }
        }
        Ok(n)
    }
}

/// The compression the bytes actually use.
fn sniff(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        _ => Compression::None,
    }
}

const READ_BUFFER: usize = 128 * 1024;

/// Decompresses and walks one layer stream, keeping the files `filter`
/// wants. `declared` is the compression the media type promises
/// ([`Compression::Unknown`] trusts the magic bytes alone). The stream is read
/// to its end so a verifying reader underneath checks the whole blob.
pub(crate) fn walk_layer<R: Read>(
    reader: R,
    declared: Compression,
    filter: &dyn PathFilter,
    limits: &LayerLimits,
    context: &LayerContext<'_>,
) -> Result<LayerExtract, LayersError> {
    let compressed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut buffered = BufReader::with_capacity(
        READ_BUFFER,
        Counted {
            inner: reader,
            count: Arc::clone(&compressed),
        },
    );
    let head = buffered
        .fill_buf()
        .map_err(|e| context.classify(e, "reading layer"))?;
    let actual = sniff(head);
    let empty = head.is_empty();
    if !empty && declared != Compression::Unknown && declared != actual {
        return Err(context.corrupt(format!(
            "media type declares {declared:?} compression but the content is {actual:?}"
        )));
    }
    let decoder: Box<dyn Read + '_> = match actual {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| context.classify(e, "zstd stream"))?,
        ),
        Compression::None | Compression::Unknown => Box::new(buffered),
    };
    let bounded = Bounded {
        inner: decoder,
        compressed,
        expanded: 0,
        limits: limits.clone(),
    };
    let what = match actual {
        Compression::Gzip => "gzip stream",
        Compression::Zstd => "zstd stream",
        _ => "tar stream",
    };
    // tar reads 512-byte headers and skips entries in small steps; a large
    // buffer keeps each inflate call producing big chunks.
    let mut archive = tar::Archive::new(BufReader::with_capacity(READ_BUFFER, bounded));
    let extract = walk_entries(&mut archive, filter, limits, context, what)?;
    // Drain what follows the end-of-archive marker: the trailer of the
    // compressed stream and anything after it must still pass verification.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| context.classify(e, what))?;
    Ok(extract)
}

fn walk_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    filter: &dyn PathFilter,
    limits: &LayerLimits,
    context: &LayerContext<'_>,
    what: &str,
) -> Result<LayerExtract, LayersError> {
    let mut extract = LayerExtract::default();
    // Targets of wanted symlinks seen earlier in this layer (`etc/os-release`
    // sorts before `usr/lib/os-release`): kept too, which spares a second
    // pass when no other layer writes them (see `DroppedPaths`). `finish`
    // drops them once links are resolved.
    let mut link_targets: BTreeSet<String> = BTreeSet::new();
    let entries = archive.entries().map_err(|e| context.classify(e, what))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| context.classify(e, what))?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = paths::normalise_entry(&raw_path)
            .map_err(|reason| context.hostile(&raw_path, reason))?;
        let Some(path) = path else { continue };
        let (parent, name) = paths::split(&path);
        if let Some(hidden) = name.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                extract.opaque_dirs.push(parent.to_owned());
            } else if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(context.hostile(&raw_path, "malformed whiteout"));
            } else {
                extract.whiteouts.push(paths::join(parent, hidden));
            }
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let target = link_name(&entry);
            paths::check_symlink(&path, &target)
                .map_err(|reason| context.hostile(&raw_path, reason))?;
            extract.files.remove(&path);
            extract.hardlinks.remove(&path);
            extract.symlinks.insert(path.clone(), target);
            if filter.wants(&path)
                && let Some(resolved) = paths::resolve(&extract.symlinks, &path)
            {
                link_targets.insert(resolved);
            }
        } else if kind.is_hard_link() {
            let target = link_name(&entry);
            let target = paths::normalise_link(&target)
                .map_err(|reason| context.hostile(&raw_path, reason))?;
            extract.symlinks.remove(&path);
            extract.hardlinks.remove(&path);
            if !filter.wants(&path) {
                extract.files.remove(&path);
                extract.dropped.insert(&path);
                continue;
            }
            match extract.files.get(&target).cloned() {
                Some(file) => {
                    extract.files.insert(path, file);
                }
                // The target was not kept: `collect` reads it from this
                // layer again (a hard link is the same file as its target
                // here, whatever later layers do at the target's path).
                None => {
                    extract.files.remove(&path);
                    let target = extract.hardlinks.get(&target).cloned().unwrap_or(target);
                    extract.hardlinks.insert(path, target);
                }
            }
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            extract.symlinks.remove(&path);
            extract.hardlinks.remove(&path);
            if !filter.wants(&path) && !link_targets.contains(&path) {
                extract.files.remove(&path);
                extract.dropped.insert(&path);
                continue;
            }
            let size = entry.size();
            if size > limits.max_file_bytes {
                return Err(LayersError::FileTooLarge {
                    image: context.image.to_owned(),
                    layer: context.layer.to_owned(),
                    entry: raw_path,
                    size,
                    limit: limits.max_file_bytes,
                });
            }
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            (&mut entry)
                .take(limits.max_file_bytes + 1)
                .read_to_end(&mut data)
                .map_err(|e| context.classify(e, what))?;
            let mode = entry.header().mode().unwrap_or(0o644);
            extract.files.insert(
                path,
                ExtractedFile {
                    mode,
                    data: Arc::from(data),
                },
            );
        } else {
            // A directory or special file replaces whatever was at the path.
            extract.files.remove(&path);
            extract.symlinks.remove(&path);
            extract.hardlinks.remove(&path);
            extract.dropped.insert(&path);
        }
    }
    Ok(extract)
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    entry
        .link_name_bytes()
        .map(|t| String::from_utf8_lossy(t.as_ref()).into_owned())
        .unwrap_or_default()
}
