//! From a [`FileSet`] to an [`Inventory`]: runs every analyzer on the files
//! the [`Analyzers`](crate::Analyzers) filter kept.

use std::collections::HashSet;

use crate::attribution::{Key, attribute_introducing_layers};
use crate::error::{InventoryError, ParseError, Warning};
use crate::{
    Distro, Ecosystem, Inventory, Location, Package, apk, dpkg, lang, os_release, purl, rpm,
};
use portcullis_layers::{File, FileSet};

/// What the inventory stage found, with the files it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub inventory: Inventory,
    /// Language manifests that could not be read (their packages are
    /// missing), and earlier versions of OS package databases that could not
    /// be read (their packages keep the layer that last wrote the database).
    pub warnings: Vec<Warning>,
}

/// Runs every analyzer on `files` and returns the packages sorted by
/// ecosystem, name, version, architecture and path.
///
/// OS packages are attributed to the layer that introduced them (see
/// [`Location::layer`]), read from the database file's earlier versions
/// ([`File::history`]); language packages to the layer that wrote their
/// manifest.
///
/// # Errors
/// [`InventoryError::CorruptDatabase`] when an OS package database (dpkg,
/// apk, rpm) cannot be read: a partial OS inventory would hide packages.
pub fn analyze(files: &FileSet) -> Result<Analysis, InventoryError> {
    let distro = os_release::detect(files);
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    analyze_dpkg(files, distro.as_ref(), &mut packages, &mut warnings)?;
    analyze_apk(files, distro.as_ref(), &mut packages, &mut warnings)?;
    analyze_rpm(files, distro.as_ref(), &mut packages, &mut warnings)?;
    for file in files.iter() {
        let Some(kind) = lang::classify(&file.path) else {
            continue;
        };
        let location = location(file);
        match lang::analyze(kind, &file.data, &location) {
            Ok(found) => packages.extend(found),
            Err(message) => warnings.push(Warning { location, message }),
        }
    }
    packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.arch, &a.location.path).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.arch,
            &b.location.path,
        ))
    });
    Ok(Analysis {
        inventory: Inventory { distro, packages },
        warnings,
    })
}

fn location(file: &File) -> Location {
    Location {
        layer: file.layer.clone(),
        path: file.path.clone(),
    }
}

fn corrupt(database: &'static str, file: &File, source: ParseError) -> InventoryError {
    InventoryError::CorruptDatabase {
        database,
        location: location(file),
        source,
    }
}

/// `distro=<id>-<version_id>` as syft and trivy write it (`debian-12`).
fn distro_qualifier(distro: Option<&Distro>) -> String {
    match distro {
        Some(Distro {
            id,
            version_id: Some(version),
            ..
        }) => format!("{id}-{version}"),
        Some(Distro { id, .. }) => id.clone(),
        None => String::new(),
    }
}

/// The installed packages of one version of a dpkg database, as keys.
fn dpkg_keys(data: &[u8], in_status_d: bool) -> Result<HashSet<Key>, ParseError> {
    Ok(dpkg::parse_status(data)?
        .into_iter()
        .filter(|r| r.state.has_files(in_status_d))
        .map(|r| (r.package, r.version, r.architecture))
        .collect())
}

fn analyze_dpkg(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
    warnings: &mut Vec<Warning>,
) -> Result<(), InventoryError> {
    let is_ubuntu = distro.is_some_and(|d| d.id == "ubuntu");
    let (ecosystem, namespace) = if is_ubuntu {
        (Ecosystem::Ubuntu, "ubuntu")
    } else {
        (Ecosystem::Debian, "debian")
    };
    let qualifier = distro_qualifier(distro);
    let databases = files
        .get(dpkg::STATUS_PATH)
        .map(|f| (f, false))
        .into_iter()
        .chain(
            files
                .under(dpkg::STATUS_D_DIR)
                .filter(|f| dpkg::is_status_d_entry(&f.path))
                .map(|f| (f, true)),
        );
    for (file, in_status_d) in databases {
        let records = dpkg::parse_status(&file.data).map_err(|e| corrupt("dpkg", file, e))?;
        let first = out.len();
        for record in records
            .into_iter()
            .filter(|r| r.state.has_files(in_status_d))
        {
            let mut licenses: Vec<String> = record.license.iter().cloned().collect();
            let copyright = format!(
                "{}{}{}",
                dpkg::DOC_PREFIX,
                record.package,
                dpkg::COPYRIGHT_SUFFIX
            );
            if let Some(copyright) = files.get(&copyright) {
                licenses.extend(dpkg::copyright_licenses(&copyright.data));
            }
            let arch = record.architecture.as_deref().unwrap_or_default();
            let purl = purl::build(
                "deb",
                Some(namespace),
                &record.package,
                Some(&record.version),
                &mut [("arch", arch), ("distro", &qualifier)],
            );
            out.push(Package {
                ecosystem,
                name: record.package,
                version: record.version,
                arch: record.architecture,
                source_name: Some(record.source_name),
                source_version: Some(record.source_version),
                licenses,
                purl,
                location: location(file),
            });
        }
        attribute_introducing_layers(
            file,
            "dpkg",
            out.get_mut(first..).unwrap_or_default(),
            |_, data| dpkg_keys(data, in_status_d),
            warnings,
        );
    }
    Ok(())
}

