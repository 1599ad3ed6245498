//! The Node.js Security Working Group's advisories (nodejs/security-wg,
//! `vuln/npm/<id>.json`): one npm package per file, its affected versions a
//! node-semver range expression (`vulnerable_versions`). The upstream
//! README names them `NSWG-ECO-<id>` (npm modules) and `NSWG-COR-<id>`
//! (Node.js itself).
//!
//! Range expressions are turned into OSV `SEMVER` events exactly as
//! node-semver desugars them (`<1.2` is `<1.2.0-0`, `~1.2.3` is
//! `>=1.2.3 <1.3.0-0`); an expression that has no exact event form is not
//! guessed at: the advisory is skipped with the reason. One difference is
//! inherent to OSV and not ours to fix: node-semver leaves a pre-release
//! (`1.2.3-beta`) out of a range unless a comparator names the same
//! `major.minor.patch` with a pre-release, while OSV orders pre-releases
//! like any version — so a pre-release inside the bounds matches.
//!
//! Node.js core advisories (`vuln/core`) are skipped: no inventory
//! ecosystem holds the Node.js runtime itself.

use std::cmp::Ordering;

use serde::Deserialize;

use crate::model::{Advisory, Affected, Event, Range, RangeKind, Severity};
use crate::severity;
use crate::version::semver::compare_npm;

/// Longest range expression converted.
const MAX_EXPRESSION_BYTES: usize = 4096;

/// Whether a JSON document is an NSWG npm advisory.
pub fn looks_like_npm(value: &serde_json::Value) -> bool {
    value.get("module_name").is_some_and(|m| m.is_string())
        && (value.get("vulnerable_versions").is_some() || value.get("patched_versions").is_some())
}

/// Whether a JSON document is an NSWG Node.js core advisory.
pub fn looks_like_core(value: &serde_json::Value) -> bool {
    value.get("module_name").is_none()
        && value.get("vulnerable").is_some()
        && (value.get("patched").is_some() || value.get("cve").is_some())
}

/// Whether a JSON document is `vuln/npm/index.json` or `vuln/core/index.json`:
/// every advisory again, keyed by id. The per-advisory files are read instead.
pub fn looks_like_index(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(|entries| {
        !entries.is_empty()
            && entries
                .keys()
                .all(|k| k.bytes().all(|b| b.is_ascii_digit()))
            && entries
                .values()
                .take(3)
                .all(|entry| looks_like_npm(entry) || looks_like_core(entry))
    })
}

/// The number a file is named by (`vuln/npm/12.json` → `12`).
pub fn file_number(name: &str) -> Option<&str> {
    let file = name.rsplit(['/', '!']).next()?;
    let stem = file.strip_suffix(".json")?;
    (!stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())).then_some(stem)
}

#[derive(Debug, Deserialize)]
struct RawAdvisory {
    id: Option<serde_json::Value>,
    title: Option<String>,
    module_name: String,
    created_at: Option<String>,
    updated_at: Option<String>,
    publish_date: Option<String>,
    #[serde(default)]
    cves: Vec<String>,
    vulnerable_versions: Option<String>,
    cvss_vector: Option<String>,
    cvss_score: Option<f64>,
}

/// Reads one npm advisory; `name` is the file it came from (its number is
/// the id when the document has none).
pub fn from_value(value: serde_json::Value, name: &str) -> Result<Advisory, String> {
    let raw: RawAdvisory = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let number = match &raw.id {
        Some(serde_json::Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.clone()
        }
        _ => file_number(name)
            .ok_or("no numeric `id` and the file is not named by one")?
            .to_string(),
    };
    let id = format!("NSWG-ECO-{number}");
    let package = raw.module_name.trim();
    if package.is_empty() {
        return Err(format!("{id}: empty module_name"));
    }
    let Some(expression) = raw.vulnerable_versions.as_deref() else {
        return Err(format!("{id}: no vulnerable_versions"));
    };
    let ranges = ranges_of(expression).map_err(|e| format!("{id}: {e}"))?;
    let severity = raw
        .cvss_vector
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .and_then(severity::from_cvss)
        .or_else(|| {
            // A score without a vector (`-1` means none was given).
            raw.cvss_score
                .filter(|s| s.is_finite() && (0.0..=10.0).contains(s))
                .map(|score| Severity {
                    level: severity::level_for_score(score),
                    score: Some(score),
                    source: format!("cvss_score: {score}"),
                })
        });
    let mut aliases: Vec<String> = raw
        .cves
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && *c != id)
        .collect();
    aliases.sort();
    aliases.dedup();
    Ok(Advisory {
        id,
        aliases,
        summary: raw
            .title
            .as_deref()
            .map(|t| t.trim().chars().take(200).collect::<String>())
            .filter(|t| !t.is_empty()),
        published: raw
            .publish_date
            .as_deref()
            .or(raw.created_at.as_deref())
            .and_then(date_to_rfc3339),
        modified: raw.updated_at.as_deref().and_then(date_to_rfc3339),
        withdrawn: None,
        severity,
        affected: vec![Affected {
            ecosystem: "npm".to_string(),
            package: package.to_string(),
            ranges,
            versions: Vec::new(),
            severity: None,
        }],
    })
}

