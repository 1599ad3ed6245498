//! `portcullis admission serve|manifests|certs`: the Kubernetes admission
//! webhook and what a cluster needs to run it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Subcommand;
use portcullis_admission::certs;
use portcullis_admission::decide::{Admission, AdmissionSettings, NamespaceLevels};
use portcullis_admission::manifests::{self, ManifestOptions};
use portcullis_admission::metrics::Metrics;
use portcullis_admission::namespaces::{ApiServer, NamespaceLabelCache, spawn_watcher};
use portcullis_admission::server::{Server, ServerSettings, shutdown_signal};
use portcullis_policy::Policy;

use portcullis_admission::verdicts::{
    CacheSettings, DatabaseInfo, ImageVerdict, ImageVerdicts, ReloadError, Resolution,
    VerdictCache, VerdictError,
};
use portcullis_matcher::suppress::{self, Filters, IgnoreRule};
use portcullis_vulndb::db::Database;
use portcullis_vulndb::model::Level;

use crate::cmd::db::{database_path, db_failure};
use crate::exit::{self, Failure};
use crate::pipeline::{self, ImageArgs};

/// Arguments of `portcullis admission`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AdmissionCommand,
}

#[derive(Debug, Subcommand)]
enum AdmissionCommand {
    /// Serve the validating (/validate) and mutating (/mutate) webhook over HTTPS.
    Serve(ServeArgs),
    /// Print the Kubernetes objects that run the webhook (YAML, for kubectl apply).
    Manifests(ManifestsArgs),
    /// Write a CA (ca.crt) and a serving certificate and key (tls.crt, tls.key).
    Certs(CertsArgs),
}

/// Log format of `serve`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    Text,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Serving certificate chain (PEM); reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// Serving private key (PEM); reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Largest request body accepted, in bytes (the API server sends at most 3 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = 3 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Time allowed for one request, body read included; keep it below the
    /// webhook's timeoutSeconds. Image scans get this minus one second at most.
    #[arg(long, value_name = "SECONDS", default_value_t = 9.0)]
    request_timeout_seconds: f64,
    /// Time allowed for a client to send request headers.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    header_timeout_seconds: f64,
    /// After SIGTERM, keep serving this long while /readyz fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    shutdown_delay_seconds: f64,
    /// How often the certificate files, and the vulnerability database file,
    /// are checked for changes (a new database drops the cached verdicts).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    cert_reload_seconds: f64,
    /// Connections served at once.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_connections: usize,
    /// Worker threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Log format (level from RUST_LOG, default info).
    #[arg(long, value_enum, default_value = "json")]
    log_format: LogFormat,
    /// Do not scan images: decide on pod security, hardening and registry
    /// rules only.
    #[arg(long)]
    no_scan: bool,
    /// The vulnerability database file (`portcullis db update`; default: the
    /// cache directory); reloaded when `db update` or `db pull` replaces it.
    #[arg(long, value_name = "PATH", env = "PORTCULLIS_DB")]
    db: Option<PathBuf>,
    /// Image scans running at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    max_concurrent_scans: usize,
    /// How long an image verdict is trusted before the image is scanned again.
    #[arg(long, value_name = "SECONDS", default_value_t = 6 * 3600)]
    verdict_ttl_seconds: u64,
    /// Do not read the `pod-security.kubernetes.io/enforce` labels of
    /// Namespaces (read, inside a cluster, through a list-and-watch).
    #[arg(long)]
    no_namespace_labels: bool,
    #[command(flatten)]
    image_args: ImageArgs,
}