fn analyze_apk(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
    warnings: &mut Vec<Warning>,
) -> Result<(), InventoryError> {
    let Some(file) = files.get(apk::INSTALLED_PATH) else {
        return Ok(());
    };
    let (ecosystem, namespace) = match distro.map(|d| d.id.as_str()) {
        Some("wolfi") => (Ecosystem::Wolfi, "wolfi"),
        Some("chainguard") => (Ecosystem::Wolfi, "chainguard"),
        _ => (Ecosystem::Alpine, "alpine"),
    };
    let qualifier = distro_qualifier(distro);
    let records = apk::parse_installed(&file.data).map_err(|e| corrupt("apk", file, e))?;
    let first = out.len();
    for record in records {
        let arch = record.architecture.as_deref().unwrap_or_default();
        let purl = purl::build(
            "apk",
            Some(namespace),
            &record.name,
            Some(&record.version),
            &mut [("arch", arch), ("distro", &qualifier)],
        );
        out.push(Package {
            ecosystem,
            source_name: Some(record.origin.unwrap_or_else(|| record.name.clone())),
            // An apk and its origin are built together: same version.
            source_version: Some(record.version.clone()),
            licenses: record
                .license
                .as_deref()
                .map(apk::split_license)
                .unwrap_or_default(),
            name: record.name,
            version: record.version,
            arch: record.architecture,
            purl,
            location: location(file),
        });
    }
    attribute_introducing_layers(
        file,
        "apk",
        out.get_mut(first..).unwrap_or_default(),
        |_, data| {
            Ok(apk::parse_installed(data)?
                .into_iter()
                .map(|r| (r.name, r.version, r.architecture))
                .collect())
        },
        warnings,
    );
    Ok(())
}

