//! Hiding findings on purpose, always with a reason: ignore files (YAML with
//! reasons and expiry dates, or plain `ID # reason` lines), policy
//! exceptions, OpenVEX `not_affected` / `fixed` statements, and the
//! `--ignore-unfixed` / `--severity` filters. An expired ignore entry stops
//! hiding its finding and says so.

use std::collections::BTreeSet;

use portcullis_vulndb::model::Level;
use serde::{Deserialize, Serialize};

use crate::Finding;

/// Why a finding is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressionKind {
    /// An entry of the ignore file.
    Ignored,
    /// An exception of the policy's `vulnerabilities` section.
    PolicyException,
    /// An OpenVEX statement (`not_affected` or `fixed`).
    Vex,
    /// `--ignore-unfixed` / `ignoreUnfixed`: no fixed version exists.
    Unfixed,
}

/// The suppression of one finding, shown in JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppression {
    pub kind: SuppressionKind,
    pub reason: String,
    /// File the rule or statement came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The VEX statement, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<serde_json::Value>,
}

/// One accepted vulnerability: from an ignore file or a policy exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// Any id of the vulnerability (CVE, GHSA, …).
    pub id: String,
    /// Only in this package (installed or advisory name), when set.
    pub package: Option<String>,
    pub reason: String,
    /// Last day the rule holds.
    pub expires: Option<time::Date>,
    pub kind: SuppressionKind,
    /// File it came from.
    pub origin: String,
}

/// An ignore file or VEX document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

fn invalid(origin: &str, message: impl Into<String>) -> SuppressError {
    SuppressError::Invalid {
        origin: origin.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
struct RawIgnoreEntry {
    id: String,
    package: Option<String>,
    reason: Option<String>,
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawIgnoreFile {
    Wrapped {
        #[serde(alias = "vulnerabilities", alias = "exceptions")]
        ignore: Vec<RawIgnoreEntry>,
    },
    List(Vec<RawIgnoreEntry>),
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format).ok()
}

/// Reads an ignore file: YAML (`ignore: [{id, package, reason, expires}]`, or
/// a bare list) or plain text, one `ID [PACKAGE] [exp:YYYY-MM-DD] # reason`
/// per line. Every entry needs a reason.
pub fn parse_ignore_file(text: &str, origin: &str) -> Result<Vec<IgnoreRule>, SuppressError> {
    let looks_yaml = text
        .lines()
        .map(str::trim)
        .any(|l| l.starts_with("- ") || l.starts_with("ignore:") || l.starts_with("id:"));
    if looks_yaml {
        let raw: RawIgnoreFile = serde_saphyr::from_str(text)
            .map_err(|e| invalid(origin, format!("not an ignore file: {e}")))?;
        let entries = match raw {
            RawIgnoreFile::Wrapped { ignore } | RawIgnoreFile::List(ignore) => ignore,
        };
        return entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let id = e.id.trim().to_string();
                if id.is_empty() {
                    return Err(invalid(origin, format!("entry {}: empty id", i + 1)));
                }
                let reason = e
                    .reason
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty());
                let Some(reason) = reason else {
                    return Err(invalid(
                        origin,
                        format!("entry {} ({id}) needs a reason", i + 1),
                    ));
                };
                let expires = match e.expires {
                    Some(date) => Some(parse_date(&date).ok_or_else(|| {
                        invalid(
                            origin,
                            format!("{id}: expires {date:?} is not a date (YYYY-MM-DD)"),
                        )
                    })?),
                    None => None,
                };
                Ok(IgnoreRule {
                    id,
                    package: e.package,
                    reason,
                    expires,
                    kind: SuppressionKind::Ignored,
                    origin: origin.to_string(),
                })
            })
            .collect();
    }
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let (body, comment) = match line.split_once('#') {
            Some((b, c)) => (b.trim(), Some(c.trim())),
            None => (line.trim(), None),
        };
        if body.is_empty() {
            continue;
        }
        let mut words = body.split_whitespace();
        let Some(id) = words.next() else { continue };
        let mut package = None;
        let mut expires = None;
        for word in words {
            if let Some(date) = word.strip_prefix("exp:") {
                expires = Some(parse_date(date).ok_or_else(|| {
                    invalid(origin, format!("line {}: {date:?} is not a date", n + 1))
                })?);
            } else {
                package = Some(word.to_string());
            }
        }
        let Some(reason) = comment.filter(|c| !c.is_empty()) else {
            return Err(invalid(
                origin,
                format!("line {}: {id} needs a reason (`{id} # why`)", n + 1),
            ));
        };
        rules.push(IgnoreRule {
            id: id.to_string(),
            package,
            reason: reason.to_string(),
            expires,
            kind: SuppressionKind::Ignored,
            origin: origin.to_string(),
        });
    }
    Ok(rules)
}