#[derive(Debug, clap::Args)]
struct ManifestsArgs {
    /// Image of Portcullis that the cluster pulls.
    #[arg(long, value_name = "IMAGE", default_value = concat!("portcullis:", env!("CARGO_PKG_VERSION")))]
    image: String,
    /// Namespace the webhook runs in (exempt from it).
    #[arg(long, value_name = "NAME", default_value = "portcullis-system")]
    namespace: String,
    /// Name of the Deployment, Service and webhook configurations.
    #[arg(long, value_name = "NAME", default_value = "portcullis-admission")]
    name: String,
    /// Replicas of the webhook (at least 2).
    #[arg(long, value_name = "N", default_value_t = 2)]
    replicas: u32,
    /// The webhooks' timeoutSeconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout_seconds: u32,
    /// Policy file to ship in a ConfigMap; its exempt namespaces are also
    /// skipped by the webhooks' namespaceSelector (default: the built-in policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Directory with ca.crt, tls.crt and tls.key (from `admission certs`);
    /// without it a new CA and certificate are made and included.
    #[arg(long, value_name = "DIR", conflicts_with = "ca_bundle")]
    certs: Option<PathBuf>,
    /// Only the CA bundle (PEM), when the serving Secret is managed elsewhere
    /// (cert-manager); no Secret is printed.
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CertsArgs {
    /// Directory to write ca.crt, tls.crt and tls.key into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// More DNS names or IP addresses for the serving certificate (repeatable).
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,
    /// Namespace of the webhook Service, whose DNS names are always included.
    #[arg(long, value_name = "NAME", default_value = "portcullis-system")]
    namespace: String,
    /// Name of the webhook Service.
    #[arg(long, value_name = "NAME", default_value = "portcullis-admission")]
    service: String,
}

/// Runs `portcullis admission`.
pub fn run(args: Args) -> Result<u8, Failure> {
    match args.command {
        AdmissionCommand::Serve(args) => serve(args),
        AdmissionCommand::Manifests(args) => print_manifests(args),
        AdmissionCommand::Certs(args) => write_certs(args),
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        Failure::new(
            exit::USAGE,
            anyhow::anyhow!("{flag} must be a non-negative number of seconds"),
        )
    })
}

fn load_policy(path: &Path) -> Result<Policy, Failure> {
    Policy::from_file(path).map_err(|e| Failure::new(exit::USAGE, e))
}

fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let request_timeout = seconds(args.request_timeout_seconds, "--request-timeout-seconds")?;
    if request_timeout < Duration::from_secs(2) {
        return Err(Failure::new(
            exit::USAGE,
            anyhow::anyhow!("--request-timeout-seconds must be at least 2"),
        ));
    }
    let policy = load_policy(&args.policy)?;
    let mut settings = ServerSettings::new(args.listen, args.tls_cert, args.tls_key);
    settings.max_body_bytes = args.max_body_bytes;
    settings.request_timeout = request_timeout;
    settings.header_read_timeout =
        seconds(args.header_timeout_seconds, "--header-timeout-seconds")?;
    settings.shutdown_delay = seconds(args.shutdown_delay_seconds, "--shutdown-delay-seconds")?;
    settings.cert_reload_interval = seconds(args.cert_reload_seconds, "--cert-reload-seconds")?;
    settings.max_connections = args.max_connections;

    // Scans must leave time for the answer to reach the API server.
    let admission_settings =
        AdmissionSettings::from_policy(&policy, request_timeout - Duration::from_secs(1));
    let metrics = Arc::new(Metrics::default());
    let mut loaded_database = None;
    let verdicts = if args.no_scan {
        None
    } else {
        let db_path = database_path(args.db.clone())?;
        let database = ReloadingDatabase::open(db_path)?;
        let info = database.info();
        metrics.vulndb_loaded(&info);
        loaded_database = Some((database.path.clone(), info));
        let source = ScanVerdicts::new(&policy, database, args.image_args.clone());
        let cache_settings = CacheSettings {
            verdict_ttl: Duration::from_secs(args.verdict_ttl_seconds),
            max_concurrent_scans: args.max_concurrent_scans.max(1),
            ..CacheSettings::default()
        };
        Some(Arc::new(VerdictCache::new(
            Arc::new(source),
            &cache_settings,
            Arc::clone(&metrics),
        )))
    };
    let namespaces: Option<Arc<dyn NamespaceLevels>> = match ApiServer::in_cluster() {
        Some(api) if !args.no_namespace_labels => {
            let cache = Arc::new(NamespaceLabelCache::default());
            spawn_watcher(api, Arc::clone(&cache)).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    anyhow::Error::new(e).context("cannot start the namespace watch"),
                )
            })?;
            Some(cache)
        }
        _ => None,
    };
    let admission = Arc::new(Admission::new(
        admission_settings,
        verdicts.clone(),
        namespaces,
    ));

    let dispatch = log_dispatch(args.log_format);
    let _main_thread_logs = tracing::dispatcher::set_default(&dispatch);
    if let Some((path, info)) = &loaded_database {
        tracing::info!(
            path = %path.display(),
            built = %info.built,
            advisories = info.advisories,
            "vulnerability database loaded"
        );
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let thread_dispatch = dispatch.clone();
    runtime
        .on_thread_start(move || logs_on_this_thread(&thread_dispatch))
        .on_thread_stop(|| THREAD_LOGS.with(|guard| drop(guard.borrow_mut().take())));
    let runtime = runtime.build().map_err(|e| {
        Failure::new(
            exit::USAGE,
            anyhow::Error::new(e).context("cannot start the async runtime"),
        )
    })?;
    runtime.block_on(async move {
        let mut server = Server::bind(settings, admission, metrics)
            .await
            .map_err(|e| Failure::new(exit::USAGE, e))?;
        if let Some(verdicts) = verdicts {
            server = server.reload_database_of(verdicts);
        }
        let addr = server
            .local_addr()
            .context("listening address")
            .map_err(|e| Failure::new(exit::USAGE, e))?;
        // Tests and scripts read the bound address (useful with port 0) from here.
        println!("listening on {addr}");
        server.run(shutdown_signal()).await;
        Ok(exit::OK)
    })
}

