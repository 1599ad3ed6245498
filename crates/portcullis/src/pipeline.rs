//! The scanning pipeline's first half (source → layers → inventory), shared by
//! every command that looks inside an image (`sbom`, `scan`, the gates).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use portcullis_inventory::{Analyzers, Inventory};
use portcullis_layers::LayerOptions;
use portcullis_report::sbom::Subject;
use portcullis_source::{
    Credentials, Digest, ErrorKind, ImageRef, Opened, Platform, SourceOptions, default_cache_dir,
};

use crate::exit::{Failure, NETWORK, REFUSED, USAGE};

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
    let reference = ImageRef::parse(image).map_err(|e| {
        let code = exit_code(e.kind());
        Failure::new(code, e)
    })?;
    let progress =
        (!args.quiet && std::io::stderr().is_terminal()).then(|| Arc::new(PullProgress::new()));
    let mut options = source_options(args)?;
    options.progress = progress
        .clone()
        .map(|p| p as Arc<dyn portcullis_source::Progress>);
    let cache_dir = options.cache_dir.clone();
    let opened = portcullis_source::open(&reference, &options)
        .map_err(|e| Failure::new(exit_code(e.kind()), e))?;
    let layer_options = LayerOptions {
        cache_dir,
        ..LayerOptions::default()
    };
    let files = portcullis_layers::collect(&opened, &Analyzers, &layer_options)
        .map_err(|e| Failure::new(exit_code(e.kind()), e))?;
    if let Some(progress) = progress {
        progress.clear();
    }
    let analysis = portcullis_inventory::analyze(&files).map_err(|e| Failure::new(REFUSED, e))?;
    for warning in &analysis.warnings {
        tracing::warn!("{warning}");
    }
    let subject = Subject {
        name: opened.name().to_owned(),
        digest: match &opened {
            Opened::Image(image) => image.manifest_digest.as_ref().map(ToString::to_string),
            Opened::Rootfs(_) => None,
        },
    };
    Ok(Scanned {
        subject,
        inventory: analysis.inventory,
    })
}

/// The source stage's options from the command line (no progress receiver).
pub fn source_options(args: &ImageArgs) -> Result<SourceOptions, Failure> {
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| Failure::new(USAGE, anyhow::anyhow!("--platform: {e}")))?;
    let credentials = match (&args.username, &args.password) {
        (Some(username), Some(password)) => Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Failure::new(
                USAGE,
                anyhow::anyhow!("--username and --password go together"),
            ));
        }
        (None, None) => None,
    };
    Ok(SourceOptions {
        cache_dir: args.cache_dir.clone().or_else(default_cache_dir),
        platform,
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        credentials,
        docker_config: None,
        progress: None,
    })
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::Refused => REFUSED,
        ErrorKind::Network => NETWORK,
    }
}

/// Progress bars for blob downloads, on stderr.
struct PullProgress {
    bars: indicatif::MultiProgress,
    by_blob: Mutex<HashMap<String, indicatif::ProgressBar>>,
}

impl PullProgress {
    fn new() -> Self {
        Self {
            bars: indicatif::MultiProgress::new(),
            by_blob: Mutex::new(HashMap::new()),
        }
    }

    fn clear(&self) {
        let _ = self.bars.clear();
    }
}

impl portcullis_source::Progress for PullProgress {
    fn started(&self, _image: &str, blob: &Digest, total: Option<u64>) {
        let bar = self
            .bars
            .add(indicatif::ProgressBar::new(total.unwrap_or(0)));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let text = blob.to_string();
        bar.set_message(text.chars().take(19).collect::<String>());
        if let Ok(mut bars) = self.by_blob.lock() {
            bars.insert(text, bar);
        }
    }

    fn advanced(&self, blob: &Digest, bytes: u64) {
        if let Ok(bars) = self.by_blob.lock()
            && let Some(bar) = bars.get(&blob.to_string())
        {
            bar.inc(bytes);
        }
    }

    fn finished(&self, blob: &Digest) {
        if let Ok(mut bars) = self.by_blob.lock()
            && let Some(bar) = bars.remove(&blob.to_string())
        {
            bar.finish_and_clear();
        }
    }
}
