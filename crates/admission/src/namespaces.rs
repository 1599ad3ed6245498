//! Pod Security Admission labels of Namespaces
//! (`pod-security.kubernetes.io/enforce[-version]`), kept in a cache that a
//! list-and-watch on the API server fills, so no request ever waits for a
//! call to the API.
//!
//! The labels can only make a namespace stricter than the policy says
//! (see [`crate::decide::Admission::check_settings`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use portcullis_kube::PodSecurity;
use serde_json::Value;

use crate::decide::NamespaceLevels;

pub use portcullis_kube::pss::{ENFORCE_LABEL, ENFORCE_VERSION_LABEL};

/// Largest namespace list read (tens of thousands of namespaces fit).
const MAX_LIST_BYTES: u64 = 256 << 20;

/// Longest watch line read (one Namespace object); longer lines end the watch.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// Why the watch stopped (it is then started again).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The API could not be reached or answered with an error.
    #[error("namespace watch: {0}")]
    Http(String),
    /// The answer was not what the API sends.
    #[error("namespace watch: unexpected answer: {0}")]
    Protocol(String),
    /// The resource version is too old: list again.
    #[error("namespace watch: resource version expired")]
    Expired,
}

/// The level a Namespace's labels enforce. An unparsable label enforces
/// `restricted:latest`, as Pod Security Admission does with invalid values.
/// The same reading as `portcullis check` gives Namespace objects in manifests.
pub fn level_from_labels(labels: &serde_json::Map<String, Value>) -> Option<PodSecurity> {
    portcullis_kube::pss::enforced_by_labels(labels)
}

/// Namespace name → enforced level, as last seen.
#[derive(Debug, Default)]
pub struct NamespaceLabelCache {
    levels: RwLock<HashMap<String, PodSecurity>>,
    synced: AtomicBool,
}

impl NamespaceLevels for NamespaceLabelCache {
    fn level(&self, namespace: &str) -> Option<PodSecurity> {
        let levels = self.levels.read().unwrap_or_else(|p| p.into_inner());
        levels.get(namespace).copied()
    }
}

fn name_and_level(object: &Value) -> Option<(String, Option<PodSecurity>)> {
    let metadata = object.get("metadata")?;
    let name = metadata.get("name")?.as_str()?.to_owned();
    let level = metadata
        .get("labels")
        .and_then(Value::as_object)
        .and_then(level_from_labels);
    Some((name, level))
}

impl NamespaceLabelCache {
    /// Whether a full list has been loaded at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// Replaces the cache with a `NamespaceList`; returns its resource version.
    pub fn apply_list(&self, list: &Value) -> Result<String, WatchError> {
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| WatchError::Protocol("a NamespaceList without items".into()))?;
        let fresh: HashMap<String, PodSecurity> = items
            .iter()
            .filter_map(name_and_level)
            .filter_map(|(name, level)| level.map(|level| (name, level)))
            .collect();
        *self.levels.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.synced.store(true, Ordering::SeqCst);
        Ok(list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    /// Applies one watch event; returns the resource version to resume from.
    pub fn apply_event(&self, event: &Value) -> Result<Option<String>, WatchError> {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let object = event
            .get("object")
            .ok_or_else(|| WatchError::Protocol("a watch event without an object".into()))?;
        if kind == "ERROR" {
            return Err(if object.get("code").and_then(Value::as_u64) == Some(410) {
                WatchError::Expired
            } else {
                WatchError::Protocol(
                    object
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error event")
                        .to_owned(),
                )
            });
        }
        let version = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if kind == "BOOKMARK" {
            return Ok(version);
        }
        let (name, level) = name_and_level(object)
            .ok_or_else(|| WatchError::Protocol("a Namespace without a name".into()))?;
        let mut levels = self.levels.write().unwrap_or_else(|p| p.into_inner());
        match (kind, level) {
            ("DELETED", _) | (_, None) => {
                levels.remove(&name);
            }
            ("ADDED" | "MODIFIED", Some(level)) => {
                levels.insert(name, level);
            }
            (other, _) => {
                return Err(WatchError::Protocol(format!(
                    "unknown event type {other:?}"
                )));
            }
        }
        Ok(version)
    }
}

/// Where the API server is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct ApiServer {
    /// `https://host:port` (plain `http://` only for tests on loopback).
    pub base_url: String,
    /// Service account token file, re-read on every (re)connection because
    /// projected tokens rotate.
    pub token_file: Option<PathBuf>,
    /// CA bundle of the API server.
    pub ca_file: Option<PathBuf>,
}

