//! Pod Security Standards, evaluated as Kubernetes' Pod Security Admission
//! (PSA) evaluates them: the same checks, the same per-version behaviour and
//! the same messages (`reason (detail)`), so a verdict here is the verdict the
//! cluster would give a namespace labelled `enforce=<level>`,
//! `enforce-version=<version>`.
//!
//! Written from the check definitions summarised in
//! `shared/fixtures/k8s/pss/PSS_CHECKS.md` and verified against the upstream
//! conformance fixtures in the same directory.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::model::{Container, PodSpec, PodTemplate, SeLinuxOptions, SecurityContext};
use crate::path::FieldPath;

/// The newest policy version whose behaviour is known; `latest` means this.
pub const LATEST_MINOR: u32 = 37;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `v1.N` or `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Latest,
    /// `v1.<minor>`.
    V1(u32),
}

impl Version {
    /// The minor version whose behaviour applies. Versions newer than the
    /// newest known one behave as the newest, as in PSA.
    pub fn minor(self) -> u32 {
        match self {
            Self::Latest => LATEST_MINOR,
            Self::V1(minor) => minor.min(LATEST_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::V1(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// A level at a version, as in `restricted`, `baseline:v1.29` or
/// `restricted:latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PodSecurity {
    pub level: Level,
    pub version: Version,
}

impl Default for PodSecurity {
    /// `restricted:latest`.
    fn default() -> Self {
        Self {
            level: Level::Restricted,
            version: Version::Latest,
        }
    }
}

impl fmt::Display for PodSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// A level or version that PSA would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid pod security {input:?}: {reason} (expected LEVEL or LEVEL:VERSION, LEVEL one of privileged, baseline, restricted, VERSION v1.0 … v1.{LATEST_MINOR} or latest)"
)]
pub struct InvalidPodSecurity {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for Level {
    type Err = InvalidPodSecurity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "privileged" => Ok(Self::Privileged),
            "baseline" => Ok(Self::Baseline),
            "restricted" => Ok(Self::Restricted),
            _ => Err(InvalidPodSecurity {
                input: s.to_owned(),
                reason: "unknown level",
            }),
        }
    }
}

impl FromStr for Version {
    type Err = InvalidPodSecurity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(Self::Latest);
        }
        let bad = || InvalidPodSecurity {
            input: s.to_owned(),
            reason: "unknown version",
        };
        let rest = s.strip_prefix('v').ok_or_else(bad)?;
        let (major, minor) = rest.split_once('.').ok_or_else(bad)?;
        if major != "1"
            || minor.is_empty()
            || !minor.bytes().all(|b| b.is_ascii_digit())
            || minor.len() > 3
        {
            return Err(bad());
        }
        minor.parse().map(Self::V1).map_err(|_| bad())
    }
}

impl FromStr for PodSecurity {
    type Err = InvalidPodSecurity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (level, version) = match s.split_once(':') {
            Some((level, version)) => (
                level,
                version
                    .parse()
                    .map_err(|e: InvalidPodSecurity| InvalidPodSecurity {
                        input: s.to_owned(),
                        ..e
                    })?,
            ),
            None => (s, Version::Latest),
        };
        let level = level
            .parse()
            .map_err(|e: InvalidPodSecurity| InvalidPodSecurity {
                input: s.to_owned(),
                ..e
            })?;
        Ok(Self { level, version })
    }
}

/// The Namespace label naming the level Pod Security Admission enforces.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// The Namespace label naming the version of the enforced level.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

/// The level a Namespace's labels enforce, `None` without an enforce label.
/// A missing version means `latest`; an unparsable level or version enforces
/// `restricted:latest`, as Pod Security Admission does with invalid values.
pub fn enforced_by_labels(
    labels: &serde_json::Map<String, serde_json::Value>,
) -> Option<PodSecurity> {
    let level = labels.get(ENFORCE_LABEL)?.as_str().unwrap_or("");
    let version = labels
        .get(ENFORCE_VERSION_LABEL)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("latest");
    Some(
        format!("{level}:{version}")
            .parse()
            .unwrap_or_else(|_| PodSecurity::default()),
    )
}

/// The Pod Security Standards checks, with PSA's check IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    HostNamespaces,
    Privileged,
    CapabilitiesBaseline,
    HostPathVolumes,
    HostPorts,
    AppArmorProfile,
    SeLinuxOptions,
    ProcMount,
    SeccompProfileBaseline,
    Sysctls,
    WindowsHostProcess,
    HostProbesAndHostLifecycle,
    RestrictedVolumes,
    AllowPrivilegeEscalation,
    RunAsNonRoot,
    RunAsUser,
    SeccompProfileRestricted,
    CapabilitiesRestricted,
    ProcMountRestricted,
}

