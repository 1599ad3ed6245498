//! `portcullis sbom IMAGE`: list the packages of an image.

use crate::exit::{Failure, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `oci:DIR[:TAG]`, `docker-archive:TAR`, `rootfs:DIR` or a
    /// registry reference `HOST/REPO[:TAG|@DIGEST]`.
    pub image: String,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    Err(Failure::new(USAGE, anyhow::anyhow!("sbom of {} is not wired yet", args.image)))
}