/// `2015-10-17` as RFC 3339; `None` otherwise.
fn date_to_rfc3339(date: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date.trim(), &format)
        .ok()
        .map(|d| format!("{d}T00:00:00Z"))
}

/// A version as node-semver reads it in a range: each of major, minor and
/// patch a number or a wildcard (`x`, `X`, `*`, or left out).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    /// `-beta.1`, only on a full version.
    pre: String,
}

impl Partial {
    fn parse(text: &str) -> Result<Self, String> {
        let bare = text.strip_prefix(['v', 'V']).unwrap_or(text);
        if bare.is_empty() || bare == "*" || bare.eq_ignore_ascii_case("x") {
            return Ok(Self {
                major: None,
                minor: None,
                patch: None,
                pre: String::new(),
            });
        }
        // Build metadata has no say in ordering.
        let bare = bare.split_once('+').map_or(bare, |(v, _)| v);
        let (core, pre) = match bare.split_once('-') {
            Some((core, pre)) => (core, pre),
            None => (bare, ""),
        };
        if !pre.is_empty()
            && !pre
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(format!("pre-release {pre:?} of {text:?} is not SemVer"));
        }
        let mut numbers = [None; 3];
        let mut parts = core.split('.');
        for slot in &mut numbers {
            let Some(part) = parts.next() else { break };
            *slot = match part {
                "x" | "X" | "*" => None,
                digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Some(
                    digits
                        .parse::<u64>()
                        .map_err(|e| format!("{text:?}: {e}"))?,
                ),
                _ => return Err(format!("{text:?} is not a version")),
            };
        }
        if parts.next().is_some() {
            return Err(format!("{text:?} has more than three numbers"));
        }
        let [major, minor, patch] = numbers;
        // A wildcard is followed only by wildcards (`1.x.3` is not a version).
        if (major.is_none() && (minor.is_some() || patch.is_some()))
            || (minor.is_none() && patch.is_some())
        {
            return Err(format!("{text:?} has a number after a wildcard"));
        }
        if patch.is_none() && !pre.is_empty() {
            return Err(format!("{text:?}: a pre-release on a partial version"));
        }
        Ok(Self {
            major,
            minor,
            patch,
            pre: pre.to_string(),
        })
    }
}

/// `major.minor.patch[-pre]`.
fn full(major: u64, minor: u64, patch: u64, pre: &str) -> String {
    if pre.is_empty() {
        format!("{major}.{minor}.{patch}")
    } else {
        format!("{major}.{minor}.{patch}-{pre}")
    }
}

fn bump(n: u64) -> Result<u64, String> {
    n.checked_add(1)
        .ok_or_else(|| "version number overflows".to_string())
}

/// One primitive comparator after desugaring.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    /// `>=v`, or `>v` when the flag is set.
    Lower(String, bool),
    /// `<v`, or `<=v` when the flag is set.
    Upper(String, bool),
    Exact(String),
}

