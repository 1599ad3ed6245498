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

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use portcullis_inventory::{Inventory, Location, Package};
use portcullis_vulndb::db::{AdvisoryInfo, Database, DbError};
use portcullis_vulndb::model::{Level, Severity};
use rayon::prelude::*;
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
struct Hit<'db> {
    info: AdvisoryInfo<&'db str>,
    fixed: Option<String>,
    severity: Option<Severity>,
}

/// What matching one package gave.
#[derive(Default)]
struct PackageMatch {
    findings: Vec<Finding>,
    uncovered: Option<String>,
    unevaluated: Vec<String>,
}

/// Matches every package of `inventory` against `db`.
///
/// Packages are independent, so they are matched in parallel; the result is
/// then put in the deterministic order of [`sort_findings`], whatever the
/// scheduling.
pub fn match_inventory(inventory: &Inventory, db: &Database) -> Result<MatchReport, MatchError> {
    let per_package: Vec<PackageMatch> = inventory
        .packages
        .par_iter()
        .map(|package| match_package(package, inventory, db))
        .collect::<Result<_, _>>()?;
    let ranks = package_ranks(&inventory.packages);
    let mut report = MatchReport::default();
    let mut uncovered = BTreeSet::new();
    let mut found = Vec::with_capacity(per_package.len());
    for matched in per_package {
        found.push(matched.findings);
        report.unevaluated.extend(matched.unevaluated);
        uncovered.extend(matched.uncovered);
    }
    report.uncovered = uncovered.into_iter().collect();
    report.findings = in_order(found, &ranks);
    Ok(report)
}

/// The deterministic order: most severe first, then package, version, id,
/// location.
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

/// Each package's dense rank by (name, version): packages that sort equal in
/// [`sort_findings`] share a rank.
fn package_ranks(packages: &[Package]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..packages.len()).collect();
    let key = |i: usize| (packages[i].name.as_str(), packages[i].version.as_str());
    order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    let mut ranks = vec![0; packages.len()];
    let mut rank = 0u32;
    for (position, &i) in order.iter().enumerate() {
        if position > 0 && key(order[position - 1]) != key(i) {
            rank += 1;
        }
        ranks[i] = rank;
    }
    ranks
}

/// Every package's findings (`found[p]` for package `p`, whose rank is
/// `ranks[p]`) in the order of [`sort_findings`]. Comparing ranks instead of
/// names, sorting positions instead of findings, and moving each finding once
/// into a vector of the final size is most of the matcher's time on large
/// images otherwise.
fn in_order(found: Vec<Vec<Finding>>, ranks: &[u32]) -> Vec<Finding> {
    let mut order: Vec<(usize, usize)> = found
        .iter()
        .enumerate()
        .flat_map(|(p, findings)| (0..findings.len()).map(move |i| (p, i)))
        .collect();
    order.par_sort_unstable_by(|&(pa, ia), &(pb, ib)| {
        let (fa, fb) = (&found[pa][ia], &found[pb][ib]);
        fb.severity
            .cmp(&fa.severity)
            .then_with(|| ranks[pa].cmp(&ranks[pb]))
            .then_with(|| fa.id.cmp(&fb.id))
            .then_with(|| fa.location.cmp(&fb.location))
    });
    // `Option<Finding>` is the size of `Finding` (a niche in its strings),
    // so these collects reuse each package's allocation.
    let mut slots: Vec<Vec<Option<Finding>>> = found
        .into_iter()
        .map(|findings| findings.into_iter().map(Some).collect())
        .collect();
    let mut ordered = Vec::with_capacity(order.len());
    for (p, i) in order {
        if let Some(finding) = slots.get_mut(p).and_then(|f| f.get_mut(i)?.take()) {
            ordered.push(finding);
        }
    }
    ordered
}