/// Reads the one rpm database of the image: the first directory of
/// [`rpm::DB_DIRS`] that has one, and there sqlite before ndb before Berkeley
/// DB (a converted database can leave the old file behind).
fn analyze_rpm(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
    warnings: &mut Vec<Warning>,
) -> Result<(), InventoryError> {
    let formats = [
        rpm::Format::Sqlite,
        rpm::Format::Ndb,
        rpm::Format::BerkeleyDb,
    ];
    let file_name = |format| match format {
        rpm::Format::Sqlite => "rpmdb.sqlite",
        rpm::Format::Ndb => "Packages.db",
        rpm::Format::BerkeleyDb => "Packages",
    };
    let found = rpm::DB_DIRS.iter().find_map(|dir| {
        formats.iter().find_map(|&format| {
            files
                .get(&format!("{dir}/{}", file_name(format)))
                .map(|f| (dir, format, f))
        })
    });
    let Some((dir, format, file)) = found else {
        return Ok(());
    };
    let wal_file = files.get(&format!("{dir}/rpmdb.sqlite-wal"));
    let wal = wal_file.map(|f| &f.data[..]);
    let blobs = format
        .blobs(&file.data, wal)
        .map_err(|e| corrupt(format.label(), file, e))?;
    let namespace = match distro.map(|d| d.id.as_str()) {
        Some("rhel") => "redhat",
        Some(id) => id,
        None => "",
    };
    let qualifier = distro_qualifier(distro);
    let first = out.len();
    for blob in blobs {
        let package =
            rpm::RpmPackage::from_blob(&blob).map_err(|e| corrupt(format.label(), file, e))?;
        // Imported signing keys are stored as pseudo-packages; they install no code.
        if package.name == "gpg-pubkey" {
            continue;
        }
        let version_release = match &package.release {
            Some(release) => format!("{}-{release}", package.version),
            None => package.version.clone(),
        };
        let epoch = package
            .epoch
            .filter(|&e| e != 0)
            .map(|e| e.to_string())
            .unwrap_or_default();
        let arch = package.arch.as_deref().unwrap_or_default();
        let purl = purl::build(
            "rpm",
            Some(namespace),
            &package.name,
            Some(&version_release),
            &mut [("arch", arch), ("distro", &qualifier), ("epoch", &epoch)],
        );
        let (source_name, source_version) = match package.source() {
            Some((name, version_release)) => {
                let version = match package.epoch {
                    Some(epoch) => format!("{epoch}:{version_release}"),
                    None => version_release.to_owned(),
                };
                (Some(name.to_owned()), Some(version))
            }
            None => (None, None),
        };
        out.push(Package {
            ecosystem: Ecosystem::Rpm,
            version: package.evr(),
            licenses: package.license.iter().cloned().collect(),
            name: package.name,
            arch: package.arch,
            source_name,
            source_version,
            purl,
            location: location(file),
        });
    }
    attribute_introducing_layers(
        file,
        format.label(),
        out.get_mut(first..).unwrap_or_default(),
        |layer, data| {
            // rpm checkpoints its log when it closes the database, so a log
            // that belongs to an earlier database version was written by the
            // same layer; a log from another layer is not paired with it.
            let wal = wal_file.and_then(|wal| {
                wal.history()
                    .find(|(wal_layer, _)| *wal_layer == layer)
                    .map(|(_, data)| &data[..])
            });
            let mut keys = HashSet::new();
            for blob in format.blobs(data, wal)? {
                let package = rpm::RpmPackage::from_blob(&blob)?;
                let evr = package.evr();
                keys.insert((package.name, evr, package.arch));
            }
            Ok(keys)
        },
        warnings,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::test_fixtures::read as fixture;

    fn set(files: &[(&str, Vec<u8>)]) -> FileSet {
        let mut set = FileSet::new();
        for (path, data) in files {
            set.insert(File::new(
                (*path).into(),
                Some("sha256:abc".into()),
                0o644,
                Arc::from(data.clone()),
            ));
        }
        set
    }

    #[test]
    fn corrupt_os_database_fails_naming_path_and_layer() {
        let files = set(&[(
            dpkg::STATUS_PATH,
            fixture("syft/debian/var/lib/dpkg/status.d/corrupt"),
        )]);
        let err = analyze(&files).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt dpkg database /var/lib/dpkg/status (layer sha256:abc): line 5: expected `Field: value`"
        );
        let files = set(&[("/var/lib/rpm/Packages", b"not a database".to_vec())]);
        let err = analyze(&files).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "corrupt rpm Berkeley DB database /var/lib/rpm/Packages (layer sha256:abc): "
            ),
            "{err}"
        );
    }

    #[test]
    fn broken_manifest_is_a_warning() {
        let files = set(&[
            ("/app/node_modules/bad/package.json", b"{not json".to_vec()),
            (
                "/app/node_modules/good/package.json",
                br#"{"name":"good","version":"1.0.0"}"#.to_vec(),
            ),
        ]);
        let analysis = analyze(&files).unwrap();
        assert_eq!(analysis.inventory.packages.len(), 1);
        assert_eq!(analysis.warnings.len(), 1);
        assert_eq!(
            analysis.warnings[0].location.path,
            "/app/node_modules/bad/package.json"
        );
        assert!(analysis.warnings[0].to_string().starts_with(
            "skipped /app/node_modules/bad/package.json (layer sha256:abc): invalid JSON"
        ));
    }

    /// Trivy's Ubuntu 18.04 status under an Ubuntu os-release: Ubuntu
    /// ecosystem and purls, config-files packages left out.
    #[test]
    fn ubuntu_status() {
        let archive = String::from_utf8(fixture("trivy/fanal-dpkg/valid.txtar")).unwrap();
        let status = archive.split_once("-- var/lib/dpkg/status --\n").unwrap().1;
        let files = set(&[
            (dpkg::STATUS_PATH, status.as_bytes().to_vec()),
            (
                "/etc/os-release",
                b"ID=ubuntu\nVERSION_ID=\"18.04\"\nVERSION_CODENAME=bionic\n".to_vec(),
            ),
        ]);
        let inventory = analyze(&files).unwrap().inventory;
        assert_eq!(inventory.packages.len(), 90);
        assert!(
            inventory
                .packages
                .iter()
                .all(|p| p.ecosystem == Ecosystem::Ubuntu)
        );
        let bash = inventory
            .packages
            .iter()
            .find(|p| p.name == "bash")
            .unwrap();
        assert_eq!(
            bash.purl,
            "pkg:deb/ubuntu/bash@4.4.18-2ubuntu1?arch=amd64&distro=ubuntu-18.04"
        );
        let sorted = inventory
            .packages
            .windows(2)
            .all(|w| (&w[0].name, &w[0].arch) <= (&w[1].name, &w[1].arch));
        assert!(sorted);
    }

    #[test]
    fn alpine_and_wolfi() {
        let installed = fixture("trivy/fanal-apk/apk");
        for (os_release, ecosystem, prefix) in [
            (
                "ID=alpine\nVERSION_ID=3.20.3\n",
                Ecosystem::Alpine,
                "pkg:apk/alpine/musl@1.1.14-r10?arch=x86_64&distro=alpine-3.20.3",
            ),
            (
                "ID=wolfi\nVERSION_ID=20230201\n",
                Ecosystem::Wolfi,
                "pkg:apk/wolfi/musl@1.1.14-r10?arch=x86_64&distro=wolfi-20230201",
            ),
        ] {
            let files = set(&[
                (apk::INSTALLED_PATH, installed.clone()),
                ("/etc/os-release", os_release.as_bytes().to_vec()),
            ]);
            let inventory = analyze(&files).unwrap().inventory;
            assert_eq!(inventory.packages.len(), 15);
            let musl = inventory
                .packages
                .iter()
                .find(|p| p.name == "musl")
                .unwrap();
            assert_eq!(musl.ecosystem, ecosystem);
            assert_eq!(musl.purl, prefix);
            let scanelf = inventory
                .packages
                .iter()
                .find(|p| p.name == "scanelf")
                .unwrap();
            assert_eq!(scanelf.source_name.as_deref(), Some("pax-utils"));
        }
    }

    /// A distroless image: status.d control files, side files ignored,
    /// licences from the copyright file.
    #[test]
    fn distroless_status_d() {
        let base = "syft/debian/image-distroless-deb";
        let files = set(&[
            (
                "/var/lib/dpkg/status.d/libsqlite3-0",
                fixture(&format!("{base}/var/lib/dpkg/status.d/libsqlite3-0")),
            ),
            (
                "/var/lib/dpkg/status.d/libsqlite3-0.md5sums",
                fixture(&format!(
                    "{base}/var/lib/dpkg/status.d/libsqlite3-0.md5sums"
                )),
            ),
            (
                "/usr/share/doc/libsqlite3-0/copyright",
                fixture(&format!("{base}/usr/share/doc/libsqlite3-0/copyright")),
            ),
        ]);
        let inventory = analyze(&files).unwrap().inventory;
        assert_eq!(inventory.distro, None);
        assert_eq!(inventory.packages.len(), 1);
        let sqlite = &inventory.packages[0];
        assert_eq!(sqlite.version, "3.34.1-3");
        assert_eq!(sqlite.arch.as_deref(), Some("arm64"));
        assert_eq!(sqlite.licenses, ["GPL-2", "GPL-2+", "public-domain"]);
        assert_eq!(
            sqlite.purl,
            "pkg:deb/debian/libsqlite3-0@3.34.1-3?arch=arm64"
        );
        assert_eq!(sqlite.location.path, "/var/lib/dpkg/status.d/libsqlite3-0");
    }

    /// SUSE's ndb database found in /usr/lib/sysimage/rpm with an openSUSE
    /// os-release: packages, sources and purls.
    #[test]
    fn suse_ndb_in_sysimage() {
        let files = set(&[
            (
                "/usr/lib/sysimage/rpm/Packages.db",
                fixture("go-rpmdb/sle15-bci-ndb/Packages.db"),
            ),
            (
                "/etc/os-release",
                b"ID=\"sles\"\nVERSION_ID=\"15.3\"\n".to_vec(),
            ),
        ]);
        let inventory = analyze(&files).unwrap().inventory;
        assert_eq!(inventory.packages.len(), 35);
        let glibc = inventory
            .packages
            .iter()
            .find(|p| p.name == "glibc")
            .unwrap();
        assert_eq!(glibc.version, "2.31-9.3.2");
        assert_eq!(
            (
                glibc.source_name.as_deref(),
                glibc.source_version.as_deref()
            ),
            (Some("glibc"), Some("2.31-9.3.2"))
        );
        assert_eq!(
            glibc.purl,
            "pkg:rpm/sles/glibc@2.31-9.3.2?arch=x86_64&distro=sles-15.3"
        );
        assert_eq!(glibc.location.path, "/usr/lib/sysimage/rpm/Packages.db");
    }
}
