//! `portcullis node audit`: CIS-style hardening audit of this node, or of a
//! node filesystem mounted at `--root`.

use std::path::PathBuf;

use anyhow::anyhow;
use portcullis_node::{Catalog, Level};
use portcullis_report::node as render;

use crate::exit::{Failure, GATE_FAILED, OK, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Audit the node: kubelet and kube-proxy (CIS Kubernetes 1.12 section 4),
    /// control-plane TLS, Docker (CIS Docker 1.6) and containerd, kernel
    /// controls (SELinux, AppArmor, seccomp, sysctls) and sshd.
    Audit(AuditArgs),
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The node's root filesystem (a DaemonSet mounts the host at /host).
    /// Processes are read from ROOT/proc, kernel state from ROOT/proc and
    /// ROOT/sys; nothing outside ROOT is read.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// A catalog in the built-in format whose checks are added to the
    /// built-in ones, or patch them by id (level, title, scored,
    /// remediation, test; `enabled: false` turns a check off).
    #[arg(long, value_name = "FILE")]
    pub checks: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit 1 when a scored check at or above this level fails (`none`
    /// never fails the gate).
    #[arg(long, value_enum, default_value_t = FailOn::Info)]
    pub fail_on: FailOn,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Node audit output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text, then what to fix.
    Table,
    /// Portcullis JSON: summary, components and every result.
    Json,
    /// JUnit XML: one suite per section, one case per check.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

/// The gate threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Never fail the gate.
    None,
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    fn level(self) -> Option<Level> {
        match self {
            Self::None => None,
            Self::Info => Some(Level::Info),
            Self::Low => Some(Level::Low),
            Self::Medium => Some(Level::Medium),
            Self::High => Some(Level::High),
            Self::Critical => Some(Level::Critical),
        }
    }
}

pub fn run(args: Args) -> Result<u8, Failure> {
    match args.command {
        NodeCommand::Audit(args) => audit(args),
    }
}

fn audit(args: AuditArgs) -> Result<u8, Failure> {
    let catalog = match &args.checks {
        None => Catalog::builtin(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    USAGE,
                    anyhow!("cannot read --checks {}: {e}", path.display()),
                )
            })?;
            Catalog::builtin_with(&path.display().to_string(), &text)
        }
    }
    .map_err(|e| Failure::new(USAGE, e))?;
    let report =
        portcullis_node::audit(&args.root, &catalog).map_err(|e| Failure::new(USAGE, e))?;
    let rendered = match args.format {
        Format::Table => render::table(&report),
        Format::Json => render::json(&report),
        Format::Junit => render::junit(&report),
        Format::Sarif => render::sarif(&report),
    };
    crate::output::write(args.output.as_deref(), &rendered)?;
    let failed = args
        .fail_on
        .level()
        .is_some_and(|threshold| report.failures_at(threshold).next().is_some());
    Ok(if failed { GATE_FAILED } else { OK })
}
