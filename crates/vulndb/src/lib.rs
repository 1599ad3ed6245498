//! Vulnerability database: the fourth stage of the pipeline
//! (source → layers → inventory → **vulndb** → matcher → …).
//!
//! Advisories from OSV exports and distribution feeds (Alpine secdb, Debian
//! security tracker) are read into one typed model ([`model`]), stored in a
//! compact local database that opens in milliseconds and is replaced
//! atomically ([`db`]), and compared with exact, per-ecosystem version
//! ordering ([`version`]).

pub mod db;
pub mod ingest;
pub mod model;
pub mod oci;
pub mod severity;
pub mod update;
pub mod version;
