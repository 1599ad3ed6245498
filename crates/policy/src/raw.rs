//! The policy file as written: every key known (unknown keys are errors),
//! values that need checking kept with their position for
//! [`crate::UnvalidatedPolicy::validate`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

/// A value with the place it was written.
pub type At<T> = Spanned<T>;

/// The policy document before validation (`apiVersion: portcullis.dev/v1`,
/// `kind: Policy`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnvalidatedPolicy {
    pub api_version: Option<At<String>>,
    pub kind: Option<At<String>>,
    pub metadata: Option<RawMetadata>,
    pub registries: Option<RawRegistries>,
    pub vulnerabilities: Option<RawVulnerabilities>,
    pub workloads: Option<RawWorkloads>,
    pub signatures: Option<RawSignatures>,
    pub admission: Option<RawAdmission>,
}

/// `metadata`: a name and description for people; not used in verdicts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetadata {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `registries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRegistries {
    pub allow: Option<Vec<At<String>>>,
    pub require_digest: Option<bool>,
}

/// `vulnerabilities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawVulnerabilities {
    pub fail_on: Option<At<String>>,
    pub ignore_unfixed: Option<bool>,
    pub exceptions: Option<Vec<At<RawException>>>,
}

/// One of `vulnerabilities.exceptions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    pub id: At<String>,
    pub package: Option<String>,
    pub expires: Option<At<String>>,
    pub reason: Option<At<String>>,
}

/// `workloads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWorkloads {
    pub pod_security: Option<At<String>>,
    pub rules: Option<Vec<At<RawRuleEntry>>>,
}

/// A rule in `workloads.rules`: `no-latest-tag` or
/// `{id: resource-limits, severity: high}`.
#[derive(Debug)]
pub struct RawRuleEntry {
    pub id: String,
    pub severity: Option<String>,
}

impl<'de> Deserialize<'de> for RawRuleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = RawRuleEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rule id or a mapping {id, severity}")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawRuleEntry, E> {
                Ok(RawRuleEntry {
                    id: v.to_owned(),
                    severity: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRuleEntry, A::Error> {
                let mut id = None;
                let mut severity = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "id" if id.is_none() => id = Some(map.next_value::<String>()?),
                        "severity" if severity.is_none() => {
                            severity = Some(map.next_value::<String>()?)
                        }
                        "id" | "severity" => {
                            return Err(de::Error::duplicate_field("id or severity"));
                        }
                        other => return Err(de::Error::unknown_field(other, &["id", "severity"])),
                    }
                }
                let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
                Ok(RawRuleEntry { id, severity })
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// `signatures`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignatures {
    pub require: Option<At<bool>>,
    pub keys: Option<Vec<At<String>>>,
}

/// `admission`: how the webhook applies the policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAdmission {
    pub namespaces: Option<BTreeMap<String, At<RawNamespace>>>,
    pub exempt_namespaces: Option<Vec<At<String>>>,
    pub failure_policy: Option<At<String>>,
    pub scan_timeout: Option<At<String>>,
    pub on_scan_timeout: Option<At<String>>,
    pub mutate: Option<RawMutate>,
}

/// `admission.namespaces.<name>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNamespace {
    pub pod_security: Option<At<String>>,
    pub rules: Option<Vec<At<RawRuleEntry>>>,
}

/// `admission.mutate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMutate {
    pub pin_digests: Option<bool>,
    pub default_seccomp: Option<bool>,
}
