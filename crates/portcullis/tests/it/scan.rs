//! `portcullis db` and `portcullis scan` end to end: a database built from
//! the real feeds under `../shared/fixtures/vulndata/advisories`, the real
//! fixture images, every output format, the gate's exit codes, ignore
//! files, VEX, policy exceptions, and a corrupt, stale or interrupted
//! database.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{cyclonedx_validator, fixture, portcullis, stdout_json, tempdir, write_file};

fn advisories(rel: &str) -> String {
    fixture("vulndata/advisories")
        .join(rel)
        .display()
        .to_string()
}

fn image(name: &str) -> String {
    format!("oci:{}:{name}", fixture("images/oci").display())
}

/// One database for the whole test binary: PyPA (the fixture images carry
/// Python packages), Alpine secdb and vunnel's Debian tracker sample.
fn shared_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempdir().keep();
        let path = dir.join("vulndb.bin");
        portcullis()
            .args(["db", "update", "--db"])
            .arg(&path)
            .args(["--source", &advisories("pypa-advisory-database")])
            .args(["--source", &advisories("alpine-secdb/alpine/v3.20")])
            .args([
                "--source",
                &fixture("vulndata/pkgdb-fixtures/vunnel-provider-fixtures/debian/test-fixtures/input/debian.json")
                    .display()
                    .to_string(),
            ])
            .assert()
            .success();
        path
    })
}

fn cache_dir() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| tempdir().keep())
}

/// `portcullis scan` of debian12-full with the shared database and cache.
fn scan(extra: &[&str]) -> assert_cmd::assert::Assert {
    portcullis()
        .args(["scan", &image("debian12-full"), "--quiet", "--db"])
        .arg(shared_db())
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(extra)
        .assert()
}

/// `portcullis db status` of the database at `db`.
fn db_status(db: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    portcullis()
        .args(["db", "status"])
        .args(extra)
        .arg("--db")
        .arg(db)
        .assert()
}

/// `portcullis scan` of debian12-min against the database at `db`, never
/// updating it; more arguments may follow.
fn scan_offline(db: &Path) -> assert_cmd::Command {
    let mut command = portcullis();
    command
        .args([
            "scan",
            &image("debian12-min"),
            "--quiet",
            "--offline",
            "--db",
        ])
        .arg(db);
    command
}

/// A copy of the shared database at `dir/vulndb.bin`, and its bytes.
fn copy_of_shared_db(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("vulndb.bin");
    std::fs::copy(shared_db(), &path).expect("copy");
    let bytes = std::fs::read(&path).expect("read");
    (path, bytes)
}

/// What a finished command printed on stderr.
fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn json_of(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    stdout_json(assert.get_output())
}

/// A report's `findings` or `suppressed` list.
fn entries<'a>(report: &'a serde_json::Value, key: &str) -> &'a [serde_json::Value] {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} list in {report:#}"))
}

