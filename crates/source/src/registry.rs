//! A client for the distribution (OCI / Docker Registry v2) API.
//!
//! Hand-written over blocking `reqwest` (rustls with the ring provider) rather
//! than `oci-client`: that crate is async (it would drag a tokio runtime into a
//! stage that is otherwise plain threads), and Portcullis needs control it
//! does not give in one place: streaming each blob through a digest-verifying
//! reader straight into a temp file of its own cache, a custom CA together
//! with the system roots, plain HTTP only on request, and typed errors naming
//! image, URL and blob for every way a hostile registry can answer.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde::Deserialize;

use crate::auth::{self, Credentials};
use crate::cache::{BlobCache, StoreError};
use crate::digest::{Digest, VerifiedReader, truncate};
use crate::error::{BlobError, SourceError};
use crate::model::{
    DOCKER_LIST, DOCKER_MANIFEST, MAX_METADATA_BYTES, OCI_INDEX, OCI_MANIFEST, Platform,
};
use crate::reference::RegistryRef;
use crate::resolve::{self, MetadataKind, Resolved, verify_small};
use crate::{Progress, SourceOptions};

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Token endpoint replies are small.
const MAX_TOKEN_BYTES: u64 = 1024 * 1024;

/// A connection to one repository of one registry.
pub(crate) struct RegistryClient {
    http: Client,
    base: String,
    reference: RegistryRef,
    image: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
    cache: BlobCache,
    progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .field("image", &self.image)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl RegistryClient {
    pub(crate) fn new(
        image: &str,
        reference: &RegistryRef,
        options: &SourceOptions,
        cache_dir: PathBuf,
    ) -> Result<Self, SourceError> {
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // No total timeout: a large layer on a slow link legitimately takes long.
            .timeout(None::<Duration>)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .https_only(!options.insecure)
            // `--insecure` means what it means to Docker: TLS without
            // verification, or plain HTTP when the registry speaks no TLS.
            .danger_accept_invalid_certs(options.insecure);
        if let Some(ca_file) = &options.ca_file {
            let config_err = |reason: String| SourceError::Config {
                what: format!("CA file {}", ca_file.display()),
                reason,
            };
            let pem = std::fs::read(ca_file).map_err(|e| config_err(e.to_string()))?;
            let certificates = crate::tls::parse_pem_bundle(&pem).map_err(config_err)?;
            if certificates.is_empty() {
                return Err(config_err("no PEM certificate in file".into()));
            }
            if !options.insecure {
                // Our own verifier: it also accepts the CA file's self-signed
                // certificates as server certificates (see `tls`).
                builder = builder.use_preconfigured_tls(
                    crate::tls::client_config(certificates).map_err(config_err)?,
                );
            }
        }
        let http = builder.build().map_err(|e| SourceError::Config {
            what: "HTTP client".into(),
            reason: e.to_string(),
        })?;
        let https = format!("https://{}", reference.api_host());
        let base = if options.insecure && http.get(format!("{https}/v2/")).send().is_err() {
            format!("http://{}", reference.api_host())
        } else {
            https
        };
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => auth::lookup(&reference.registry, options.docker_config.as_deref())?,
        };
        Ok(Self {
            http,
            base,
            reference: reference.clone(),
            image: image.to_owned(),
            credentials,
            authorization: Mutex::new(None),
            cache: BlobCache::new(&cache_dir),
            progress: options.progress.clone(),
        })
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.base, self.reference.repository
        )
    }

    fn network(&self, url: &str, source: reqwest::Error) -> SourceError {
        SourceError::Network {
            image: self.image.clone(),
            url: url.to_owned(),
            source,
        }
    }

    fn garbage(&self, url: &str, reason: impl std::fmt::Display) -> SourceError {
        SourceError::RegistryGarbage {
            image: self.image.clone(),
            url: url.to_owned(),
            reason: truncate(&reason.to_string()),
        }
    }

    /// GET with the current authorization; on a 401 answers the
    /// `WWW-Authenticate` challenge once and retries.
    fn get(&self, url: &str, accept: Option<&str>) -> Result<Response, SourceError> {
        let send = |authorization: Option<&str>| {
            let mut request = self.http.get(url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(value) = authorization {
                request = request.header(AUTHORIZATION, value);
            }
            request.send().map_err(|e| self.network(url, e))
        };
        let current = self.authorization.lock().ok().and_then(|a| a.clone());
        let response = send(current.as_deref())?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return self.check_status(url, response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| self.auth_error("401 without a WWW-Authenticate challenge".into()))?;
        let authorization = self.answer(&challenge)?;
        if let Ok(mut slot) = self.authorization.lock() {
            *slot = Some(authorization.clone());
        }
        let response = send(Some(&authorization))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.auth_error(match &self.credentials {
                Some(c) => format!("credentials of user {:?} were refused", c.username),
                None => "the registry requires credentials and none were found".into(),
            }));
        }
        self.check_status(url, response)
    }

    fn auth_error(&self, reason: String) -> SourceError {
        SourceError::Auth {
            image: self.image.clone(),
            registry: self.reference.registry.clone(),
            reason,
        }
    }

    fn check_status(&self, url: &str, response: Response) -> Result<Response, SourceError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = Vec::new();
        // An error body is only shown, so a prefix is enough.
        let _ = response.take(4096).read_to_end(&mut body);
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/errors/0/message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SourceError::NotFound {
                image: self.image.clone(),
                what: format!("{url} ({})", truncate(&message)),
                available: Vec::new(),
            });
        }
        Err(SourceError::RegistryStatus {
            image: self.image.clone(),
            url: url.to_owned(),
            status: status.as_u16(),
            message: truncate(&message),
        })
    }

    /// Turns a challenge into an `Authorization` header value.
    fn answer(&self, challenge: &str) -> Result<String, SourceError> {
        let (scheme, params) = auth::parse_challenge(challenge).ok_or_else(|| {
            self.auth_error(format!("unreadable challenge {:?}", truncate(challenge)))
        })?;
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            let credentials = self.credentials.as_ref().ok_or_else(|| {
                self.auth_error("the registry requires credentials and none were found".into())
            })?;
            return Ok(basic(credentials));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.auth_error(format!("unsupported auth scheme {:?}", truncate(&scheme))));
        }
        let realm = param("realm")
            .ok_or_else(|| self.auth_error("bearer challenge without realm".into()))?;
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| self.auth_error(format!("bad realm {:?}: {e}", truncate(realm))))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && self.base.starts_with("http:")) {
            return Err(self.auth_error(format!(
                "refusing token realm {:?} over plain HTTP",
                truncate(realm)
            )));
        }
        let default_scope = format!("repository:{}:pull", self.reference.repository);
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = param("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", param("scope").unwrap_or(&default_scope));
        }
        let mut request = self.http.get(url.as_str());
        if let Some(credentials) = &self.credentials {
            request = request.header(AUTHORIZATION, basic(credentials));
        }
        let realm_url = url.to_string();
        let response = request.send().map_err(|e| self.network(&realm_url, e))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.auth_error("the token service refused the credentials".into()));
        }
        let response = self.check_status(&realm_url, response)?;
        let body = self.read_limited(&realm_url, response, MAX_TOKEN_BYTES, "token reply")?;
        let reply: TokenReply =
            serde_json::from_slice(&body).map_err(|e| self.garbage(&realm_url, e))?;
        let token = reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.garbage(&realm_url, "token reply without a token"))?;
        Ok(format!("Bearer {token}"))
    }

    fn read_limited(
        &self,
        url: &str,
        response: Response,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, SourceError> {
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(SourceError::TooLarge {
                image: self.image.clone(),
                what: what.to_owned(),
                limit,
            });
        }
        let mut body = Vec::new();
        response
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.garbage(url, format!("reading {what}: {e}")))?;
        if body.len() as u64 > limit {
            return Err(SourceError::TooLarge {
                image: self.image.clone(),
                what: what.to_owned(),
                limit,
            });
        }
        Ok(body)
    }

    /// Fetches a manifest or index by tag or digest.
    fn manifest(&self, reference: &str) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let url = self.url("manifests", reference);
        let response = self.get(&url, Some(MANIFEST_ACCEPT))?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        if let Some(content_type) = &content_type
            && ![
                OCI_INDEX,
                OCI_MANIFEST,
                DOCKER_LIST,
                DOCKER_MANIFEST,
                "application/json",
            ]
            .contains(&content_type.as_str())
        {
            return Err(self.garbage(&url, format!("manifest with content type {content_type:?}")));
        }
        let body = self.read_limited(&url, response, MAX_METADATA_BYTES, "manifest")?;
        Ok((body, content_type))
    }

    /// A small blob (config, child manifest), from the cache or the registry.
    fn metadata(
        &self,
        digest: &Digest,
        size: Option<u64>,
        kind: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let cached = self.cache.path(digest);
        if let Ok(bytes) = std::fs::read(&cached)
            && verify_small(&self.image, digest, size, &bytes).is_ok()
        {
            return Ok(bytes);
        }
        let (bytes, _) = if kind == "manifests" {
            self.manifest(digest.as_str())?
        } else {
            let url = self.url(kind, digest.as_str());
            let response = self.get(&url, None)?;
            (
                self.read_limited(&url, response, MAX_METADATA_BYTES, "config")?,
                None,
            )
        };
        verify_small(&self.image, digest, size, &bytes)?;
        let mut reader = &bytes[..];
        // A cache write failure is not fatal for a document already in memory.
        if let Err(StoreError::Cache(e)) = self.cache.store(digest, &mut reader, &mut |_| {}) {
            tracing::warn!("{e}");
        }
        Ok(bytes)
    }

    /// Resolves the reference to one platform's manifest and config.
    pub(crate) fn resolve(&self, platform: &Platform) -> Result<Resolved, SourceError> {
        let (bytes, declared, digest) = match &self.reference.digest {
            Some(digest) => (
                self.metadata(digest, None, "manifests")?,
                None,
                digest.clone(),
            ),
            None => {
                let (bytes, content_type) = self.manifest(&self.reference.manifest_reference())?;
                let digest = Digest::of(&bytes);
                (bytes, content_type, digest)
            }
        };
        let fetch = |digest: &Digest, size: Option<u64>, kind| -> Result<Vec<u8>, SourceError> {
            let endpoint = match kind {
                MetadataKind::Manifest => "manifests",
                MetadataKind::Config => "blobs",
            };
            self.metadata(digest, size, endpoint)
        };
        resolve::resolve(&self.image, digest, bytes, declared, platform, &fetch)
    }

    /// The cached path of a layer blob, downloading (and verifying) it first
    /// if needed.
    pub(crate) fn layer_path(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<PathBuf, SourceError> {
        let path = self.cache.path(digest);
        if path.is_file() {
            return Ok(path);
        }
        let url = self.url("blobs", digest.as_str());
        let response = self.get(&url, None)?;
        if let (Some(declared), Some(sent)) = (size, response.content_length())
            && declared != sent
        {
            return Err(BlobError::SizeMismatch {
                image: self.image.clone(),
                blob: digest.clone(),
                expected: declared,
                actual: sent,
            }
            .into());
        }
        let total = size.or(response.content_length());
        if let Some(progress) = &self.progress {
            progress.started(&self.image, digest, total);
        }
        let mut reader = VerifiedReader::new(response, &self.image, digest.clone(), size);
        let progress = self.progress.clone();
        let mut advance = |n: u64| {
            if let Some(p) = &progress {
                p.advanced(digest, n);
            }
        };
        let stored = self.cache.store(digest, &mut reader, &mut advance);
        if let Some(progress) = &self.progress {
            progress.finished(digest);
        }
        match stored {
            Ok(path) => Ok(path),
            Err(StoreError::Cache(e)) => Err(e),
            Err(StoreError::Read(e)) => Err(BlobError::from_io(e, &self.image, digest).into()),
        }
    }

    /// Whether a layer blob is already in the cache.
    pub(crate) fn is_cached(&self, digest: &Digest) -> bool {
        self.cache.contains(digest)
    }
}

fn basic(credentials: &Credentials) -> String {
    let pair = format!("{}:{}", credentials.username, credentials.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
