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
