//! Renders scan findings (`portcullis scan`): an aligned table, Portcullis
//! JSON (suppressed findings with their reasons and VEX statements), SARIF
//! 2.1.0, JUnit XML and CycloneDX 1.6 with its `vulnerabilities` section.

use std::collections::{BTreeMap, HashMap};

use portcullis_inventory::Inventory;
use portcullis_matcher::Finding;
use portcullis_matcher::suppress::Filtered;
use portcullis_vulndb::model::Level;
use serde::Serialize;

use crate::cyclonedx::{
    Affects, Analysis, Rating, Vulnerability, VulnerabilityReference, VulnerabilitySource,
};
use crate::sarif;
use crate::sbom::{DocumentInfo, Subject, component_refs, cyclonedx_bom};
use crate::table::Table;

/// Everything a scan report shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    pub subject: Subject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<portcullis_inventory::Distro>,
    pub database: DatabaseInfo,
    /// Findings that remain after suppressions and filters.
    pub findings: Vec<Finding>,
    /// Hidden findings, each with its suppression (reason, origin, VEX statement).
    pub suppressed: Vec<Finding>,
    /// Findings left out by `--severity`.
    pub filtered_out: usize,
    pub summary: BTreeMap<Level, usize>,
    /// For the reader: expired ignore entries, stale database, uncovered ecosystems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Which database the findings come from.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub path: String,
    pub built: String,
    pub advisories: u64,
}

impl ScanResult {
    /// Assembles a result from the filtered findings.
    pub fn new(
        subject: Subject,
        inventory: &Inventory,
        database: DatabaseInfo,
        filtered: Filtered,
        mut warnings: Vec<String>,
    ) -> Self {
        let mut summary = BTreeMap::new();
        for finding in &filtered.findings {
            *summary.entry(finding.severity).or_insert(0) += 1;
        }
        warnings.extend(filtered.warnings);
        Self {
            subject,
            distro: inventory.distro.clone(),
            database,
            findings: filtered.findings,
            suppressed: filtered.suppressed,
            filtered_out: filtered.filtered_out,
            summary,
            warnings,
        }
    }
}

fn ids_text(finding: &Finding) -> String {
    if finding.aliases.is_empty() {
        finding.id.clone()
    } else {
        format!("{} ({})", finding.id, finding.aliases.join(", "))
    }
}

fn short_layer(layer: Option<&str>) -> String {
    layer
        .map(|l| l.trim_start_matches("sha256:").chars().take(12).collect())
        .unwrap_or_else(|| "-".into())
}

/// A table, most severe first, then a one-line summary.
pub fn table(result: &ScanResult) -> String {
    let mut table = Table::new([
        "PACKAGE",
        "INSTALLED",
        "FIXED",
        "VULNERABILITY",
        "SEVERITY",
        "TITLE",
        "LAYER",
    ]);
    for f in &result.findings {
        table.row([
            f.package.clone(),
            f.installed_version.clone(),
            f.fixed_version.clone().unwrap_or_else(|| "no fix".into()),
            ids_text(f),
            f.severity.to_string(),
            f.title
                .clone()
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect(),
            short_layer(f.location.layer.as_deref()),
        ]);
    }
    let mut out = if table.is_empty() {
        String::new()
    } else {
        table.render()
    };
    out.push_str(&summary_line(result));
    out.push('\n');
    out
}

/// `3 vulnerabilities (1 critical, 2 high); 4 suppressed`.
pub fn summary_line(result: &ScanResult) -> String {
    let total = result.findings.len();
    let mut parts: Vec<String> = result
        .summary
        .iter()
        .rev()
        .map(|(level, n)| format!("{n} {level}"))
        .collect();
    if parts.is_empty() {
        parts.push("none".into());
    }
    let mut line = format!(
        "{total} vulnerabilit{} ({})",
        if total == 1 { "y" } else { "ies" },
        parts.join(", ")
    );
    if !result.suppressed.is_empty() {
        line.push_str(&format!("; {} suppressed", result.suppressed.len()));
    }
    if result.filtered_out > 0 {
        line.push_str(&format!(
            "; {} below the --severity filter",
            result.filtered_out
        ));
    }
    line
}

/// Portcullis JSON.
pub fn json(result: &ScanResult) -> String {
    crate::pretty_json(result)
}

