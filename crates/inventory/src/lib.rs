//! Inventory: turns the files of an image into packages.
//!
//! Third stage of the pipeline (source → layers → **inventory** → vulndb → …).
//! Analyzers ask for paths with [`wants`]; the `layers` stage keeps only those
//! files and hands them back as a [`portcullis_layers::FileSet`]; [`analyze`]
//! turns them into an [`Inventory`]: the detected distribution and every package
//! with its ecosystem, exact version, source package, purl and location.

mod package;

pub use package::{Distro, Ecosystem, Inventory, Location, Package};