thread_local! {
    static THREAD_LOGS: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// The binary installs plain-text logging for every subcommand before
/// dispatching; the server logs through its own subscriber (JSON by
/// default), made the default on each of its runtime's threads.
fn logs_on_this_thread(dispatch: &tracing::Dispatch) {
    let guard = tracing::dispatcher::set_default(dispatch);
    THREAD_LOGS.with(|slot| *slot.borrow_mut() = Some(guard));
}

fn log_dispatch(format: LogFormat) -> tracing::Dispatch {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => tracing::Dispatch::new(builder.json().with_current_span(false).finish()),
        LogFormat::Text => tracing::Dispatch::new(builder.finish()),
    }
}

fn read_text(path: &Path) -> Result<String, Failure> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(|e| Failure::new(exit::USAGE, e))?;
    let mut text = String::new();
    // Certificates and policies are small; refuse anything huge.
    file.take(1 << 20)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as text", path.display()))
        .map_err(|e| Failure::new(exit::USAGE, e))?;
    Ok(text)
}

fn print_manifests(args: ManifestsArgs) -> Result<u8, Failure> {
    let (ca_bundle, tls) = match (&args.certs, &args.ca_bundle) {
        (Some(dir), _) => (
            read_text(&dir.join("ca.crt"))?,
            Some((
                read_text(&dir.join("tls.crt"))?,
                read_text(&dir.join("tls.key"))?,
            )),
        ),
        (None, Some(bundle)) => (read_text(bundle)?, None),
        (None, None) => {
            let generated = certs::generate(&certs::service_dns_names(&args.name, &args.namespace))
                .map_err(|e| Failure::new(exit::USAGE, e))?;
            (
                generated.ca_cert_pem,
                Some((generated.tls_cert_pem, generated.tls_key_pem)),
            )
        }
    };
    let mut options = ManifestOptions::new(args.image, ca_bundle);
    options.namespace = args.namespace;
    options.name = args.name;
    options.replicas = args.replicas;
    options.timeout_seconds = args.timeout_seconds;
    options.tls = tls;
    match &args.policy {
        Some(path) => {
            let policy = load_policy(path)?;
            options.exempt_namespaces = policy.admission.exempt_namespaces.clone();
            if policy.admission.failure_policy == portcullis_policy::FailurePolicy::Ignore {
                options.failure_policy = manifests::FailurePolicy::Ignore;
            }
            options.policy_text = Some(read_text(path)?);
        }
        None => {
            options.policy_text = Some(format!(
                "apiVersion: {}\nkind: {}\n",
                portcullis_policy::API_VERSION,
                portcullis_policy::KIND
            ));
        }
    }
    let yaml = manifests::render_yaml(&options).map_err(|e| Failure::new(exit::USAGE, e))?;
    print!("{yaml}");
    Ok(exit::OK)
}

