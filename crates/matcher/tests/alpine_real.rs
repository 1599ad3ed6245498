//! Real Alpine installed databases (syft and trivy fixtures) against the
//! real Alpine secdb: the matcher's findings must equal an independent
//! computation written here, straight from the secdb JSON (lookup by origin,
//! every secfix above the installed version), and no package at or above a
//! fixed version may match.
//!
//! The independent side shares only the apk version comparator, which is
//! checked on its own against apk-tools' vectors.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use portcullis_inventory::{Distro, Ecosystem, Inventory, Location, Package};
use portcullis_matcher::match_inventory;
use portcullis_vulndb::db::Database;
use portcullis_vulndb::update::update;
use portcullis_vulndb::version::apk;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata"
    ))
}

/// Parses an apk `installed` database (test-side reader: P, V, o fields).
fn read_installed(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).expect("installed db");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_string)
        };
        if let (Some(name), Some(version)) = (field("P:"), field("V:")) {
            let origin = field("o:").unwrap_or_else(|| name.clone());
            out.push((name, version, origin));
        }
    }
    out
}

fn inventory(installed: &[(String, String, String)], version_id: &str, path: &str) -> Inventory {
    let packages = installed
        .iter()
        .map(|(name, version, origin)| Package {
            ecosystem: Ecosystem::Alpine,
            name: name.clone(),
            version: version.clone(),
            arch: None,
            source_name: Some(origin.clone()),
            source_version: None,
            licenses: Vec::new(),
            purl: format!("pkg:apk/alpine/{name}@{version}"),
            location: Location {
                layer: None,
                path: path.to_string(),
            },
        })
        .collect();
    Inventory {
        distro: Some(Distro {
            id: "alpine".into(),
            version_id: Some(version_id.into()),
            ..Distro::default()
        }),
        packages,
    }
}

/// (package, CVE, fixed version) expected straight from the secdb JSON files.
fn expected(
    installed: &[(String, String, String)],
    branch_dir: &Path,
) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for repo in ["main.json", "community.json"] {
        let Ok(bytes) = std::fs::read(branch_dir.join(repo)) else {
            continue;
        };
        let secdb: serde_json::Value = serde_json::from_slice(&bytes).expect("secdb json");
        for entry in secdb["packages"].as_array().expect("packages") {
            let origin = entry["pkg"]["name"].as_str().expect("name");
            for (name, version, pkg_origin) in installed {
                if pkg_origin != origin {
                    continue;
                }
                for (fixed, ids) in entry["pkg"]["secfixes"].as_object().into_iter().flatten() {
                    if fixed == "0" || !apk::is_valid_any(fixed) {
                        continue;
                    }
                    if apk::compare(version, fixed).expect("comparable") == Ordering::Less {
                        for id in ids
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|i| i.as_str())
                        {
                            for word in id.split_whitespace().filter(|w| id_shaped(w)) {
                                out.insert((name.clone(), word.to_string(), fixed.clone()));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// `CVE-2021-1234`, `XSA-123`, `ALPINE-13661`: upper-case prefix, dash, digits.
fn id_shaped(word: &str) -> bool {
    word.split_once('-').is_some_and(|(prefix, rest)| {
        !prefix.is_empty()
            && prefix.chars().all(|c| c.is_ascii_uppercase())
            && rest.chars().any(|c| c.is_ascii_digit())
    })
}

fn check(installed_path: &Path, version_id: &str, branch: &str) -> usize {
    let installed = read_installed(installed_path);
    assert!(!installed.is_empty());
    let branch_dir = fixtures()
        .join("advisories/alpine-secdb/alpine")
        .join(branch);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("vulndb.bin");
    update(&[branch_dir.display().to_string()], &db_path, "test".into()).expect("db");
    let db = Database::open(&db_path).expect("open");
    let report = match_inventory(
        &inventory(&installed, version_id, "/lib/apk/db/installed"),
        &db,
    )
    .expect("match");
    let mut got = BTreeSet::new();
    for f in &report.findings {
        // Alpine advisories are per CVE: each finding is one secfix entry.
        assert!(f.aliases.is_empty(), "{f:?}");
        let fixed = f
            .fixed_version
            .clone()
            .expect("secdb entries always have a fix");
        // No false positive: the installed version is below the fix.
        assert_eq!(
            apk::compare(&f.installed_version, &fixed).expect("cmp"),
            Ordering::Less,
            "{f:?}"
        );
        got.insert((f.package.clone(), f.id.clone(), fixed));
    }
    let want = expected(&installed, &branch_dir);
    assert_eq!(got, want, "{} on {branch}", installed_path.display());
    got.len()
}

#[test]
fn syft_multiple_2_on_alpine_3_19_matches_secdb() {
    let path = fixtures().join("pkgdb-fixtures/syft/alpine/multiple-2/lib/apk/db/installed");
    let n = check(&path, "3.19.1", "v3.19");
    // And the same packages against older branches find more (older fixes
    // were already in), never fewer than the branch's own.
    let older = check(&path, "3.17.0", "v3.17");
    assert!(n + older > 0, "real data gives findings");
}

#[test]
fn trivy_fanal_apk_on_alpine_3_4_matches_secdb() {
    let path = fixtures().join("pkgdb-fixtures/trivy/fanal-apk/apk");
    let n = check(&path, "3.4.6", "v3.4");
    assert!(
        n > 0,
        "an Alpine 3.4 image from 2016 has known vulnerabilities"
    );
}

#[test]
fn every_branch_for_every_fixture() {
    let fixtures_list = [
        fixtures().join("pkgdb-fixtures/syft/alpine/multiple-1/lib/apk/db/installed"),
        fixtures().join("pkgdb-fixtures/syft/alpine/multiple-2/lib/apk/db/installed"),
        fixtures().join("pkgdb-fixtures/trivy/fanal-apk/apk"),
    ];
    let mut total = 0;
    for path in &fixtures_list {
        for branch in ["v3.5", "v3.10", "v3.15", "v3.18", "v3.20", "v3.21"] {
            let version_id = format!("{}.0", branch.trim_start_matches('v'));
            total += check(path, &version_id, branch);
        }
    }
    assert!(total > 10, "{total}");
}

#[test]
fn an_advisory_for_another_branch_never_matches() {
    let path = fixtures().join("pkgdb-fixtures/trivy/fanal-apk/apk");
    let installed = read_installed(&path);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("vulndb.bin");
    let branch = fixtures().join("advisories/alpine-secdb/alpine/v3.4");
    update(&[branch.display().to_string()], &db_path, "test".into()).expect("db");
    let db = Database::open(&db_path).expect("open");
    // The image says 3.5: the database only knows 3.4, so nothing applies.
    let report = match_inventory(
        &inventory(&installed, "3.5.0", "/lib/apk/db/installed"),
        &db,
    )
    .expect("match");
    assert!(report.findings.is_empty());
    assert_eq!(report.uncovered, vec!["Alpine:v3.5".to_string()]);
}
