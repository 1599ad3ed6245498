//! Alpine secdb (`v3.20/main.json`; vunnel's YAML copies too): per branch and
//! origin package, the versions that fixed each CVE.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Advisory, Affected};
use crate::version::apk;

#[derive(Debug, Deserialize)]
struct RawSecdb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
struct RawEntry {
    pkg: RawPkg,
}

#[derive(Debug, Deserialize)]
struct RawPkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// The result of reading one secdb document: advisories (one per CVE, with
/// one affected entry per package) and the entries skipped, with reasons.
pub struct Secdb {
    pub advisories: Vec<Advisory>,
    pub skipped: Vec<String>,
}

/// Whether a JSON/YAML document looks like a secdb file.
pub fn looks_like(value: &serde_json::Value) -> bool {
    value.get("distroversion").is_some() && value.get("packages").is_some()
}

/// Reads a secdb document already parsed as JSON.
pub fn from_value(value: serde_json::Value) -> Result<Secdb, String> {
    let raw: RawSecdb =
        serde_json::from_value(value).map_err(|e| format!("not an Alpine secdb file: {e}"))?;
    convert(raw)
}

/// Reads a secdb YAML document (vunnel's fixture format).
pub fn from_yaml(text: &str) -> Result<Secdb, String> {
    let raw: RawSecdb =
        serde_saphyr::from_str(text).map_err(|e| format!("not an Alpine secdb file: {e}"))?;
    convert(raw)
}

fn convert(raw: RawSecdb) -> Result<Secdb, String> {
    let branch = raw.distroversion.trim();
    if branch.is_empty() {
        return Err("empty `distroversion`".into());
    }
    // OSV spells Alpine releases `Alpine:v3.20`; `edge` stays as is.
    let ecosystem = format!("Alpine:{branch}");
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut skipped = Vec::new();
    for entry in raw.packages {
        let package = entry.pkg.name.trim().to_string();
        if package.is_empty() {
            skipped.push("package with an empty name".to_string());
            continue;
        }
        for (fixed, ids) in entry.pkg.secfixes {
            let fixed = fixed.trim().to_string();
            // "0" marks CVEs that never affected Alpine's build: kept as an
            // empty range so the data says so, never matched.
            if fixed != "0" && !apk::is_valid_any(&fixed) {
                skipped.push(format!("{package} {fixed}: not a valid apk version"));
                continue;
            }
            for text in ids.unwrap_or_default() {
                // Entries are "CVE-2021-1234" and sometimes "CVE-… XSA-…" or
                // an id followed by a comment: keep the id-shaped words.
                for id in text.split_whitespace().filter(|w| is_vuln_id(w)) {
                    let advisory = by_id.entry(id.to_string()).or_insert_with(|| Advisory {
                        id: id.to_string(),
                        aliases: Vec::new(),
                        summary: None,
                        published: None,
                        modified: None,
                        withdrawn: None,
                        severity: None,
                        affected: Vec::new(),
                    });
                    advisory.affected.push(Affected::until_fixed(
                        ecosystem.clone(),
                        package.clone(),
                        Some(fixed.clone()),
                    ));
                }
            }
        }
    }
    Ok(Secdb {
        advisories: by_id.into_values().collect(),
        skipped,
    })
}

/// Whether a word is a vulnerability id (`CVE-2021-1234`, `GHSA-…`, `XSA-123`…).
pub(crate) fn is_vuln_id(word: &str) -> bool {
    let Some((prefix, rest)) = word.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b':')
        && rest.bytes().any(|b| b.is_ascii_digit())
}
