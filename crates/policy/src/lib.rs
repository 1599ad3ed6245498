//! Portcullis stage `policy`: the one policy file that every gate applies.
//!
//! The file is read in two steps, as cargo-deny reads its configuration: the
//! YAML is parsed strictly into an [`UnvalidatedPolicy`] (an unknown key or a
//! value of the wrong type is an error with its line and column), then
//! [`UnvalidatedPolicy::validate`] checks the values (globs, dates, levels,
//! rule ids, …) and fills in defaults, giving a [`Policy`]. All validation
//! errors are reported at once, each with its position.
//!
//! ```
//! use portcullis_policy::Policy;
//!
//! let text = "apiVersion: portcullis.dev/v1\nkind: Policy\nworkloads:\n  podSecurity: baseline:v1.29\n  rules: [no-latest-tag]\n";
//! let policy = Policy::from_yaml(text, "policy.yaml").unwrap();
//! let settings = policy.check_settings();
//! assert_eq!(settings.pod_security.to_string(), "baseline:v1.29");
//! assert_eq!(settings.rules.len(), 1);
//!
//! let bad = Policy::from_yaml("apiVersion: portcullis.dev/v1\nkind: Policy\nworkload: {}\n", "p.yaml").unwrap_err();
//! assert!(bad.to_string().starts_with("p.yaml:3:1: unknown field `workload`"), "{bad}");
//! ```

mod raw;

use portcullis_matcher::suppress::{IgnoreRule, SuppressionKind};
use portcullis_vulndb::model::Level;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portcullis_kube::model::is_dns_label;
use portcullis_kube::{
    CheckSettings, PodSecurity, Position, RegistryAllowList, Rule, RuleSetting, Severity,
};
use serde::Serialize;

pub use raw::UnvalidatedPolicy;
use raw::{At, RawRuleEntry};

/// The only `apiVersion` understood.
pub const API_VERSION: &str = "portcullis.dev/v1";
/// The `kind` of a policy document.
pub const KIND: &str = "Policy";
/// Largest policy file read (bytes).
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// One problem in a policy file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", .position.map(|p| format!(":{p}")).unwrap_or_default())]
pub struct PolicyError {
    pub file: String,
    pub position: Option<Position>,
    pub message: String,
}

/// Every problem found in a policy file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl From<PolicyError> for PolicyErrors {
    fn from(error: PolicyError) -> Self {
        Self(vec![error])
    }
}

/// The vulnerability severity at or above which a gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    /// Never fail on vulnerabilities (report only).
    None,
}

impl FailOn {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "critical" => Self::Critical,
            "high" => Self::High,
            "medium" => Self::Medium,
            "low" => Self::Low,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// `registries`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registries {
    /// Glob patterns of allowed `registry/repository` names, as written.
    /// Empty: every registry is allowed.
    pub allow: Vec<String>,
    /// Whether images must be referenced by digest.
    pub require_digest: bool,
}

/// An accepted vulnerability: ignored until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// Advisory id (CVE, GHSA, …).
    pub id: String,
    /// Only in this package, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Last day the exception holds, if set.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_date"
    )]
    pub expires: Option<time::Date>,
    /// Why the risk is accepted.
    pub reason: String,
}

impl Exception {
    /// Whether the exception still holds on `today`.
    pub fn is_active(&self, today: time::Date) -> bool {
        self.expires.is_none_or(|expires| today <= expires)
    }
}

fn serialize_date<S: serde::Serializer>(
    date: &Option<time::Date>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )),
        None => s.serialize_none(),
    }
}

/// `vulnerabilities`: read by the matcher stage and the scan gates.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerabilities {
    pub fail_on: FailOn,
    pub ignore_unfixed: bool,
    pub exceptions: Vec<Exception>,
}

impl Vulnerabilities {
    /// The lowest severity that fails the gate; `None` when nothing fails it.
    pub fn fail_level(&self) -> Option<Level> {
        match self.fail_on {
            FailOn::Critical => Some(Level::Critical),
            FailOn::High => Some(Level::High),
            FailOn::Medium => Some(Level::Medium),
            FailOn::Low => Some(Level::Low),
            FailOn::None => None,
        }
    }