impl Check {
    /// Every check, in the order PSA registers them (by the name of the
    /// file defining each), which is the order of reasons in its messages.
    pub const ALL: [Check; 19] = [
        Self::AllowPrivilegeEscalation,
        Self::AppArmorProfile,
        Self::CapabilitiesBaseline,
        Self::CapabilitiesRestricted,
        Self::HostNamespaces,
        Self::HostPathVolumes,
        Self::HostPorts,
        Self::HostProbesAndHostLifecycle,
        Self::Privileged,
        Self::ProcMount,
        Self::ProcMountRestricted,
        Self::RestrictedVolumes,
        Self::RunAsNonRoot,
        Self::RunAsUser,
        Self::SeLinuxOptions,
        Self::SeccompProfileBaseline,
        Self::SeccompProfileRestricted,
        Self::Sysctls,
        Self::WindowsHostProcess,
    ];

    /// PSA's check ID.
    pub fn id(self) -> &'static str {
        match self {
            Self::HostNamespaces => "hostNamespaces",
            Self::Privileged => "privileged",
            Self::CapabilitiesBaseline => "capabilities_baseline",
            Self::HostPathVolumes => "hostPathVolumes",
            Self::HostPorts => "hostPorts",
            Self::AppArmorProfile => "appArmorProfile",
            Self::SeLinuxOptions => "seLinuxOptions",
            Self::ProcMount => "procMount",
            Self::SeccompProfileBaseline => "seccompProfile_baseline",
            Self::Sysctls => "sysctls",
            Self::WindowsHostProcess => "windowsHostProcess",
            Self::HostProbesAndHostLifecycle => "hostProbesAndHostLifecycle",
            Self::RestrictedVolumes => "restrictedVolumes",
            Self::AllowPrivilegeEscalation => "allowPrivilegeEscalation",
            Self::RunAsNonRoot => "runAsNonRoot",
            Self::RunAsUser => "runAsUser",
            Self::SeccompProfileRestricted => "seccompProfile_restricted",
            Self::CapabilitiesRestricted => "capabilities_restricted",
            Self::ProcMountRestricted => "procMount_restricted",
        }
    }

    /// The lowest level the check belongs to.
    pub fn level(self) -> Level {
        match self {
            Self::RestrictedVolumes
            | Self::AllowPrivilegeEscalation
            | Self::RunAsNonRoot
            | Self::RunAsUser
            | Self::SeccompProfileRestricted
            | Self::CapabilitiesRestricted
            | Self::ProcMountRestricted => Level::Restricted,
            _ => Level::Baseline,
        }
    }

    /// One line on what the check protects, for rule listings.
    pub fn description(self) -> &'static str {
        match self {
            Self::HostNamespaces => {
                "Sharing the host network, PID or IPC namespace must be disallowed."
            }
            Self::Privileged => {
                "Privileged containers disable most security mechanisms and must be disallowed."
            }
            Self::CapabilitiesBaseline => {
                "Adding capabilities beyond the default set (including NET_RAW) must be disallowed."
            }
            Self::HostPathVolumes => "HostPath volumes must be forbidden.",
            Self::HostPorts => "Host ports must be forbidden.",
            Self::AppArmorProfile => {
                "Overriding or disabling the default AppArmor profile must be restricted."
            }
            Self::SeLinuxOptions => {
                "Setting a custom SELinux user or role, or an unusual type, is forbidden."
            }
            Self::ProcMount => "The default /proc masks must be kept.",
            Self::SeccompProfileBaseline => {
                "The seccomp profile must not be explicitly set to Unconfined."
            }
            Self::Sysctls => "Only the safe subset of sysctls may be set.",
            Self::WindowsHostProcess => "Windows host process containers must be disallowed.",
            Self::HostProbesAndHostLifecycle => {
                "Probes and lifecycle handlers must not target other hosts."
            }
            Self::RestrictedVolumes => {
                "Only core, ephemeral and persistent-volume-claim volume types are allowed."
            }
            Self::AllowPrivilegeEscalation => {
                "Privilege escalation (setuid binaries) must be disallowed."
            }
            Self::RunAsNonRoot => "Containers must run as non-root users.",
            Self::RunAsUser => "Containers must not set runAsUser to 0.",
            Self::SeccompProfileRestricted => {
                "A seccomp profile (RuntimeDefault or Localhost) must be set."
            }
            Self::CapabilitiesRestricted => {
                "Containers must drop ALL capabilities and may add only NET_BIND_SERVICE."
            }
            Self::ProcMountRestricted => {
                "The default /proc masks must be kept, even in user namespaces."
            }
        }
    }

    /// The version whose behaviour applies at `minor`, if the check exists then.
    fn first_minor(self) -> u32 {
        match self {
            Self::HostProbesAndHostLifecycle => 34,
            Self::AllowPrivilegeEscalation => 8,
            Self::RunAsUser => 23,
            Self::SeccompProfileRestricted => 19,
            Self::CapabilitiesRestricted => 22,
            Self::ProcMountRestricted => 35,
            _ => 0,
        }
    }

    /// The baseline check a restricted check replaces (PSA's `OverrideCheckIDs`).
    fn overrides(self) -> Option<Check> {
        match self {
            Self::RestrictedVolumes => Some(Self::HostPathVolumes),
            Self::SeccompProfileRestricted => Some(Self::SeccompProfileBaseline),
            Self::CapabilitiesRestricted => Some(Self::CapabilitiesBaseline),
            Self::ProcMountRestricted => Some(Self::ProcMount),
            _ => None,
        }
    }

    /// The checks that apply at a level and version, overrides applied.
    pub fn applicable(policy: PodSecurity) -> Vec<Check> {
        let minor = policy.version.minor();
        let present: Vec<Check> = Self::ALL
            .into_iter()
            .filter(|c| {
                c.level() <= policy.level
                    && policy.level != Level::Privileged
                    && c.first_minor() <= minor
            })
            .collect();
        let overridden: BTreeSet<Check> = present.iter().filter_map(|c| c.overrides()).collect();
        present
            .into_iter()
            .filter(|c| !overridden.contains(c))
            .collect()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A field a violation points at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldRef {
    /// The container the field belongs to, if any.
    pub container: Option<String>,
    /// Path from the object's root.
    pub path: FieldPath,
}

/// A failed check: PSA's reason and detail, and the fields at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub check: Check,
    /// PSA's `ForbiddenReason`, e.g. `privileged`.
    pub reason: String,
    /// PSA's `ForbiddenDetail`, e.g. `container "x" must not set securityContext.privileged=true`.
    pub detail: String,
    pub fields: Vec<FieldRef>,
}

