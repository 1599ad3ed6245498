//! RPM versions: `rpmvercmp` for one field (with `~` pre-release and `^`
//! post-release markers) and librpm's `labelCompare` for a full `[E:]V[-R]`.

use std::cmp::Ordering;

use super::{VersionError, dpkg::compare_numeric};

/// A parsed `[epoch:]version[-release]` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evr<'a> {
    /// The epoch; `"0"` when absent (librpm treats a missing epoch as 0).
    pub epoch: &'a str,
    pub version: &'a str,
    /// `None` when the label has no `-`.
    pub release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    /// Splits an EVR string as rpm's `parseEVR` does: the epoch is the leading
    /// digits before `:`, the release follows the last `-`.
    pub fn parse(text: &'a str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(VersionError::invalid(
                "rpm",
                text,
                "version string is empty",
            ));
        }
        // As python-rpm's labelCompare on split (E, V, R) tuples, which is what
        // the oracle vectors were made with: the epoch is everything before the
        // first `:` and is itself compared with rpmvercmp.
        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch, rest)) => (if epoch.is_empty() { "0" } else { epoch }, rest),
            None => ("0", trimmed),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((version, release)) => (version, Some(release)),
            None => (rest, None),
        };
        Ok(Self {
            epoch,
            version,
            release,
        })
    }
}

impl Ord for Evr<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(self.epoch, other.epoch)
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                // labelCompare: a missing release sorts below any release.
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
    }
}

impl PartialOrd for Evr<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two full `[E:]V-R` labels as librpm's `rpmVersionCompare` does.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    Ok(Evr::parse(left)?.cmp(&Evr::parse(right)?))
}

/// rpm's `rpmvercmp`: compares one version or release field.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        // `~` sorts before everything, even the end of the field.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // `^` sorts after the end of the field but before anything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(first_a), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = first_a.is_ascii_digit();
        let segment_end = |s: &[u8], start: usize| {
            let mut k = start;
            while k < s.len()
                && if numeric {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                }
            {
                k += 1;
            }
            k
        };
        let (ea, eb) = (segment_end(a, i), segment_end(b, j));
        let (sa, sb) = (&a[i..ea], &b[j..eb]);
        if sb.is_empty() {
            // Segments of different types: numeric is newer than alphabetic.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            // Safe: both segments are ASCII digits.
            compare_numeric(
                std::str::from_utf8(sa).unwrap_or(""),
                std::str::from_utf8(sb).unwrap_or(""),
            )
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}
