//! The admission decision: one request in, one response out, under the one
//! policy.
//!
//! - CREATE and UPDATE of every kind with a pod template (and a Pod's
//!   `ephemeralcontainers` subresource, which `kubectl debug` uses) are judged
//!   with [`portcullis_kube::evaluate`], the very function `portcullis check`
//!   calls, so both reach the same verdict on the same object.
//! - DELETE and CONNECT, other subresources and other kinds are allowed untouched.
//! - An UPDATE that leaves the pod template's spec as it was (labels,
//!   annotations, replicas) is allowed, as Pod Security Admission does, so a
//!   workload admitted under an older policy can still be scaled or relabelled.
//! - Images are judged through the [`VerdictCache`]; when a verdict is not
//!   ready within the budget the policy chooses: deny with a message to
//!   retry, or admit with a warning and an audit annotation.
//! - `dryRun` requests are judged exactly like real ones, scans included: a
//!   scan only fills this process's cache, which is not a side effect on the
//!   cluster (the webhooks declare `sideEffects: None`), and a dry run that
//!   answered differently from the real request would mislead.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use portcullis_kube::{PodSecurity, Severity, Violation, Workload, WorkloadError};
use portcullis_policy::{NamespaceChecks, NamespaceSettings};
use serde_json::{Value, json};

use crate::metrics::Endpoint;
use crate::review::{AdmissionRequest, AdmissionResponse, Operation, Status};
use crate::server::{BoxFuture, Reviewed, Reviewer};
use crate::verdicts::{Judged, Lookup, VerdictCache};

/// What to do when an image's verdict is not ready within the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnScanTimeout {
    /// Refuse, telling the user to retry (the scan goes on and is cached).
    #[default]
    Deny,
    /// Admit with a warning and an audit annotation.
    Warn,
}

/// Opt-in mutations applied on `/mutate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MutateSettings {
    /// Rewrite image tags to the digests they resolved to in the registry
    /// (an index digest for a multi-platform image), whose judged platform
    /// manifest is what the verdict is about.
    pub pin_digests: bool,
    /// Add `seccompProfile: RuntimeDefault` to pods that set none.
    pub default_seccomp: bool,
}

/// Everything the webhook decides with, built from the policy file.
#[derive(Debug, Clone)]
pub struct AdmissionSettings {
    /// The checks per namespace and the exempt namespaces: the very
    /// settings `portcullis check` applies to an object of that namespace.
    pub namespaces: NamespaceChecks,
    /// Violations at or above this severity deny; lower ones only warn.
    pub deny_at: Severity,
    /// What to do when a verdict is late.
    pub on_scan_timeout: OnScanTimeout,
    /// How long a request may wait for image verdicts.
    pub scan_budget: Duration,
    /// Mutations on `/mutate`.
    pub mutate: MutateSettings,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        Self {
            namespaces: NamespaceChecks::default(),
            deny_at: Severity::Low,
            on_scan_timeout: OnScanTimeout::Deny,
            scan_budget: Duration::from_secs(7),
            mutate: MutateSettings::default(),
        }
    }
}

impl AdmissionSettings {
    /// The settings a policy file gives the webhook: the same check settings
    /// `portcullis check` uses (per namespace where the policy says so), its
    /// exemptions, scan budget and timeout choice, and mutations. The scan
    /// budget is capped at `max_budget` so an answer always reaches the API
    /// server before its webhook timeout.
    pub fn from_policy(policy: &portcullis_policy::Policy, max_budget: Duration) -> Self {
        Self {
            namespaces: NamespaceChecks::from_policy(policy),
            deny_at: Severity::Low,
            on_scan_timeout: match policy.admission.on_scan_timeout {
                portcullis_policy::OnScanTimeout::Deny => OnScanTimeout::Deny,
                portcullis_policy::OnScanTimeout::Warn => OnScanTimeout::Warn,
            },
            scan_budget: policy.admission.scan_timeout.min(max_budget),
            mutate: MutateSettings {
                pin_digests: policy.admission.mutate.pin_digests,
                default_seccomp: policy.admission.mutate.default_seccomp,
            },
        }
    }
}

