//! The scanning pipeline's first half (source → layers → inventory), shared by
//! every command that looks inside an image (`sbom`, `scan`, the gates).

use std::path::PathBuf;

use portcullis_inventory::Inventory;
use portcullis_report::sbom::Subject;

use crate::exit::{Failure, USAGE};

/// How to reach an image: options shared by every command that reads one.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Cache for blobs and per-layer inventories (default: the user's cache
    /// directory, e.g. `~/.cache/portcullis`).
    #[arg(long, value_name = "DIR", env = "PORTCULLIS_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Platform to choose from a manifest list, `os/arch[/variant]`
    /// (default: the host's).
    #[arg(long, value_name = "OS/ARCH", global = true)]
    pub platform: Option<String>,
    /// Allow plain HTTP (and unverified TLS) to the registry.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// PEM file with the CA certificates that sign the registry's certificate.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Registry user name (else `~/.docker/config.json` and its helpers).
    #[arg(long, env = "PORTCULLIS_USERNAME", global = true)]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(
        long,
        env = "PORTCULLIS_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    /// No progress output on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// What the first half of the pipeline found in one image.
#[derive(Debug)]
pub struct Scanned {
    pub subject: Subject,
    pub inventory: Inventory,
}

/// Opens `image`, collects the files the analyzers want from its layers and
/// inventories them.
pub fn inventory(image: &str, args: &ImageArgs) -> Result<Scanned, Failure> {
    let _ = args;
    Err(Failure::new(
        USAGE,
        anyhow::anyhow!("{image}: image sources are not wired yet"),
    ))
}
