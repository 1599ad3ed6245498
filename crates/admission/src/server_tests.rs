//! The server over real TLS on 127.0.0.1: routing, limits, timeouts,
//! certificate reload and shutdown. Decisions are tested in `decide`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::*;
use crate::certs::GeneratedCerts;

/// Allows everything, echoing the uid: the server's part is under test here.
struct AllowAll;

impl Reviewer for AllowAll {
    fn review(&self, _endpoint: Endpoint, request: AdmissionRequest) -> BoxFuture<'_, Reviewed> {
        Box::pin(async move {
            Reviewed {
                response: AdmissionResponse::allow(&request.uid),
                decision: "allowed",
            }
        })
    }
}

struct Running {
    addr: SocketAddr,
    ca_pem: String,
    metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn write_certs(dir: &Path, certs: &GeneratedCerts) {
    certs.write_to(dir).expect("certs written");
}

async fn start(tune: impl FnOnce(&mut ServerSettings)) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = crate::certs::generate(&[]).expect("certs");
    write_certs(dir.path(), &certs);
    let mut settings = ServerSettings::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
    );
    tune(&mut settings);
    let metrics = Arc::new(Metrics::default());
    let server = Server::bind(settings, Arc::new(AllowAll), Arc::clone(&metrics))
        .await
        .expect("bound");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        ca_pem: certs.ca_cert_pem,
        metrics,
        stop: Some(stop),
        done,
        _dir: dir,
    }
}

fn connector(ca_pem: &str) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca"))
        .expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(addr: SocketAddr, ca_pem: &str) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    connector(ca_pem).connect(name, tcp).await
}