/// Desugars one comparator (`<=1.2`, `~1.2.3`, `^0.2`, `2.x`) into bounds;
/// `None` when it matches no version at all (`<x`).
fn desugar(operator: &str, version: &Partial) -> Result<Option<Vec<Bound>>, String> {
    let Partial {
        major,
        minor,
        patch,
        pre,
    } = version;
    let Some(major) = *major else {
        // `*`, `x`: any version; `<*`, `>*`: none.
        return Ok(match operator {
            "<" | ">" => None,
            _ => Some(Vec::new()),
        });
    };
    let lower = |v: String| Bound::Lower(v, false);
    let below = |v: String| Bound::Upper(v, false);
    let bounds = match (operator, *minor, *patch) {
        ("~" | "~>", None, _) => vec![
            lower(full(major, 0, 0, "")),
            below(full(bump(major)?, 0, 0, "0")),
        ],
        ("~" | "~>", Some(minor), patch) => vec![
            lower(full(major, minor, patch.unwrap_or(0), pre)),
            below(full(major, bump(minor)?, 0, "0")),
        ],
        ("^", None, _) => vec![
            lower(full(major, 0, 0, "")),
            below(full(bump(major)?, 0, 0, "0")),
        ],
        ("^", Some(minor), patch) => {
            let upper = if major > 0 {
                full(bump(major)?, 0, 0, "0")
            } else if minor > 0 || patch.is_none() {
                full(0, bump(minor)?, 0, "0")
            } else {
                full(0, 0, bump(patch.unwrap_or(0))?, "0")
            };
            vec![
                lower(full(major, minor, patch.unwrap_or(0), pre)),
                below(upper),
            ]
        }
        ("" | "=", Some(minor), Some(patch)) => vec![Bound::Exact(full(major, minor, patch, pre))],
        ("" | "=", None, _) => vec![
            lower(full(major, 0, 0, "")),
            below(full(bump(major)?, 0, 0, "0")),
        ],
        ("" | "=", Some(minor), None) => vec![
            lower(full(major, minor, 0, "")),
            below(full(major, bump(minor)?, 0, "0")),
        ],
        (">=", minor, patch) => vec![lower(full(
            major,
            minor.unwrap_or(0),
            patch.unwrap_or(0),
            pre,
        ))],
        (">", Some(minor), Some(patch)) => vec![Bound::Lower(full(major, minor, patch, pre), true)],
        (">", None, _) => vec![lower(full(bump(major)?, 0, 0, ""))],
        (">", Some(minor), None) => vec![lower(full(major, bump(minor)?, 0, ""))],
        ("<", Some(minor), Some(patch)) => vec![below(full(major, minor, patch, pre))],
        ("<", minor, None) => vec![below(full(major, minor.unwrap_or(0), 0, "0"))],
        ("<=", Some(minor), Some(patch)) => {
            vec![Bound::Upper(full(major, minor, patch, pre), true)]
        }
        ("<=", None, _) => vec![below(full(bump(major)?, 0, 0, "0"))],
        ("<=", Some(minor), None) => vec![below(full(major, bump(minor)?, 0, "0"))],
        (other, _, _) => return Err(format!("operator {other:?} is not node-semver")),
    };
    Ok(Some(bounds))
}

/// The least version above `version` in SemVer precedence, which turns an
/// exclusive lower bound (`>1.2.3`) into OSV's inclusive `introduced`
/// exactly: nothing orders between `1.2.3` and `1.2.4-0`, nor between
/// `1.2.3-rc` and `1.2.3-rc.0`.
fn successor(version: &str) -> Result<String, String> {
    if version.contains('-') {
        return Ok(format!("{version}.0"));
    }
    let mut numbers = version.split('.').map(str::parse::<u64>);
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch))) => {
            Ok(full(major, minor, bump(patch)?, "0"))
        }
        _ => Err(format!("{version:?} is not a full version")),
    }
}

/// Splits a comparator set into `(operator, version)` pairs; node-semver
/// allows space between an operator and its version (`< 2.1.7`).
fn comparators(set: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for word in set.split_whitespace() {
        if word == "-" {
            return Err("hyphen ranges (`1.2.3 - 2.3.4`) are not converted".into());
        }
        let word = match pending.take() {
            Some(operator) => format!("{operator}{word}"),
            None => word.to_string(),
        };
        let split = word
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~' | '^'))
            .unwrap_or(word.len());
        let (operator, version) = word.split_at(split);
        if version.is_empty() {
            pending = Some(operator.to_string());
            continue;
        }
        out.push((operator.to_string(), version.to_string()));
    }
    if let Some(operator) = pending {
        return Err(format!("operator {operator:?} without a version"));
    }
    Ok(out)
}