impl CheckFailure {
    /// The message as PSA prints it: `reason (detail)`.
    pub fn message(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// Evaluates the pod template (found at `template_path` in its object)
/// against a level and version; an empty result means PSA would admit it.
pub fn evaluate(
    template: &PodTemplate,
    template_path: &FieldPath,
    policy: PodSecurity,
) -> Vec<CheckFailure> {
    let ctx = Ctx {
        template,
        spec: &template.spec,
        spec_path: template_path.key("spec"),
        meta_path: template_path.key("metadata"),
        minor: policy.version.minor(),
    };
    Check::applicable(policy)
        .into_iter()
        .filter_map(|check| ctx.run(check))
        .collect()
}

struct Ctx<'a> {
    template: &'a PodTemplate,
    spec: &'a PodSpec,
    spec_path: FieldPath,
    meta_path: FieldPath,
    minor: u32,
}

/// The result of looking at every `seccompProfile` of a pod.
struct SeccompScan {
    /// `pod` and/or `containers "a", "b"` that set a forbidden type.
    setters: Vec<String>,
    /// The forbidden types, sorted.
    values: Vec<String>,
    /// Containers without a profile while the pod has no valid one.
    implicit: Vec<String>,
    bad_fields: Vec<FieldRef>,
    missing_fields: Vec<FieldRef>,
}

/// A container with its path.
struct Visited<'a> {
    container: &'a Container,
    path: FieldPath,
}

fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", inner.join("\", \""))
}

fn pluralize<'s>(singular: &'s str, plural: &'s str, count: usize) -> &'s str {
    if count == 1 { singular } else { plural }
}

/// Go's `%q` for the strings that appear in manifests.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Insertion-ordered, de-duplicated list (PSA's `Violations.Data`).
#[derive(Default)]
struct Names(Vec<String>);

impl Names {
    fn add(&mut self, name: &str) {
        if !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_owned());
        }
    }
}

