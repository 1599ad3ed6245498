//! Which layer introduced each package of an OS package database.
//!
//! A package database (`/var/lib/dpkg/status`, `/lib/apk/db/installed`, an
//! rpmdb) is one file that every package-installing layer rewrites, so the
//! layer that last wrote it says nothing about where a given package came
//! from. The `layers` stage keeps the file's earlier versions
//! ([`File::history`]); each is parsed with the database's own parser, and a
//! package is attributed to the oldest layer of the most recent uninterrupted
//! run of versions that contain it with the same name, version and
//! architecture — the layer whose Dockerfile step installed (or last
//! upgraded) it, as trivy reports it.

use std::collections::HashSet;

use portcullis_layers::File;

use crate::error::{ParseError, Warning};
use crate::{Location, Package};

/// What identifies a package across versions of its database:
/// name, version, architecture.
pub(crate) type Key = (String, String, Option<String>);

fn key_of(package: &Package) -> Key {
    (
        package.name.clone(),
        package.version.clone(),
        package.arch.clone(),
    )
}

/// Sets `location.layer` of each of `packages` (all read from the current
/// version of `file`) to the layer that introduced it. `present` parses one
/// earlier version of the file into the keys of the packages it holds
/// installed, exactly as the current version was read; `layer` is the digest
/// of the layer that wrote that version (for databases that pair the file
/// with another, such as rpm's sqlite write-ahead log).
///
/// Costs nothing for a file written by one layer. Older versions are parsed
/// newest first and only while some package is still present in all of
/// them; a version byte-identical to the next newer one is not parsed again.
/// When an earlier version cannot be parsed, every package keeps the layer
/// that last wrote the file and a [`Warning`] says why: attribution is
/// advisory, it never fails the scan.
pub(crate) fn attribute_introducing_layers<P>(
    file: &File,
    database: &str,
    packages: &mut [Package],
    mut present: P,
    warnings: &mut Vec<Warning>,
) where
    P: FnMut(Option<&str>, &[u8]) -> Result<HashSet<Key>, ParseError>,
{
    if file.earlier.is_empty() || packages.is_empty() {
        return;
    }
    let keys: Vec<Key> = packages.iter().map(key_of).collect();
    // For each package: the layer of the oldest version seen so far in its
    // unbroken run (starting at the current version).
    let mut introduced: Vec<Option<&str>> = vec![file.layer.as_deref(); keys.len()];
    // Packages present in every version from the current one down to here.
    let mut unbroken: Vec<usize> = (0..keys.len()).collect();
    let mut newer: &[u8] = &file.data;
    for version in file.earlier.iter().rev() {
        if unbroken.is_empty() {
            break;
        }
        let layer = version.layer.as_deref();
        let data: &[u8] = &version.data;
        if data != newer {
            let found = match present(layer, data) {
                Ok(found) => found,
                Err(error) => {
                    warnings.push(Warning {
                        location: Location {
                            layer: layer.map(str::to_owned),
                            path: file.path.clone(),
                        },
                        message: format!(
                            "earlier version of the {database} database is unreadable ({error}); \
                             its packages are attributed to the layer that last wrote it{}",
                            file.layer
                                .as_deref()
                                .map(|l| format!(" ({l})"))
                                .unwrap_or_default()
                        ),
                    });
                    return;
                }
            };
            unbroken.retain(|&index| keys.get(index).is_some_and(|key| found.contains(key)));
            newer = data;
        }
        for &index in &unbroken {
            if let Some(slot) = introduced.get_mut(index) {
                *slot = layer;
            }
        }
    }
    for (package, layer) in packages.iter_mut().zip(introduced) {
        package.location.layer = layer.map(str::to_owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ecosystem;
    use portcullis_layers::FileVersion;
    use std::sync::Arc;

    fn package(name: &str, version: &str) -> Package {
        Package {
            ecosystem: Ecosystem::Debian,
            name: name.into(),
            version: version.into(),
            arch: Some("amd64".into()),
            source_name: None,
            source_version: None,
            licenses: Vec::new(),
            purl: String::new(),
            location: Location {
                layer: Some("l-current".into()),
                path: "/db".into(),
            },
        }
    }

    /// A database whose contents are `name=version` words.
    fn parse(data: &[u8]) -> Result<HashSet<Key>, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Line {
            line: 1,
            reason: "not UTF-8",
        })?;
        text.split_whitespace()
            .map(|word| {
                let (name, version) = word.split_once('=').ok_or(ParseError::Line {
                    line: 1,
                    reason: "no =",
                })?;
                Ok((
                    name.to_owned(),
                    version.to_owned(),
                    Some("amd64".to_owned()),
                ))
            })
            .collect()
    }

    fn file(versions: &[(&str, &[u8])]) -> File {
        let (current, earlier) = versions.split_last().unwrap();
        let mut file = File::new(
            "/db".into(),
            Some(current.0.into()),
            0o644,
            Arc::from(current.1),
        );
        file.earlier = earlier
            .iter()
            .map(|(layer, data)| FileVersion {
                layer: Some((*layer).into()),
                data: Arc::from(*data),
            })
            .collect();
        file
    }

    fn layers_of(packages: &[Package]) -> Vec<(&str, &str)> {
        packages
            .iter()
            .map(|p| (p.name.as_str(), p.location.layer.as_deref().unwrap_or("-")))
            .collect()
    }

    #[test]
    fn oldest_layer_of_the_latest_unbroken_run() {
        let file = file(&[
            ("l1", b"a=1 b=1 c=1"),
            ("l2", b"a=1 b=2 c=1"),
            // c removed, then installed again with the same version.
            ("l3", b"a=1 b=2"),
            ("l4", b"a=1 b=2 c=1"),
            ("l5", b"a=1 b=2 c=1 d=1"),
        ]);
        let mut packages: Vec<Package> = [("a", "1"), ("b", "2"), ("c", "1"), ("d", "1")]
            .iter()
            .map(|(n, v)| package(n, v))
            .collect();
        let mut parsed = Vec::new();
        let mut warnings = Vec::new();
        attribute_introducing_layers(
            &file,
            "test",
            &mut packages,
            |layer, data| {
                parsed.push(layer.unwrap_or("-").to_owned());
                parse(data)
            },
            &mut warnings,
        );
        assert_eq!(
            layers_of(&packages),
            [("a", "l1"), ("b", "l2"), ("c", "l4"), ("d", "l5")]
        );
        assert!(warnings.is_empty());
        assert_eq!(parsed, ["l4", "l3", "l2", "l1"]);
    }

    #[test]
    fn stops_early_and_skips_identical_versions() {
        let file = file(&[
            ("l1", b"x=1"),
            ("l2", b"a=1"),
            ("l3", b"a=1"),
            ("l4", b"a=1 b=1"),
        ]);
        let mut packages = vec![package("a", "1"), package("b", "1")];
        let mut parsed = Vec::new();
        attribute_introducing_layers(
            &file,
            "test",
            &mut packages,
            |layer, data| {
                parsed.push(layer.unwrap_or("-").to_owned());
                parse(data)
            },
            &mut Vec::new(),
        );
        assert_eq!(layers_of(&packages), [("a", "l2"), ("b", "l4")]);
        // l2 equals l3 byte for byte; after l1 nothing is left to look for.
        assert_eq!(parsed, ["l3", "l1"]);
    }

    #[test]
    fn an_unreadable_earlier_version_keeps_the_last_writer_and_warns() {
        let file = file(&[("l1", b"broken"), ("l2", b"a=1"), ("l3", b"a=1 b=1")]);
        let mut packages = vec![package("a", "1"), package("b", "1")];
        let mut warnings = Vec::new();
        attribute_introducing_layers(
            &file,
            "dpkg",
            &mut packages,
            |_, data| parse(data),
            &mut warnings,
        );
        assert_eq!(
            layers_of(&packages),
            [("a", "l-current"), ("b", "l-current")]
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            "skipped /db (layer l1): earlier version of the dpkg database is unreadable \
             (line 1: no =); its packages are attributed to the layer that last wrote it (l3)"
        );
    }

    /// Through [`crate::analyze`] with real databases, the history built by
    /// the layers stage's own [`FileSet::insert`] / [`FileSet::remove`].
    mod databases {
        use super::super::*;
        use crate::test_fixtures::read as fixture;
        use crate::{analyze, apk, dpkg};
        use portcullis_layers::FileSet;
        use std::sync::Arc;

        fn write(set: &mut FileSet, path: &str, layer: &str, data: &[u8]) {
            set.insert(File::new(
                path.into(),
                Some(layer.into()),
                0o644,
                Arc::from(data),
            ));
        }

        /// The database without its first stanza, and that stanza's package.
        fn without_first_stanza(data: &[u8], name_field: &str) -> (Vec<u8>, String) {
            let text = std::str::from_utf8(data).unwrap();
            let (first, rest) = text.split_once("\n\n").unwrap();
            let name = first
                .lines()
                .find_map(|l| l.strip_prefix(name_field))
                .unwrap()
                .trim()
                .to_owned();
            (rest.as_bytes().to_vec(), name)
        }

        /// `layer → number of packages` and the layer of `name`.
        fn layers(files: &FileSet, name: &str) -> (Vec<(String, usize)>, String, Vec<Warning>) {
            let analysis = analyze(files).unwrap();
            let mut counts = std::collections::BTreeMap::<String, usize>::new();
            for package in &analysis.inventory.packages {
                *counts
                    .entry(package.location.layer.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            let layer = analysis
                .inventory
                .packages
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.location.layer.clone())
                .unwrap_or_default();
            (counts.into_iter().collect(), layer, analysis.warnings)
        }

        fn counts(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
            pairs.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect()
        }

        #[test]
        fn dpkg_status_rewritten_then_deleted_and_written_again() {
            let status = fixture("debian12-host/status");
            let (older, first) = without_first_stanza(&status, "Package:");
            let total = dpkg::parse_status(&status)
                .unwrap()
                .into_iter()
                .filter(|r| r.state.has_files(false))
                .count();
            let mut files = FileSet::new();
            write(&mut files, dpkg::STATUS_PATH, "l1", &older);
            write(&mut files, dpkg::STATUS_PATH, "l2", &status);
            let (by_layer, layer, warnings) = layers(&files, &first);
            assert_eq!(by_layer, counts(&[("l1", total - 1), ("l2", 1)]));
            assert_eq!(layer, "l2");
            assert!(warnings.is_empty(), "{warnings:?}");

            // A whiteout in l3, the same status again in l4: a new file.
            files.remove(dpkg::STATUS_PATH);
            write(&mut files, dpkg::STATUS_PATH, "l4", &status);
            let (by_layer, _, _) = layers(&files, &first);
            assert_eq!(by_layer, counts(&[("l4", total)]));
        }

        #[test]
        fn apk_installed_rewritten() {
            let installed = fixture("trivy/fanal-apk/apk");
            let (older, first) = without_first_stanza(&installed, "P:");
            let mut files = FileSet::new();
            write(&mut files, apk::INSTALLED_PATH, "l1", &older);
            write(&mut files, apk::INSTALLED_PATH, "l2", &installed);
            let (by_layer, layer, warnings) = layers(&files, &first);
            assert_eq!(first, "musl");
            assert_eq!(by_layer, counts(&[("l1", 14), ("l2", 1)]));
            assert_eq!(layer, "l2");
            assert!(warnings.is_empty(), "{warnings:?}");
        }

        /// An earlier rpmdb that is not a database: the packages keep the
        /// layer that wrote the current one, and a warning names the layer
        /// of the unreadable version.
        #[test]
        fn unreadable_earlier_rpmdb_is_a_warning() {
            let path = "/var/lib/rpm/rpmdb.sqlite";
            let mut files = FileSet::new();
            write(&mut files, path, "l1", b"not a database");
            write(
                &mut files,
                path,
                "l2",
                &fixture("go-rpmdb/amazonlinux2023-sqlite/rpmdb.sqlite"),
            );
            let analysis = analyze(&files).unwrap();
            let packages = &analysis.inventory.packages;
            assert!(!packages.is_empty());
            assert!(
                packages
                    .iter()
                    .all(|p| p.location.layer.as_deref() == Some("l2"))
            );
            assert_eq!(analysis.warnings.len(), 1);
            let warning = analysis.warnings[0].to_string();
            assert!(
                warning.starts_with(
                    "skipped /var/lib/rpm/rpmdb.sqlite (layer l1): earlier version of the rpm \
                     sqlite database is unreadable ("
                ),
                "{warning}"
            );

            // The same database written twice: every package from the first.
            let mut files = FileSet::new();
            let db = fixture("go-rpmdb/amazonlinux2023-sqlite/rpmdb.sqlite");
            write(&mut files, path, "l1", &db);
            write(&mut files, path, "l2", &db);
            let (by_layer, _, warnings) = layers(&files, "bash");
            assert_eq!(by_layer, counts(&[("l1", packages.len())]));
            assert!(warnings.is_empty());
        }
    }
}