fn compare(left: &str, right: &str) -> Result<Ordering, String> {
    compare_npm(left, right).map_err(|e| e.to_string())
}

/// The OSV events of one comparator set (`>=2.0.0 <2.1.4`); `None` when it
/// matches nothing.
fn events_of(set: &str) -> Result<Option<Vec<Event>>, String> {
    let mut lower: Option<(String, bool)> = None;
    let mut upper: Option<(String, bool)> = None;
    let mut exact: Option<String> = None;
    let pairs = comparators(set)?;
    let comparator_count = pairs.len();
    for (operator, version) in pairs {
        let partial = Partial::parse(&version)?;
        let Some(bounds) = desugar(&operator, &partial)? else {
            return Ok(None);
        };
        for bound in bounds {
            match bound {
                Bound::Exact(v) => exact = Some(v),
                // The intersection keeps the tightest bound on each side.
                Bound::Lower(v, strict) => {
                    let tighter = match &lower {
                        None => true,
                        Some((held, held_strict)) => match compare(&v, held)? {
                            Ordering::Greater => true,
                            Ordering::Equal => strict && !held_strict,
                            Ordering::Less => false,
                        },
                    };
                    if tighter {
                        lower = Some((v, strict));
                    }
                }
                Bound::Upper(v, inclusive) => {
                    let tighter = match &upper {
                        None => true,
                        Some((held, held_inclusive)) => match compare(&v, held)? {
                            Ordering::Less => true,
                            Ordering::Equal => !inclusive && *held_inclusive,
                            Ordering::Greater => false,
                        },
                    };
                    if tighter {
                        upper = Some((v, inclusive));
                    }
                }
            }
        }
    }
    if let Some(version) = exact {
        if comparator_count > 1 {
            return Err(format!(
                "{set:?}: an exact version with other comparators is not converted"
            ));
        }
        return Ok(Some(vec![
            Event::Introduced(version.clone()),
            Event::LastAffected(version),
        ]));
    }
    let introduced = match lower {
        None => "0".to_string(),
        Some((version, false)) => version,
        Some((version, true)) => successor(&version)?,
    };
    let mut events = vec![Event::Introduced(introduced.clone())];
    if let Some((version, inclusive)) = upper {
        // An empty intersection (`<1.0.0 >=2.0.0`) affects nothing.
        if introduced != "0" {
            match compare(&introduced, &version)? {
                Ordering::Greater => return Ok(None),
                Ordering::Equal if !inclusive => return Ok(None),
                _ => {}
            }
        }
        events.push(if inclusive {
            Event::LastAffected(version)
        } else {
            Event::Fixed(version)
        });
    }
    Ok(Some(events))
}

