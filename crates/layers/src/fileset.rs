//! The merged set of wanted files that the inventory stage reads.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Decides which files are kept while layers are walked.
///
/// Implemented by the inventory stage; `layers` never knows what the files
/// mean. Paths are absolute, normalised (`/var/lib/dpkg/status`), without a
/// trailing slash.
pub trait PathFilter: Sync {
    /// Whether the file at `path` should be kept.
    fn wants(&self, path: &str) -> bool;
    /// A stable identity of what [`PathFilter::wants`] accepts; it keys the
    /// per-layer cache, so it must change whenever the accepted set changes.
    fn cache_key(&self) -> &str;
}

/// One kept file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Absolute normalised path inside the image.
    pub path: String,
    /// Digest of the layer that last wrote this file (`None` for `rootfs:`).
    pub layer: Option<String>,
    /// Unix mode bits from the tar header or the filesystem.
    pub mode: u32,
    /// The file's contents.
    pub data: Arc<[u8]>,
    /// What lower layers wrote at this path before [`File::layer`], oldest
    /// first, back to the last time the path was removed (a whiteout, an
    /// opaque directory, a symlink in its place): a file deleted and written
    /// again starts a new history. Empty when only one layer wrote the file,
    /// and always for `rootfs:`. [`FileSet::insert`] maintains it.
    pub earlier: Vec<FileVersion>,
}

/// The contents one layer wrote at a path (an entry of [`File::earlier`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    /// Digest of the layer that wrote these contents.
    pub layer: Option<String>,
    /// The contents as that layer left them (shared with the layer's
    /// extract, not copied).
    pub data: Arc<[u8]>,
}

impl File {
    /// A file written once, with no earlier versions.
    pub fn new(path: String, layer: Option<String>, mode: u32, data: Arc<[u8]>) -> Self {
        Self {
            path,
            layer,
            mode,
            data,
            earlier: Vec::new(),
        }
    }

    /// Every version of the file since it last appeared, oldest first, the
    /// current one ([`File::layer`], [`File::data`]) last: `(layer, contents)`.
    /// The inventory uses it to tell which layer introduced each entry of a
    /// package database that several layers rewrote.
    pub fn history(&self) -> impl DoubleEndedIterator<Item = (Option<&str>, &Arc<[u8]>)> + '_ {
        self.earlier
            .iter()
            .map(|version| (version.layer.as_deref(), &version.data))
            .chain(std::iter::once((self.layer.as_deref(), &self.data)))
    }

    /// Number of versions in [`File::history`] (at least 1).
    pub fn versions(&self) -> usize {
        self.earlier.len() + 1
    }
}

/// The merged view: the wanted files present in the image's final filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, File>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file, or puts a later layer's version on top of the one
    /// present: the replaced file's history and its current version are
    /// prepended to `file`'s [`File::earlier`].
    pub fn insert(&mut self, mut file: File) {
        if let Some(replaced) = self.files.remove(&file.path) {
            let mut earlier = replaced.earlier;
            earlier.push(FileVersion {
                layer: replaced.layer,
                data: replaced.data,
            });
            earlier.append(&mut file.earlier);
            file.earlier = earlier;
        }
        self.files.insert(file.path.clone(), file);
    }

    /// Removes a file, and with it its history; returns it if it was present.
    pub fn remove(&mut self, path: &str) -> Option<File> {
        self.files.remove(path)
    }

    /// Removes every file strictly below directory `dir` (an opaque directory
    /// or a whited-out directory).
    pub fn remove_under(&mut self, dir: &str) {
        let below: Vec<String> = self.under(dir).map(|file| file.path.clone()).collect();
        for path in below {
            self.files.remove(&path);
        }
    }

    /// The file at `path`, if kept and present.
    pub fn get(&self, path: &str) -> Option<&File> {
        self.files.get(path)
    }

    /// Every file strictly below directory `dir`, in path order.
    pub fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a File> + 'a {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.files
            .range(prefix.clone()..)
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .map(|(_, file)| file)
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = &File> {
        self.files.values()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was kept.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> File {
        File::new(path.into(), None, 0o644, Arc::from(&b"x"[..]))
    }

    fn layered(path: &str, layer: &str, data: &[u8]) -> File {
        File::new(path.into(), Some(layer.into()), 0o644, Arc::from(data))
    }

    fn history(set: &FileSet, path: &str) -> Vec<(String, Vec<u8>)> {
        set.get(path)
            .map(|f| {
                f.history()
                    .map(|(layer, data)| (layer.unwrap_or("-").to_owned(), data.to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn insert_keeps_lower_versions_oldest_first_and_removal_resets_them() {
        let mut set = FileSet::new();
        set.insert(layered("/a/db", "l1", b"one"));
        set.insert(layered("/a/db", "l2", b"two"));
        set.insert(layered("/a/db", "l3", b"three"));
        let want = |pairs: &[(&str, &[u8])]| -> Vec<(String, Vec<u8>)> {
            pairs
                .iter()
                .map(|(l, d)| ((*l).to_owned(), d.to_vec()))
                .collect()
        };
        assert_eq!(
            history(&set, "/a/db"),
            want(&[("l1", b"one"), ("l2", b"two"), ("l3", b"three")])
        );
        assert_eq!(set.get("/a/db").map(File::versions), Some(3));
        set.remove("/a/db");
        set.insert(layered("/a/db", "l4", b"four"));
        assert_eq!(history(&set, "/a/db"), want(&[("l4", b"four")]));
        set.insert(layered("/a/db", "l5", b"five"));
        set.remove_under("/a");
        set.insert(layered("/a/db", "l6", b"six"));
        assert_eq!(history(&set, "/a/db"), want(&[("l6", b"six")]));
    }

    #[test]
    fn under_lists_only_descendants() {
        let mut set = FileSet::new();
        for p in ["/a/b", "/a/c/d", "/ab", "/a"] {
            set.insert(file(p));
        }
        let got: Vec<_> = set.under("/a").map(|f| f.path.as_str()).collect();
        assert_eq!(got, ["/a/b", "/a/c/d"]);
        set.remove_under("/a/");
        let left: Vec<_> = set.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(left, ["/a", "/ab"]);
    }
}
