//! Every upstream Pod Security Admission conformance fixture gets the verdict
//! its directory names (`<level>/<version>/{pass,fail}/*.yaml`), at its level
//! and version; a `fail` fixture fails on the check its file name names (or
//! on the restricted check that replaces it).

use std::path::{Path, PathBuf};

use portcullis_kube::load_documents;
use portcullis_kube::pss::{self, Check, Level, PodSecurity};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/k8s/pss"
    ))
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

/// `capabilities_baseline2.yaml` → `capabilities_baseline`.
fn check_prefix(file: &Path) -> String {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 file name");
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
        .to_owned()
}

fn accepts(prefix: &str, check: Check) -> bool {
    let id = check.id().to_ascii_lowercase();
    let replaced = match check {
        Check::RestrictedVolumes => Some("hostpathvolumes"),
        Check::SeccompProfileRestricted => Some("seccompprofile_baseline"),
        Check::CapabilitiesRestricted => Some("capabilities_baseline"),
        Check::ProcMountRestricted => Some("procmount"),
        _ => None,
    };
    id == prefix || replaced == Some(prefix)
}

#[test]
fn every_conformance_fixture_gets_its_verdict() {
    let mut checked = 0usize;
    let mut wrong = Vec::new();
    for level_dir in sorted_dirs(&fixtures()).into_iter().filter(|p| p.is_dir()) {
        let level: Level = level_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("level")
            .parse()
            .expect("level dir");
        for version_dir in sorted_dirs(&level_dir) {
            let version = version_dir
                .file_name()
                .and_then(|n| n.to_str())
                .expect("version")
                .parse()
                .expect("version dir");
            let policy = PodSecurity { level, version };
            for verdict in ["pass", "fail"] {
                let dir = version_dir.join(verdict);
                if !dir.is_dir() {
                    continue;
                }
                for file in sorted_dirs(&dir) {
                    let text = std::fs::read_to_string(&file).expect("fixture readable");
                    let loaded = load_documents(&text, &file.display().to_string());
                    assert!(
                        loaded.errors.is_empty(),
                        "{}: {:?}",
                        file.display(),
                        loaded.errors
                    );
                    assert_eq!(loaded.workloads.len(), 1, "{}", file.display());
                    let workload = &loaded.workloads[0];
                    let failures =
                        pss::evaluate(&workload.template, &workload.template_path, policy);
                    checked += 1;
                    let ok = if verdict == "pass" {
                        failures.is_empty()
                    } else {
                        let prefix = check_prefix(&file);
                        failures.iter().any(|f| accepts(&prefix, f.check))
                    };
                    if !ok {
                        let messages: Vec<String> = failures
                            .iter()
                            .map(|f| format!("{}: {}", f.check, f.message()))
                            .collect();
                        wrong.push(format!(
                            "{} at {policy}: expected {verdict}, got {messages:?}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 3000, "only {checked} fixtures found");
    assert!(
        wrong.is_empty(),
        "{} of {checked} fixtures got the wrong verdict:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
