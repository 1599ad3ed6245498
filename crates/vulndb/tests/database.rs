//! The database file: built from real feeds, reopened, queried; corruption
//! and truncation detected with a message saying how to rebuild; updates
//! replace the file atomically and keep the old one when a source fails.

use std::path::PathBuf;

use portcullis_vulndb::db::{Builder, Database, DbError};
use portcullis_vulndb::ingest;
use portcullis_vulndb::model::Event;
use portcullis_vulndb::update::{UpdateError, update};

fn advisories() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata/advisories"
    ))
}

fn build_alpine(path: &std::path::Path) {
    let sources = vec![
        advisories()
            .join("alpine-secdb/alpine/v3.20")
            .display()
            .to_string(),
    ];
    update(&sources, path, "2026-11-29T00:00:00Z".into()).expect("update");
}

#[test]
fn built_database_reopens_with_the_same_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vulndb.bin");
    let batch = ingest::load_path(&advisories().join("alpine-secdb/alpine/v3.20")).expect("load");
    // Independent expectation: zlib's secfixes straight from the JSON.
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(advisories().join("alpine-secdb/alpine/v3.20/main.json")).expect("read"),
    )
    .expect("json");
    let zlib = raw["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["pkg"]["name"] == "zlib")
        .expect("zlib");
    let mut expected: Vec<(String, String)> = Vec::new();
    for (fixed, ids) in zlib["pkg"]["secfixes"].as_object().expect("secfixes") {
        for id in ids.as_array().expect("ids") {
            expected.push((id.as_str().expect("id").to_string(), fixed.clone()));
        }
    }
    expected.sort();
    let mut builder = Builder::new();
    builder.add("alpine v3.20", batch);
    let meta = builder
        .write(&path, "2026-11-29T00:00:00Z".into())
        .expect("write");
    assert!(meta.advisories > 100);
    let db = Database::open(&path).expect("open");
    assert_eq!(db.metadata(), &meta);
    assert!(db.has_ecosystem("Alpine:v3.20"));
    let mut got: Vec<(String, String)> = db
        .affected("Alpine:v3.20", "zlib")
        .expect("query")
        .into_iter()
        .map(|r| {
            let id = db.advisory(r.advisory).expect("advisory").id.to_string();
            let fixed = r.ranges[0].events.iter().find_map(|e| {
                if let Event::Fixed(v) = e {
                    Some(v.to_string())
                } else {
                    None
                }
            });
            (id, fixed.expect("fixed"))
        })
        .collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(
        db.affected("Alpine:v3.19", "zlib")
            .expect("query")
            .is_empty(),
        "no other branch in this database"
    );
}

#[test]
fn corrupt_and_truncated_files_are_detected_with_a_rebuild_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vulndb.bin");
    build_alpine(&path);
    let good = std::fs::read(&path).expect("read");
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&path, &flipped).expect("write");
    let err = Database::open(&path).expect_err("corruption detected");
    assert!(matches!(err, DbError::Corrupt { .. }));
    assert!(err.to_string().contains("portcullis db update"), "{err}");
    std::fs::write(&path, &good[..good.len() - 100]).expect("write");
    let err = Database::open(&path).expect_err("truncation detected");
    assert!(err.to_string().contains("truncated"), "{err}");
    std::fs::write(&path, b"not a database at all, just text").expect("write");
    assert!(
        Database::open(&path)
            .expect_err("garbage")
            .to_string()
            .contains("not a portcullis vulnerability database")
    );
    let missing = Database::open(&dir.path().join("none.bin")).expect_err("missing");
    assert!(missing.to_string().contains("portcullis db update"));
}

#[test]
fn a_corrupt_archive_fails_the_update_and_keeps_the_previous_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vulndb.bin");
    build_alpine(&path);
    let before = std::fs::read(&path).expect("read");
    // A real zip of OSV records, cut in half.
    let zip_path = dir.path().join("all.zip");
    {
        let file = std::fs::File::create(&zip_path).expect("create");
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for entry in std::fs::read_dir(advisories().join("rustsec-advisory-db-osv/crates"))
            .expect("dir")
            .take(40)
        {
            let file = entry.expect("entry").path();
            zip.start_file(file.file_name().expect("name").to_string_lossy(), options)
                .expect("start");
            std::io::Write::write_all(&mut zip, &std::fs::read(&file).expect("read"))
                .expect("write");
        }
        zip.finish().expect("finish");
    }
    let whole = std::fs::read(&zip_path).expect("read zip");
    // The whole archive loads.
    let batch = ingest::load_path(&zip_path).expect("zip loads");
    assert!(batch.advisories.len() >= 20);
    std::fs::write(&zip_path, &whole[..whole.len() / 2]).expect("truncate");
    let err = update(&[zip_path.display().to_string()], &path, "later".into())
        .expect_err("corrupt archive");
    assert!(matches!(err, UpdateError::Source(_)), "{err}");
    assert!(
        err.to_string().contains("corrupt or truncated archive"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "previous database kept"
    );
    Database::open(&path).expect("previous database still opens");
}

#[test]
fn malformed_advisories_are_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = dir.path().join("feed");
    std::fs::create_dir(&feed).expect("mkdir");
    let real = advisories().join("golang-vulndb/data/osv");
    let mut copied = 0;
    for entry in std::fs::read_dir(&real).expect("dir").take(10) {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, feed.join(p.file_name().expect("name"))).expect("copy");
        copied += 1;
    }
    std::fs::write(feed.join("broken.json"), b"{\"id\": \"GO-BROKEN\", \"affected\": [{\"package\": {\"ecosystem\": \"Go\", \"name\": \"x\"}, \"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"fixed\": \"1.0.0\", \"introduced\": \"0\"}]}]}]}").expect("write");
    std::fs::write(feed.join("truncated.json"), b"{\"id\": \"GO-").expect("write");
    let path = dir.path().join("vulndb.bin");
    let meta = update(&[feed.display().to_string()], &path, "now".into()).expect("update goes on");
    assert_eq!(meta.sources[0].skipped, 2);
    assert_eq!(meta.sources[0].advisories, copied);
    let reasons: Vec<&str> = meta.sources[0]
        .skip_reasons
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("exactly one of")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("malformed JSON")),
        "{reasons:?}"
    );
}
