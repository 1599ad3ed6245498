//! `portcullis db update|status|push|pull`: the local vulnerability database.

use std::path::PathBuf;

use portcullis_source::{ErrorKind, SourceOptions};
use portcullis_vulndb::db::{self, Database, DbError, Metadata};
use portcullis_vulndb::oci::{self, OciError};
use portcullis_vulndb::update::{self, UpdateError};

use crate::exit::{Failure, NETWORK, OK, REFUSED, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    /// The database file (default: `$XDG_CACHE_HOME/portcullis/db/vulndb.bin`
    /// or `~/.cache/portcullis/db/vulndb.bin`).
    #[arg(long, value_name = "PATH", env = "PORTCULLIS_DB", global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Fetch advisories and rebuild the database (atomically: an interrupted
    /// update leaves the previous database in place).
    Update(UpdateArgs),
    /// Show the database's sources, dates, counts and age.
    Status(StatusArgs),
    /// Push the database to an OCI registry as an artifact (blobs the
    /// registry already has are not sent again).
    Push(RefArgs),
    /// Pull the database from an OCI registry; it replaces the local one only
    /// once verified and opened.
    Pull(PullArgs),
}

/// Keeping the database fresh from a long-running process (the webhook's
/// refresher container): the webhook reloads the file whenever it is replaced.
#[derive(Debug, clap::Args)]
pub struct Repeat {
    /// Keep running and repeat every SECONDS (e.g. 21600 for six hours). A
    /// failed round is reported and the previous database stays in place;
    /// the next round tries again.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..))]
    pub every_seconds: Option<u64>,
}