    /// The exceptions as the matcher's suppression rules; `origin` names the
    /// policy file in the reasons shown to users.
    pub fn ignore_rules(&self, origin: &str) -> Vec<IgnoreRule> {
        self.exceptions
            .iter()
            .map(|exception| IgnoreRule {
                id: exception.id.clone(),
                package: exception.package.clone(),
                reason: exception.reason.clone(),
                expires: exception.expires,
                kind: SuppressionKind::PolicyException,
                origin: origin.to_owned(),
            })
            .collect()
    }
}

impl Default for Vulnerabilities {
    /// Fail on high and critical findings, report unfixed ones.
    fn default() -> Self {
        Self {
            fail_on: FailOn::High,
            ignore_unfixed: false,
            exceptions: Vec::new(),
        }
    }
}

/// `workloads`: how pod templates are judged.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workloads {
    #[serde(serialize_with = "serialize_display")]
    pub pod_security: PodSecurity,
    /// The hardening rules that run, with their severities.
    #[serde(serialize_with = "serialize_rules")]
    pub rules: Vec<RuleSetting>,
}

impl Default for Workloads {
    /// `restricted:latest` and every rule that is on by default.
    fn default() -> Self {
        let settings = CheckSettings::default();
        Self {
            pod_security: settings.pod_security,
            rules: settings.rules,
        }
    }
}

fn serialize_display<T: fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

#[derive(Serialize)]
struct RuleView {
    id: &'static str,
    severity: Severity,
}

fn serialize_rules<S: serde::Serializer>(rules: &[RuleSetting], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rules.iter().map(|r| RuleView {
        id: r.rule.id(),
        severity: r.severity,
    }))
}

fn serialize_optional_rules<S: serde::Serializer>(
    rules: &Option<Vec<RuleSetting>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match rules {
        Some(rules) => serialize_rules(rules, s),
        None => s.serialize_none(),
    }
}

fn serialize_optional_display<T: fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.collect_str(value),
        None => s.serialize_none(),
    }
}

/// `signatures`: parsed here, verified by the signature gate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Signatures {
    pub require: bool,
    /// Public key files, as written (relative to the policy file).
    pub keys: Vec<PathBuf>,
}

/// What the webhook does when the cluster or a scan fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailurePolicy {
    /// Fail closed: reject the request (default).
    Fail,
    /// Fail open: admit the request.
    Ignore,
}

/// What the webhook answers when an image scan does not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnScanTimeout {
    Deny,
    /// Admit with a warning.
    Warn,
}

/// `admission.namespaces.<name>`: overrides for one namespace.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceOverride {
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_display"
    )]
    pub pod_security: Option<PodSecurity>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_rules"
    )]
    pub rules: Option<Vec<RuleSetting>>,
}

/// `admission.mutate`: changes the webhook may make instead of rejecting.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mutate {
    /// Replace tags by the digest they resolve to.
    pub pin_digests: bool,
    /// Set `seccompProfile: RuntimeDefault` where no profile is set.
    pub default_seccomp: bool,
}

/// `admission`: how the webhook applies the policy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Admission {
    pub namespaces: BTreeMap<String, NamespaceOverride>,
    pub exempt_namespaces: Vec<String>,
    pub failure_policy: FailurePolicy,
    #[serde(serialize_with = "serialize_duration")]
    pub scan_timeout: Duration,
    pub on_scan_timeout: OnScanTimeout,
    pub mutate: Mutate,
}

impl Default for Admission {
    /// Fail closed, 10 s scan timeout, deny on timeout, no mutation.
    fn default() -> Self {
        Self {
            namespaces: BTreeMap::new(),
            exempt_namespaces: Vec::new(),
            failure_policy: FailurePolicy::Fail,
            scan_timeout: Duration::from_secs(10),
            on_scan_timeout: OnScanTimeout::Deny,
            mutate: Mutate::default(),
        }
    }
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if d.subsec_millis() == 0 {
        s.collect_str(&format_args!("{}s", d.as_secs()))
    } else {
        s.collect_str(&format_args!("{}ms", d.as_millis()))
    }
}

/// How the objects of one namespace are judged, by the webhook and by
/// `portcullis check` alike.
#[derive(Debug, Clone)]
pub enum NamespaceSettings {
    /// Listed in `admission.exemptNamespaces`: admitted without checks.
    Exempt,
    /// Judged with these settings (the policy's, with the namespace's
    /// overrides and, where known, its enforce label).
    Judge(Arc<CheckSettings>),
}

