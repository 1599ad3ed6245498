//! Hardening rules beyond the Pod Security Standards: what a platform team
//! asks of every workload (trusted registries, pinned images, limits, no
//! runtime socket, …). Each rule has a stable id, a default severity, a
//! one-line rationale and a remediation.

use std::fmt;
use std::str::FromStr;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::image::{ImageRef, normalize_pattern};
use crate::model::Container;
use crate::path::FieldPath;
use crate::pss::FieldRef;
use crate::workload::Workload;

/// How much a violation matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A word that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected critical, high, medium or low)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// The hardening rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    AllowedRegistries,
    RequireDigest,
    NoLatestTag,
    ReadOnlyRootFs,
    ResourceLimits,
    ResourceRequests,
    NoServiceAccountToken,
    NoNetRaw,
    NoRuntimeSocket,
    RunAsNonRoot,
    NoHostPort,
    NoSecretInEnv,
    LivenessProbe,
    ReadinessProbe,
}

/// A rule id that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule {0:?}")]
pub struct UnknownRule(pub String);

impl Rule {
    pub const ALL: [Rule; 14] = [
        Self::AllowedRegistries,
        Self::RequireDigest,
        Self::NoLatestTag,
        Self::ReadOnlyRootFs,
        Self::ResourceLimits,
        Self::ResourceRequests,
        Self::NoServiceAccountToken,
        Self::NoNetRaw,
        Self::NoRuntimeSocket,
        Self::RunAsNonRoot,
        Self::NoHostPort,
        Self::NoSecretInEnv,
        Self::LivenessProbe,
        Self::ReadinessProbe,
    ];

    /// The stable id used in policies and reports.
    pub fn id(self) -> &'static str {
        match self {
            Self::AllowedRegistries => "allowed-registries",
            Self::RequireDigest => "require-digest",
            Self::NoLatestTag => "no-latest-tag",
            Self::ReadOnlyRootFs => "read-only-root-fs",
            Self::ResourceLimits => "resource-limits",
            Self::ResourceRequests => "resource-requests",
            Self::NoServiceAccountToken => "no-service-account-token",
            Self::NoNetRaw => "no-net-raw",
            Self::NoRuntimeSocket => "no-runtime-socket",
            Self::RunAsNonRoot => "run-as-non-root",
            Self::NoHostPort => "no-host-port",
            Self::NoSecretInEnv => "no-secret-in-env",
            Self::LivenessProbe => "liveness-probe",
            Self::ReadinessProbe => "readiness-probe",
        }
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Result<Self, UnknownRule> {
        Self::ALL
            .into_iter()
            .find(|r| r.id() == id)
            .ok_or_else(|| UnknownRule(id.to_owned()))
    }