/// Sends raw bytes, reads the response until the server closes; returns status and body.
async fn exchange(stream: &mut Tls, request: &[u8]) -> (u16, String) {
    // The server may answer and close before a refused body is fully sent.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline),
        stream.read(&mut chunk),
    )
    .await
    {
        response.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn post_bytes(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

async fn post(run: &Running, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = connect(run.addr, &run.ca_pem).await.expect("connect");
    exchange(&mut stream, &post_bytes(path, body)).await
}

async fn get(run: &Running, path: &str) -> (u16, String) {
    let mut stream = connect(run.addr, &run.ca_pem).await.expect("connect");
    exchange(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../../shared/fixtures/k8s/admission-reviews/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.done)
            .await
            .expect("server stopped in time")
            .expect("server task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_reviews_health_and_metrics_over_tls() {
    let run = start(|_| {}).await;
    let (status, body) = post(
        &run,
        "/validate",
        &fixture("kubewarden-wrapped-v1/pod-create-privileged.json"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let review: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    assert_eq!(
        review["response"]["uid"],
        "1299d386-525b-4032-98ae-1949f69f9cfc"
    );
    assert_eq!(get(&run, "/healthz").await.0, 200);
    assert_eq!(get(&run, "/readyz").await.0, 200);
    assert_eq!(get(&run, "/nope").await.0, 404);
    let (status, metrics) = get(&run, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("portcullis_admission_requests_total{endpoint=\"validate\",kind=\"Pod\",decision=\"allowed\"} 1"),
        "{metrics}"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_http_errors_and_the_server_stays_up() {
    let run = start(|s| s.max_body_bytes = 64 * 1024).await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"apiVersion\": ".to_vec(), 400, "not a valid AdmissionReview"),
        (fixture("k8s-api-roundtrip/admission.k8s.io.v1beta1.AdmissionReview.json"), 400, "unsupported apiVersion"),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"a","operation":"CREATE"}}"#.to_vec(),
            400,
            "unsupported kind",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#.to_vec(),
            400,
            "request.uid is missing",
        ),
        (vec![b' '; 65 * 1024], 413, "larger than"),
    ];
    for (body, want, message) in cases {
        let (status, text) = post(&run, "/validate", &body).await;
        assert_eq!(status, want, "{text}");
        assert!(text.contains(message), "{text}");
    }
    // A chunked body without a length that grows past the limit is cut off too.
    let mut stream = connect(run.addr, &run.ca_pem).await.expect("connect");
    let mut request = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..80 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 0x400]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, _) = exchange(&mut stream, &request).await;
    assert_eq!(status, 413);
    // GET on a webhook path is not a review.
    assert_eq!(get(&run, "/validate").await.0, 405);
    // Still serving.
    let (status, _) = post(
        &run,
        "/mutate",
        &fixture("kubewarden-wrapped-v1/deployment-create.json"),
    )
    .await;
    assert_eq!(status, 200);
    let metrics = run.metrics.render();
    assert!(
        metrics.contains("portcullis_admission_bad_requests_total{reason=\"body_too_large\"} 2"),
        "{metrics}"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_still_served() {
    let run = start(|s| {
        s.header_read_timeout = Duration::from_millis(500);
        s.request_timeout = Duration::from_millis(700);
        s.handshake_timeout = Duration::from_millis(500);
    })
    .await;

    // Headers that never finish: the connection is closed.
    let mut stalled_headers = connect(run.addr, &run.ca_pem).await.expect("connect");
    stalled_headers
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    // A body that never finishes: 408.
    let mut stalled_body = connect(run.addr, &run.ca_pem).await.expect("connect");
    stalled_body
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"apiVersion\"")
        .await
        .expect("write");
    // A TCP connection that never starts TLS: closed.
    let mut no_handshake = TcpStream::connect(run.addr).await.expect("tcp");

    // Meanwhile a normal client is served at once.
    let started = Instant::now();
    let (status, _) = post(
        &run,
        "/validate",
        &fixture("kubewarden-wrapped-v1/pod-create-unprivileged.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_millis(400));

    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        stalled_headers.read_to_end(&mut rest),
    )
    .await;
    assert!(
        read.is_ok(),
        "stalled headers connection closed by the server"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let (status, body) = exchange(&mut stalled_body, b"").await;
    assert_eq!(status, 408, "{body}");
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), no_handshake.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    assert_eq!(get(&run, "/healthz").await.0, 200);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_files_are_reloaded_when_they_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = crate::certs::generate(&[]).expect("certs");
    write_certs(dir.path(), &first);
    let mut settings = ServerSettings::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
    );
    settings.cert_reload_interval = Duration::from_millis(50);
    let metrics = Arc::new(Metrics::default());
    let server = Server::bind(settings, Arc::new(AllowAll), Arc::clone(&metrics))
        .await
        .expect("bound");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    connect(addr, &first.ca_cert_pem)
        .await
        .expect("first CA trusted");

    // A broken replacement is refused; the old certificate keeps serving.
    std::fs::write(dir.path().join("tls.crt"), "garbage").expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    connect(addr, &first.ca_cert_pem)
        .await
        .expect("old certificate still served");
    assert!(
        metrics
            .tls_reload_errors
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );

    let second = crate::certs::generate(&[]).expect("certs");
    write_certs(dir.path(), &second);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if connect(addr, &second.ca_cert_pem).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "new certificate not served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        connect(addr, &first.ca_cert_pem).await.is_err(),
        "old CA no longer matches"
    );
    assert_eq!(
        metrics
            .tls_reloads
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let _ = stop.send(());
    done.await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_fails_readiness_first_then_drains() {
    let run = start(|s| s.shutdown_delay = Duration::from_millis(600)).await;
    let mut open = connect(run.addr, &run.ca_pem).await.expect("connect");
    let addr = run.addr;
    let ca = run.ca_pem.clone();
    let Running { stop, done, .. } = run;
    if let Some(stop) = stop {
        let _ = stop.send(());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // During the delay: still serving, but not ready.
    let mut probe = connect(addr, &ca).await.expect("connect during delay");
    let (status, _) = exchange(
        &mut probe,
        b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 503);
    // An open connection may still finish its request.
    let (status, _) = exchange(
        &mut open,
        &post_bytes(
            "/validate",
            &fixture("kubewarden-wrapped-v1/pod-create-unprivileged.json"),
        ),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .expect("stopped after drain")
        .expect("task");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}
