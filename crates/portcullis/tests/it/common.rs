//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;

/// The binary under test.
pub fn portcullis() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("portcullis").expect("binary built")
}

/// `../shared` (next to the repository), where fixtures live.
pub fn shared() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"));
    assert!(dir.join("fixtures").is_dir(), "shared fixtures not found at {}", dir.display());
    dir
}

/// A path under `../shared/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    shared().join("fixtures").join(rel)
}
