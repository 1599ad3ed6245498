//! Matcher: the fifth stage of the pipeline (… → vulndb → **matcher** →
//! policy → report). It turns an [`Inventory`] and a vulnerability
//! [`Database`] into [`Finding`]s: one per vulnerability and package (aliases
//! merged), with the installed and fixed versions, severity, title and where
//! the package was found; then applies suppressions ([`suppress`]): ignore
//! rules with reasons and expiry, OpenVEX statements, unfixed and severity
//! filters. Output order is deterministic.

pub mod range;
pub mod suppress;
pub mod target;

use std::collections::BTreeSet;

use portcullis_inventory::{Inventory, Location, Package};
use portcullis_vulndb::db::{Database, DbError};
use portcullis_vulndb::model::{Level, Severity};
use serde::Serialize;

pub use suppress::{IgnoreRule, Suppression, SuppressionKind};

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The vulnerability's id (the smallest advisory id of the merged group).
    pub id: String,
    /// Every other id it is known by (CVE, GHSA, DSA, ALSA…), sorted.
    pub aliases: Vec<String>,
    /// Installed package name (binary name).
    pub package: String,
    /// The name the advisory uses when it differs (source package, origin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory_package: Option<String>,
    /// OSV ecosystem the advisory came from (`Debian:12`, `PyPI`…).
    pub ecosystem: String,
    pub installed_version: String,
    /// The version compared with the advisory when it differs from the
    /// installed one (Debian's source version, without a binNMU suffix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory_version: Option<String>,
    /// The first version that fixes it; `None`: no fix available.
    pub fixed_version: Option<String>,
    pub severity: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// CVSS vector or distribution rating the severity comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub purl: String,
    pub location: Location,
    /// Set when an ignore rule, a policy exception or a VEX statement hides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
    /// Notes for the reader, e.g. an ignore entry that has expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Finding {
    /// Every id of the finding: its own and its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// What matching found, with what it could not evaluate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MatchReport {
    pub findings: Vec<Finding>,
    /// Packages whose ecosystem or release has no advisory data in the database.
    pub uncovered: Vec<String>,
    /// Records skipped because a version did not parse, with the reason.
    pub unevaluated: Vec<String>,
}

/// Why matching failed.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Database(#[from] DbError),
}

/// One advisory that matched one package, before aliases are merged.
struct Hit {
    ids: BTreeSet<String>,
    own_id: String,
    fixed: Option<String>,
    severity: Option<Severity>,
    title: Option<String>,
}

/// Matches every package of `inventory` against `db`.
pub fn match_inventory(inventory: &Inventory, db: &Database) -> Result<MatchReport, MatchError> {
    let mut report = MatchReport::default();
    let mut uncovered = BTreeSet::new();
    for package in &inventory.packages {
        match_package(package, inventory, db, &mut report, &mut uncovered)?;
    }
    report.uncovered = uncovered.into_iter().collect();
    sort_findings(&mut report.findings);
    Ok(report)
}

/// The deterministic order: most severe first, then package, version, id.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.installed_version.cmp(&b.installed_version))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.location.cmp(&b.location))
    });
}

fn match_package(
    package: &Package,
    inventory: &Inventory,
    db: &Database,
    report: &mut MatchReport,
    uncovered: &mut BTreeSet<String>,
) -> Result<(), MatchError> {
    let Some(target) = target::target_for(package, inventory.distro.as_ref()) else {
        uncovered.insert(format!("{:?}", package.ecosystem));
        return Ok(());
    };
    let Some(ecosystem) = target.ecosystems.iter().find(|e| db.has_ecosystem(e)) else {
        uncovered.insert(target.ecosystems.first().cloned().unwrap_or_default());
        return Ok(());
    };
    let records = db.affected(ecosystem, &target.name)?;
    let mut hits: Vec<Hit> = Vec::new();
    for record in records {
        let verdict = match range::evaluate(
            target.scheme,
            &record.ranges,
            &record.versions,
            &target.version,
        ) {
            Ok(v) => v,
            Err(e) => {
                report.unevaluated.push(format!(
                    "{} {} ({ecosystem}): {e}",
                    package.name, package.version
                ));
                continue;
            }
        };
        let range::Verdict::Affected { fixed } = verdict else {
            continue;
        };
        let info = db.advisory(record.advisory)?;
        let ids: BTreeSet<String> = std::iter::once(info.id.clone())
            .chain(info.aliases.iter().cloned())
            .collect();
        hits.push(Hit {
            ids,
            own_id: info.id,
            fixed,
            // The distribution's own rating for its package wins over a
            // generic CVSS score: it knows how the package is built.
            severity: record.severity.or(info.severity),
            title: info.summary,
        });
    }
    for group in merge_by_alias(hits) {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let mut own_ids: BTreeSet<String> = BTreeSet::new();
        let mut fixed: Option<String> = None;
        let mut severity: Option<Severity> = None;
        let mut title = None;
        for hit in group {
            ids.extend(hit.ids);
            own_ids.insert(hit.own_id);
            if let Some(f) = hit.fixed {
                fixed = Some(match fixed {
                    Some(old)
                        if target.scheme.and_then(|s| s.compare(&old, &f).ok())
                            != Some(std::cmp::Ordering::Greater) =>
                    {
                        old
                    }
                    _ => f,
                });
            }
            if let Some(s) = hit.severity
                && severity.as_ref().is_none_or(|old| s.level > old.level)
            {
                severity = Some(s);
            }
            if title.is_none() {
                title = hit.title;
            }
        }
        let Some(id) = own_ids.iter().next().cloned() else {
            continue;
        };
        ids.remove(&id);
        report.findings.push(Finding {
            id,
            aliases: ids.into_iter().collect(),
            package: package.name.clone(),
            advisory_package: (target.name != package.name).then(|| target.name.clone()),
            ecosystem: ecosystem.clone(),
            installed_version: package.version.clone(),
            advisory_version: (target.version != package.version).then(|| target.version.clone()),
            fixed_version: fixed,
            severity: severity.as_ref().map_or(Level::Unknown, |s| s.level),
            score: severity.as_ref().and_then(|s| s.score),
            severity_source: severity.map(|s| s.source),
            title,
            purl: package.purl.clone(),
            location: package.location.clone(),
            suppressed: None,
            notes: Vec::new(),
        });
    }
    Ok(())
}

/// Groups hits whose id sets overlap (transitively): one vulnerability.
fn merge_by_alias(hits: Vec<Hit>) -> Vec<Vec<Hit>> {
    let mut groups: Vec<(BTreeSet<String>, Vec<Hit>)> = Vec::new();
    for hit in hits {
        let mut ids = hit.ids.clone();
        let mut members = vec![hit];
        // Absorb every existing group sharing an id.
        let mut i = 0;
        while i < groups.len() {
            if !groups[i].0.is_disjoint(&ids) {
                let (other_ids, other_members) = groups.swap_remove(i);
                ids.extend(other_ids);
                members.extend(other_members);
            } else {
                i += 1;
            }
        }
        groups.push((ids, members));
    }
    groups.into_iter().map(|(_, members)| members).collect()
}
