//! Vulnerability database: the fourth stage of the pipeline
//! (source → layers → inventory → **vulndb** → matcher → …).
//!
//! Advisories from OSV exports (JSON, the PyPA YAML, zip archives) and
//! distribution and ecosystem feeds (Alpine secdb, the Debian security
//! tracker JSON, DSA/DLA lists and OVAL, Rocky Linux OVAL, the Node.js
//! Security WG) are read into one typed model ([`model`], readers in
//! [`ingest`]), stored in a compact local database that opens in
//! milliseconds and is replaced atomically ([`db`]), carried through OCI
//! registries as an artifact ([`oci`]), and compared with exact,
//! per-ecosystem version ordering ([`version`]).

pub mod db;
pub mod ingest;
pub mod model;
pub mod oci;
pub mod severity;
pub mod update;
pub mod version;
