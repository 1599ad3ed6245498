//! dpkg databases: `/var/lib/dpkg/status`, the distroless `status.d/`
//! directory (one control file per package) and the DEP-5 copyright files
//! that carry Debian licences.

use crate::error::ParseError;

/// The dpkg database of a Debian-family system.
pub const STATUS_PATH: &str = "/var/lib/dpkg/status";
/// Distroless images keep one control file per package here instead.
pub const STATUS_D_DIR: &str = "/var/lib/dpkg/status.d";
/// Debian copyright files live at `/usr/share/doc/<package>/copyright`.
pub(crate) const DOC_PREFIX: &str = "/usr/share/doc/";
pub(crate) const COPYRIGHT_SUFFIX: &str = "/copyright";

/// Files next to the control files in `status.d/` that are not control files.
const STATUS_D_SIDE_FILES: [&str; 10] = [
    ".md5sums",
    ".conffiles",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".list",
    ".triggers",
    ".shlibs",
    ".symbols",
];

/// Whether `path` is a control file directly inside `status.d/`.
pub(crate) fn is_status_d_entry(path: &str) -> bool {
    match path
        .strip_prefix(STATUS_D_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(name) => {
            !name.is_empty()
                && !name.contains('/')
                && !STATUS_D_SIDE_FILES.iter().any(|s| name.ends_with(s))
        }
        None => false,
    }
}

/// Whether `path` is `/usr/share/doc/<package>/copyright`.
pub(crate) fn is_copyright_file(path: &str) -> bool {
    copyright_package(path).is_some()
}

/// The package whose copyright file `path` is.
pub(crate) fn copyright_package(path: &str) -> Option<&str> {
    let package = path
        .strip_prefix(DOC_PREFIX)?
        .strip_suffix(COPYRIGHT_SUFFIX)?;
    (!package.is_empty() && !package.contains('/')).then_some(package)
}

/// The `Status:` state of a package (third word of `want flag state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotInstalled,
    ConfigFiles,
    HalfInstalled,
    Unpacked,
    HalfConfigured,
    TriggersAwaited,
    TriggersPending,
    Installed,
    /// No `Status:` field: the normal case in distroless `status.d/` files.
    Unstated,
    /// A state word dpkg does not know.
    Unknown,
}

impl State {
    fn parse(status: &str) -> State {
        match status.split_ascii_whitespace().nth(2) {
            Some("not-installed") => State::NotInstalled,
            Some("config-files") => State::ConfigFiles,
            Some("half-installed") => State::HalfInstalled,
            Some("unpacked") => State::Unpacked,
            Some("half-configured") => State::HalfConfigured,
            Some("triggers-awaited") => State::TriggersAwaited,
            Some("triggers-pending") => State::TriggersPending,
            Some("installed") => State::Installed,
            _ => State::Unknown,
        }
    }

    /// Whether the package's files are on disk.
    ///
    /// `dpkg-query -W` lists every state but `not-installed`; we also leave out
    /// `config-files` (removed, only its conffiles left: `rc` in `dpkg -l`), as
    /// syft and trivy do, because none of its programs is there to be
    /// vulnerable. Every other state has the package's files unpacked, so the
    /// package counts, even half-installed: a scanner must not hide code that
    /// is on disk. The `want` word (`deinstall`, `purge`) is only a wish and
    /// does not change what is installed.
    pub fn has_files(self, in_status_d: bool) -> bool {
        match self {
            State::NotInstalled | State::ConfigFiles | State::Unknown => false,
            // dpkg reads a stanza without Status as not-installed; distroless
            // status.d files never carry the field and describe installed packages.
            State::Unstated => in_status_d,
            _ => true,
        }
    }
}

/// One stanza of a dpkg database, reduced to the fields inventory needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub package: String,
    /// `Version:` exactly as written (`1:2.66-4+deb12u3+b1`).
    pub version: String,
    pub architecture: Option<String>,
    /// `Source:` name, or the package name when absent (as `${source:Package}`).
    pub source_name: String,
    /// The version in `Source: name (version)`, or the package version when
    /// absent (as `${source:Version}`; a binNMU such as `+b1` differs).
    pub source_version: String,
    pub state: State,
    /// `License:` fields (opkg writes them into the status file).
    pub license: Option<String>,
    /// 1-based line of the stanza's first field.
    pub line: usize,
}

#[derive(Default)]
struct Stanza<'a> {
    first_line: usize,
    package: Option<&'a str>,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
    source: Option<&'a str>,
    status: Option<&'a str>,
    license: Option<&'a str>,
}

