//! Reports: the last stage of the pipeline, turning results into what people
//! and tools read.
//!
//! Shared format models live here once (SARIF 2.1.0, CycloneDX 1.6, SPDX 2.3,
//! an aligned text table); each gate has a module that renders its own results
//! with them (`sbom` for inventories, and one module per other gate).

pub mod check;
pub mod cyclonedx;
pub mod findings;
pub mod node;
pub mod sarif;
pub mod sbom;
pub mod spdx;
pub mod table;

/// A JSON document as every report prints it: pretty, ending in a newline.
///
/// The report types serialise without failing (plain data, string keys); if
/// one ever did fail, the output is still JSON, an object naming the error.
pub fn pretty_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("cannot serialise the report: {e}") }).to_string()
    });
    text.push('\n');
    text
}