impl ApiServer {
    /// The API server as seen from a pod: `KUBERNETES_SERVICE_HOST`/`_PORT`
    /// and the mounted service account. `None` outside a cluster.
    pub fn in_cluster() -> Option<Self> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let dir = PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount");
        if !dir.join("token").is_file() {
            return None;
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Some(Self {
            base_url: format!("https://{host}:{port}"),
            token_file: Some(dir.join("token")),
            ca_file: Some(dir.join("ca.crt")),
        })
    }

    fn client(&self, timeout: Option<Duration>) -> Result<reqwest::blocking::Client, WatchError> {
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout);
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| WatchError::Http(format!("{}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| WatchError::Http(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| WatchError::Http(e.to_string()))
    }

    fn get(
        &self,
        client: &reqwest::blocking::Client,
        path: &str,
    ) -> Result<reqwest::blocking::Response, WatchError> {
        let mut request = client.get(format!("{}{path}", self.base_url));
        if let Some(file) = &self.token_file {
            let token = std::fs::read_to_string(file)
                .map_err(|e| WatchError::Http(format!("{}: {e}", file.display())))?;
            request = request.bearer_auth(token.trim());
        }
        let response = request
            .send()
            .map_err(|e| WatchError::Http(e.to_string()))?;
        if response.status() == reqwest::StatusCode::GONE {
            return Err(WatchError::Expired);
        }
        if !response.status().is_success() {
            return Err(WatchError::Http(format!(
                "GET {path}: HTTP {}",
                response.status()
            )));
        }
        Ok(response)
    }

    /// Lists namespaces into `cache`, then follows the watch until it ends
    /// (server timeout, error or expiry). Returns why it ended.
    pub fn list_and_watch(&self, cache: &NamespaceLabelCache) -> WatchError {
        match self.list_and_watch_once(cache) {
            Ok(()) => WatchError::Http("watch ended".into()),
            Err(error) => error,
        }
    }

    fn list_and_watch_once(&self, cache: &NamespaceLabelCache) -> Result<(), WatchError> {
        let client = self.client(Some(Duration::from_secs(30)))?;
        let mut body = Vec::new();
        self.get(&client, "/api/v1/namespaces")?
            .take(MAX_LIST_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| WatchError::Http(e.to_string()))?;
        let list: Value =
            serde_json::from_slice(&body).map_err(|e| WatchError::Protocol(e.to_string()))?;
        let mut version = cache.apply_list(&list)?;
        loop {
            // The server ends a watch after timeoutSeconds; resume from the last version seen.
            let watch_client = self.client(None)?;
            let path = format!(
                "/api/v1/namespaces?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion={version}"
            );
            let response = self.get(&watch_client, &path)?;
            let mut reader = BufReader::new(response);
            let mut line = Vec::new();
            loop {
                line.clear();
                let read = (&mut reader)
                    .take(MAX_EVENT_BYTES as u64 + 1)
                    .read_until(b'\n', &mut line)
                    .map_err(|e| WatchError::Http(e.to_string()))?;
                if read == 0 {
                    break;
                }
                if line.len() > MAX_EVENT_BYTES {
                    return Err(WatchError::Protocol("watch event larger than 1 MiB".into()));
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event: Value = serde_json::from_slice(&line)
                    .map_err(|e| WatchError::Protocol(e.to_string()))?;
                if let Some(next) = cache.apply_event(&event)? {
                    version = next;
                }
            }
        }
    }
}

/// Keeps `cache` in step with the API server from a background thread,
/// listing again after any error (with a capped backoff).
pub fn spawn_watcher(
    api: ApiServer,
    cache: std::sync::Arc<NamespaceLabelCache>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("namespace-watch".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(500);
            loop {
                let error = api.list_and_watch(&cache);
                match error {
                    WatchError::Expired => backoff = Duration::from_millis(100),
                    _ => tracing::warn!(%error, retry_in = ?backoff, "namespace labels watch interrupted"),
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::Arc;

    fn namespace(name: &str, labels: Value, version: &str) -> Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels, "resourceVersion": version}
        })
    }

    #[test]
    fn labels_give_a_level_and_version_and_garbage_means_restricted() {
        let labels = |v: Value| v.as_object().cloned().expect("object");
        assert_eq!(
            level_from_labels(&labels(
                serde_json::json!({ENFORCE_LABEL: "baseline", ENFORCE_VERSION_LABEL: "v1.29"})
            ))
            .map(|l| l.to_string()),
            Some("baseline:v1.29".into())
        );
        assert_eq!(
            level_from_labels(&labels(serde_json::json!({ENFORCE_LABEL: "privileged"})))
                .map(|l| l.to_string()),
            Some("privileged:latest".into())
        );
        assert_eq!(
            level_from_labels(&labels(serde_json::json!({ENFORCE_LABEL: "lenient"})))
                .map(|l| l.to_string()),
            Some("restricted:latest".into())
        );
        assert_eq!(
            level_from_labels(&labels(serde_json::json!({"team": "a"}))),
            None
        );
    }

    #[test]
    fn list_then_events_keep_the_cache_current() {
        let cache = NamespaceLabelCache::default();
        let list = serde_json::json!({
            "kind": "NamespaceList",
            "metadata": {"resourceVersion": "10"},
            "items": [
                namespace("team-a", serde_json::json!({ENFORCE_LABEL: "restricted"}), "5"),
                namespace("team-b", serde_json::json!({}), "6"),
            ]
        });
        assert_eq!(cache.apply_list(&list).expect("list"), "10");
        assert!(cache.is_synced());
        assert_eq!(
            cache.level("team-a").map(|l| l.to_string()),
            Some("restricted:latest".into())
        );
        assert_eq!(cache.level("team-b"), None);
        let event = |kind: &str, object: Value| serde_json::json!({"type": kind, "object": object});
        let version = cache
            .apply_event(&event(
                "MODIFIED",
                namespace(
                    "team-b",
                    serde_json::json!({ENFORCE_LABEL: "baseline"}),
                    "11",
                ),
            ))
            .expect("event");
        assert_eq!(version.as_deref(), Some("11"));
        assert_eq!(
            cache.level("team-b").map(|l| l.to_string()),
            Some("baseline:latest".into())
        );
        cache
            .apply_event(&event(
                "MODIFIED",
                namespace("team-a", serde_json::json!({}), "12"),
            ))
            .expect("label removed");
        assert_eq!(cache.level("team-a"), None);
        cache
            .apply_event(&event(
                "DELETED",
                namespace(
                    "team-b",
                    serde_json::json!({ENFORCE_LABEL: "baseline"}),
                    "13",
                ),
            ))
            .expect("deleted");
        assert_eq!(cache.level("team-b"), None);
        let expired = serde_json::json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}});
        assert!(matches!(
            cache.apply_event(&expired),
            Err(WatchError::Expired)
        ));
    }

    /// The watch loop against a loopback HTTP server that answers a list and
    /// streams watch events the way the API server does (there is no API
    /// server in this test environment).
    #[test]
    fn list_and_watch_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let mut paths = Vec::new();
            for _ in 0..3 {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("request");
                let mut header = String::new();
                let mut authorized = false;
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    authorized |= header
                        .to_ascii_lowercase()
                        .starts_with("authorization: bearer sa-token");
                    header.clear();
                }
                assert!(authorized, "bearer token sent");
                let path = request_line
                    .split(' ')
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                if path.contains("resourceVersion=22") {
                    // The resumed watch: the version is too old, list again.
                    let _ = write!(
                        stream,
                        "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    paths.push(path);
                    continue;
                }
                let body = if path.contains("watch=true") {
                    [
                        serde_json::json!({"type": "ADDED", "object": namespace("new", serde_json::json!({ENFORCE_LABEL: "baseline"}), "21")}),
                        serde_json::json!({"type": "BOOKMARK", "object": {"kind": "Namespace", "metadata": {"resourceVersion": "22"}}}),
                    ]
                    .iter()
                    .map(|e| format!("{e}\n"))
                    .collect::<String>()
                } else {
                    serde_json::json!({"kind": "NamespaceList", "metadata": {"resourceVersion": "20"},
                        "items": [namespace("old", serde_json::json!({ENFORCE_LABEL: "restricted"}), "3")]})
                    .to_string()
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                paths.push(path);
            }
            paths
        });
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("token"), "sa-token\n").expect("token");
        let api = ApiServer {
            base_url: format!("http://{addr}"),
            token_file: Some(dir.path().join("token")),
            ca_file: None,
        };
        let cache = Arc::new(NamespaceLabelCache::default());
        // The watch ends; it resumes from the bookmark's version, which has expired.
        let error = api.list_and_watch(&cache);
        assert!(matches!(error, WatchError::Expired), "{error}");
        let paths = server.join().expect("server");
        assert_eq!(paths[0], "/api/v1/namespaces");
        assert!(
            paths[1].contains("watch=true") && paths[1].contains("resourceVersion=20"),
            "{}",
            paths[1]
        );
        assert!(paths[2].contains("resourceVersion=22"), "{}", paths[2]);
        assert_eq!(
            cache.level("old").map(|l| l.to_string()),
            Some("restricted:latest".into())
        );
        assert_eq!(
            cache.level("new").map(|l| l.to_string()),
            Some("baseline:latest".into())
        );
    }
}
