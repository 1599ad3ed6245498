//! Each hardening rule against real manifests: a hardened Deployment that
//! passes every rule, and for each rule a variant that fails it (and only it,
//! where the rules are independent).

use portcullis_kube::{
    CheckSettings, PodSecurity, RegistryAllowList, Rule, RuleSetting, Violation, evaluate,
    load_documents,
};

const DIGEST: &str = "sha256:4c1e997385b8fb4ad4d1d3c7e5af7ff3f882e94d07cf5b78de9e889bc60830e6";

/// A Deployment as a careful team writes it.
fn hardened() -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
  labels: {{app: checkout}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: checkout}}
  template:
    metadata:
      labels: {{app: checkout}}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {{type: RuntimeDefault}}
      initContainers:
      - name: migrate
        image: registry.example.internal/shop/checkout-migrate:2.4.1@{DIGEST}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
        resources:
          requests: {{cpu: 50m, memory: 64Mi}}
          limits: {{cpu: 200m, memory: 128Mi}}
      containers:
      - name: checkout
        image: registry.example.internal/shop/checkout:2.4.1@{DIGEST}
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: DATABASE_PASSWORD
          valueFrom:
            secretKeyRef: {{name: checkout-db, key: password}}
        - name: LOG_LEVEL
          value: info
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
            add: [NET_BIND_SERVICE]
        resources:
          requests: {{cpu: 250m, memory: 256Mi}}
          limits: {{cpu: "1", memory: 512Mi}}
        livenessProbe:
          httpGet: {{path: /healthz, port: http}}
        readinessProbe:
          httpGet: {{path: /ready, port: http}}
        volumeMounts:
        - {{name: tmp, mountPath: /tmp}}
      volumes:
      - name: tmp
        emptyDir: {{}}
"#
    )
}

fn settings() -> CheckSettings {
    CheckSettings {
        pod_security: PodSecurity::default(),
        rules: Rule::ALL.into_iter().map(RuleSetting::from).collect(),
        registries: RegistryAllowList::new(&["registry.example.internal/*"]).unwrap(),
    }
}

fn check(text: &str) -> Vec<Violation> {
    let loaded = load_documents(text, "deployment.yaml");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.workloads.len(), 1);
    evaluate(&loaded.workloads[0], &settings())
}

fn ids(violations: &[Violation]) -> Vec<String> {
    let mut ids: Vec<String> = violations.iter().map(|v| v.rule.id()).collect();
    ids.dedup();
    ids
}

/// Replaces `from` (which must occur) in the hardened manifest.
fn variant(from: &str, to: &str) -> String {
    let base = hardened();
    assert!(base.contains(from), "{from:?} not in the manifest");
    base.replacen(from, to, 1)
}

/// The variant fails `rule` (and whatever else is listed), at `line`.
fn assert_fails(text: &str, rule: Rule, line: u32, also: &[&str]) {
    let violations = check(text);
    let hit = violations
        .iter()
        .find(|v| v.rule.id() == rule.id())
        .unwrap_or_else(|| panic!("{rule} did not fire: {:?}", ids(&violations)));
    assert_eq!(hit.position.map(|p| p.line), Some(line), "{hit:?}");
    assert_eq!(hit.severity, rule.default_severity());
    let mut expected: Vec<String> = also.iter().map(|s| s.to_string()).collect();
    expected.push(rule.id().to_owned());
    for id in ids(&violations) {
        assert!(
            expected.contains(&id),
            "unexpected {id} for {rule}: {violations:#?}"
        );
    }
}