/// One OpenVEX statement that can hide findings.
#[derive(Debug, Clone, PartialEq)]
pub struct VexStatement {
    /// The vulnerability's name and aliases.
    pub ids: Vec<String>,
    /// Product and subcomponent identifiers (purls, image references).
    pub products: Vec<String>,
    /// `not_affected`, `fixed`, `affected` or `under_investigation`.
    pub status: String,
    pub justification: Option<String>,
    /// The statement as written, shown with the finding.
    pub raw: serde_json::Value,
    pub origin: String,
}

fn ids_of_vulnerability(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Object(o) => {
            let mut ids: Vec<String> = ["name", "@id"]
                .iter()
                .filter_map(|k| o.get(*k)?.as_str().map(str::to_string))
                .collect();
            if let Some(aliases) = o.get("aliases").and_then(|a| a.as_array()) {
                ids.extend(
                    aliases
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_string)),
                );
            }
            ids
        }
        _ => Vec::new(),
    }
}

fn identifiers(value: Option<&serde_json::Value>) -> Vec<String> {
    let mut out = Vec::new();
    for item in value.and_then(|v| v.as_array()).into_iter().flatten() {
        match item {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Object(o) => {
                if let Some(id) = o.get("@id").and_then(|v| v.as_str()) {
                    out.push(id.to_string());
                }
                if let Some(purl) = o
                    .get("identifiers")
                    .and_then(|i| i.get("purl"))
                    .and_then(|v| v.as_str())
                {
                    out.push(purl.to_string());
                }
                out.extend(identifiers(o.get("subcomponents")));
            }
            _ => {}
        }
    }
    out
}

