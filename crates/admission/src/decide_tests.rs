//! Decisions on the real AdmissionReview fixtures, under policies written out
//! here. Expected decisions come from reading each fixture (which container
//! is privileged, which image comes from where); the end-to-end tests repeat
//! them over TLS through the binary and compare with `portcullis check`.

use std::sync::Arc;
use std::time::Duration;

use portcullis_kube::PodSecurity;
use serde_json::Value;

use super::*;
use crate::review::parse_review;
use crate::verdicts::{CacheSettings, ImageVerdict, ImageVerdicts, Resolution, VerdictError};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/k8s/admission-reviews/"
);

/// Reads a fixture as a v1 AdmissionReview body: bare AdmissionRequests are
/// wrapped, as the fixtures' README says to.
fn review_body(rel: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{DIR}{rel}")).expect("fixture");
    let value: Value = serde_json::from_str(&text).expect("json fixture");
    if value.get("request").is_some() {
        return text.into_bytes();
    }
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": value,
    }))
    .expect("serialize")
}

/// A gatekeeper v1beta1 UPDATE sample made into a v1 review with a uid.
fn gatekeeper_as_v1(rel: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{DIR}{rel}")).expect("fixture");
    let mut value: Value = serde_saphyr::from_str(&text).expect("yaml fixture");
    value["apiVersion"] = "admission.k8s.io/v1".into();
    value["request"]["uid"] = "gatekeeper-update".into();
    value["request"]["kind"] = serde_json::json!({"group": "", "version": "v1", "kind": "Pod"});
    value["request"]["resource"] =
        serde_json::json!({"group": "", "version": "v1", "resource": "pods"});
    serde_json::to_vec(&value).expect("serialize")
}

/// Baseline everywhere, no hardening rules; `customer-1` is held to restricted.
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

/// Baseline plus a registry allow-list and no `latest` tags.
const REGISTRY_POLICY: &str = "apiVersion: portcullis.dev/v1
kind: Policy
registries:
  allow: [\"ghcr.io/kubewarden/*\"]
workloads:
  podSecurity: baseline:latest
  rules: [no-latest-tag]
";

fn settings(policy: &str) -> AdmissionSettings {
    let policy = portcullis_policy::Policy::from_yaml(policy, "policy.yaml").expect("valid policy");
    AdmissionSettings::from_policy(&policy, Duration::from_secs(8))
}

fn baseline_policy() -> AdmissionSettings {
    settings(BASELINE_POLICY)
}

fn registry_policy() -> AdmissionSettings {
    settings(REGISTRY_POLICY)
}

async fn decide(admission: &Admission, endpoint: Endpoint, body: &[u8]) -> AdmissionResponse {
    let request = parse_review(body).expect("valid review");
    let uid = request.uid.clone();
    let reviewed = admission.decide(endpoint, request).await;
    assert_eq!(reviewed.response.uid, uid, "uid echoed");
    reviewed.response
}

/// Every request fixture, with its decision under the baseline policy and
/// under the registry policy (`true` = allowed).
const EXPECTED: &[(&str, bool, bool)] = &[
    ("derived/deployment-delete-dryrun.json", true, true),
    // customer-1 is restricted; the update changes the image, so it is judged.
    (
        "derived/deployment-update-with-oldObject.json",
        false,
        false,
    ),
    ("derived/pod-create-dryrun.json", true, false),
    ("derived/pod-delete.json", true, true),
    ("derived/pod-update-with-oldObject.json", true, false),
    (
        "kubewarden-raw-requests/pod-privileged-policy/deployment_with_privileged_containers.json",
        false,
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/no_privileged_containers.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_container.json",
        false,
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_ephemeral_container.json",
        false,
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/privileged_init_container.json",
        false,
        false,
    ),
    (
        "kubewarden-raw-requests/pod-privileged-policy/statefulset_with_privileged_container.json",
        false,
        false,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/cronjob_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/daemonset_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/deployment_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/ingress_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/job_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation_implicit_latest.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/pod_creation_latest.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/replicaset_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/replicationcontroller_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/trusted-repos-policy/statefulset_creation.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/cronjob_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/cronjob_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/daemonset_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/daemonset_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/deployment_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/deployment_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/job_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/job_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed_with_certificate.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_signed_with_keyless_mode.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_unsigned.json",
        true,
        true,
    ),
    // nginx from Docker Hub: outside the allow-list.
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_with_digest.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/pod_creation_with_init_container.json",
        true,
        false,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicaset_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicaset_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicationcontroller_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/replicationcontroller_creation_unsigned.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/statefulset_creation_signed.json",
        true,
        true,
    ),
    (
        "kubewarden-raw-requests/verify-image-signatures/statefulset_creation_unsigned.json",
        true,
        true,
    ),
    ("kubewarden-wrapped-v1/deployment-create.json", false, false),
    (
        "kubewarden-wrapped-v1/pod-create-privileged-kwctl.json",
        false,
        false,
    ),
    (
        "kubewarden-wrapped-v1/pod-create-privileged.json",
        false,
        false,
    ),
    (
        "kubewarden-wrapped-v1/pod-create-unprivileged.json",
        true,
        false,
    ),
];