impl Repeat {
    /// Runs `round` once, or forever every `--every-seconds` (a failure is
    /// printed, not fatal, once repeating).
    fn run(&self, mut round: impl FnMut() -> Result<u8, Failure>) -> Result<u8, Failure> {
        let Some(seconds) = self.every_seconds else {
            return round();
        };
        loop {
            if let Err(failure) = round() {
                eprintln!("error: {}; next round in {seconds} s", failure.message());
            }
            std::thread::sleep(std::time::Duration::from_secs(seconds));
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub registry: RefArgs,
    #[command(flatten)]
    pub repeat: Repeat,
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// A source to read instead of the defaults (OSV exports): a URL, a file
    /// (OSV JSON/YAML, zip archive, Alpine secdb, Debian tracker JSON, DSA
    /// list) or a directory of them. Repeatable.
    #[arg(long = "source", value_name = "URL|PATH")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub repeat: Repeat,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

/// The registry options of image commands; credentials default to
/// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` and its helpers.
#[derive(Debug, clap::Args)]
pub struct RefArgs {
    /// Registry reference, e.g. `registry.example.internal/portcullis/db:1`
    /// (`db pull` also takes `@sha256:…`).
    pub reference: String,
    /// Allow plain HTTP (and unverified TLS) to the registry.
    #[arg(long)]
    pub insecure: bool,
    /// PEM file with the CA certificates that sign the registry's certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Registry user name (else the Docker config and its credential helpers).
    #[arg(long, env = "PORTCULLIS_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "PORTCULLIS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

impl RefArgs {
    /// The source stage's options, mapped as for images (one place checks
    /// that `--username` and `--password` go together).
    fn options(&self) -> Result<SourceOptions, Failure> {
        crate::pipeline::source_options(&crate::pipeline::ImageArgs {
            cache_dir: None,
            platform: None,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            quiet: true,
        })
    }
}

fn oci_failure(error: OciError) -> Failure {
    let code = match &error {
        OciError::Registry(e) => match e.kind() {
            ErrorKind::Usage => USAGE,
            ErrorKind::Refused => REFUSED,
            ErrorKind::Network => NETWORK,
        },
        // A corrupt database from the registry is refused content; a missing
        // or unreadable local one is unusable input.
        OciError::Database(DbError::Corrupt { .. } | DbError::Format { .. })
        | OciError::NotADatabase { .. } => REFUSED,
        OciError::Database(_) | OciError::NeedsTag { .. } | OciError::Manifest { .. } => USAGE,
    };
    Failure::new(code, error)
}

/// The database path from `--db` or the default cache location.
pub fn database_path(db: Option<PathBuf>) -> Result<PathBuf, Failure> {
    db.or_else(db::default_path).ok_or_else(|| {
        Failure::new(
            USAGE,
            anyhow::anyhow!(
                "no cache directory (neither XDG_CACHE_HOME nor HOME is set): pass --db PATH"
            ),
        )
    })
}

/// Maps a database error to its exit code: a missing or corrupt database is
/// unusable input.
pub fn db_failure(error: DbError) -> Failure {
    Failure::new(USAGE, error)
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let path = database_path(args.db)?;
    match args.command {
        Command::Update(update_args) => {
            let sources = if update_args.sources.is_empty() {
                update::DEFAULT_SOURCES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                update_args.sources
            };
            update_args.repeat.run(|| {
                let meta = update_database(&sources, &path)?;
                eprintln!(
                    "updated {}: {} advisories, {} packages from {} source{}{}",
                    path.display(),
                    meta.advisories,
                    meta.packages,
                    meta.sources.len(),
                    if meta.sources.len() == 1 { "" } else { "s" },
                    skipped_note(&meta)
                );
                Ok(OK)
            })
        }
        Command::Status(status_args) => {
            let db = Database::open(&path).map_err(db_failure)?;
            let text = match status_args.format {
                StatusFormat::Json => status_json(&db),
                StatusFormat::Table => status_table(&db),
            };
            crate::output::write(None, &text)?;
            Ok(OK)
        }
        Command::Push(r) => {
            let pushed = oci::push(&path, &r.reference, &r.options()?).map_err(oci_failure)?;
            eprintln!(
                "pushed {} to {}@{}{}",
                path.display(),
                r.reference,
                pushed.manifest,
                if pushed.database.uploaded {
                    ""
                } else {
                    " (the registry already had the database blob)"
                }
            );
            Ok(OK)
        }
        Command::Pull(pull) => {
            let r = &pull.registry;
            let options = r.options()?;
            pull.repeat.run(|| {
                let meta = oci::pull(&r.reference, &path, &options).map_err(oci_failure)?;
                eprintln!(
                    "pulled {} into {}: {} advisories, built {}",
                    r.reference,
                    path.display(),
                    meta.advisories,
                    meta.built
                );
                Ok(OK)
            })
        }
    }
}

/// Runs an update and maps its failure to an exit code (4 for the network).
pub fn update_database(sources: &[String], path: &std::path::Path) -> Result<Metadata, Failure> {
    // The build time follows SOURCE_DATE_EPOCH when set: a reproducible artifact.
    update::update(sources, path, crate::output::document_timestamp()).map_err(|e: UpdateError| {
        let code = if e.is_network() { NETWORK } else { USAGE };
        Failure::new(
            code,
            anyhow::anyhow!("{e}; the previous database (if any) is unchanged"),
        )
    })
}

fn skipped_note(meta: &Metadata) -> String {
    let skipped: u64 = meta.sources.iter().map(|s| s.skipped).sum();
    if skipped == 0 {
        String::new()
    } else {
        format!(" ({skipped} entries skipped; see `portcullis db status`)")
    }
}

/// How old the database is, in seconds, from its build time.
pub fn age_seconds(meta: &Metadata) -> Option<i64> {
    let built =
        time::OffsetDateTime::parse(&meta.built, &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some((time::OffsetDateTime::now_utc() - built).whole_seconds())
}

fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} seconds"),
        s if s < 7200 => format!("{} minutes", s / 60),
        s if s < 172_800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn status_table(db: &Database) -> String {
    let meta = db.metadata();
    let mut out = format!(
        "database: {}\nbuilt: {}{}\nadvisories: {} ({} withdrawn left out)\npackages: {}\naffected records: {}\necosystems: {}\n\n",
        db.path().display(),
        meta.built,
        age_seconds(meta)
            .map(|a| format!(" ({} ago)", human_age(a)))
            .unwrap_or_default(),
        meta.advisories,
        meta.withdrawn,
        meta.packages,
        meta.affected,
        meta.ecosystems.len()
    );
    let mut table = portcullis_report::table::Table::new([
        "SOURCE",
        "DOCUMENTS",
        "ADVISORIES",
        "SKIPPED",
        "NEWEST",
    ]);
    for source in &meta.sources {
        table.row([
            source.location.clone(),
            source.documents.to_string(),
            source.advisories.to_string(),
            source.skipped.to_string(),
            source.newest_modified.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&table.render());
    for source in meta.sources.iter().filter(|s| s.skipped > 0) {
        out.push_str(&format!(
            "\nskipped in {} ({}):\n",
            source.location, source.skipped
        ));
        for skip in source.skip_reasons.iter().take(10) {
            out.push_str(&format!("  {}: {}\n", skip.location, skip.reason));
        }
        if source.skipped > 10 {
            out.push_str(&format!(
                "  … and {} more (see --format json)\n",
                source.skipped - 10
            ));
        }
    }
    out
}

fn status_json(db: &Database) -> String {
    let meta = db.metadata();
    let value = serde_json::json!({
        "path": db.path().display().to_string(),
        "ageSeconds": age_seconds(meta),
        "metadata": meta,
    });
    portcullis_report::pretty_json(&value)
}
