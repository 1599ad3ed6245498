//! Times the package-database parsers on the real fixtures.
//!
//! `cargo run --release -p portcullis-inventory --example parse_timing`
//! prints the median of 101 runs for each database.

use portcullis_inventory::{apk, dpkg, rpm};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/vulndata/pkgdb-fixtures"
);

fn median(mut run: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(101);
    let mut count = 0;
    for _ in 0..101 {
        let started = Instant::now();
        count = run();
        times.push(started.elapsed());
    }
    times.sort();
    (times[times.len() / 2], count)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let read = |rel: &str| std::fs::read(format!("{FIXTURES}/{rel}"));
    let status = read("debian12-host/status")?;
    let installed = read("trivy/fanal-apk/apk")?;
    let sqlite = read("go-rpmdb/amazonlinux2023-sqlite/rpmdb.sqlite")?;
    let ndb = read("go-rpmdb/sle15-bci-ndb/Packages.db")?;
    let bdb = read("go-rpmdb/libuuid-bdb/Packages")?;
    let rpm_packages = |format: rpm::Format, data: &[u8]| {
        let blobs = format.blobs(data, None).unwrap_or_default();
        blobs
            .iter()
            .filter(|b| rpm::RpmPackage::from_blob(b).is_ok())
            .count()
    };
    let cases: [(&str, &dyn Fn() -> usize); 5] = [
        ("dpkg status, debian12-host", &|| {
            dpkg::parse_status(&status).map_or(0, |r| r.len())
        }),
        ("apk installed, trivy", &|| {
            apk::parse_installed(&installed).map_or(0, |r| r.len())
        }),
        ("rpm sqlite, amazonlinux2023", &|| {
            rpm_packages(rpm::Format::Sqlite, &sqlite)
        }),
        ("rpm ndb, sle15-bci", &|| {
            rpm_packages(rpm::Format::Ndb, &ndb)
        }),
        ("rpm Berkeley DB, libuuid", &|| {
            rpm_packages(rpm::Format::BerkeleyDb, &bdb)
        }),
    ];
    for (name, run) in cases {
        let (time, count) = median(run);
        println!(
            "{name}: {count} packages, median {:.3} ms",
            time.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
