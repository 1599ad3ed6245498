//! A node's filesystem seen through a root directory (`--root`), with every
//! path resolved inside that root.
//!
//! Symbolic links are followed by hand, one component at a time, the way the
//! kernel would follow them after `chroot(root)`: an absolute target starts
//! again at the root and `..` never climbs above it. So a hostile link on the
//! audited node (`/etc/ssh/sshd_config -> /../../host-secret`) can only name
//! files inside the root. Following stops after [`MAX_LINKS`] links (a loop
//! is an error for the check that met it, not a crash), and the final open
//! uses `O_NOFOLLOW` so the last component cannot be swapped for a link
//! between resolution and open.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Component, Path, PathBuf};

use crate::error::FsError;

/// Links followed while resolving one path before giving up (Linux: 40).
pub const MAX_LINKS: usize = 40;
/// The largest file read whole (configuration files, `/proc` entries).
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Directory entries listed from one directory at most.
pub const MAX_DIR_ENTRIES: usize = 65_536;

/// A node filesystem rooted at a directory of this machine.
#[derive(Debug, Clone)]
pub struct NodeRoot {
    dir: PathBuf,
}

/// What `stat` says about a file, with symlinks resolved inside the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub is_dir: bool,
}

impl NodeRoot {
    /// The node whose `/` is `dir`. Fails when `dir` is not a directory.
    pub fn new(dir: &Path) -> Result<Self, FsError> {
        let dir = std::fs::canonicalize(dir).map_err(|e| FsError::io(dir.display(), &e))?;
        let meta = std::fs::metadata(&dir).map_err(|e| FsError::io(dir.display(), &e))?;
        if !meta.is_dir() {
            return Err(FsError::NotADirectory(dir.display().to_string()));
        }
        Ok(Self { dir })
    }

    /// The directory of this machine that is the node's `/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves a node path (absolute, or taken as relative to `/`) to a
    /// path of this machine inside the root, following symlinks inside the
    /// root. The result has no symlink in any component except possibly a
    /// missing last one; it need not exist.
    pub fn resolve(&self, node_path: &str) -> Result<PathBuf, FsError> {
        // `pending` holds the components still to walk, last one first.
        let mut pending: Vec<Vec<u8>> = components(Path::new(node_path));
        pending.reverse();
        let mut resolved: Vec<Vec<u8>> = Vec::new();
        let mut links = 0usize;
        while let Some(part) = pending.pop() {
            match part.as_slice() {
                b"." | b"" => continue,
                b".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(part);
            let host = self.host_path(&resolved);
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                // A missing component ends resolution: callers see NotFound
                // when they open, with the node path in the message.
                Err(_) => {
                    while let Some(rest) = pending.pop() {
                        resolved.push(rest);
                    }
                    return Ok(self.host_path(&resolved));
                }
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(FsError::SymlinkLoop(node_path.to_string()));
            }
            let target = std::fs::read_link(&host).map_err(|e| FsError::io(node_path, &e))?;
            resolved.pop();
            if target.is_absolute() {
                resolved.clear();
            }
            let mut target_parts = components(&target);
            target_parts.reverse();
            pending.extend(target_parts);
        }
        Ok(self.host_path(&resolved))
    }

    fn host_path(&self, parts: &[Vec<u8>]) -> PathBuf {
        let mut path = self.dir.clone();
        for part in parts {
            path.push(OsStr::from_bytes(part));
        }
        path
    }

    /// `stat` of a node path (links followed inside the root).
    pub fn stat(&self, node_path: &str) -> Result<FileStat, FsError> {
        let meta = self.metadata(node_path)?;
        Ok(FileStat {
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            is_dir: meta.is_dir(),
        })
    }

    /// Whether a node path exists (links followed inside the root).
    pub fn exists(&self, node_path: &str) -> bool {
        self.metadata(node_path).is_ok()
    }

    fn metadata(&self, node_path: &str) -> Result<Metadata, FsError> {
        let host = self.resolve(node_path)?;
        std::fs::symlink_metadata(&host).map_err(|e| FsError::io(node_path, &e))
    }

    /// Reads a whole file, at most [`MAX_FILE_BYTES`]; larger files are an
    /// error rather than a silent truncation.
    pub fn read(&self, node_path: &str) -> Result<Vec<u8>, FsError> {
        self.read_limited(node_path, MAX_FILE_BYTES, false)
    }

    /// Reads a file as UTF-8 text (invalid bytes replaced).
    pub fn read_text(&self, node_path: &str) -> Result<String, FsError> {
        Ok(String::from_utf8_lossy(&self.read(node_path)?).into_owned())
    }

