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

    /// Adds or replaces a file (a later layer replaces an earlier one).
    pub fn insert(&mut self, file: File) {
        self.files.insert(file.path.clone(), file);
    }

    /// Removes a file; returns it if it was present.
    pub fn remove(&mut self, path: &str) -> Option<File> {
        self.files.remove(path)
    }

    /// Removes every file strictly below directory `dir` (an opaque directory
    /// or a whited-out directory).
    pub fn remove_under(&mut self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.files.retain(|path, _| !path.starts_with(&prefix));
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
        File {
            path: path.into(),
            layer: None,
            mode: 0o644,
            data: Arc::from(&b"x"[..]),
        }
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
