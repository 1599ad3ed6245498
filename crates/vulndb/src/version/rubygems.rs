//! RubyGems versions, compared as `Gem::Version#<=>` does: segments of digits
//! and letters, trailing zeros dropped from the release and pre-release parts,
//! a letter segment sorting before a number.

use std::cmp::Ordering;

use super::{VersionError, dpkg::compare_numeric};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Number(&'a str),
    Text(&'a str),
}

impl Segment<'_> {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Number(n) if n.bytes().all(|b| b == b'0'))
    }
}

/// Whether `version` matches `Gem::Version::ANCHORED_VERSION_PATTERN`
/// (surrounding whitespace allowed, empty means `0`).
pub fn is_valid(version: &str) -> bool {
    let v = version.trim_matches(|c: char| {
        c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0c' || c == '\x0b'
    });
    if v.is_empty() {
        return true;
    }
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

/// The canonical segments of a version (`Gem::Version#canonical_segments`).
fn canonical_segments(version: &str) -> Vec<Segment<'_>> {
    let mut segments = canonical_segments_raw(version);
    let string_start = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let mut strings = segments.split_off(string_start);
    let mut numbers = segments;
    while numbers.last().is_some_and(Segment::is_zero) {
        numbers.pop();
    }
    while strings.last().is_some_and(Segment::is_zero) {
        strings.pop();
    }
    numbers.extend(strings);
    numbers
}

/// Compares two RubyGems versions; both must be valid `Gem::Version` strings.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    for v in [left, right] {
        if !is_valid(v) {
            return Err(VersionError::invalid(
                "rubygems",
                v,
                "malformed version number string",
            ));
        }
    }
    Ok(compare_valid(left, right))
}

fn compare_valid(left: &str, right: &str) -> Ordering {
    let (a, b) = (canonical_segments(left), canonical_segments(right));
    let zero = Segment::Number("0");
    for i in 0..a.len().max(b.len()) {
        let l = a.get(i).unwrap_or(&zero);
        let r = b.get(i).unwrap_or(&zero);
        let order = match (l, r) {
            (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
            (Segment::Number(x), Segment::Number(y)) => compare_numeric(x, y),
            (Segment::Text(x), Segment::Text(y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Whether `version` satisfies a requirement such as `~> 1.2, >= 1.2.3`
/// (`Gem::Requirement#satisfied_by?`). `None` when the requirement is malformed.
pub fn satisfies(version: &str, requirement: &str) -> Option<bool> {
    if !is_valid(version) {
        return None;
    }
    let mut all = true;
    for clause in requirement.split(',') {
        let clause = clause.trim();
        let (op, target) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest.trim())))
            .unwrap_or(("=", clause));
        if !is_valid(target) {
            return None;
        }
        let order = compare_valid(version, target);
        let ok = match op {
            "=" => order == Ordering::Equal,
            "!=" => order != Ordering::Equal,
            ">" => order == Ordering::Greater,
            "<" => order == Ordering::Less,
            ">=" => order != Ordering::Less,
            "<=" => order != Ordering::Greater,
            _ => {
                order != Ordering::Less
                    && compare_valid(&release(version), &bump(target)) == Ordering::Less
            }
        };
        all &= ok;
    }
    Some(all)
}

/// `Gem::Version#release`: the version without its pre-release part.
fn release(version: &str) -> String {
    if !version
        .bytes()
        .any(|b| b.is_ascii_alphabetic() || b == b'-')
    {
        return version.trim().to_string();
    }
    canonical_segments_raw(version)
        .into_iter()
        .take_while(|s| matches!(s, Segment::Number(_)))
        .map(|s| seg_str(&s).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// `Gem::Version#bump`: drop letter segments and the last number, increment the rest.
fn bump(version: &str) -> String {
    let mut segments: Vec<Segment<'_>> = canonical_segments_raw(version);
    while segments.iter().any(|s| matches!(s, Segment::Text(_))) {
        segments.pop();
    }
    if segments.len() > 1 {
        segments.pop();
    }
    let mut numbers: Vec<String> = segments.iter().map(|s| seg_str(s).to_string()).collect();
    if let Some(last) = numbers.last_mut() {
        *last = increment_decimal(last);
    }
    numbers.join(".")
}

fn seg_str<'a>(s: &Segment<'a>) -> &'a str {
    match s {
        Segment::Number(n) | Segment::Text(n) => n,
    }
}

/// `Gem::Version#segments`: every segment, no zeros dropped. `Gem::Version`
/// rewrites `-` as `.pre.`, so a `pre` letter segment stands for each `-`.
fn canonical_segments_raw(version: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for (index, chunk) in version.trim().split('-').enumerate() {
        if index > 0 {
            segments.push(Segment::Text("pre"));
        }
        let bytes = chunk.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            let digit = bytes[i].is_ascii_digit();
            if digit || bytes[i].is_ascii_alphabetic() {
                while i < bytes.len()
                    && (if digit {
                        bytes[i].is_ascii_digit()
                    } else {
                        bytes[i].is_ascii_alphabetic()
                    })
                {
                    i += 1;
                }
                segments.push(if digit {
                    Segment::Number(&chunk[start..i])
                } else {
                    Segment::Text(&chunk[start..i])
                });
            } else {
                i += 1;
            }
        }
    }
    segments
}

fn increment_decimal(digits: &str) -> String {
    let mut bytes: Vec<u8> = digits.trim_start_matches('0').bytes().collect();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            bytes.insert(0, b'1');
            break;
        }
        i -= 1;
        if bytes[i] == b'9' {
            bytes[i] = b'0';
        } else {
            bytes[i] += 1;
            break;
        }
    }
    String::from_utf8(bytes).unwrap_or_default()
}
