//! The layer walker on arbitrary bytes (plain, gzip or zstd, by magic): never
//! panics, stays within its limits, and every path it keeps is absolute,
//! normalised and inside the tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_layers::{LayerLimits, PathFilter, scan_layer};
use portcullis_source::Compression;

/// Keeps everything, so entry data is read as well as skipped.
struct Everything;

impl PathFilter for Everything {
    fn wants(&self, _path: &str) -> bool {
        true
    }
    fn cache_key(&self) -> &str {
        "fuzz-everything"
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = LayerLimits {
        max_layer_bytes: 64 << 20,
        max_ratio: 1000,
        ratio_floor: 1 << 20,
        max_file_bytes: 1 << 20,
    };
    if let Ok(extract) = scan_layer(data, Compression::Unknown, &Everything, &limits, "fuzz", "sha256:fuzz") {
        let inside = |path: &str| {
            path.starts_with('/') && path.split('/').skip(1).all(|part| !part.is_empty() && part != "." && part != "..")
        };
        for (path, file) in &extract.files {
            assert!(inside(path), "kept path {path:?}");
            assert!(file.data.len() as u64 <= limits.max_file_bytes);
        }
        for path in extract.symlinks.keys().chain(&extract.whiteouts) {
            assert!(inside(path), "recorded path {path:?}");
        }
    }
});
