//! No false positives on Debian 12: a real Debian 12 dpkg status (767
//! packages) against Debian's own bookworm OVAL data. The expected findings
//! are computed here with `dpkg --compare-versions` itself as the oracle, for
//! every OVAL record of every installed source package: exactly the records
//! whose fix is above the installed source version must be found, and none
//! whose fix is at or below it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use portcullis_inventory::{Distro, Ecosystem, Inventory, Location, Package};
use portcullis_matcher::match_inventory;
use portcullis_vulndb::db::Database;
use portcullis_vulndb::model::Event;
use portcullis_vulndb::{ingest, update::update};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata"
    ))
}

/// (package, version, source, source version) from a dpkg status file.
fn read_status() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(fixtures().join("pkgdb-fixtures/debian12-host/status"))
        .expect("status");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        let (Some(name), Some(version)) = (field("Package:"), field("Version:")) else {
            continue;
        };
        let (source, source_version) = match field("Source:") {
            Some(s) => match s.split_once(" (") {
                Some((n, v)) => (n.to_string(), v.trim_end_matches(')').to_string()),
                None => (s, version.clone()),
            },
            None => (name.clone(), version.clone()),
        };
        out.push((name, version, source, source_version));
    }
    out
}

fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .expect("dpkg runs")
        .success()
}

#[test]
fn debian12_host_against_bookworm_oval_has_no_false_positive() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        panic!("this test uses dpkg as its oracle; run it on Debian");
    }
    let installed = read_status();
    assert_eq!(installed.len(), 767);
    let oval = fixtures().join("advisories/debian-oval/oval-definitions-bookworm.xml.bz2");
    let batch = ingest::load_path(&oval).expect("oval");
    // Expected: every OVAL record of an installed source package whose fix is
    // above the installed source version, by dpkg's own comparison.
    let mut expected = BTreeSet::new();
    let mut checked = 0;
    // dpkg runs once per distinct (installed, fixed) pair.
    let mut verdicts: std::collections::HashMap<(String, String), bool> =
        std::collections::HashMap::new();
    let sources: BTreeSet<(&str, &str, &str)> = installed
        .iter()
        .map(|(n, _, s, sv)| (n.as_str(), s.as_str(), sv.as_str()))
        .collect();
    for advisory in &batch.advisories {
        for affected in advisory
            .affected
            .iter()
            .filter(|a| a.ecosystem == "Debian:12")
        {
            let fixed = affected.ranges[0].events.iter().find_map(|e| {
                if let Event::Fixed(v) = e {
                    Some(v)
                } else {
                    None
                }
            });
            let Some(fixed) = fixed else { continue };
            for (name, _, source_version) in
                sources.iter().filter(|(_, s, _)| *s == affected.package)
            {
                checked += 1;
                let below = *verdicts
                    .entry((source_version.to_string(), fixed.clone()))
                    .or_insert_with(|| fixed != "0" && dpkg_lt(source_version, fixed));
                if below {
                    expected.insert((name.to_string(), advisory.id.clone()));
                }
            }
        }
    }
    assert!(
        checked > 1000,
        "only {checked} (package, record) pairs checked"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("vulndb.bin");
    update(&[oval.display().to_string()], &db_path, "test".into()).expect("db");
    let db = Database::open(&db_path).expect("open");
    let inventory = Inventory {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            ..Distro::default()
        }),
        packages: installed
            .iter()
            .map(|(name, version, source, source_version)| Package {
                ecosystem: Ecosystem::Debian,
                name: name.clone(),
                version: version.clone(),
                arch: None,
                source_name: Some(source.clone()),
                source_version: Some(source_version.clone()),
                licenses: Vec::new(),
                purl: format!("pkg:deb/debian/{name}@{version}"),
                location: Location {
                    layer: None,
                    path: "/var/lib/dpkg/status".into(),
                },
            })
            .collect(),
    };
    let report = match_inventory(&inventory, &db).expect("match");
    let got: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .map(|f| (f.package.clone(), f.id.clone()))
        .collect();
    for f in &report.findings {
        let compared = f
            .advisory_version
            .as_deref()
            .unwrap_or(&f.installed_version);
        let fixed = f
            .fixed_version
            .as_deref()
            .expect("OVAL records carry a fix");
        assert!(
            dpkg_lt(compared, fixed),
            "false positive: {} {compared} is not below {fixed} ({})",
            f.package,
            f.id
        );
    }
    assert_eq!(got, expected);
}
