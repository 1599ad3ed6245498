//! Layers: from layer blobs to the few files the analyzers asked for.
//!
//! Second stage of the pipeline (source → **layers** → inventory → …). Layer
//! blobs are decompressed as streams (gzip, zstd, plain tar — by media type
//! and magic bytes), walked entry by entry, and only paths accepted by a
//! [`PathFilter`] are kept in memory; nothing is extracted to disk. Layers are
//! walked in parallel, each into a [`LayerExtract`] (its wanted files,
//! whiteouts, opaque directories and symlinks), and the extracts are merged
//! bottom-up, so the resulting [`FileSet`] is the merged view of the image's
//! final filesystem. Wanted paths that are symlinks (`/etc/os-release →
//! ../usr/lib/os-release`) are resolved once every layer is applied, inside
//! the tree as a chroot lookup would (`..` stops at the root, at most 40
//! links), and hold their target's final contents and history. A file
//! reached through a directory symlink (`/var/lib/rpm →
//! ../../usr/lib/sysimage/rpm`) is listed once, at its real path (the one
//! crossing no symlink), so a filter asks for every real location it reads
//! and no file is listed twice. A wanted hard link holds what its target
//! held in the link's own layer.
//!
//! Extracts are cached by layer digest and [`PathFilter::cache_key`], so a
//! rescan of an image whose layers were seen before reads no layer blob.
//! Hostile entries (`..`, absolute names, links out of the tree), corrupt or
//! truncated streams and decompression bombs are refused with a
//! [`LayersError`] naming image, layer and entry.

mod cache;
mod error;
mod fileset;
mod paths;
mod rootfs;
mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use portcullis_source::{Compression, Image, Opened};

pub use error::LayersError;
pub use fileset::{File, FileSet, FileVersion, PathFilter};
pub use walk::{DroppedPaths, ExtractedFile, LayerExtract, LayerLimits};

/// How layers are collected.
#[derive(Debug, Clone, Default)]
pub struct LayerOptions {
    /// Where per-layer extracts are cached (`<dir>/layers/…`); no caching
    /// when `None`. Usually the same directory as the blob cache.
    pub cache_dir: Option<PathBuf>,
    /// Size, ratio and per-file limits.
    pub limits: LayerLimits,
    /// Worker threads; `0` means one per available CPU.
    pub threads: usize,
}

/// Collects the wanted files of an opened image or root filesystem.
pub fn collect(
    opened: &Opened,
    filter: &dyn PathFilter,
    options: &LayerOptions,
) -> Result<FileSet, LayersError> {
    match opened {
        Opened::Image(image) => collect_image(image, filter, options),
        Opened::Rootfs(root) => rootfs::collect(root, filter, &options.limits),
    }
}

/// Decompresses and walks one layer stream (the raw blob, compressed as
/// `compression` says or [`Compression::Unknown`]), returning what it
/// contributes. `image` and `layer` only name things in errors. Used by
/// [`collect`]; public for fuzzing and for callers holding a bare blob.
pub fn scan_layer(
    reader: impl Read,
    compression: Compression,
    filter: &dyn PathFilter,
    limits: &LayerLimits,
    image: &str,
    layer: &str,
) -> Result<LayerExtract, LayersError> {
    walk::walk_layer(
        reader,
        compression,
        filter,
        limits,
        &walk::LayerContext { image, layer },
    )
}

/// The merged tree while layers are applied bottom-up.
#[derive(Default)]
pub(crate) struct Merged {
    pub files: FileSet,
    pub symlinks: BTreeMap<String, String>,
    /// What each applied layer wrote without keeping.
    pub dropped: Vec<DroppedPaths>,
}

/// Removes every entry strictly below directory `dir`.
fn remove_under<V>(map: &mut BTreeMap<String, V>, dir: &str) {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let below: Vec<String> = map
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .map(|(path, _)| path.clone())
        .collect();
    for path in below {
        map.remove(&path);
    }
}

impl Merged {
    /// Applies one layer on top: first what it deletes below (opaque
    /// directories, whiteouts), then what it adds. A symlink or a file
    /// replaces whatever lower layers had at its path, a whole directory
    /// included (`/var/lib/rpm` turned into a link to
    /// `../../usr/lib/sysimage/rpm` hides the old database), as container
    /// runtimes apply a layer.
    pub(crate) fn apply(&mut self, layer: Option<&str>, extract: &LayerExtract) {
        for dir in &extract.opaque_dirs {
            self.files.remove_under(dir);
            remove_under(&mut self.symlinks, dir);
        }
        for path in &extract.whiteouts {
            self.files.remove(path);
            self.files.remove_under(path);
            self.symlinks.remove(path);
            remove_under(&mut self.symlinks, path);
        }
        for (path, target) in &extract.symlinks {
            self.files.remove(path);
            self.files.remove_under(path);
            remove_under(&mut self.symlinks, path);
            self.symlinks.insert(path.clone(), target.clone());
        }
        for (path, file) in &extract.files {
            self.symlinks.remove(path);
            remove_under(&mut self.symlinks, path);
            self.files.remove_under(path);
            // On top of what lower layers wrote here: `insert` keeps their
            // versions as the file's history.
            self.files.insert(File::new(
                path.clone(),
                layer.map(str::to_owned),
                file.mode,
                file.data.clone(),
            ));
        }
        self.dropped.push(extract.dropped.clone());
    }