/// A temporary file's path as a command-line argument.
fn utf8(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn ids(findings: &serde_json::Value) -> Vec<String> {
    findings
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn db_status_shows_sources_counts_and_skips() {
    let out = db_status(shared_db(), &["--format", "json"]).success();
    let status = json_of(&out);
    let sources = status["metadata"]["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 3);
    // Every one of PyPA's 2,661 OSV YAML files is read and loaded.
    assert_eq!(sources[0]["documents"], 2661);
    assert_eq!(
        sources[0]["advisories"].as_u64().unwrap_or(0)
            + sources[0]["skipped"].as_u64().unwrap_or(0),
        2661
    );
    assert!(status["ageSeconds"].as_i64().is_some_and(|a| a < 3600));
    let table = db_status(shared_db(), &[]).success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).to_string();
    assert!(
        text.contains("pypa-advisory-database") && text.contains("ADVISORIES"),
        "{text}"
    );
}

#[test]
fn scan_finds_the_python_packages_known_vulnerabilities() {
    let out = scan(&["--format", "json"]).success();
    let report = json_of(&out);
    let findings = &report["findings"];
    let all = findings.as_array().expect("findings");
    assert!(!all.is_empty());
    // urllib3 1.26.4 (from the image's python3-urllib3) and CVE-2023-43804:
    // the PyPA record says fixed in 1.26.17.
    let urllib3 = all
        .iter()
        .find(|f| {
            f["package"] == "urllib3"
                && f["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "CVE-2023-43804"))
        })
        .expect("urllib3 CVE-2023-43804");
    assert_eq!(urllib3["installed_version"], "1.26.4");
    assert_eq!(urllib3["fixed_version"], "1.26.17");
    assert_eq!(urllib3["severity"], "high");
    assert!(
        urllib3["location"]["layer"]
            .as_str()
            .is_some_and(|l| l.starts_with("sha256:"))
    );
    // Independent check of every finding against its PyPA file: the
    // installed version is listed there, and the id or an alias is the file's.
    for f in all {
        let id = f["id"].as_str().expect("id");
        let package = f["package"].as_str().expect("package");
        let file = fixture("vulndata/advisories/pypa-advisory-database/vulns")
            .join(package)
            .join(format!("{id}.yaml"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let version = f["installed_version"].as_str().expect("version");
        let listed = [
            format!("- {version}"),
            format!("- \"{version}\""),
            format!("- '{version}'"),
        ];
        assert!(
            text.lines().any(|l| listed.contains(&l.trim().to_string())),
            "{id}: {version} listed in {}",
            file.display()
        );
        if let Some(fixed) = f["fixed_version"].as_str() {
            assert!(
                text.contains(&format!("fixed: {fixed}"))
                    || text.contains(&format!("fixed: '{fixed}'"))
                    || text.contains(&format!("fixed: \"{fixed}\"")),
                "{id}: {fixed}"
            );
        }
    }
    // Deterministic: a second run prints the same bytes.
    let again = scan(&["--format", "json"]).success();
    assert_eq!(out.get_output().stdout, again.get_output().stdout);
    // vunnel's tracker sample has bookworm records: Debian 12 is covered.
    let stderr = stderr_of(&out);
    assert!(!stderr.contains("no advisories for Debian:12"), "{stderr}");
}

#[test]
fn table_sarif_junit_and_cyclonedx() {
    let json = json_of(&scan(&["--format", "json"]).success());
    let n = entries(&json, "findings").len();
    let table = scan(&[]).success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).to_string();
    assert!(
        text.starts_with("PACKAGE")
            && text.contains("urllib3")
            && text.contains(&format!("{n} vulnerabilities")),
        "{text}"
    );

    let sarif = json_of(&scan(&["--format", "sarif"]).success());
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(n)
    );
    assert!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let junit = scan(&["--format", "junit"]).success();
    let xml = String::from_utf8_lossy(&junit.get_output().stdout).to_string();
    assert!(
        xml.contains("<testsuites") && xml.contains(&format!("failures=\"{n}\"")),
        "{xml}"
    );

    let out = scan(&["--format", "cyclonedx"]).success();
    let bom = json_of(&out);
    assert_eq!(bom["specVersion"], "1.6");
    let vulns = bom["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), n);
    let refs: Vec<&str> = bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    for v in vulns {
        let target = v["affects"][0]["ref"].as_str().expect("ref");
        assert!(refs.contains(&target), "{target} is a component");
    }
    let validator = cyclonedx_validator();
    let errors: Vec<String> = validator
        .iter_errors(&bom)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn fail_on_severity_sets_the_exit_code() {
    scan(&["--fail-on", "high"]).code(1);
    scan(&["--fail-on", "critical"]).code(0);
    scan(&["--fail-on", "high", "--severity", "medium,low"]).code(0);
    scan(&["--fail-on", "bogus"]).code(2);
}

#[test]
fn severity_filter_and_ignore_unfixed() {
    let report = json_of(&scan(&["--format", "json", "--severity", "high"]).success());
    let findings = entries(&report, "findings");
    assert!(!findings.is_empty() && findings.iter().all(|f| f["severity"] == "high"));
    assert!(report["filtered_out"].as_u64().is_some_and(|n| n > 0));
    let report = json_of(&scan(&["--format", "json", "--ignore-unfixed"]).success());
    assert!(
        entries(&report, "findings")
            .iter()
            .all(|f| !f["fixed_version"].is_null())
    );
}

#[test]
fn ignore_file_hides_with_reason_and_an_expired_entry_stops_hiding() {
    let dir = tempdir();
    let file = write_file(
        dir.path(),
        "ignore.yaml",
        "ignore:\n  - id: CVE-2023-43804\n    package: urllib3\n    reason: cookies never cross origins here\n    expires: 2999-12-31\n  - id: CVE-2023-45803\n    reason: accepted for the 2019 release\n    expires: 2020-01-01\n",
    );
    let out = scan(&["--format", "json", "--ignorefile", utf8(&file)]).success();
    let report = json_of(&out);
    let suppressed = &report["suppressed"];
    let hidden = suppressed
        .as_array()
        .expect("suppressed")
        .iter()
        .find(|f| f["package"] == "urllib3")
        .expect("hidden urllib3");
    assert_eq!(hidden["suppressed"]["kind"], "ignored");
    assert_eq!(
        hidden["suppressed"]["reason"],
        "cookies never cross origins here"
    );
    assert!(
        !ids(&report["findings"])
            .iter()
            .any(|id| id == "PYSEC-2023-192")
    );
    let expired = entries(&report, "findings")
        .iter()
        .find(|f| {
            f["aliases"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "CVE-2023-45803"))
        })
        .expect("expired entry no longer hides");
    assert!(
        expired["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("expired on 2020-01-01"))
    );
    let stderr = stderr_of(&out);
    assert!(stderr.contains("expired on 2020-01-01"), "{stderr}");
    // An entry without a reason is refused.
    std::fs::write(&file, "CVE-2023-43804\n").expect("write");
    scan(&["--ignorefile", utf8(&file)]).code(2);
}

#[test]
fn openvex_not_affected_hides_and_the_statement_is_shown() {
    let dir = tempdir();
    let file = write_file(
        dir.path(),
        "app.vex.json",
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/1", "author": "security@example.invalid",
            "timestamp": "2026-11-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2024-3651"}, "products": [{"@id": "pkg:pypi/idna"}],
                            "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                            "impact_statement": "idna.encode is never called on untrusted input"}]}"#,
    );
    let report = json_of(&scan(&["--format", "json", "--vex", utf8(&file)]).success());
    let hidden = entries(&report, "suppressed")
        .iter()
        .find(|f| f["package"] == "idna")
        .expect("idna hidden");
    assert_eq!(hidden["suppressed"]["kind"], "vex");
    assert_eq!(
        hidden["suppressed"]["statement"]["impact_statement"],
        "idna.encode is never called on untrusted input"
    );
    assert!(
        !entries(&report, "findings")
            .iter()
            .any(|f| f["package"] == "idna")
    );
}

#[test]
fn policy_vulnerabilities_section_gates() {
    let dir = tempdir();
    let policy = write_file(
        dir.path(),
        "policy.yaml",
        "apiVersion: portcullis.dev/v1\nkind: Policy\nvulnerabilities:\n  failOn: high\n  ignoreUnfixed: true\n  exceptions:\n    - id: CVE-2023-43804\n      package: urllib3\n      expires: 2999-01-31\n      reason: accepted\n    - id: CVE-2024-3651\n      reason: accepted\n",
    );
    // Both high findings are excepted: the gate passes.
    let out = scan(&["--format", "json", "--policy", utf8(&policy)]).code(0);
    let report = json_of(&out);
    assert!(
        entries(&report, "suppressed")
            .iter()
            .any(|f| f["suppressed"]["kind"] == "policy-exception")
    );
    std::fs::write(
        &policy,
        "apiVersion: portcullis.dev/v1\nkind: Policy\nvulnerabilities:\n  failOn: medium\n",
    )
    .expect("write");
    scan(&["--policy", utf8(&policy)]).code(1);
    // --fail-on wins over the policy.
    scan(&["--policy", utf8(&policy), "--fail-on", "critical"]).code(0);
}

#[test]
fn corrupt_database_is_detected_and_the_message_says_how_to_rebuild() {
    let dir = tempdir();
    let path = dir.path().join("vulndb.bin");
    let mut bytes = std::fs::read(shared_db()).expect("read");
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).expect("write");
    let out = scan_offline(&path).assert().code(2);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("corrupt") && stderr.contains("portcullis db update"),
        "{stderr}"
    );
    db_status(&path, &[]).code(2);
    let missing = scan_offline(&dir.path().join("none.bin")).assert().code(2);
    assert!(stderr_of(&missing).contains("portcullis db update"));
}

#[test]
fn a_killed_update_leaves_the_previous_database_intact() {
    let dir = tempdir();
    let (path, before) = copy_of_shared_db(dir.path());
    for delay_ms in [50u64, 400, 1200] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("portcullis"))
            .args(["db", "update", "--db"])
            .arg(&path)
            .args([
                "--source",
                &advisories("almalinux-osv-database"),
                "--source",
                &advisories("golang-vulndb"),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().expect("wait");
        let now = std::fs::read(&path).expect("read");
        if status.success() {
            // The update won the race: the new database is whole.
            assert_ne!(now, before);
            db_status(&path, &[]).success();
            return;
        }
        assert_eq!(
            now, before,
            "killed after {delay_ms} ms: previous database untouched"
        );
        db_status(&path, &[]).success();
    }
}

/// `db update --every-seconds`: the refresher beside the webhook. Each round
/// replaces the file; a failed round is reported and the process goes on.
#[test]
fn a_repeating_update_writes_the_database_and_outlives_a_failed_round() {
    let dir = tempdir();
    /// Ends the refresher this test started, whatever the test's outcome.
    struct Refresher(std::process::Child);
    impl Drop for Refresher {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let refresh = |db: &Path, source: &str, log: &Path| {
        Refresher(
            std::process::Command::new(assert_cmd::cargo::cargo_bin("portcullis"))
                .args(["db", "update", "--every-seconds", "3600", "--db"])
                .arg(db)
                .args(["--source", source])
                .stderr(std::fs::File::create(log).expect("log file"))
                .spawn()
                .expect("spawn"),
        )
    };
    let wait_for = |log: &Path, text: &str| {
        for _ in 0..600 {
            if std::fs::read_to_string(log).is_ok_and(|l| l.contains(text)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{text:?} not logged: {:?}", std::fs::read_to_string(log));
    };
    let good_db = dir.path().join("good.bin");
    let good_log = dir.path().join("good.log");
    let mut good = refresh(&good_db, &advisories("golang-vulndb"), &good_log);
    wait_for(&good_log, "updated ");
    db_status(&good_db, &[]).success();
    let bad_log = dir.path().join("bad.log");
    let mut bad = refresh(
        &dir.path().join("bad.bin"),
        &dir.path().join("missing").display().to_string(),
        &bad_log,
    );
    wait_for(&bad_log, "next round in 3600 s");
    for refresher in [&mut good, &mut bad] {
        assert!(
            refresher.0.try_wait().expect("status").is_none(),
            "still running"
        );
    }
    // Rounds closer than a minute apart would hammer the feeds.
    portcullis()
        .args(["db", "update", "--every-seconds", "5"])
        .assert()
        .code(2);
}

#[test]
fn a_corrupt_archive_fails_the_update_with_a_clear_message() {
    let dir = tempdir();
    let (path, before) = copy_of_shared_db(dir.path());
    let zip = dir.path().join("all.zip");
    // A zip's local header followed by garbage: what a cut download looks like.
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(std::iter::repeat_n(0x5a, 200));
    std::fs::write(&zip, bytes).expect("write");
    let out = portcullis()
        .args(["db", "update", "--db"])
        .arg(&path)
        .arg("--source")
        .arg(&zip)
        .assert()
        .code(2);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("corrupt or truncated archive") && stderr.contains("unchanged"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn stale_database_warns() {
    let dir = tempdir();
    let path = dir.path().join("vulndb.bin");
    portcullis()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["db", "update", "--db"])
        .arg(&path)
        .args(["--source", &advisories("alpine-secdb/alpine/v3.20")])
        .assert()
        .success();
    let out = scan_offline(&path)
        .arg("--cache-dir")
        .arg(cache_dir())
        .assert()
        .success();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("day(s) old") && stderr.contains("portcullis db update"),
        "{stderr}"
    );
    // Ecosystems without data are named, not silently skipped.
    assert!(stderr.contains("no advisories for Debian:12"), "{stderr}");
}

/// Asserts that `pulled` holds the same bytes as the shared database.
fn assert_is_the_shared_db(pulled: &Path) {
    let pulled_bytes =
        std::fs::read(pulled).unwrap_or_else(|e| panic!("{}: {e}", pulled.display()));
    assert!(
        pulled_bytes == std::fs::read(shared_db()).expect("original"),
        "{} differs from the pushed database",
        pulled.display()
    );
}

/// `portcullis` with registry credentials from the Docker config in
/// `docker_config` only (none from the environment).
fn with_docker_config(docker_config: &Path) -> assert_cmd::Command {
    let mut command = portcullis();
    command
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("PORTCULLIS_USERNAME")
        .env_remove("PORTCULLIS_PASSWORD");
    command
}

#[test]
fn db_push_and_pull_through_a_real_registry() {
    let registry = crate::common::registry();
    let dir = tempdir();
    let pulled = dir.path().join("pulled.bin");
    // Plain HTTP registry.
    let reference = format!("{}/portcullis/vulndb:test", registry.plain);
    portcullis()
        .args(["db", "push", &reference, "--insecure", "--db"])
        .arg(shared_db())
        .assert()
        .success();
    portcullis()
        .args(["db", "pull", &reference, "--insecure", "--db"])
        .arg(&pulled)
        .assert()
        .success();
    assert_is_the_shared_db(&pulled);
    // TLS + htpasswd registry, trusted through --ca-file.
    let reference = format!("{}/portcullis/vulndb:test", registry.tls);
    let tls_pulled = dir.path().join("tls-pulled.bin");
    let ca = registry.ca_file.display().to_string();
    let auth = registry.tls_auth_args();
    portcullis()
        .args(["db", "push", &reference])
        .args(&auth)
        .arg("--db")
        .arg(shared_db())
        .assert()
        .success();
    portcullis()
        .args(["db", "pull", &reference])
        .args(&auth)
        .arg("--db")
        .arg(&tls_pulled)
        .assert()
        .success();
    assert_is_the_shared_db(&tls_pulled);
    // Credentials from a Docker config (DOCKER_CONFIG), as for image pulls; a
    // second tag of the same database sends no blob again.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir_all(&docker_config).expect("docker config dir");
    std::fs::write(
        docker_config.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"username":"{}","password":"{}"}}}}}}"#,
            registry.tls, registry.user, registry.password
        ),
    )
    .expect("docker config");
    let second = format!("{}/portcullis/vulndb:second", registry.tls);
    let out = with_docker_config(&docker_config)
        .args(["db", "push", &second, "--ca-file", &ca, "--db"])
        .arg(shared_db())
        .assert()
        .success();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("already had the database blob"), "{stderr}");
    let config_pulled = dir.path().join("config-pulled.bin");
    with_docker_config(&docker_config)
        .args(["db", "pull", &second, "--ca-file", &ca, "--db"])
        .arg(&config_pulled)
        .assert()
        .success();
    assert_is_the_shared_db(&config_pulled);
    // Without any credentials the TLS registry refuses, naming itself (exit 4).
    let empty_config = dir.path().join("empty-docker");
    std::fs::create_dir_all(&empty_config).expect("empty docker config dir");
    let out = with_docker_config(&empty_config)
        .args(["db", "pull", &second, "--ca-file", &ca, "--db"])
        .arg(dir.path().join("never.bin"))
        .assert()
        .code(4);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!("authentication with {} failed", registry.tls)),
        "{stderr}"
    );
    assert!(!dir.path().join("never.bin").exists());
    // A push needs a tag to store the manifest under.
    let pinned = format!(
        "{}/portcullis/vulndb@sha256:{}",
        registry.plain,
        "0".repeat(64)
    );
    portcullis()
        .args(["db", "push", &pinned, "--insecure", "--db"])
        .arg(shared_db())
        .assert()
        .code(2);
    // An image that is not a database is refused, and the local file kept.
    let not_db = format!("{}/test/debian12-min:latest", registry.plain);
    let out = portcullis()
        .args(["db", "pull", &not_db, "--insecure", "--db"])
        .arg(&pulled)
        .assert()
        .code(3);
    assert!(stderr_of(&out).contains("no portcullis vulnerability database"));
    assert_is_the_shared_db(&pulled);
}