#[test]
fn the_hardened_deployment_passes_every_rule() {
    let violations = check(&hardened());
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn allowed_registries() {
    let text = variant(
        "registry.example.internal/shop/checkout:",
        "docker.io/shop/checkout:",
    );
    assert_fails(&text, Rule::AllowedRegistries, 32, &[]);
    // Docker Hub names normalise: `nginx` is docker.io/library/nginx.
    let text = variant(
        &format!("registry.example.internal/shop/checkout:2.4.1@{DIGEST}"),
        &format!("nginx:1.27@{DIGEST}"),
    );
    let violations = check(&text);
    let v = violations
        .iter()
        .find(|v| v.rule.id() == "allowed-registries")
        .unwrap();
    assert!(
        v.message.contains("docker.io/library/nginx"),
        "{}",
        v.message
    );
}

#[test]
fn require_digest() {
    let text = variant(&format!("checkout:2.4.1@{DIGEST}"), "checkout:2.4.1");
    assert_fails(&text, Rule::RequireDigest, 32, &[]);
    let text = variant(
        &format!("checkout:2.4.1@{DIGEST}"),
        "checkout:2.4.1@sha256:short",
    );
    assert_fails(&text, Rule::RequireDigest, 32, &[]);
}

#[test]
fn no_latest_tag() {
    let text = variant(&format!("checkout:2.4.1@{DIGEST}"), "checkout:latest");
    assert_fails(&text, Rule::NoLatestTag, 32, &["require-digest"]);
    let text = variant(&format!("checkout:2.4.1@{DIGEST}"), "checkout");
    assert_fails(&text, Rule::NoLatestTag, 32, &["require-digest"]);
    // A digest pins the content even when the tag says latest.
    let pinned = variant(
        &format!("checkout:2.4.1@{DIGEST}"),
        &format!("checkout:latest@{DIGEST}"),
    );
    assert!(check(&pinned).is_empty());
}

#[test]
fn read_only_root_fs() {
    let text = variant(
        "          readOnlyRootFilesystem: true\n          capabilities:\n            drop: [ALL]\n            add",
        "          readOnlyRootFilesystem: false\n          capabilities:\n            drop: [ALL]\n            add",
    );
    assert_fails(&text, Rule::ReadOnlyRootFs, 44, &[]);
}

#[test]
fn resource_limits_and_requests() {
    let text = variant(
        "          limits: {cpu: \"1\", memory: 512Mi}\n",
        "          limits: {cpu: \"1\"}\n",
    );
    assert_fails(&text, Rule::ResourceLimits, 50, &[]);
    let text = variant("          requests: {cpu: 250m, memory: 256Mi}\n", "");
    assert_fails(&text, Rule::ResourceRequests, 49, &[]);
}

#[test]
fn no_service_account_token() {
    let text = variant("      automountServiceAccountToken: false\n", "");
    assert_fails(&text, Rule::NoServiceAccountToken, 15, &[]);
    let text = variant(
        "automountServiceAccountToken: false",
        "automountServiceAccountToken: true",
    );
    assert_fails(&text, Rule::NoServiceAccountToken, 15, &[]);
}

#[test]
fn no_net_raw() {
    // Baseline PSS forbids adding NET_RAW too; the rule also wants it dropped.
    let text = variant(
        "            drop: [ALL]\n            add: [NET_BIND_SERVICE]",
        "            drop: [ALL]\n            add: [NET_BIND_SERVICE, NET_RAW]",
    );
    assert_fails(&text, Rule::NoNetRaw, 47, &["pss/capabilities_restricted"]);
    let text = variant(
        "            drop: [ALL]\n            add: [NET_BIND_SERVICE]",
        "            drop: [SYS_ADMIN]",
    );
    assert_fails(&text, Rule::NoNetRaw, 46, &["pss/capabilities_restricted"]);
}

#[test]
fn no_runtime_socket() {
    for path in [
        "/var/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/var/run/crio/crio.sock",
        "/var/run/",
    ] {
        let text = variant(
            "        emptyDir: {}\n",
            &format!("        hostPath: {{path: {path}, type: Socket}}\n"),
        );
        assert_fails(&text, Rule::NoRuntimeSocket, 59, &["pss/restrictedVolumes"]);
    }
    let harmless = variant(
        "        emptyDir: {}\n",
        "        hostPath: {path: /var/log/app}\n",
    );
    assert!(!ids(&check(&harmless)).contains(&"no-runtime-socket".to_owned()));
}

#[test]
fn run_as_non_root() {
    let text = variant("        runAsNonRoot: true\n        runAsUser: 10001\n", "");
    assert_fails(&text, Rule::RunAsNonRoot, 22, &["pss/runAsNonRoot"]);
    let text = variant("runAsUser: 10001", "runAsUser: 0");
    assert_fails(&text, Rule::RunAsNonRoot, 18, &["pss/runAsUser"]);
}

#[test]
fn no_host_port() {
    let text = variant(
        "        - containerPort: 8080\n",
        "        - containerPort: 8080\n          hostPort: 8080\n",
    );
    assert_fails(&text, Rule::NoHostPort, 35, &["pss/hostPorts"]);
}

#[test]
fn no_secret_in_env() {
    let text = variant(
        "          valueFrom:\n            secretKeyRef: {name: checkout-db, key: password}\n",
        "          value: hunter2\n",
    );
    assert_fails(&text, Rule::NoSecretInEnv, 38, &[]);
}

#[test]
fn probes() {
    let text = variant(
        "        livenessProbe:\n          httpGet: {path: /healthz, port: http}\n",
        "",
    );
    assert_fails(&text, Rule::LivenessProbe, 31, &[]);
    let text = variant(
        "        readinessProbe:\n          httpGet: {path: /ready, port: http}\n",
        "",
    );
    assert_fails(&text, Rule::ReadinessProbe, 31, &[]);
    // Jobs run to completion: no probes expected.
    let job = hardened()
        .replace(
            "apiVersion: apps/v1\nkind: Deployment",
            "apiVersion: batch/v1\nkind: Job",
        )
        .replace(
            "        livenessProbe:\n          httpGet: {path: /healthz, port: http}\n",
            "",
        )
        .replace(
            "        readinessProbe:\n          httpGet: {path: /ready, port: http}\n",
            "",
        );
    assert!(check(&job).is_empty());
}

#[test]
fn severities_can_be_tuned_and_rules_switched_off() {
    let text = variant("      automountServiceAccountToken: false\n", "");
    let loaded = load_documents(&text, "d.yaml");
    let mut settings = settings();
    settings.rules = vec![RuleSetting {
        rule: Rule::NoServiceAccountToken,
        severity: portcullis_kube::Severity::Critical,
    }];
    let violations = evaluate(&loaded.workloads[0], &settings);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].severity, portcullis_kube::Severity::Critical);
    settings.rules.clear();
    assert!(evaluate(&loaded.workloads[0], &settings).is_empty());
}
