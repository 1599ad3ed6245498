//! The package model shared by every later stage.

use serde::{Deserialize, Serialize};

/// The ecosystem a package belongs to; it decides how its version compares and
/// which advisories apply to it. Names follow the OSV schema's `ecosystem` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ecosystem {
    /// dpkg packages of Debian.
    Debian,
    /// dpkg packages of Ubuntu.
    Ubuntu,
    /// apk packages of Alpine.
    Alpine,
    /// apk packages of Wolfi / Chainguard.
    Wolfi,
    /// rpm packages (RHEL family, Fedora, Amazon Linux, SUSE, Mariner…); the
    /// distribution is in [`Inventory::distro`].
    Rpm,
    #[serde(rename = "PyPI")]
    PyPI,
    #[serde(rename = "npm")]
    Npm,
    #[serde(rename = "crates.io")]
    CratesIo,
    Go,
    Maven,
    RubyGems,
    Packagist,
    NuGet,
}

impl Ecosystem {
    /// The purl type of this ecosystem (`deb`, `apk`, `rpm`, `pypi`, …).
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Debian | Ecosystem::Ubuntu => "deb",
            Ecosystem::Alpine | Ecosystem::Wolfi => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "cargo",
            Ecosystem::Go => "golang",
            Ecosystem::Maven => "maven",
            Ecosystem::RubyGems => "gem",
            Ecosystem::Packagist => "composer",
            Ecosystem::NuGet => "nuget",
        }
    }

    /// Whether packages of this ecosystem come from the operating system's
    /// package manager (as opposed to a language ecosystem).
    pub fn is_os(self) -> bool {
        matches!(
            self,
            Ecosystem::Debian
                | Ecosystem::Ubuntu
                | Ecosystem::Alpine
                | Ecosystem::Wolfi
                | Ecosystem::Rpm
        )
    }
}

/// Where a package was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// Digest (`sha256:…`) of a layer, when the source has layers (not for
    /// `rootfs:`). For an OS package (dpkg, apk, rpm), the layer that
    /// introduced it: the oldest layer of the latest unbroken run of
    /// database versions that hold the package with the same name, version
    /// and architecture — the layer whose build step installed or last
    /// upgraded it, even when a later layer rewrote the database file. (If an
    /// earlier version of the database cannot be read, the layer that last
    /// wrote the file, with a warning.) For a language package, the layer
    /// that last wrote its manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Absolute path of the file inside the image, e.g. `/var/lib/dpkg/status`.
    pub path: String,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The version exactly as the ecosystem spells it: dpkg `epoch:upstream-revision`
    /// (epoch only when present), rpm `epoch:version-release` (epoch only when
    /// present and non-zero is *not* assumed: as stored), apk `version-rN`, …
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package (dpkg `Source:`, apk origin, rpm source rpm name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Package URL (<https://github.com/package-url/purl-spec>).
    pub purl: String,
    pub location: Location,
}

/// The operating system an image is built on, from `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID`, e.g. `debian`, `alpine`, `almalinux`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.20.3`, `9.4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, e.g. `bookworm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE`, split on spaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
}

/// Everything the inventory stage found in one image or filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Sorted by ecosystem, name, version, location.
    pub packages: Vec<Package>,
}