/// The policy's check settings for every namespace, compiled once so a
/// lookup per object or per admission request copies nothing.
///
/// This is the one place that decides which settings apply in a namespace:
/// the webhook and `portcullis check` both ask [`NamespaceChecks::settings_for`].
#[derive(Debug, Clone)]
pub struct NamespaceChecks {
    /// Settings for namespaces without an override of their own.
    default: Arc<CheckSettings>,
    /// `admission.namespaces.<name>` merged over the defaults.
    overrides: HashMap<String, Arc<CheckSettings>>,
    /// `admission.exemptNamespaces`.
    exempt: BTreeSet<String>,
}

impl Default for NamespaceChecks {
    /// The checks of the policy used when none is given.
    fn default() -> Self {
        Self::from_policy(&Policy::default())
    }
}

impl NamespaceChecks {
    /// Compiles the per-namespace settings of `policy`.
    pub fn from_policy(policy: &Policy) -> Self {
        let overrides = policy
            .admission
            .namespaces
            .iter()
            .map(|(namespace, overrides)| {
                let pod_security = overrides
                    .pod_security
                    .unwrap_or(policy.workloads.pod_security);
                let rules = overrides
                    .rules
                    .as_deref()
                    .unwrap_or(&policy.workloads.rules);
                (
                    namespace.clone(),
                    Arc::new(policy.settings_with(pod_security, rules)),
                )
            })
            .collect();
        Self {
            default: Arc::new(policy.check_settings()),
            overrides,
            exempt: policy.admission.exempt_namespaces.iter().cloned().collect(),
        }
    }

    /// The settings for objects in `namespace`. `enforce_label` is the level
    /// the Namespace's `pod-security.kubernetes.io/enforce[-version]` labels
    /// name, when known (the webhook watches the cluster's Namespaces,
    /// `check` reads Namespace objects among the manifests): like Pod
    /// Security Admission's own labels it can only make the level stricter,
    /// never weaker than the policy's. An exempt namespace stays exempt.
    pub fn settings_for(
        &self,
        namespace: &str,
        enforce_label: Option<PodSecurity>,
    ) -> NamespaceSettings {
        if self.exempt.contains(namespace) {
            return NamespaceSettings::Exempt;
        }
        let base = self.overrides.get(namespace).unwrap_or(&self.default);
        match enforce_label {
            // Level order: privileged < baseline < restricted; on a tie the
            // policy's version stays.
            Some(label) if label.level > base.pod_security.level => {
                let mut settings = CheckSettings::clone(base);
                settings.pod_security = label;
                NamespaceSettings::Judge(Arc::new(settings))
            }
            _ => NamespaceSettings::Judge(Arc::clone(base)),
        }
    }

    /// Replaces the Pod Security level of every namespace that is judged
    /// (`portcullis check --pod-security`): exemptions still hold.
    pub fn override_pod_security(&mut self, pod_security: PodSecurity) {
        for settings in std::iter::once(&mut self.default).chain(self.overrides.values_mut()) {
            Arc::make_mut(settings).pod_security = pod_security;
        }
    }

    /// Whether objects in `namespace` are admitted without checks.
    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.exempt.contains(namespace)
    }
}

/// A validated policy with every default filled in.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(skip)]
    pub source: Option<String>,
    pub registries: Registries,
    pub vulnerabilities: Vulnerabilities,
    pub workloads: Workloads,
    pub signatures: Signatures,
    pub admission: Admission,
    /// Compiled `registries.allow`.
    #[serde(skip)]
    allow_list: RegistryAllowList,
}

impl Default for Policy {
    /// The policy used when none is given.
    fn default() -> Self {
        Self {
            api_version: API_VERSION,
            kind: KIND,
            source: None,
            registries: Registries::default(),
            vulnerabilities: Vulnerabilities::default(),
            workloads: Workloads::default(),
            signatures: Signatures::default(),
            admission: Admission::default(),
            allow_list: RegistryAllowList::default(),
        }
    }
}

fn saphyr_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_nodes: 50_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 32,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 50_000,
        },
        with_snippet: false,
    }
}

fn position(location: serde_saphyr::Location) -> Option<Position> {
    let line = u32::try_from(location.line()).ok().filter(|l| *l > 0)?;
    let column = u32::try_from(location.column()).ok()?;
    Some(Position { line, column })
}

