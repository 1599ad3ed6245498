pub mod admission;
pub mod check;
pub mod db;
pub mod node;
pub mod policy;
pub mod sbom;
pub mod scan;