fn match_package(
    package: &Package,
    inventory: &Inventory,
    db: &Database,
) -> Result<PackageMatch, MatchError> {
    let mut matched = PackageMatch::default();
    let Some(target) = target::target_for(package, inventory.distro.as_ref()) else {
        matched.uncovered = Some(format!("{:?}", package.ecosystem));
        return Ok(matched);
    };
    let Some(ecosystem) = target.ecosystems.iter().find(|e| db.has_ecosystem(e)) else {
        matched.uncovered = Some(target.ecosystems.first().cloned().unwrap_or_default());
        return Ok(matched);
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
                matched.unevaluated.push(format!(
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
        // The distribution's own rating for its package wins over a
        // generic CVSS score: it knows how the package is built.
        let severity = record.severity.or_else(|| info.severity.clone());
        hits.push(Hit {
            info,
            fixed,
            severity,
        });
    }
    for group in merge_by_alias(hits) {
        let mut ids: BTreeSet<&str> = BTreeSet::new();
        let mut own_ids: BTreeSet<&str> = BTreeSet::new();
        let mut fixed: Option<String> = None;
        let mut severity: Option<Severity> = None;
        let mut title = None;
        for hit in group {
            ids.extend(hit.info.aliases.iter().copied());
            ids.insert(hit.info.id);
            own_ids.insert(hit.info.id);
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
                title = hit.info.summary.map(str::to_string);
            }
        }
        let Some(id) = own_ids.first().copied() else {
            continue;
        };
        ids.remove(id);
        matched.findings.push(Finding {
            id: id.to_string(),
            aliases: ids.into_iter().map(str::to_string).collect(),
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
    Ok(matched)
}

/// Groups hits whose id sets overlap (transitively): one vulnerability.
/// Union-find over the hits, joined through a map from each id to the first
/// hit naming it, so a package with many advisories costs a pass over their
/// ids rather than a comparison of every pair of groups.
fn merge_by_alias(hits: Vec<Hit<'_>>) -> Vec<Vec<Hit<'_>>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    let mut first_naming: HashMap<&str, usize> = HashMap::new();
    for (i, hit) in hits.iter().enumerate() {
        let ids = std::iter::once(hit.info.id).chain(hit.info.aliases.iter().copied());
        for id in ids {
            match first_naming.entry(id) {
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                Entry::Occupied(other) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, *other.get()));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
        }
    }
    let roots: Vec<usize> = (0..hits.len()).map(|i| root(&mut parent, i)).collect();
    drop(first_naming);
    let mut groups: Vec<Vec<Hit<'_>>> = Vec::new();
    let mut group_of_root: HashMap<usize, usize> = HashMap::new();
    for (hit, root) in hits.into_iter().zip(roots) {
        let group = *group_of_root.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(hit);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit<'a>(id: &'a str, aliases: &[&'a str]) -> Hit<'a> {
        Hit {
            info: AdvisoryInfo {
                id,
                aliases: aliases.to_vec(),
                summary: None,
                severity: None,
                published: None,
                modified: None,
            },
            fixed: None,
            severity: None,
        }
    }

    #[test]
    fn hits_sharing_an_id_merge_transitively() {
        let hits = vec![
            hit("GHSA-a", &["CVE-1"]),
            hit("PYSEC-b", &["CVE-2"]),
            hit("DSA-c", &["CVE-1", "CVE-3"]),
            hit("GHSA-d", &[]),
            // Joins the first group only through DSA-c's alias CVE-3.
            hit("CVE-3", &["PYSEC-e"]),
        ];
        let mut groups: Vec<Vec<&str>> = merge_by_alias(hits)
            .into_iter()
            .map(|g| {
                let mut ids: Vec<&str> = g.iter().map(|h| h.info.id).collect();
                ids.sort_unstable();
                ids
            })
            .collect();
        groups.sort();
        assert_eq!(
            groups,
            vec![
                vec!["CVE-3", "DSA-c", "GHSA-a"],
                vec!["GHSA-d"],
                vec!["PYSEC-b"]
            ]
        );
    }

    fn finding(package: &str, version: &str, id: &str, severity: Level, path: &str) -> Finding {
        Finding {
            id: id.into(),
            aliases: Vec::new(),
            package: package.into(),
            advisory_package: None,
            ecosystem: "Debian:12".into(),
            installed_version: version.into(),
            advisory_version: None,
            fixed_version: None,
            severity,
            score: None,
            severity_source: None,
            title: None,
            purl: format!("pkg:deb/debian/{package}@{version}"),
            location: Location {
                layer: None,
                path: path.into(),
            },
            suppressed: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn ranked_order_equals_the_documented_order() {
        // Same names at several versions and locations, ties on every key
        // but the last, given in scrambled order.
        let packages: Vec<(&str, &str, &str)> = vec![
            ("zlib", "1.2", "/b"),
            ("curl", "8.0", "/a"),
            ("zlib", "1.2", "/a"),
            ("curl", "7.9", "/a"),
            ("bash", "5.2", "/a"),
        ];
        let inventory_packages: Vec<Package> = packages
            .iter()
            .map(|(name, version, path)| Package {
                ecosystem: portcullis_inventory::Ecosystem::Debian,
                name: (*name).into(),
                version: (*version).into(),
                arch: None,
                source_name: None,
                source_version: None,
                licenses: Vec::new(),
                purl: String::new(),
                location: Location {
                    layer: None,
                    path: (*path).into(),
                },
            })
            .collect();
        let ranks = package_ranks(&inventory_packages);
        let mut found = Vec::new();
        for (name, version, path) in &packages {
            let mut of_package = Vec::new();
            for (id, severity) in [
                ("CVE-9", Level::High),
                ("CVE-1", Level::High),
                ("CVE-5", Level::Low),
            ] {
                of_package.push(finding(name, version, id, severity, path));
            }
            found.push(of_package);
        }
        let findings: Vec<Finding> = found.iter().flatten().cloned().collect();
        let mut expected = findings.clone();
        sort_findings(&mut expected);
        assert_eq!(in_order(found, &ranks), expected);
    }
}
