//! The package-database fixtures the unit tests read
//! (`shared/fixtures/vulndata/pkgdb-fixtures`): one place for their path.

/// The fixture root.
const PKGDB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/vulndata/pkgdb-fixtures"
);

/// The bytes of a fixture, by path below the root; panics naming the file.
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{PKGDB}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A JSON fixture (the expected outputs of trivy, syft and go-rpmdb).
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The input file of one case of an upstream expected-output list (trivy's
/// and syft's `{"input": "testdata/…"}`), as a fixture path below `dir`.
pub fn case_input(dir: &str, case: &serde_json::Value) -> String {
    let input = case["input"]
        .as_str()
        .and_then(|i| i.strip_prefix("testdata/"))
        .unwrap_or_else(|| panic!("{dir}: case without a testdata/ input: {case}"));
    format!("{dir}/{input}")
}