/// Reads an OpenVEX document (v0.0.x and v0.2.0).
pub fn parse_openvex(text: &str, origin: &str) -> Result<Vec<VexStatement>, SuppressError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(origin, format!("not JSON: {e}")))?;
    let context = doc
        .get("@context")
        .and_then(|c| c.as_str())
        .unwrap_or_default();
    if !context.contains("openvex") {
        return Err(invalid(
            origin,
            "not an OpenVEX document (no openvex @context)",
        ));
    }
    let statements = doc
        .get("statements")
        .and_then(|s| s.as_array())
        .ok_or_else(|| invalid(origin, "no `statements`"))?;
    let mut out = Vec::with_capacity(statements.len());
    for (i, statement) in statements.iter().enumerate() {
        let ids = statement
            .get("vulnerability")
            .map(ids_of_vulnerability)
            .unwrap_or_default();
        if ids.is_empty() {
            return Err(invalid(
                origin,
                format!("statement {}: no vulnerability", i + 1),
            ));
        }
        let status = statement
            .get("status")
            .and_then(|s| s.as_str())
            .ok_or_else(|| invalid(origin, format!("statement {}: no status", i + 1)))?
            .to_string();
        let mut products = identifiers(statement.get("products"));
        products.extend(identifiers(statement.get("subcomponents")));
        out.push(VexStatement {
            ids,
            products,
            status,
            justification: statement
                .get("justification")
                .and_then(|j| j.as_str())
                .map(str::to_string),
            raw: statement.clone(),
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

/// A purl without qualifiers and subpath; without its version when `keep_version` is false.
fn purl_key(purl: &str, keep_version: bool) -> String {
    let base = purl.split(['?', '#']).next().unwrap_or(purl);
    if keep_version {
        base.to_string()
    } else {
        base.split('@').next().unwrap_or(base).to_string()
    }
}

impl VexStatement {
    fn applies_to(&self, finding: &Finding) -> bool {
        if !finding
            .ids()
            .any(|id| self.ids.iter().any(|v| v.eq_ignore_ascii_case(id)))
        {
            return false;
        }
        // Package purls must name the finding's package; image references
        // (pkg:oci, pkg:docker, plain references) cover every package in it.
        let packages: Vec<&String> = self
            .products
            .iter()
            .filter(|p| {
                p.starts_with("pkg:") && !p.starts_with("pkg:oci/") && !p.starts_with("pkg:docker/")
            })
            .collect();
        if packages.is_empty() {
            return true;
        }
        packages.iter().any(|p| {
            let keep_version = purl_key(p, true).contains('@');
            purl_key(p, keep_version) == purl_key(&finding.purl, keep_version)
        })
    }
}

/// Everything that filters or hides findings.
#[derive(Debug, Clone)]
pub struct Filters {
    pub ignore_unfixed: bool,
    /// Only these severities are reported (`--severity`); `None`: all.
    pub severities: Option<BTreeSet<Level>>,
    pub rules: Vec<IgnoreRule>,
    pub vex: Vec<VexStatement>,
    /// The day expiry dates are judged against.
    pub today: time::Date,
}

/// Findings split into those that remain and those hidden (each with its
/// suppression), plus warnings for the user (expired entries).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Filtered {
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Finding>,
    /// Findings dropped by `--severity` (counted, not listed).
    pub filtered_out: usize,
    pub warnings: Vec<String>,
}

fn date_string(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Applies `filters` to `findings`, keeping their order.
pub fn apply(findings: Vec<Finding>, filters: &Filters) -> Filtered {
    let mut out = Filtered::default();
    let mut warned = BTreeSet::new();
    for mut finding in findings {
        if let Some(levels) = &filters.severities
            && !levels.contains(&finding.severity)
        {
            out.filtered_out += 1;
            continue;
        }
        let rule = filters.rules.iter().find(|r| {
            finding.ids().any(|id| id.eq_ignore_ascii_case(&r.id))
                && r.package.as_ref().is_none_or(|p| {
                    *p == finding.package || finding.advisory_package.as_ref() == Some(p)
                })
        });
        if let Some(rule) = rule {
            match rule.expires {
                Some(expires) if filters.today > expires => {
                    let note = format!(
                        "{} entry for {} expired on {} and no longer hides it ({})",
                        rule.origin,
                        rule.id,
                        date_string(expires),
                        rule.reason
                    );
                    if warned.insert(note.clone()) {
                        out.warnings.push(note.clone());
                    }
                    finding.notes.push(note);
                }
                _ => {
                    finding.suppressed = Some(Suppression {
                        kind: rule.kind,
                        reason: rule.reason.clone(),
                        origin: Some(rule.origin.clone()),
                        expires: rule.expires.map(date_string),
                        statement: None,
                    });
                    out.suppressed.push(finding);
                    continue;
                }
            }
        }
        if let Some(statement) = filters
            .vex
            .iter()
            .find(|s| (s.status == "not_affected" || s.status == "fixed") && s.applies_to(&finding))
        {
            finding.suppressed = Some(Suppression {
                kind: SuppressionKind::Vex,
                reason: match &statement.justification {
                    Some(j) => format!("{}: {j}", statement.status),
                    None => statement.status.clone(),
                },
                origin: Some(statement.origin.clone()),
                expires: None,
                statement: Some(statement.raw.clone()),
            });
            out.suppressed.push(finding);
            continue;
        }
        if filters.ignore_unfixed && finding.fixed_version.is_none() {
            finding.suppressed = Some(Suppression {
                kind: SuppressionKind::Unfixed,
                reason: "no fixed version is available".into(),
                origin: None,
                expires: None,
                statement: None,
            });
            out.suppressed.push(finding);
            continue;
        }
        out.findings.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_inventory::Location;

    fn finding(id: &str, aliases: &[&str], fixed: Option<&str>, level: Level) -> Finding {
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            package: "openssl".into(),
            advisory_package: None,
            ecosystem: "Debian:12".into(),
            installed_version: "3.0.11-1~deb12u2".into(),
            advisory_version: None,
            fixed_version: fixed.map(str::to_string),
            severity: level,
            score: None,
            severity_source: None,
            title: None,
            purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64".into(),
            location: Location {
                layer: None,
                path: "/var/lib/dpkg/status".into(),
            },
            suppressed: None,
            notes: Vec::new(),
        }
    }

    fn filters(rules: Vec<IgnoreRule>, vex: Vec<VexStatement>) -> Filters {
        Filters {
            ignore_unfixed: false,
            severities: None,
            rules,
            vex,
            today: parse_date("2026-11-29").expect("date"),
        }
    }

    #[test]
    fn yaml_ignore_file_with_expiry() {
        let text = "ignore:\n  - id: CVE-2024-0001\n    package: openssl\n    reason: not reachable\n    expires: 2027-01-31\n  - id: CVE-2023-9999\n    reason: accepted last year\n    expires: 2025-01-01\n";
        let rules = parse_ignore_file(text, ".portcullisignore").expect("parses");
        assert_eq!(rules.len(), 2);
        let out = apply(
            vec![
                finding("CVE-2024-0001", &[], Some("1"), Level::High),
                finding("DSA-1", &["CVE-2023-9999"], Some("1"), Level::High),
            ],
            &filters(rules, Vec::new()),
        );
        assert_eq!(out.suppressed.len(), 1);
        assert_eq!(
            out.suppressed[0]
                .suppressed
                .as_ref()
                .map(|s| s.reason.as_str()),
            Some("not reachable")
        );
        // The expired entry no longer hides its finding, and says so.
        assert_eq!(out.findings.len(), 1);
        assert!(
            out.findings[0].notes[0].contains("expired on 2025-01-01"),
            "{:?}",
            out.findings[0].notes
        );
        assert_eq!(out.warnings.len(), 1);
    }

    #[test]
    fn plain_ignore_file_needs_reasons() {
        let rules = parse_ignore_file(
            "# comment\nCVE-2024-0001 openssl exp:2027-01-01 # vendor says harmless\n",
            "f",
        )
        .expect("ok");
        assert_eq!(rules[0].package.as_deref(), Some("openssl"));
        assert!(parse_ignore_file("CVE-2024-0001\n", "f").is_err());
        assert!(
            parse_ignore_file("ignore:\n  - id: CVE-1\n", "f")
                .expect_err("no reason")
                .to_string()
                .contains("needs a reason")
        );
    }

    #[test]
    fn openvex_not_affected_suppresses_with_the_statement() {
        let doc = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
          "statements": [
            {"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:oci/app", "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": "CVE-2024-0002"}, "products": [{"@id": "pkg:deb/debian/zlib"}], "status": "not_affected",
             "justification": "component_not_present"},
            {"vulnerability": {"name": "CVE-2024-0003"}, "products": [{"@id": "pkg:oci/app"}], "status": "affected"}
          ]}"#;
        let vex = parse_openvex(doc, "app.vex.json").expect("parses");
        let out = apply(
            vec![
                finding("CVE-2024-0001", &[], None, Level::High),
                finding("CVE-2024-0002", &[], None, Level::High),
                finding("CVE-2024-0003", &[], None, Level::High),
            ],
            &filters(Vec::new(), vex),
        );
        assert_eq!(out.suppressed.len(), 1);
        let s = out.suppressed[0].suppressed.as_ref().expect("suppressed");
        assert_eq!(s.kind, SuppressionKind::Vex);
        assert_eq!(
            s.statement.as_ref().and_then(|st| st["status"].as_str()),
            Some("not_affected")
        );
        assert_eq!(
            out.findings.len(),
            2,
            "other package and `affected` statements do not hide"
        );
        assert!(parse_openvex("{}", "f").is_err());
    }

    #[test]
    fn unfixed_and_severity_filters() {
        let mut f = filters(Vec::new(), Vec::new());
        f.ignore_unfixed = true;
        f.severities = Some([Level::High, Level::Critical].into_iter().collect());
        let out = apply(
            vec![
                finding("A", &[], None, Level::High),
                finding("B", &[], Some("2"), Level::Low),
                finding("C", &[], Some("2"), Level::Critical),
            ],
            &f,
        );
        assert_eq!(
            out.findings
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>(),
            vec!["C"]
        );
        assert_eq!(out.filtered_out, 1);
        assert_eq!(
            out.suppressed[0].suppressed.as_ref().map(|s| s.kind),
            Some(SuppressionKind::Unfixed)
        );
    }
}
