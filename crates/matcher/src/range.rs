//! Whether a version falls in an OSV `affected` entry, read exactly as the
//! OSV schema defines `ranges` (events sorted by version; `introduced`,
//! `fixed`, `last_affected`, `limit`) and `versions`.

use std::cmp::Ordering;

use portcullis_vulndb::model::{Event, Range, RangeKind};
use portcullis_vulndb::version::{Scheme, VersionError};

/// The outcome for one affected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    NotAffected,
    /// Affected; the first fixed version above the installed one, if any.
    Affected {
        fixed: Option<String>,
    },
}

/// The sort weight of an event at equal versions: a range opening and
/// closing at the same version affects nothing.
fn tie_rank<S>(event: &Event<S>) -> u8 {
    match event {
        Event::Introduced(_) => 0,
        Event::LastAffected(_) => 1,
        Event::Fixed(_) => 2,
        Event::Limit(_) => 3,
    }
}

/// `introduced: "0"` means "from the very first version", in every scheme.
fn compare_event(
    scheme: Scheme,
    version: &str,
    event_v: &str,
    is_introduced: bool,
) -> Result<Ordering, VersionError> {
    if is_introduced && event_v == "0" {
        return Ok(Ordering::Greater);
    }
    scheme.compare(version, event_v)
}

/// Evaluates one range for `version`. Errors when a version does not parse in
/// the scheme (the caller counts those rather than guessing).
pub fn evaluate_range<S: AsRef<str>>(
    scheme: Scheme,
    range: &Range<S>,
    version: &str,
) -> Result<Verdict, VersionError> {
    let scheme = match range.kind {
        RangeKind::Ecosystem => scheme,
        RangeKind::Semver => Scheme::SemVer,
        // A commit range says nothing about an installed version.
        RangeKind::Git => return Ok(Verdict::NotAffected),
    };
    // Sort events by version ("0" first), as the schema requires before evaluation.
    let mut events: Vec<&Event<S>> = range.events.iter().collect();
    let mut sort_error = None;
    // Feeds nearly always list events in order: check that in one pass
    // (n-1 comparisons) before paying for a sort.
    let ordered = events.windows(2).all(|pair| {
        let (a, b) = (pair[0], pair[1]);
        if matches!(a, Event::Introduced(v) if v.as_ref() == "0") {
            return true;
        }
        if matches!(b, Event::Introduced(v) if v.as_ref() == "0") {
            return false;
        }
        scheme
            .compare(a.version(), b.version())
            .is_ok_and(|o| o == Ordering::Less)
    });
    if !ordered {
        events.sort_by(|a, b| {
            let (va, vb) = (a.version(), b.version());
            let order = match (
                va == "0" && matches!(a, Event::Introduced(_)),
                vb == "0" && matches!(b, Event::Introduced(_)),
            ) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => scheme.compare(va, vb).unwrap_or_else(|e| {
                    sort_error.get_or_insert(e);
                    Ordering::Equal
                }),
            };
            order.then_with(|| tie_rank(a).cmp(&tie_rank(b)))
        });
    }
    if let Some(e) = sort_error {
        return Err(e);
    }
    let mut affected = false;
    let mut fixed_above: Option<String> = None;
    for event in &events {
        match event {
            Event::Introduced(v) => {
                if compare_event(scheme, version, v.as_ref(), true)? != Ordering::Less {
                    affected = true;
                }
            }
            Event::Fixed(v) => {
                if scheme.compare(version, v.as_ref())? != Ordering::Less {
                    affected = false;
                } else if affected && fixed_above.is_none() {
                    fixed_above = Some(v.as_ref().to_string());
                }
            }
            Event::LastAffected(v) => {
                if scheme.compare(version, v.as_ref())? == Ordering::Greater {
                    affected = false;
                }
            }
            Event::Limit(v) => {
                if scheme.compare(version, v.as_ref())? != Ordering::Less {
                    affected = false;
                }
            }
        }
    }
    Ok(if affected {
        Verdict::Affected { fixed: fixed_above }
    } else {
        Verdict::NotAffected
    })
}

/// The spelling `versions` lists are compared in: for Python a key equal for
/// PEP 440-equal versions (`1.0RC1` and `1.0.0rc1`), elsewhere the version as
/// written. The
/// database stores listed versions normalized the same way.
pub fn normalize_listed(scheme: Option<Scheme>, version: &str) -> String {
    match scheme {
        Some(Scheme::Pep440) => portcullis_vulndb::version::pep440_equality_key(version),
        _ => version.to_string(),
    }
}

