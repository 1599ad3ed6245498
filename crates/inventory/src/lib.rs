//! Inventory: turns the files of an image into packages.
//!
//! Third stage of the pipeline (source → layers → **inventory** → vulndb → …).
//! [`Analyzers`] is the [`PathFilter`](portcullis_layers::PathFilter) that
//! tells the `layers` stage which files to keep; [`analyze`] turns the kept
//! [`FileSet`](portcullis_layers::FileSet) into an [`Inventory`]: the detected
//! distribution and every package with its ecosystem, exact version,
//! architecture, source package, licences, purl and location (layer and path).
//!
//! Analyzers:
//! - OS release: `/etc/os-release`, `/usr/lib/os-release`, then
//!   `/etc/debian_version`, `/etc/alpine-release`, `/etc/redhat-release`…
//! - dpkg, module [`dpkg`]: `/var/lib/dpkg/status`, distroless `status.d/`, licences from
//!   `/usr/share/doc/<package>/copyright`.
//! - apk, module [`apk`]: `/lib/apk/db/installed`.
//! - rpm, module [`rpm`]: sqlite, Berkeley DB and ndb databases, read by hand.
//! - Language ecosystems (installed state): Python, npm, RubyGems, Composer.
//!
//! Each OS package is attributed to the layer that introduced it, read from
//! the earlier versions of its database file that lower layers wrote
//! (module `attribution`).
//!
//! A corrupt OS package database fails the whole inventory
//! ([`InventoryError`]); an unreadable language manifest becomes a
//! [`Warning`] and the rest goes on.

mod analyze;
pub mod apk;
mod attribution;
pub mod dpkg;
mod error;
mod filter;
mod lang;
mod os_release;
mod package;
mod purl;
pub mod rpm;
#[cfg(test)]
mod test_fixtures;

pub use analyze::{Analysis, analyze};
pub use error::{InventoryError, ParseError, Warning};
pub use filter::{Analyzers, wants};
pub use lang::{gemspec_fields, python_metadata};
pub use os_release::parse_os_release;
pub use package::{Distro, Ecosystem, Inventory, Location, Package};