    /// Severity unless the policy says otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::NoRuntimeSocket => Severity::Critical,
            Self::AllowedRegistries | Self::NoNetRaw => Severity::High,
            Self::RequireDigest
            | Self::NoLatestTag
            | Self::ReadOnlyRootFs
            | Self::ResourceLimits
            | Self::RunAsNonRoot
            | Self::NoHostPort
            | Self::NoSecretInEnv => Severity::Medium,
            Self::ResourceRequests
            | Self::NoServiceAccountToken
            | Self::LivenessProbe
            | Self::ReadinessProbe => Severity::Low,
        }
    }

    /// Whether the rule runs when a policy does not list rules. The registry
    /// rules are switched on by `registries.allow` / `registries.requireDigest`.
    pub fn on_by_default(self) -> bool {
        !matches!(self, Self::AllowedRegistries | Self::RequireDigest)
    }

    /// Why the rule exists, in one line.
    pub fn rationale(self) -> &'static str {
        match self {
            Self::AllowedRegistries => {
                "Images from unvetted registries bypass the scanning and signing done on trusted ones."
            }
            Self::RequireDigest => {
                "A tag can be moved to other content; only a digest names exactly what was scanned."
            }
            Self::NoLatestTag => {
                "`latest` or a missing tag makes deployments unrepeatable and hides what is running."
            }
            Self::ReadOnlyRootFs => {
                "A writable root filesystem lets an intruder drop tools and persist changes."
            }
            Self::ResourceLimits => {
                "Without CPU and memory limits one container can starve the node (denial of service)."
            }
            Self::ResourceRequests => {
                "Without requests the scheduler cannot place pods safely and QoS is best-effort."
            }
            Self::NoServiceAccountToken => {
                "A mounted service account token gives anyone in the container access to the Kubernetes API."
            }
            Self::NoNetRaw => {
                "NET_RAW allows packet crafting and spoofing (ARP, DNS) against other pods."
            }
            Self::NoRuntimeSocket => {
                "The container runtime socket gives full control of the node and every container on it."
            }
            Self::RunAsNonRoot => {
                "Root in a container is root on the host after any container escape."
            }
            Self::NoHostPort => {
                "Host ports bind the node's network interfaces and bypass network policy."
            }
            Self::NoSecretInEnv => {
                "Secrets written as plain env values end up in manifests, Git and `kubectl describe`."
            }
            Self::LivenessProbe => "Without a liveness probe a hung container is never restarted.",
            Self::ReadinessProbe => {
                "Without a readiness probe traffic reaches containers that are not ready."
            }
        }
    }

    /// How to fix a violation, in one line.
    pub fn remediation(self) -> &'static str {
        match self {
            Self::AllowedRegistries => {
                "Pull the image from a registry listed in the policy's registries.allow (mirror it there)."
            }
            Self::RequireDigest => {
                "Reference the image by digest: image: registry/repo@sha256:<digest>."
            }
            Self::NoLatestTag => "Use an explicit version tag (or a digest), never :latest.",
            Self::ReadOnlyRootFs => {
                "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where writes are needed."
            }
            Self::ResourceLimits => "Set resources.limits.cpu and resources.limits.memory.",
            Self::ResourceRequests => "Set resources.requests.cpu and resources.requests.memory.",
            Self::NoServiceAccountToken => {
                "Set automountServiceAccountToken: false in the pod spec unless the workload calls the API."
            }
            Self::NoNetRaw => {
                "Add NET_RAW (or ALL) to securityContext.capabilities.drop and never to add."
            }
            Self::NoRuntimeSocket => {
                "Remove the hostPath volume of the runtime socket (docker.sock, containerd.sock, crio.sock)."
            }
            Self::RunAsNonRoot => {
                "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) for the pod or container."
            }
            Self::NoHostPort => "Remove ports[].hostPort; expose the pod through a Service.",
            Self::NoSecretInEnv => {
                "Move the value to a Secret and use env[].valueFrom.secretKeyRef."
            }
            Self::LivenessProbe => "Add a livenessProbe to the container.",
            Self::ReadinessProbe => "Add a readinessProbe to the container.",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_id(s)
    }
}

/// A compiled registry allow-list.
#[derive(Debug, Clone, Default)]
pub struct RegistryAllowList {
    patterns: Vec<String>,
    set: GlobSet,
}

impl RegistryAllowList {
    /// Compiles glob patterns (`ghcr.io/example/*`); names without a
    /// registry mean Docker Hub, as for `docker pull`. `*` also matches `/`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let normalized = normalize_pattern(pattern.as_ref());
            builder.add(Glob::new(&normalized)?);
            kept.push(normalized);
        }
        Ok(Self {
            patterns: kept,
            set: builder.build()?,
        })
    }

    /// The normalised patterns.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the list is empty (then every registry is allowed).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the image's `registry/repository` (or the full reference)
    /// matches a pattern.
    pub fn allows(&self, image: &ImageRef) -> bool {
        self.is_empty() || self.set.is_match(image.name()) || self.set.is_match(image.to_string())
    }
}

/// A rule switched on, with the severity it reports at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSetting {
    pub rule: Rule,
    pub severity: Severity,
}

impl From<Rule> for RuleSetting {
    fn from(rule: Rule) -> Self {
        Self {
            rule,
            severity: rule.default_severity(),
        }
    }
}

/// A hardening finding before positions are resolved.
pub(crate) struct Finding {
    pub rule: Rule,
    pub message: String,
    pub field: FieldRef,
}

/// Runtime sockets whose host path mount hands over the node.
const RUNTIME_SOCKETS: [&str; 6] = [
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "cri-dockerd.sock",
    "podman.sock",
    "dockershim.sock",
];

/// Directories that hold those sockets: mounting them exposes the socket too.
const RUNTIME_SOCKET_DIRS: [&str; 10] = [
    "/var/run",
    "/run",
    "/var/run/docker",
    "/run/docker",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
    "/var/run/cri-dockerd",
    "/run/podman",
];

/// Env var names that say they carry a secret.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

