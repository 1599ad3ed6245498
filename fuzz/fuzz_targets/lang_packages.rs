//! Language-package manifests (Python METADATA / PKG-INFO, npm
//! package.json, RubyGems gemspec, Composer installed.json): packages,
//! warnings or an error, never a panic, whatever the bytes.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use portcullis_inventory as inventory;
use portcullis_layers::{File, FileSet};

/// Paths the inventory classifies as each kind of manifest.
const PATHS: [&str; 5] = [
    "/usr/lib/python3/dist-packages/pkg-1.0.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/pkg.egg-info",
    "/app/node_modules/pkg/package.json",
    "/usr/share/gems/specifications/pkg-1.0.gemspec",
    "/app/vendor/composer/installed.json",
];

fuzz_target!(|data: &[u8]| {
    if let Ok((name, version, _licenses)) = inventory::python_metadata(data) {
        assert!(!name.is_empty() && !version.is_empty());
    }
    let _ = inventory::gemspec_fields(data);
    // Through the public analysis, as a scanned image's files are read.
    let contents: Arc<[u8]> = Arc::from(data);
    let mut files = FileSet::new();
    for path in PATHS {
        files.insert(File {
            path: path.to_owned(),
            layer: None,
            mode: 0o644,
            data: Arc::clone(&contents),
            earlier: Vec::new(),
        });
    }
    if let Ok(analysis) = inventory::analyze(&files) {
        for package in &analysis.inventory.packages {
            assert!(!package.name.is_empty());
        }
    }
});
