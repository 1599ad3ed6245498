//! `portcullis scan IMAGE`: the CI gate. Inventories the image (the same
//! pipeline as `sbom`), matches it against the vulnerability database,
//! applies ignore files, policy exceptions and VEX, prints the findings and
//! fails (exit 1) when one at or above `--fail-on` remains.

use std::collections::BTreeSet;
use std::path::PathBuf;

use portcullis_matcher::suppress::{self, Filters, IgnoreRule};
use portcullis_report::findings::{self, DatabaseInfo, ScanResult};
use portcullis_report::sbom::DocumentInfo;
use portcullis_vulndb::db::Database;
use portcullis_vulndb::model::Level;

use crate::cmd::db::{age_seconds, database_path, db_failure};
use crate::exit::{Failure, GATE_FAILED, OK, USAGE};
use crate::pipeline::{self, ImageArgs};

/// A database older than this is stale.
const STALE_AFTER_SECONDS: i64 = 24 * 3600;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `oci:DIR[:TAG]`, `docker-archive:TAR`, `rootfs:DIR` or a
    /// registry reference `HOST/REPO[:TAG|@DIGEST]`.
    pub image: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only report these severities (comma-separated: critical,high,medium,low,negligible,unknown).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub severity: Vec<String>,
    /// Hide findings that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Exit 1 when a finding at or above this severity remains
    /// (critical, high, medium, low; `none` never fails).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Policy file: its `vulnerabilities` section (failOn, ignoreUnfixed,
    /// exceptions) applies; command-line flags win.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Ignore file: YAML (`ignore: [{id, package, reason, expires}]`) or
    /// lines `ID [PACKAGE] [exp:YYYY-MM-DD] # reason`.
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Option<PathBuf>,
    /// OpenVEX document; `not_affected` and `fixed` statements hide their
    /// findings. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// The vulnerability database file (default: the cache directory).
    #[arg(long, value_name = "PATH", env = "PORTCULLIS_DB")]
    pub db: Option<PathBuf>,
    /// Never update the database over the network, even when it is missing or stale.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub image_args: ImageArgs,
}

/// Scan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    Cyclonedx,
}

fn parse_level(text: &str, what: &str) -> Result<Level, Failure> {
    Level::parse(text).ok_or_else(|| {
        Failure::new(
            USAGE,
            anyhow::anyhow!(
                "{what}: {text:?} is not one of critical, high, medium, low, negligible, unknown"
            ),
        )
    })
}

fn read_file(path: &std::path::Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::new(USAGE, anyhow::anyhow!("{what} {}: {e}", path.display())))
}

