//! End-to-end tests through the `portcullis` binary: one test binary, one
//! module per subcommand.

mod admission;
mod check;
mod common;
mod node;
mod sbom;
mod scan;
mod source;
