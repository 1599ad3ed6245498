//! Portcullis node audit: is this Linux node hardened to run containers?
//!
//! The node stage reads a node's filesystem — this machine, or one mounted
//! at a root directory as a DaemonSet sees its host at `/host` — and checks
//! it against a declarative catalog: every CIS Kubernetes 1.12 worker-node
//! check (kubelet files and settings, kube-proxy), control-plane TLS (API
//! server and etcd flags, PKI files), the CIS Docker 1.6 daemon checks that
//! can be read from files, containerd's `config.toml`, kernel controls
//! (SELinux, AppArmor, seccomp, the sysctls the kubelet protects) and the
//! effective `sshd_config`.
//!
//! The catalog ([`Catalog`]) is YAML embedded in the binary; each check
//! combines a few generic probes (a component setting from flags or its
//! configuration file, a file's mode and owner, a sysctl, a file's text or
//! field) with an expectation, so new checks are data. [`audit`] evaluates
//! every check and returns a [`Report`]. Nothing is ever read outside the
//! root ([`fsroot`]); a file that cannot be read or parsed is an error on
//! the checks that need it, never a failed audit.
//!
//! ```no_run
//! let catalog = portcullis_node::Catalog::builtin()?;
//! let report = portcullis_node::audit(std::path::Path::new("/"), &catalog)?;
//! println!("{} checks, {} failed", report.summary.total, report.summary.fail);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
pub mod config;
pub mod error;
mod eval;
pub mod fsroot;
mod glob;
mod node;
pub mod process;
pub mod report;
pub mod sshd;

use std::path::Path;

pub use catalog::{Benchmark, Catalog, Level};
pub use error::{CatalogError, FsError, RootError};
pub use report::{CheckResult, ComponentInfo, Report, Status, Summary};

/// Audits the node whose `/` is `root` with every check of `catalog`.
///
/// Fails only when `root` is not a readable directory; problems with
/// single files are reported on the checks that met them.
pub fn audit(root: &Path, catalog: &Catalog) -> Result<Report, RootError> {
    let node_root = fsroot::NodeRoot::new(root).map_err(|source| RootError {
        path: root.display().to_string(),
        source,
    })?;
    node_root.list_dir("/").map_err(|source| RootError {
        path: root.display().to_string(),
        source,
    })?;
    let display_root = node_root.dir().display().to_string();
    let node = node::Node::new(node_root, catalog);
    let results = catalog
        .checks
        .iter()
        .map(|check| eval::run_check(&node, check))
        .collect();
    let components = catalog
        .components
        .keys()
        .map(|name| {
            let found_by = node.component(name).and_then(|c| c.found_by.clone());
            ComponentInfo {
                name: name.clone(),
                present: found_by.is_some(),
                found_by,
            }
        })
        .collect();
    Ok(Report::new(display_root, components, results))
}
