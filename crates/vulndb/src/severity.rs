//! Severity from CVSS vectors (base score computed, never guessed) and from
//! distribution ratings.

use std::str::FromStr;

use crate::model::{Level, Severity};

/// The severity of a CVSS v3.x or v4.0 vector (v2 is accepted too, scored by
/// its own formula). `None` when the vector does not parse.
pub fn from_cvss(vector: &str) -> Option<Severity> {
    let cvss = cvss::Cvss::from_str(vector.trim()).ok()?;
    let score = cvss.score();
    if !score.is_finite() {
        return None;
    }
    Some(Severity {
        level: level_for_score(score),
        score: Some(score),
        source: vector.trim().to_string(),
    })
}

/// The qualitative rating of a CVSS base score (the scale of v3 and v4).
pub fn level_for_score(score: f64) -> Level {
    if score >= 9.0 {
        Level::Critical
    } else if score >= 7.0 {
        Level::High
    } else if score >= 4.0 {
        Level::Medium
    } else if score > 0.0 {
        Level::Low
    } else {
        Level::Negligible
    }
}

/// Picks the best vector among OSV `severity` entries: v4 over v3.1 over
/// v3.0 over v2, since later versions describe the vulnerability better.
pub fn best_of<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Severity> {
    let rank = |kind: &str| match kind {
        "CVSS_V4" => 3,
        "CVSS_V3" => 2,
        "CVSS_V2" => 1,
        _ => 0,
    };
    let mut scored: Vec<(u8, Severity)> = entries
        .into_iter()
        .filter(|(kind, _)| rank(kind) > 0)
        .filter_map(|(kind, vector)| from_cvss(vector).map(|s| (rank(kind), s)))
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored.into_iter().next().map(|(_, s)| s)
}

/// Debian's tracker urgency (`low`, `medium**`, `unimportant`, …) as a level;
/// `None` where Debian gives no rating (`not yet assigned`, `end-of-life`).
pub fn from_debian_urgency(urgency: &str) -> Option<Severity> {
    let word = urgency.trim().trim_end_matches('*').trim();
    let level = match word {
        "unimportant" => Level::Negligible,
        "low" => Level::Low,
        "medium" => Level::Medium,
        "high" => Level::High,
        _ => return None,
    };
    Some(Severity {
        level,
        score: None,
        source: format!("debian urgency: {}", urgency.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_v3_and_v4_base_scores() {
        let v3 = from_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").expect("v3 parses");
        assert_eq!(v3.score, Some(9.8));
        assert_eq!(v3.level, Level::Critical);
        let v4 = from_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
            .expect("v4 parses");
        assert_eq!(v4.score, Some(9.3));
        assert!(from_cvss("CVSS:3.1/AV:X").is_none());
    }
}
