pub mod admission;
pub mod check;
pub mod policy;
pub mod sbom;