/// `db update` from the Rocky Linux OVAL and Node.js Security WG fixture
/// feeds: `db status` lists both with their counts, and packages below a
/// fixed version match (a hand-built Rocky 9 + npm inventory through the
/// matcher), while those at the fix do not.
#[test]
fn rocky_oval_and_nswg_feeds_load_and_match() {
    use portcullis_inventory::{Distro, Ecosystem, Inventory, Location, Package};
    use portcullis_vulndb::version::Scheme;

    let dir = tempdir();
    let db_path = dir.path().join("vulndb.bin");
    portcullis()
        .args(["db", "update", "--db"])
        .arg(&db_path)
        .args(["--source", &advisories("rocky-oval")])
        .args(["--source", &advisories("nodejs-security-wg")])
        .assert()
        .success();
    let out = portcullis()
        .args(["db", "status", "--format", "json", "--db"])
        .arg(&db_path)
        .assert()
        .success();
    let status: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("JSON output");
    let sources = status["metadata"]["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2);
    // rocky-oval: 2 files, 175 RLSAs; 64 older-snapshot duplicates and one
    // dangling test reference skipped.
    assert!(
        sources[0]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("rocky-oval"))
    );
    assert_eq!(
        (
            &sources[0]["documents"],
            &sources[0]["advisories"],
            &sources[0]["skipped"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(175),
            &serde_json::json!(65)
        )
    );
    // nodejs-security-wg: 467 npm advisories; 171 core advisories and the two
    // index files skipped.
    assert!(
        sources[1]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("nodejs-security-wg"))
    );
    assert_eq!(
        (
            &sources[1]["documents"],
            &sources[1]["advisories"],
            &sources[1]["skipped"]
        ),
        (
            &serde_json::json!(640),
            &serde_json::json!(467),
            &serde_json::json!(173)
        )
    );
    let table = portcullis()
        .args(["db", "status", "--db"])
        .arg(&db_path)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).to_string();
    assert!(
        text.contains("rocky-oval") && text.contains("nodejs-security-wg"),
        "{text}"
    );

    let package = |ecosystem: Ecosystem, name: &str, version: &str, path: &str| Package {
        ecosystem,
        name: name.into(),
        version: version.into(),
        arch: None,
        source_name: None,
        source_version: None,
        licenses: Vec::new(),
        purl: format!("pkg:test/{name}@{version}"),
        location: Location {
            layer: None,
            path: path.into(),
        },
    };
    let rpmdb = "/var/lib/rpm/rpmdb.sqlite";
    let inventory = Inventory {
        distro: Some(Distro {
            id: "rocky".into(),
            version_id: Some("9.2".into()),
            ..Distro::default()
        }),
        packages: vec![
            // RLSA-2023:4030 fixes grafana in 9.0.9-3.el9_2.
            package(Ecosystem::Rpm, "grafana", "9.0.9-2.el9", rpmdb),
            // At the fixed EVR of RLSA-2022:4582: not affected by it.
            package(Ecosystem::Rpm, "gzip", "1.10-9.el9_0", rpmdb),
            // Fixed in epoch 1: `1:2.06-46.el9_1.3.rocky.0.2`.
            package(
                Ecosystem::Rpm,
                "grub2-tools-efi",
                "1:2.06-46.el9_1.2",
                rpmdb,
            ),
            // NSWG-ECO-8: `<3.11 || >= 4 <4.5`.
            package(
                Ecosystem::Npm,
                "express",
                "4.4.5",
                "/app/node_modules/express/package.json",
            ),
            package(
                Ecosystem::Npm,
                "express",
                "4.5.0",
                "/srv/node_modules/express/package.json",
            ),
        ],
    };
    let db = portcullis_vulndb::db::Database::open(&db_path).expect("database opens");
    let report = portcullis_matcher::match_inventory(&inventory, &db).expect("matches");
    let has = |package: &str, version: &str, id: &str| {
        report.findings.iter().find(|f| {
            f.package == package && f.installed_version == version && f.ids().any(|i| i == id)
        })
    };
    let grafana = has("grafana", "9.0.9-2.el9", "RLSA-2023:4030").expect("grafana matches");
    assert_eq!(grafana.ecosystem, "Rocky Linux:9");
    assert_eq!(grafana.fixed_version.as_deref(), Some("9.0.9-3.el9_2"));
    assert!(
        grafana
            .aliases
            .iter()
            .chain([&grafana.id])
            .any(|i| i == "CVE-2023-3128")
    );
    assert_eq!(grafana.severity.as_str(), "critical");
    assert!(has("gzip", "1.10-9.el9_0", "RLSA-2022:4582").is_none());
    let grub = report
        .findings
        .iter()
        .find(|f| f.package == "grub2-tools-efi")
        .expect("grub2-tools-efi matches");
    assert_eq!(
        grub.fixed_version.as_deref(),
        Some("1:2.06-46.el9_1.3.rocky.0.2")
    );
    let express = has("express", "4.4.5", "NSWG-ECO-8").expect("express 4.4.5 matches");
    assert_eq!(express.aliases, ["CVE-2014-6393"]);
    assert!(has("express", "4.5.0", "NSWG-ECO-8").is_none());
    // No finding at or above its own fixed version.
    for finding in &report.findings {
        let Some(fixed) = finding.fixed_version.as_deref() else {
            continue;
        };
        let scheme = if finding.ecosystem == "npm" {
            Scheme::Npm
        } else {
            Scheme::Rpm
        };
        let order = scheme
            .compare(&finding.installed_version, fixed)
            .expect("comparable");
        assert_eq!(order, std::cmp::Ordering::Less, "{finding:?}");
    }
}
