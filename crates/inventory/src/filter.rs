//! Which files the analyzers read: the [`PathFilter`] the layers stage calls
//! for every tar entry of every layer.

use crate::{dpkg, lang, os_release, rpm};
use portcullis_layers::PathFilter;

/// Identity of the accepted set; bump the version whenever [`Analyzers::wants`]
/// changes, because the per-layer cache is keyed by it.
const CACHE_KEY: &str = "portcullis-inventory/paths-v1";

/// The [`PathFilter`] of every analyzer in this crate.
///
/// `wants` runs once per tar entry, so it only compares the path with fixed
/// strings and cheap prefixes and suffixes, and never allocates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analyzers;

impl PathFilter for Analyzers {
    fn wants(&self, path: &str) -> bool {
        wants(path)
    }

    fn cache_key(&self) -> &str {
        CACHE_KEY
    }
}

/// Whether any analyzer reads the file at `path` (absolute, normalised).
pub fn wants(path: &str) -> bool {
    let release_file = (path.starts_with("/etc/") || path == "/usr/lib/os-release")
        && (os_release::OS_RELEASE_PATHS.contains(&path)
            || os_release::FALLBACK_PATHS.contains(&path));
    let os_database = (path.starts_with("/var/lib/")
        || path.starts_with("/lib/apk/")
        || path.starts_with("/usr/"))
        && (path == dpkg::STATUS_PATH
            || path == crate::apk::INSTALLED_PATH
            || dpkg::is_status_d_entry(path)
            || dpkg::is_copyright_file(path)
            || rpm::is_db_file(path));
    release_file || os_database || lang::wants(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_databases_and_manifests() {
        for path in [
            "/etc/os-release",
            "/usr/lib/os-release",
            "/etc/debian_version",
            "/etc/alpine-release",
            "/etc/redhat-release",
            "/var/lib/dpkg/status",
            "/var/lib/dpkg/status.d/libc6",
            "/var/lib/dpkg/status.d/libpython3.11-minimal",
            "/usr/share/doc/libc6/copyright",
            "/lib/apk/db/installed",
            "/var/lib/rpm/rpmdb.sqlite",
            "/var/lib/rpm/rpmdb.sqlite-wal",
            "/var/lib/rpm/Packages",
            "/var/lib/rpm/Packages.db",
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "/usr/share/rpm/Packages.db",
            "/usr/local/lib/python3.11/dist-packages/requests-2.25.1.dist-info/METADATA",
            "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
            "/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info",
            "/app/node_modules/lodash/package.json",
            "/app/node_modules/@babel/core/package.json",
            "/usr/local/bundle/specifications/rake-13.0.6.gemspec",
            "/srv/app/vendor/composer/installed.json",
        ] {
            assert!(wants(path), "{path} should be wanted");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for path in [
            "/etc/passwd",
            "/etc/os-release.d/x",
            "/var/lib/dpkg/status-old",
            "/var/lib/dpkg/status.d/libc6.md5sums",
            "/var/lib/dpkg/status.d/sub/dir",
            "/var/lib/dpkg/info/libc6.list",
            "/usr/share/doc/libc6/changelog.Debian.gz",
            "/usr/share/doc/libc6/examples/copyright",
            "/var/lib/rpm/Basenames",
            "/usr/bin/python3",
            "/usr/local/lib/python3.11/dist-packages/requests-2.25.1.dist-info/RECORD",
            "/usr/local/lib/python3.11/dist-packages/requests/__init__.py",
            "/app/node_modules/lodash/lib/package.json",
            "/app/package.json",
            "/usr/local/bundle/gems/rake-13.0.6/rake.gemspec",
            "/srv/app/composer.json",
        ] {
            assert!(!wants(path), "{path} should not be wanted");
        }
    }
}
