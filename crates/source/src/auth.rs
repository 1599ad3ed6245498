//! Registry credentials (options, `~/.docker/config.json`, credential
//! helpers) and `WWW-Authenticate` challenge parsing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::SourceError;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `PORTCULLIS_USERNAME` / `PORTCULLIS_PASSWORD`, when both are set.
    pub fn from_env() -> Option<Credentials> {
        let username = std::env::var("PORTCULLIS_USERNAME")
            .ok()
            .filter(|u| !u.is_empty())?;
        let password = std::env::var("PORTCULLIS_PASSWORD").ok()?;
        Some(Credentials { username, password })
    }
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

fn docker_config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// The keys Docker files a registry's credentials under.
fn host_of_key(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// The credentials for `registry` from the Docker config (`credHelpers`, then
/// `auths`, then `credsStore`), or `None` when there are none.
pub(crate) fn lookup(
    registry: &str,
    config: Option<&Path>,
) -> Result<Option<Credentials>, SourceError> {
    let Some(path) = docker_config_path(config) else {
        return Ok(None);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        // No config at the default place just means no credentials; an
        // explicitly named one must exist.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.is_none() => return Ok(None),
        Err(e) => {
            return Err(SourceError::Config {
                what: format!("docker config {}", path.display()),
                reason: e.to_string(),
            });
        }
    };
    let parsed: DockerConfig = serde_json::from_slice(&bytes).map_err(|e| SourceError::Config {
        what: format!("docker config {}", path.display()),
        reason: e.to_string(),
    })?;
    from_config(registry, &parsed, &path)
}

fn from_config(
    registry: &str,
    config: &DockerConfig,
    path: &Path,
) -> Result<Option<Credentials>, SourceError> {
    // Docker Hub's helpers are asked by its historical URL.
    let server = if is_docker_hub(registry) {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    if let Some((_, helper)) = config
        .cred_helpers
        .iter()
        .find(|(key, _)| same_host(registry, key))
    {
        return run_helper(helper, server);
    }
    if let Some(credentials) = from_auths(registry, config, path)? {
        return Ok(Some(credentials));
    }
    match &config.creds_store {
        Some(store) if !store.is_empty() => run_helper(store, server),
        _ => Ok(None),
    }
}

/// Whether a config key (`https://index.docker.io/v1/`, `ghcr.io`) names
/// `registry`.
fn same_host(registry: &str, key: &str) -> bool {
    let host = host_of_key(key);
    host == registry || (is_docker_hub(registry) && is_docker_hub(host))
}

/// The credentials `registry`'s `auths` entry holds (base64 `auth`, else
/// `username` and `password`), if any.
fn from_auths(
    registry: &str,
    config: &DockerConfig,
    path: &Path,
) -> Result<Option<Credentials>, SourceError> {
    let Some((key, entry)) = config
        .auths
        .iter()
        .find(|(key, _)| same_host(registry, key))
    else {
        return Ok(None);
    };
    if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = |reason: &str| SourceError::Config {
            what: format!("docker config {} auths[{key:?}]", path.display()),
            reason: reason.to_owned(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("`auth` is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| bad("`auth` is not user:password"))?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    Ok(None)
}

/// Parses a Docker `config.json` and returns what its `auths` entry for
/// `registry` holds, without running any credential helper.
pub(crate) fn auths_in_config(
    registry: &str,
    bytes: &[u8],
) -> Result<Option<Credentials>, SourceError> {
    let path = Path::new("config.json");
    let parsed: DockerConfig = serde_json::from_slice(bytes).map_err(|e| SourceError::Config {
        what: format!("docker config {}", path.display()),
        reason: e.to_string(),
    })?;
    from_auths(registry, &parsed, path)
}

/// Runs `docker-credential-<helper> get`; a helper that has no entry for the
/// server means no credentials.
fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>, SourceError> {
    let program = format!("docker-credential-{helper}");
    let config_err = |reason: String| SourceError::Config {
        what: program.clone(),
        reason,
    };
    // The name comes from a config file; it must not smuggle a path.
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(config_err(format!(
            "invalid credential helper name {helper:?}"
        )));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| config_err(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper may answer without reading its input (one with nothing
        // stored, say): its reply and status decide, not the closed pipe.
        match stdin.write_all(server.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(config_err(e.to_string()));
            }
            _ => {}
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| config_err(e.to_string()))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stdout);
        if message.contains("credentials not found") {
            return Ok(None);
        }
        return Err(config_err(format!(
            "exited with {}: {}",
            output.status,
            crate::digest::truncate(message.trim())
        )));
    }
    let reply: HelperReply = serde_json::from_slice(&output.stdout)
        .map_err(|e| config_err(format!("invalid reply: {e}")))?;
    Ok(Some(Credentials {
        username: reply.username,
        password: reply.secret,
    }))
}

/// Parses `Scheme k="v", k2=v2` into the scheme and its parameters.
pub(crate) fn parse_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((scheme, rest)) => (scheme, rest),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next()?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return None,
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    Some((scheme.to_owned(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull,push""#,
        )
        .unwrap_or_default();
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            vec![
                (
                    "realm".to_owned(),
                    "https://auth.docker.io/token".to_owned()
                ),
                ("service".to_owned(), "registry.docker.io".to_owned()),
                (
                    "scope".to_owned(),
                    "repository:library/debian:pull,push".to_owned()
                ),
            ]
        );
        let (scheme, params) =
            parse_challenge(r#"Basic realm="peers-registry""#).unwrap_or_default();
        assert_eq!((scheme.as_str(), params.len()), ("Basic", 1));
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn docker_config_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:x");
        let config: DockerConfig = serde_json::from_str(&format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"127.0.0.1:5443":{{"username":"bob","password":"pw"}}}}}}"#
        ))
        .unwrap_or_default();
        let path = Path::new("config.json");
        let hub = from_config("docker.io", &config, path).ok().flatten();
        assert_eq!(
            hub,
            Some(Credentials {
                username: "alice".into(),
                password: "s3cret:x".into()
            })
        );
        let local = from_config("127.0.0.1:5443", &config, path).ok().flatten();
        assert_eq!(local.map(|c| c.username), Some("bob".into()));
        assert_eq!(from_config("ghcr.io", &config, path).ok().flatten(), None);
        let bad: DockerConfig =
            serde_json::from_str(r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#).unwrap_or_default();
        assert!(from_config("ghcr.io", &bad, path).is_err());
        let evil: DockerConfig =
            serde_json::from_str(r#"{"credHelpers":{"ghcr.io":"../../bin/sh"}}"#)
                .unwrap_or_default();
        assert!(matches!(
            from_config("ghcr.io", &evil, path),
            Err(SourceError::Config { .. })
        ));
    }
}
