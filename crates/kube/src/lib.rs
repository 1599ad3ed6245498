//! Portcullis stage `kube`: the Kubernetes workload model and the judgement
//! of whether a workload is hardened enough to run.
//!
//! Everything here is a pure function of the text or JSON handed in (no file
//! or network IO), so the CLI (`portcullis check`), the admission webhook and
//! the cluster audit share one verdict:
//!
//! ```
//! use portcullis_kube::{CheckSettings, evaluate, load_documents};
//!
//! let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    securityContext: {privileged: true}\n";
//! let loaded = load_documents(text, "pod.yaml");
//! let settings = CheckSettings::default(); // restricted:latest + default hardening rules
//! let violations = evaluate(&loaded.workloads[0], &settings);
//! let privileged = violations.iter().find(|v| v.rule.id() == "pss/privileged").unwrap();
//! assert_eq!(privileged.message, "privileged (container \"web\" must not set securityContext.privileged=true)");
//! assert_eq!(privileged.position.map(|p| p.line), Some(8));
//! let denial = portcullis_kube::pod_security_denial(settings.pod_security, &violations).unwrap();
//! assert!(denial.starts_with("violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"));
//! assert!(denial.contains(", privileged (container \"web\" must not set securityContext.privileged=true), "));
//! ```
//!
//! * [`load_documents`] reads manifest text (many YAML documents, JSON,
//!   `List` objects) into [`Workload`]s, reporting other kinds as skipped and
//!   broken documents as [`DocumentError`]s with their line and column.
//! * [`Workload::from_json`] reads one object handed over as JSON (an
//!   AdmissionReview's `request.object`).
//! * [`evaluate`] applies the Pod Security Standards at a level and version
//!   ([`pss`]) and the hardening [`Rule`]s chosen in [`CheckSettings`].

pub mod image;
pub mod model;
pub mod path;
pub mod pss;
pub mod rules;
pub mod source;
pub mod workload;

pub use image::ImageRef;
pub use path::FieldPath;
pub use pss::{Level, PodSecurity, Version};
pub use rules::{RegistryAllowList, Rule, RuleSetting, Severity};
pub use source::Position;
pub use workload::{
    DocumentError, LoadedDocuments, Origin, SkippedObject, Workload, WorkloadError, WorkloadKind,
    load_documents,
};

use std::fmt;

/// What a workload is checked against: a Pod Security Standards level and
/// version, the hardening rules switched on, and the registry allow-list.
/// The policy crate builds this from the policy file.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub pod_security: PodSecurity,
    /// Hardening rules that run, with their severities.
    pub rules: Vec<RuleSetting>,
    /// Patterns for [`Rule::AllowedRegistries`]; empty allows every registry.
    pub registries: RegistryAllowList,
}

impl Default for CheckSettings {
    /// `restricted:latest` and every rule that is on by default.
    fn default() -> Self {
        Self {
            pod_security: PodSecurity::default(),
            rules: Rule::ALL
                .into_iter()
                .filter(|r| r.on_by_default())
                .map(RuleSetting::from)
                .collect(),
            registries: RegistryAllowList::default(),
        }
    }
}

/// Which check a violation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleRef {
    /// A Pod Security Standards check.
    PodSecurity(pss::Check),
    /// A hardening rule.
    Hardening(Rule),
}

impl RuleRef {
    /// Stable id: `pss/<PSA check id>` or the hardening rule's id.
    pub fn id(&self) -> String {
        match self {
            Self::PodSecurity(check) => format!("pss/{}", check.id()),
            Self::Hardening(rule) => rule.id().to_owned(),
        }
    }

    /// One line on what the rule requires and why.
    pub fn description(&self) -> &'static str {
        match self {
            Self::PodSecurity(check) => check.description(),
            Self::Hardening(rule) => rule.rationale(),
        }
    }

    /// How to fix a violation.
    pub fn remediation(&self) -> String {
        match self {
            Self::PodSecurity(check) => format!(
                "Change the pod spec so that it meets the Pod Security Standards {} level ({}).",
                check.level(),
                check.id()
            ),
            Self::Hardening(rule) => rule.remediation().to_owned(),
        }
    }

    /// The severity when no policy sets one: baseline checks are high,
    /// restricted ones medium.
    pub fn default_severity(&self) -> Severity {
        match self {
            Self::PodSecurity(check) if check.level() == Level::Baseline => Severity::High,
            Self::PodSecurity(_) => Severity::Medium,
            Self::Hardening(rule) => rule.default_severity(),
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

impl serde::Serialize for RuleRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A field at fault, with its place in the source when known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocatedField {
    pub container: Option<String>,
    pub path: FieldPath,
    pub position: Option<Position>,
}

/// One thing wrong with a workload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub rule: RuleRef,
    pub severity: Severity,
    /// For Pod Security checks, PSA's words: `reason (detail)`.
    pub message: String,
    /// The (first) container at fault, if the violation is about containers.
    pub container: Option<String>,
    /// The (first) field at fault, relative to the object.
    pub field: Option<FieldPath>,
    /// Line and column of that field (or of its nearest written ancestor).
    pub position: Option<Position>,
    /// Every field at fault (PSA reports all containers of a check at once).
    pub fields: Vec<LocatedField>,
}

/// The Pod Security Standards part of a verdict in PSA's words, as the API
/// server words a denial: `violates PodSecurity "restricted:latest": privileged
/// (container "x" must not set securityContext.privileged=true), …`. `None`
/// when no Pod Security check failed.
pub fn pod_security_denial(pod_security: PodSecurity, violations: &[Violation]) -> Option<String> {
    let reasons: Vec<&str> = violations
        .iter()
        .filter(|v| matches!(v.rule, RuleRef::PodSecurity(_)))
        .map(|v| v.message.as_str())
        .collect();
    if reasons.is_empty() {
        return None;
    }
    Some(format!(
        "violates PodSecurity \"{pod_security}\": {}",
        reasons.join(", ")
    ))
}

/// Checks a workload: the Pod Security Standards at the configured level and
/// version, then the hardening rules. An empty result means it passes.
pub fn evaluate(workload: &Workload, settings: &CheckSettings) -> Vec<Violation> {
    let mut violations = Vec::new();
    for failure in pss::evaluate(
        &workload.template,
        &workload.template_path,
        settings.pod_security,
    ) {
        let rule = RuleRef::PodSecurity(failure.check);
        let message = failure.message();
        violations.push(violation(
            workload,
            rule,
            rule.default_severity(),
            message,
            failure.fields,
        ));
    }
    for setting in &settings.rules {
        if setting.rule == Rule::AllowedRegistries && settings.registries.is_empty() {
            continue;
        }
        for finding in rules::evaluate(workload, setting.rule, &settings.registries) {
            let rule = RuleRef::Hardening(finding.rule);
            violations.push(violation(
                workload,
                rule,
                setting.severity,
                finding.message,
                vec![finding.field],
            ));
        }
    }
    violations
}

fn violation(
    workload: &Workload,
    rule: RuleRef,
    severity: Severity,
    message: String,
    fields: Vec<pss::FieldRef>,
) -> Violation {
    let fields: Vec<LocatedField> = fields
        .into_iter()
        .map(|f| LocatedField {
            position: workload.locate(&f.path),
            container: f.container,
            path: f.path,
        })
        .collect();
    let first = fields.first();
    Violation {
        rule,
        severity,
        message,
        container: first.and_then(|f| f.container.clone()),
        field: first.map(|f| f.path.clone()),
        position: first
            .and_then(|f| f.position)
            .or_else(|| workload.locate(&workload.pod_spec_path())),
        fields,
    }
}