    /// Reads the first `limit` bytes of a file; with `truncate` false a
    /// longer file is an error.
    pub fn read_limited(
        &self,
        node_path: &str,
        limit: u64,
        truncate: bool,
    ) -> Result<Vec<u8>, FsError> {
        let host = self.resolve(node_path)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&host)
            .map_err(|e| FsError::io(node_path, &e))?;
        let meta = file.metadata().map_err(|e| FsError::io(node_path, &e))?;
        if meta.is_dir() {
            return Err(FsError::IsADirectory(node_path.to_string()));
        }
        if !meta.is_file() {
            // Sockets, FIFOs and devices are never read: a FIFO would block.
            return Err(FsError::NotAFile(node_path.to_string()));
        }
        let mut bytes = Vec::new();
        // `/proc` files report size 0, so read up to the limit plus one byte
        // to tell "exactly at the limit" from "too large".
        File::take(file, limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| FsError::io(node_path, &e))?;
        if bytes.len() as u64 > limit {
            if truncate {
                bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            } else {
                return Err(FsError::TooLarge {
                    path: node_path.to_string(),
                    limit,
                });
            }
        }
        Ok(bytes)
    }

    /// The names in a directory, sorted, at most [`MAX_DIR_ENTRIES`].
    pub fn list_dir(&self, node_path: &str) -> Result<Vec<String>, FsError> {
        let host = self.resolve(node_path)?;
        let entries = std::fs::read_dir(&host).map_err(|e| FsError::io(node_path, &e))?;
        let mut names = Vec::new();
        for entry in entries.take(MAX_DIR_ENTRIES) {
            let entry = entry.map_err(|e| FsError::io(node_path, &e))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Expands a node path whose components may hold `*`, `?` and `[...]`
    /// (as `glob(3)`, without matching a leading `.` by a wildcard) into the
    /// existing paths it names, sorted. A path without wildcards is returned
    /// as is when it exists.
    pub fn glob(&self, pattern: &str) -> Vec<String> {
        let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
        let mut found = vec![String::new()];
        for part in parts {
            let mut next = Vec::new();
            for base in &found {
                if crate::glob::has_wildcard(part) {
                    let dir = if base.is_empty() { "/" } else { base.as_str() };
                    for name in self.list_dir(dir).unwrap_or_default() {
                        if crate::glob::matches(part, &name) {
                            next.push(format!("{base}/{name}"));
                        }
                    }
                } else {
                    next.push(format!("{base}/{part}"));
                }
            }
            found = next;
            if found.is_empty() {
                break;
            }
        }
        found.retain(|p| !p.is_empty() && self.exists(p));
        found.sort();
        found
    }

    /// Regular files under a node directory, depth-first, sorted, without
    /// following symlinked directories, at most `limit` files.
    pub fn walk_files(&self, node_dir: &str, limit: usize) -> Result<Vec<String>, FsError> {
        let mut files = Vec::new();
        let mut stack = vec![(node_dir.trim_end_matches('/').to_string(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let names = self.list_dir(if dir.is_empty() { "/" } else { &dir })?;
            for name in names.into_iter().rev() {
                let path = format!("{dir}/{name}");
                let host = self.resolve(&dir)?.join(&name);
                let Ok(meta) = std::fs::symlink_metadata(&host) else {
                    continue;
                };
                if meta.is_dir() && depth < 16 {
                    stack.push((path, depth + 1));
                } else if !meta.is_dir() && files.len() < limit {
                    files.push(path);
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// The normal components of a path as bytes (`/` and prefixes dropped,
/// `.` and `..` kept for the resolver to apply).
fn components(path: &Path) -> Vec<Vec<u8>> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.as_bytes().to_vec()),
            Component::ParentDir => Some(b"..".to_vec()),
            Component::CurDir => Some(b".".to_vec()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, NodeRoot) {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let host = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(host.parent().unwrap()).unwrap();
            std::fs::write(host, content).unwrap();
        }
        let root = NodeRoot::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_and_parent_links_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        let (dir, root) = root_with(&[("/etc/real", "inside")]);
        // An absolute link to the host's secret resolves inside the root.
        symlink(outside.path().join("secret"), dir.path().join("etc/abs")).unwrap();
        // `..` beyond the root stays at the root.
        symlink("../../../../../../etc/real", dir.path().join("etc/up")).unwrap();
        symlink("/etc/real", dir.path().join("etc/rooted")).unwrap();
        assert!(root.read("/etc/abs").is_err());
        assert_eq!(root.read_text("/etc/up").unwrap(), "inside");
        assert_eq!(root.read_text("/etc/rooted").unwrap(), "inside");
        assert_eq!(root.read_text("/../../etc/real").unwrap(), "inside");
        let resolved = root.resolve("/etc/abs").unwrap();
        assert!(resolved.starts_with(root.dir()), "{}", resolved.display());
    }

    #[test]
    fn symlink_loops_are_errors() {
        let (dir, root) = root_with(&[]);
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        symlink("self/x", dir.path().join("self")).unwrap();
        assert!(matches!(root.read("/a"), Err(FsError::SymlinkLoop(_))));
        assert!(matches!(root.stat("/self/y"), Err(FsError::SymlinkLoop(_))));
    }

    #[test]
    fn globs_expand_inside_the_root() {
        let (_dir, root) = root_with(&[
            ("/etc/ssh/sshd_config.d/10-a.conf", "a"),
            ("/etc/ssh/sshd_config.d/20-b.conf", "b"),
            ("/etc/ssh/sshd_config.d/.hidden.conf", "h"),
            ("/etc/ssh/sshd_config.d/readme", "r"),
        ]);
        assert_eq!(
            root.glob("/etc/ssh/sshd_config.d/*.conf"),
            vec![
                "/etc/ssh/sshd_config.d/10-a.conf",
                "/etc/ssh/sshd_config.d/20-b.conf"
            ]
        );
        assert!(root.glob("/etc/nothing/*").is_empty());
    }

    #[test]
    fn fifos_and_oversized_files_are_not_read() {
        let (dir, root) = root_with(&[("/big", "")]);
        std::fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
        assert!(matches!(
            root.read_limited("/big", 10, false),
            Err(FsError::TooLarge { .. })
        ));
        assert_eq!(root.read_limited("/big", 10, true).unwrap().len(), 10);
        assert!(root.read("/missing").is_err());
    }
}
