//! Debian package versions (`[epoch:]upstream[-revision]`), compared exactly as
//! dpkg's `verrevcmp` does.

use std::cmp::Ordering;

use super::VersionError;

/// A parsed dpkg version borrowing from its string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpkgVersion<'a> {
    /// The epoch as a decimal string without leading zeros (`"0"` when absent).
    pub epoch: &'a str,
    pub upstream: &'a str,
    /// Empty when the version has no `-`.
    pub revision: &'a str,
}

impl<'a> DpkgVersion<'a> {
    /// Parses a version the way dpkg's `parseversion` does for comparison:
    /// surrounding whitespace is ignored, the epoch must be digits, the upstream
    /// part must not be empty, and a `-` must be followed by a revision.
    pub fn parse(text: &'a str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(VersionError::invalid(
                "dpkg",
                text,
                "version string is empty",
            ));
        }
        if trimmed.contains(char::is_whitespace) {
            return Err(VersionError::invalid(
                "dpkg",
                text,
                "version string has embedded spaces",
            ));
        }
        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() {
                    return Err(VersionError::invalid(
                        "dpkg",
                        text,
                        "epoch in version is empty",
                    ));
                }
                if !epoch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::invalid(
                        "dpkg",
                        text,
                        "epoch in version is not number",
                    ));
                }
                // dpkg stores the epoch in an int: anything above INT_MAX is rejected.
                let digits = epoch.trim_start_matches('0');
                if digits.len() > 10 || digits.parse::<u64>().is_ok_and(|n| n > i32::MAX as u64) {
                    return Err(VersionError::invalid(
                        "dpkg",
                        text,
                        "epoch in version is too big",
                    ));
                }
                if rest.is_empty() {
                    return Err(VersionError::invalid(
                        "dpkg",
                        text,
                        "nothing after colon in version number",
                    ));
                }
                (if digits.is_empty() { "0" } else { digits }, rest)
            }
            None => ("0", trimmed),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => {
                if revision.is_empty() {
                    return Err(VersionError::invalid(
                        "dpkg",
                        text,
                        "revision number is empty",
                    ));
                }
                (upstream, revision)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(VersionError::invalid(
                "dpkg",
                text,
                "version number is empty",
            ));
        }
        Ok(Self {
            epoch,
            upstream,
            revision,
        })
    }
}

impl Ord for DpkgVersion<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_numeric(self.epoch, other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DpkgVersion<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two dpkg version strings.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    Ok(DpkgVersion::parse(left)?.cmp(&DpkgVersion::parse(right)?))
}

/// Compares two runs of ASCII digits by value, without overflow.
pub(crate) fn compare_numeric(left: &str, right: &str) -> Ordering {
    let left = left.trim_start_matches('0');
    let right = right.trim_start_matches('0');
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

/// dpkg's character weight: `~` sorts before everything, even the end of the
/// string; letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let digit_at = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit_at(a, i)) || (j < b.len() && !digit_at(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit_at(a, i) && digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit_at(a, i) {
            return Ordering::Greater;
        }
        if digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_sorts_before_end() {
        assert_eq!(compare("1.0~rc1-1", "1.0-1").ok(), Some(Ordering::Less));
        assert_eq!(compare("1:0.1", "2.0").ok(), Some(Ordering::Greater));
        assert!(compare("a:1.0", "1").is_err());
    }
}
