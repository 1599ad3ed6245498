//! Feeds into the advisory model: vunnel's feed samples give the records
//! vunnel expects, and the real OSV databases load completely.

use std::path::{Path, PathBuf};

use portcullis_vulndb::ingest::{self, Batch};
use portcullis_vulndb::model::{Advisory, Event, Level};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata"
    ))
}

fn vunnel() -> PathBuf {
    fixtures().join("pkgdb-fixtures/vunnel-provider-fixtures")
}

fn count_files(dir: &Path, extensions: &[&str]) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            n += count_files(&path, extensions);
        } else if extensions
            .iter()
            .any(|e| path.extension().is_some_and(|x| x == *e))
        {
            n += 1;
        }
    }
    n
}

fn load(path: &Path) -> Batch {
    ingest::load_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixed version (or "None" when unfixed) of `package` in `ecosystem`.
fn fixed_in(advisories: &[Advisory], id: &str, ecosystem: &str, package: &str) -> Vec<String> {
    advisories
        .iter()
        .filter(|a| a.id == id)
        .flat_map(|a| &a.affected)
        .filter(|af| af.ecosystem == ecosystem && af.package == package)
        .map(|af| {
            af.ranges
                .iter()
                .flat_map(|r| &r.events)
                .find_map(|e| {
                    if let Event::Fixed(v) = e {
                        Some(v.clone())
                    } else {
                        None
                    }
                })
                .unwrap_or_else(|| "None".to_string())
        })
        .collect()
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("snapshots")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn vunnel_debian_tracker_sample_gives_the_expected_records() {
    let batch = load(&vunnel().join("debian/test-fixtures/input/debian.json"));
    let dsa = load(&vunnel().join("debian/test-fixtures/input/DSA"));
    let mut compared = 0;
    for release_dir in snapshot_files(&vunnel().join("debian/test-fixtures/snapshots")) {
        let namespace = release_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        // debian:7 comes from vunnel's legacy feed, not the tracker JSON.
        if namespace == "debian:7" {
            continue;
        }
        let ecosystem = namespace.replacen("debian:", "Debian:", 1);
        for file in snapshot_files(&release_dir) {
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
            let vuln = &record["item"]["Vulnerability"];
            let id = vuln["Name"].as_str().expect("Name");
            // Made by vunnel's test code, not from the sample: CVE-2012-0833
            // is not in debian.json.
            if id == "CVE-2012-0833" {
                continue;
            }
            let expected_level = vuln["Severity"].as_str().expect("Severity");
            for fix in vuln["FixedIn"].as_array().expect("FixedIn") {
                let package = fix["Name"].as_str().expect("Name");
                let version = fix["Version"].as_str().expect("Version");
                let got = fixed_in(&batch.advisories, id, &ecosystem, package);
                assert_eq!(
                    got,
                    vec![version.to_string()],
                    "{}: {id} {package}",
                    file.display()
                );
                let severity = batch
                    .advisories
                    .iter()
                    .filter(|a| a.id == id)
                    .flat_map(|a| &a.affected)
                    .find(|af| af.ecosystem == ecosystem && af.package == package)
                    .and_then(|af| af.severity.as_ref())
                    .map(|s| s.level);
                let expected = Level::parse(expected_level).filter(|l| *l != Level::Unknown);
                assert_eq!(severity, expected, "{}: severity", file.display());
                // The DSA that fixed it becomes an advisory with the CVE as alias.
                for summary in fix["VendorAdvisory"]["AdvisorySummary"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let dsa_id = summary["ID"].as_str().expect("ID");
                    let advisory = dsa
                        .advisories
                        .iter()
                        .find(|a| a.id == dsa_id)
                        .expect("DSA advisory");
                    assert!(
                        advisory.aliases.iter().any(|a| a == id),
                        "{dsa_id} lists {id}"
                    );
                    assert_eq!(
                        fixed_in(&dsa.advisories, dsa_id, &ecosystem, package),
                        vec![version.to_string()]
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "only {compared} records compared");
}

#[test]
fn vunnel_alpine_secdb_sample_gives_the_expected_records() {
    let batch = load(&vunnel().join("alpine/test-fixtures/input/secdb/v3.15"));
    assert!(batch.skipped.is_empty(), "{:?}", batch.skipped);
    let mut compared = 0;
    for file in snapshot_files(&vunnel().join("alpine/test-fixtures/snapshots/3.15")) {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        let vuln = &record["item"]["Vulnerability"];
        let id = vuln["Name"].as_str().expect("Name");
        for fix in vuln["FixedIn"].as_array().expect("FixedIn") {
            assert_eq!(fix["NamespaceName"], "alpine:3.15");
            let package = fix["Name"].as_str().expect("Name");
            let got = fixed_in(&batch.advisories, id, "Alpine:v3.15", package);
            assert_eq!(
                got,
                vec![fix["Version"].as_str().expect("Version").to_string()],
                "{id} {package}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 16);
}

#[test]
fn vunnel_govulndb_sample_gives_the_expected_records() {
    let batch = load(&vunnel().join("govulndb/test-fixtures/vulndb/ID"));
    assert_eq!(batch.advisories.len(), 2);
    for file in snapshot_files(&vunnel().join("govulndb/test-fixtures/snapshots")) {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        let item = &record["item"];
        let id = item["id"].as_str().expect("id");
        let advisory = batch
            .advisories
            .iter()
            .find(|a| a.id == id)
            .expect("advisory loaded");
        let aliases: Vec<&str> = item["aliases"]
            .as_array()
            .expect("aliases")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(advisory.aliases, aliases);
        let expected_affected = item["affected"].as_array().expect("affected");
        assert_eq!(advisory.affected.len(), expected_affected.len());
        for (got, want) in advisory.affected.iter().zip(expected_affected) {
            assert_eq!(
                got.ecosystem,
                want["package"]["ecosystem"].as_str().expect("ecosystem")
            );
            assert_eq!(got.package, want["package"]["name"].as_str().expect("name"));
            let want_events: Vec<Event> = want["ranges"]
                .as_array()
                .expect("ranges")
                .iter()
                .flat_map(|r| r["events"].as_array().expect("events").iter())
                .map(|e| {
                    let (k, v) = e
                        .as_object()
                        .expect("event")
                        .iter()
                        .next()
                        .expect("one key");
                    let v = v.as_str().expect("version").to_string();
                    match k.as_str() {
                        "introduced" => Event::Introduced(v),
                        "fixed" => Event::Fixed(v),
                        "last_affected" => Event::LastAffected(v),
                        _ => Event::Limit(v),
                    }
                })
                .collect();
            let got_events: Vec<Event> = got.ranges.iter().flat_map(|r| r.events.clone()).collect();
            assert_eq!(got_events, want_events, "{id}");
        }
    }
}

#[test]
fn vunnel_alma_sample_loads_every_affected_package() {
    let dir = vunnel().join("alma/test-fixtures/osv-database/advisories");
    let batch = load(&dir);
    assert_eq!(batch.advisories.len(), 5);
    for advisory in &batch.advisories {
        let sub = if advisory
            .affected
            .iter()
            .any(|a| a.ecosystem == "AlmaLinux:8")
        {
            "almalinux8"
        } else {
            "almalinux9"
        };
        let raw: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(sub).join(format!("{}.json", advisory.id))).expect("file"),
        )
        .expect("json");
        let raw_affected = raw["affected"].as_array().expect("affected");
        assert_eq!(
            advisory.affected.len(),
            raw_affected.len(),
            "{}",
            advisory.id
        );
        for (got, want) in advisory.affected.iter().zip(raw_affected) {
            assert_eq!(got.package, want["package"]["name"].as_str().expect("name"));
            let fixed = want["ranges"][0]["events"][1]["fixed"]
                .as_str()
                .expect("fixed");
            assert!(
                got.ranges[0]
                    .events
                    .contains(&Event::Fixed(fixed.to_string()))
            );
        }
    }
}

/// A whole OSV database: every document read, each either loaded or skipped
/// with a reason.
fn loads_completely(dir: &str, extensions: &[&str]) -> Batch {
    let path = fixtures().join("advisories").join(dir);
    let batch = load(&path);
    let files = count_files(&path, extensions);
    assert_eq!(batch.documents, files, "{dir}: every advisory file read");
    let skipped_documents = batch.skipped.len();
    assert_eq!(
        batch.advisories.len() + skipped_documents,
        files,
        "{dir}: loaded + skipped = files; skipped: {:?}",
        batch.skipped
    );
    for skip in &batch.skipped {
        assert!(!skip.reason.is_empty());
    }
    batch
}

#[test]
fn almalinux_osv_loads_completely() {
    let batch = loads_completely("almalinux-osv-database", &["json"]);
    assert_eq!(batch.advisories.len(), 5680, "skipped: {:?}", batch.skipped);
}

#[test]
fn rustsec_osv_loads_completely() {
    let batch = loads_completely("rustsec-advisory-db-osv", &["json"]);
    assert!(batch.advisories.len() >= 1206 - batch.skipped.len());
}

#[test]
fn go_vulndb_loads_completely() {
    let batch = loads_completely("golang-vulndb", &["json"]);
    assert_eq!(batch.advisories.len() + batch.skipped.len(), 4291);
}

#[test]
fn pypa_osv_yaml_loads_completely() {
    let batch = loads_completely("pypa-advisory-database", &["yaml"]);
    assert_eq!(batch.advisories.len() + batch.skipped.len(), 2661);
    // YAML scalars must stay strings: `1.10` is not the float 1.1.
    let any_versions = batch
        .advisories
        .iter()
        .flat_map(|a| &a.affected)
        .flat_map(|a| &a.versions)
        .any(|v| v.ends_with(".10"));
    assert!(any_versions);
}

#[test]
fn debian_oval_bookworm_loads_every_definition() {
    let batch = load(&fixtures().join("advisories/debian-oval/oval-definitions-bookworm.xml.bz2"));
    assert_eq!(batch.documents, 1);
    // README: 25,932 definitions, one per CVE (or DSA) and package; merged by id.
    let records: usize = batch.advisories.iter().map(|a| a.affected.len()).sum();
    assert_eq!(
        records + batch.skipped.len(),
        25_932,
        "skipped: {:?}",
        batch.skipped.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        batch
            .advisories
            .iter()
            .all(|a| a.affected.iter().all(|af| af.ecosystem == "Debian:12"))
    );
}

#[test]
fn rpm_oval_is_read_as_rocky_linux() {
    // Read by `ingest::rpm_oval`; tests/feeds.rs checks it record by record.
    let batch = load(&fixtures().join("advisories/rocky-oval"));
    assert_eq!(batch.advisories.len(), 175);
    assert!(
        batch
            .skipped
            .iter()
            .all(|s| !s.reason.contains("OVAL document without"))
    );
}
