//! Unpacked root filesystems (`rootfs:DIR`): the same filter over a
//! directory walk that never follows a symlink; symlinks are recorded and
//! resolved inside the root by path arithmetic, as for layers.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_source::Rootfs;

use crate::error::LayersError;
use crate::fileset::{File, FileSet, PathFilter};
use crate::walk::LayerLimits;
use crate::{Merged, paths};

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
        merged: Merged::default(),
    };
    walker.walk("")?;
    let missing = walker.merged.materialise_links(filter);
    // Targets nobody asked for are read straight from disk: their resolved
    // paths contain no symlink (every symlink of the tree was recorded), so
    // the read stays inside the root.
    let mut extra: BTreeMap<String, File> = BTreeMap::new();
    for target in missing {
        let disk = walker.on_disk(&target);
        let Ok(meta) = fs::symlink_metadata(&disk) else {
            continue;
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let data = walker.read_file(&target, &disk, meta.len())?;
        let mode = meta.permissions().mode() & 0o7777;
        extra.insert(target.clone(), File::new(target, None, mode, data));
    }
    if !extra.is_empty() {
        for file in extra.into_values() {
            walker.merged.files.insert(file);
        }
        walker.merged.materialise_links(filter);
    }
    Ok(walker.merged.into_wanted(filter))
}
