//! One test per vector file in `../shared/fixtures/vulndata/version-vectors`:
//! every row must agree with the reference implementation, except rows listed
//! in the test with the reason the reference itself rejects them.

use std::cmp::Ordering;
use std::path::PathBuf;

use portcullis_vulndb::version::{Scheme, apk, go, rubygems};

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata/version-vectors"
    ))
}

fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The data rows of a vector file (header skipped), fields unescaped.
fn rows(file: &str) -> Vec<Vec<String>> {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

fn expected_order(field: &str) -> Ordering {
    match field {
        "-1" => Ordering::Less,
        "0" => Ordering::Equal,
        "1" => Ordering::Greater,
        other => panic!("bad expected value {other:?}"),
    }
}

/// Runs a comparison file; `skip` lists (left, right, reason) rows the
/// reference implementation itself rejects.
fn check_comparisons(
    file: &str,
    skip: &[(&str, &str, &str)],
    compare: impl Fn(&str, &str, &[String]) -> Result<Ordering, String>,
) {
    check_comparisons_rejecting(file, skip, None, compare);
}

/// Rows where the reference rejects one side as invalid: the predicate that
/// says so, the reason, and how many rows the file has of them.
type Rejected<'a> = (&'a dyn Fn(&str) -> bool, &'a str, usize);

fn check_comparisons_rejecting(
    file: &str,
    skip: &[(&str, &str, &str)],
    rejected: Option<Rejected<'_>>,
    compare: impl Fn(&str, &str, &[String]) -> Result<Ordering, String>,
) {
    let rows = rows(file);
    assert!(!rows.is_empty(), "{file} has no rows");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut rejected_rows = 0;
    for row in &rows {
        let [left, right, expected, rest @ ..] = row.as_slice() else {
            panic!("{file}: short row {row:?}");
        };
        if skip.iter().any(|(l, r, _)| l == left && r == right) {
            continue;
        }
        if let Some((invalid, _, _)) = &rejected
            && (invalid(left) || invalid(right))
        {
            rejected_rows += 1;
            continue;
        }
        checked += 1;
        match compare(left, right, rest) {
            Ok(got) if got == expected_order(expected) => {}
            Ok(got) => failures.push(format!(
                "{left:?} vs {right:?}: expected {expected}, got {got:?}"
            )),
            Err(e) => failures.push(format!("{left:?} vs {right:?}: error {e}")),
        }
    }
    if let Some((_, reason, expected_rejected)) = rejected {
        assert_eq!(
            rejected_rows, expected_rejected,
            "{file}: rows rejected because {reason}"
        );
    }
    assert!(checked > 0, "{file}: no row checked");
    assert!(
        failures.is_empty(),
        "{file}: {} of {checked} rows fail:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn scheme(scheme: Scheme) -> impl Fn(&str, &str, &[String]) -> Result<Ordering, String> {
    move |a, b, _| scheme.compare(a, b).map_err(|e| e.to_string())
}

#[test]
fn dpkg_tsv() {
    check_comparisons("dpkg.tsv", &[], scheme(Scheme::Dpkg));
}

#[test]
fn dpkg_debian12_oracle_tsv() {
    check_comparisons("dpkg-debian12-oracle.tsv", &[], scheme(Scheme::Dpkg));
}

#[test]
fn apk_tsv() {
    check_comparisons("apk.tsv", &[], scheme(Scheme::Apk));
}

#[test]
fn rpm_tsv() {
    // rpm.tsv holds rpmvercmp cases (one field), not full labels.
    check_comparisons("rpm.tsv", &[], |a, b, _| {
        Ok(portcullis_vulndb::version::rpm::rpmvercmp(a, b))
    });
}

#[test]
fn rpm_almalinux_oracle_tsv() {
    check_comparisons("rpm-almalinux-oracle.tsv", &[], scheme(Scheme::Rpm));
}

#[test]
fn pep440_tsv() {
    check_comparisons("pep440.tsv", &[], scheme(Scheme::Pep440));
}

#[test]
fn semver_npm_tsv() {
    check_comparisons("semver-npm.tsv", &[], scheme(Scheme::Npm));
}

#[test]
fn cargo_semver_tsv() {
    check_comparisons("cargo-semver.tsv", &[], |a, b, rest| {
        let parse = |v: &str| semver::Version::parse(v).map_err(|e| e.to_string());
        let (a, b) = (parse(a)?, parse(b)?);
        // Cargo's `Ord` orders build metadata; SemVer precedence does not.
        Ok(
            if rest.first().is_some_and(|f| f == "build-metadata-ordered") {
                a.cmp(&b)
            } else {
                a.cmp_precedence(&b)
            },
        )
    });
}

#[test]
fn go_semver_tsv() {
    check_comparisons("go-semver.tsv", &[], |a, b, _| Ok(go::compare(a, b)));
}

#[test]
fn maven_tsv() {
    check_comparisons("maven.tsv", &[], scheme(Scheme::Maven));
}

#[test]
fn rubygems_tsv() {
    check_comparisons("rubygems.tsv", &[], scheme(Scheme::RubyGems));
}

/// Runs a file whose rows end in a boolean (`expected` column `expected_col`).
fn check_bool_rows(
    file: &str,
    expected_col: usize,
    skip: &[(&str, &str)],
    eval: impl Fn(&[String]) -> Option<bool>,
) {
    let rows = rows(file);
    assert!(!rows.is_empty(), "{file} has no rows");
    let mut failures = Vec::new();
    for row in &rows {
        if skip
            .iter()
            .any(|(first, _)| row.first().is_some_and(|f| f == first))
        {
            continue;
        }
        let expected = match row.get(expected_col).map(String::as_str) {
            Some("true") => true,
            Some("false") => false,
            other => panic!("{file}: bad expected {other:?} in {row:?}"),
        };
        match eval(row) {
            Some(got) if got == expected => {}
            got => failures.push(format!("{row:?}: got {got:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{file}: {} of {} rows fail:\n{}",
        failures.len(),
        rows.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn apk_operators_tsv() {
    check_bool_rows("apk-operators.tsv", 3, &[], |row| {
        apk::satisfies(&row[0], &row[1], &row[2])
    });
}

#[test]
fn apk_validity_tsv() {
    check_bool_rows("apk-validity.tsv", 1, &[], |row| {
        Some(apk::is_valid(&row[0]))
    });
}

#[test]
fn go_semver_canonical_tsv() {
    let rows = rows("go-semver-canonical.tsv");
    for row in &rows {
        let parsed = go::GoVersion::parse(&row[0]).filter(|_| row[0].starts_with('v'));
        assert_eq!(
            parsed.is_some(),
            row[1] == "true",
            "validity of {:?}",
            row[0]
        );
        if let Some(v) = parsed {
            assert_eq!(v.canonical(), row[2], "canonical of {:?}", row[0]);
        }
    }
}

#[test]
fn rubygems_validity_tsv() {
    check_bool_rows("rubygems-validity.tsv", 1, &[], |row| {
        Some(rubygems::is_valid(&row[0]))
    });
}

#[test]
fn rubygems_requirements_tsv() {
    check_bool_rows("rubygems-requirements.tsv", 2, &[], |row| {
        rubygems::satisfies(&row[0], &row[1])
    });
}

#[test]
fn cargo_semver_req_tsv() {
    check_bool_rows("cargo-semver-req.tsv", 2, &[], |row| {
        let version = semver::Version::parse(&row[0]).ok()?;
        let req = semver::VersionReq::parse(&row[1]).ok()?;
        Some(req.matches(&version))
    });
}

#[test]
fn pep440_validity_tsv() {
    check_bool_rows("pep440-validity.tsv", 1, &[], |row| {
        Some(row[0].parse::<pep440_rs::Version>().is_ok())
    });
}

#[test]
fn pep440_normalization_tsv() {
    let rows = rows("pep440-normalization.tsv");
    let mut failures = Vec::new();
    for row in &rows {
        match row[0].parse::<pep440_rs::Version>() {
            Ok(_)
                if portcullis_vulndb::version::pep440_parse(&row[0])
                    .is_ok_and(|v| v.to_string() == row[1]) => {}
            _ if portcullis_vulndb::version::pep440_parse(&row[0])
                .is_ok_and(|v| v.to_string() == row[1]) => {}
            other => failures.push(format!(
                "{:?} -> {:?}, expected {:?}",
                row[0],
                other.map(|v| v.to_string()),
                row[1]
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pep440_specifiers_tsv() {
    // pep440_rs 0.7 excludes `3.0.0a7` from `<3.0.0a8`; PEP 440 (and packaging)
    // only excludes pre-releases of the *specified* version when it is final.
    check_bool_rows(
        "pep440-specifiers.tsv",
        2,
        &[(
            "3.0.0a7",
            "pep440_rs excludes a pre-release from `<` a pre-release",
        )],
        |row| {
            let version: pep440_rs::Version = row[0].parse().ok()?;
            let spec: pep440_rs::VersionSpecifiers = row[1].parse().ok()?;
            Some(spec.contains(&version))
        },
    );
}

#[test]
fn semver_npm_validity_tsv() {
    check_bool_rows("semver-npm-validity.tsv", 1, &[], |row| {
        let loose = row.get(2).is_some_and(|f| f.contains("loose"));
        let text = if loose {
            row[0].trim()
        } else {
            row[0].as_str()
        };
        Some(nodejs_semver::Version::parse(text).is_ok())
    });
}

#[test]
fn semver_npm_ranges_tsv() {
    check_bool_rows(
        "semver-npm-ranges.tsv",
        2,
        NODEJS_SEMVER_CRATE_DIFFERS,
        |row| {
            // node-semver's `satisfies` is false for a version it cannot parse.
            let Ok(version) = nodejs_semver::Version::parse(row[0].trim()) else {
                return Some(false);
            };
            let range = nodejs_semver::Range::parse(&row[1]).ok()?;
            Some(range.satisfies(&version))
        },
    );
}

/// osv-scalibr's per-ecosystem fixtures, for the ecosystems Portcullis compares.
fn scalibr(file: &str, scheme_for: Scheme, skip: &[(&str, &str, &str)]) {
    check_comparisons(&format!("osv-scalibr/{file}"), skip, scheme(scheme_for));
}

fn scalibr_rejecting(file: &str, scheme_for: Scheme, rejected: Rejected<'_>) {
    check_comparisons_rejecting(
        &format!("osv-scalibr/{file}"),
        &[],
        Some(rejected),
        scheme(scheme_for),
    );
}

/// Versions apk-tools 3 rejects (a digit right after a letter, `6.6.2p1`)
/// are compared as apk-tools 2 does, which installed them; rows neither
/// accepts are listed here.
const APK_REJECTS: &str = "neither apk-tools 3 nor apk-tools 2 accepts these versions";
const PEP440_REJECTS: &str =
    "legacy, non-PEP 440 versions that `packaging` itself rejects (README: 69 / 11 rows)";

#[test]
fn scalibr_alpine_versions_generated() {
    scalibr_rejecting(
        "alpine-versions-generated.tsv",
        Scheme::Apk,
        (&|v| !apk::is_valid_any(v), APK_REJECTS, 0),
    );
}

#[test]
fn scalibr_alpine_versions() {
    // Hand-written rows where a letter follows `.`: apk-tools 2's tokenizer
    // (the one that accepts them) reads `.r1` as the number 0 then `r1`, so
    // it orders these the other way from osv-scalibr's own expectation.
    let apk2_differs = [
        ("0.r1", "0r2", "apk-tools 2 reads `.r` as an empty number"),
        (
            "0.8.21.r2",
            "0.8.21r2",
            "apk-tools 2 reads `.r` as an empty number",
        ),
    ];
    check_comparisons_rejecting(
        "osv-scalibr/alpine-versions.tsv",
        &apk2_differs,
        Some((&|v| !apk::is_valid_any(v), APK_REJECTS, 16)),
        scheme(Scheme::Apk),
    );
}

#[test]
fn scalibr_debian_versions_generated() {
    scalibr("debian-versions-generated.tsv", Scheme::Dpkg, &[]);
}

#[test]
fn scalibr_debian_versions() {
    scalibr("debian-versions.tsv", Scheme::Dpkg, &[]);
}

#[test]
fn scalibr_redhat_versions() {
    scalibr("redhat-versions.tsv", Scheme::Rpm, &[]);
}

#[test]
fn scalibr_pypi_versions_generated() {
    let invalid = |v: &str| portcullis_vulndb::version::pep440_parse(v).is_err();
    scalibr_rejecting(
        "pypi-versions-generated.tsv",
        Scheme::Pep440,
        (&invalid, PEP440_REJECTS, 69),
    );
}

#[test]
fn scalibr_pypi_versions() {
    let invalid = |v: &str| portcullis_vulndb::version::pep440_parse(v).is_err();
    scalibr_rejecting(
        "pypi-versions.tsv",
        Scheme::Pep440,
        (&invalid, PEP440_REJECTS, 11),
    );
}

#[test]
fn scalibr_maven_versions_generated() {
    scalibr(
        "maven-versions-generated.tsv",
        Scheme::Maven,
        MAVEN_MASTER_DIFFERS,
    );
}

#[test]
fn scalibr_maven_versions() {
    scalibr("maven-versions.tsv", Scheme::Maven, MAVEN_MASTER_DIFFERS);
}

#[test]
fn scalibr_rubygems_versions_generated() {
    scalibr("rubygems-versions-generated.tsv", Scheme::RubyGems, &[]);
}

#[test]
fn scalibr_rubygems_versions() {
    let invalid = |v: &str| !rubygems::is_valid(v);
    let reason = "Gem::Version rejects `1beta` and `1gamma` (README: 2 rows invalid)";
    check_comparisons_rejecting(
        "osv-scalibr/rubygems-versions.tsv",
        &[],
        Some((&invalid, reason, 2)),
        scheme(Scheme::RubyGems),
    );
}

#[test]
fn scalibr_semver_versions() {
    let invalid = |v: &str| portcullis_vulndb::version::semver::parse(v).is_err();
    let reason = "the Rust `semver` crate rejects integers above u64::MAX and 4-component versions (README: 3 rows)";
    check_comparisons_rejecting(
        "osv-scalibr/semver-versions.tsv",
        &[],
        Some((&invalid, reason, 3)),
        scheme(Scheme::SemVer),
    );
}

/// osv-scalibr's Maven fixtures predate Maven 4's `ComparableVersion` (the
/// reference of maven.tsv, which passes whole): `X-1` is now the combination
/// `X1`, and a combination sorts differently against `.X` qualifiers. These
/// rows follow the older ordering; the reference orders them the other way.
const MAVEN_MASTER_DIFFERS: &[(&str, &str, &str)] = &[
    (
        "1-1.foo-bar-1-baz-0.1",
        "1-1.foo-bar1baz-.1",
        "Maven 4: `bar-1` is the combination `bar1`",
    ),
    (
        "1-1",
        "1-ga-1",
        "Maven 4: `ga-1` is the combination `ga1`, below a number",
    ),
    ("3.2.0rc2", "3.2.0-rc.1", "Maven 4 combination ordering"),
    (
        "1.0.0-RC16",
        "1.0.0.RC8-beta",
        "Maven 4 combination ordering",
    ),
    (
        "1.0.0-gradle-rework-beta3",
        "1.0.0.RC7-3",
        "Maven 4 combination ordering",
    ),
    ("2.9.0-1", "2.9.0.RC1", "Maven 4 combination ordering"),
    ("6.1.12.rc5", "6.1.12rc1", "Maven 4 combination ordering"),
    (
        "1.0.0-beta11",
        "1.0.0-beta.6",
        "Maven 4 combination ordering",
    ),
    (
        "1.1.31.sec10",
        "1.1.31_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.1.34.sec10",
        "1.1.34_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.1.46.sec10",
        "1.1.46_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.8.sec10_noneautotype",
        "1.2.8_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.31.sec10",
        "1.2.31_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.48.sec10",
        "1.2.48_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.50.sec10",
        "1.2.50_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.54.sec10",
        "1.2.54_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.57.sec10",
        "1.2.57_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.60.sec10",
        "1.2.60_noneautotype",
        "Maven 4 combination ordering",
    ),
    (
        "1.2.67.sec10",
        "1.2.67_noneautotype",
        "Maven 4 combination ordering",
    ),
    ("1.0.0rc0", "1.0.beta8", "Maven 4 combination ordering"),
    ("1.5.9.RC1", "1.5.9-RC0", "Maven 4 combination ordering"),
    (
        "3.5.0-CR-2",
        "3.5.0.Beta-1",
        "Maven 4: `CR-2` is the combination `rc2`",
    ),
    (
        "1.1.0-01-glassfish",
        "1.1.0.Beta1",
        "Maven 4 combination ordering",
    ),
    ("v3.7.0rc2", "v3.7.0-rc.3", "Maven 4 combination ordering"),
];

/// Ranges are not used for matching (OSV ranges are explicit events), but the
/// file is checked against the `nodejs-semver` crate: it has no
/// `includePrerelease` option and no bare `x` range. Rows keyed by version.
const NODEJS_SEMVER_CRATE_DIFFERS: &[(&str, &str)] = &[
    ("0.0.9", "`~x`: bare x range unsupported"),
    ("1.2.3", "`^x`: bare x range unsupported"),
    ("1.9.7", "`1.0.0 - x`: bare x range unsupported"),
    ("2.0.0-pre.0", "includePrerelease"),
    ("2.1.0-pre.0", "includePrerelease"),
    ("1.1.0-a", "includePrerelease"),
    ("1.1.1-a", "includePrerelease"),
    ("1.0.0-rc1", "includePrerelease"),
    ("1.0.1-rc1", "includePrerelease"),
    ("1.1.0-rc1", "includePrerelease"),
    ("2.0.0-pre", "includePrerelease"),
    ("1.0.0-pre", "includePrerelease"),
    ("0.7.0-asdf", "includePrerelease"),
    ("1.1.0-pre", "includePrerelease"),
];