fn write_certs(args: CertsArgs) -> Result<u8, Failure> {
    let mut names = certs::service_dns_names(&args.service, &args.namespace);
    names.extend(args.dns);
    let generated = certs::generate(&names).map_err(|e| Failure::new(exit::USAGE, e))?;
    let written = generated
        .write_to(&args.out)
        .map_err(|e| Failure::new(exit::USAGE, e))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(exit::OK)
}

/// Image verdicts from the shared scan pipeline: tags resolved through the
/// registry, the image inventoried (blobs cached by digest), matched against
/// the local database, and judged by the policy's `vulnerabilities` section
/// as `portcullis scan --policy` judges it.
struct ScanVerdicts {
    database: ReloadingDatabase,
    image_args: ImageArgs,
    fail_on: Option<Level>,
    ignore_unfixed: bool,
    exceptions: Vec<IgnoreRule>,
}

/// Most below-threshold findings listed as warnings per image.
const MAX_WARNINGS: usize = 5;

impl ScanVerdicts {
    fn new(policy: &Policy, database: ReloadingDatabase, mut image_args: ImageArgs) -> Self {
        // A server has no terminal to draw progress on.
        image_args.quiet = true;
        let vulns = &policy.vulnerabilities;
        Self {
            database,
            image_args,
            fail_on: vulns.fail_level(),
            ignore_unfixed: vulns.ignore_unfixed,
            exceptions: vulns.ignore_rules(policy.source.as_deref().unwrap_or("policy")),
        }
    }
}

impl ImageVerdicts for ScanVerdicts {
    fn resolve_digest(&self, image: &str) -> Result<Resolution, VerdictError> {
        let failed = |reason: String| VerdictError::Resolve {
            image: image.to_owned(),
            reason,
        };
        let reference =
            portcullis_source::ImageRef::parse(image).map_err(|e| failed(e.to_string()))?;
        let options = pipeline::source_options(&self.image_args)
            .map_err(|f| failed(format!("{:#}", f.error)))?;
        // Opening reads the index and the configured platform's manifest
        // and config, not the layers.
        match portcullis_source::open(&reference, &options).map_err(|e| failed(e.to_string()))? {
            portcullis_source::Opened::Image(opened) => {
                let platform_digest = opened
                    .manifest_digest
                    .ok_or_else(|| failed("the image has no manifest digest".into()))?;
                let digest = opened
                    .reference_digest
                    .unwrap_or_else(|| platform_digest.clone());
                Ok(Resolution {
                    digest: digest.to_string(),
                    platform_digest: platform_digest.to_string(),
                })
            }
            portcullis_source::Opened::Rootfs(_) => {
                Err(failed("a root filesystem has no digest".into()))
            }
        }
    }

    fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError> {
        let failed = |reason: String| VerdictError::Scan {
            image: image.to_owned(),
            reason,
        };
        // Scan exactly what was resolved: a registry image by its digest (an
        // index's is resolved to the configured platform's manifest).
        let scanned_ref = match portcullis_source::ImageRef::parse(image)
            .map_err(|e| failed(e.to_string()))?
        {
            portcullis_source::ImageRef::Registry(mut registry) => {
                registry.tag = None;
                registry.digest = Some(portcullis_source::Digest::parse(digest).map_err(failed)?);
                registry.to_string()
            }
            _ => image.to_owned(),
        };
        // The database as it is now; a reload during the scan does not change it.
        let db = self.database.current();
        let scanned = pipeline::inventory(&scanned_ref, &self.image_args)
            .map_err(|f| failed(format!("{:#}", f.error)))?;
        let report = portcullis_matcher::match_inventory(&scanned.inventory, &db)
            .map_err(|e| failed(e.to_string()))?;
        let scanned_digest = scanned.subject.digest.unwrap_or_else(|| digest.to_owned());
        let filters = Filters {
            ignore_unfixed: self.ignore_unfixed,
            severities: None,
            rules: self.exceptions.clone(),
            vex: Vec::new(),
            today: time::OffsetDateTime::now_utc().date(),
        };
        let filtered = suppress::apply(report.findings, &filters);
        let mut denials = Vec::new();
        let mut below = Vec::new();
        for finding in &filtered.findings {
            let line = format!(
                "{} {} in {} {}{}",
                finding.id,
                finding.severity.as_str(),
                finding.package,
                finding.installed_version,
                finding
                    .fixed_version
                    .as_deref()
                    .map(|v| format!(", fixed in {v}"))
                    .unwrap_or_else(|| ", no fix yet".into())
            );
            if self
                .fail_on
                .is_some_and(|threshold| finding.severity >= threshold)
            {
                denials.push(line);
            } else {
                below.push(line);
            }
        }
        let mut warnings: Vec<String> = below.iter().take(MAX_WARNINGS).cloned().collect();
        if below.len() > MAX_WARNINGS {
            warnings.push(format!(
                "{} more findings below the policy's failOn",
                below.len() - MAX_WARNINGS
            ));
        }
        tracing::info!(
            image,
            digest,
            scanned_digest,
            database_built = %db.metadata().built,
            denials = denials.len(),
            findings = filtered.findings.len(),
            "image judged"
        );
        Ok(ImageVerdict {
            digest: scanned_digest,
            denials,
            warnings,
        })
    }

    fn reload_if_changed(&self) -> Result<Option<DatabaseInfo>, ReloadError> {
        self.database.reload_if_changed()
    }
}

/// The vulnerability database file and the database loaded from it, swapped
/// whole when the file changes: `db update` and `db pull` write a new file
/// and rename it over the old one, so a changed file is seen as a new inode
/// (or, for a file rewritten in place, a new size or modification time).
struct ReloadingDatabase {
    path: PathBuf,
    current: RwLock<Arc<Database>>,
    /// The file last tried, loaded or refused (`None`: it could not be
    /// stat'ed): each change is tried, and an error logged, once.
    seen: Mutex<Option<FileStamp>>,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt as _;
            (metadata.dev(), metadata.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        Ok(Self {
            device,
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

impl ReloadingDatabase {
    /// Loads the database; at start an unusable file is an error.
    fn open(path: PathBuf) -> Result<Self, Failure> {
        // Stamped before reading: a change in between is seen at the next check.
        let stamp = FileStamp::of(&path).ok();
        let database = Database::open(&path).map_err(db_failure)?;
        Ok(Self {
            path,
            current: RwLock::new(Arc::new(database)),
            seen: Mutex::new(stamp),
        })
    }

    /// The database serving now.
    fn current(&self) -> Arc<Database> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn info(&self) -> DatabaseInfo {
        database_info(&self.current())
    }

    fn reload_if_changed(&self) -> Result<Option<DatabaseInfo>, ReloadError> {
        let failed = |reason: String| ReloadError {
            what: self.path.display().to_string(),
            reason,
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = match FileStamp::of(&self.path) {
            Ok(stamp) => stamp,
            // Reported once; the database loaded before keeps serving.
            Err(_) if seen.is_none() => return Ok(None),
            Err(error) => {
                *seen = None;
                return Err(failed(error.to_string()));
            }
        };
        if *seen == Some(stamp) {
            return Ok(None);
        }
        *seen = Some(stamp);
        let database = Database::open(&self.path).map_err(|e| failed(e.to_string()))?;
        if database.bytes() == self.current().bytes() {
            // Touched or copied over with the same contents: nothing to redo.
            return Ok(None);
        }
        let info = database_info(&database);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(database);
        Ok(Some(info))
    }
}

fn database_info(database: &Database) -> DatabaseInfo {
    let metadata = database.metadata();
    DatabaseInfo {
        built: metadata.built.clone(),
        built_unix_seconds: time::OffsetDateTime::parse(
            &metadata.built,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(time::OffsetDateTime::unix_timestamp),
        advisories: metadata.advisories,
    }
}
