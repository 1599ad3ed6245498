//! apk database: `/lib/apk/db/installed` (Alpine, Wolfi, Chainguard).

use crate::error::ParseError;

/// The installed database of apk-tools.
pub const INSTALLED_PATH: &str = "/lib/apk/db/installed";

/// One package of the apk database, reduced to the fields inventory needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `P:`
    pub name: String,
    /// `V:` (`1.2.4-r0`)
    pub version: String,
    /// `A:`
    pub architecture: Option<String>,
    /// `o:` origin (the aport the package was built from).
    pub origin: Option<String>,
    /// `L:` licence, as written.
    pub license: Option<String>,
    /// `C:` checksum of the package's control data (`Q1` + base64 of SHA-1).
    pub checksum: Option<String>,
    /// 1-based line of the entry's first field.
    pub line: usize,
}

#[derive(Default)]
struct Entry<'a> {
    first_line: usize,
    name: Option<&'a str>,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
    origin: Option<&'a str>,
    license: Option<&'a str>,
    checksum: Option<&'a str>,
}

impl Entry<'_> {
    fn finish(self, records: &mut Vec<Record>) {
        let (Some(name), Some(version)) = (
            self.name.filter(|n| !n.is_empty()),
            self.version.filter(|v| !v.is_empty()),
        ) else {
            return;
        };
        let owned = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        records.push(Record {
            name: name.to_owned(),
            version: version.to_owned(),
            architecture: owned(self.architecture),
            origin: owned(self.origin),
            license: owned(self.license),
            checksum: owned(self.checksum),
            line: self.first_line,
        });
    }
}

/// Parses apk's `installed` database: entries separated by blank lines, each
/// line a one-letter key, `:` and a value. Entries without `P:` or `V:` are
/// dropped.
///
/// # Errors
/// A non-blank line that is not `X:value` makes the database corrupt (apk
/// itself refuses it with "FDB format error"), as does a kept value that is
/// not UTF-8.
pub fn parse_installed(data: &[u8]) -> Result<Vec<Record>, ParseError> {
    let mut records = Vec::new();
    let mut entry = Entry::default();
    let mut in_entry = false;
    for (index, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            if in_entry {
                std::mem::take(&mut entry).finish(&mut records);
                in_entry = false;
            }
            continue;
        }
        let (Some(&key), Some(b':')) = (line.first(), line.get(1)) else {
            return Err(ParseError::Line {
                line: line_no,
                reason: "expected `X:value`",
            });
        };
        if !in_entry {
            entry.first_line = line_no;
            in_entry = true;
        }
        let slot = match key {
            b'P' => &mut entry.name,
            b'V' => &mut entry.version,
            b'A' => &mut entry.architecture,
            b'o' => &mut entry.origin,
            b'L' => &mut entry.license,
            b'C' => &mut entry.checksum,
            _ => continue,
        };
        let value = line.get(2..).unwrap_or_default();
        let value = std::str::from_utf8(value).map_err(|_| ParseError::Line {
            line: line_no,
            reason: "field value is not UTF-8",
        })?;
        *slot = Some(value.trim());
    }
    if in_entry {
        entry.finish(&mut records);
    }
    Ok(records)
}

/// Splits an apk `L:` field into licences. Older Alpine releases list
/// licences separated by spaces (`MIT BSD GPL2+`); newer ones write one SPDX
/// expression (`MIT AND (BSD-2-Clause OR GPL-2.0-only)`), which is kept whole.
pub fn split_license(license: &str) -> Vec<String> {
    let is_expression = license.contains('(')
        || license
            .split_ascii_whitespace()
            .any(|word| matches!(word, "AND" | "OR" | "WITH" | "and" | "or"));
    if is_expression {
        vec![license.trim().to_owned()]
    } else {
        license
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_fixtures::{case_input, json, read};

    /// Trivy's real Alpine database: 15 packages (an entry without `V:` is
    /// dropped by both). Trivy rewrites licences into SPDX identifiers
    /// (`GPL2` → `GPL-2.0-only`); we keep them as the package states them, so
    /// licences are compared only where the database already spells them as
    /// trivy does.
    #[test]
    fn trivy_installed() {
        let expected = json("trivy/fanal-apk/expected.json");
        let want = expected[0]["wantPkgs"].as_array().unwrap();
        let got = parse_installed(&read("trivy/fanal-apk/apk")).unwrap();
        assert_eq!(got.len(), want.len());
        let mut licences_compared = 0;
        for (record, want) in got.iter().zip(want) {
            assert_eq!(record.name, want["Name"].as_str().unwrap());
            assert_eq!(record.version, want["Version"].as_str().unwrap());
            assert_eq!(
                record.origin.as_deref(),
                want["SrcName"].as_str(),
                "{}",
                record.name
            );
            assert_eq!(record.architecture.as_deref(), want["Arch"].as_str());
            let licences = split_license(record.license.as_deref().unwrap());
            let wanted: Vec<&str> = want["Licenses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            if ["MIT", "ISC", "Public-Domain"].contains(&record.license.as_deref().unwrap()) {
                assert_eq!(licences, wanted, "{}", record.name);
                licences_compared += 1;
            }
        }
        assert_eq!(licences_compared, 4);
        assert_eq!(
            split_license("( Apache-2.0 OR MIT ) AND MPL-2.0"),
            ["( Apache-2.0 OR MIT ) AND MPL-2.0"]
        );
    }

    /// syft's single-package cases: name, version, origin, arch, licences.
    #[test]
    fn syft_cases() {
        let expected = json("syft/alpine/expected.json");
        let mut compared = 0;
        for case in expected.as_array().unwrap() {
            let Some(want) = case["expected"].as_object() else {
                continue;
            };
            let input = case_input("syft/alpine", case);
            let got = parse_installed(&read(&input)).unwrap();
            assert_eq!(got.len(), 1, "{input}");
            let record = &got[0];
            let metadata = &want["Metadata"];
            assert_eq!(record.name, want["Name"].as_str().unwrap());
            assert_eq!(record.version, want["Version"].as_str().unwrap());
            assert_eq!(record.origin.as_deref(), metadata["OriginPackage"].as_str());
            assert_eq!(
                record.architecture.as_deref(),
                metadata["Architecture"].as_str()
            );
            assert_eq!(record.checksum.as_deref(), metadata["Checksum"].as_str());
            // Licences are `pkg.NewLicenseWithContext(ctx, "<name>")` calls.
            let licences: Vec<&str> = want["Licenses"]["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|call| call["args"][1].as_str().unwrap())
                .collect();
            assert_eq!(
                split_license(record.license.as_deref().unwrap()),
                licences,
                "{input}"
            );
            compared += 1;
        }
        assert_eq!(compared, 3);
    }

    #[test]
    fn multiple_and_corrupt() {
        let one = parse_installed(&read("syft/alpine/multiple-1/lib/apk/db/installed")).unwrap();
        let two = parse_installed(&read("syft/alpine/multiple-2/lib/apk/db/installed")).unwrap();
        assert!(!one.is_empty() && two.len() > one.len());
        // syft's glob test only needs the file to exist; its text is not a database.
        assert!(parse_installed(&read("syft/alpine/glob-paths/lib/apk/db/installed")).is_err());
        let err = parse_installed(&read("syft/alpine/corrupt/lib/apk/db/installed")).unwrap_err();
        assert_eq!(
            err,
            ParseError::Line {
                line: 1,
                reason: "expected `X:value`"
            }
        );
    }
}
