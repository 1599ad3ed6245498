//! The HTTPS server: TLS (rustls, ring), routing, limits and timeouts,
//! certificate (and vulnerability database) reload, metrics and graceful
//! shutdown.
//!
//! Every limit here exists because the API server is not the only client a
//! webhook port sees: anything that can reach the Service can open
//! connections, stall them, or send large or broken bodies.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::metrics::{Endpoint, Metrics};
use crate::review::{AdmissionRequest, AdmissionResponse, parse_review};
use crate::tls::{CertificateFiles, ReloadingResolver, TlsError};
use crate::verdicts::VerdictCache;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Limits and timings of the server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Serving certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// Serving key (PEM).
    pub tls_key: PathBuf,
    /// Largest request body accepted (the API server's own limit is 3 MiB).
    pub max_body_bytes: usize,
    /// Time allowed for a request from its headers to the response, body read included.
    pub request_timeout: Duration,
    /// Time allowed for a client to send a request's headers.
    pub header_read_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How often the certificate files (and the vulnerability database
    /// file, see [`Server::reload_database_of`]) are checked for changes.
    pub cert_reload_interval: Duration,
    /// After a shutdown signal, how long to keep serving while `/readyz`
    /// already fails, so endpoints stop routing here first.
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl ServerSettings {
    /// Defaults suited to a webhook with `timeoutSeconds: 10`.
    pub fn new(listen: SocketAddr, tls_cert: PathBuf, tls_key: PathBuf) -> Self {
        Self {
            listen,
            tls_cert,
            tls_key,
            max_body_bytes: 3 * 1024 * 1024,
            request_timeout: Duration::from_secs(9),
            header_read_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            max_connections: 4096,
            cert_reload_interval: Duration::from_secs(10),
            shutdown_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(15),
        }
    }
}

/// A boxed future, as returned by [`Reviewer::review`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What judges a parsed admission request.
pub trait Reviewer: Send + Sync + 'static {
    /// Judges `request` for `endpoint` and returns the response to send
    /// (whose `uid` must be the request's).
    fn review(&self, endpoint: Endpoint, request: AdmissionRequest) -> BoxFuture<'_, Reviewed>;
}

/// A response with the label it is counted under.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The response.
    pub response: AdmissionResponse,
    /// `allowed`, `denied` or `patched`.
    pub decision: &'static str,
}