/// Evaluates an affected record: any matching range, or the version listed
/// in `versions` (compared in the scheme when both parse, else as text).
pub fn evaluate<S: AsRef<str>>(
    scheme: Option<Scheme>,
    ranges: &[Range<S>],
    versions: &[S],
    version: &str,
) -> Result<Verdict, VersionError> {
    // Listed versions are stored normalized (see [`normalize_listed`]), so
    // one normalization of the installed version makes this a string match.
    let installed = normalize_listed(scheme, version);
    let listed = versions.iter().any(|v| v.as_ref() == installed);
    let mut first_error = None;
    let mut best: Option<Verdict> = None;
    if let Some(scheme) = scheme {
        for range in ranges {
            match evaluate_range(scheme, range, version) {
                Ok(Verdict::Affected { fixed }) => {
                    // Keep the lowest fix among affecting ranges.
                    let better = match (&best, &fixed) {
                        (Some(Verdict::Affected { fixed: Some(old) }), Some(new)) => scheme
                            .compare(new, old)
                            .map(|o| o == Ordering::Less)
                            .unwrap_or(false),
                        (Some(Verdict::Affected { fixed: Some(_) }), None) => false,
                        _ => true,
                    };
                    if better {
                        best = Some(Verdict::Affected { fixed });
                    }
                }
                Ok(Verdict::NotAffected) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    } else if ranges.iter().any(|r| r.kind == RangeKind::Semver) {
        for range in ranges.iter().filter(|r| r.kind == RangeKind::Semver) {
            if let Ok(Verdict::Affected { fixed }) = evaluate_range(Scheme::SemVer, range, version)
            {
                best = Some(Verdict::Affected { fixed });
            }
        }
    }
    match (best, listed, first_error) {
        (Some(verdict), _, _) => Ok(verdict),
        (None, true, _) => Ok(Verdict::Affected { fixed: None }),
        (None, false, Some(e)) => Err(e),
        (None, false, None) => Ok(Verdict::NotAffected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(events: Vec<Event>) -> Range {
        Range {
            kind: RangeKind::Ecosystem,
            events,
        }
    }

    fn intro(v: &str) -> Event {
        Event::Introduced(v.into())
    }
    fn fixed(v: &str) -> Event {
        Event::Fixed(v.into())
    }

    #[test]
    fn introduced_fixed_last_affected_limit() {
        let r = range(vec![intro("0"), fixed("1.2-1")]);
        assert_eq!(
            evaluate_range(Scheme::Dpkg, &r, "1.1-1").ok(),
            Some(Verdict::Affected {
                fixed: Some("1.2-1".into())
            })
        );
        assert_eq!(
            evaluate_range(Scheme::Dpkg, &r, "1.2-1").ok(),
            Some(Verdict::NotAffected)
        );
        assert_eq!(
            evaluate_range(Scheme::Dpkg, &r, "1.3-1").ok(),
            Some(Verdict::NotAffected)
        );
        // Two ranges in one: events given out of order are sorted first.
        let r = range(vec![fixed("2.0"), intro("1.5"), fixed("1.2"), intro("1.0")]);
        for (v, hit) in [
            ("0.9", false),
            ("1.0", true),
            ("1.3", false),
            ("1.5", true),
            ("2.0", false),
        ] {
            let got = evaluate_range(Scheme::Pep440, &r, v).ok();
            assert_eq!(matches!(got, Some(Verdict::Affected { .. })), hit, "{v}");
        }
        let r = range(vec![intro("1.0"), Event::LastAffected("1.4".into())]);
        assert!(matches!(
            evaluate_range(Scheme::Pep440, &r, "1.4").ok(),
            Some(Verdict::Affected { fixed: None })
        ));
        assert_eq!(
            evaluate_range(Scheme::Pep440, &r, "1.4.1").ok(),
            Some(Verdict::NotAffected)
        );
        let r = range(vec![intro("0"), Event::Limit("2.0".into())]);
        assert_eq!(
            evaluate_range(Scheme::Pep440, &r, "2.0").ok(),
            Some(Verdict::NotAffected)
        );
        // "fixed: 0" (Alpine secdb, Debian "not affected") never matches.
        let r = range(vec![intro("0"), fixed("0")]);
        assert_eq!(
            evaluate_range(Scheme::Apk, &r, "1.0-r0").ok(),
            Some(Verdict::NotAffected)
        );
    }

    #[test]
    fn versions_list_matches_exactly() {
        // As the database stores them: PEP 440 equality keys.
        let listed = vec![portcullis_vulndb::version::pep440_equality_key("1.0.0")];
        assert!(matches!(
            evaluate(Some(Scheme::Pep440), &[], &listed, "1.0").ok(),
            Some(Verdict::Affected { .. })
        ));
        assert_eq!(
            evaluate(Some(Scheme::Pep440), &[], &listed, "1.0.1").ok(),
            Some(Verdict::NotAffected)
        );
    }
}