    /// Whether some applied layer may have written `path` without keeping it.
    fn may_have_dropped(&self, path: &str) -> bool {
        self.dropped.iter().any(|dropped| dropped.may_contain(path))
    }

    /// The kept files the filter asked for (link targets kept only to give a
    /// wanted link its contents are dropped).
    pub(crate) fn into_wanted(self, filter: &dyn PathFilter) -> FileSet {
        let mut files = self.files;
        let unwanted: Vec<String> = files
            .iter()
            .filter(|f| !filter.wants(&f.path))
            .map(|f| f.path.clone())
            .collect();
        for path in unwanted {
            files.remove(&path);
        }
        files
    }

    /// Every wanted symlink of the final tree, with the path it resolves to there. A loop, or a
    /// chain longer than Linux follows, leaves the path out.
    fn wanted_links(&self, filter: &dyn PathFilter) -> BTreeMap<String, String> {
        let mut links = BTreeMap::new();
        for link in self.symlinks.keys().filter(|link| filter.wants(link)) {
            match paths::resolve(&self.symlinks, link) {
                Some(target) => {
                    links.insert(link.clone(), target);
                }
                None => tracing::warn!(
                    "{link}: too many levels of symbolic links (a loop?); the path is left out"
                ),
            }
        }
        links
    }

    /// Gives every link of `links` its target's final contents and history
    /// (the link is an alias, not a version on top of what its path held).
    fn alias_links(&mut self, links: &BTreeMap<String, String>) {
        for (link, target) in links {
            self.files.remove(link);
            if let Some(file) = self.files.get(target) {
                let alias = File {
                    path: link.clone(),
                    ..file.clone()
                };
                self.files.insert(alias);
            }
        }
    }
}

/// Resolves the wanted links of the fully merged tree and keeps what the
/// filter asked for.
///
/// Links are resolved only here, after every layer is applied: a later layer
/// may rewrite a link's target (or the directories on its way) without
/// touching the link. A target the filter wants was kept by every layer that
/// wrote it, so its merged file is final. A target it does not want was kept
/// only by layers holding a link to it; unless no layer wrote it without
/// keeping it ([`DroppedPaths`]), `second_pass` collects exactly those paths
/// again, from every layer, and its merged result supplies their contents and
/// history.
pub(crate) fn finish(
    mut merged: Merged,
    filter: &dyn PathFilter,
    second_pass: impl FnOnce(&ExactPaths) -> Result<Merged, LayersError>,
) -> Result<FileSet, LayersError> {
    let links = merged.wanted_links(filter);
    let unwanted: BTreeSet<String> = links
        .values()
        .filter(|target| !filter.wants(target) && merged.may_have_dropped(target))
        .cloned()
        .collect();
    if !unwanted.is_empty() {
        tracing::debug!(?unwanted, "second pass for symlink targets");
        let exact = ExactPaths::new(unwanted);
        let targets = second_pass(&exact)?;
        for path in &exact.paths {
            // Whatever the first pass holds here is not the whole story.
            merged.files.remove(path);
            if let Some(file) = targets.files.get(path) {
                merged.files.insert(file.clone());
            }
        }
    }
    merged.alias_links(&links);
    Ok(merged.into_wanted(filter))
}

/// Gives the wanted hard links of one layer's extract their targets'
/// contents from the same layer, which `rescan` reads again for exactly
/// those targets (rare: a wanted file hard-linked to one nobody asked for).
/// A link whose target the layer does not hold is left out.
pub(crate) fn resolve_hardlinks(
    extract: &mut LayerExtract,
    rescan: impl FnOnce(&ExactPaths) -> Result<LayerExtract, LayersError>,
) -> Result<(), LayersError> {
    if extract.hardlinks.is_empty() {
        return Ok(());
    }
    let links = std::mem::take(&mut extract.hardlinks);
    let targets = rescan(&ExactPaths::new(links.values().cloned().collect()))?;
    for (link, target) in links {
        if let Some(file) = targets.files.get(&target) {
            extract.files.insert(link, file.clone());
        }
    }
    Ok(())
}

