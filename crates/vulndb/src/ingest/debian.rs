//! Debian feeds: the security tracker JSON (`{package: {CVE: {releases: …}}}`)
//! and the DSA/DLA lists (`data/DSA/list`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Advisory, Affected};
use crate::severity;

/// Debian codenames and the `VERSION_ID` of their release (OSV `Debian:N`).
pub const RELEASES: &[(&str, &str)] = &[
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
    ("sid", "unstable"),
];

/// The OSV ecosystem of a Debian codename (`bookworm` → `Debian:12`).
pub fn ecosystem_for_codename(codename: &str) -> Option<String> {
    RELEASES
        .iter()
        .find(|(name, _)| *name == codename)
        .map(|(_, version)| format!("Debian:{version}"))
}

#[derive(Debug, Deserialize)]
struct RawCve {
    description: Option<String>,
    #[serde(default)]
    releases: BTreeMap<String, RawRelease>,
}

#[derive(Debug, Deserialize)]
struct RawRelease {
    status: Option<String>,
    fixed_version: Option<String>,
    urgency: Option<String>,
}

/// Whether a parsed JSON document looks like the tracker's JSON.
pub fn looks_like_tracker(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(|packages| {
        packages.values().take(3).all(|cves| {
            cves.as_object().is_some_and(|cves| {
                cves.values()
                    .take(3)
                    .all(|cve| cve.get("releases").is_some())
            })
        }) && !packages.is_empty()
    })
}

/// Reads the tracker JSON: one advisory per CVE, one affected entry per
/// (release, source package). Returns the advisories and skipped entries.
pub fn from_tracker(value: serde_json::Value) -> (Vec<Advisory>, Vec<String>) {
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut skipped = Vec::new();
    let Some(packages) = value.as_object() else {
        return (Vec::new(), vec!["tracker JSON is not an object".into()]);
    };
    for (package, cves) in packages {
        let Some(cves) = cves.as_object() else {
            skipped.push(format!("{package}: not an object"));
            continue;
        };
        for (id, cve) in cves {
            let cve: RawCve = match serde_json::from_value(cve.clone()) {
                Ok(cve) => cve,
                Err(e) => {
                    skipped.push(format!("{package} {id}: {e}"));
                    continue;
                }
            };
            let advisory = by_id.entry(id.clone()).or_insert_with(|| Advisory {
                id: id.clone(),
                aliases: Vec::new(),
                summary: cve
                    .description
                    .as_deref()
                    .and_then(|d| d.lines().next())
                    .map(|l| l.chars().take(200).collect()),
                published: None,
                modified: None,
                withdrawn: None,
                severity: None,
                affected: Vec::new(),
            });
            for (codename, release) in cve.releases {
                let Some(ecosystem) = ecosystem_for_codename(&codename) else {
                    skipped.push(format!("{package} {id}: unknown release {codename:?}"));
                    continue;
                };
                let fixed = match (release.status.as_deref(), release.fixed_version) {
                    (Some("resolved"), Some(fixed)) => Some(fixed),
                    (Some("open"), _) => None,
                    (status, _) => {
                        skipped.push(format!(
                            "{package} {id} {codename}: status {status:?} without a fix"
                        ));
                        continue;
                    }
                };
                advisory.affected.push(Affected {
                    severity: release
                        .urgency
                        .as_deref()
                        .and_then(severity::from_debian_urgency),
                    ..Affected::until_fixed(ecosystem, package.clone(), fixed)
                });
            }
        }
    }
    (by_id.into_values().collect(), skipped)
}

/// Whether a text looks like a DSA/DLA/DTSA list.
pub fn looks_like_list(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            l.starts_with('[')
                && (l.contains("] DSA-") || l.contains("] DLA-") || l.contains("] DTSA-"))
        })
}

/// Reads a DSA/DLA/DTSA list: each announcement becomes an advisory (id
/// `DSA-5970-1`, its CVEs as aliases) fixing packages in the named releases.
pub fn from_list(text: &str) -> (Vec<Advisory>, Vec<String>) {
    let mut advisories = Vec::new();
    let mut skipped = Vec::new();
    let mut current: Option<Advisory> = None;
    for line in text.lines() {
        if line.starts_with('[') {
            if let Some(done) = current.take() {
                advisories.push(done);
            }
            // [31 Jul 2025] DSA-5970-1 sope - security update
            let Some((_, rest)) = line.split_once("] ") else {
                skipped.push(format!("unreadable line {line:?}"));
                continue;
            };
            let mut words = rest.split_whitespace();
            let Some(id) = words.next() else { continue };
            let title = rest.split_once(" - ").map(|(_, t)| t.trim().to_string());
            let package = words.next().unwrap_or_default();
            current = Some(Advisory {
                id: id.to_string(),
                aliases: Vec::new(),
                summary: title.map(|t| format!("{package}: {t}")),
                published: None,
                modified: None,
                withdrawn: None,
                severity: None,
                affected: Vec::new(),
            });
            continue;
        }
        let Some(advisory) = current.as_mut() else {
            continue;
        };
        let trimmed = line.trim();
        if let Some(ids) = trimmed.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            advisory
                .aliases
                .extend(ids.split_whitespace().map(str::to_string));
            advisory.aliases.sort();
            advisory.aliases.dedup();
        } else if let Some(rest) = trimmed.strip_prefix('[') {
            // [bookworm] - sope 5.8.0-1+deb12u1
            let Some((codename, fix)) = rest.split_once(']') else {
                continue;
            };
            let mut words = fix.trim().trim_start_matches('-').split_whitespace();
            let (Some(package), Some(version)) = (words.next(), words.next()) else {
                continue;
            };
            if version.starts_with('<') {
                continue; // <not-affected>, <unfixed>, <end-of-life>
            }
            let Some(ecosystem) = ecosystem_for_codename(codename.trim()) else {
                skipped.push(format!("{}: unknown release {codename:?}", advisory.id));
                continue;
            };
            advisory.affected.push(Affected::until_fixed(
                ecosystem,
                package.to_string(),
                Some(version.to_string()),
            ));
        }
    }
    if let Some(done) = current.take() {
        advisories.push(done);
    }
    (advisories, skipped)
}
