//! Exit codes, shared by every subcommand so scripts can rely on them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, nothing at or above the failure threshold |
//! | 1 | the gate failed: findings, violations or failed checks |
//! | 2 | unusable input: bad arguments, unreadable or invalid files, policy errors |
//! | 3 | refused content: an image, layer or entry that is hostile or corrupt |
//! | 4 | a registry or network error |

use std::process::ExitCode;

/// The run worked and found nothing that fails the gate.
pub const OK: u8 = 0;
/// The gate failed.
pub const GATE_FAILED: u8 = 1;
/// Unusable input.
pub const USAGE: u8 = 2;
/// Hostile or corrupt content refused.
pub const REFUSED: u8 = 3;
/// Registry or network error.
pub const NETWORK: u8 = 4;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// An error of the given exit code.
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }

    /// The error with its causes, on one line.
    pub fn message(&self) -> String {
        // Stage errors often already spell out their cause; add each cause
        // only when the message so far does not say it yet.
        let mut message = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            if !message.contains(&cause) {
                message.push_str(": ");
                message.push_str(&cause);
            }
        }
        message
    }

    /// Prints the error with its causes on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.message());
        ExitCode::from(self.code)
    }
}

/// Logs go to stderr; `RUST_LOG` tunes them (default: warnings only).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
