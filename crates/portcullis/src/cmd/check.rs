//! `portcullis check [PATH...]`: Pod Security Standards and hardening rules
//! over Kubernetes manifests (files, directories, `-` for standard input).
//!
//! Each workload is judged as the admission webhook would judge it in its
//! namespace: the policy's `admission.namespaces.<ns>` overrides apply, an
//! `admission.exemptNamespaces` entry exempts it, and a `Namespace` object
//! among the manifests contributes its `pod-security.kubernetes.io/enforce`
//! labels (stricter only), as the cluster's Namespace would.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use portcullis_kube::model::is_dns_label;
use portcullis_kube::{
    DocumentError, LoadedDocuments, PodSecurity, Severity, SkippedObject, evaluate, load_documents,
};
use portcullis_policy::{NamespaceChecks, NamespaceSettings, Policy};
use portcullis_report::check::{self as render, CheckRun, CheckedWorkload};

use crate::exit::{Failure, GATE_FAILED, OK, USAGE};

/// Largest manifest file read (bytes); larger files are refused.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Most files read from directories, so a mistaken `/` does not run forever.
const MAX_FILES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, directories (searched recursively for .yaml, .yml and
    /// .json files) or `-` for standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// The policy file (`kind: Policy`); without it: restricted:latest and the
    /// default hardening rules.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Pod Security Standards level and version, overriding the policy's:
    /// `restricted`, `baseline:v1.29`, `privileged`.
    /// Takes precedence over namespace overrides and Namespace labels.
    #[arg(long, value_name = "LEVEL[:VERSION]", value_parser = parse_pod_security)]
    pub pod_security: Option<PodSecurity>,

    /// The namespace of objects that name none (as `kubectl apply -n`);
    /// without it they are judged as in `default`.
    #[arg(short = 'n', long, value_name = "NS", value_parser = parse_namespace)]
    pub namespace: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,

    /// Lowest severity that fails the run (exit code 1); lower ones are reported only.
    #[arg(long, value_name = "SEVERITY", default_value = "low", value_parser = parse_severity)]
    pub fail_on: Severity,
}

fn parse_pod_security(text: &str) -> Result<PodSecurity, String> {
    text.parse()
        .map_err(|e: portcullis_kube::pss::InvalidPodSecurity| e.to_string())
}

fn parse_namespace(text: &str) -> Result<String, String> {
    if is_dns_label(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a namespace name (lowercase letters, digits and '-', at most 63)"
        ))
    }
}

/// The levels that `Namespace` objects among the manifests enforce through
/// their labels, by name; a later document wins, as with `kubectl apply`.
fn namespace_labels(skipped: &[SkippedObject]) -> HashMap<&str, PodSecurity> {
    skipped
        .iter()
        .filter_map(|s| Some((s.name.as_deref()?, s.enforce?)))
        .collect()
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
        .map_err(|e: portcullis_kube::rules::UnknownSeverity| e.to_string())
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let policy = match &args.policy {
        Some(path) => Policy::from_file(path).map_err(|e| Failure::new(USAGE, e))?,
        None => Policy::default(),
    };
    let mut checks = NamespaceChecks::from_policy(&policy);
    let mut default_level = policy.workloads.pod_security;
    if let Some(pod_security) = args.pod_security {
        checks.override_pod_security(pod_security);
        default_level = pod_security;
    }

    let mut read_errors = Vec::new();
    let inputs = collect_inputs(&args.paths, &mut read_errors);
    let mut loaded = load_all(inputs, &mut read_errors);
    loaded.errors.extend(read_errors);

    // `--pod-security` overrides every other source of the level, labels too.
    let labels = if args.pod_security.is_some() {
        HashMap::new()
    } else {
        namespace_labels(&loaded.skipped)
    };
    let default_namespace = args.namespace.as_deref().unwrap_or("default");
    let workloads = std::mem::take(&mut loaded.workloads);
    let run = CheckRun {
        pod_security: default_level.to_string(),
        workloads: workloads
            .into_iter()
            .map(|workload| {
                let namespace = workload
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| default_namespace.to_owned());
                let label = labels.get(namespace.as_str()).copied();
                match checks.settings_for(&namespace, label) {
                    NamespaceSettings::Exempt => CheckedWorkload {
                        workload,
                        namespace,
                        pod_security: None,
                        violations: Vec::new(),
                    },
                    NamespaceSettings::Judge(settings) => CheckedWorkload {
                        violations: evaluate(&workload, &settings),
                        workload,
                        namespace,
                        pod_security: Some(settings.pod_security),
                    },
                }
            })
            .collect(),
        skipped: loaded.skipped,
        errors: loaded.errors,
    };

    for error in &run.errors {
        eprintln!("error: {error}");
    }
    let output = match args.format {
        Format::Table => render::table(&run),
        Format::Json => render::json(&run),
        Format::Sarif => render::sarif(&run),
        Format::Junit => render::junit(&run),
    };
    print!("{output}");

    Ok(if !run.errors.is_empty() {
        USAGE
    } else if run.violations_at_least(args.fail_on) > 0 {
        GATE_FAILED
    } else {
        OK
    })
}

