//! `portcullis admission` end to end: the webhook binary over real TLS on
//! 127.0.0.1, with certificates from `admission certs`, decisions compared
//! with `portcullis check`, and the manifests checked against the Kubernetes
//! schemas.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::common::{fixture, portcullis, registry};

const REVIEWS: &str = "k8s/admission-reviews";

/// Baseline everywhere, no hardening rules; `customer-1` held to restricted.
const BASELINE_POLICY: &str = "apiVersion: portcullis.dev/v1
kind: Policy
workloads:
  podSecurity: baseline:latest
  rules: []
admission:
  namespaces:
    customer-1:
      podSecurity: restricted:latest
";

/// A running `portcullis admission serve`, stopped (by its PID) on drop.
struct Webhook {
    child: Child,
    addr: SocketAddr,
    ca_pem: String,
    dir: tempfile::TempDir,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_certs(dir: &Path) {
    portcullis()
        .args(["admission", "certs", "--out"])
        .arg(dir)
        .args(["--dns", "webhook.test"])
        .assert()
        .success();
}

fn start_webhook(policy: &str, extra: &[&str]) -> Webhook {
    start_webhook_logging(policy, extra, "warn")
}

/// [`start_webhook`] with the given `RUST_LOG` (keep it quiet enough that
/// the unread stderr pipe never fills).
fn start_webhook_logging(policy: &str, extra: &[&str], rust_log: &str) -> Webhook {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path());
    std::fs::write(dir.path().join("policy.yaml"), policy).expect("policy written");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("portcullis"))
        .args(["admission", "serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(dir.path().join("policy.yaml"))
        .arg("--tls-cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"))
        .args(extra)
        // Image scanning needs a database; tests that scan pass `--db`.
        .args(if extra.contains(&"--db") {
            &[][..]
        } else {
            &["--no-scan"][..]
        })
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("webhook started");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let ca_pem = std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca");
    Webhook {
        child,
        addr,
        ca_pem,
        dir,
    }
}

fn tls_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca pem"))
        .expect("root");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

