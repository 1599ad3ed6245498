//! SemVer: node-semver's ordering for npm (loose parsing, a leading `v` or `=`
//! accepted) and plain SemVer 2.0 precedence for crates.io and OSV `SEMVER`.

use std::cmp::Ordering;

use super::VersionError;

/// Compares two npm versions as node-semver's `compare(a, b, loose)` does.
pub fn compare_npm(left: &str, right: &str) -> Result<Ordering, VersionError> {
    // node-semver accepts any run of `v`, `=` and spaces before the version.
    let parse = |v: &str| {
        let bare = v
            .trim()
            .trim_start_matches(|c: char| c == 'v' || c == '=' || c.is_whitespace());
        nodejs_semver::Version::parse(bare)
            .map_err(|e| VersionError::invalid("npm", v, e.to_string()))
    };
    Ok(parse(left)?.cmp(&parse(right)?))
}

/// Parses a SemVer 2.0 version; OSV `SEMVER` values may carry a leading `v`.
pub fn parse(version: &str) -> Result<semver::Version, VersionError> {
    let v = version.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    semver::Version::parse(v).map_err(|e| VersionError::invalid("semver", version, e.to_string()))
}

/// SemVer 2.0 precedence: build metadata is ignored.
pub fn compare_precedence(left: &str, right: &str) -> Result<Ordering, VersionError> {
    Ok(parse(left)?.cmp_precedence(&parse(right)?))
}