/// Pod security levels that namespaces carry in their
/// `pod-security.kubernetes.io/enforce[-version]` labels, as last seen by a
/// watch on the API (never a call per request).
pub trait NamespaceLevels: Send + Sync + 'static {
    /// The level a namespace's labels enforce, if it has the label.
    fn level(&self, namespace: &str) -> Option<PodSecurity>;
}

/// The judge behind `/validate` and `/mutate`.
pub struct Admission {
    settings: AdmissionSettings,
    verdicts: Option<Arc<VerdictCache>>,
    namespaces: Option<Arc<dyn NamespaceLevels>>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("settings", &self.settings)
            .field("verdicts", &self.verdicts)
            .finish_non_exhaustive()
    }
}

/// One finding in a decision, before it becomes a message line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    rule: String,
    container: Option<String>,
    field: Option<String>,
    message: String,
}

impl Finding {
    fn from_violation(violation: &Violation) -> Self {
        Self {
            rule: violation.rule.id(),
            container: violation.container.clone(),
            field: violation.field.as_ref().map(ToString::to_string),
            message: violation.message.clone(),
        }
    }

    fn line(&self) -> String {
        let mut line = format!("[{}]", self.rule);
        if let Some(container) = &self.container {
            let _ = write!(line, " container {container:?}");
        }
        if let Some(field) = &self.field {
            let _ = write!(line, " {field}");
        }
        let _ = write!(line, ": {}", self.message);
        line
    }
}

/// The outcome of judging one object.
#[derive(Debug, Default)]
struct Judgement {
    denials: Vec<Finding>,
    warnings: Vec<String>,
    audit: BTreeMap<String, String>,
    /// Image reference → the digest it names (an index for a multi-platform
    /// image), for pinning.
    digests: BTreeMap<String, String>,
    /// Image reference → the platform manifest whose packages were judged.
    scanned: BTreeMap<String, String>,
}

/// The answer for a request in a namespace the policy exempts: allowed,
/// with an audit note saying why.
fn exempt(request: &AdmissionRequest, namespace: &str) -> Reviewed {
    let mut response = AdmissionResponse::allow(&request.uid);
    response.audit_annotations.insert(
        "exempt".into(),
        format!("namespace {namespace} is exempt by policy"),
    );
    Reviewed {
        response,
        decision: "allowed",
    }
}

/// Walks a JSON value along a kube field path.
fn value_at<'v>(value: &'v Value, path: &portcullis_kube::FieldPath) -> Option<&'v Value> {
    path.segments()
        .iter()
        .try_fold(value, |v, segment| match segment {
            portcullis_kube::path::Segment::Key(k) => v.get(k.as_str()),
            portcullis_kube::path::Segment::Index(i) => v.get(*i),
        })
}

