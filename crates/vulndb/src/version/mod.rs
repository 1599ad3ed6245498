//! Exact version comparison, one module per versioning scheme, each written
//! against (and tested with) its reference implementation's own test vectors.

pub mod apk;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod rpm;
pub mod rubygems;
pub mod semver;

use std::cmp::Ordering;

/// A version string a scheme cannot compare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    pub scheme: &'static str,
    pub version: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn invalid(scheme: &'static str, version: &str, reason: impl Into<String>) -> Self {
        // Keep error messages bounded even for hostile, huge version strings.
        let version: String = version.chars().take(128).collect();
        Self {
            scheme,
            version,
            reason: reason.into(),
        }
    }
}

/// How versions of an ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scheme {
    /// Debian and Ubuntu (`dpkg --compare-versions`).
    Dpkg,
    /// Alpine and Wolfi (apk-tools).
    Apk,
    /// RPM `[E:]V-R` (librpm `labelCompare`).
    Rpm,
    /// Python (PEP 440).
    Pep440,
    /// npm (node-semver, loose parsing).
    Npm,
    /// SemVer 2.0 precedence (crates.io and OSV `SEMVER` ranges).
    SemVer,
    /// Go modules (`golang.org/x/mod/semver`, `v` optional).
    Go,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
}

impl Scheme {
    /// The scheme for an OSV ecosystem name (the part before any `:`), or
    /// `None` for ecosystems without exact comparison here (their advisories
    /// still match through explicit `versions` lists).
    pub fn for_osv_ecosystem(ecosystem: &str) -> Option<Self> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "AlmaLinux" | "Rocky Linux" | "Red Hat" | "openSUSE" | "SUSE" | "Mageia"
            | "Azure Linux" | "Amazon Linux" | "Fedora" | "Oracle Linux" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" => Scheme::Npm,
            "crates.io" => Scheme::SemVer,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::RubyGems,
            _ => return None,
        })
    }

    /// Compares two versions of this scheme.
    pub fn compare(self, left: &str, right: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Dpkg => dpkg::compare(left, right),
            Scheme::Apk => apk::compare(left, right),
            Scheme::Rpm => rpm::compare(left, right),
            Scheme::Pep440 => pep440_compare(left, right),
            Scheme::Npm => semver::compare_npm(left, right),
            Scheme::SemVer => semver::compare_precedence(left, right),
            Scheme::Go => {
                if !go::is_valid(left) || !go::is_valid(right) {
                    let bad = if go::is_valid(left) { right } else { left };
                    return Err(VersionError::invalid("go", bad, "not a semantic version"));
                }
                Ok(go::compare(left, right))
            }
            Scheme::Maven => maven::compare(left, right),
            Scheme::RubyGems => rubygems::compare(left, right),
        }
    }
}

/// Compares two PEP 440 versions (normalizing spellings such as `1.0RC1`).
pub fn pep440_compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    Ok(pep440_parse(left)?.cmp(&pep440_parse(right)?))
}

/// Parses a PEP 440 version, ignoring surrounding (Unicode) whitespace as
/// `packaging.version.Version` does.
pub fn pep440_parse(version: &str) -> Result<pep440_rs::Version, VersionError> {
    version
        .trim()
        .parse::<pep440_rs::Version>()
        .map_err(|e| VersionError::invalid("pep440", version, e.to_string()))
}

/// A string equal for exactly the PEP 440 versions that compare equal:
/// the normal form with trailing zero release components dropped
/// (`1.0.0RC1` and `1.0rc1` both give `1rc1`). Unparsable versions are kept
/// as written.
pub fn pep440_equality_key(version: &str) -> String {
    let Ok(parsed) = pep440_parse(version) else {
        return version.to_string();
    };
    let normal = parsed.to_string();
    let (epoch, rest) = match normal.split_once('!') {
        Some((e, r)) => (Some(e), r),
        None => (None, normal.as_str()),
    };
    let release_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (release, tail) = rest.split_at(release_len);
    let release = release.trim_end_matches('.');
    let mut parts: Vec<&str> = release.split('.').collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.bytes().all(|b| b == b'0')) {
        parts.pop();
    }
    let mut key = String::new();
    if let Some(e) = epoch.filter(|e| *e != "0") {
        key.push_str(e);
        key.push('!');
    }
    key.push_str(&parts.join("."));
    key.push_str(tail);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_equality_keys() {
        assert_eq!(pep440_equality_key("1.0.0"), pep440_equality_key("1.0"));
        assert_eq!(pep440_equality_key("1.0.0RC1"), "1rc1");
        assert_ne!(pep440_equality_key("1.0.1"), pep440_equality_key("1.0"));
        assert_eq!(
            pep440_equality_key("0!2.10.0.post1"),
            pep440_equality_key("2.10.post1")
        );
        assert_eq!(pep440_equality_key("not a version"), "not a version");
    }
}