impl UnvalidatedPolicy {
    /// Parses the YAML text of a policy; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, PolicyError> {
        let error = |position, message: String| PolicyError {
            file: file.to_owned(),
            position,
            message,
        };
        if text.len() > MAX_POLICY_BYTES {
            return Err(error(
                None,
                format!(
                    "policy of {} bytes exceeds the limit of {MAX_POLICY_BYTES}",
                    text.len()
                ),
            ));
        }
        match serde_saphyr::from_str_with_options::<Option<UnvalidatedPolicy>>(
            text,
            saphyr_options(),
        ) {
            Ok(Some(policy)) => Ok(policy),
            Ok(None) => Err(error(None, "the policy is empty".into())),
            Err(e) => {
                let text = e.without_snippet().to_string();
                let first = text.lines().next().unwrap_or("invalid YAML").trim();
                let message = match first.rfind(" at line ") {
                    Some(cut) if first[cut..].contains("column") => &first[..cut],
                    _ => first,
                };
                Err(error(e.location().and_then(position), message.to_owned()))
            }
        }
    }

    /// Checks every value and fills in defaults.
    pub fn validate(self, file: &str) -> Result<Policy, PolicyErrors> {
        let mut errors = Vec::new();
        let mut fail = |at: Option<Position>, message: String| {
            errors.push(PolicyError {
                file: file.to_owned(),
                position: at,
                message,
            });
        };
        let at = |s: &serde_saphyr::Location| position(*s);
        let top = Some(Position { line: 1, column: 1 });

        match &self.api_version {
            Some(v) if v.value == API_VERSION => {}
            Some(v) => fail(
                at(&v.referenced),
                format!("apiVersion must be {API_VERSION:?}, not {:?}", v.value),
            ),
            None => fail(
                top,
                format!("apiVersion is missing (expected {API_VERSION:?})"),
            ),
        }
        match &self.kind {
            Some(v) if v.value == KIND => {}
            Some(v) => fail(
                at(&v.referenced),
                format!("kind must be {KIND:?}, not {:?}", v.value),
            ),
            None => fail(top, format!("kind is missing (expected {KIND:?})")),
        }

        let mut policy = Policy {
            source: Some(file.to_owned()),
            ..Policy::default()
        };

        if let Some(registries) = self.registries {
            let patterns = registries.allow.unwrap_or_default();
            for pattern in &patterns {
                if pattern.value.is_empty() {
                    fail(
                        at(&pattern.referenced),
                        "registries.allow: empty pattern".into(),
                    );
                } else if let Err(e) = RegistryAllowList::new(&[pattern.value.as_str()]) {
                    fail(
                        at(&pattern.referenced),
                        format!(
                            "registries.allow: invalid glob {:?}: {}",
                            pattern.value,
                            e.kind()
                        ),
                    );
                }
            }
            policy.registries.allow = patterns.into_iter().map(|p| p.value).collect();
            policy.registries.require_digest = registries.require_digest.unwrap_or(false);
            policy.allow_list =
                RegistryAllowList::new(&policy.registries.allow).unwrap_or_default();
        }

        if let Some(vulnerabilities) = self.vulnerabilities {
            if let Some(fail_on) = &vulnerabilities.fail_on {
                match FailOn::parse(&fail_on.value) {
                    Some(v) => policy.vulnerabilities.fail_on = v,
                    None => fail(
                        at(&fail_on.referenced),
                        format!(
                            "vulnerabilities.failOn: {:?} is not one of critical, high, medium, low, none",
                            fail_on.value
                        ),
                    ),
                }
            }
            policy.vulnerabilities.ignore_unfixed = vulnerabilities.ignore_unfixed.unwrap_or(false);
            let mut seen = BTreeSet::new();
            for entry in vulnerabilities.exceptions.unwrap_or_default() {
                let raw = entry.value;
                if raw.id.value.trim().is_empty() {
                    fail(
                        at(&raw.id.referenced),
                        "vulnerabilities.exceptions: id is empty".into(),
                    );
                }
                if !seen.insert((raw.id.value.clone(), raw.package.clone())) {
                    fail(
                        at(&raw.id.referenced),
                        format!(
                            "vulnerabilities.exceptions: {} is listed twice",
                            raw.id.value
                        ),
                    );
                }
                let expires = match &raw.expires {
                    Some(date) => match parse_date(&date.value) {
                        Some(d) => Some(d),
                        None => {
                            fail(
                                at(&date.referenced),
                                format!(
                                    "vulnerabilities.exceptions: expires {:?} is not a date (YYYY-MM-DD)",
                                    date.value
                                ),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let reason = match raw.reason {
                    Some(reason) if !reason.value.trim().is_empty() => reason.value,
                    Some(reason) => {
                        fail(
                            at(&reason.referenced),
                            format!(
                                "vulnerabilities.exceptions: {} has an empty reason",
                                raw.id.value
                            ),
                        );
                        String::new()
                    }
                    None => {
                        fail(
                            at(&entry.referenced),
                            format!(
                                "vulnerabilities.exceptions: {} needs a reason",
                                raw.id.value
                            ),
                        );
                        String::new()
                    }
                };
                policy.vulnerabilities.exceptions.push(Exception {
                    id: raw.id.value,
                    package: raw.package,
                    expires,
                    reason,
                });
            }
        }

        if let Some(workloads) = self.workloads {
            if let Some(pod_security) = &workloads.pod_security {
                match pod_security.value.parse::<PodSecurity>() {
                    Ok(p) => policy.workloads.pod_security = p,
                    Err(e) => fail(
                        at(&pod_security.referenced),
                        format!("workloads.podSecurity: {e}"),
                    ),
                }
            }
            if let Some(rules) = workloads.rules {
                policy.workloads.rules = rule_settings(&rules, "workloads.rules", &mut fail);
            }
        }

        if let Some(signatures) = self.signatures {
            let keys = signatures.keys.unwrap_or_default();
            for key in &keys {
                if key.value.trim().is_empty() {
                    fail(at(&key.referenced), "signatures.keys: empty path".into());
                }
            }
            if let Some(require) = &signatures.require {
                policy.signatures.require = require.value;
                if require.value && keys.is_empty() {
                    fail(
                        at(&require.referenced),
                        "signatures.require is true but signatures.keys lists no key".into(),
                    );
                }
            }
            policy.signatures.keys = keys.into_iter().map(|k| PathBuf::from(k.value)).collect();
        }

        if let Some(admission) = self.admission {
            for (name, entry) in admission.namespaces.unwrap_or_default() {
                if !is_dns_label(&name) {
                    fail(
                        at(&entry.referenced),
                        format!("admission.namespaces: {name:?} is not a namespace name"),
                    );
                }
                let mut namespace = NamespaceOverride::default();
                if let Some(pod_security) = &entry.value.pod_security {
                    match pod_security.value.parse::<PodSecurity>() {
                        Ok(p) => namespace.pod_security = Some(p),
                        Err(e) => fail(
                            at(&pod_security.referenced),
                            format!("admission.namespaces.{name}.podSecurity: {e}"),
                        ),
                    }
                }
                if let Some(rules) = &entry.value.rules {
                    namespace.rules = Some(rule_settings(
                        rules,
                        &format!("admission.namespaces.{name}.rules"),
                        &mut fail,
                    ));
                }
                policy.admission.namespaces.insert(name, namespace);
            }
            for namespace in admission.exempt_namespaces.unwrap_or_default() {
                if !is_dns_label(&namespace.value) {
                    fail(
                        at(&namespace.referenced),
                        format!(
                            "admission.exemptNamespaces: {:?} is not a namespace name",
                            namespace.value
                        ),
                    );
                }
                policy.admission.exempt_namespaces.push(namespace.value);
            }
            if let Some(value) = &admission.failure_policy {
                match value.value.as_str() {
                    "Fail" => policy.admission.failure_policy = FailurePolicy::Fail,
                    "Ignore" => policy.admission.failure_policy = FailurePolicy::Ignore,
                    other => fail(
                        at(&value.referenced),
                        format!("admission.failurePolicy: {other:?} is not Fail or Ignore"),
                    ),
                }
            }
            if let Some(value) = &admission.scan_timeout {
                match parse_duration(&value.value) {
                    Some(d) => policy.admission.scan_timeout = d,
                    None => fail(
                        at(&value.referenced),
                        format!(
                            "admission.scanTimeout: {:?} is not a duration between 1ms and 10m (like 500ms, 10s, 2m)",
                            value.value
                        ),
                    ),
                }
            }
            if let Some(value) = &admission.on_scan_timeout {
                match value.value.as_str() {
                    "deny" => policy.admission.on_scan_timeout = OnScanTimeout::Deny,
                    "warn" => policy.admission.on_scan_timeout = OnScanTimeout::Warn,
                    other => fail(
                        at(&value.referenced),
                        format!("admission.onScanTimeout: {other:?} is not deny or warn"),
                    ),
                }
            }
            if let Some(mutate) = admission.mutate {
                policy.admission.mutate = Mutate {
                    pin_digests: mutate.pin_digests.unwrap_or(false),
                    default_seccomp: mutate.default_seccomp.unwrap_or(false),
                };
            }
        }

        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyErrors(errors))
        }
    }
}

fn rule_settings(
    entries: &[At<RawRuleEntry>],
    section: &str,
    fail: &mut impl FnMut(Option<Position>, String),
) -> Vec<RuleSetting> {
    let mut settings: Vec<RuleSetting> = Vec::new();
    for entry in entries {
        let where_ = position(entry.referenced);
        let Ok(rule) = Rule::from_id(&entry.value.id) else {
            let known: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
            fail(
                where_,
                format!(
                    "{section}: unknown rule {:?} (known rules: {})",
                    entry.value.id,
                    known.join(", ")
                ),
            );
            continue;
        };
        let severity = match &entry.value.severity {
            Some(s) => match s.parse::<Severity>() {
                Ok(s) => s,
                Err(e) => {
                    fail(where_, format!("{section}: {e}"));
                    continue;
                }
            },
            None => rule.default_severity(),
        };
        if settings.iter().any(|s| s.rule == rule) {
            fail(
                where_,
                format!("{section}: rule {:?} is listed twice", rule.id()),
            );
            continue;
        }
        settings.push(RuleSetting { rule, severity });
    }
    settings
}

fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

/// `500ms`, `10s`, `2m`: between 1 ms and 10 minutes.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 9 {
        return None;
    }
    let ms = number.parse::<u64>().ok()?.checked_mul(unit_ms)?;
    (1..=600_000)
        .contains(&ms)
        .then(|| Duration::from_millis(ms))
}