/// A filter accepting an exact set of paths (second pass for link targets).
pub(crate) struct ExactPaths {
    paths: BTreeSet<String>,
    key: String,
}

impl ExactPaths {
    fn new(paths: BTreeSet<String>) -> Self {
        let joined: Vec<&str> = paths.iter().map(String::as_str).collect();
        let key = format!("exact:{}", joined.join("\0"));
        Self { paths, key }
    }

    /// The accepted paths, in order.
    pub(crate) fn paths(&self) -> &BTreeSet<String> {
        &self.paths
    }
}

impl PathFilter for ExactPaths {
    fn wants(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    fn cache_key(&self) -> &str {
        &self.key
    }
}

fn collect_image(
    image: &Image,
    filter: &dyn PathFilter,
    options: &LayerOptions,
) -> Result<FileSet, LayersError> {
    let merged = merge_layers(image, filter, options)?;
    finish(merged, filter, |targets| {
        merge_layers(image, targets, options)
    })
}

fn merge_layers(
    image: &Image,
    filter: &dyn PathFilter,
    options: &LayerOptions,
) -> Result<Merged, LayersError> {
    let extracts = extract_all(image, filter, options)?;
    let mut merged = Merged::default();
    for (layer, extract) in image.layers.iter().zip(&extracts) {
        merged.apply(Some(layer.digest.as_str()), extract);
    }
    Ok(merged)
}

/// Every layer's extract, from the cache or by walking the blob; blobs are
/// walked in parallel, largest first.
fn extract_all(
    image: &Image,
    filter: &dyn PathFilter,
    options: &LayerOptions,
) -> Result<Vec<LayerExtract>, LayersError> {
    let cache_paths: Vec<Option<PathBuf>> = image
        .layers
        .iter()
        .map(|layer| {
            options.cache_dir.as_ref().map(|dir| {
                cache::entry_path(
                    dir,
                    layer.digest.as_str(),
                    filter.cache_key(),
                    options.limits.max_file_bytes,
                )
            })
        })
        .collect();
    let slots: Vec<Mutex<Option<LayerExtract>>> = cache_paths
        .iter()
        .map(|path| Mutex::new(path.as_deref().and_then(cache::load)))
        .collect();
    let mut todo: Vec<usize> = (0..slots.len())
        .filter(|&i| {
            slots
                .get(i)
                .and_then(|s| s.lock().ok())
                .is_some_and(|s| s.is_none())
        })
        .collect();
    todo.sort_by_key(|&i| std::cmp::Reverse(image.layers.get(i).and_then(|l| l.size).unwrap_or(0)));

    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(todo.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, LayersError)>> = Mutex::new(None);
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let Some(&index) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            match extract_one(
                image,
                index,
                filter,
                options,
                cache_paths.get(index).cloned().flatten(),
            ) {
                Ok(extract) => {
                    if let Some(mut slot) = slots.get(index).and_then(|s| s.lock().ok()) {
                        *slot = Some(extract);
                    }
                }
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        // Report the lowest layer's error when several fail.
                        if first.as_ref().is_none_or(|(i, _)| index < *i) {
                            *first = Some((index, error));
                        }
                    }
                }
            }
        }
    };
    if todo.len() <= 1 || threads == 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(work);
            }
        });
    }
    if let Some((_, error)) = first_error.into_inner().ok().flatten() {
        return Err(error);
    }
    slots
        .into_iter()
        .zip(&image.layers)
        .map(|(slot, layer)| {
            slot.into_inner()
                .ok()
                .flatten()
                .ok_or_else(|| LayersError::Corrupt {
                    image: image.name.clone(),
                    layer: layer.digest.to_string(),
                    reason: "layer was not processed".into(),
                })
        })
        .collect()
}

fn extract_one(
    image: &Image,
    index: usize,
    filter: &dyn PathFilter,
    options: &LayerOptions,
    cache_path: Option<PathBuf>,
) -> Result<LayerExtract, LayersError> {
    let Some(layer) = image.layers.get(index) else {
        return Err(LayersError::Corrupt {
            image: image.name.clone(),
            layer: format!("#{index}"),
            reason: "no such layer".into(),
        });
    };
    let scan = |filter: &dyn PathFilter| {
        scan_layer(
            image.open_layer(layer)?,
            layer.compression,
            filter,
            &options.limits,
            &image.name,
            layer.digest.as_str(),
        )
    };
    let mut extract = scan(filter)?;
    resolve_hardlinks(&mut extract, |targets| scan(targets))?;
    if let Some(path) = cache_path
        && let Err(e) = cache::store(&path, &extract)
    {
        // A cache that cannot be written only costs speed next time.
        tracing::warn!("cannot cache layer {}: {e}", layer.digest);
    }
    Ok(extract)
}

#[cfg(test)]
mod tests;
