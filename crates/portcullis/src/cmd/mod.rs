pub mod admission;
pub mod sbom;
