//! Language ecosystems, installed state only (not lock files): Python
//! distributions (`*.dist-info/METADATA`, `*.egg-info`), npm packages under
//! `node_modules`, RubyGems specifications and Composer's `installed.json`.
//!
//! A manifest that cannot be read is a [`Warning`](crate::Warning): one broken
//! file in an application must not hide the rest of the image.

use crate::{Ecosystem, Location, Package, purl};
use serde_json::Value;

/// Largest manifest read; the largest real ones (Composer's `installed.json`
/// of a big application) are a few MiB.
const MAX_MANIFEST_BYTES: usize = 32 * 1024 * 1024;

/// Which language analyzer reads a wanted file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Manifest {
    PythonMetadata,
    Npm,
    Gemspec,
    Composer,
}

/// Classifies a path without allocating; `None` for files no analyzer reads.
pub(crate) fn classify(path: &str) -> Option<Manifest> {
    let (dir, file) = path.rsplit_once('/')?;
    match file {
        "METADATA" if dir.ends_with(".dist-info") => Some(Manifest::PythonMetadata),
        "PKG-INFO" if dir.ends_with(".egg-info") => Some(Manifest::PythonMetadata),
        "package.json" if is_node_modules_package(dir) => Some(Manifest::Npm),
        "installed.json" if dir.ends_with("/vendor/composer") => Some(Manifest::Composer),
        // Debian's python3-* packages install egg-info as a single file.
        _ if file.ends_with(".egg-info") && dir.ends_with("-packages") => {
            Some(Manifest::PythonMetadata)
        }
        _ if file.ends_with(".gemspec")
            && (dir.ends_with("/specifications") || dir.ends_with("/specifications/default")) =>
        {
            Some(Manifest::Gemspec)
        }
        _ => None,
    }
}

/// `…/node_modules/<name>` or `…/node_modules/@scope/<name>`.
fn is_node_modules_package(dir: &str) -> bool {
    let Some((parent, name)) = dir.rsplit_once('/') else {
        return false;
    };
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    if parent.ends_with("/node_modules") {
        return true;
    }
    parent.rsplit_once('/').is_some_and(|(grandparent, scope)| {
        scope.starts_with('@') && grandparent.ends_with("/node_modules")
    })
}

pub(crate) fn wants(path: &str) -> bool {
    classify(path).is_some()
}

