pub mod admission;
pub mod check;
pub mod node;
pub mod policy;
pub mod db;
pub mod sbom;
pub mod scan;