impl Stanza<'_> {
    fn finish(self, records: &mut Vec<Record>) {
        // A stanza without a name or version is not an installed package
        // (dpkg itself requires both for every installed package).
        let (Some(package), Some(version)) = (
            self.package.filter(|p| !p.is_empty()),
            self.version.filter(|v| !v.is_empty()),
        ) else {
            return;
        };
        let (source_name, source_version) = match self.source.filter(|s| !s.is_empty()) {
            None => (package, version),
            Some(source) => match source.split_once('(') {
                Some((name, rest)) => {
                    let source_version = rest.split(')').next().unwrap_or_default().trim();
                    let source_version = if source_version.is_empty() {
                        version
                    } else {
                        source_version
                    };
                    (name.trim(), source_version)
                }
                None => (source, version),
            },
        };
        records.push(Record {
            package: package.to_owned(),
            version: version.to_owned(),
            architecture: self
                .architecture
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            source_name: source_name.to_owned(),
            source_version: source_version.to_owned(),
            state: self.status.map_or(State::Unstated, State::parse),
            license: self.license.filter(|l| !l.is_empty()).map(str::to_owned),
            line: self.first_line,
        });
    }
}

/// Parses a dpkg status file (or one `status.d/` control file) into its
/// stanzas, in file order, whatever their state; callers filter with
/// [`State::has_files`]. Stanzas without `Package` or `Version` are dropped.
///
/// # Errors
/// A line that is neither `Field: value`, a continuation line (leading
/// space or tab) nor blank makes the whole file corrupt, as it does for dpkg.
/// Text that is not UTF-8 in a field we keep is also refused.
pub fn parse_status(data: &[u8]) -> Result<Vec<Record>, ParseError> {
    let mut records = Vec::new();
    let mut stanza = Stanza::default();
    let mut in_stanza = false;
    for (index, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(|&b| b == b' ' || b == b'\t') {
            if in_stanza {
                std::mem::take(&mut stanza).finish(&mut records);
                in_stanza = false;
            }
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if !in_stanza {
                return Err(ParseError::Line {
                    line: line_no,
                    reason: "continuation line outside a field",
                });
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(ParseError::Line {
                line: line_no,
                reason: "expected `Field: value`",
            });
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty()
            || name
                .iter()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ParseError::Line {
                line: line_no,
                reason: "invalid field name",
            });
        }
        if !in_stanza {
            stanza.first_line = line_no;
            in_stanza = true;
        }
        let slot = if name.eq_ignore_ascii_case(b"Package") {
            &mut stanza.package
        } else if name.eq_ignore_ascii_case(b"Version") {
            &mut stanza.version
        } else if name.eq_ignore_ascii_case(b"Architecture") {
            &mut stanza.architecture
        } else if name.eq_ignore_ascii_case(b"Source") {
            &mut stanza.source
        } else if name.eq_ignore_ascii_case(b"Status") {
            &mut stanza.status
        } else if name.eq_ignore_ascii_case(b"License") {
            &mut stanza.license
        } else {
            continue;
        };
        let value = std::str::from_utf8(value).map_err(|_| ParseError::Line {
            line: line_no,
            reason: "field value is not UTF-8",
        })?;
        *slot = Some(value.trim());
    }
    if in_stanza {
        stanza.finish(&mut records);
    }
    Ok(records)
}

