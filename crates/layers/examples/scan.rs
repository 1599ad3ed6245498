//! Measures the source + layers stages alone on one image:
//! `cargo run --release -p portcullis-layers --example scan -- IMAGE [CACHE_DIR]`.
//! Keeps what the package analyzers read; prints kept files and wall time.

use std::time::Instant;

use portcullis_layers::{LayerOptions, PathFilter, collect};
use portcullis_source::{ImageRef, SourceOptions, open};

struct PackageFiles;

impl PathFilter for PackageFiles {
    fn wants(&self, path: &str) -> bool {
        matches!(
            path,
            "/etc/os-release"
                | "/usr/lib/os-release"
                | "/var/lib/dpkg/status"
                | "/lib/apk/db/installed"
        ) || path.starts_with("/var/lib/dpkg/status.d/")
            || path.starts_with("/var/lib/rpm/")
            || path.starts_with("/usr/lib/sysimage/rpm/")
    }
    fn cache_key(&self) -> &str {
        "example-scan-v1"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args.next().ok_or("usage: scan IMAGE [CACHE_DIR]")?;
    let cache_dir = args.next().map(Into::into);
    let start = Instant::now();
    let reference = ImageRef::parse(&image)?;
    let source_options = SourceOptions {
        cache_dir: cache_dir.clone(),
        ..SourceOptions::default()
    };
    let opened = open(&reference, &source_options)?;
    let files = collect(
        &opened,
        &PackageFiles,
        &LayerOptions {
            cache_dir,
            ..LayerOptions::default()
        },
    )?;
    let bytes: usize = files.iter().map(|f| f.data.len()).sum();
    println!(
        "{image}: {} files, {bytes} bytes kept, {:.1} ms",
        files.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