/// Reads one manifest into zero or more packages.
pub(crate) fn analyze(
    kind: Manifest,
    data: &[u8],
    location: &Location,
) -> Result<Vec<Package>, String> {
    if data.len() > MAX_MANIFEST_BYTES {
        return Err(format!("larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    match kind {
        Manifest::PythonMetadata => python(data, location).map(|p| vec![p]),
        Manifest::Npm => npm(data, location).map(|p| p.into_iter().collect()),
        Manifest::Gemspec => gemspec(data, location).map(|p| vec![p]),
        Manifest::Composer => composer(data, location),
    }
}

fn package(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    licenses: Vec<String>,
    purl: String,
    location: &Location,
) -> Package {
    Package {
        ecosystem,
        name: name.to_owned(),
        version: version.to_owned(),
        arch: None,
        source_name: None,
        source_version: None,
        licenses,
        purl,
        location: location.clone(),
    }
}

/// Core metadata (PEP 241/314/566/643): RFC 822 headers up to the first
/// blank line. Licences, in the order trivy reads them: `License-Expression`
/// (PEP 639); else the last part of each `Classifier: License :: … :: <name>`;
/// else the `License` field (often a whole licence text, then only its first
/// line is kept), unless it is `UNKNOWN`, which setuptools writes for "not
/// stated".
///
/// # Errors
/// Without a `Name` or `Version` header.
pub fn python_metadata(data: &[u8]) -> Result<(String, String, Vec<String>), String> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version, mut license, mut expression) = (None, None, None, None);
    let mut classifiers = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let key = key.trim();
        if key.eq_ignore_ascii_case("Name") {
            name = Some(value.to_owned());
        } else if key.eq_ignore_ascii_case("Version") {
            version = Some(value.to_owned());
        } else if key.eq_ignore_ascii_case("License") {
            if !value.is_empty() && !value.eq_ignore_ascii_case("UNKNOWN") {
                license = Some(value.to_owned());
            }
        } else if key.eq_ignore_ascii_case("License-Expression") {
            if !value.is_empty() {
                expression = Some(value.to_owned());
            }
        } else if key.eq_ignore_ascii_case("Classifier") {
            let parts: Vec<&str> = value.split(" :: ").collect();
            if parts.len() >= 3 && parts.first() == Some(&"License") {
                classifiers.extend(parts.last().map(|l| (*l).to_owned()));
            }
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or("no Name field")?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or("no Version field")?;
    let licenses = match (expression, license) {
        (Some(expression), _) => vec![expression],
        (None, _) if !classifiers.is_empty() => classifiers,
        (None, license) => license.into_iter().collect(),
    };
    Ok((name, version, licenses))
}

/// PEP 503 normalised name, as the purl `pypi` type asks.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}

fn python(data: &[u8], location: &Location) -> Result<Package, String> {
    let (name, version, licenses) = python_metadata(data)?;
    let purl = purl::build("pypi", None, &pep503(&name), Some(&version), &mut []);
    Ok(package(
        Ecosystem::PyPI,
        &name,
        &version,
        licenses,
        purl,
        location,
    ))
}

/// npm `license`: a string, `{ "type": … }`, or (deprecated) `licenses: [{type}]`.
fn npm_licenses(manifest: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    match (manifest.get("license"), manifest.get("licenses")) {
        (Some(Value::Array(items)), _) | (None, Some(Value::Array(items))) => {
            items.iter().filter_map(one).collect()
        }
        (Some(value), _) | (None, Some(value)) => one(value).into_iter().collect(),
        (None, None) => Vec::new(),
    }
}

/// A `package.json` inside `node_modules`. Entries without name or version
/// (build leftovers, nested test fixtures) are not packages: `Ok(None)`.
fn npm(data: &[u8], location: &Location) -> Result<Option<Package>, String> {
    let manifest: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    let (Some(name), Some(version)) = (
        manifest.get("name").and_then(Value::as_str),
        manifest.get("version").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let (namespace, short) = match name.split_once('/') {
        Some((scope, short)) if scope.starts_with('@') => (Some(scope), short),
        _ => (None, name),
    };
    let purl = purl::build("npm", namespace, short, Some(version), &mut []);
    Ok(Some(package(
        Ecosystem::Npm,
        name,
        version,
        npm_licenses(&manifest),
        purl,
        location,
    )))
}

/// The quoted strings of a Ruby line, in order (`"a".freeze, 'b'`).
fn ruby_strings(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = &rest[start..=start];
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// A gem specification as RubyGems writes it into `specifications/`
/// (`s.name = "rake".freeze` …). It is Ruby code, not data: only the
/// assignment lines RubyGems generates are read, never evaluated.
pub fn gemspec_fields(data: &[u8]) -> Result<(String, String, Vec<String>), String> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for line in text.lines() {
        let line = line.trim_start();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let attribute = lhs.trim().rsplit_once('.').map_or("", |(_, attr)| attr);
        match attribute {
            "name" if name.is_none() => name = ruby_strings(rhs).first().map(|s| (*s).to_owned()),
            "version" if version.is_none() => {
                version = ruby_strings(rhs).first().map(|s| (*s).to_owned())
            }
            "licenses" | "license" => {
                licenses.extend(ruby_strings(rhs).into_iter().map(str::to_owned))
            }
            _ => {}
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or("no name assignment")?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or("no version assignment")?;
    Ok((name, version, licenses))
}

fn gemspec(data: &[u8], location: &Location) -> Result<Package, String> {
    let (name, version, licenses) = gemspec_fields(data)?;
    let purl = purl::build("gem", None, &name, Some(&version), &mut []);
    Ok(package(
        Ecosystem::RubyGems,
        &name,
        &version,
        licenses,
        purl,
        location,
    ))
}

/// Composer's `vendor/composer/installed.json`: a list of packages (Composer
/// 1) or `{"packages": [...]}` (Composer 2).
fn composer(data: &[u8], location: &Location) -> Result<Vec<Package>, String> {
    let manifest: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    let list = match &manifest {
        Value::Array(list) => list,
        Value::Object(object) => match object.get("packages") {
            Some(Value::Array(list)) => list,
            _ => return Err("no packages list".into()),
        },
        _ => return Err("neither a list nor an object".into()),
    };
    let mut packages = Vec::with_capacity(list.len());
    for entry in list {
        let (Some(name), Some(version)) = (
            entry.get("name").and_then(Value::as_str),
            entry.get("version").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some((vendor, short)) = name.split_once('/') else {
            continue;
        };
        let licenses = match entry.get("license") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let purl = purl::build("composer", Some(vendor), short, Some(version), &mut []);
        packages.push(package(
            Ecosystem::Packagist,
            name,
            version,
            licenses,
            purl,
            location,
        ));
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_without_false_hits() {
        assert_eq!(
            classify("/a/site-packages/x-1.dist-info/METADATA"),
            Some(Manifest::PythonMetadata)
        );
        assert_eq!(
            classify("/a/x.egg-info/PKG-INFO"),
            Some(Manifest::PythonMetadata)
        );
        assert_eq!(
            classify("/usr/lib/python3/dist-packages/six-1.16.0.egg-info"),
            Some(Manifest::PythonMetadata)
        );
        assert_eq!(
            classify("/x/node_modules/@types/node/package.json"),
            Some(Manifest::Npm)
        );
        assert_eq!(classify("/x/node_modules/.bin/package.json"), None);
        assert_eq!(classify("/x/node_modules/a/b/package.json"), None);
        assert_eq!(
            classify("/gems/specifications/default/json-2.6.gemspec"),
            Some(Manifest::Gemspec)
        );
        assert_eq!(classify("METADATA"), None);
    }

    use crate::test_fixtures::{case_input, json, read};

    /// trivy's METADATA / PKG-INFO cases: name, version and licences. Where
    /// trivy reports the placeholder `UNKNOWN` (setuptools' "not stated") or a
    /// `file://LICENSE.txt` pointer, we report no licence.
    #[test]
    fn trivy_python_metadata() {
        let expected = json("trivy/parser-python-packaging/expected.json");
        let mut compared = 0;
        for case in expected.as_array().unwrap() {
            let input = case_input("trivy/parser-python-packaging", case);
            let got = python_metadata(&read(&input));
            if case["wantErr"] == true {
                assert!(got.is_err(), "{input}");
                continue;
            }
            let (name, version, licenses) = got.unwrap();
            let want = &case["want"][0];
            assert_eq!(name, want["Name"].as_str().unwrap(), "{input}");
            assert_eq!(version, want["Version"].as_str().unwrap(), "{input}");
            let wanted: Vec<&str> = want["Licenses"]
                .as_array()
                .map(|l| l.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            let wanted: Vec<&str> = wanted
                .into_iter()
                .filter(|l| *l != "UNKNOWN" && !l.starts_with("file://"))
                .collect();
            assert_eq!(licenses, wanted, "{input}");
            compared += 1;
        }
        assert_eq!(compared, 10);
    }

    /// syft's installed-package cases that name a METADATA or PKG-INFO file.
    #[test]
    fn syft_site_packages() {
        for (rel, name, version) in [
            (
                "site-packages/nested/dist-name/dist-info/METADATA",
                "Pygments",
                "2.6.1",
            ),
            (
                "site-packages/uppercase/dist-name/DIST-INFO/METADATA",
                "Pygments",
                "2.6.1",
            ),
            (
                "site-packages/partial.dist-info/METADATA",
                "Pygments",
                "2.6.1",
            ),
            (
                "site-packages/malformed-record/dist-info/METADATA",
                "Pygments",
                "2.6.1",
            ),
            // syft's expected.json for this case resolved a variable of another
            // test (a pdm.lock's requests 2.32.3); the file itself says 2.22.0.
            ("site-packages/test/test.egg-info", "requests", "2.22.0"),
        ] {
            let (got_name, got_version, licenses) =
                python_metadata(&read(&format!("syft/python/{rel}"))).unwrap();
            assert_eq!(
                (got_name.as_str(), got_version.as_str()),
                (name, version),
                "{rel}"
            );
            if name == "Pygments" {
                assert_eq!(licenses, ["BSD License"], "{rel}");
            }
        }
        // syft lists a package without a version; one cannot be matched or
        // pinned, so we skip it with a warning instead.
        let no_version = read("syft/python/site-packages/no-version/no-version-py3.8.egg-info");
        assert_eq!(
            python_metadata(&no_version).unwrap_err(),
            "no Version field"
        );
    }

    /// syft's package.json licence shapes: a string, an object, a
    /// `licenses` array of objects or of strings, none at all. syft's only
    /// stated expectation (package-partial.json, without name or version)
    /// is an empty package; we report no package for it.
    #[test]
    fn syft_package_json_licences() {
        let location = Location {
            layer: None,
            path: "/node_modules/npm/package.json".into(),
        };
        for (file, licences) in [
            ("package.json", &["Artistic-2.0"][..]),
            ("package-license-object.json", &["ISC"]),
            ("package-license-objects.json", &["MIT", "Apache-2.0"]),
            ("package-no-license.json", &[]),
            ("package-malformed-license.json", &["MIT"]),
        ] {
            let package = npm(
                &read(&format!("syft/javascript/pkg-json/{file}")),
                &location,
            )
            .unwrap()
            .unwrap();
            assert_eq!(
                (package.name.as_str(), package.version.as_str()),
                ("npm", "6.14.6"),
                "{file}"
            );
            assert_eq!(package.purl, "pkg:npm/npm@6.14.6");
            assert_eq!(package.licenses, licences, "{file}");
        }
        assert_eq!(
            npm(
                &read("syft/javascript/pkg-json/package-partial.json"),
                &location
            )
            .unwrap(),
            None
        );
    }

    /// Both shapes Composer writes: a bare list (Composer 1) and
    /// `{"packages": [...]}` (Composer 2); no fixture of either is shared.
    #[test]
    fn composer_installed_shapes() {
        let location = Location {
            layer: None,
            path: "/app/vendor/composer/installed.json".into(),
        };
        let v1 = br#"[{"name":"monolog/monolog","version":"1.27.1","license":["MIT"]}]"#;
        let v2 = br#"{"packages":[{"name":"guzzlehttp/psr7","version":"2.4.3","license":["MIT"]},{"name":"noslash","version":"1"}],"dev":true}"#;
        let one = composer(v1, &location).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].purl, "pkg:composer/monolog/monolog@1.27.1");
        assert_eq!(one[0].licenses, ["MIT"]);
        let two = composer(v2, &location).unwrap();
        assert_eq!(two.len(), 1);
        assert_eq!(
            (two[0].name.as_str(), two[0].version.as_str()),
            ("guzzlehttp/psr7", "2.4.3")
        );
        assert!(composer(b"{}", &location).is_err());
        assert!(composer(b"17", &location).is_err());
    }

    #[test]
    fn ruby_and_npm_details() {
        let (name, version, licenses) = gemspec_fields(
            b"Gem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze, 'Ruby']\nend\n",
        )
        .unwrap();
        assert_eq!((name.as_str(), version.as_str()), ("rake", "13.0.6"));
        assert_eq!(licenses, ["MIT", "Ruby"]);
        let location = Location {
            layer: None,
            path: "/n/node_modules/@s/p/package.json".into(),
        };
        let pkg = npm(
            br#"{"name":"@s/p","version":"1.0.0","license":{"type":"ISC"}}"#,
            &location,
        )
        .unwrap()
        .unwrap();
        assert_eq!(pkg.purl, "pkg:npm/%40s/p@1.0.0");
        assert_eq!(pkg.licenses, ["ISC"]);
        assert!(npm(b"{", &location).is_err());
        assert_eq!(pep503("Foo.Bar__baz"), "foo-bar-baz");
    }
}