#[tokio::test]
async fn every_request_fixture_gets_its_expected_decision() {
    let baseline = Admission::new(baseline_policy(), None, None);
    let registry = Admission::new(registry_policy(), None, None);
    let mut failures = Vec::new();
    for (rel, baseline_allows, registry_allows) in EXPECTED {
        let body = review_body(rel);
        for (name, admission, want) in [
            ("baseline", &baseline, baseline_allows),
            ("registry", &registry, registry_allows),
        ] {
            let response = decide(admission, Endpoint::Validate, &body).await;
            if response.allowed != *want {
                failures.push(format!(
                    "{rel} under {name}: allowed={} ({:?})",
                    response.allowed, response.status
                ));
            }
            if !response.allowed {
                let status = response.status.as_ref().expect("denial has a status");
                assert_eq!(status.code, 403);
                assert!(status.message.contains("\n- ["), "{}", status.message);
                assert_eq!(
                    response
                        .audit_annotations
                        .get("decision")
                        .map(String::as_str),
                    Some("denied")
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The table covers every request fixture there is.
    let mut on_disk = Vec::new();
    for dir in [
        "derived",
        "kubewarden-raw-requests/pod-privileged-policy",
        "kubewarden-raw-requests/trusted-repos-policy",
        "kubewarden-raw-requests/verify-image-signatures",
        "kubewarden-wrapped-v1",
    ] {
        for entry in std::fs::read_dir(format!("{DIR}{dir}")).expect("dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".json") && !name.starts_with("response-") {
                on_disk.push(format!("{dir}/{name}"));
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = EXPECTED
        .iter()
        .map(|(rel, _, _)| (*rel).to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, on_disk);
}

#[tokio::test]
async fn denial_lists_each_violation_with_rule_container_and_field() {
    let admission = Admission::new(baseline_policy(), None, None);
    let response = decide(
        &admission,
        Endpoint::Validate,
        &review_body(
            "kubewarden-raw-requests/pod-privileged-policy/privileged_init_container.json",
        ),
    )
    .await;
    let message = response.status.expect("status").message;
    assert_eq!(
        message,
        "portcullis denied Pod/nginx: 1 violation of the policy\n- [pss/privileged] container \"nginx\" spec.initContainers[0].securityContext.privileged: privileged (container \"nginx\" must not set securityContext.privileged=true)"
    );
    assert_eq!(
        response
            .audit_annotations
            .get("violations")
            .map(String::as_str),
        Some("pss/privileged")
    );
    assert_eq!(
        response
            .audit_annotations
            .get("pod-security")
            .map(String::as_str),
        Some("baseline:latest")
    );
}

#[tokio::test]
async fn ephemeral_containers_subresource_is_judged_other_subresources_are_not() {
    let admission = Admission::new(baseline_policy(), None, None);
    let mut review: Value = serde_json::from_slice(&review_body(
        "kubewarden-raw-requests/pod-privileged-policy/privileged_ephemeral_container.json",
    ))
    .expect("json");
    review["request"]["operation"] = "UPDATE".into();
    review["request"]["subResource"] = "ephemeralcontainers".into();
    let body = serde_json::to_vec(&review).expect("json");
    assert!(!decide(&admission, Endpoint::Validate, &body).await.allowed);
    review["request"]["subResource"] = "status".into();
    let body = serde_json::to_vec(&review).expect("json");
    assert!(decide(&admission, Endpoint::Validate, &body).await.allowed);
}

#[tokio::test]
async fn gatekeeper_update_samples_are_denied_on_update() {
    let admission = Admission::new(baseline_policy(), None, None);
    for (rel, rule) in [
        (
            "gatekeeper-library-update/capabilities-update.yaml",
            "pss/capabilities_baseline",
        ),
        (
            "gatekeeper-library-update/host-namespaces-update.yaml",
            "pss/hostNamespaces",
        ),
        (
            "gatekeeper-library-update/privileged-containers-update.yaml",
            "pss/privileged",
        ),
    ] {
        let response = decide(&admission, Endpoint::Validate, &gatekeeper_as_v1(rel)).await;
        assert!(!response.allowed, "{rel}");
        let violations = response
            .audit_annotations
            .get("violations")
            .cloned()
            .unwrap_or_default();
        assert!(
            violations.split(',').any(|v| v == rule),
            "{rel}: {violations}"
        );
    }
}

#[tokio::test]
async fn metadata_only_updates_are_allowed_spec_changes_are_judged() {
    let admission = Admission::new(baseline_policy(), None, None);
    // A privileged pod admitted earlier gets a new label: allowed, as PSA does.
    let mut review: Value = serde_json::from_slice(&review_body(
        "kubewarden-wrapped-v1/pod-create-privileged.json",
    ))
    .expect("json");
    review["request"]["operation"] = "UPDATE".into();
    review["request"]["oldObject"] = review["request"]["object"].clone();
    review["request"]["object"]["metadata"]["labels"]["tier"] = "web".into();
    let body = serde_json::to_vec(&review).expect("json");
    assert!(decide(&admission, Endpoint::Validate, &body).await.allowed);
    // The same update that also changes an image is judged, and denied.
    review["request"]["object"]["spec"]["containers"][1]["image"] = "nginx:1.27".into();
    let body = serde_json::to_vec(&review).expect("json");
    assert!(!decide(&admission, Endpoint::Validate, &body).await.allowed);
}

#[tokio::test]
async fn exempt_namespaces_are_allowed_with_an_audit_note() {
    let settings = settings(&format!("{BASELINE_POLICY}  exemptNamespaces: [default]\n"));
    let admission = Admission::new(settings, None, None);
    let response = decide(
        &admission,
        Endpoint::Validate,
        &review_body("kubewarden-wrapped-v1/pod-create-privileged.json"),
    )
    .await;
    assert!(response.allowed);
    assert!(response.audit_annotations.contains_key("exempt"));
}

#[tokio::test]
async fn namespace_labels_make_the_level_stricter_never_weaker() {
    struct Labels;
    impl NamespaceLevels for Labels {
        fn level(&self, namespace: &str) -> Option<PodSecurity> {
            match namespace {
                "default" => Some("restricted:latest".parse().expect("level")),
                "customer-1" => Some("privileged:latest".parse().expect("level")),
                _ => None,
            }
        }
    }
    let admission = Admission::new(baseline_policy(), None, Some(Arc::new(Labels)));
    let level = |namespace: &str| match admission.check_settings(namespace) {
        NamespaceSettings::Judge(check) => check.pod_security.to_string(),
        NamespaceSettings::Exempt => "exempt".to_owned(),
    };
    assert_eq!(level("default"), "restricted:latest");
    assert_eq!(level("customer-1"), "restricted:latest");
    assert_eq!(level("other"), "baseline:latest");
    let response = decide(
        &admission,
        Endpoint::Validate,
        &review_body("kubewarden-wrapped-v1/pod-create-unprivileged.json"),
    )
    .await;
    assert!(!response.allowed, "restricted by label");
}

#[tokio::test]
async fn malformed_workloads_are_denied_not_skipped() {
    let admission = Admission::new(baseline_policy(), None, None);
    let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"resource":"deployments"},"operation":"CREATE","object":{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":"nope"}}}}}}"#;
    let response = decide(&admission, Endpoint::Validate, body).await;
    assert!(!response.allowed);
    let message = response.status.expect("status").message;
    assert!(
        message.contains("spec.template.spec.containers"),
        "{message}"
    );
    let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","kind":{"kind":"Pod","version":"v1"},"resource":{"resource":"pods"},"operation":"CREATE"}}"#;
    assert!(
        !decide(&admission, Endpoint::Validate, body).await.allowed,
        "CREATE without object"
    );
}

/// Vulnerability verdicts from a scanner that takes real time: images whose
/// name says `vulnerable` have a critical finding.
struct SlowScanner {
    scan_time: Duration,
}

impl ImageVerdicts for SlowScanner {
    fn resolve_digest(&self, image: &str) -> Result<Resolution, VerdictError> {
        let digest_of = |text: &str| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in text.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
            format!("sha256:{}", format!("{hash:016x}").repeat(4))
        };
        // Every tag names an index whose amd64 manifest is another digest.
        Ok(Resolution {
            digest: digest_of(image),
            platform_digest: digest_of(&format!("{image} linux/amd64")),
        })
    }

    fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError> {
        std::thread::sleep(self.scan_time);
        let vulnerable = image.contains("vulnerable");
        // A tag's index is scanned through its amd64 manifest.
        let scanned = match crate::verdicts::pinned_digest(image) {
            Some(_) => digest.to_owned(),
            None => self.resolve_digest(image)?.platform_digest,
        };
        Ok(ImageVerdict {
            digest: scanned,
            denials: if vulnerable {
                vec![
                    "CVE-2024-45490 critical in libexpat1 2.5.0-1, fixed in 2.5.0-1+deb12u1".into(),
                ]
            } else {
                Vec::new()
            },
            warnings: vec!["CVE-2023-0001 low in zlib1g (not fixed)".into()],
        })
    }
}

fn with_scanner(
    mut settings: AdmissionSettings,
    scan_time: Duration,
    budget: Duration,
) -> Admission {
    settings.scan_budget = budget;
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let cache = VerdictCache::new(
        Arc::new(SlowScanner { scan_time }),
        &CacheSettings::default(),
        metrics,
    );
    Admission::new(settings, Some(Arc::new(cache)), None)
}

fn pod_with_image(image: &str) -> Vec<u8> {
    let mut review: Value = serde_json::from_slice(&review_body(
        "kubewarden-wrapped-v1/pod-create-unprivileged.json",
    ))
    .expect("json");
    review["request"]["object"]["spec"]["containers"][1]["image"] = image.into();
    serde_json::to_vec(&review).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulnerable_images_are_denied_clean_ones_admitted_with_warnings() {
    let admission = with_scanner(
        baseline_policy(),
        Duration::from_millis(20),
        Duration::from_secs(5),
    );
    let denied = decide(
        &admission,
        Endpoint::Validate,
        &pod_with_image("registry.example/vulnerable:1"),
    )
    .await;
    assert!(!denied.allowed);
    let message = denied.status.expect("status").message;
    assert!(
        message.contains("[vulnerabilities]") && message.contains("CVE-2024-45490"),
        "{message}"
    );
    let allowed = decide(
        &admission,
        Endpoint::Validate,
        &pod_with_image("registry.example/clean:1"),
    )
    .await;
    assert!(allowed.allowed);
    assert!(
        allowed.warnings.iter().any(|w| w.contains("CVE-2023-0001")),
        "{:?}",
        allowed.warnings
    );
    assert!(
        allowed
            .audit_annotations
            .get("judged-images")
            .is_some_and(|j| j.contains("registry.example/clean:1=sha256:"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_verdicts_follow_the_policy_choice() {
    let body = pod_with_image("registry.example/slow:1");
    let deny = with_scanner(
        baseline_policy(),
        Duration::from_millis(400),
        Duration::from_millis(50),
    );
    let response = decide(&deny, Endpoint::Validate, &body).await;
    assert!(!response.allowed);
    assert!(
        response.status.expect("status").message.contains("retry"),
        "deny says to retry"
    );
    // The scan went on: a retry after it finished is judged from the cache.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(decide(&deny, Endpoint::Validate, &body).await.allowed);

    let mut settings = baseline_policy();
    settings.on_scan_timeout = OnScanTimeout::Warn;
    let warn = with_scanner(
        settings,
        Duration::from_millis(400),
        Duration::from_millis(50),
    );
    let response = decide(&warn, Endpoint::Validate, &body).await;
    assert!(response.allowed);
    assert!(
        response
            .warnings
            .iter()
            .any(|w| w.contains("before its vulnerability scan finished"))
    );
    assert!(
        response
            .audit_annotations
            .get("unscanned-images")
            .is_some_and(|i| i.contains("registry.example/slow:1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_pins_judged_digests_and_adds_runtime_default_seccomp() {
    let mut settings = baseline_policy();
    settings.mutate = MutateSettings {
        pin_digests: true,
        default_seccomp: true,
    };
    let admission = with_scanner(settings, Duration::ZERO, Duration::from_secs(5));
    let response = decide(
        &admission,
        Endpoint::Mutate,
        &review_body("kubewarden-wrapped-v1/pod-create-unprivileged.json"),
    )
    .await;
    assert!(response.allowed);
    assert_eq!(response.patch_type, Some("JSONPatch"));
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response.patch.expect("patch"))
        .expect("base64");
    let patch: Value = serde_json::from_slice(&patch).expect("json patch");
    let operations = patch.as_array().expect("array");
    let alpine = operations
        .iter()
        .find(|op| op["path"] == "/spec/containers/0/image")
        .expect("alpine pinned");
    assert_eq!(alpine["op"], "replace");
    // Pinned to what the tag names (the index), not to the amd64 manifest
    // the verdict was computed on, which the audit annotation names.
    let resolved = SlowScanner {
        scan_time: Duration::ZERO,
    }
    .resolve_digest("alpine")
    .expect("resolved");
    assert_eq!(
        alpine["value"].as_str(),
        Some(format!("alpine@{}", resolved.digest).as_str()),
        "{alpine}"
    );
    assert!(
        response
            .audit_annotations
            .get("scanned-manifests")
            .is_some_and(|s| s.contains(&format!("alpine={}", resolved.platform_digest))),
        "{:?}",
        response.audit_annotations
    );
    assert!(
        operations
            .iter()
            .any(|op| op["path"] == "/spec/containers/1/image")
    );
    // The pod has an empty securityContext: the profile is added inside it.
    let seccomp = operations
        .iter()
        .find(|op| op["path"] == "/spec/securityContext/seccompProfile")
        .expect("seccomp added");
    assert_eq!(
        seccomp["value"],
        serde_json::json!({"type": "RuntimeDefault"})
    );

    // A Deployment without a pod securityContext gets the whole object, at the template's path.
    let response = decide(
        &admission,
        Endpoint::Mutate,
        &review_body("kubewarden-wrapped-v1/deployment-create.json"),
    )
    .await;
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(response.patch.expect("patch"))
            .expect("base64"),
    )
    .expect("json");
    assert!(
        patch.as_array().expect("array").iter().any(|op| op["path"]
            == "/spec/template/spec/securityContext"
            && op["value"] == serde_json::json!({"seccompProfile": {"type": "RuntimeDefault"}})),
        "{patch}"
    );
}

#[tokio::test]
async fn mutation_is_off_unless_the_policy_asks() {
    let admission = Admission::new(baseline_policy(), None, None);
    let response = decide(
        &admission,
        Endpoint::Mutate,
        &review_body("kubewarden-wrapped-v1/pod-create-privileged.json"),
    )
    .await;
    assert!(response.allowed, "mutation never refuses; validation does");
    assert!(response.patch.is_none());
}

#[tokio::test]
async fn dry_run_is_judged_like_the_real_request() {
    let admission = Admission::new(registry_policy(), None, None);
    let real = decide(
        &admission,
        Endpoint::Validate,
        &review_body("kubewarden-wrapped-v1/pod-create-unprivileged.json"),
    )
    .await;
    let dry = decide(
        &admission,
        Endpoint::Validate,
        &review_body("derived/pod-create-dryrun.json"),
    )
    .await;
    assert_eq!(real.allowed, dry.allowed);
    assert_eq!(
        real.status.map(|s| s.message),
        dry.status.map(|s| s.message)
    );
}

#[test]
fn policy_admission_section_reaches_the_settings() {
    let settings = settings(
        "apiVersion: portcullis.dev/v1
kind: Policy
admission:
  exemptNamespaces: [monitoring]
  scanTimeout: 30s
  onScanTimeout: warn
  mutate: {pinDigests: true, defaultSeccomp: true}
  namespaces:
    legacy:
      podSecurity: privileged
",
    );
    assert!(settings.namespaces.is_exempt("monitoring"));
    assert_eq!(settings.on_scan_timeout, OnScanTimeout::Warn);
    assert_eq!(
        settings.scan_budget,
        Duration::from_secs(8),
        "capped below the webhook timeout"
    );
    assert!(settings.mutate.pin_digests && settings.mutate.default_seccomp);
    let NamespaceSettings::Judge(legacy) = settings.namespaces.settings_for("legacy", None) else {
        panic!("legacy is judged")
    };
    assert_eq!(legacy.pod_security.to_string(), "privileged:latest");
}