pub(crate) fn evaluate(
    workload: &Workload,
    rule: Rule,
    registries: &RegistryAllowList,
) -> Vec<Finding> {
    let spec = &workload.template.spec;
    let spec_path = workload.pod_spec_path();
    let mut findings = Vec::new();
    let mut push = |container: Option<&Container>, path: FieldPath, message: String| {
        findings.push(Finding {
            rule,
            message,
            field: FieldRef {
                container: container.map(|c| c.name.clone()),
                path,
            },
        });
    };
    // Init containers run too; ephemeral containers are added by `kubectl
    // debug`, not by manifests, so only the image rules look at them.
    let lists: [(&str, &Vec<Container>); 3] = [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
        ("ephemeralContainers", &spec.ephemeral_containers),
    ];
    let each = || {
        lists.iter().flat_map(|(key, list)| {
            let base = spec_path.key(key);
            list.iter()
                .enumerate()
                .map(move |(i, c)| (*key, c, base.index(i)))
        })
    };
    match rule {
        Rule::AllowedRegistries | Rule::RequireDigest | Rule::NoLatestTag => {
            for (_, c, path) in each() {
                let path = path.key("image");
                let Some(image) = c.image.as_deref() else {
                    push(
                        Some(c),
                        path,
                        format!("container {:?} has no image", c.name),
                    );
                    continue;
                };
                let parsed = match ImageRef::parse(image) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        push(Some(c), path, format!("container {:?}: {e}", c.name));
                        continue;
                    }
                };
                match rule {
                    Rule::AllowedRegistries if !registries.allows(&parsed) => push(
                        Some(c),
                        path,
                        format!(
                            "container {:?} image {image:?} ({}) is not from an allowed registry ({})",
                            c.name,
                            parsed.name(),
                            registries.patterns().join(", ")
                        ),
                    ),
                    Rule::RequireDigest if !parsed.has_valid_digest() => push(
                        Some(c),
                        path,
                        format!(
                            "container {:?} image {image:?} is not pinned by a sha256 digest",
                            c.name
                        ),
                    ),
                    Rule::NoLatestTag if parsed.digest.is_none() => match parsed.tag.as_deref() {
                        None => push(
                            Some(c),
                            path,
                            format!(
                                "container {:?} image {image:?} has no tag (it means :latest)",
                                c.name
                            ),
                        ),
                        Some("latest") => push(
                            Some(c),
                            path,
                            format!("container {:?} image {image:?} uses the latest tag", c.name),
                        ),
                        Some(_) => {}
                    },
                    _ => {}
                }
            }
        }
        Rule::ReadOnlyRootFs => {
            for (key, c, path) in each().filter(|(key, ..)| *key != "ephemeralContainers") {
                let _ = key;
                if c.security_context
                    .as_ref()
                    .and_then(|s| s.read_only_root_filesystem)
                    != Some(true)
                {
                    push(
                        Some(c),
                        path.keys("securityContext.readOnlyRootFilesystem"),
                        format!(
                            "container {:?} must set securityContext.readOnlyRootFilesystem=true",
                            c.name
                        ),
                    );
                }
            }
        }
        Rule::ResourceLimits | Rule::ResourceRequests => {
            let section = if rule == Rule::ResourceLimits {
                "limits"
            } else {
                "requests"
            };
            for (_, c, path) in each().filter(|(key, ..)| *key != "ephemeralContainers") {
                let values = c.resources.as_ref().map(|r| {
                    if section == "limits" {
                        &r.limits
                    } else {
                        &r.requests
                    }
                });
                let missing: Vec<&str> = ["cpu", "memory"]
                    .into_iter()
                    .filter(|k| {
                        values
                            .and_then(|v| v.get(*k))
                            .is_none_or(serde_json::Value::is_null)
                    })
                    .collect();
                if !missing.is_empty() {
                    push(
                        Some(c),
                        path.keys("resources").key(section),
                        format!(
                            "container {:?} must set resources.{section}.{}",
                            c.name,
                            missing.join(" and ")
                        ),
                    );
                }
            }
        }
        Rule::NoServiceAccountToken => {
            if spec.automount_service_account_token != Some(false) {
                push(
                    None,
                    spec_path.key("automountServiceAccountToken"),
                    "pod must set automountServiceAccountToken=false (the service account token is mounted)".into(),
                );
            }
        }
        Rule::NoNetRaw => {
            for (_, c, path) in each() {
                let caps = c
                    .security_context
                    .as_ref()
                    .and_then(|s| s.capabilities.as_ref());
                let added = caps
                    .and_then(|caps| caps.add.iter().position(|a| a == "NET_RAW" || a == "ALL"));
                if let Some(i) = added {
                    push(
                        Some(c),
                        path.keys("securityContext.capabilities.add").index(i),
                        format!("container {:?} adds the NET_RAW capability", c.name),
                    );
                } else if !caps
                    .is_some_and(|caps| caps.drop.iter().any(|d| d == "NET_RAW" || d == "ALL"))
                {
                    push(
                        Some(c),
                        path.keys("securityContext.capabilities.drop"),
                        format!(
                            "container {:?} must drop NET_RAW (or ALL) in securityContext.capabilities.drop",
                            c.name
                        ),
                    );
                }
            }
        }
        Rule::NoRuntimeSocket => {
            for (i, volume) in spec.volumes.iter().enumerate() {
                let Some(host_path) = volume.host_path() else {
                    continue;
                };
                let trimmed = host_path.trim_end_matches('/');
                let file = trimmed.rsplit('/').next().unwrap_or(trimmed);
                if RUNTIME_SOCKETS.contains(&file) || RUNTIME_SOCKET_DIRS.contains(&trimmed) {
                    push(
                        None,
                        spec_path.key("volumes").index(i).keys("hostPath.path"),
                        format!(
                            "volume {:?} mounts the container runtime socket path {host_path:?} from the host",
                            volume.name
                        ),
                    );
                }
            }
        }
        Rule::RunAsNonRoot => {
            let pod = spec.security_context.as_ref();
            let pod_non_root = pod.and_then(|s| s.run_as_non_root);
            let pod_user = pod.and_then(|s| s.run_as_user);
            for (_, c, path) in each().filter(|(key, ..)| *key != "ephemeralContainers") {
                let sc = c.security_context.as_ref();
                let own_user = sc.and_then(|s| s.run_as_user);
                let non_root = sc.and_then(|s| s.run_as_non_root).or(pod_non_root);
                // Point at the field the value comes from: the container's
                // own, or the pod's that it inherits.
                let user_path = if own_user.is_some() {
                    path.keys("securityContext.runAsUser")
                } else {
                    spec_path.keys("securityContext.runAsUser")
                };
                match own_user.or(pod_user) {
                    Some(0) => push(
                        Some(c),
                        user_path,
                        format!("container {:?} runs as user 0 (root)", c.name),
                    ),
                    Some(_) => {}
                    None if non_root != Some(true) => push(
                        Some(c),
                        path.keys("securityContext.runAsNonRoot"),
                        format!(
                            "container {:?} may run as root: set runAsNonRoot=true or a non-zero runAsUser",
                            c.name
                        ),
                    ),
                    None => {}
                }
            }
        }
        Rule::NoHostPort => {
            for (_, c, path) in each() {
                for (i, port) in c.ports.iter().enumerate() {
                    if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                        push(
                            Some(c),
                            path.key("ports").index(i).key("hostPort"),
                            format!("container {:?} binds host port {host_port}", c.name),
                        );
                    }
                }
            }
        }
        Rule::NoSecretInEnv => {
            for (_, c, path) in each() {
                for (i, env) in c.env.iter().enumerate() {
                    if looks_secret(&env.name)
                        && env.value.as_deref().is_some_and(|v| !v.is_empty())
                    {
                        push(
                            Some(c),
                            path.key("env").index(i).key("value"),
                            format!(
                                "container {:?} sets {:?} as a plain env value",
                                c.name, env.name
                            ),
                        );
                    }
                }
            }
        }
        Rule::LivenessProbe | Rule::ReadinessProbe => {
            if workload.kind.runs_to_completion() {
                return findings;
            }
            let (field, what) = if rule == Rule::LivenessProbe {
                ("livenessProbe", "liveness")
            } else {
                ("readinessProbe", "readiness")
            };
            for (i, c) in spec.containers.iter().enumerate() {
                let probe = if rule == Rule::LivenessProbe {
                    &c.liveness_probe
                } else {
                    &c.readiness_probe
                };
                if probe.is_none() {
                    push(
                        Some(c),
                        spec_path.key("containers").index(i).key(field),
                        format!("container {:?} has no {what} probe", c.name),
                    );
                }
            }
        }
    }
    findings
}
