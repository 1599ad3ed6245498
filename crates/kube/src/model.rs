//! The parts of a Kubernetes pod template that the checks read.
//!
//! Field names follow the Kubernetes API (camelCase on the wire). Unknown
//! fields are ignored, as the API server's decoder ignores fields a check has
//! no opinion on; a field of the wrong type is an error, as it is for the API
//! server. `null` reads as absent, like Go's JSON decoder does.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Whether `name` is a DNS label (RFC 1123) as Kubernetes requires of a
/// namespace name: 1 to 63 lower-case letters, digits and `-`, starting and
/// ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// `null` (or absent) → the type's default, for lists and maps.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `metadata` of an object or a pod template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
}

/// A pod template: the metadata and spec of the pods a workload creates.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodTemplate {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
}

/// `spec` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub ephemeral_containers: Vec<Container>,
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
    pub host_network: Option<bool>,
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    pub host_users: Option<bool>,
    pub security_context: Option<PodSecurityContext>,
    pub os: Option<PodOs>,
    pub automount_service_account_token: Option<bool>,
    pub service_account_name: Option<String>,
}

impl PodSpec {
    /// Whether `spec.os.name` is `windows` (some restricted checks exempt those).
    pub fn is_windows(&self) -> bool {
        self.os
            .as_ref()
            .is_some_and(|os| os.name.as_deref() == Some("windows"))
    }
}

/// `spec.os`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodOs {
    pub name: Option<String>,
}

/// `spec.securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    pub seccomp_profile: Option<SeccompProfile>,
    pub app_armor_profile: Option<AppArmorProfile>,
    #[serde(default, deserialize_with = "nullable")]
    pub sysctls: Vec<Sysctl>,
    pub windows_options: Option<WindowsOptions>,
}

/// One entry of `spec.securityContext.sysctls`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sysctl {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// `seLinuxOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SeLinuxOptions {
    #[serde(default, deserialize_with = "nullable", rename = "type")]
    pub type_: String,
    #[serde(default, deserialize_with = "nullable")]
    pub user: String,
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
}

/// `seccompProfile`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SeccompProfile {
    #[serde(default, deserialize_with = "nullable", rename = "type")]
    pub type_: String,
}

/// `appArmorProfile`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppArmorProfile {
    #[serde(default, deserialize_with = "nullable", rename = "type")]
    pub type_: String,
}

/// `windowsOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    pub host_process: Option<bool>,
}

/// A container (also used for init and ephemeral containers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub image: Option<String>,
    pub security_context: Option<SecurityContext>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
    pub liveness_probe: Option<Probe>,
    pub readiness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    pub lifecycle: Option<Lifecycle>,
    pub resources: Option<Resources>,
    #[serde(default, deserialize_with = "nullable")]
    pub env: Vec<EnvVar>,
}

/// A container's `securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub capabilities: Option<Capabilities>,
    pub proc_mount: Option<String>,
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub read_only_root_filesystem: Option<bool>,
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    pub seccomp_profile: Option<SeccompProfile>,
    pub app_armor_profile: Option<AppArmorProfile>,
    pub windows_options: Option<WindowsOptions>,
}

/// `securityContext.capabilities`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Capabilities {
    #[serde(default, deserialize_with = "nullable")]
    pub add: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub drop: Vec<String>,
}

/// One of a container's `ports`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub host_port: Option<i32>,
}

/// A liveness, readiness or startup probe.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: Option<HostAction>,
    pub tcp_socket: Option<HostAction>,
}

/// The `httpGet` / `tcpSocket` action of a probe or lifecycle handler.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HostAction {
    #[serde(default, deserialize_with = "nullable")]
    pub host: String,
}

/// `lifecycle`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    pub post_start: Option<Probe>,
    pub pre_stop: Option<Probe>,
}

/// `resources`. Quantities are kept as written (`500m`, `1Gi`, `2`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resources {
    #[serde(default, deserialize_with = "nullable")]
    pub limits: BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub requests: BTreeMap<String, serde_json::Value>,
}

/// One of a container's `env`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub value: Option<String>,
}

/// A volume: its name and its source (`hostPath`, `secret`, …). The source is
/// kept as the key naming it and its value, so that new volume types are seen
/// (and, at the restricted level, refused) without a code change.
#[derive(Debug, Clone, Default)]
pub struct Volume {
    pub name: String,
    /// `(source type, value)` of every non-null field other than `name`.
    pub sources: Vec<(String, serde_json::Value)>,
}

impl Volume {
    /// The value of the source of this type, if present.
    pub fn source(&self, kind: &str) -> Option<&serde_json::Value> {
        self.sources.iter().find(|(k, _)| k == kind).map(|(_, v)| v)
    }

    /// `hostPath.path`, for a host path volume.
    pub fn host_path(&self) -> Option<&str> {
        self.source("hostPath")
            .and_then(|v| v.get("path"))
            .and_then(|p| p.as_str())
    }
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut volume = Volume::default();
        for (key, value) in map {
            if key == "name" {
                match value {
                    serde_json::Value::String(name) => volume.name = name,
                    serde_json::Value::Null => {}
                    other => {
                        return Err(D::Error::custom(format_args!(
                            "invalid type: {}, expected a string for volume name",
                            json_type(&other)
                        )));
                    }
                }
            } else if !value.is_null() {
                volume.sources.push((key, value));
            }
        }
        Ok(volume)
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "sequence",
        serde_json::Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::is_dns_label;

    #[test]
    fn dns_labels_as_kubernetes_validates_namespace_names() {
        for good in ["default", "kube-system", "a", "team-1", &"x".repeat(63)] {
            assert!(is_dns_label(good), "{good}");
        }
        for bad in ["", "-a", "a-", "Shop", "a.b", "a_b", "ä", &"x".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
