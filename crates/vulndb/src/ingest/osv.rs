//! OSV JSON and YAML (the PyPA database's format) into [`Advisory`].

use serde::Deserialize;

use crate::model::{
    Advisory, Affected, Event, Level, Range, RangeKind, Severity, normalize_package_name,
};
use crate::severity;

#[derive(Debug, Deserialize)]
struct RawOsv {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    published: Option<String>,
    modified: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
}

#[derive(Debug, Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Debug, Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

/// Why an advisory was skipped.
pub type Reason = String;

/// Parses one OSV JSON document.
pub fn parse_json(bytes: &[u8]) -> Result<Advisory, Reason> {
    let raw: RawOsv =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?;
    convert(raw)
}

/// Converts one OSV document already parsed as JSON.
pub fn from_value(value: serde_json::Value) -> Result<Advisory, Reason> {
    let raw: RawOsv =
        serde_json::from_value(value).map_err(|e| format!("not an OSV record: {e}"))?;
    convert(raw)
}

/// Parses one OSV YAML document (the PyPA advisory database's format).
pub fn parse_yaml(text: &str) -> Result<Advisory, Reason> {
    let raw: RawOsv =
        serde_saphyr::from_str(text).map_err(|e| format!("not an OSV record: {e}"))?;
    convert(raw)
}

fn convert(raw: RawOsv) -> Result<Advisory, Reason> {
    let id = raw.id.trim().to_string();
    if id.is_empty() {
        return Err("empty `id`".into());
    }
    let mut affected = Vec::with_capacity(raw.affected.len());
    for (index, entry) in raw.affected.into_iter().enumerate() {
        let Some(package) = entry.package else {
            // OSV allows affected entries without a package (e.g. only git
            // ranges of a repository): nothing an installed package can match.
            continue;
        };
        let ecosystem = package.ecosystem.trim().to_string();
        if ecosystem.is_empty() || package.name.trim().is_empty() {
            return Err(format!(
                "affected[{index}]: empty package ecosystem or name"
            ));
        }
        let mut ranges = Vec::with_capacity(entry.ranges.len());
        for (r, range) in entry.ranges.into_iter().enumerate() {
            ranges.push(
                convert_range(range).map_err(|e| format!("affected[{index}].ranges[{r}]: {e}"))?,
            );
        }
        let severity = best_severity(&entry.severity);
        affected.push(Affected {
            package: normalize_package_name(&ecosystem, package.name.trim()),
            ecosystem,
            ranges,
            versions: entry.versions,
            severity,
        });
    }
    let mut severity = best_severity(&raw.severity);
    if severity.is_none() {
        // GHSA-style `database_specific.severity` is the publisher's own rating.
        severity = raw
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .and_then(|s| Level::parse(s).map(|level| (level, s)))
            .map(|(level, s)| Severity {
                level,
                score: None,
                source: format!("advisory rating: {s}"),
            });
    }
    let mut aliases: Vec<String> = raw
        .aliases
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && *a != id)
        .collect();
    aliases.sort();
    aliases.dedup();
    Ok(Advisory {
        summary: summary_line(raw.summary.as_deref(), raw.details.as_deref()),
        id,
        aliases,
        published: raw.published,
        modified: raw.modified,
        withdrawn: raw.withdrawn,
        severity,
        affected,
    })
}

fn best_severity(entries: &[RawSeverity]) -> Option<Severity> {
    if let Some(s) = severity::best_of(entries.iter().map(|e| (e.kind.as_str(), e.score.as_str())))
    {
        return Some(s);
    }
    // Ubuntu's OSV records rate with words (`type: Ubuntu, score: high`).
    entries.iter().find(|e| e.kind == "Ubuntu").and_then(|e| {
        Level::parse(&e.score).map(|level| Severity {
            level,
            score: None,
            source: format!("ubuntu priority: {}", e.score),
        })
    })
}

/// The one-line title: `summary`, else the first line of `details`, capped.
fn summary_line(summary: Option<&str>, details: Option<&str>) -> Option<String> {
    let text = summary.filter(|s| !s.trim().is_empty()).or(details)?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

fn convert_range(range: RawRange) -> Result<Range, String> {
    let kind = match range.kind.as_str() {
        "ECOSYSTEM" => RangeKind::Ecosystem,
        "SEMVER" => RangeKind::Semver,
        "GIT" => RangeKind::Git,
        other => return Err(format!("unknown range type {other:?}")),
    };
    let mut events = Vec::with_capacity(range.events.len());
    for (i, e) in range.events.into_iter().enumerate() {
        let set = [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set != 1 {
            return Err(format!(
                "events[{i}] must have exactly one of introduced, fixed, last_affected, limit"
            ));
        }
        let event = if let Some(v) = e.introduced {
            Event::Introduced(v)
        } else if let Some(v) = e.fixed {
            Event::Fixed(v)
        } else if let Some(v) = e.last_affected {
            Event::LastAffected(v)
        } else if let Some(v) = e.limit {
            Event::Limit(v)
        } else {
            return Err(format!("events[{i}] is empty"));
        };
        events.push(event);
    }
    if kind != RangeKind::Git && !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
        return Err("range has no `introduced` event".into());
    }
    Ok(Range { kind, events })
}