/// A text to load and the name it is reported under.
enum Input {
    Stdin,
    File(PathBuf),
}

fn unreadable(file: &Path, message: String) -> DocumentError {
    DocumentError {
        file: file.display().to_string(),
        document: 0,
        position: None,
        message,
    }
}

/// Expands directories (recursively, sorted, symlinked directories not
/// followed) into their manifest files.
fn collect_inputs(paths: &[PathBuf], errors: &mut Vec<DocumentError>) -> Vec<Input> {
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_seen {
                inputs.push(Input::Stdin);
                stdin_seen = true;
            }
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                walk(path, &mut files, errors);
                files.sort();
                inputs.extend(files.into_iter().map(Input::File));
            }
            Ok(_) => inputs.push(Input::File(path.clone())),
            Err(e) => errors.push(unreadable(path, format!("cannot read: {e}"))),
        }
        if inputs.len() > MAX_FILES {
            errors.push(unreadable(
                path,
                format!("more than {MAX_FILES} manifest files; check fewer at a time"),
            ));
            inputs.truncate(MAX_FILES);
            break;
        }
    }
    inputs
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<DocumentError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(unreadable(dir, format!("cannot list directory: {e}"))),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(unreadable(dir, format!("cannot list directory: {e}")));
                continue;
            }
        };
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            // Hidden directories (.git, .terraform) hold no manifests to check.
            if !entry.file_name().to_string_lossy().starts_with('.') {
                walk(&path, files, errors);
            }
        } else if is_manifest(&path) && (file_type.is_file() || path.is_file()) {
            files.push(path);
        }
        if files.len() > MAX_FILES {
            return;
        }
    }
}

fn read_limited(reader: impl Read, name: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{name} is larger than {MAX_FILE_BYTES} bytes"));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

fn load_one(input: &Input) -> Result<LoadedDocuments, DocumentError> {
    match input {
        Input::Stdin => read_limited(std::io::stdin().lock(), "standard input")
            .map(|text| load_documents(&text, "-"))
            .map_err(|message| unreadable(Path::new("-"), message)),
        Input::File(path) => std::fs::File::open(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|file| read_limited(file, "the file"))
            .map(|text| load_documents(&text, &path.display().to_string()))
            .map_err(|message| unreadable(path, message)),
    }
}

/// Loads every input, spreading files over the available cores; results
/// keep the order of the inputs.
fn load_all(inputs: Vec<Input>, errors: &mut Vec<DocumentError>) -> LoadedDocuments {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let chunk = inputs.len().div_ceil(threads).max(1);
    let results: Vec<Result<LoadedDocuments, DocumentError>> = if threads <= 1 {
        inputs.iter().map(load_one).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(load_one).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(unreadable(
                            Path::new("-"),
                            "internal error while loading manifests".into(),
                        ))]
                    })
                })
                .collect()
        })
    };
    let mut loaded = LoadedDocuments::default();
    for result in results {
        match result {
            Ok(part) => loaded.extend(part),
            Err(error) => errors.push(error),
        }
    }
    loaded
}