fn connect(
    addr: SocketAddr,
    ca_pem: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let connection =
        rustls::ClientConnection::new(tls_config(ca_pem), name).map_err(std::io::Error::other)?;
    let socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    // Finish the handshake now so certificate errors show here.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends raw request bytes; returns the status code and body.
fn exchange(
    stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    request: &[u8],
) -> (u16, String) {
    // The server may answer and close before a refused body is all sent.
    let _ = stream.write_all(request);
    let _ = stream.flush();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn post(hook: &Webhook, path: &str, body: &[u8]) -> (u16, String) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let mut stream = connect(hook.addr, &hook.ca_pem).expect("TLS connection");
    exchange(&mut stream, &request)
}

fn get(hook: &Webhook, path: &str) -> (u16, String) {
    let mut stream = connect(hook.addr, &hook.ca_pem).expect("TLS connection");
    exchange(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A fixture as a v1 AdmissionReview body (bare requests are wrapped, as the README says).
fn review(rel: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{REVIEWS}/{rel}"))).expect("fixture");
    let value: Value = serde_json::from_str(&text).expect("json");
    if value.get("request").is_some() {
        value
    } else {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": value})
    }
}

fn judge(hook: &Webhook, path: &str, body: &Value) -> Value {
    let (status, text) = post(hook, path, &serde_json::to_vec(body).expect("json"));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("response json");
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(
        answer["response"]["uid"], body["request"]["uid"],
        "uid echoed"
    );
    answer["response"].clone()
}

/// Every request fixture with its decision under [`BASELINE_POLICY`].
const EXPECTED: &[(&str, bool)] = &[
    ("derived/deployment-delete-dryrun.json", true),
    ("derived/deployment-update-with-oldObject.json", false),
    ("derived/pod-create-dryrun.json", true),
    ("derived/pod-delete.json", true),
    ("derived/pod-update-with-oldObject.json", true),
    (
        "kubewarden-raw-requests/pod-privileged-policy/deployment_with_privileged_containers.json",
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/no_privileged_containers.json",
        true,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_container.json",
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_ephemeral_container.json",
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_init_container.json",
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/statefulset_with_privileged_container.json",
        false,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/cronjob_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/daemonset_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/deployment_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/ingress_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/job_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation_implicit_latest.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation_latest.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/replicaset_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/replicationcontroller_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/statefulset_creation.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/cronjob_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/cronjob_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/daemonset_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/daemonset_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/deployment_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/deployment_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/job_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/job_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed_with_certificate.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed_with_keyless_mode.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_with_digest.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_with_init_container.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicaset_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicaset_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicationcontroller_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicationcontroller_creation_unsigned.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/statefulset_creation_signed.json",
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/statefulset_creation_unsigned.json",
        true,
    ),
    ("kubewarden-wrapped-v1/deployment-create.json", false),
    (
        "kubewarden-wrapped-v1/pod-create-privileged-kwctl.json",
        false,
    ),
    ("kubewarden-wrapped-v1/pod-create-privileged.json", false),
    ("kubewarden-wrapped-v1/pod-create-unprivileged.json", true),
];

#[test]
fn every_review_fixture_gets_its_decision_over_tls() {
    let hook = start_webhook(BASELINE_POLICY, &[]);
    for (rel, allowed) in EXPECTED {
        let body = review(rel);
        let response = judge(&hook, "/validate", &body);
        assert_eq!(response["allowed"], *allowed, "{rel}: {response}");
        if !allowed {
            assert_eq!(response["status"]["code"], 403, "{rel}");
            assert!(
                response["status"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("\n- [")),
                "{rel}"
            );
        }
        // Mutation is off in this policy: allowed, no patch.
        let mutated = judge(&hook, "/mutate", &body);
        assert_eq!(mutated["allowed"], true, "{rel}");
        assert!(mutated.get("patch").is_none(), "{rel}");
    }
    // Kubernetes' round-trip fixtures: a placeholder operation, and v1beta1.
    for (rel, message) in [
        (
            "k8s-api-roundtrip/admission.k8s.io.v1.AdmissionReview.json",
            "request.operation",
        ),
        (
            "k8s-api-roundtrip/admission.k8s.io.v1beta1.AdmissionReview.json",
            "unsupported apiVersion",
        ),
    ] {
        let (status, text) = post(
            &hook,
            "/validate",
            &serde_json::to_vec(&review(rel)).expect("json"),
        );
        assert_eq!(status, 400, "{rel}");
        assert!(text.contains(message), "{rel}: {text}");
    }
    // The gatekeeper UPDATE samples are v1beta1 without a uid: refused as
    // they are; as v1 reviews with a uid they are judged on UPDATE and denied.
    for rel in [
        "capabilities-update.yaml",
        "host-namespaces-update.yaml",
        "privileged-containers-update.yaml",
    ] {
        let text = std::fs::read_to_string(fixture(&format!(
            "{REVIEWS}/gatekeeper-library-update/{rel}"
        )))
        .expect("fixture");
        let mut body: Value = serde_saphyr::from_str(&text).expect("yaml");
        let (status, _) = post(
            &hook,
            "/validate",
            &serde_json::to_vec(&body).expect("json"),
        );
        assert_eq!(status, 400, "{rel} as v1beta1");
        body["apiVersion"] = "admission.k8s.io/v1".into();
        body["request"]["uid"] = format!("gatekeeper-{rel}").into();
        body["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "Pod"});
        body["request"]["resource"] = json!({"group": "", "version": "v1", "resource": "pods"});
        let response = judge(&hook, "/validate", &body);
        assert_eq!(response["allowed"], false, "{rel}");
    }
    let (status, metrics) = get(&hook, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("portcullis_admission_requests_total{endpoint=\"validate\",kind=\"Pod\",decision=\"denied\"}"), "{metrics}");
    assert!(
        metrics.contains("portcullis_admission_bad_requests_total{reason=\"api_version\"} 4"),
        "{metrics}"
    );
}

/// Writes the object of a review as a manifest file for `portcullis check`.
fn object_manifest(dir: &Path, rel: &str) -> Option<PathBuf> {
    let body = review(rel);
    let request = &body["request"];
    let mut object = request.get("object").filter(|o| !o.is_null())?.clone();
    // Some captures leave out apiVersion and kind; the request names them.
    let gvk = &request["kind"];
    if object.get("apiVersion").is_none() {
        let group = gvk["group"].as_str().unwrap_or("");
        let version = gvk["version"].as_str().unwrap_or("v1");
        object["apiVersion"] = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        }
        .into();
    }
    if object.get("kind").is_none() {
        object["kind"] = gvk["kind"].clone();
    }
    let path = dir.join(rel.replace('/', "__"));
    std::fs::write(&path, serde_json::to_vec_pretty(&object).expect("json"))
        .expect("manifest written");
    Some(path)
}

#[test]
fn pod_security_decisions_are_those_of_portcullis_check() {
    // Restricted and the default hardening rules, plus a registry allow-list:
    // many rules fire, so agreement means something.
    let policy = "apiVersion: portcullis.dev/v1
kind: Policy
registries:
  allow: [\"ghcr.io/kubewarden/*\", \"docker.io/library/*\"]
";
    let hook = start_webhook(policy, &[]);
    let manifests = tempfile::tempdir().expect("tempdir");
    let mut compared = 0;
    for (rel, _) in EXPECTED {
        let body = review(rel);
        let operation = body["request"]["operation"].as_str().unwrap_or("");
        if !matches!(operation, "CREATE" | "UPDATE") {
            continue;
        }
        let Some(manifest) = object_manifest(manifests.path(), rel) else {
            continue;
        };
        let output = portcullis()
            .args(["check", "--format", "json", "--policy"])
            .arg(hook.dir.path().join("policy.yaml"))
            .arg(&manifest)
            .output()
            .expect("check ran");
        let report: Value = serde_json::from_slice(&output.stdout).expect("check json");
        let mut check_rules: Vec<String> = report["workloads"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|w| w["violations"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v["rule"].as_str().map(str::to_owned))
            .collect();
        check_rules.sort();
        check_rules.dedup();
        let response = judge(&hook, "/validate", &body);
        let mut webhook_rules: Vec<String> = response["auditAnnotations"]["violations"]
            .as_str()
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        webhook_rules.sort();
        let check_failed = output.status.code() == Some(1);
        assert_eq!(
            response["allowed"],
            !check_failed,
            "{rel}: check exit {:?}",
            output.status.code()
        );
        assert_eq!(webhook_rules, check_rules, "{rel}");
        compared += 1;
    }
    assert!(compared >= 40, "compared {compared} objects");
}

#[test]
fn bad_requests_get_http_errors_and_the_server_stays_up() {
    let hook = start_webhook(
        BASELINE_POLICY,
        &[
            "--max-body-bytes",
            "100000",
            "--header-timeout-seconds",
            "1",
            "--request-timeout-seconds",
            "2",
        ],
    );
    let valid = serde_json::to_vec(&review(
        "kubewarden-wrapped-v1/pod-create-unprivileged.json",
    ))
    .expect("json");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"apiVersion\":".to_vec(), 400, "not a valid AdmissionReview"),
        (br#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE"}}"#.to_vec(), 400, "unsupported apiVersion"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"x","operation":"CREATE"}}"#.to_vec(), 400, "unsupported kind"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#.to_vec(), 400, "request.uid is missing"),
    ];
    for (body, want, message) in cases {
        let (status, text) = post(&hook, "/validate", &body);
        assert_eq!(status, want, "{text}");
        assert!(text.contains(message), "{text}");
    }
    // An oversized body is refused from its declared length, before it is sent.
    let mut big = connect(hook.addr, &hook.ca_pem).expect("connect");
    let (status, text) = exchange(
        &mut big,
        b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than 100000 bytes"), "{text}");
    // A client that sends half its headers and stalls is cut off.
    let started = Instant::now();
    let mut stalled = connect(hook.addr, &hook.ca_pem).expect("connect");
    let (status, _) = exchange(
        &mut stalled,
        b"POST /validate HTTP/1.1\r\nHost: localhost\r\n",
    );
    assert!(status == 0 || status == 408, "status {status}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // A client that stalls in its body gets 408.
    let mut stalled = connect(hook.addr, &hook.ca_pem).expect("connect");
    let (status, _) = exchange(
        &mut stalled,
        b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n{\"apiV",
    );
    assert_eq!(status, 408);
    // Still up and judging.
    let (status, _) = post(&hook, "/validate", &valid);
    assert_eq!(status, 200);
    assert_eq!(get(&hook, "/healthz").0, 200);
}

#[test]
fn certificates_are_reloaded_and_sigterm_stops_the_server_cleanly() {
    let mut hook = start_webhook(BASELINE_POLICY, &["--cert-reload-seconds", "0.1"]);
    let first_ca = hook.ca_pem.clone();
    connect(hook.addr, &first_ca).expect("first CA");
    make_certs(hook.dir.path());
    let second_ca = std::fs::read_to_string(hook.dir.path().join("ca.crt")).expect("ca");
    assert_ne!(first_ca, second_ca);
    let deadline = Instant::now() + Duration::from_secs(10);
    while connect(hook.addr, &second_ca).is_err() {
        assert!(Instant::now() < deadline, "new certificate never served");
        std::thread::sleep(Duration::from_millis(100));
    }
    hook.ca_pem = second_ca;
    let (_, metrics) = get(&hook, "/metrics");
    assert!(
        metrics.contains("portcullis_admission_tls_reloads_total 1"),
        "{metrics}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &hook.child.id().to_string()])
        .status()
        .expect("kill ran");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = hook.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    if let Some(mut stderr) = hook.child.stderr.take() {
        let _ = stderr.read_to_string(&mut logs);
    }
    // JSON logs, one object per line.
    for line in logs.lines() {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(record.get("level").is_some(), "{line}");
    }
}

#[test]
fn certs_command_writes_a_ca_and_a_serving_pair_for_the_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("tls");
    portcullis()
        .args(["admission", "certs", "--out"])
        .arg(&out)
        .args([
            "--dns",
            "portcullis.example.internal",
            "--namespace",
            "security",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("tls.key"));
    for name in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    portcullis()
        .args(["admission", "certs", "--out"])
        .arg(&out)
        .args(["--dns", "not a name"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("invalid DNS name \"not a name\""));
}

fn schema_validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(fixture(&format!(
        "k8s/schemas/v1.32.2-standalone-strict/{file}"
    )))
    .expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema json");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn manifests_validate_and_carry_the_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy_path = dir.path().join("policy.yaml");
    std::fs::write(
        &policy_path,
        "apiVersion: portcullis.dev/v1\nkind: Policy\nadmission:\n  exemptNamespaces: [monitoring]\n",
    )
    .expect("policy");
    let output = portcullis()
        .args([
            "admission",
            "manifests",
            "--image",
            "registry.example.internal/portcullis:0.1.0",
            "--policy",
        ])
        .arg(&policy_path)
        .output()
        .expect("ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8(output.stdout).expect("utf-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("yaml documents");
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    for (kind, schema) in [
        ("Namespace", "namespace-v1.json"),
        ("Deployment", "deployment-apps-v1.json"),
    ] {
        let validator = schema_validator(schema);
        let doc = docs.iter().find(|d| d["kind"] == kind).expect(kind);
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{kind}: {errors:#?}");
    }
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("configmap");
    assert!(
        config_map["data"]["policy.yaml"]
            .as_str()
            .is_some_and(|p| p.contains("monitoring"))
    );
    let validating = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .expect("validating");
    let hook = &validating["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0]["values"],
        json!(["portcullis-system", "kube-system", "monitoring"])
    );
    // The webhook's own pods pass its own strictest check: restricted and every default rule.
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("deployment");
    let deployment_file = dir.path().join("deployment.json");
    std::fs::write(
        &deployment_file,
        serde_json::to_vec(deployment).expect("json"),
    )
    .expect("written");
    portcullis()
        .arg("check")
        .arg(&deployment_file)
        .assert()
        .success();

    // kubectl, where installed: every document parses (YAML syntax, object
    // metadata). Without an API server kubectl cannot map kinds to resources
    // or fetch schemas, so "unable to recognize" is expected and field types
    // beyond metadata are not checked here (the JSON schemas above do that).
    if let Ok(kubectl) = Command::new("kubectl")
        .args([
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "name",
            "-f",
            "-",
        ])
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        let mut kubectl = kubectl;
        kubectl
            .stdin
            .take()
            .expect("stdin")
            .write_all(yaml.as_bytes())
            .expect("yaml to kubectl");
        let result = kubectl.wait_with_output().expect("kubectl finished");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!stderr.contains("unable to decode"), "{stderr}");
        assert!(!stderr.contains("error parsing"), "{stderr}");
        assert!(!stderr.contains("error converting YAML"), "{stderr}");
    } else {
        eprintln!("kubectl not installed: typed decoding check skipped");
    }
}

/// A vulnerability database from the PyPA advisories: debian12-full ships
/// python3-urllib3 1.26.4, which CVE-2023-43804 (high) affects.
fn pypa_database(dir: &Path) -> PathBuf {
    let path = dir.join("vulndb.bin");
    portcullis()
        .args(["db", "update", "--db"])
        .arg(&path)
        .arg("--source")
        .arg(fixture("vulndata/advisories/pypa-advisory-database"))
        .assert()
        .success();
    path
}

/// Judges images by their vulnerabilities only (pod security and rules
/// off), pinning what it judged.
const SCANNING_POLICY: &str = "apiVersion: portcullis.dev/v1
kind: Policy
vulnerabilities:
  failOn: high
workloads:
  podSecurity: privileged
  rules: []
admission:
  scanTimeout: 60s
  mutate: {pinDigests: true}
";

fn pod_with_image(image: &str, uid: &str) -> Value {
    let mut body = review("kubewarden-wrapped-v1/pod-create-unprivileged.json");
    body["request"]["uid"] = uid.into();
    body["request"]["object"]["spec"]["containers"] = json!([{"name": "app", "image": image}]);
    body
}

#[test]
fn images_are_scanned_once_and_judged_by_the_vulnerability_policy() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = pypa_database(work.path());
    let cache = work.path().join("cache");
    let policy = SCANNING_POLICY;
    let db_arg = db.display().to_string();
    let cache_arg = cache.display().to_string();
    let hook = start_webhook(
        policy,
        &[
            "--db",
            &db_arg,
            "--cache-dir",
            &cache_arg,
            "--request-timeout-seconds",
            "60",
        ],
    );
    let image = format!("oci:{}:debian12-full", fixture("images/oci").display());
    let started = Instant::now();
    let first = judge(&hook, "/validate", &pod_with_image(&image, "scan-1"));
    let first_took = started.elapsed();
    assert_eq!(first["allowed"], false, "{first}");
    let message = first["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("[vulnerabilities]"), "{message}");
    assert!(
        message.contains("urllib3 1.26.4, fixed in 1.26.17"),
        "{message}"
    );
    assert!(
        first["auditAnnotations"]["judged-images"]
            .as_str()
            .is_some_and(|j| j.contains("=sha256:"))
    );

    // Cached: the same image again, and the mutation, scan nothing new.
    let started = Instant::now();
    let again = judge(&hook, "/validate", &pod_with_image(&image, "scan-2"));
    assert_eq!(again["allowed"], false);
    assert!(
        started.elapsed() < first_took,
        "a cached verdict is faster than a scan"
    );
    let mutated = judge(&hook, "/mutate", &pod_with_image(&image, "scan-3"));
    let patch = mutated["patch"].as_str().expect("digest pinned");
    let patch = base64_decode(patch);
    assert!(
        patch.contains("/spec/containers/0/image") && patch.contains("@sha256:"),
        "{patch}"
    );
    let (_, metrics) = get(&hook, "/metrics");
    assert!(
        metrics.contains("portcullis_admission_scans_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_admission_verdict_cache_hits_total 2"),
        "{metrics}"
    );
}

#[test]
fn a_scan_over_budget_is_denied_with_retry_then_judged_from_the_cache() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = pypa_database(work.path());
    let cache = work.path().join("cache");
    let policy = "apiVersion: portcullis.dev/v1
kind: Policy
vulnerabilities:
  failOn: critical
workloads:
  podSecurity: privileged
  rules: []
admission:
  scanTimeout: 1ms
  onScanTimeout: deny
";
    let db_arg = db.display().to_string();
    let cache_arg = cache.display().to_string();
    let hook = start_webhook(policy, &["--db", &db_arg, "--cache-dir", &cache_arg]);
    let image = format!("oci:{}:debian12-min", fixture("images/oci").display());
    let first = judge(&hook, "/validate", &pod_with_image(&image, "budget-1"));
    assert_eq!(first["allowed"], false, "{first}");
    assert!(
        first["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry")),
        "{first}"
    );
    // The scan went on in the background; a retry finds its verdict
    // (no critical finding in debian12-min under the PyPA advisories).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let retry = judge(&hook, "/validate", &pod_with_image(&image, "budget-2"));
        if retry["allowed"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "never judged: {retry}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, metrics) = get(&hook, "/metrics");
    assert!(
        metrics.contains("portcullis_admission_scans_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

/// An OCI layout in `dir` whose tag `multi` names a two-platform index:
/// linux/amd64 is the debian12-full fixture (python3-urllib3 1.26.4 inside),
/// linux/arm64 is debian12-min's layer under a config that says arm64 (no
/// Python at all). Blobs are symlinks into the fixtures. Returns the index's
/// digest and the amd64 manifest's.
fn multi_arch_layout(dir: &Path) -> (String, String) {
    use portcullis_source::Digest;
    let fixtures = fixture("images/oci");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    let fixture_blob = |digest: &str| -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").expect("sha256");
        std::fs::read(fixtures.join("blobs/sha256").join(hex)).expect("fixture blob")
    };
    let link = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").expect("sha256");
        let target = fixtures.join("blobs/sha256").join(hex);
        let path = blobs.join(hex);
        if !path.exists() {
            std::os::unix::fs::symlink(target, path).expect("symlink");
        }
    };
    let write = |bytes: &[u8]| -> (String, usize) {
        let digest = Digest::of(bytes).to_string();
        let hex = digest.strip_prefix("sha256:").expect("sha256").to_owned();
        std::fs::write(blobs.join(hex), bytes).expect("blob written");
        (digest, bytes.len())
    };
    let fixture_index: Value =
        serde_json::from_slice(&std::fs::read(fixtures.join("index.json")).expect("index"))
            .expect("index json");
    let tagged = |tag: &str| -> Value {
        fixture_index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("{tag} in the fixture layout"))
            .clone()
    };
    // amd64: the fixture's debian12-full manifest, as it is.
    let full = tagged("debian12-full");
    let full_digest = full["digest"].as_str().expect("digest").to_owned();
    let full_manifest: Value =
        serde_json::from_slice(&fixture_blob(&full_digest)).expect("manifest");
    link(&full_digest);
    link(full_manifest["config"]["digest"].as_str().expect("config"));
    for layer in full_manifest["layers"].as_array().expect("layers") {
        link(layer["digest"].as_str().expect("layer"));
    }
    // arm64: debian12-min's layer under a config rewritten to arm64.
    let min = tagged("debian12-min");
    let mut min_manifest: Value =
        serde_json::from_slice(&fixture_blob(min["digest"].as_str().expect("digest")))
            .expect("manifest");
    let mut config: Value = serde_json::from_slice(&fixture_blob(
        min_manifest["config"]["digest"].as_str().expect("config"),
    ))
    .expect("config");
    config["architecture"] = "arm64".into();
    config["variant"] = "v8".into();
    let (config_digest, config_size) = write(&serde_json::to_vec(&config).expect("json"));
    min_manifest["config"]["digest"] = config_digest.into();
    min_manifest["config"]["size"] = config_size.into();
    for layer in min_manifest["layers"].as_array().expect("layers") {
        link(layer["digest"].as_str().expect("layer"));
    }
    let (arm_digest, arm_size) = write(&serde_json::to_vec(&min_manifest).expect("json"));
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": arm_digest, "size": arm_size,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": full_digest, "size": full["size"],
                "platform": {"os": "linux", "architecture": "amd64"},
            },
        ],
    });
    let (index_digest, index_size) = write(&serde_json::to_vec(&index).expect("json"));
    let layout_index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest, "size": index_size,
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&layout_index).expect("json"),
    )
    .expect("index.json");
    (index_digest, full_digest)
}

#[test]
fn a_multi_arch_tag_is_pinned_to_its_index_and_judged_on_the_amd64_image() {
    let registry = registry();
    let work = tempfile::tempdir().expect("tempdir");
    let layout = work.path().join("layout");
    let (index_digest, amd64_digest) = multi_arch_layout(&layout);
    // Into the fixture's own repository, whose layers the registry already has.
    let image = format!("{}/test/debian12-full:multiarch", registry.plain);
    let pushed = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:multi", layout.display()))
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo runs");
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    let db = pypa_database(work.path());
    let cache = work.path().join("cache");
    let policy = SCANNING_POLICY;
    let db_arg = db.display().to_string();
    let cache_arg = cache.display().to_string();
    let serve_args = |platform: &'static str| {
        vec![
            "--db".to_owned(),
            db_arg.clone(),
            "--cache-dir".to_owned(),
            cache_arg.clone(),
            "--request-timeout-seconds".to_owned(),
            "60".to_owned(),
            "--insecure".to_owned(),
            "--platform".to_owned(),
            platform.to_owned(),
        ]
    };
    let amd64_args = serve_args("linux/amd64");
    let hook = start_webhook(
        policy,
        &amd64_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // The tag is pinned to the index, so arm64 nodes still pull their image.
    let mutated = judge(&hook, "/mutate", &pod_with_image(&image, "multi-1"));
    let patch: Value =
        serde_json::from_str(&base64_decode(mutated["patch"].as_str().expect("patch")))
            .expect("json patch");
    let pin = patch
        .as_array()
        .expect("operations")
        .iter()
        .find(|op| op["path"] == "/spec/containers/0/image")
        .unwrap_or_else(|| panic!("image not pinned: {patch}"));
    assert_eq!(pin["op"], "replace");
    assert_eq!(pin["value"], format!("{image}@{index_digest}"), "{patch}");
    assert_eq!(
        mutated["auditAnnotations"]["judged-images"],
        format!("{image}={index_digest}")
    );
    assert_eq!(
        mutated["auditAnnotations"]["scanned-manifests"],
        format!("{image}={amd64_digest}")
    );

    // The verdict is the amd64 image's: its urllib3 (arm64's image has none).
    let validated = judge(&hook, "/validate", &pod_with_image(&image, "multi-2"));
    assert_eq!(validated["allowed"], false, "{validated}");
    let message = validated["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("({amd64_digest})"))
            && message.contains("urllib3 1.26.4, fixed in 1.26.17"),
        "{message}"
    );

    // A Pod already pinned to the index is judged on the same amd64
    // manifest, from the cache, and left as it is by the mutation.
    let pinned = format!("{}/test/debian12-full@{index_digest}", registry.plain);
    let by_index = judge(&hook, "/validate", &pod_with_image(&pinned, "multi-3"));
    assert_eq!(by_index["allowed"], false, "{by_index}");
    assert!(
        by_index["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("({amd64_digest})")) && m.contains("urllib3")),
        "{by_index}"
    );
    let kept = judge(&hook, "/mutate", &pod_with_image(&pinned, "multi-4"));
    assert_eq!(kept["allowed"], true, "{kept}");
    assert!(kept.get("patch").is_none(), "{kept}");
    // And so is a Pod pinned to the amd64 manifest itself.
    let by_manifest = format!("{}/test/debian12-full@{amd64_digest}", registry.plain);
    let judged = judge(&hook, "/validate", &pod_with_image(&by_manifest, "multi-5"));
    assert_eq!(judged["allowed"], false, "{judged}");
    let (_, metrics) = get(&hook, "/metrics");
    assert!(
        metrics.contains("portcullis_admission_scans_total{outcome=\"ok\"} 1"),
        "one scan served every digest: {metrics}"
    );
    drop(hook);

    // The same index judged for arm64 nodes: its own image, which has no
    // Python and so nothing the PyPA advisories name. The pin is the same.
    let arm64_args = serve_args("linux/arm64");
    let arm_hook = start_webhook(
        policy,
        &arm64_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let arm = judge(&arm_hook, "/mutate", &pod_with_image(&image, "multi-6"));
    assert_eq!(arm["allowed"], true, "{arm}");
    assert_eq!(
        arm["auditAnnotations"]["judged-images"],
        format!("{image}={index_digest}")
    );
    assert_ne!(
        arm["auditAnnotations"]["scanned-manifests"],
        format!("{image}={amd64_digest}")
    );
    let validated = judge(&arm_hook, "/validate", &pod_with_image(&image, "multi-7"));
    assert_eq!(validated["allowed"], true, "{validated}");
}

/// The value of an unlabelled series in a Prometheus exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `/metrics` until `name` reaches `value`.
fn wait_for_metric(hook: &Webhook, name: &str, value: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = get(hook, "/metrics");
        if metric(&text, name) == Some(value) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {value}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Builds a vulnerability database from one advisory source at `path`, as
/// an operator's `portcullis db update` does: written whole, then renamed
/// over the file the webhook reads.
fn db_update(path: &Path, source: &str) {
    portcullis()
        .args(["db", "update", "--db"])
        .arg(path)
        .arg("--source")
        .arg(fixture(&format!("vulndata/advisories/{source}")))
        .assert()
        .success();
}

#[test]
fn a_replaced_database_is_reloaded_and_a_corrupt_one_keeps_the_previous() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = work.path().join("vulndb.bin");
    // Alpine's advisories say nothing about a Debian image's packages.
    db_update(&db, "alpine-secdb/alpine/v3.20");
    let cache = work.path().join("cache");
    let policy = "apiVersion: portcullis.dev/v1
kind: Policy
vulnerabilities:
  failOn: high
workloads:
  podSecurity: privileged
  rules: []
admission:
  scanTimeout: 60s
";
    let db_arg = db.display().to_string();
    let cache_arg = cache.display().to_string();
    let mut hook = start_webhook_logging(
        policy,
        &[
            "--db",
            &db_arg,
            "--cache-dir",
            &cache_arg,
            "--request-timeout-seconds",
            "60",
            "--cert-reload-seconds",
            "0.2",
        ],
        "info",
    );
    let image = format!("oci:{}:debian12-full", fixture("images/oci").display());
    let before = judge(&hook, "/validate", &pod_with_image(&image, "reload-1"));
    assert_eq!(before["allowed"], true, "{before}");
    let (_, text) = get(&hook, "/metrics");
    let first_built =
        metric(&text, "portcullis_admission_vulndb_built_timestamp_seconds").expect("built");
    assert!(first_built > 1.7e9, "{text}");
    let first_advisories =
        metric(&text, "portcullis_admission_vulndb_advisories").expect("advisories");
    assert_eq!(
        metric(&text, "portcullis_admission_vulndb_reloads_total"),
        Some(0.0)
    );

    // The operator refreshes the database in place; the webhook notices.
    db_update(&db, "pypa-advisory-database");
    let text = wait_for_metric(&hook, "portcullis_admission_vulndb_reloads_total", 1.0);
    let pypa_advisories =
        metric(&text, "portcullis_admission_vulndb_advisories").expect("advisories");
    assert_ne!(pypa_advisories, first_advisories, "{text}");
    assert!(
        metric(&text, "portcullis_admission_vulndb_built_timestamp_seconds")
            .is_some_and(|built| built >= first_built),
        "{text}"
    );
    // The allowed verdict was computed with the old database: judged again.
    let after = judge(&hook, "/validate", &pod_with_image(&image, "reload-2"));
    assert_eq!(after["allowed"], false, "{after}");
    let message = after["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("urllib3 1.26.4, fixed in 1.26.17"),
        "{message}"
    );

    // A half-written database renamed into place: refused, logged, and the
    // PyPA database keeps serving.
    let bytes = std::fs::read(&db).expect("db");
    let half = work.path().join("half.tmp");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).expect("written");
    std::fs::rename(&half, &db).expect("renamed");
    let text = wait_for_metric(
        &hook,
        "portcullis_admission_vulndb_reload_errors_total",
        1.0,
    );
    assert_eq!(
        metric(&text, "portcullis_admission_vulndb_reloads_total"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "portcullis_admission_vulndb_advisories"),
        Some(pypa_advisories)
    );
    let still = judge(&hook, "/validate", &pod_with_image(&image, "reload-3"));
    assert_eq!(still["allowed"], false, "{still}");
    assert!(
        still["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("urllib3")),
        "{still}"
    );
    let (_, text) = get(&hook, "/metrics");
    assert_eq!(
        metric(&text, "portcullis_admission_vulndb_reload_errors_total"),
        Some(1.0),
        "one error per broken file, not one per check"
    );
    assert!(
        text.contains("portcullis_admission_scans_total{outcome=\"ok\"} 2"),
        "{text}"
    );

    let mut logs = String::new();
    let stderr = hook.child.stderr.take();
    let _ = hook.child.kill();
    let _ = hook.child.wait();
    if let Some(mut stderr) = stderr {
        let _ = stderr.read_to_string(&mut logs);
    }
    let records: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let reloaded = records
        .iter()
        .find(|r| {
            r["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("vulnerability database reloaded"))
        })
        .unwrap_or_else(|| panic!("no reload logged:\n{logs}"));
    assert_eq!(reloaded["level"], "INFO");
    assert_eq!(
        reloaded["fields"]["advisories"].as_f64(),
        Some(pypa_advisories),
        "{reloaded}"
    );
    assert!(reloaded["fields"]["built"].as_str().is_some(), "{reloaded}");
    let refused = records
        .iter()
        .find(|r| {
            r["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("vulnerability database not reloaded"))
        })
        .unwrap_or_else(|| panic!("no refusal logged:\n{logs}"));
    assert_eq!(refused["level"], "ERROR");
    assert!(
        refused["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("vulndb.bin")),
        "{refused}"
    );
}

fn base64_decode(text: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn namespace_overrides_and_exemptions_give_check_and_webhook_the_same_verdict() {
    // Restricted with the default rules, baseline without rules in
    // `legacy`, `kube-system` exempt: the same object gets different
    // verdicts per namespace, and `check` must give the webhook's.
    let policy = "apiVersion: portcullis.dev/v1
kind: Policy
workloads:
  podSecurity: restricted
admission:
  namespaces:
    legacy: {podSecurity: baseline, rules: []}
  exemptNamespaces: [kube-system]
";
    let hook = start_webhook(policy, &[]);
    let manifests = tempfile::tempdir().expect("tempdir");
    let objects = [
        "kubewarden-wrapped-v1/pod-create-unprivileged.json",
        "kubewarden-wrapped-v1/pod-create-privileged.json",
        "kubewarden-wrapped-v1/deployment-create.json",
    ];
    let mut verdicts = Vec::new();
    for rel in objects {
        // `check` gets the object without a namespace, and `--namespace`.
        let manifest = object_manifest(manifests.path(), rel).expect("object");
        let mut object: Value =
            serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
        if let Some(metadata) = object["metadata"].as_object_mut() {
            metadata.remove("namespace");
        }
        std::fs::write(&manifest, serde_json::to_vec(&object).expect("json")).expect("written");
        for namespace in ["default", "legacy", "shop", "kube-system"] {
            let mut body = review(rel);
            body["request"]["namespace"] = namespace.into();
            body["request"]["object"]["metadata"]["namespace"] = namespace.into();
            body["request"]["uid"] = format!("{rel}-{namespace}").into();
            let response = judge(&hook, "/validate", &body);
            let output = portcullis()
                .args([
                    "check",
                    "--format",
                    "json",
                    "--namespace",
                    namespace,
                    "--policy",
                ])
                .arg(hook.dir.path().join("policy.yaml"))
                .arg(&manifest)
                .output()
                .expect("check ran");
            let report: Value = serde_json::from_slice(&output.stdout).expect("check json");
            let workload = &report["workloads"][0];
            assert_eq!(workload["namespace"], namespace, "{rel}");
            let check_allows = output.status.code() == Some(0);
            assert_eq!(
                response["allowed"], check_allows,
                "{rel} in {namespace}: webhook {response:#}, check {report:#}"
            );
            let webhook_exempt = response["auditAnnotations"].get("exempt").is_some();
            assert_eq!(workload["exempt"], webhook_exempt, "{rel} in {namespace}");
            verdicts.push((rel, namespace, check_allows));
        }
    }
    let allowed = |rel: &str, namespace: &str| {
        verdicts
            .iter()
            .any(|(r, n, allows)| *r == rel && *n == namespace && *allows)
    };
    // The agreement covers every outcome: the unprivileged Pod passes
    // baseline in legacy and fails restricted elsewhere, the privileged one
    // fails even baseline, and everything is admitted in kube-system.
    let unprivileged = objects[0];
    let privileged = objects[1];
    assert!(allowed(unprivileged, "legacy"));
    assert!(!allowed(unprivileged, "default") && !allowed(unprivileged, "shop"));
    assert!(!allowed(privileged, "legacy"));
    assert!(objects.iter().all(|rel| allowed(rel, "kube-system")));
}
