//! Which advisories apply to a package: the OSV ecosystem (with the
//! distribution release), the name advisories use, the version to compare
//! and how versions order.

use portcullis_inventory::{Distro, Ecosystem, Package};
use portcullis_vulndb::version::Scheme;

/// Where to look a package up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// OSV ecosystems to query, most specific first (`Ubuntu:22.04:LTS`, `Ubuntu:22.04`).
    pub ecosystems: Vec<String>,
    /// The name advisories use: the source package for Debian and Ubuntu,
    /// the origin for Alpine, the binary name for rpm and language packages.
    pub name: String,
    /// The version advisories are written against (the source version for
    /// Debian and Ubuntu, where binNMUs add `+bN` to the binary version).
    pub version: String,
    pub scheme: Option<Scheme>,
}

fn major(version_id: &str) -> &str {
    version_id.split('.').next().unwrap_or(version_id)
}

fn major_minor(version_id: &str) -> String {
    version_id.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The lookup target of `package` on `distro`, or `None` when no advisory
/// source covers it (an rpm distribution without OSV data, say).
pub fn target_for(package: &Package, distro: Option<&Distro>) -> Option<Target> {
    let version_id = distro.and_then(|d| d.version_id.as_deref());
    let source_name = || {
        package
            .source_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| package.name.clone())
    };
    let (ecosystems, name, version) = match package.ecosystem {
        Ecosystem::Debian => {
            // sid and testing have no VERSION_ID.
            let release = version_id.map(major).unwrap_or("unstable");
            let version = package
                .source_version
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| package.version.clone());
            (vec![format!("Debian:{release}")], source_name(), version)
        }
        Ecosystem::Ubuntu => {
            let release = version_id?;
            let version = package
                .source_version
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| package.version.clone());
            (
                vec![format!("Ubuntu:{release}:LTS"), format!("Ubuntu:{release}")],
                source_name(),
                version,
            )
        }
        Ecosystem::Alpine => {
            let branch = match version_id {
                Some(v) if v.contains("_alpha") || v.contains("_beta") => "edge".to_string(),
                Some(v) => format!("v{}", major_minor(v)),
                None => "edge".to_string(),
            };
            (
                vec![format!("Alpine:{branch}")],
                source_name(),
                package.version.clone(),
            )
        }
        Ecosystem::Wolfi => (
            vec!["Wolfi".to_string()],
            source_name(),
            package.version.clone(),
        ),
        Ecosystem::Rpm => {
            let distro = distro?;
            let release = major(version_id?);
            let family = match distro.id.as_str() {
                "almalinux" => "AlmaLinux",
                "rocky" => "Rocky Linux",
                "rhel" => "Red Hat",
                "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" => "openSUSE",
                "mariner" | "azurelinux" => "Azure Linux",
                _ => return None,
            };
            (
                vec![format!("{family}:{release}")],
                package.name.clone(),
                package.version.clone(),
            )
        }
        Ecosystem::PyPI => (
            vec!["PyPI".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::Npm => (
            vec!["npm".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::CratesIo => (
            vec!["crates.io".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::Go => {
            // OSV's Go versions have no `v`; the standard library is `stdlib`.
            let version = package
                .version
                .strip_prefix('v')
                .unwrap_or(&package.version)
                .to_string();
            (vec!["Go".into()], package.name.clone(), version)
        }
        Ecosystem::Maven => (
            vec!["Maven".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::RubyGems => (
            vec!["RubyGems".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::Packagist => (
            vec!["Packagist".into()],
            package.name.clone(),
            package.version.clone(),
        ),
        Ecosystem::NuGet => (
            vec!["NuGet".into()],
            package.name.clone(),
            package.version.clone(),
        ),
    };
    let scheme = ecosystems
        .first()
        .and_then(|e| Scheme::for_osv_ecosystem(e));
    Some(Target {
        ecosystems,
        name,
        version,
        scheme,
    })
}