impl Ctx<'_> {
    fn containers(&self) -> Vec<Visited<'_>> {
        let spec = self.spec;
        let lists: [(&str, &Vec<Container>); 3] = [
            ("initContainers", &spec.init_containers),
            ("containers", &spec.containers),
            ("ephemeralContainers", &spec.ephemeral_containers),
        ];
        lists
            .into_iter()
            .flat_map(|(key, list)| {
                let base = self.spec_path.key(key);
                list.iter().enumerate().map(move |(i, container)| Visited {
                    container,
                    path: base.index(i),
                })
            })
            .collect()
    }

    fn field(&self, visited: &Visited<'_>, rel: &str) -> FieldRef {
        FieldRef {
            container: Some(visited.container.name.clone()),
            path: visited.path.keys(rel),
        }
    }

    /// The names of the containers whose security context `offends` (PSA
    /// lists them in its message), appending each one's `rel` field to
    /// `fields`.
    fn offending_containers(
        &self,
        rel: &str,
        fields: &mut Vec<FieldRef>,
        mut offends: impl FnMut(Option<&SecurityContext>) -> bool,
    ) -> Vec<String> {
        let mut names = Vec::new();
        for c in self.containers() {
            if offends(c.container.security_context.as_ref()) {
                names.push(c.container.name.clone());
                fields.push(self.field(&c, rel));
            }
        }
        names
    }

    fn pod_field(&self, rel: &str) -> FieldRef {
        FieldRef {
            container: None,
            path: self.spec_path.keys(rel),
        }
    }

    fn failure(
        check: Check,
        reason: impl Into<String>,
        detail: String,
        fields: Vec<FieldRef>,
    ) -> Option<CheckFailure> {
        Some(CheckFailure {
            check,
            reason: reason.into(),
            detail,
            fields,
        })
    }

    fn relaxed_for_user_namespace(&self) -> bool {
        self.minor >= 35 && self.spec.host_users == Some(false)
    }

    fn run(&self, check: Check) -> Option<CheckFailure> {
        match check {
            Check::HostNamespaces => self.host_namespaces(),
            Check::Privileged => self.privileged(),
            Check::CapabilitiesBaseline => self.capabilities_baseline(),
            Check::HostPathVolumes => self.host_path_volumes(),
            Check::HostPorts => self.host_ports(),
            Check::AppArmorProfile => self.app_armor_profile(),
            Check::SeLinuxOptions => self.se_linux_options(),
            Check::ProcMount => {
                if self.relaxed_for_user_namespace() {
                    return None;
                }
                self.proc_mount(Check::ProcMount)
            }
            Check::ProcMountRestricted => self.proc_mount(Check::ProcMountRestricted),
            Check::SeccompProfileBaseline => {
                if self.minor >= 19 {
                    self.seccomp_baseline_fields()
                } else {
                    self.seccomp_baseline_annotations()
                }
            }
            Check::Sysctls => self.sysctls(),
            Check::WindowsHostProcess => self.windows_host_process(),
            Check::HostProbesAndHostLifecycle => self.host_probes(),
            Check::RestrictedVolumes => self.restricted_volumes(),
            Check::AllowPrivilegeEscalation => {
                if self.minor >= 25 && self.spec.is_windows() {
                    return None;
                }
                self.allow_privilege_escalation()
            }
            Check::RunAsNonRoot => {
                if self.relaxed_for_user_namespace() {
                    return None;
                }
                self.run_as_non_root()
            }
            Check::RunAsUser => {
                if self.relaxed_for_user_namespace() {
                    return None;
                }
                self.run_as_user()
            }
            Check::SeccompProfileRestricted => {
                if self.minor >= 25 && self.spec.is_windows() {
                    return None;
                }
                self.seccomp_restricted()
            }
            Check::CapabilitiesRestricted => {
                if self.minor >= 25 && self.spec.is_windows() {
                    return None;
                }
                self.capabilities_restricted()
            }
        }
    }

    fn host_namespaces(&self) -> Option<CheckFailure> {
        let mut set = Vec::new();
        let mut fields = Vec::new();
        for (name, value) in [
            ("hostNetwork", self.spec.host_network),
            ("hostPID", self.spec.host_pid),
            ("hostIPC", self.spec.host_ipc),
        ] {
            if value == Some(true) {
                set.push(format!("{name}=true"));
                fields.push(self.pod_field(name));
            }
        }
        if set.is_empty() {
            return None;
        }
        Self::failure(
            Check::HostNamespaces,
            "host namespaces",
            set.join(", "),
            fields,
        )
    }

    fn privileged(&self) -> Option<CheckFailure> {
        let mut fields = Vec::new();
        let bad = self.offending_containers("securityContext.privileged", &mut fields, |s| {
            s.and_then(|s| s.privileged) == Some(true)
        });
        if bad.is_empty() {
            return None;
        }
        let detail = format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        );
        Self::failure(Check::Privileged, "privileged", detail, fields)
    }

    fn capabilities_baseline(&self) -> Option<CheckFailure> {
        const ALLOWED: [&str; 13] = [
            "AUDIT_WRITE",
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "KILL",
            "MKNOD",
            "NET_BIND_SERVICE",
            "SETFCAP",
            "SETGID",
            "SETPCAP",
            "SETUID",
            "SYS_CHROOT",
        ];
        let mut bad = Vec::new();
        let mut caps = BTreeSet::new();
        let mut fields = Vec::new();
        for c in self.containers() {
            let Some(capabilities) = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.capabilities.as_ref())
            else {
                continue;
            };
            let mut valid = true;
            for (i, cap) in capabilities.add.iter().enumerate() {
                if !ALLOWED.contains(&cap.as_str()) {
                    valid = false;
                    caps.insert(cap.clone());
                    fields.push(FieldRef {
                        container: Some(c.container.name.clone()),
                        path: c.path.keys("securityContext.capabilities.add").index(i),
                    });
                }
            }
            if !valid {
                bad.push(c.container.name.clone());
            }
        }
        if bad.is_empty() {
            return None;
        }
        let caps: Vec<String> = caps.into_iter().collect();
        let detail = format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&caps)
        );
        Self::failure(
            Check::CapabilitiesBaseline,
            "non-default capabilities",
            detail,
            fields,
        )
    }

    fn host_path_volumes(&self) -> Option<CheckFailure> {
        let mut names = Vec::new();
        let mut fields = Vec::new();
        for (i, volume) in self.spec.volumes.iter().enumerate() {
            if volume.source("hostPath").is_some() {
                names.push(volume.name.clone());
                fields.push(FieldRef {
                    container: None,
                    path: self.spec_path.key("volumes").index(i).key("hostPath"),
                });
            }
        }
        if names.is_empty() {
            return None;
        }
        let detail = format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        );
        Self::failure(Check::HostPathVolumes, "hostPath volumes", detail, fields)
    }

    fn host_ports(&self) -> Option<CheckFailure> {
        let mut bad = Vec::new();
        let mut ports = BTreeSet::new();
        let mut fields = Vec::new();
        for c in self.containers() {
            let mut valid = true;
            for (i, port) in c.container.ports.iter().enumerate() {
                if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                    valid = false;
                    ports.insert(host_port.to_string());
                    fields.push(FieldRef {
                        container: Some(c.container.name.clone()),
                        path: c.path.key("ports").index(i).key("hostPort"),
                    });
                }
            }
            if !valid {
                bad.push(c.container.name.clone());
            }
        }
        if bad.is_empty() {
            return None;
        }
        let ports: Vec<String> = ports.into_iter().collect();
        let detail = format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        );
        Self::failure(Check::HostPorts, "hostPort", detail, fields)
    }

    fn app_armor_profile(&self) -> Option<CheckFailure> {
        const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
        let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
        let mut setters = Vec::new();
        let mut values = BTreeSet::new();
        let mut fields = Vec::new();
        if let Some(profile) = self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.app_armor_profile.as_ref())
            && !allowed_type(&profile.type_)
        {
            setters.push("pod".to_owned());
            values.insert(profile.type_.clone());
            fields.push(self.pod_field("securityContext.appArmorProfile.type"));
        }
        let mut bad = Vec::new();
        for c in self.containers() {
            if let Some(profile) = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.app_armor_profile.as_ref())
                && !allowed_type(&profile.type_)
            {
                bad.push(c.container.name.clone());
                values.insert(profile.type_.clone());
                fields.push(self.field(&c, "securityContext.appArmorProfile.type"));
            }
        }
        if !bad.is_empty() {
            setters.push(containers_phrase(&bad));
        }
        let mut values: Vec<String> = values.into_iter().collect();
        let mut annotations = Vec::new();
        for (key, value) in &self.template.metadata.annotations {
            let allowed =
                value.is_empty() || value == "runtime/default" || value.starts_with("localhost/");
            if key.starts_with(ANNOTATION_PREFIX) && !allowed {
                annotations.push(format!("{key}={}", go_quote(value)));
                fields.push(FieldRef {
                    container: None,
                    path: self.meta_path.key("annotations").key(key),
                });
            }
        }
        if !annotations.is_empty() {
            annotations.sort();
            setters.push(pluralize("annotation", "annotations", annotations.len()).to_owned());
            values.extend(annotations);
        }
        if setters.is_empty() {
            return None;
        }
        let reason = pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        );
        let detail = format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        );
        Self::failure(Check::AppArmorProfile, reason, detail, fields)
    }

    fn se_linux_options(&self) -> Option<CheckFailure> {
        let mut allowed_types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
        if self.minor >= 31 {
            allowed_types.push("container_engine_t");
        }
        let mut bad_types = BTreeSet::new();
        let mut set_user = false;
        let mut set_role = false;
        let mut valid = |options: &SeLinuxOptions| {
            let mut ok = true;
            if !allowed_types.contains(&options.type_.as_str()) {
                ok = false;
                bad_types.insert(options.type_.clone());
            }
            if !options.user.is_empty() {
                ok = false;
                set_user = true;
            }
            if !options.role.is_empty() {
                ok = false;
                set_role = true;
            }
            ok
        };
        let mut setters = Vec::new();
        let mut fields = Vec::new();
        if let Some(options) = self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref())
            && !valid(options)
        {
            setters.push("pod".to_owned());
            fields.push(self.pod_field("securityContext.seLinuxOptions"));
        }
        let bad = self.offending_containers("securityContext.seLinuxOptions", &mut fields, |s| {
            s.and_then(|s| s.se_linux_options.as_ref())
                .is_some_and(|options| !valid(options))
        });
        if !bad.is_empty() {
            setters.push(containers_phrase(&bad));
        }
        if setters.is_empty() {
            return None;
        }
        let mut data = Vec::new();
        if !bad_types.is_empty() {
            let types: Vec<String> = bad_types.into_iter().collect();
            data.push(format!(
                "{} {}",
                pluralize("type", "types", types.len()),
                join_quote(&types)
            ));
        }
        if set_user {
            data.push("user may not be set".to_owned());
        }
        if set_role {
            data.push("role may not be set".to_owned());
        }
        let detail = format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        );
        Self::failure(Check::SeLinuxOptions, "seLinuxOptions", detail, fields)
    }

    fn proc_mount(&self, check: Check) -> Option<CheckFailure> {
        let mut bad = Vec::new();
        let mut types = BTreeSet::new();
        let mut fields = Vec::new();
        for c in self.containers() {
            if let Some(proc_mount) = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.proc_mount.as_ref())
                && proc_mount != "Default"
            {
                bad.push(c.container.name.clone());
                types.insert(proc_mount.clone());
                fields.push(self.field(&c, "securityContext.procMount"));
            }
        }
        if bad.is_empty() {
            return None;
        }
        let types: Vec<String> = types.into_iter().collect();
        let detail = format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&types)
        );
        Self::failure(check, "procMount", detail, fields)
    }

    fn seccomp_baseline_annotations(&self) -> Option<CheckFailure> {
        const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
        const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
        let valid = |v: &str| {
            v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
        };
        let annotations = &self.template.metadata.annotations;
        let mut forbidden = BTreeSet::new();
        let mut fields = Vec::new();
        if let Some(value) = annotations.get(POD_KEY)
            && !valid(value)
        {
            forbidden.insert(format!("{POD_KEY}={}", go_quote(value)));
            fields.push(FieldRef {
                container: None,
                path: self.meta_path.key("annotations").key(POD_KEY),
            });
        }
        for c in self.containers() {
            let key = format!("{CONTAINER_PREFIX}{}", c.container.name);
            if let Some(value) = annotations.get(&key)
                && !valid(value)
            {
                forbidden.insert(format!("{key}={}", go_quote(value)));
                fields.push(FieldRef {
                    container: Some(c.container.name.clone()),
                    path: self.meta_path.key("annotations").key(&key),
                });
            }
        }
        if forbidden.is_empty() {
            return None;
        }
        let list: Vec<String> = forbidden.into_iter().collect();
        let detail = format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", list.len()),
            list.join(", ")
        );
        Self::failure(
            Check::SeccompProfileBaseline,
            "seccompProfile",
            detail,
            fields,
        )
    }

    /// Who sets a bad `seccompProfile.type`, and which containers set none
    /// without a pod-level profile to fall back on.
    fn seccomp_scan(&self) -> SeccompScan {
        let valid = |t: &str| t == "RuntimeDefault" || t == "Localhost";
        let mut setters = Vec::new();
        let mut values = BTreeSet::new();
        let mut bad_fields = Vec::new();
        let mut missing_fields = Vec::new();
        let mut pod_set = false;
        if let Some(profile) = self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            if valid(&profile.type_) {
                pod_set = true;
            } else {
                setters.push("pod".to_owned());
                values.insert(profile.type_.clone());
                bad_fields.push(self.pod_field("securityContext.seccompProfile.type"));
            }
        }
        let mut explicit = Vec::new();
        let mut implicit = Vec::new();
        for c in self.containers() {
            match c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.seccomp_profile.as_ref())
            {
                Some(profile) => {
                    if !valid(&profile.type_) {
                        explicit.push(c.container.name.clone());
                        values.insert(profile.type_.clone());
                        bad_fields.push(self.field(&c, "securityContext.seccompProfile.type"));
                    }
                }
                None => {
                    if !pod_set {
                        implicit.push(c.container.name.clone());
                        missing_fields.push(self.field(&c, "securityContext.seccompProfile.type"));
                    }
                }
            }
        }
        if !explicit.is_empty() {
            setters.push(containers_phrase(&explicit));
        }
        SeccompScan {
            setters,
            values: values.into_iter().collect(),
            implicit,
            bad_fields,
            missing_fields,
        }
    }

    fn seccomp_baseline_fields(&self) -> Option<CheckFailure> {
        let SeccompScan {
            setters,
            values,
            bad_fields: fields,
            ..
        } = self.seccomp_scan();
        if setters.is_empty() {
            return None;
        }
        let detail = format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        );
        Self::failure(
            Check::SeccompProfileBaseline,
            "seccompProfile",
            detail,
            fields,
        )
    }

    fn seccomp_restricted(&self) -> Option<CheckFailure> {
        let SeccompScan {
            setters,
            values,
            implicit,
            bad_fields,
            missing_fields,
        } = self.seccomp_scan();
        if !setters.is_empty() {
            let detail = format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            );
            return Self::failure(
                Check::SeccompProfileRestricted,
                "seccompProfile",
                detail,
                bad_fields,
            );
        }
        if implicit.is_empty() {
            return None;
        }
        let detail = format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&implicit)
        );
        Self::failure(
            Check::SeccompProfileRestricted,
            "seccompProfile",
            detail,
            missing_fields,
        )
    }

    fn sysctls(&self) -> Option<CheckFailure> {
        let mut allowed = vec![
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
        ];
        if self.minor >= 27 {
            allowed.push("net.ipv4.ip_local_reserved_ports");
        }
        if self.minor >= 29 {
            allowed.extend([
                "net.ipv4.tcp_keepalive_time",
                "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes",
            ]);
        }
        if self.minor >= 32 {
            allowed.extend(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]);
        }
        if self.minor >= 37 {
            allowed.extend([
                "net.ipv4.tcp_slow_start_after_idle",
                "net.ipv4.tcp_notsent_lowat",
            ]);
        }
        let sysctls = self
            .spec
            .security_context
            .as_ref()
            .map(|s| s.sysctls.as_slice())
            .unwrap_or_default();
        let mut forbidden = Vec::new();
        let mut fields = Vec::new();
        for (i, sysctl) in sysctls.iter().enumerate() {
            if !allowed.contains(&sysctl.name.as_str()) {
                forbidden.push(sysctl.name.clone());
                fields.push(FieldRef {
                    container: None,
                    path: self
                        .spec_path
                        .keys("securityContext.sysctls")
                        .index(i)
                        .key("name"),
                });
            }
        }
        if forbidden.is_empty() {
            return None;
        }
        Self::failure(
            Check::Sysctls,
            "forbidden sysctls",
            forbidden.join(", "),
            fields,
        )
    }

    fn windows_host_process(&self) -> Option<CheckFailure> {
        let mut setters = Vec::new();
        let mut fields = Vec::new();
        if self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process)
            == Some(true)
        {
            setters.push("pod".to_owned());
            fields.push(self.pod_field("securityContext.windowsOptions.hostProcess"));
        }
        let bad = self.offending_containers(
            "securityContext.windowsOptions.hostProcess",
            &mut fields,
            |s| {
                s.and_then(|s| s.windows_options.as_ref())
                    .and_then(|w| w.host_process)
                    == Some(true)
            },
        );
        if !bad.is_empty() {
            setters.push(containers_phrase(&bad));
        }
        if setters.is_empty() {
            return None;
        }
        let detail = format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        );
        Self::failure(Check::WindowsHostProcess, "hostProcess", detail, fields)
    }

    fn host_probes(&self) -> Option<CheckFailure> {
        let mut bad = BTreeSet::new();
        let mut hosts = BTreeSet::new();
        let mut fields = Vec::new();
        for c in self.containers() {
            let container = c.container;
            let mut handlers = vec![
                ("livenessProbe", container.liveness_probe.as_ref()),
                ("readinessProbe", container.readiness_probe.as_ref()),
                ("startupProbe", container.startup_probe.as_ref()),
            ];
            if let Some(lifecycle) = &container.lifecycle {
                handlers.push(("lifecycle.postStart", lifecycle.post_start.as_ref()));
                handlers.push(("lifecycle.preStop", lifecycle.pre_stop.as_ref()));
            }
            for (name, handler) in handlers {
                let Some(handler) = handler else { continue };
                for (action_name, action) in [
                    ("httpGet", &handler.http_get),
                    ("tcpSocket", &handler.tcp_socket),
                ] {
                    if let Some(action) = action
                        && !action.host.is_empty()
                    {
                        bad.insert(container.name.clone());
                        hosts.insert(action.host.clone());
                        fields.push(self.field(&c, &format!("{name}.{action_name}.host")));
                    }
                }
            }
        }
        if bad.is_empty() {
            return None;
        }
        let bad: Vec<String> = bad.into_iter().collect();
        let hosts: Vec<String> = hosts.into_iter().collect();
        let detail = format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        );
        Self::failure(
            Check::HostProbesAndHostLifecycle,
            "probe or lifecycle host",
            detail,
            fields,
        )
    }

    fn restricted_volumes(&self) -> Option<CheckFailure> {
        const ALLOWED: [&str; 9] = [
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "image",
            "persistentVolumeClaim",
            "projected",
            "secret",
        ];
        // PSA's order of precedence when naming the type of a bad volume.
        const RESTRICTED: [&str; 21] = [
            "hostPath",
            "gcePersistentDisk",
            "awsElasticBlockStore",
            "gitRepo",
            "nfs",
            "iscsi",
            "glusterfs",
            "rbd",
            "flexVolume",
            "cinder",
            "cephfs",
            "flocker",
            "fc",
            "azureFile",
            "vsphereVolume",
            "quobyte",
            "azureDisk",
            "photonPersistentDisk",
            "portworxVolume",
            "scaleIO",
            "storageos",
        ];
        let mut names = Names::default();
        let mut types = BTreeSet::new();
        let mut fields = Vec::new();
        for (i, volume) in self.spec.volumes.iter().enumerate() {
            // The API server defaults a volume without a source to emptyDir.
            if volume.sources.is_empty() || ALLOWED.iter().any(|t| volume.source(t).is_some()) {
                continue;
            }
            names.add(&volume.name);
            let kind = RESTRICTED
                .iter()
                .find(|t| volume.source(t).is_some())
                .copied()
                .unwrap_or("unknown");
            types.insert(kind.to_owned());
            let field = volume
                .sources
                .first()
                .map(|(k, _)| k.as_str())
                .unwrap_or(kind);
            fields.push(FieldRef {
                container: None,
                path: self.spec_path.key("volumes").index(i).key(field),
            });
        }
        let names = names.0;
        if names.is_empty() {
            return None;
        }
        let types: Vec<String> = types.into_iter().collect();
        let detail = format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        );
        Self::failure(
            Check::RestrictedVolumes,
            "restricted volume types",
            detail,
            fields,
        )
    }

    fn allow_privilege_escalation(&self) -> Option<CheckFailure> {
        let mut fields = Vec::new();
        let bad = self.offending_containers(
            "securityContext.allowPrivilegeEscalation",
            &mut fields,
            |s| s.and_then(|s| s.allow_privilege_escalation) != Some(false),
        );
        if bad.is_empty() {
            return None;
        }
        let detail = format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad)
        );
        Self::failure(
            Check::AllowPrivilegeEscalation,
            "allowPrivilegeEscalation != false",
            detail,
            fields,
        )
    }

    fn run_as_non_root(&self) -> Option<CheckFailure> {
        let mut setters = Vec::new();
        let mut bad_fields = Vec::new();
        let mut pod_non_root = false;
        if let Some(value) = self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root)
        {
            if value {
                pod_non_root = true;
            } else {
                setters.push("pod".to_owned());
                bad_fields.push(self.pod_field("securityContext.runAsNonRoot"));
            }
        }
        let mut explicit = Vec::new();
        let mut implicit = Vec::new();
        let mut missing_fields = Vec::new();
        for c in self.containers() {
            match c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root)
            {
                Some(false) => {
                    explicit.push(c.container.name.clone());
                    bad_fields.push(self.field(&c, "securityContext.runAsNonRoot"));
                }
                Some(true) => {}
                None if !pod_non_root => {
                    implicit.push(c.container.name.clone());
                    missing_fields.push(self.field(&c, "securityContext.runAsNonRoot"));
                }
                None => {}
            }
        }
        if !explicit.is_empty() {
            setters.push(containers_phrase(&explicit));
        }
        if !setters.is_empty() {
            let detail = format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            );
            return Self::failure(
                Check::RunAsNonRoot,
                "runAsNonRoot != true",
                detail,
                bad_fields,
            );
        }
        if implicit.is_empty() {
            return None;
        }
        let detail = format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        );
        Self::failure(
            Check::RunAsNonRoot,
            "runAsNonRoot != true",
            detail,
            missing_fields,
        )
    }

    fn run_as_user(&self) -> Option<CheckFailure> {
        let mut setters = Vec::new();
        let mut fields = Vec::new();
        if self
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            == Some(0)
        {
            setters.push("pod".to_owned());
            fields.push(self.pod_field("securityContext.runAsUser"));
        }
        let bad = self.offending_containers("securityContext.runAsUser", &mut fields, |s| {
            s.and_then(|s| s.run_as_user) == Some(0)
        });
        if !bad.is_empty() {
            setters.push(containers_phrase(&bad));
        }
        if setters.is_empty() {
            return None;
        }
        let detail = format!("{} must not set runAsUser=0", setters.join(" and "));
        Self::failure(Check::RunAsUser, "runAsUser=0", detail, fields)
    }

    fn capabilities_restricted(&self) -> Option<CheckFailure> {
        let mut missing_drop = Vec::new();
        let mut adding = Vec::new();
        let mut forbidden = BTreeSet::new();
        let mut fields = Vec::new();
        for c in self.containers() {
            let Some(capabilities) = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.capabilities.as_ref())
            else {
                missing_drop.push(c.container.name.clone());
                fields.push(self.field(&c, "securityContext.capabilities.drop"));
                continue;
            };
            if !capabilities.drop.iter().any(|d| d == "ALL") {
                missing_drop.push(c.container.name.clone());
                fields.push(self.field(&c, "securityContext.capabilities.drop"));
            }
            let mut added_forbidden = false;
            for (i, cap) in capabilities.add.iter().enumerate() {
                if cap != "NET_BIND_SERVICE" {
                    added_forbidden = true;
                    forbidden.insert(cap.clone());
                    fields.push(FieldRef {
                        container: Some(c.container.name.clone()),
                        path: c.path.keys("securityContext.capabilities.add").index(i),
                    });
                }
            }
            if added_forbidden {
                adding.push(c.container.name.clone());
            }
        }
        let mut details = Vec::new();
        if !missing_drop.is_empty() {
            details.push(format!(
                "{} must set securityContext.capabilities.drop=[\"ALL\"]",
                containers_phrase(&missing_drop)
            ));
        }
        if !adding.is_empty() {
            let forbidden: Vec<String> = forbidden.into_iter().collect();
            details.push(format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&adding),
                join_quote(&forbidden)
            ));
        }
        if details.is_empty() {
            return None;
        }
        Self::failure(
            Check::CapabilitiesRestricted,
            "unrestricted capabilities",
            details.join("; "),
            fields,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels_and_versions() {
        assert_eq!(
            "restricted".parse::<PodSecurity>().unwrap(),
            PodSecurity::default()
        );
        let p: PodSecurity = "baseline:v1.29".parse().unwrap();
        assert_eq!((p.level, p.version), (Level::Baseline, Version::V1(29)));
        assert_eq!(p.to_string(), "baseline:v1.29");
        assert!("baseline:1.29".parse::<PodSecurity>().is_err());
        assert!("strict".parse::<PodSecurity>().is_err());
        assert!("restricted:v2.0".parse::<PodSecurity>().is_err());
        assert_eq!(
            "restricted:v1.99"
                .parse::<PodSecurity>()
                .unwrap()
                .version
                .minor(),
            LATEST_MINOR
        );
    }

    #[test]
    fn restricted_checks_override_their_baseline_counterparts() {
        let latest = Check::applicable(PodSecurity::default());
        assert!(!latest.contains(&Check::HostPathVolumes));
        assert!(!latest.contains(&Check::CapabilitiesBaseline));
        assert!(latest.contains(&Check::RestrictedVolumes));
        let old = Check::applicable("restricted:v1.10".parse().unwrap());
        assert!(old.contains(&Check::CapabilitiesBaseline));
        assert!(!old.contains(&Check::CapabilitiesRestricted));
        assert!(Check::applicable("privileged".parse().unwrap()).is_empty());
    }
}
