//! A client for the distribution (OCI / Docker Registry v2) API: the one
//! registry client of Portcullis, used by the image puller ([`crate::open`])
//! and by anything else that stores or reads artifacts in a registry (the
//! vulnerability database's `db push` / `db pull`).
//!
//! Hand-written over blocking `reqwest` (rustls with the ring provider) rather
//! than `oci-client`: that crate is async (it would drag a tokio runtime into a
//! stage that is otherwise plain threads), and Portcullis needs control it
//! does not give in one place: streaming each blob through a digest-verifying
//! reader, a custom CA together with the system roots, plain HTTP only on
//! request, and typed errors naming reference, URL and blob for every way a
//! hostile registry can answer.

use std::io::{Read, Write};
use std::time::Duration;

use base64::Engine as _;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use crate::SourceOptions;
use crate::auth::{self, Credentials};
use crate::digest::{Digest, VerifiedReader, truncate};
use crate::error::{BlobError, SourceError};
use crate::model::MAX_METADATA_BYTES;
use crate::reference::{RegistryRef, validate_tag};

/// Token endpoint replies are small.
const MAX_TOKEN_BYTES: u64 = 1024 * 1024;
/// The header registries name a stored blob's or manifest's digest in.
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// What a [`RepositoryClient`] will do in its repository; decides the token
/// scope it asks a bearer-token service for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read manifests and blobs (`repository:NAME:pull`).
    Pull,
    /// Read and write (`repository:NAME:pull,push`).
    Push,
}

/// A manifest (or index) as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The document, at most [`MAX_METADATA_BYTES`] long.
    pub bytes: Vec<u8>,
    /// The digest of `bytes` (checked against the request when it named a digest).
    pub digest: Digest,
    /// The `Content-Type` the registry declared, without parameters.
    pub media_type: Option<String>,
}

/// The outcome of [`RepositoryClient::push_blob`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedBlob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its length in bytes.
    pub size: u64,
    /// `false` when the registry already had the blob and nothing was sent.
    pub uploaded: bool,
}

