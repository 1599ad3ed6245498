//! `db push` / `db pull`: the database as an OCI artifact, so a cluster or an
//! air-gapped site serves it from its own registry. A minimal client of the
//! distribution API (monolithic blob upload, OCI image manifest with an
//! `artifactType`), with basic auth and bearer tokens; pulled bytes are
//! checked against their digest and as a database before they replace the
//! local one.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::db::{self, Database, DbError};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.portcullis.vulndb.v1";
/// The media type of the layer holding the database file.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.portcullis.vulndb.layer.v1";
const EMPTY_CONFIG: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Largest manifest and database accepted from a registry.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
const MAX_DATABASE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Why a push or pull failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{reference}: not a registry reference (HOST[:PORT]/REPOSITORY[:TAG])")]
    Reference { reference: String },
    #[error("registry {url}: {message}")]
    Registry { url: String, message: String },
    #[error("{reference}: the artifact holds no portcullis vulnerability database layer")]
    NotADatabase { reference: String },
    #[error("{reference}: the database blob does not match its digest {expected}")]
    DigestMismatch { reference: String, expected: String },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// PEM file of extra CA certificates.
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `host[:port]/repo[:tag]`, the tag defaulting to `latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub repository: String,
    pub tag: String,
}

impl Target {
    pub fn parse(reference: &str) -> Result<Self, OciError> {
        let bad = || OciError::Reference {
            reference: reference.to_string(),
        };
        let (host, rest) = reference.split_once('/').ok_or_else(bad)?;
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (rest, "latest"),
        };
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        let valid_tag = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if host.is_empty() || !valid_repo || !valid_tag {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
    options: RegistryOptions,
    token: Option<String>,
}

impl Client {
    fn new(target: &Target, options: &RegistryOptions) -> Result<Self, OciError> {
        let scheme = if options.insecure { "http" } else { "https" };
        let base = format!("{scheme}://{}", target.host);
        let fail = |message: String| OciError::Registry {
            url: base.clone(),
            message,
        };
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .connect_timeout(Duration::from_secs(20));
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca).map_err(|source| OciError::Io {
                path: ca.clone(),
                source,
            })?;
            // The same trust as image pulls: system roots, the CA file, and
            // its certificates pinned as server certificates.
            let certificates = portcullis_source::tls::parse_pem_bundle(&pem)
                .map_err(|e| fail(format!("CA file: {e}")))?;
            let config = portcullis_source::tls::client_config(certificates)
                .map_err(|e| fail(format!("CA file: {e}")))?;
            builder = builder.use_preconfigured_tls(config);
        }
        let http = builder.build().map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            http,
            base,
            options: options.clone(),
            token: None,
        })
    }

    fn fail(&self, url: &str, message: impl Into<String>) -> OciError {
        OciError::Registry {
            url: url.to_string(),
            message: message.into(),
        }
    }

    fn authorize(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match (&self.token, &self.options.username) {
            (Some(token), _) => request.bearer_auth(token),
            (None, Some(user)) => request.basic_auth(user, self.options.password.clone()),
            (None, None) => request,
        }
    }

    /// Sends a request; on a bearer challenge, fetches a token and retries once.
    fn send(
        &mut self,
        url: &str,
        build: &dyn Fn(&reqwest::blocking::Client) -> reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::Response, OciError> {
        let response = self
            .authorize(build(&self.http))
            .send()
            .map_err(|e| self.fail(url, e.to_string()))?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED || self.token.is_some() {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            return Err(self.fail(url, "401 unauthorized: pass --username and --password"));
        };
        let param = |key: &str| {
            params.split(',').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{key}="))
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        let realm =
            param("realm").ok_or_else(|| self.fail(url, "bearer challenge without realm"))?;
        let mut query = Vec::new();
        for key in ["service", "scope"] {
            if let Some(v) = param(key) {
                query.push((key, v));
            }
        }
        let mut token_request = self.http.get(&realm).query(&query);
        if let Some(user) = &self.options.username {
            token_request = token_request.basic_auth(user, self.options.password.clone());
        }
        let token_response = token_request
            .send()
            .map_err(|e| self.fail(&realm, e.to_string()))?;
        if !token_response.status().is_success() {
            return Err(self.fail(
                &realm,
                format!("token request: HTTP {}", token_response.status()),
            ));
        }
        let mut raw = Vec::new();
        token_response
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| self.fail(&realm, e.to_string()))?;
        let body: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|e| self.fail(&realm, e.to_string()))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str());
        self.token = Some(
            token
                .ok_or_else(|| self.fail(&realm, "token response without a token"))?
                .to_string(),
        );
        self.authorize(build(&self.http))
            .send()
            .map_err(|e| self.fail(url, e.to_string()))
    }

    fn push_blob(&mut self, repository: &str, bytes: &[u8]) -> Result<String, OciError> {
        let digest = sha256_digest(bytes);
        let head_url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        if self
            .send(&head_url, &|c| c.head(&head_url))?
            .status()
            .is_success()
        {
            return Ok(digest);
        }
        let start_url = format!("{}/v2/{repository}/blobs/uploads/", self.base);
        let started = self.send(&start_url, &|c| c.post(&start_url))?;
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Err(self.fail(
                &start_url,
                format!("starting an upload: HTTP {}", started.status()),
            ));
        }
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.fail(&start_url, "upload without a Location"))?;
        let mut upload = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        };
        upload.push(if upload.contains('?') { '&' } else { '?' });
        upload.push_str(&format!("digest={digest}"));
        let body = bytes.to_vec();
        let put = self.send(&upload, &|c| {
            c.put(&upload)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body.clone())
        })?;
        if put.status() != reqwest::StatusCode::CREATED {
            return Err(self.fail(
                &upload,
                format!("uploading {digest}: HTTP {}", put.status()),
            ));
        }
        Ok(digest)
    }

    fn get_limited(&mut self, url: &str, accept: &str, limit: u64) -> Result<Vec<u8>, OciError> {
        let response = self.send(url, &|c| c.get(url).header(reqwest::header::ACCEPT, accept))?;
        if !response.status().is_success() {
            return Err(self.fail(url, format!("HTTP {}", response.status())));
        }
        let mut bytes = Vec::new();
        response
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.fail(url, e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(self.fail(url, format!("larger than {limit} bytes")));
        }
        Ok(bytes)
    }
}

/// Pushes the database file at `path` as `reference`; returns the manifest digest.
pub fn push(path: &Path, reference: &str, options: &RegistryOptions) -> Result<String, OciError> {
    let target = Target::parse(reference)?;
    // Only a database that opens is pushed.
    let bytes = std::fs::read(path).map_err(|source| OciError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let db = Database::from_bytes(path, bytes)?;
    let built = db.metadata().built.clone();
    let bytes = db.bytes();
    let mut client = Client::new(&target, options)?;
    let config_digest = client.push_blob(&target.repository, EMPTY_CONFIG)?;
    let layer_digest = client.push_blob(&target.repository, bytes)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": config_digest, "size": EMPTY_CONFIG.len()},
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": bytes.len(),
            "annotations": {"org.opencontainers.image.title": "vulndb.bin"}
        }],
        "annotations": {"org.opencontainers.image.created": built}
    });
    let body = serde_json::to_vec(&manifest).unwrap_or_default();
    let url = format!(
        "{}/v2/{}/manifests/{}",
        client.base, target.repository, target.tag
    );
    let response = client.send(&url, &|c| {
        c.put(&url)
            .header(reqwest::header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
            .body(body.clone())
    })?;
    if response.status() != reqwest::StatusCode::CREATED {
        return Err(client.fail(
            &url,
            format!("pushing the manifest: HTTP {}", response.status()),
        ));
    }
    Ok(sha256_digest(&body))
}

/// Pulls `reference` and atomically replaces the database at `path`, after
/// checking the blob's digest and that it opens as a database.
pub fn pull(
    reference: &str,
    path: &Path,
    options: &RegistryOptions,
) -> Result<db::Metadata, OciError> {
    let target = Target::parse(reference)?;
    let mut client = Client::new(&target, options)?;
    let url = format!(
        "{}/v2/{}/manifests/{}",
        client.base, target.repository, target.tag
    );
    let manifest_bytes = client.get_limited(&url, MANIFEST_MEDIA_TYPE, MAX_MANIFEST_BYTES)?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| client.fail(&url, format!("manifest: {e}")))?;
    let layer = manifest
        .get("layers")
        .and_then(|l| l.as_array())
        .and_then(|layers| {
            layers
                .iter()
                .find(|l| l.get("mediaType").and_then(|m| m.as_str()) == Some(LAYER_MEDIA_TYPE))
        })
        .ok_or_else(|| OciError::NotADatabase {
            reference: reference.to_string(),
        })?;
    let digest = layer
        .get("digest")
        .and_then(|d| d.as_str())
        .filter(|d| {
            d.starts_with("sha256:")
                && d.len() == 71
                && d[7..].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .ok_or_else(|| OciError::NotADatabase {
            reference: reference.to_string(),
        })?
        .to_string();
    let blob_url = format!("{}/v2/{}/blobs/{digest}", client.base, target.repository);
    let bytes = client.get_limited(&blob_url, "application/octet-stream", MAX_DATABASE_BYTES)?;
    if sha256_digest(&bytes) != digest {
        return Err(OciError::DigestMismatch {
            reference: reference.to_string(),
            expected: digest,
        });
    }
    let db = Database::from_bytes(path, bytes)?;
    let meta = db.metadata().clone();
    db::write_atomically(path, db.bytes())?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let t = Target::parse("127.0.0.1:5000/portcullis/db:2026-11-29").expect("parses");
        assert_eq!(
            (t.host.as_str(), t.repository.as_str(), t.tag.as_str()),
            ("127.0.0.1:5000", "portcullis/db", "2026-11-29")
        );
        assert_eq!(
            Target::parse("reg.example/db").expect("parses").tag,
            "latest"
        );
        assert!(Target::parse("nohost").is_err());
        assert!(Target::parse("reg/UPPER:tag").is_err());
        assert!(Target::parse("reg/db:bad tag").is_err());
    }
}
