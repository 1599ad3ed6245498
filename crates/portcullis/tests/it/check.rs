//! `portcullis check` and `portcullis policy` end to end.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::{assert_exit, fixture, portcullis, stdout_json, tempdir, write_file};

/// A Deployment that passes restricted:latest and every default rule.
const HARDENED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: api
        image: ghcr.io/example/api:1.8.2
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
        readinessProbe: {httpGet: {path: /ready, port: 8080}}
"#;

/// A privileged DaemonSet that mounts the Docker socket.
const PRIVILEGED: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostPID: true
      containers:
      - name: agent
        image: agent:latest
        securityContext:
          privileged: true
        volumeMounts: [{name: docker, mountPath: /var/run/docker.sock}]
      volumes:
      - name: docker
        hostPath: {path: /var/run/docker.sock}
"#;

/// `portcullis check TARGET ARGS…`.
fn check(target: &Path, args: &[&str]) -> Output {
    portcullis()
        .arg("check")
        .arg(target)
        .args(args)
        .output()
        .expect("run")
}

/// `portcullis policy ACTION FILE`.
fn policy(action: &str, file: &Path) -> Output {
    portcullis()
        .args(["policy", action])
        .arg(file)
        .output()
        .expect("run")
}

/// The rule names of a workload's violations, in report order.
fn rules(workload: &Value) -> Vec<&str> {
    workload["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect()
}

/// A workload's violation of `rule`.
fn violation<'a>(workload: &'a Value, rule: &str) -> &'a Value {
    workload["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .find(|v| v["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {workload:#}"))
}

#[test]
fn hardened_deployment_passes_with_exit_0() {
    let dir = tempdir();
    let file = write_file(dir.path(), "api.yaml", HARDENED);
    let output = check(&file, &[]);
    assert_exit(&output, 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 workload checked at restricted:latest: 0 violations"),
        "{stdout}"
    );
}

#[test]
fn violations_exit_1_with_psa_messages_and_lines() {
    let dir = tempdir();
    let file = write_file(dir.path(), "agent.yaml", PRIVILEGED);
    let output = check(&file, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    let find = |rule: &str| violation(&report["workloads"][0], rule);
    let privileged = find("pss/privileged");
    assert_eq!(
        privileged["message"],
        "privileged (container \"agent\" must not set securityContext.privileged=true)"
    );
    assert_eq!(privileged["line"], 14);
    assert_eq!(
        privileged["field"],
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    assert_eq!(
        find("pss/hostNamespaces")["message"],
        "host namespaces (hostPID=true)"
    );
    let socket = find("no-runtime-socket");
    assert_eq!(socket["severity"], "critical");
    assert_eq!(socket["line"], 18);
    assert_eq!(find("no-latest-tag")["line"], 12);
}

#[test]
fn baseline_version_flag_changes_the_verdict() {
    let dir = tempdir();
    // Restricted fails this pod (no runAsNonRoot, …); baseline admits it.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'nginx:1.27'}]\n";
    let file = write_file(dir.path(), "pod.yaml", pod);
    let restricted = check(&file, &["--format", "json"]);
    assert!(rules(&stdout_json(&restricted)["workloads"][0]).contains(&"pss/runAsNonRoot"));
    let baseline = check(
        &file,
        &[
            "--pod-security",
            "baseline:v1.29",
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
    );
    let report = stdout_json(&baseline);
    assert_eq!(report["podSecurity"], "baseline:v1.29");
    let rules = rules(&report["workloads"][0]);
    assert!(rules.iter().all(|r| !r.starts_with("pss/")), "{rules:?}");
    // Only medium and low hardening findings remain; --fail-on critical ignores them.
    assert_eq!(baseline.status.code(), Some(0));
    let bad = check(&file, &["--pod-security", "strict"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn pss_fixture_directories_get_their_verdicts_through_the_binary() {
    for (level, version) in [
        ("baseline", "v1.29"),
        ("restricted", "v1.37"),
        ("restricted", "v1.0"),
    ] {
        for verdict in ["pass", "fail"] {
            let dir = fixture(&format!("k8s/pss/{level}/{version}/{verdict}"));
            let output = check(
                &dir,
                &[
                    "--pod-security",
                    &format!("{level}:{version}"),
                    "--format",
                    "json",
                ],
            );
            let report = stdout_json(&output);
            let workloads = report["workloads"].as_array().expect("workloads");
            let files = std::fs::read_dir(&dir).expect("fixture dir").count();
            assert!(
                files > 5 && workloads.len() == files,
                "{}: {} workloads of {files} files",
                dir.display(),
                workloads.len()
            );
            for workload in workloads {
                let pss = rules(workload)
                    .iter()
                    .filter(|r| r.starts_with("pss/"))
                    .count();
                match verdict {
                    "pass" => assert_eq!(pss, 0, "{workload:#}"),
                    _ => assert!(pss > 0, "{workload:#}"),
                }
            }
        }
    }
}

#[test]
fn stdin_multi_document_list_and_skipped_kinds() {
    let stream = format!(
        "{HARDENED}---\napiVersion: v1\nkind: Service\nmetadata: {{name: api}}\nspec: {{ports: [{{port: 80}}]}}\n---\n\
apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {{name: nightly}}\n  spec:\n    schedule: '@daily'\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            restartPolicy: Never\n            containers: [{{name: job, image: 'busybox:1.36', securityContext: {{privileged: true}}}}]\n"
    );
    let output = portcullis()
        .args(["check", "-", "--format", "json"])
        .write_stdin(stream)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["workloads"], 2);
    assert_eq!(report["summary"]["skipped"], 1);
    assert_eq!(report["skipped"][0]["kind"], "Service");
    let cron = &report["workloads"][1];
    assert_eq!(cron["kind"], "CronJob");
    assert_eq!(cron["file"], "-");
    let privileged = violation(cron, "pss/privileged");
    // Paths are relative to the object, positions to the file.
    assert_eq!(
        privileged["field"],
        "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"
    );
    assert_eq!(privileged["line"], 45);
}

#[test]
fn bad_documents_are_reported_with_location_and_the_rest_still_checked() {
    let dir = tempdir();
    let broken = format!(
        "{PRIVILEGED}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: typo}}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n    ports: [{{containerPort: 80, hostPort: eighty}}]\n---\nkey: [unclosed\n---\n{HARDENED}"
    );
    let file = write_file(dir.path(), "mixed.yaml", &broken);
    let output = check(&file, &["--format", "json"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "unusable input wins over violations"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = file.display().to_string();
    assert!(
        stderr.contains(&format!("{name}:27:")),
        "wrong type reported at its line: {stderr}"
    );
    assert!(
        stderr.contains("spec.containers[0].ports[0].hostPort"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:29:")) || stderr.contains(&format!("{name}:30:")),
        "{stderr}"
    );
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["errors"], 2);
    assert_eq!(
        report["summary"]["workloads"], 2,
        "documents before and after the broken ones are checked"
    );
}

#[test]
fn hostile_inputs_are_refused_per_document() {
    let dir = tempdir();
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("---\n");
    bomb.push_str(HARDENED);
    write_file(dir.path(), "bomb.yaml", &bomb);
    // A single document of ~12 MiB.
    let mut huge = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n");
    let line = format!("  k{{}}: {}\n", "x".repeat(1000));
    for i in 0..12_000 {
        huge.push_str(&line.replace("{}", &i.to_string()));
    }
    huge.push_str("---\n");
    huge.push_str(HARDENED);
    write_file(dir.path(), "huge.yaml", &huge);
    let output = check(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["errors"], 2, "{report:#}");
    assert_eq!(
        report["summary"]["workloads"], 2,
        "the documents after the hostile ones are checked"
    );
    let messages: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("exceeds the limit")),
        "{messages:?}"
    );
}

#[test]
fn directories_are_searched_recursively_for_yaml_yml_and_json() {
    let dir = tempdir();
    write_file(dir.path(), "a/api.yaml", HARDENED);
    write_file(dir.path(), "a/b/agent.yml", PRIVILEGED);
    let json = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "from-json"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": true}}]}
    });
    write_file(
        dir.path(),
        "c/pod.json",
        &serde_json::to_string_pretty(&json).unwrap(),
    );
    write_file(dir.path(), "c/notes.txt", "kind: Pod\n");
    write_file(dir.path(), ".git/config.yaml", "not: a manifest\n");
    let output = check(dir.path(), &["--format", "json"]);
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["workloads"], 3, "{report:#}");
    let pod = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "from-json")
        .expect("json pod");
    let privileged = violation(pod, "pss/privileged");
    assert_eq!(privileged["line"], 13, "JSON positions are tracked too");
}

#[test]
fn sarif_points_at_file_and_line() {
    let dir = tempdir();
    let file = write_file(dir.path(), "agent.yaml", PRIVILEGED);
    let output = check(&file, &["--format", "sarif"]);
    assert_eq!(output.status.code(), Some(1));
    let log = stdout_json(&output);
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().expect("results");
    let privileged = results
        .iter()
        .find(|r| r["ruleId"] == "pss/privileged")
        .expect("privileged result");
    let location = &privileged["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        file.display().to_string()
    );
    assert_eq!(location["region"]["startLine"], 14);
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(
        rules.iter().any(
            |r| r["id"] == "no-runtime-socket" && r["properties"]["security-severity"] == "9.5"
        )
    );
}

#[test]
fn junit_has_a_test_case_per_workload() {
    let dir = tempdir();
    write_file(dir.path(), "api.yaml", HARDENED);
    write_file(dir.path(), "agent.yaml", PRIVILEGED);
    let output = check(dir.path(), &["--format", "junit"]);
    assert_eq!(output.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&output.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("tests=\"2\"") && xml.contains("failures=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase name=\"Deployment/api\""), "{xml}");
    assert!(xml.contains("<testcase name=\"DaemonSet/agent\""), "{xml}");
}

#[test]
fn policy_selects_rules_and_registries() {
    let dir = tempdir();
    let manifest = write_file(dir.path(), "api.yaml", HARDENED);
    let policy = write_file(
        dir.path(),
        "policy.yaml",
        "apiVersion: portcullis.dev/v1\nkind: Policy\nregistries:\n  allow: [registry.example.internal/*]\n  requireDigest: true\nworkloads:\n  podSecurity: baseline\n  rules: [no-latest-tag]\n",
    );
    let policy = policy.to_str().expect("UTF-8 temp path");
    let output = check(&manifest, &["--policy", policy, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    assert_eq!(report["podSecurity"], "baseline:latest");
    let mut rules = rules(&report["workloads"][0]);
    rules.sort();
    assert_eq!(rules, ["allowed-registries", "require-digest"]);
}

#[test]
fn policy_validate_and_explain() {
    let dir = tempdir();
    let good = write_file(
        dir.path(),
        "good.yaml",
        "apiVersion: portcullis.dev/v1\nkind: Policy\nvulnerabilities:\n  failOn: critical\n  exceptions:\n  - {id: CVE-2024-0001, package: openssl, expires: 2027-01-31, reason: not reachable}\n",
    );
    let output = policy("validate", &good);
    assert_exit(&output, 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid"));

    let bad = write_file(
        dir.path(),
        "bad.yaml",
        "apiVersion: portcullis.dev/v1\nkind: Policy\nregistries:\n  allow: [\"ghcr.io/[x\"]\nworkloads:\n  podSecurity: restricted\n  rulez: []\n",
    );
    let output = policy("validate", &bad);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:7:3: unknown field `rulez`", bad.display())),
        "{stderr}"
    );

    let glob = write_file(
        dir.path(),
        "glob.yaml",
        "apiVersion: portcullis.dev/v1\nkind: Policy\nregistries:\n  allow: [\"ghcr.io/[x\"]\n",
    );
    let output = policy("validate", &glob);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:4:11: registries.allow: invalid glob",
            glob.display()
        )),
        "{stderr}"
    );

    let output = policy("explain", &good);
    assert_eq!(output.status.code(), Some(0));
    let yaml = String::from_utf8_lossy(&output.stdout);
    assert!(
        yaml.contains("podSecurity: restricted:latest"),
        "defaults filled in: {yaml}"
    );
    assert!(yaml.contains("failOn: critical"), "{yaml}");
    let explained = write_file(dir.path(), "explained.yaml", &yaml);
    let output = policy("validate", &explained);
    assert_eq!(
        output.status.code(),
        Some(0),
        "explain output is a valid policy: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = portcullis()
        .args(["policy", "explain", "--format", "json"])
        .output()
        .expect("run");
    let json = stdout_json(&output);
    assert_eq!(json["admission"]["failurePolicy"], "Fail");
    assert_eq!(json["workloads"]["rules"].as_array().unwrap().len(), 12);

    let output = policy("validate", &dir.path().join("missing.yaml"));
    assert_eq!(output.status.code(), Some(2));
}

/// Restricted with the default rules, except namespace `legacy` (baseline,
/// no hardening rules) and `kube-system` (exempt).
const NAMESPACED_POLICY: &str = "apiVersion: portcullis.dev/v1
kind: Policy
workloads:
  podSecurity: restricted
admission:
  namespaces:
    legacy: {podSecurity: baseline, rules: []}
  exemptNamespaces: [kube-system]
";

/// The upstream PSS fixture of a Pod that adds every capability baseline
/// allows: it passes baseline and fails restricted.
fn baseline_pod(namespace: Option<&str>) -> String {
    let text = std::fs::read_to_string(fixture(
        "k8s/pss/baseline/v1.35/pass/capabilities_baseline0.yaml",
    ))
    .expect("fixture");
    let named = "metadata:\n  name: capabilities_baseline0\n";
    assert!(text.contains(named), "fixture layout changed");
    match namespace {
        Some(ns) => text.replace(
            named,
            &format!("metadata:\n  name: capabilities_baseline0\n  namespace: {ns}\n"),
        ),
        None => text,
    }
}

/// The checked workload of `report` in `namespace`.
fn in_namespace<'a>(report: &'a Value, namespace: &str) -> &'a Value {
    report["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["namespace"] == namespace)
        .unwrap_or_else(|| panic!("no workload in {namespace}: {report:#}"))
}

#[test]
fn each_workload_is_judged_with_its_namespaces_settings() {
    let dir = tempdir();
    let policy = write_file(dir.path(), "policy.yaml", NAMESPACED_POLICY);
    let manifest = [
        baseline_pod(Some("legacy")),
        baseline_pod(None),
        baseline_pod(Some("kube-system")),
    ]
    .join("---\n");
    let manifest = write_file(dir.path(), "pods.yaml", &manifest);
    let policy_arg = policy.to_str().expect("utf-8 path");

    let output = check(
        &manifest,
        &[
            "--policy",
            policy_arg,
            "--format",
            "json",
            "--fail-on",
            "low",
        ],
    );
    assert_exit(&output, 1);
    let report = stdout_json(&output);
    let legacy = in_namespace(&report, "legacy");
    assert_eq!(legacy["podSecurity"], "baseline:latest");
    assert_eq!(legacy["exempt"], false);
    assert!(rules(legacy).is_empty(), "{legacy:#}");
    let default = in_namespace(&report, "default");
    assert_eq!(default["podSecurity"], "restricted:latest");
    let default_rules = rules(default);
    assert!(
        default_rules.contains(&"pss/capabilities_restricted")
            && default_rules.contains(&"pss/runAsNonRoot"),
        "{default_rules:?}"
    );
    let exempt = in_namespace(&report, "kube-system");
    assert_eq!(exempt["exempt"], true);
    assert_eq!(exempt["podSecurity"], Value::Null);
    assert!(rules(exempt).is_empty());
    assert!(
        exempt["exemptReason"]
            .as_str()
            .is_some_and(|r| r.contains("kube-system is exempt")),
        "{exempt:#}"
    );
    assert_eq!(report["summary"]["exempt"], 1);
    assert_eq!(report["summary"]["failingWorkloads"], 1);

    // The table says which level each namespace got and what was exempt.
    let output = check(&manifest, &["--policy", policy_arg]);
    assert_exit(&output, 1);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table
            .contains("Pod/capabilities_baseline0: judged at baseline:latest for namespace legacy"),
        "{table}"
    );
    assert!(
        table.contains("Pod/capabilities_baseline0: namespace kube-system is exempt by policy"),
        "{table}"
    );
    assert!(
        table.contains("2 workloads checked at baseline:latest (1), restricted:latest (1)"),
        "{table}"
    );
    assert!(table.contains("; 1 exempt"), "{table}");

    // SARIF: results only for the default namespace; the exempt Pod is a
    // tool notification, not an alert.
    let output = check(&manifest, &["--policy", policy_arg, "--format", "sarif"]);
    let log = stdout_json(&output);
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert!(!results.is_empty());
    // Documents: legacy Pod (lines 1-45), `---`, default-namespace Pod
    // (lines 47-90), `---`, kube-system Pod (from line 92).
    for result in results {
        let line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .expect("line");
        assert!((47..=90).contains(&line), "{result:#}");
    }
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "note");
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );

    // JUnit: the exempt Pod is a skipped test case.
    let output = check(&manifest, &["--policy", policy_arg, "--format", "junit"]);
    let xml = String::from_utf8_lossy(&output.stdout);
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("namespace kube-system is exempt"), "{xml}");
}

