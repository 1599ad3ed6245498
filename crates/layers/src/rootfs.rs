//! Unpacked root filesystems (`rootfs:DIR`): the same filter over a
//! directory walk that never follows a symlink; symlinks are recorded and
//! resolved inside the root by path arithmetic, as for layers.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_source::Rootfs;

use crate::error::LayersError;
use crate::fileset::{File, FileSet, PathFilter};
use crate::walk::{DroppedPaths, LayerLimits};
use crate::{ExactPaths, Merged, paths};

/// Kernel pseudo filesystems of a live root: never inventory data, possibly endless.
const SKIPPED_TOP_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

struct Walker<'a> {
    root: &'a Rootfs,
    filter: &'a dyn PathFilter,
    limits: &'a LayerLimits,
    merged: Merged,
}

impl Walker<'_> {
    fn io(&self, path: &Path, source: std::io::Error) -> LayersError {
        LayersError::Rootfs {
            image: self.root.name.clone(),
            path: path.to_owned(),
            source,
        }
    }

    fn on_disk(&self, tree_path: &str) -> PathBuf {
        self.root.dir.join(tree_path.trim_start_matches('/'))
    }

    fn read_file(&self, tree_path: &str, disk: &Path, size: u64) -> Result<Arc<[u8]>, LayersError> {
        if size > self.limits.max_file_bytes {
            return Err(LayersError::FileTooLarge {
                image: self.root.name.clone(),
                layer: "rootfs".into(),
                entry: tree_path.to_owned(),
                size,
                limit: self.limits.max_file_bytes,
            });
        }
        let file = fs::File::open(disk).map_err(|e| self.io(disk, e))?;
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut data)
            .map_err(|e| self.io(disk, e))?;
        Ok(Arc::from(data))
    }

    fn walk(&mut self, dir_tree: &str) -> Result<(), LayersError> {
        let dir_disk = self.on_disk(dir_tree);
        let mut entries: Vec<_> = fs::read_dir(&dir_disk)
            .map_err(|e| self.io(&dir_disk, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(&dir_disk, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let tree_path = paths::join(dir_tree, name);
            let disk = entry.path();
            // symlink_metadata: a symlink is looked at, never followed.
            let meta = fs::symlink_metadata(&disk).map_err(|e| self.io(&disk, e))?;
            let kind = meta.file_type();
            if kind.is_symlink() {
                let target = fs::read_link(&disk).map_err(|e| self.io(&disk, e))?;
                if let Some(target) = target.to_str()
                    && paths::check_symlink(&tree_path, target).is_ok()
                {
                    self.merged.symlinks.insert(tree_path, target.to_owned());
                }
                // A link out of the root is never followed, so never read.
            } else if kind.is_dir() {
                if !SKIPPED_TOP_DIRS.contains(&tree_path.as_str()) {
                    self.walk(&tree_path)?;
                }
            } else if kind.is_file() && self.filter.wants(&tree_path) {
                let data = self.read_file(&tree_path, &disk, meta.len())?;
                let mode = meta.permissions().mode() & 0o7777;
                self.merged
                    .files
                    .insert(File::new(tree_path, None, mode, data));
            }
        }
        Ok(())
    }
}

/// Collects the wanted files of a root filesystem.
pub(crate) fn collect(
    root: &Rootfs,
    filter: &dyn PathFilter,
    limits: &LayerLimits,
) -> Result<FileSet, LayersError> {
    let mut walker = Walker {
        root,
        filter,
        limits,
        // The walk keeps no link target it was not asked for.
        merged: Merged {
            dropped: vec![DroppedPaths::unknown()],
            ..Merged::default()
        },
    };
    walker.walk("")?;
    let merged = std::mem::take(&mut walker.merged);
    crate::finish(merged, filter, |targets| walker.read_targets(targets))
}

impl Walker<'_> {
    /// Reads link targets nobody asked for straight from disk. A target
    /// whose path crosses a symlink on disk (one the walk did not record,
    /// such as a link out of the root) is left out, so the read never
    /// leaves the root.
    fn read_targets(&self, targets: &ExactPaths) -> Result<Merged, LayersError> {
        let mut found = Merged::default();
        for target in targets.paths() {
            if self.crosses_symlink(target) {
                continue;
            }
            let disk = self.on_disk(target);
            let Ok(meta) = fs::symlink_metadata(&disk) else {
                continue;
            };
            if !meta.file_type().is_file() {
                continue;
            }
            let data = self.read_file(target, &disk, meta.len())?;
            let mode = meta.permissions().mode() & 0o7777;
            found
                .files
                .insert(File::new(target.clone(), None, mode, data));
        }
        Ok(found)
    }

    /// Whether a directory on the way to `tree_path` is a symlink on disk.
    fn crosses_symlink(&self, tree_path: &str) -> bool {
        let mut prefix = String::new();
        let parent = paths::split(tree_path).0;
        for part in parent.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            let is_link = fs::symlink_metadata(self.on_disk(&prefix))
                .map(|meta| meta.file_type().is_symlink());
            if is_link.unwrap_or(true) {
                return true;
            }
        }
        false
    }
}