/// The JSON pointer (RFC 6901) of a kube field path.
fn pointer(path: &portcullis_kube::FieldPath) -> String {
    let mut out = String::new();
    for segment in path.segments() {
        out.push('/');
        match segment {
            portcullis_kube::path::Segment::Key(k) => {
                out.push_str(&k.replace('~', "~0").replace('/', "~1"))
            }
            portcullis_kube::path::Segment::Index(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out
}

impl Admission {
    /// A judge with the given settings; `verdicts` is `None` when images are
    /// not scanned, `namespaces` when Namespace labels cannot be read.
    pub fn new(
        settings: AdmissionSettings,
        verdicts: Option<Arc<VerdictCache>>,
        namespaces: Option<Arc<dyn NamespaceLevels>>,
    ) -> Self {
        Self {
            settings,
            verdicts,
            namespaces,
        }
    }

    /// The checks that apply in `namespace` (the policy's for it, made
    /// stricter by the namespace's enforce label if any), or
    /// [`NamespaceSettings::Exempt`]: the policy crate's one decision, shared
    /// with `portcullis check`.
    pub fn check_settings(&self, namespace: &str) -> NamespaceSettings {
        let label = self.namespaces.as_ref().and_then(|n| n.level(namespace));
        self.settings.namespaces.settings_for(namespace, label)
    }

    /// Judges one request for one endpoint.
    pub async fn decide(&self, endpoint: Endpoint, mut request: AdmissionRequest) -> Reviewed {
        // The object moves into the workload model: no copy on the hot path.
        let object = request.object.take();
        self.decide_object(endpoint, &request, object).await
    }

    async fn decide_object(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest,
        object: Option<Value>,
    ) -> Reviewed {
        let allow = |decision: &'static str| Reviewed {
            response: AdmissionResponse::allow(&request.uid),
            decision,
        };
        if matches!(request.operation, Operation::Delete | Operation::Connect) {
            return allow("allowed");
        }
        let judged_subresource =
            request.resource == "pods" && request.sub_resource == "ephemeralcontainers";
        if !request.sub_resource.is_empty() && !judged_subresource {
            return allow("allowed");
        }
        if self.settings.namespaces.is_exempt(&request.namespace) {
            return exempt(request, &request.namespace);
        }
        let Some(object) = object else {
            return self.deny(
                request,
                vec![Finding {
                    rule: "admission/object".into(),
                    container: None,
                    field: Some("request.object".into()),
                    message: format!("{} request without an object", request.operation.as_str()),
                }],
                Judgement::default(),
            );
        };
        let object = with_type(object, request);
        // Keep a copy only when an UPDATE needs it for comparison.
        let updated = (request.operation == Operation::Update && request.old_object.is_some())
            .then(|| object.clone());
        let workload = match Workload::from_json(object) {
            Ok(workload) => workload,
            Err(WorkloadError::UnsupportedKind { .. }) => return allow("allowed"),
            Err(error) => {
                return self.deny(
                    request,
                    vec![Finding {
                        rule: "admission/object".into(),
                        container: None,
                        field: error.path().map(ToString::to_string),
                        message: format!("the object cannot be read: {error}"),
                    }],
                    Judgement::default(),
                );
            }
        };
        if let Some(object) = &updated
            && self.spec_unchanged(&workload, object, request)
        {
            return allow("allowed");
        }

        let namespace = if request.namespace.is_empty() {
            workload.namespace.clone().unwrap_or_default()
        } else {
            request.namespace.clone()
        };
        let check = match self.check_settings(&namespace) {
            NamespaceSettings::Judge(check) => check,
            NamespaceSettings::Exempt => return exempt(request, &namespace),
        };
        let mut judgement = Judgement::default();
        for violation in portcullis_kube::evaluate(&workload, &check) {
            let finding = Finding::from_violation(&violation);
            if violation.severity >= self.settings.deny_at {
                judgement.denials.push(finding);
            } else {
                judgement.warnings.push(finding.line());
            }
        }
        judgement
            .audit
            .insert("pod-security".into(), check.pod_security.to_string());
        self.judge_images(&workload, &mut judgement).await;

        match endpoint {
            Endpoint::Validate if !judgement.denials.is_empty() => {
                let denials = std::mem::take(&mut judgement.denials);
                self.deny(request, denials, judgement)
            }
            Endpoint::Validate => self.admit(request, judgement, None),
            Endpoint::Mutate => {
                let patch = self.patch(&workload, &judgement);
                // Mutation never refuses: `/validate` does, after the patch.
                self.admit(request, judgement, patch)
            }
        }
    }

    fn spec_unchanged(
        &self,
        workload: &Workload,
        object: &Value,
        request: &AdmissionRequest,
    ) -> bool {
        let Some(old) = &request.old_object else {
            return false;
        };
        let path = workload.pod_spec_path();
        match (value_at(object, &path), value_at(old, &path)) {
            (Some(new), Some(old)) => new == old,
            _ => false,
        }
    }

    async fn judge_images(&self, workload: &Workload, judgement: &mut Judgement) {
        let Some(verdicts) = &self.verdicts else {
            return;
        };
        let spec = &workload.template.spec;
        let mut images: Vec<&str> = Vec::new();
        for container in spec
            .init_containers
            .iter()
            .chain(&spec.containers)
            .chain(&spec.ephemeral_containers)
        {
            if let Some(image) = container.image.as_deref()
                && !images.contains(&image)
            {
                images.push(image);
            }
        }
        if images.is_empty() {
            return;
        }
        let deadline = Instant::now() + self.settings.scan_budget;
        let lookups: Vec<(String, Lookup)> = if let [image] = images.as_slice() {
            vec![((*image).to_owned(), verdicts.verdict(image, deadline).await)]
        } else {
            // Ask for every image at once so their scans overlap.
            let mut set = tokio::task::JoinSet::new();
            for (index, image) in images.iter().enumerate() {
                let verdicts = Arc::clone(verdicts);
                let image = (*image).to_owned();
                set.spawn(async move {
                    let lookup = verdicts.verdict(&image, deadline).await;
                    (index, image, lookup)
                });
            }
            let mut done = Vec::with_capacity(images.len());
            while let Some(joined) = set.join_next().await {
                if let Ok(found) = joined {
                    done.push(found);
                }
            }
            done.sort_by_key(|(index, _, _)| *index);
            done.into_iter()
                .map(|(_, image, lookup)| (image, lookup))
                .collect()
        };
        let mut unscanned = Vec::new();
        for (image, lookup) in lookups {
            match lookup {
                Lookup::Ready(Judged { digest, verdict }) => {
                    for denial in &verdict.denials {
                        judgement.denials.push(Finding {
                            rule: "vulnerabilities".into(),
                            container: None,
                            field: None,
                            message: format!("image {image} ({}): {denial}", verdict.digest),
                        });
                    }
                    for warning in &verdict.warnings {
                        judgement.warnings.push(format!("image {image}: {warning}"));
                    }
                    judgement
                        .scanned
                        .insert(image.clone(), verdict.digest.clone());
                    judgement.digests.insert(image, digest);
                }
                Lookup::Pending => match self.settings.on_scan_timeout {
                    OnScanTimeout::Deny => judgement.denials.push(Finding {
                        rule: "vulnerabilities/scan-pending".into(),
                        container: None,
                        field: None,
                        message: format!(
                            "image {image} is still being scanned (budget {:?}); retry in a moment",
                            self.settings.scan_budget
                        ),
                    }),
                    OnScanTimeout::Warn => {
                        judgement.warnings.push(format!(
                            "image {image} admitted before its vulnerability scan finished"
                        ));
                        unscanned.push(image);
                    }
                },
                Lookup::Failed(error) => judgement.denials.push(Finding {
                    rule: "vulnerabilities/scan-failed".into(),
                    container: None,
                    field: None,
                    message: error.to_string(),
                }),
            }
        }
        if !unscanned.is_empty() {
            judgement
                .audit
                .insert("unscanned-images".into(), unscanned.join(","));
        }
        if !judgement.digests.is_empty() {
            let judged: Vec<String> = judgement
                .digests
                .iter()
                .map(|(image, digest)| format!("{image}={digest}"))
                .collect();
            judgement
                .audit
                .insert("judged-images".into(), judged.join(","));
        }
        if !judgement.scanned.is_empty() {
            let scanned: Vec<String> = judgement
                .scanned
                .iter()
                .map(|(image, digest)| format!("{image}={digest}"))
                .collect();
            judgement
                .audit
                .insert("scanned-manifests".into(), scanned.join(","));
        }
    }

    /// The JSONPatch of the opt-in mutations, if any applies.
    fn patch(&self, workload: &Workload, judgement: &Judgement) -> Option<Vec<Value>> {
        let mut operations = Vec::new();
        let spec_path = workload.pod_spec_path();
        let spec = &workload.template.spec;
        if self.settings.mutate.pin_digests {
            for (list, containers) in [
                ("initContainers", &spec.init_containers),
                ("containers", &spec.containers),
                ("ephemeralContainers", &spec.ephemeral_containers),
            ] {
                for (index, container) in containers.iter().enumerate() {
                    let Some(image) = container.image.as_deref() else {
                        continue;
                    };
                    if crate::verdicts::pinned_digest(image).is_some() {
                        continue;
                    }
                    let Some(digest) = judgement.digests.get(image) else {
                        continue;
                    };
                    operations.push(json!({
                        "op": "replace",
                        "path": pointer(&spec_path.key(list).index(index).key("image")),
                        "value": format!("{image}@{digest}"),
                    }));
                }
            }
        }
        if self.settings.mutate.default_seccomp {
            let pod_context = spec.security_context.as_ref();
            let pod_has = pod_context.is_some_and(|c| c.seccomp_profile.is_some());
            let every_container_has = spec
                .containers
                .iter()
                .chain(&spec.init_containers)
                .chain(&spec.ephemeral_containers)
                .all(|c| {
                    c.security_context
                        .as_ref()
                        .is_some_and(|s| s.seccomp_profile.is_some())
                });
            if !pod_has && !every_container_has {
                let profile = json!({"type": "RuntimeDefault"});
                operations.push(if pod_context.is_some() {
                    json!({
                        "op": "add",
                        "path": pointer(&spec_path.key("securityContext").key("seccompProfile")),
                        "value": profile,
                    })
                } else {
                    json!({
                        "op": "add",
                        "path": pointer(&spec_path.key("securityContext")),
                        "value": {"seccompProfile": profile},
                    })
                });
            }
        }
        (!operations.is_empty()).then_some(operations)
    }

    fn admit(
        &self,
        request: &AdmissionRequest,
        judgement: Judgement,
        patch: Option<Vec<Value>>,
    ) -> Reviewed {
        let mut response = AdmissionResponse::allow(&request.uid);
        response.warnings = judgement.warnings;
        response.audit_annotations = judgement.audit;
        response
            .audit_annotations
            .insert("decision".into(), "allowed".into());
        let mut decision = "allowed";
        if let Some(patch) = patch {
            let bytes = serde_json::to_vec(&Value::Array(patch)).unwrap_or_default();
            response.patch = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            response.patch_type = Some("JSONPatch");
            decision = "patched";
        }
        tracing::debug!(uid = %request.uid, kind = %request.kind.kind, namespace = %request.namespace, name = %request.name, decision, dry_run = request.dry_run, "admitted");
        Reviewed { response, decision }
    }

    fn deny(
        &self,
        request: &AdmissionRequest,
        denials: Vec<Finding>,
        judgement: Judgement,
    ) -> Reviewed {
        let what = match (request.kind.kind.as_str(), request.name.as_str()) {
            ("", _) => "the object".to_owned(),
            (kind, "") => kind.to_owned(),
            (kind, name) => format!("{kind}/{name}"),
        };
        let mut message = format!(
            "portcullis denied {what}: {} violation{} of the policy",
            denials.len(),
            if denials.len() == 1 { "" } else { "s" }
        );
        let mut rules = BTreeSet::new();
        for finding in &denials {
            message.push_str("\n- ");
            message.push_str(&finding.line());
            rules.insert(finding.rule.as_str());
        }
        let mut response = AdmissionResponse::allow(&request.uid);
        response.allowed = false;
        response.status = Some(Status { code: 403, message });
        response.warnings = judgement.warnings;
        response.audit_annotations = judgement.audit;
        response
            .audit_annotations
            .insert("decision".into(), "denied".into());
        response.audit_annotations.insert(
            "violations".into(),
            rules.into_iter().collect::<Vec<_>>().join(","),
        );
        // Per-request lines are debug: at thousands of requests a second the
        // API server's audit log (with the annotations above) is the record.
        tracing::debug!(uid = %request.uid, kind = %request.kind.kind, namespace = %request.namespace, name = %request.name, dry_run = request.dry_run, violations = denials.len(), "denied");
        Reviewed {
            response,
            decision: "denied",
        }
    }
}

/// The object with `apiVersion` and `kind` filled in from the request when it
/// lacks them (the API server always sends them; some captures do not).
fn with_type(mut object: Value, request: &AdmissionRequest) -> Value {
    if let Value::Object(map) = &mut object {
        if !map.contains_key("apiVersion") {
            let gvk = &request.kind;
            let api_version = if gvk.group.is_empty() {
                gvk.version.clone()
            } else {
                format!("{}/{}", gvk.group, gvk.version)
            };
            map.insert("apiVersion".into(), Value::String(api_version));
        }
        if !map.contains_key("kind") {
            map.insert("kind".into(), Value::String(request.kind.kind.clone()));
        }
    }
    object
}

impl Reviewer for Admission {
    fn review(&self, endpoint: Endpoint, request: AdmissionRequest) -> BoxFuture<'_, Reviewed> {
        Box::pin(self.decide(endpoint, request))
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