#[test]
fn namespace_flag_applies_to_objects_that_name_none() {
    let dir = tempdir();
    let policy = write_file(dir.path(), "policy.yaml", NAMESPACED_POLICY);
    let policy_arg = policy.to_str().expect("utf-8 path");
    let bare = write_file(dir.path(), "bare.yaml", &baseline_pod(None));
    let namespaced = write_file(dir.path(), "default.yaml", &baseline_pod(Some("default")));

    let output = check(&bare, &["--policy", policy_arg, "--format", "json"]);
    assert_exit(&output, 1);
    assert_eq!(
        in_namespace(&stdout_json(&output), "default")["podSecurity"],
        "restricted:latest"
    );

    for flag in ["--namespace", "-n"] {
        let output = check(
            &bare,
            &["--policy", policy_arg, flag, "legacy", "--format", "json"],
        );
        assert_exit(&output, 0);
        let legacy = in_namespace(&stdout_json(&output), "legacy").clone();
        assert_eq!(legacy["podSecurity"], "baseline:latest");
        assert!(rules(&legacy).is_empty(), "{legacy:#}");
    }

    let output = check(&bare, &["--policy", policy_arg, "-n", "kube-system"]);
    assert_exit(&output, 0);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("namespace kube-system is exempt by policy"),
        "{table}"
    );
    assert!(table.contains("0 workloads checked"), "{table}");

    // An object's own namespace wins over the flag, as with kubectl.
    let output = check(
        &namespaced,
        &["--policy", policy_arg, "-n", "legacy", "--format", "json"],
    );
    assert_exit(&output, 1);
    assert_eq!(
        in_namespace(&stdout_json(&output), "default")["podSecurity"],
        "restricted:latest"
    );

    let output = check(
        &bare,
        &["--policy", policy_arg, "--namespace", "Not_A_Namespace"],
    );
    assert_exit(&output, 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a namespace name"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn namespace_objects_among_the_manifests_enforce_their_labels() {
    let dir = tempdir();
    let policy = write_file(dir.path(), "policy.yaml", NAMESPACED_POLICY);
    let policy_arg = policy.to_str().expect("utf-8 path");
    // `legacy` labelled restricted: stricter than the policy's baseline, so
    // it holds; `default` labelled privileged: weaker, so it changes nothing.
    let namespaces = "apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: v1.30
---
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {pod-security.kubernetes.io/enforce: privileged}
";
    write_file(dir.path(), "namespaces.yaml", namespaces);
    write_file(
        dir.path(),
        "pods.yaml",
        &[baseline_pod(Some("legacy")), baseline_pod(Some("default"))].join("---\n"),
    );

    let output = check(dir.path(), &["--policy", policy_arg, "--format", "json"]);
    assert_exit(&output, 1);
    let report = stdout_json(&output);
    let legacy = in_namespace(&report, "legacy");
    assert_eq!(legacy["podSecurity"], "restricted:v1.30");
    assert!(
        rules(legacy).contains(&"pss/capabilities_restricted"),
        "{legacy:#}"
    );
    assert_eq!(
        in_namespace(&report, "default")["podSecurity"],
        "restricted:latest"
    );

    // Without the Namespace object the policy's baseline holds for legacy.
    let pods = dir.path().join("pods.yaml");
    let output = check(&pods, &["--policy", policy_arg, "--format", "json"]);
    assert_eq!(
        in_namespace(&stdout_json(&output), "legacy")["podSecurity"],
        "baseline:latest"
    );

    // `--pod-security` overrides labels and namespace overrides alike.
    let output = check(
        dir.path(),
        &[
            "--policy",
            policy_arg,
            "--pod-security",
            "baseline",
            "--format",
            "json",
        ],
    );
    let report = stdout_json(&output);
    for namespace in ["legacy", "default"] {
        assert_eq!(
            in_namespace(&report, namespace)["podSecurity"],
            "baseline:latest"
        );
    }
}