/// Converts a node-semver range expression into OSV `SEMVER` ranges, one
/// per `||` alternative that matches anything.
pub fn ranges_of(expression: &str) -> Result<Vec<Range>, String> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(format!(
            "range expression longer than {MAX_EXPRESSION_BYTES} bytes"
        ));
    }
    let mut ranges = Vec::new();
    for set in expression.split("||") {
        let events = events_of(set.trim())
            .map_err(|e| format!("vulnerable_versions {expression:?}: {e}"))?;
        if let Some(events) = events {
            let range = Range {
                kind: RangeKind::Semver,
                events,
            };
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
    }
    if ranges.is_empty() {
        return Err(format!(
            "vulnerable_versions {expression:?} matches no version"
        ));
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(expression: &str) -> Vec<Vec<Event>> {
        ranges_of(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
            .into_iter()
            .map(|r| r.events)
            .collect()
    }

    fn i(v: &str) -> Event {
        Event::Introduced(v.into())
    }
    fn f(v: &str) -> Event {
        Event::Fixed(v.into())
    }
    fn l(v: &str) -> Event {
        Event::LastAffected(v.into())
    }

    #[test]
    fn comparators_become_exact_events() {
        assert_eq!(events("<1.2.3"), [vec![i("0"), f("1.2.3")]]);
        assert_eq!(events(">=2.0.0 <2.1.4"), [vec![i("2.0.0"), f("2.1.4")]]);
        assert_eq!(events("<=1.0.0"), [vec![i("0"), l("1.0.0")]]);
        assert_eq!(events("<= 1.0.3"), [vec![i("0"), l("1.0.3")]]);
        assert_eq!(events("*"), [vec![i("0")]]);
        assert_eq!(events(">=2.0.0"), [vec![i("2.0.0")]]);
        assert_eq!(events("2.1.4"), [vec![i("2.1.4"), l("2.1.4")]]);
        assert_eq!(
            events("=3.0.0-rc.1"),
            [vec![i("3.0.0-rc.1"), l("3.0.0-rc.1")]]
        );
        assert_eq!(events("<=v2.0.0-alpha7"), [vec![i("0"), l("2.0.0-alpha7")]]);
        assert_eq!(
            events("<1.10.4 || >=1.11.0 <1.16.0"),
            [vec![i("0"), f("1.10.4")], vec![i("1.11.0"), f("1.16.0")]]
        );
        assert_eq!(
            events("<5.0.3 >=5.0.0 || < 4.2.1"),
            [vec![i("5.0.0"), f("5.0.3")], vec![i("0"), f("4.2.1")]]
        );
    }

    #[test]
    fn partial_versions_tilde_and_caret_desugar_as_node_semver() {
        assert_eq!(
            events("<3.11 || >= 4 <4.5"),
            [vec![i("0"), f("3.11.0-0")], vec![i("4.0.0"), f("4.5.0-0")]]
        );
        assert_eq!(events("<= 1.0"), [vec![i("0"), f("1.1.0-0")]]);
        assert_eq!(
            events("2.0.x || 2.1.x"),
            [
                vec![i("2.0.0"), f("2.1.0-0")],
                vec![i("2.1.0"), f("2.2.0-0")]
            ]
        );
        assert_eq!(events("~0.8.0-pre"), [vec![i("0.8.0-pre"), f("0.9.0-0")]]);
        assert_eq!(events("^8.1.4"), [vec![i("8.1.4"), f("9.0.0-0")]]);
        assert_eq!(events("^0.2.3"), [vec![i("0.2.3"), f("0.3.0-0")]]);
        assert_eq!(events("^0.0.3"), [vec![i("0.0.3"), f("0.0.4-0")]]);
        assert_eq!(events(">1.2"), [vec![i("1.3.0")]]);
    }

    #[test]
    fn exclusive_lower_bounds_use_the_next_version_and_empty_sets_drop() {
        assert_eq!(
            events("<1.6.5 || < 2.1.7 > 2.0.0"),
            [vec![i("0"), f("1.6.5")], vec![i("2.0.1-0"), f("2.1.7")]]
        );
        assert_eq!(
            events(">2.0.0-rc <=2.0.0"),
            [vec![i("2.0.0-rc.0"), l("2.0.0")]]
        );
        // node-semver: `<1.2.3 >2.0.0` is empty; the other alternative stays.
        assert_eq!(
            events("<1.2.3 >2.0.0 || <0.5.0"),
            [vec![i("0"), f("0.5.0")]]
        );
        assert!(ranges_of(">=1.0.0 <1.0.0").is_err());
        assert!(ranges_of("1.2.3 - 2.3.4").is_err());
        assert!(ranges_of(">=1.0.0 1.2.0").is_err());
        assert!(ranges_of("<").is_err());
        assert!(ranges_of("1.x.3").is_err());
        assert!(ranges_of(&"<1.0.0 ".repeat(2000)).is_err());
        assert!(ranges_of("<18446744073709551615.0.0 >18446744073709551615").is_err());
    }

    #[test]
    fn detects_npm_core_and_index_documents() {
        let npm = serde_json::json!({"id": 1, "module_name": "a", "vulnerable_versions": "<1.0.0"});
        let core =
            serde_json::json!({"cve": ["CVE-2017-1"], "vulnerable": "8.x", "patched": "^8.1.4"});
        let index = serde_json::json!({"1": npm.clone(), "2": npm.clone()});
        assert!(looks_like_index(&serde_json::json!({"7": core.clone()})));
        assert!(looks_like_npm(&npm) && !looks_like_core(&npm) && !looks_like_index(&npm));
        assert!(looks_like_core(&core) && !looks_like_npm(&core));
        assert!(looks_like_index(&index) && !looks_like_npm(&index));
        assert_eq!(file_number("x/vuln/npm/12.json"), Some("12"));
        assert_eq!(file_number("x/vuln/npm/index.json"), None);
    }
}
