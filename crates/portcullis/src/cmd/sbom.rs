//! `portcullis sbom IMAGE`: list the packages of an image.

use std::path::PathBuf;

use portcullis_report::sbom::{self, DocumentInfo};

use crate::exit::{Failure, OK};
use crate::pipeline::{self, ImageArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `oci:DIR[:TAG]`, `docker-archive:TAR`, `rootfs:DIR` or a
    /// registry reference `HOST/REPO[:TAG|@DIGEST]` (`debian:12` means
    /// `docker.io/library/debian:12`).
    pub image: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image_args: ImageArgs,
}

/// SBOM output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// Portcullis JSON: subject, distribution and packages.
    Json,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let scanned = pipeline::inventory(&args.image, &args.image_args)?;
    let info = DocumentInfo {
        created: crate::output::document_timestamp(),
    };
    let rendered = match args.format {
        Format::Table => sbom::table(&scanned.inventory),
        Format::Json => sbom::json(&scanned.subject, &scanned.inventory),
        Format::Cyclonedx => sbom::cyclonedx(&scanned.subject, &scanned.inventory, &info),
        Format::Spdx => sbom::spdx(&scanned.subject, &scanned.inventory, &info),
    };
    crate::output::write(args.output.as_deref(), &rendered)?;
    Ok(OK)
}
