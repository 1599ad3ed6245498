//! Where a command's report goes: stdout, or a file given with `--output`.

use std::io::Write as _;
use std::path::Path;

use crate::exit::{Failure, USAGE};

/// Writes `content` to `path`, or to stdout when `path` is `None` or `-`.
///
/// A file is written beside its final name and renamed into place, so an
/// interrupted run never leaves a half-written report where a good one was.
pub fn write(path: Option<&Path>, content: &str) -> Result<(), Failure> {
    match path {
        None => write_stdout(content),
        Some(path) if path == Path::new("-") => write_stdout(content),
        Some(path) => {
            let dir = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let fail = |e: std::io::Error| {
                Failure::new(
                    USAGE,
                    anyhow::anyhow!("cannot write {}: {e}", path.display()),
                )
            };
            let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
            file.write_all(content.as_bytes()).map_err(fail)?;
            file.persist(path).map_err(|e| fail(e.error))?;
            Ok(())
        }
    }
}

fn write_stdout(content: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(content.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(
            USAGE,
            anyhow::anyhow!("cannot write to stdout: {e}"),
        )),
    }
}

/// The document timestamp: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds), else now; RFC 3339 in UTC, whole seconds.
pub fn document_timestamp() -> String {
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}