/// A connection to one repository of one registry: authentication (the
/// `WWW-Authenticate` challenge, basic or bearer token, with credentials from
/// [`SourceOptions`] or the Docker config), TLS trust (`ca_file`, `insecure`)
/// and the manifest and blob endpoints.
pub struct RepositoryClient {
    http: Client,
    base: String,
    reference: RegistryRef,
    /// The reference as text, named in every error.
    name: String,
    access: Access,
    credentials: Option<Credentials>,
    authorization: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for RepositoryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryClient")
            .field("base", &self.base)
            .field("reference", &self.name)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl RepositoryClient {
    /// Sets up a client for `reference`'s repository: the HTTP client with the
    /// trust `options` ask for, the scheme (plain HTTP only when `insecure`
    /// and the registry speaks no TLS) and the credentials (from `options`,
    /// else the Docker config and its helpers). Only the `insecure` probe
    /// touches the network; authentication happens on the first request.
    pub fn connect(
        reference: &RegistryRef,
        options: &SourceOptions,
        access: Access,
    ) -> Result<Self, SourceError> {
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // No total timeout: a large blob on a slow link legitimately takes long.
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
            name: reference.to_string(),
            access,
            credentials,
            authorization: std::sync::Mutex::new(None),
        })
    }

    /// The reference this client was set up for.
    pub fn reference(&self) -> &RegistryRef {
        &self.reference
    }

    /// The reference as text, as errors name it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `BASE/v2/REPOSITORY/KIND/REFERENCE`.
    pub(crate) fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.base, self.reference.repository
        )
    }

    fn network(&self, url: &str, source: reqwest::Error) -> SourceError {
        SourceError::Network {
            image: self.name.clone(),
            url: url.to_owned(),
            source,
        }
    }

    fn garbage(&self, url: &str, reason: impl std::fmt::Display) -> SourceError {
        SourceError::RegistryGarbage {
            image: self.name.clone(),
            url: url.to_owned(),
            reason: truncate(&reason.to_string()),
        }
    }

    fn auth_error(&self, reason: String) -> SourceError {
        SourceError::Auth {
            image: self.name.clone(),
            registry: self.reference.registry.clone(),
            reason,
        }
    }

    /// Sends `request` with the current authorization; on a 401 answers the
    /// `WWW-Authenticate` challenge once and sends it again. The status is
    /// left to the caller. `authorize` is false for URLs on another origin
    /// (an upload location elsewhere), which never see the credentials.
    fn send(
        &self,
        url: &str,
        request: RequestBuilder,
        authorize: bool,
    ) -> Result<Response, SourceError> {
        if !authorize {
            return request.send().map_err(|e| self.network(url, e));
        }
        // Bodies here are in memory, so a request can always be cloned for
        // the retry; a streaming body would be sent once, unauthenticated.
        let retry = request.try_clone();
        let current = self.authorization.lock().ok().and_then(|a| a.clone());
        let first = match &current {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        };
        let response = first.send().map_err(|e| self.network(url, e))?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(retry) = retry else {
            return Ok(response);
        };
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
        let response = retry
            .header(AUTHORIZATION, &authorization)
            .send()
            .map_err(|e| self.network(url, e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.auth_error(match &self.credentials {
                Some(c) => format!("credentials of user {:?} were refused", c.username),
                None => "the registry requires credentials and none were found".into(),
            }));
        }
        Ok(response)
    }

    /// GET with authentication; any status but success is an error.
    pub(crate) fn get(&self, url: &str, accept: Option<&str>) -> Result<Response, SourceError> {
        let mut request = self.http.get(url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = self.send(url, request, true)?;
        self.check_status(url, response)
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
        if status == StatusCode::NOT_FOUND {
            return Err(SourceError::NotFound {
                image: self.name.clone(),
                what: format!("{url} ({})", truncate(&message)),
                available: Vec::new(),
            });
        }
        Err(SourceError::RegistryStatus {
            image: self.name.clone(),
            url: url.to_owned(),
            status: status.as_u16(),
            message: truncate(&message),
        })
    }

    /// The token scopes to ask for: the challenge's, plus ours when we push
    /// (a challenge to a read names only `pull`, and the token must also
    /// cover the upload that follows).
    fn scopes(&self, challenged: Option<&str>) -> Vec<String> {
        let ours = match self.access {
            Access::Pull => format!("repository:{}:pull", self.reference.repository),
            Access::Push => format!("repository:{}:pull,push", self.reference.repository),
        };
        match challenged {
            Some(scope) if self.access == Access::Push && scope != ours => {
                vec![scope.to_owned(), ours]
            }
            Some(scope) => vec![scope.to_owned()],
            None => vec![ours],
        }
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
        let mut url = Url::parse(realm)
            .map_err(|e| self.auth_error(format!("bad realm {:?}: {e}", truncate(realm))))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && self.base.starts_with("http:")) {
            return Err(self.auth_error(format!(
                "refusing token realm {:?} over plain HTTP",
                truncate(realm)
            )));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = param("service") {
                query.append_pair("service", service);
            }
            for scope in self.scopes(param("scope")) {
                query.append_pair("scope", &scope);
            }
        }
        let mut request = self.http.get(url.as_str());
        if let Some(credentials) = &self.credentials {
            request = request.header(AUTHORIZATION, basic(credentials));
        }
        let realm_url = url.to_string();
        let response = request.send().map_err(|e| self.network(&realm_url, e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
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

    pub(crate) fn read_limited(
        &self,
        url: &str,
        response: Response,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let too_large = || SourceError::TooLarge {
            image: self.name.clone(),
            what: what.to_owned(),
            limit,
        };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        response
            .take(limit.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|e| self.garbage(url, format!("reading {what}: {e}")))?;
        if body.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(body)
    }

    /// Fetches a manifest or index by tag or digest, asking for the media
    /// types in `accept`. The document is at most [`MAX_METADATA_BYTES`];
    /// when `reference` is a digest, the bytes must hash to it. Which media
    /// types are acceptable is the caller's decision: the registry's
    /// `Content-Type` is returned, not judged.
    pub fn get_manifest(
        &self,
        reference: &str,
        accept: &[&str],
    ) -> Result<FetchedManifest, SourceError> {
        let pinned =
            match reference.strip_prefix("sha256:") {
                Some(_) => Some(Digest::parse(reference).map_err(|reason| {
                    SourceError::InvalidReference {
                        input: format!("{}@{reference}", self.reference.repository),
                        reason,
                    }
                })?),
                None => None,
            };
        let url = self.url("manifests", reference);
        let accept = accept.join(", ");
        let response = self.get(&url, Some(accept.as_str()).filter(|a| !a.is_empty()))?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes = self.read_limited(&url, response, MAX_METADATA_BYTES, "manifest")?;
        let digest = Digest::of(&bytes);
        if let Some(pinned) = pinned
            && pinned != digest
        {
            return Err(BlobError::DigestMismatch {
                image: self.name.clone(),
                blob: pinned,
                actual: digest.to_string(),
            }
            .into());
        }
        Ok(FetchedManifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// Opens a blob for reading: the response, after checking the length
    /// the registry announces against the descriptor's `size`.
    pub(crate) fn open_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Response, SourceError> {
        let url = self.url("blobs", digest.as_str());
        let response = self.get(&url, None)?;
        if let (Some(declared), Some(sent)) = (size, response.content_length())
            && declared != sent
        {
            return Err(BlobError::SizeMismatch {
                image: self.name.clone(),
                blob: digest.clone(),
                expected: declared,
                actual: sent,
            }
            .into());
        }
        Ok(response)
    }

    /// Streams the blob `digest` into `writer`, verifying as it goes that it
    /// is exactly `size` bytes (when known), at most `limit` bytes, and hashes
    /// to `digest`. Returns the number of bytes written. On an error the
    /// writer may have received part of the blob: write to a temporary place.
    pub fn fetch_blob_to(
        &self,
        digest: &Digest,
        size: Option<u64>,
        limit: u64,
        writer: &mut dyn Write,
    ) -> Result<u64, SourceError> {
        let too_large = || SourceError::TooLarge {
            image: self.name.clone(),
            what: format!("blob {digest}"),
            limit,
        };
        if size.is_some_and(|s| s > limit) {
            return Err(too_large());
        }
        let response = self.open_blob(digest, size)?;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut reader = VerifiedReader::new(response, &self.name, digest.clone(), size);
        let mut buf = vec![0u8; 256 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(written),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BlobError::from_io(e, &self.name, digest).into()),
            };
            written += n as u64;
            if written > limit {
                return Err(too_large());
            }
            writer
                .write_all(buf.get(..n).unwrap_or_default())
                .map_err(|source| SourceError::Sink {
                    image: self.name.clone(),
                    blob: digest.clone(),
                    source,
                })?;
        }
    }

    /// Whether the registry already holds the blob `digest`.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool, SourceError> {
        let url = self.url("blobs", digest.as_str());
        let response = self.send(&url, self.http.head(&url), true)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.check_status(&url, response).map(|_| true)
    }

    /// Uploads `bytes` as a blob unless the registry already has it (asked
    /// with `HEAD`): one `POST` to start the upload, one monolithic `PUT`
    /// with the digest. Needs a client connected with [`Access::Push`] when
    /// the registry hands out scoped tokens.
    pub fn push_blob(&self, bytes: &[u8]) -> Result<PushedBlob, SourceError> {
        let digest = Digest::of(bytes);
        let size = bytes.len() as u64;
        if self.has_blob(&digest)? {
            return Ok(PushedBlob {
                digest,
                size,
                uploaded: false,
            });
        }
        let start = format!(
            "{}/v2/{}/blobs/uploads/",
            self.base, self.reference.repository
        );
        let response = self.send(
            &start,
            self.http.post(&start).header(CONTENT_LENGTH, "0"),
            true,
        )?;
        let response = self.check_status(&start, response)?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.garbage(
                &start,
                format!("starting an upload answered {}", response.status()),
            ));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.garbage(&start, "upload started without a Location"))?;
        let mut upload = self.upload_url(&start, location)?;
        upload
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        let upload_text = upload.to_string();
        let same_origin = self.is_same_origin(&upload);
        let request = self
            .http
            .request(Method::PUT, upload)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec());
        let response = self.send(&upload_text, request, same_origin)?;
        let response = self.check_status(&upload_text, response)?;
        self.check_stored_digest(&upload_text, &response, &digest)?;
        Ok(PushedBlob {
            digest,
            size,
            uploaded: true,
        })
    }

    /// The upload URL from a `Location` header, relative to the registry.
    fn upload_url(&self, start: &str, location: &str) -> Result<Url, SourceError> {
        let base = Url::parse(start).map_err(|e| self.garbage(start, e))?;
        let url = base
            .join(location)
            .map_err(|e| self.garbage(start, format!("upload location {location:?}: {e}")))?;
        // A registry on HTTPS must not send the blob over plain HTTP.
        if url.scheme() != "https" && !(url.scheme() == "http" && self.base.starts_with("http:")) {
            return Err(self.garbage(
                start,
                format!("refusing upload location {:?}", truncate(location)),
            ));
        }
        Ok(url)
    }

    fn is_same_origin(&self, url: &Url) -> bool {
        Url::parse(&self.base).is_ok_and(|base| base.origin() == url.origin())
    }

    /// A registry that names another digest than the one computed here has
    /// stored something else.
    fn check_stored_digest(
        &self,
        url: &str,
        response: &Response,
        digest: &Digest,
    ) -> Result<(), SourceError> {
        match response
            .headers()
            .get(DOCKER_CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
        {
            Some(stored) if stored != digest.as_str() => Err(self.garbage(
                url,
                format!(
                    "the registry stored {} instead of {digest}",
                    truncate(stored)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Stores `bytes` as the manifest tagged `tag`, of `media_type`; its blobs
    /// must be pushed first. Returns the manifest's digest.
    pub fn put_manifest(
        &self,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, SourceError> {
        validate_tag(tag).map_err(|reason| SourceError::InvalidReference {
            input: format!("{}:{tag}", self.reference.repository),
            reason,
        })?;
        if bytes.len() as u64 > MAX_METADATA_BYTES {
            return Err(SourceError::TooLarge {
                image: self.name.clone(),
                what: "manifest".into(),
                limit: MAX_METADATA_BYTES,
            });
        }
        let digest = Digest::of(bytes);
        let url = self.url("manifests", tag);
        let request = self
            .http
            .put(&url)
            .header(CONTENT_TYPE, media_type)
            .body(bytes.to_vec());
        let response = self.send(&url, request, true)?;
        let response = self.check_status(&url, response)?;
        self.check_stored_digest(&url, &response, &digest)?;
        Ok(digest)
    }
}

fn basic(credentials: &Credentials) -> String {
    let pair = format!("{}:{}", credentials.username, credentials.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