/// Why a policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read policy {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(#[from] PolicyErrors),
}

impl Policy {
    /// Parses and validates policy text; `file` names it in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, PolicyErrors> {
        UnvalidatedPolicy::parse(text, file)?.validate(file)
    }

    /// Reads, parses and validates a policy file (at most [`MAX_POLICY_BYTES`]).
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        use std::io::Read;
        let read = |source| LoadError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        let limit = u64::try_from(MAX_POLICY_BYTES).unwrap_or(u64::MAX) + 1;
        file.take(limit).read_to_string(&mut text).map_err(read)?;
        Ok(Self::from_yaml(&text, &path.display().to_string())?)
    }

    /// Settings for namespaces without overrides of their own: the pod
    /// security level, the hardening rules (plus the registry rules that
    /// `registries` switches on) and the allow-list. Per namespace, see
    /// [`Policy::check_settings_for`] and [`NamespaceChecks`].
    pub fn check_settings(&self) -> CheckSettings {
        self.settings_with(self.workloads.pod_security, &self.workloads.rules)
    }

    /// Settings for objects in `namespace`: [`NamespaceSettings::Exempt`]
    /// for `admission.exemptNamespaces`, else the policy's settings with
    /// `admission.namespaces.<namespace>` applied. To look up many
    /// namespaces, compile a [`NamespaceChecks`] once instead.
    pub fn check_settings_for(&self, namespace: &str) -> NamespaceSettings {
        NamespaceChecks::from_policy(self).settings_for(namespace, None)
    }

    fn settings_with(&self, pod_security: PodSecurity, rules: &[RuleSetting]) -> CheckSettings {
        let mut rules = rules.to_vec();
        let mut switch_on = |rule: Rule| {
            if !rules.iter().any(|s| s.rule == rule) {
                rules.push(RuleSetting::from(rule));
            }
        };
        if !self.registries.allow.is_empty() {
            switch_on(Rule::AllowedRegistries);
        }
        if self.registries.require_digest {
            switch_on(Rule::RequireDigest);
        }
        CheckSettings {
            pod_security,
            rules,
            registries: self.allow_list.clone(),
        }
    }

    /// The effective policy as YAML, every default written out.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|e| format!("# cannot render the policy: {e}\n"))
    }

    /// The effective policy as pretty JSON, every default written out.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    }
}

#[cfg(test)]
mod tests;
