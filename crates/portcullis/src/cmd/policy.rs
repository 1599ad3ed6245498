//! `portcullis policy validate FILE` and `portcullis policy explain [FILE]`.

use std::path::PathBuf;

use portcullis_policy::{LoadError, Policy};

use crate::exit::{Failure, OK, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Check a policy file strictly: unknown keys, wrong types, bad globs,
    /// dates, levels and rule ids are errors with file, line and column.
    Validate {
        /// The policy file.
        file: PathBuf,
    },
    /// Print the effective policy, every default filled in (the built-in
    /// defaults when no file is given).
    Explain {
        /// The policy file.
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "yaml")]
        format: ExplainFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    Yaml,
    Json,
}

fn load(file: &std::path::Path) -> Result<Policy, Failure> {
    Policy::from_file(file).map_err(|error| match error {
        // Each problem on its own line, as compilers print them.
        LoadError::Invalid(errors) => {
            let count = errors.0.len();
            let problems = if count == 1 { "problem" } else { "problems" };
            Failure::new(
                USAGE,
                anyhow::anyhow!("invalid policy ({count} {problems}):\n{errors}"),
            )
        }
        other => Failure::new(USAGE, other),
    })
}

pub fn run(args: Args) -> Result<u8, Failure> {
    match args.action {
        Action::Validate { file } => {
            let policy = load(&file)?;
            let settings = policy.check_settings();
            println!(
                "{}: valid (pod security {}, {} hardening rules, {} allowed registry patterns, {} vulnerability exceptions)",
                file.display(),
                settings.pod_security,
                settings.rules.len(),
                policy.registries.allow.len(),
                policy.vulnerabilities.exceptions.len()
            );
            Ok(OK)
        }
        Action::Explain { file, format } => {
            let policy = match &file {
                Some(file) => load(file)?,
                None => Policy::default(),
            };
            match format {
                ExplainFormat::Yaml => print!("{}", policy.to_yaml()),
                ExplainFormat::Json => println!("{}", policy.to_json()),
            }
            Ok(OK)
        }
    }
}