fn sarif_level(level: Level) -> sarif::Level {
    match level {
        Level::Critical | Level::High => sarif::Level::Error,
        Level::Medium => sarif::Level::Warning,
        Level::Low | Level::Negligible | Level::Unknown => sarif::Level::Note,
    }
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding, located
/// at the package database file that lists the package.
pub fn sarif(result: &ScanResult) -> String {
    let mut rules: Vec<sarif::Rule> = Vec::new();
    let mut rule_index: HashMap<String, usize> = HashMap::new();
    let mut results = Vec::new();
    for f in &result.findings {
        let index = *rule_index.entry(f.id.clone()).or_insert_with(|| {
            rules.push(sarif::Rule {
                id: f.id.clone(),
                name: None,
                short_description: sarif::Text::new(
                    f.title.clone().unwrap_or_else(|| f.id.clone()),
                ),
                full_description: None,
                help: Some(sarif::Text::new(match &f.fixed_version {
                    Some(v) => format!("Upgrade {} to {v} or later.", f.package),
                    None => format!("No fixed version of {} is available yet.", f.package),
                })),
                help_uri: None,
                default_configuration: sarif::Configuration {
                    level: sarif_level(f.severity),
                },
                properties: Some(sarif::RuleProperties {
                    tags: vec!["security".into(), "vulnerability".into()],
                    // GitHub code scanning reads this to rank results.
                    security_severity: f.score.map(|s| format!("{s:.1}")),
                    precision: None,
                }),
            });
            rules.len() - 1
        });
        let mut fingerprints = BTreeMap::new();
        fingerprints.insert(
            "portcullis/v1".to_string(),
            format!("{}|{}|{}", f.id, f.purl, f.location.path),
        );
        results.push(sarif::SarifResult {
            rule_id: f.id.clone(),
            rule_index: Some(index),
            level: sarif_level(f.severity),
            message: sarif::Text::new(format!(
                "{} {} is affected by {} ({}); {}",
                f.package,
                f.installed_version,
                ids_text(f),
                f.severity,
                match &f.fixed_version {
                    Some(v) => format!("fixed in {v}"),
                    None => "no fix available".into(),
                }
            )),
            locations: vec![sarif::Location::at(
                f.location.path.trim_start_matches('/'),
                None,
                None,
            )],
            partial_fingerprints: Some(fingerprints),
            properties: Some(serde_json::json!({
                "package": f.package,
                "installedVersion": f.installed_version,
                "fixedVersion": f.fixed_version,
                "purl": f.purl,
                "layer": f.location.layer,
                "aliases": f.aliases,
            })),
        });
    }
    let log = sarif::Log::single(sarif::Run::portcullis(rules, results));
    crate::pretty_json(&log)
}

/// JUnit XML: one test suite per scanned image, one failed test case per
/// finding, one skipped case per suppressed finding (with its reason).
pub fn junit(result: &ScanResult) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

    let mut suite = TestSuite::new(format!("portcullis scan {}", result.subject.name));
    for f in &result.findings {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_type(f.severity.to_string());
        status.set_message(format!(
            "{} {} ({})",
            f.package, f.installed_version, f.severity
        ));
        status.set_description(format!(
            "{}\n{}\nfixed version: {}\n{}",
            ids_text(f),
            f.title.clone().unwrap_or_default(),
            f.fixed_version.clone().unwrap_or_else(|| "none".into()),
            f.location.path
        ));
        let mut case = TestCase::new(format!("{} {}", f.id, f.package), status);
        case.set_classname(f.package.clone());
        suite.add_test_case(case);
    }
    for f in &result.suppressed {
        let mut status = TestCaseStatus::skipped();
        if let Some(s) = &f.suppressed {
            status.set_message(s.reason.clone());
        }
        let mut case = TestCase::new(format!("{} {}", f.id, f.package), status);
        case.set_classname(f.package.clone());
        suite.add_test_case(case);
    }
    let mut report = Report::new("portcullis scan");
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}

fn cvss_method(vector: &str) -> Option<&'static str> {
    if vector.starts_with("CVSS:4.0/") {
        Some("CVSSv4")
    } else if vector.starts_with("CVSS:3.1/") {
        Some("CVSSv31")
    } else if vector.starts_with("CVSS:3.0/") {
        Some("CVSSv3")
    } else if vector.starts_with("AV:") {
        Some("CVSSv2")
    } else {
        None
    }
}

/// The scan as a CycloneDX 1.6 BOM: the image's components (as `sbom`
/// writes them) and a `vulnerabilities` entry per finding; suppressed
/// findings carry an `analysis` saying why.
pub fn cyclonedx(result: &ScanResult, inventory: &Inventory, info: &DocumentInfo) -> String {
    let mut bom = cyclonedx_bom(&result.subject, inventory, info);
    let refs = component_refs(inventory);
    let component_of = |f: &Finding| {
        inventory
            .packages
            .iter()
            .position(|p| p.purl == f.purl && p.location == f.location)
            .and_then(|i| refs.get(i).cloned())
            .unwrap_or_else(|| f.purl.clone())
    };
    for (n, f) in result.findings.iter().chain(&result.suppressed).enumerate() {
        let (method, vector) = match f.severity_source.as_deref() {
            Some(source) => match cvss_method(source) {
                Some(m) => (Some(m.to_string()), Some(source.to_string())),
                None => (Some("other".to_string()), None),
            },
            None => (None, None),
        };
        let severity = match f.severity {
            Level::Negligible => "info".to_string(),
            other => other.to_string(),
        };
        bom.vulnerabilities.push(Vulnerability {
            bom_ref: format!("vuln-{n}"),
            id: f.id.clone(),
            source: Some(VulnerabilitySource {
                name: f.ecosystem.clone(),
                url: None,
            }),
            references: f
                .aliases
                .iter()
                .map(|a| VulnerabilityReference {
                    id: a.clone(),
                    source: VulnerabilitySource {
                        name: a.split('-').next().unwrap_or("alias").to_string(),
                        url: None,
                    },
                })
                .collect(),
            ratings: vec![Rating {
                source: None,
                score: f.score,
                severity,
                method,
                vector,
            }],
            description: f.title.clone(),
            recommendation: f
                .fixed_version
                .as_ref()
                .map(|v| format!("Upgrade {} to {v}", f.package)),
            advisories: Vec::new(),
            analysis: f.suppressed.as_ref().map(|s| Analysis {
                state: match s.kind {
                    portcullis_matcher::SuppressionKind::Vex => "not_affected".into(),
                    _ => "exploitable".into(),
                },
                justification: None,
                detail: Some(s.reason.clone()),
            }),
            affects: vec![Affects {
                component_ref: component_of(f),
                versions: Vec::new(),
            }],
            properties: Vec::new(),
        });
    }
    crate::pretty_json(&bom)
}
