//! Go module versions, compared as `golang.org/x/mod/semver` does. OSV's `Go`
//! ecosystem writes versions without the `v` prefix; both spellings are accepted.

use std::cmp::Ordering;

use super::dpkg::compare_numeric;

/// A parsed Go semantic version; fields borrow from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersion<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    /// Including its leading `-`, or empty.
    prerelease: &'a str,
    /// Including its leading `+`, or empty (`+incompatible` lands here).
    build: &'a str,
    /// Whether the input was a shorthand (`v1`, `v1.2`).
    short: bool,
}

fn take_int(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (n > 1 && s.starts_with('0')) {
        return None;
    }
    Some(s.split_at(n))
}

fn ident_ok(ident: &str, numeric_no_leading_zero: bool) -> bool {
    !ident.is_empty()
        && ident
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !(numeric_no_leading_zero
            && ident.len() > 1
            && ident.bytes().all(|b| b.is_ascii_digit())
            && ident.starts_with('0'))
}

impl<'a> GoVersion<'a> {
    /// Parses `vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]`, the `v` optional.
    pub fn parse(text: &'a str) -> Option<Self> {
        let v = text.strip_prefix('v').unwrap_or(text);
        let (major, rest) = take_int(v)?;
        if rest.is_empty() {
            return Some(Self {
                major,
                minor: "0",
                patch: "0",
                prerelease: "",
                build: "",
                short: true,
            });
        }
        let rest = rest.strip_prefix('.')?;
        let (minor, rest) = take_int(rest)?;
        if rest.is_empty() {
            return Some(Self {
                major,
                minor,
                patch: "0",
                prerelease: "",
                build: "",
                short: true,
            });
        }
        let rest = rest.strip_prefix('.')?;
        let (patch, mut rest) = take_int(rest)?;
        let mut prerelease = "";
        if rest.starts_with('-') {
            let end = rest.find('+').unwrap_or(rest.len());
            prerelease = &rest[..end];
            if !prerelease[1..].split('.').all(|i| ident_ok(i, true)) {
                return None;
            }
            rest = &rest[end..];
        }
        let mut build = "";
        if rest.starts_with('+') {
            build = rest;
            if !build[1..].split('.').all(|i| ident_ok(i, false)) {
                return None;
            }
            rest = "";
        }
        if !rest.is_empty() {
            return None;
        }
        Some(Self {
            major,
            minor,
            patch,
            prerelease,
            build,
            short: false,
        })
    }

    /// The canonical form `vMAJOR.MINOR.PATCH[-PRERELEASE]`, keeping
    /// `+incompatible` as x/mod's `Canonical` does.
    pub fn canonical(&self) -> String {
        let build = if self.build == "+incompatible" {
            self.build
        } else {
            ""
        };
        format!(
            "v{}.{}.{}{}{}",
            self.major, self.minor, self.patch, self.prerelease, build
        )
    }
}

fn compare_prerelease(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    if x.is_empty() {
        return Ordering::Greater;
    }
    if y.is_empty() {
        return Ordering::Less;
    }
    let mut xs = x[1..].split('.');
    let mut ys = y[1..].split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(dx), Some(dy)) if dx != dy => {
                let nx = dx.bytes().all(|b| b.is_ascii_digit());
                let ny = dy.bytes().all(|b| b.is_ascii_digit());
                return match (nx, ny) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (true, true) => compare_numeric(dx, dy),
                    (false, false) => dx.cmp(dy),
                };
            }
            _ => {}
        }
    }
}

/// Compares two Go versions: an invalid version is below every valid one and
/// equal to other invalid ones (as `semver.Compare` defines it).
pub fn compare(left: &str, right: &str) -> Ordering {
    match (GoVersion::parse(left), GoVersion::parse(right)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => compare_numeric(a.major, b.major)
            .then_with(|| compare_numeric(a.minor, b.minor))
            .then_with(|| compare_numeric(a.patch, b.patch))
            .then_with(|| compare_prerelease(a.prerelease, b.prerelease)),
    }
}

/// Whether `version` is a valid Go semantic version (the `v` optional).
pub fn is_valid(version: &str) -> bool {
    GoVersion::parse(version).is_some()
}