struct AppState {
    reviewer: Arc<dyn Reviewer>,
    metrics: Arc<Metrics>,
    ready: AtomicBool,
    max_body_bytes: usize,
    request_timeout: Duration,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    settings: ServerSettings,
    resolver: Arc<ReloadingResolver>,
    files: CertificateFiles,
    acceptor: TlsAcceptor,
    state: Arc<AppState>,
    database_of: Option<Arc<VerdictCache>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Loads the certificate and binds the listen address.
    pub async fn bind(
        settings: ServerSettings,
        reviewer: Arc<dyn Reviewer>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServeError> {
        let (files, key) = CertificateFiles::load(&settings.tls_cert, &settings.tls_key)?;
        let resolver = Arc::new(ReloadingResolver::new(key));
        let config = crate::tls::server_config(Arc::clone(&resolver))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let state = Arc::new(AppState {
            reviewer,
            metrics,
            ready: AtomicBool::new(true),
            max_body_bytes: settings.max_body_bytes,
            request_timeout: settings.request_timeout,
        });
        Ok(Self {
            listener,
            settings,
            resolver,
            files,
            acceptor,
            state,
            database_of: None,
        })
    }

    /// Also checks the vulnerability database behind `verdicts` for changes,
    /// on the certificate reload period, and reloads it when it changed.
    pub fn reload_database_of(mut self, verdicts: Arc<VerdictCache>) -> Self {
        self.database_of = Some(verdicts);
        self
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let Server {
            listener,
            settings,
            resolver,
            files,
            acceptor,
            state,
            database_of,
        } = self;
        let reload = tokio::spawn(reload_files(
            files,
            resolver,
            database_of,
            settings.cert_reload_interval,
            Arc::clone(&state.metrics),
        ));
        let router = router(Arc::clone(&state));
        let connections = Arc::new(Semaphore::new(settings.max_connections.max(1)));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tracing::info!(addr = %settings.listen, "admission webhook serving");

        let mut shutdown = std::pin::pin!(shutdown);
        let mut draining_at: Option<tokio::time::Instant> = None;
        loop {
            let stop_at = draining_at;
            let accepted = tokio::select! {
                () = &mut shutdown, if draining_at.is_none() => {
                    state.ready.store(false, Ordering::SeqCst);
                    tracing::info!(delay = ?settings.shutdown_delay, "shutdown requested; readiness now fails");
                    draining_at = Some(tokio::time::Instant::now() + settings.shutdown_delay);
                    continue;
                }
                () = async { if let Some(at) = stop_at { tokio::time::sleep_until(at).await } }, if stop_at.is_some() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            // Waiting here leaves further clients in the kernel's backlog.
            let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
                break;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            let watcher = graceful.watcher();
            let handshake_timeout = settings.handshake_timeout;
            let header_read_timeout = settings.header_read_timeout;
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .max_buf_size(64 * 1024);
                builder
                    .http2()
                    .timer(TokioTimer::new())
                    .max_concurrent_streams(128)
                    .max_header_list_size(64 * 1024)
                    .keep_alive_interval(Some(Duration::from_secs(30)))
                    .keep_alive_timeout(Duration::from_secs(10));
                let connection = builder.serve_connection(TokioIo::new(tls), service);
                if let Err(error) = watcher.watch(connection).await {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        reload.abort();
        match tokio::time::timeout(settings.shutdown_grace, graceful.shutdown()).await {
            Ok(()) => tracing::info!("all connections drained; stopped"),
            Err(_) => {
                tracing::warn!(grace = ?settings.shutdown_grace, "connections still open after the grace period; stopped")
            }
        }
    }
}

/// Every `interval`: the certificate pair, then the vulnerability database.
async fn reload_files(
    mut files: CertificateFiles,
    resolver: Arc<ReloadingResolver>,
    database_of: Option<Arc<VerdictCache>>,
    interval: Duration,
    metrics: Arc<Metrics>,
) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let (back, outcome) = match tokio::task::spawn_blocking(move || {
            let outcome = files.reload_if_changed();
            (files, outcome)
        })
        .await
        {
            Ok(done) => done,
            Err(_) => return,
        };
        files = back;
        match outcome {
            Ok(Some(key)) => {
                resolver.replace(key);
                metrics.tls_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!("serving certificate reloaded");
            }
            Ok(None) => {}
            Err(error) => {
                metrics.tls_reload_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "certificate files changed but are unusable; keeping the current certificate");
            }
        }
        if let Some(verdicts) = &database_of {
            verdicts.reload_if_changed().await;
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn validate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    review(state, Endpoint::Validate, request).await
}

async fn mutate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    review(state, Endpoint::Mutate, request).await
}

fn refuse(state: &AppState, status: StatusCode, reason: &'static str, message: String) -> Response {
    state.metrics.bad_request(reason);
    tracing::info!(status = status.as_u16(), reason, %message, "request refused");
    let mut response = (status, format!("{message}\n")).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn review(state: Arc<AppState>, endpoint: Endpoint, request: Request) -> Response {
    let deadline = tokio::time::Instant::now() + state.request_timeout;
    let limit = state.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refuse(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body is larger than {limit} bytes"),
        );
    }
    let body: Body = request.into_body();
    let bytes = match tokio::time::timeout_at(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            // `to_bytes` fails both for a body over the limit and for a broken stream.
            let too_large = std::error::Error::source(&error)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            return if too_large {
                refuse(
                    &state,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body is larger than {limit} bytes"),
                )
            } else {
                refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    "body_read",
                    format!("cannot read request body: {error}"),
                )
            };
        }
        Err(_) => {
            return refuse(
                &state,
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "request body not received within {:?}",
                    state.request_timeout
                ),
            );
        }
    };
    let started = Instant::now();
    let admission = match parse_review(&bytes) {
        Ok(admission) => admission,
        Err(error) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                error.label(),
                error.to_string(),
            );
        }
    };
    let uid = admission.uid.clone();
    let kind = admission.kind.kind.clone();
    let reviewed =
        match tokio::time::timeout_at(deadline, state.reviewer.review(endpoint, admission)).await {
            Ok(reviewed) => reviewed,
            Err(_) => {
                return refuse(
                    &state,
                    StatusCode::GATEWAY_TIMEOUT,
                    "decision_timeout",
                    format!(
                        "no decision for request {uid} within {:?}",
                        state.request_timeout
                    ),
                );
            }
        };
    state
        .metrics
        .request(endpoint, &kind, reviewed.decision, started.elapsed());
    let mut response = reviewed.response.to_review_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Resolves when the process receives SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