pub fn run(args: Args) -> Result<u8, Failure> {
    // Validate every input before the (slow) image work.
    let severities: Option<BTreeSet<Level>> = if args.severity.is_empty() {
        None
    } else {
        Some(
            args.severity
                .iter()
                .map(|s| parse_level(s, "--severity"))
                .collect::<Result<_, _>>()?,
        )
    };
    let mut fail_on: Option<Level> = None;
    let mut ignore_unfixed = args.ignore_unfixed;
    let mut rules: Vec<IgnoreRule> = Vec::new();
    if let Some(path) = &args.policy {
        let policy =
            portcullis_policy::Policy::from_file(path).map_err(|e| Failure::new(USAGE, e))?;
        let vulns = &policy.vulnerabilities;
        fail_on = vulns.fail_level();
        ignore_unfixed |= vulns.ignore_unfixed;
        rules.extend(vulns.ignore_rules(&path.display().to_string()));
    }
    if let Some(text) = &args.fail_on {
        fail_on = if text.eq_ignore_ascii_case("none") {
            None
        } else {
            Some(parse_level(text, "--fail-on")?)
        };
    }
    if let Some(path) = &args.ignorefile {
        let text = read_file(path, "ignore file")?;
        rules.extend(
            suppress::parse_ignore_file(&text, &path.display().to_string())
                .map_err(|e| Failure::new(USAGE, e))?,
        );
    }
    let mut vex = Vec::new();
    for path in &args.vex {
        let text = read_file(path, "VEX document")?;
        vex.extend(
            suppress::parse_openvex(&text, &path.display().to_string())
                .map_err(|e| Failure::new(USAGE, e))?,
        );
    }

    let mut warnings = Vec::new();
    let db_path = database_path(args.db.clone())?;
    let db = open_database(&db_path, args.offline, &mut warnings)?;

    let scanned = pipeline::inventory(&args.image, &args.image_args)?;
    let report = portcullis_matcher::match_inventory(&scanned.inventory, &db)
        .map_err(|e| Failure::new(USAGE, e))?;
    for ecosystem in &report.uncovered {
        warnings.push(format!(
            "the database has no advisories for {ecosystem}: its packages were not checked"
        ));
    }
    if !report.unevaluated.is_empty() {
        warnings.push(format!(
            "{} advisory records could not be evaluated (unparsable versions), e.g. {}",
            report.unevaluated.len(),
            report.unevaluated[0]
        ));
    }
    let today = time::OffsetDateTime::now_utc().date();
    let filters = Filters {
        ignore_unfixed,
        severities,
        rules,
        vex,
        today,
    };
    let filtered = suppress::apply(report.findings, &filters);
    let meta = db.metadata();
    let database = DatabaseInfo {
        path: db_path.display().to_string(),
        built: meta.built.clone(),
        advisories: meta.advisories,
    };
    let result = ScanResult::new(
        scanned.subject.clone(),
        &scanned.inventory,
        database,
        filtered,
        warnings,
    );
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }
    let rendered = match args.format {
        Format::Table => findings::table(&result),
        Format::Json => findings::json(&result),
        Format::Sarif => findings::sarif(&result),
        Format::Junit => findings::junit(&result),
        Format::Cyclonedx => {
            let info = DocumentInfo {
                created: crate::output::document_timestamp(),
            };
            findings::cyclonedx(&result, &scanned.inventory, &info)
        }
    };
    crate::output::write(args.output.as_deref(), &rendered)?;
    let failing = fail_on.map_or(0, |threshold| {
        result
            .findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count()
    });
    if failing > 0 {
        if let Some(threshold) = fail_on {
            eprintln!(
                "{failing} finding{} at or above {threshold}: failing",
                if failing == 1 { "" } else { "s" }
            );
        }
        return Ok(GATE_FAILED);
    }
    Ok(OK)
}

/// Opens the database; without `--offline`, a missing or stale one is first
/// updated from the default sources (a failed refresh of a stale database
/// only warns).
fn open_database(
    path: &std::path::Path,
    offline: bool,
    warnings: &mut Vec<String>,
) -> Result<Database, Failure> {
    let defaults: Vec<String> = portcullis_vulndb::update::DEFAULT_SOURCES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let db = match Database::open(path) {
        Ok(db) => db,
        Err(portcullis_vulndb::db::DbError::Missing { .. }) if !offline => {
            eprintln!(
                "no vulnerability database at {}: downloading it",
                path.display()
            );
            crate::cmd::db::update_database(&defaults, path)?;
            Database::open(path).map_err(db_failure)?
        }
        Err(e) => return Err(db_failure(e)),
    };
    let Some(age) = age_seconds(db.metadata()) else {
        return Ok(db);
    };
    if age <= STALE_AFTER_SECONDS {
        return Ok(db);
    }
    let days = age / 86_400;
    if offline {
        warnings.push(format!(
            "the vulnerability database is {days} day(s) old (built {}); --offline: not updated, run `portcullis db update`",
            db.metadata().built
        ));
        return Ok(db);
    }
    match crate::cmd::db::update_database(&defaults, path) {
        Ok(_) => Database::open(path).map_err(db_failure),
        Err(failure) => {
            warnings.push(format!(
                "the vulnerability database is {days} day(s) old and could not be updated ({:#}); using it as is",
                failure.error
            ));
            Ok(db)
        }
    }
}
