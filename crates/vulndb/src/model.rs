//! The advisory domain in plain types (after rustsec's `Advisory` /
//! `Affected`): what every feed is turned into, what the database stores and
//! what the matcher reads. Field meanings follow the OSV schema 1.6.

use serde::{Deserialize, Serialize};

/// One vulnerability record: an OSV entry, or the records a distribution feed
/// gives for one CVE, merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// `CVE-…`, `GHSA-…`, `ALSA-…`, `GO-…`, `RUSTSEC-…`, `PYSEC-…`.
    pub id: String,
    /// Other ids of the same vulnerability (CVE, GHSA, DSA, …), sorted.
    pub aliases: Vec<String>,
    /// One line, from OSV `summary` (or the start of `details`).
    pub summary: Option<String>,
    /// RFC 3339, as given.
    pub published: Option<String>,
    pub modified: Option<String>,
    /// Set for withdrawn advisories, which never match.
    pub withdrawn: Option<String>,
    /// From the advisory's CVSS vectors; `None` when it has none.
    pub severity: Option<Severity>,
    pub affected: Vec<Affected>,
}

/// The versions of one package an advisory affects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem, with its release where it has one: `Debian:12`,
    /// `Alpine:v3.20`, `AlmaLinux:9`, `PyPI`, `Go`, `crates.io`, `npm`.
    pub ecosystem: String,
    /// Package name: the *source* package for Debian/Ubuntu, the origin for
    /// Alpine, the binary rpm for the RHEL family. PyPI names are normalized
    /// (PEP 503).
    pub package: String,
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions (OSV `versions`).
    pub versions: Vec<String>,
    /// The distribution's own rating for this package (Debian urgency…),
    /// when the feed gives one.
    pub severity: Option<Severity>,
}

impl Affected {
    /// `package` affected from its first version until `fixed` (`None`: not
    /// fixed yet) in its ecosystem's own ordering, as distribution feeds
    /// state it; no listed versions and no severity of its own.
    pub fn until_fixed(ecosystem: String, package: String, fixed: Option<String>) -> Self {
        let mut events = vec![Event::Introduced("0".into())];
        events.extend(fixed.map(Event::Fixed));
        Affected {
            ecosystem,
            package,
            ranges: vec![Range {
                kind: RangeKind::Ecosystem,
                events,
            }],
            versions: Vec::new(),
            severity: None,
        }
    }
}

/// An OSV range: ordered events in one versioning scheme.
///
/// `S` is how versions are held: owned `String`s while feeds are read,
/// `&str` borrowed from the database file while matching, so a lookup
/// allocates no string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range<S = String> {
    pub kind: RangeKind,
    pub events: Vec<Event<S>>,
}

/// OSV `ranges[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    /// Versions of the package's ecosystem.
    Ecosystem,
    /// SemVer 2.0 versions.
    Semver,
    /// Git commits: cannot be evaluated against an installed version; kept
    /// so the matcher can say so, never matched.
    Git,
}

/// OSV `ranges[].events[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event<S = String> {
    /// Affected from this version on (`"0"`: from the beginning).
    Introduced(S),
    /// Not affected from this version on.
    Fixed(S),
    /// Affected up to and including this version.
    LastAffected(S),
    /// Upper bound of the range (exclusive), whatever the events say.
    Limit(S),
}

impl<S: AsRef<str>> Event<S> {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => {
                v.as_ref()
            }
        }
    }
}

/// How bad a vulnerability is, on the scale every gate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// Lower-case name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Negligible => "negligible",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a level name, case-insensitively (`none` is `negligible`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "unknown" => Level::Unknown,
            "negligible" | "none" => Level::Negligible,
            "low" => Level::Low,
            "medium" | "moderate" => Level::Medium,
            "high" | "important" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    pub level: Level,
    /// CVSS base score, when computed from a vector.
    pub score: Option<f64>,
    /// The CVSS vector, or the distribution's own word (`urgency: high`).
    pub source: String,
}

impl Advisory {
    /// Every id the advisory is known by: its own first, then its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// PEP 503 normalization of a Python package name.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.trim().chars() {
        if c == '-' || c == '_' || c == '.' {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}

/// Normalizes a package name for lookups in `ecosystem`.
pub fn normalize_package_name(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" {
        normalize_pypi_name(name)
    } else {
        name.to_string()
    }
}