/// Licences named by a Debian copyright file: the value of every DEP-5
/// `License:` field (its first line, the short name or expression) and every
/// `/usr/share/common-licenses/<name>` it points to, sorted and deduplicated.
/// `none` and empty values are skipped. Never fails: a copyright file is prose
/// as often as it is DEP-5, and text that is not UTF-8 is read lossily.
pub fn copyright_licenses(data: &[u8]) -> Vec<String> {
    const COMMON: &str = "/usr/share/common-licenses/";
    let text = String::from_utf8_lossy(data);
    let mut licenses: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("License:") {
            let value = value.trim();
            if !value.is_empty() && !value.eq_ignore_ascii_case("none") {
                licenses.push(value.to_owned());
            }
        }
        let mut rest = line;
        while let Some(at) = rest.find(COMMON) {
            rest = &rest[at + COMMON.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches('.');
            if !name.is_empty() {
                licenses.push(name.to_owned());
            }
        }
    }
    licenses.sort_unstable();
    licenses.dedup();
    licenses
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::test_fixtures::{case_input, json, read};

    fn installed(data: &[u8], in_status_d: bool) -> Vec<Record> {
        parse_status(data)
            .unwrap()
            .into_iter()
            .filter(|r| r.state.has_files(in_status_d))
            .collect()
    }

    /// Every field `dpkg-query -W` prints for the 767 packages of a real
    /// Debian 12 system, binNMU source versions included.
    #[test]
    fn debian12_host_equals_dpkg_query() {
        let started = std::time::Instant::now();
        let records = installed(&read("debian12-host/status"), false);
        let elapsed = started.elapsed();
        let expected = json("debian12-host/expected-dpkg-query.json");
        let expected = expected.as_array().unwrap();
        assert_eq!(records.len(), 767);
        assert_eq!(records.len(), expected.len());
        let mut got: Vec<_> = records.iter().collect();
        got.sort_by(|a, b| (&a.package, &a.architecture).cmp(&(&b.package, &b.architecture)));
        for (record, want) in got.iter().zip(expected) {
            let field = |k: &str| want[k].as_str().unwrap();
            assert_eq!(record.package, field("package"));
            assert_eq!(record.version, field("version"), "{}", record.package);
            assert_eq!(
                record.architecture.as_deref(),
                Some(field("architecture")),
                "{}",
                record.package
            );
            assert_eq!(record.source_name, field("source"), "{}", record.package);
            assert_eq!(
                record.source_version,
                field("source_version"),
                "{}",
                record.package
            );
            assert_eq!(field("status_abbrev"), "ii");
            assert_eq!(record.state, State::Installed);
        }
        // Not a benchmark (debug build); a guard against accidental quadratic work.
        assert!(elapsed.as_millis() < 200, "parsing took {elapsed:?}");
    }

    /// Trivy's real Ubuntu 18.04 status: 91 stanzas, one `deinstall ok
    /// config-files`, 90 expected packages. Trivy splits versions into
    /// epoch/version/release; we compare against the joined dpkg spelling.
    #[test]
    fn trivy_valid_status() {
        let expected = json("trivy/fanal-dpkg/expected.json");
        let cases = expected.as_array().unwrap();
        for (name, txtar) in [
            ("valid", "valid.txtar"),
            ("corrupsed", "corrupsed.txtar"),
            ("only apt", "only-apt.txtar"),
        ] {
            let case = cases.iter().find(|c| c["test_name"] == name).unwrap();
            let want = &case["want"]["PackageInfos"][0]["Packages"];
            let want = want.as_array().unwrap();
            let archive = String::from_utf8(read(&format!("trivy/fanal-dpkg/{txtar}"))).unwrap();
            let status = txtar_file(&archive, "var/lib/dpkg/status");
            let mut got = installed(status.as_bytes(), false);
            got.sort_by(|a, b| a.package.cmp(&b.package));
            assert_eq!(got.len(), want.len(), "{name}");
            for (record, want) in got.iter().zip(want) {
                assert_eq!(record.package, want["Name"].as_str().unwrap());
                assert_eq!(
                    record.version,
                    trivy_version(want, ""),
                    "{}",
                    record.package
                );
                assert_eq!(
                    record.source_name,
                    want["SrcName"].as_str().unwrap(),
                    "{}",
                    record.package
                );
                assert_eq!(
                    record.source_version,
                    trivy_version(want, "Src"),
                    "{}",
                    record.package
                );
                assert_eq!(
                    record.architecture.as_deref(),
                    want["Arch"].as_str(),
                    "{}",
                    record.package
                );
            }
        }
    }

    /// `[epoch:]version[-release]` from trivy's split fields.
    fn trivy_version(want: &Value, prefix: &str) -> String {
        let mut out = String::new();
        if let Some(epoch) = want[format!("{prefix}Epoch")].as_u64().filter(|&e| e != 0) {
            out.push_str(&format!("{epoch}:"));
        }
        out.push_str(want[format!("{prefix}Version")].as_str().unwrap());
        if let Some(release) = want[format!("{prefix}Release")]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            out.push('-');
            out.push_str(release);
        }
        out
    }

    fn txtar_file<'a>(archive: &'a str, name: &str) -> &'a str {
        let marker = format!("-- {name} --\n");
        let start = archive.find(&marker).unwrap() + marker.len();
        let rest = &archive[start..];
        rest.find("\n-- ").map_or(rest, |end| &rest[..=end])
    }

    #[test]
    fn syft_status_d_cases() {
        let expected = json("syft/debian/expected.json");
        for case in expected.as_array().unwrap() {
            if case["test_file"] != "syft/pkg/cataloger/debian/parse_dpkg_db_test.go" {
                continue;
            }
            let input = case_input("syft/debian", case);
            let in_status_d = input.contains("status.d");
            let got = installed(&read(&input), in_status_d);
            // syft keeps the stanza `Package: no-version` without a version;
            // dpkg never records an installed package without one, so we drop it.
            let want: Vec<&Value> = case["expected"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| w.get("Version").is_some())
                .collect();
            assert_eq!(got.len(), want.len(), "{input}");
            for (record, want) in got.iter().zip(want) {
                assert_eq!(record.package, want["Package"].as_str().unwrap(), "{input}");
                assert_eq!(record.version, want["Version"].as_str().unwrap(), "{input}");
                assert_eq!(
                    record.architecture.as_deref(),
                    want["Architecture"].as_str(),
                    "{input}"
                );
                let source = want["Source"].as_str().unwrap_or(&record.package);
                assert_eq!(record.source_name, source, "{input}");
            }
            if let Some(licenses) = case.get("expectedLicenses").and_then(Value::as_array) {
                let got: Vec<_> = got.iter().filter_map(|r| r.license.as_deref()).collect();
                assert_eq!(
                    got,
                    licenses
                        .iter()
                        .map(|l| l.as_str().unwrap())
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn syft_corrupt_and_empty_status_d() {
        let err = parse_status(&read("syft/debian/var/lib/dpkg/status.d/corrupt")).unwrap_err();
        assert_eq!(
            err,
            ParseError::Line {
                line: 5,
                reason: "expected `Field: value`"
            }
        );
        assert!(
            parse_status(&read("syft/debian/var/lib/dpkg/status.d/empty"))
                .unwrap()
                .is_empty()
        );
        let distroless = parse_status(&read(
            "syft/debian/image-distroless-deb/var/lib/dpkg/status.d/libsqlite3-0",
        ))
        .unwrap();
        assert_eq!(distroless.len(), 1);
        assert_eq!(distroless[0].state, State::Unstated);
        assert!(distroless[0].state.has_files(true));
        assert_eq!(
            (
                distroless[0].source_name.as_str(),
                distroless[0].source_version.as_str()
            ),
            ("sqlite3", "3.34.1-3")
        );
    }

    #[test]
    fn states_follow_dpkg() {
        let status = b"Package: a\nStatus: install ok half-configured\nVersion: 1\n\n\
Package: b\nStatus: deinstall ok installed\nVersion: 2\n\n\
Package: c\nStatus: purge ok not-installed\nVersion: 3\n\n\
Package: d\nStatus: deinstall ok config-files\nVersion: 4\n\n\
Package: e\nVersion: 5\nSource: src (4.9-1)\n";
        let records = parse_status(status).unwrap();
        let kept: Vec<_> = records
            .iter()
            .filter(|r| r.state.has_files(false))
            .map(|r| r.package.as_str())
            .collect();
        assert_eq!(kept, ["a", "b"]);
        assert_eq!(
            (
                records[4].source_name.as_str(),
                records[4].source_version.as_str()
            ),
            ("src", "4.9-1")
        );
        assert!(parse_status(b" leading continuation\n").is_err());
        assert!(parse_status(b"Package: x\nVersion: \xff\n").is_err());
    }

    /// Licences of Debian copyright files: syft's expected lists where its
    /// test states one (the other cases expect nothing it could extract).
    #[test]
    fn syft_copyright_licenses() {
        let expected = json("syft/debian/expected.json");
        let mut compared = 0;
        for case in expected.as_array().unwrap() {
            let Some(want) = case["expected"].as_array().filter(|_| {
                case["test_file"]
                    .as_str()
                    .unwrap()
                    .ends_with("parse_copyright_test.go")
            }) else {
                continue;
            };
            let input = case_input("syft/debian", case);
            let got = copyright_licenses(&read(&input));
            assert_eq!(
                got,
                want.iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>(),
                "{input}"
            );
            compared += 1;
        }
        assert_eq!(compared, 2);
        let sqlite = copyright_licenses(&read(
            "syft/debian/image-distroless-deb/usr/share/doc/libsqlite3-0/copyright",
        ));
        assert_eq!(sqlite, ["GPL-2", "GPL-2+", "public-domain"]);
    }

    #[test]
    fn status_d_paths() {
        assert!(is_status_d_entry("/var/lib/dpkg/status.d/base-files"));
        assert!(!is_status_d_entry(
            "/var/lib/dpkg/status.d/base-files.md5sums"
        ));
        assert!(!is_status_d_entry("/var/lib/dpkg/status.d"));
        assert_eq!(
            copyright_package("/usr/share/doc/libc6/copyright"),
            Some("libc6")
        );
        assert_eq!(copyright_package("/usr/share/doc//copyright"), None);
    }
}
