use super::*;

/// The policy of DESIGN.md, plus the admission section.
const FULL: &str = "\
apiVersion: portcullis.dev/v1
kind: Policy
registries:
  allow: [\"registry.example.internal/*\", \"ghcr.io/example/*\"]
  requireDigest: true
vulnerabilities:
  failOn: high              # critical | high | medium | low | none
  ignoreUnfixed: true
  exceptions:
    - id: CVE-2024-0001
      package: openssl
      expires: 2027-01-31
      reason: not reachable from the service
workloads:
  podSecurity: restricted   # privileged | baseline | restricted, with a version
  rules: [no-latest-tag, read-only-root-fs, {id: resource-limits, severity: high}]
signatures:
  require: true
  keys: [keys/gate.pub]
admission:
  namespaces:
    legacy: {podSecurity: \"baseline:v1.29\"}
  exemptNamespaces: [kube-system]
  failurePolicy: Fail
  scanTimeout: 5s
  onScanTimeout: warn
  mutate: {pinDigests: true, defaultSeccomp: false}
";

fn errors(text: &str) -> Vec<PolicyError> {
    match Policy::from_yaml(text, "policy.yaml") {
        Ok(policy) => panic!("expected errors, got {policy:?}"),
        Err(PolicyErrors(errors)) => errors,
    }
}

#[test]
fn reads_the_design_policy() {
    let policy = Policy::from_yaml(FULL, "policy.yaml").unwrap();
    assert_eq!(policy.registries.allow.len(), 2);
    assert_eq!(policy.vulnerabilities.fail_on, FailOn::High);
    let exception = &policy.vulnerabilities.exceptions[0];
    assert_eq!(exception.expires, Some(time::macros::date!(2027 - 01 - 31)));
    assert!(exception.is_active(time::macros::date!(2027 - 01 - 31)));
    assert!(!exception.is_active(time::macros::date!(2027 - 02 - 01)));
    assert_eq!(policy.signatures.keys, vec![PathBuf::from("keys/gate.pub")]);
    assert_eq!(policy.admission.scan_timeout, Duration::from_secs(5));
    assert_eq!(policy.admission.on_scan_timeout, OnScanTimeout::Warn);
    assert!(policy.admission.mutate.pin_digests);

    let settings = policy.check_settings();
    let ids: Vec<&str> = settings.rules.iter().map(|r| r.rule.id()).collect();
    assert_eq!(
        ids,
        [
            "no-latest-tag",
            "read-only-root-fs",
            "resource-limits",
            "allowed-registries",
            "require-digest"
        ]
    );
    assert_eq!(settings.rules[2].severity, Severity::High);
    let nginx = portcullis_kube::ImageRef::parse("nginx:1.27").unwrap();
    let internal =
        portcullis_kube::ImageRef::parse("registry.example.internal/team/app:1").unwrap();
    assert!(!settings.registries.allows(&nginx));
    assert!(settings.registries.allows(&internal));

    assert!(matches!(
        policy.check_settings_for("kube-system"),
        NamespaceSettings::Exempt
    ));
    let NamespaceSettings::Judge(legacy) = policy.check_settings_for("legacy") else {
        panic!("legacy is checked")
    };
    assert_eq!(legacy.pod_security.to_string(), "baseline:v1.29");
    let NamespaceSettings::Judge(other) = policy.check_settings_for("shop") else {
        panic!("shop is checked")
    };
    assert_eq!(other.pod_security.to_string(), "restricted:latest");
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let errors = errors(
        "apiVersion: portcullis.dev/v1\nkind: Policy\nregistries:\n  allow: []\n  requireDigests: true\n",
    );
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.starts_with("policy.yaml:5:3: unknown field `requireDigests`"),
        "{text}"
    );
}

#[test]
fn wrong_type_names_the_place() {
    let errors = errors(
        "apiVersion: portcullis.dev/v1\nkind: Policy\nvulnerabilities:\n  ignoreUnfixed: sometimes\n",
    );
    assert_eq!(errors[0].position.map(|p| p.line), Some(4), "{}", errors[0]);
}

#[test]
fn every_bad_value_is_reported_with_its_position() {
    let text = "\
apiVersion: portcullis.dev/v2
kind: Policy
registries:
  allow: [\"ghcr.io/[unclosed\"]
vulnerabilities:
  failOn: severe
  exceptions:
    - {id: CVE-1, expires: 31/01/2027, reason: later}
    - {id: CVE-2}
workloads:
  podSecurity: baseline:1.29
  rules: [no-latest-tag, no-such-rule, {id: resource-limits, severity: urgent}, no-latest-tag]
signatures:
  require: true
admission:
  exemptNamespaces: [Kube_System]
  scanTimeout: 1h
  onScanTimeout: maybe
  failurePolicy: Open
";
    let errors = errors(text);
    let lines: Vec<(u32, &str)> = errors
        .iter()
        .map(|e| (e.position.map_or(0, |p| p.line), e.message.as_str()))
        .collect();
    let expect = [
        (1, "apiVersion must be"),
        (4, "registries.allow: invalid glob"),
        (6, "vulnerabilities.failOn"),
        (8, "expires \"31/01/2027\" is not a date"),
        (9, "CVE-2 needs a reason"),
        (11, "workloads.podSecurity: invalid pod security"),
        (12, "unknown rule \"no-such-rule\""),
        (12, "unknown severity \"urgent\""),
        (12, "listed twice"),
        (14, "signatures.require is true"),
        (16, "is not a namespace name"),
        (17, "admission.scanTimeout"),
        (18, "admission.onScanTimeout"),
        (19, "admission.failurePolicy"),
    ];
    for (line, fragment) in expect {
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == line && m.contains(fragment)),
            "no error at line {line} containing {fragment:?} in {lines:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{lines:#?}");
}

#[test]
fn missing_header_and_empty_file_are_errors() {
    let missing = errors("workloads: {podSecurity: baseline}\n");
    assert!(
        missing
            .iter()
            .any(|e| e.message.contains("apiVersion is missing"))
    );
    assert!(
        missing
            .iter()
            .any(|e| e.message.contains("kind is missing"))
    );
    let empty = errors("# nothing\n");
    assert_eq!(empty[0].message, "the policy is empty");
}

#[test]
fn explain_output_is_itself_a_valid_policy_with_the_same_effect() {
    let policy = Policy::from_yaml(FULL, "policy.yaml").unwrap();
    let yaml = policy.to_yaml();
    assert!(yaml.contains("failurePolicy: Fail"), "{yaml}");
    let again =
        Policy::from_yaml(&yaml, "explained.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(again.to_yaml(), yaml);
    let json: serde_json::Value = serde_json::from_str(&policy.to_json()).unwrap();
    assert_eq!(
        json["vulnerabilities"]["exceptions"][0]["expires"],
        "2027-01-31"
    );
    assert_eq!(json["workloads"]["podSecurity"], "restricted:latest");

    let defaults = Policy::default().to_yaml();
    let reparsed =
        Policy::from_yaml(&defaults, "defaults.yaml").unwrap_or_else(|e| panic!("{e}\n{defaults}"));
    assert_eq!(
        reparsed.check_settings().rules,
        CheckSettings::default().rules
    );
}

#[test]
fn alias_bomb_in_a_policy_is_refused() {
    let mut text = String::from(
        "apiVersion: portcullis.dev/v1\nkind: Policy\nx0: &a0 [a, a, a, a, a, a, a, a]\n",
    );
    for i in 1..10 {
        text.push_str(&format!(
            "x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let errors = errors(&text);
    assert_eq!(errors.len(), 1);
}

fn judged(settings: NamespaceSettings) -> Arc<CheckSettings> {
    match settings {
        NamespaceSettings::Judge(settings) => settings,
        NamespaceSettings::Exempt => panic!("expected the namespace to be judged"),
    }
}

#[test]
fn namespace_overrides_replace_level_and_rules_and_keep_registry_rules() {
    let policy = Policy::from_yaml(
        "apiVersion: portcullis.dev/v1
kind: Policy
registries: {allow: [\"ghcr.io/example/*\"]}
workloads:
  podSecurity: restricted
  rules: [no-latest-tag, read-only-root-fs]
admission:
  namespaces:
    legacy: {podSecurity: baseline}
    batch: {rules: [{id: resource-limits, severity: high}]}
  exemptNamespaces: [kube-system]
",
        "policy.yaml",
    )
    .unwrap();
    let checks = NamespaceChecks::from_policy(&policy);
    let ids = |s: &CheckSettings| s.rules.iter().map(|r| r.rule.id()).collect::<Vec<_>>();

    let legacy = judged(checks.settings_for("legacy", None));
    assert_eq!(legacy.pod_security.to_string(), "baseline:latest");
    assert_eq!(
        ids(&legacy),
        ["no-latest-tag", "read-only-root-fs", "allowed-registries"],
        "the policy's rules stay when only the level is overridden"
    );

    let batch = judged(checks.settings_for("batch", None));
    assert_eq!(batch.pod_security.to_string(), "restricted:latest");
    assert_eq!(ids(&batch), ["resource-limits", "allowed-registries"]);
    assert_eq!(batch.rules[0].severity, Severity::High);

    let other = judged(checks.settings_for("shop", None));
    assert_eq!(ids(&other), ids(&policy.check_settings()));
    assert!(matches!(
        checks.settings_for("kube-system", None),
        NamespaceSettings::Exempt
    ));
    assert!(checks.is_exempt("kube-system") && !checks.is_exempt("legacy"));
    // The one-off lookup on the policy is the same function.
    assert!(matches!(
        policy.check_settings_for("kube-system"),
        NamespaceSettings::Exempt
    ));
    assert_eq!(
        judged(policy.check_settings_for("legacy")).pod_security,
        legacy.pod_security
    );
}

#[test]
fn enforce_labels_only_make_a_namespace_stricter() {
    let policy = Policy::from_yaml(
        "apiVersion: portcullis.dev/v1
kind: Policy
workloads: {podSecurity: \"baseline:v1.29\"}
admission:
  namespaces:
    legacy: {podSecurity: privileged}
  exemptNamespaces: [kube-system]
",
        "policy.yaml",
    )
    .unwrap();
    let checks = NamespaceChecks::from_policy(&policy);
    let level = |ns: &str, label: &str| {
        judged(checks.settings_for(ns, Some(label.parse().unwrap())))
            .pod_security
            .to_string()
    };
    assert_eq!(level("shop", "restricted:v1.30"), "restricted:v1.30");
    assert_eq!(
        level("shop", "privileged:latest"),
        "baseline:v1.29",
        "a weaker label changes nothing"
    );
    assert_eq!(
        level("shop", "baseline:latest"),
        "baseline:v1.29",
        "on the same level the policy's version stays"
    );
    assert_eq!(level("legacy", "baseline:v1.28"), "baseline:v1.28");
    assert!(matches!(
        checks.settings_for("kube-system", Some(PodSecurity::default())),
        NamespaceSettings::Exempt
    ));
}

#[test]
fn a_command_line_level_overrides_every_judged_namespace() {
    let policy = Policy::from_yaml(FULL, "policy.yaml").unwrap();
    let mut checks = NamespaceChecks::from_policy(&policy);
    checks.override_pod_security("privileged".parse().unwrap());
    for namespace in ["legacy", "shop"] {
        assert_eq!(
            judged(checks.settings_for(namespace, None))
                .pod_security
                .to_string(),
            "privileged:latest"
        );
    }
    assert!(matches!(
        checks.settings_for("kube-system", None),
        NamespaceSettings::Exempt
    ));
}
