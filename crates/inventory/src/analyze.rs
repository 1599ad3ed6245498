//! From a [`FileSet`] to an [`Inventory`]: runs every analyzer on the files
//! the [`Analyzers`](crate::Analyzers) filter kept.

use crate::error::{InventoryError, ParseError, Warning};
use crate::{
    Distro, Ecosystem, Inventory, Location, Package, apk, dpkg, lang, os_release, purl, rpm,
};
use portcullis_layers::{File, FileSet};

/// What the inventory stage found, with the files it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub inventory: Inventory,
    /// Language manifests that could not be read; their packages are missing.
    pub warnings: Vec<Warning>,
}

/// Runs every analyzer on `files` and returns the packages sorted by
/// ecosystem, name, version, architecture and path.
///
/// # Errors
/// [`InventoryError::CorruptDatabase`] when an OS package database (dpkg,
/// apk, rpm) cannot be read: a partial OS inventory would hide packages.
pub fn analyze(files: &FileSet) -> Result<Analysis, InventoryError> {
    let distro = os_release::detect(files);
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    analyze_dpkg(files, distro.as_ref(), &mut packages)?;
    analyze_apk(files, distro.as_ref(), &mut packages)?;
    analyze_rpm(files, distro.as_ref(), &mut packages)?;
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

fn analyze_dpkg(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
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
    }
    Ok(())
}

fn analyze_apk(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
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
    Ok(())
}

/// Reads the one rpm database of the image: the first directory of
/// [`rpm::DB_DIRS`] that has one, and there sqlite before ndb before Berkeley
/// DB (a converted database can leave the old file behind).
fn analyze_rpm(
    files: &FileSet,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
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
    let wal = files
        .get(&format!("{dir}/rpmdb.sqlite-wal"))
        .map(|f| &f.data[..]);
    let blobs = format
        .blobs(&file.data, wal)
        .map_err(|e| corrupt(format.label(), file, e))?;
    let namespace = match distro.map(|d| d.id.as_str()) {
        Some("rhel") => "redhat",
        Some(id) => id,
        None => "",
    };
    let qualifier = distro_qualifier(distro);
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
    Ok(())
}
