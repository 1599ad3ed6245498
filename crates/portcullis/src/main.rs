//! `portcullis`: argument parsing and wiring of the pipeline stages.
//!
//! Each subcommand lives in `cmd/<name>.rs` with its `Args` and a `run`
//! function; this file only dispatches and turns errors into exit codes.

mod cmd;
mod exit;
mod output;
mod pipeline;

use clap::{Parser, Subcommand};

// Matching and the webhook allocate many small strings from several threads;
// mimalloc does that markedly faster than glibc's malloc (BENCHMARKS.md).
// `.cargo/config.toml` builds it to commit memory on demand, which keeps the
// peak memory of a scan where glibc's was.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps vulnerable and non-compliant containers out of Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check Kubernetes manifests against the Pod Security Standards and hardening rules.
    Check(cmd::check::Args),
    /// Validate a policy file or print the effective policy.
    Policy(cmd::policy::Args),
    /// The Kubernetes admission webhook: serve it, print its manifests, make its certificates.
    Admission(cmd::admission::Args),
    /// Audit a node's hardening: kubelet, control-plane TLS, container runtime, kernel, SSH.
    Node(cmd::node::Args),
    /// List the packages of an image (table, JSON, CycloneDX 1.6, SPDX 2.3).
    Sbom(cmd::sbom::Args),
    /// Scan an image for known vulnerabilities; the CI gate (exit 1 at --fail-on).
    Scan(cmd::scan::Args),
    /// The local vulnerability database: update, status, push, pull.
    Db(cmd::db::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit::init_logging();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Admission(args) => cmd::admission::run(args),
        Command::Node(args) => cmd::node::run(args),
        Command::Sbom(args) => cmd::sbom::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Db(args) => cmd::db::run(args),
    };
    match result {
        Ok(code) => code.into(),
        Err(failure) => failure.report(),
    }
}
