//! `portcullis node audit` end to end: this machine, node roots built in
//! temporary directories, every output format, exit codes.

use std::path::Path;

use crate::common::{assert_exit, portcullis, stdout_json, tempdir};

fn write(root: &Path, node_path: &str, content: &str) {
    let host = root.join(node_path.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(host, content).unwrap();
}

/// A node with SELinux enforcing, seccomp, and nothing else installed:
/// every check passes or does not apply.
fn clean_root() -> tempfile::TempDir {
    let dir = tempdir();
    write(dir.path(), "/sys/fs/selinux/enforce", "1\n");
    write(
        dir.path(),
        "/etc/selinux/config",
        "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
    );
    write(
        dir.path(),
        "/proc/1/status",
        "Name:\tsystemd\nSeccomp:\t0\n",
    );
    write(dir.path(), "/proc/1/cmdline", "/sbin/init\0");
    dir
}

/// A Docker host listening on TCP without TLS.
fn docker_root() -> tempfile::TempDir {
    let dir = clean_root();
    write(
        dir.path(),
        "/proc/710/cmdline",
        "/usr/bin/dockerd\0-H\0tcp://0.0.0.0:2375\0",
    );
    write(
        dir.path(),
        "/etc/docker/daemon.json",
        r#"{"icc": false, "live-restore": true, "no-new-privileges": true}"#,
    );
    dir
}

#[test]
fn this_machine_gives_a_sensible_report() {
    let output = portcullis()
        .args(["node", "audit", "--format", "json"])
        .output()
        .unwrap();
    let code = output.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["root"], "/");
    let results = report["results"].as_array().unwrap();
    assert!(results.len() > 80);
    // Unprivileged, some kernel files (AppArmor's profile list) are
    // unreadable: an honest per-check error. As root there are none.
    use std::os::unix::fs::MetadataExt as _;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let errors: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["status"] == "error")
        .filter(|r| {
            root || !r["found"]
                .as_str()
                .unwrap_or("")
                .contains("Permission denied")
        })
        .collect();
    assert!(errors.is_empty(), "errors on this machine: {errors:#?}");
    let kubelet_present = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "kubelet" && c["present"] == true);
    if !kubelet_present {
        for result in results.iter().filter(|r| r["section"] == "kubelet") {
            assert_eq!(result["status"], "not_applicable", "{result}");
        }
    }
    // The gate follows the report: exit 1 exactly when a scored check failed.
    assert_eq!(code == 1, report["summary"]["fail"].as_u64().unwrap() > 0);
    // The table renders too.
    let table = portcullis().args(["node", "audit"]).output().unwrap();
    assert_eq!(table.status.code(), Some(code));
    assert!(String::from_utf8_lossy(&table.stdout).contains("checks on /:"));
}

#[test]
fn clean_root_exits_0() {
    let root = clean_root();
    let output = portcullis()
        .args(["node", "audit", "--format", "json", "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["fail"], 0);
    assert_eq!(report["summary"]["error"], 0);
    let selinux = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "kernel-selinux-enforcing")
        .unwrap();
    assert_eq!(selinux["status"], "pass");
}

#[test]
fn weak_root_fails_the_gate_in_every_format() {
    let root = docker_root();
    let base = |format: &str| {
        let mut cmd = portcullis();
        cmd.args(["node", "audit", "--format", format, "--root"])
            .arg(root.path());
        cmd
    };
    let table = base("table").output().unwrap();
    assert_eq!(table.status.code(), Some(1));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("FAIL    docker-2.7"), "{text}");
    assert!(text.contains("CIS Docker Benchmark 1.6.0 2.7"), "{text}");
    assert!(text.contains("tcp://0.0.0.0:2375"), "{text}");

    let json = stdout_json(&base("json").output().unwrap());
    let tls = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "docker-2.7")
        .unwrap();
    assert_eq!(tls["status"], "fail");
    assert_eq!(tls["level"], "critical");

    let junit = base("junit").output().unwrap();
    assert_eq!(junit.status.code(), Some(1));
    let xml = String::from_utf8(junit.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("docker-2.7"), "{xml}");

    let sarif = stdout_json(&base("sarif").output().unwrap());
    assert_eq!(sarif["version"], "2.1.0");
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "docker-2.7")
    );

    // --fail-on tunes the gate: docker-2.9 (medium) etc. fail, docker-2.7 is
    // critical, so only `none` passes.
    let critical = base("json")
        .args(["--fail-on", "critical"])
        .output()
        .unwrap();
    assert_eq!(critical.status.code(), Some(1));
    let none = base("json").args(["--fail-on", "none"]).output().unwrap();
    assert_eq!(none.status.code(), Some(0));
}

#[test]
fn checks_file_overrides_levels_and_adds_checks() {
    let root = docker_root();
    let dir = tempdir();
    let checks = dir.path().join("site.yaml");
    std::fs::write(
        &checks,
        "checks:\n  - id: docker-2.7\n    level: low\n  - id: site-motd\n    title: A login banner exists\n    section: site\n    level: high\n    test:\n      file: {paths: /etc/issue.net}\n      expect: exists\n",
    )
    .unwrap();
    let output = portcullis()
        .args([
            "node",
            "audit",
            "--format",
            "json",
            "--fail-on",
            "high",
            "--checks",
        ])
        .arg(&checks)
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    let report = stdout_json(&output);
    let results = report["results"].as_array().unwrap();
    let tls = results.iter().find(|r| r["id"] == "docker-2.7").unwrap();
    assert_eq!(tls["level"], "low");
    let motd = results.iter().find(|r| r["id"] == "site-motd").unwrap();
    assert_eq!(motd["status"], "fail");
    // site-motd is high: the gate still fails.
    assert_eq!(output.status.code(), Some(1));
    write(root.path(), "/etc/issue.net", "Authorized use only\n");
    let output = portcullis()
        .args(["node", "audit", "--fail-on", "high", "--checks"])
        .arg(&checks)
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    assert_exit(&output, 0);
}

#[test]
fn unusable_input_exits_2() {
    let dir = tempdir();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "checks:\n  - id: x\n    title: t\n    level: high\n    test: {sysctl: kernel.panic}\n",
    )
    .unwrap();
    let output = portcullis()
        .args(["node", "audit", "--checks"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("expect"),
        "{stderr}"
    );

    let output = portcullis()
        .args(["node", "audit", "--checks"])
        .arg(dir.path().join("missing.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    let output = portcullis()
        .args(["node", "audit", "--root"])
        .arg(dir.path().join("no-such-root"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot audit root"));
}

#[test]
fn report_goes_to_output_file() {
    let root = clean_root();
    let dir = tempdir();
    let out = dir.path().join("node.sarif");
    portcullis()
        .args(["node", "audit", "--format", "sarif", "--root"])
        .arg(root.path())
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "portcullis");
}
