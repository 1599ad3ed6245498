//! The registry client against a REAL registry (Debian's `docker-registry`,
//! CNCF distribution) on loopback, plain HTTP and TLS + htpasswd, with the
//! fixture images pushed by skopeo; and against a scripted loopback server
//! for the bearer-token flow, indexes and every kind of garbage reply. Both
//! directions: image pulls, and artifact pushes and reads through
//! `RepositoryClient`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_source::{
    Access, BlobError, Credentials, Digest, ErrorKind, ImageRef, Opened, Platform, RegistryRef,
    RepositoryClient, SourceError, SourceOptions, open,
};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/images"
);
const USER: &str = "portcullis";
const PASS: &str = "s3cret-pass";

fn require(tool: &str, package: &str) -> PathBuf {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output();
    match found {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
        _ => panic!(
            "{tool} is required by the registry tests: apt-get install {package} (.ci/run installs it)"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A `docker-registry` process of ours; killed (by its PID only) on drop.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    fn start(tls: bool) -> Registry {
        let binary = require("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let debug_port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: portcullis-test\n  debug:\n    addr: 127.0.0.1:{debug_port}\n",
            dir.path().join("data").display()
        );
        if tls {
            let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                .unwrap_or_else(|e| panic!("{e}"));
            params
                .subject_alt_names
                .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
            let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
            write(&dir.path().join("cert.pem"), cert.pem().as_bytes());
            write(&dir.path().join("key.pem"), key.serialize_pem().as_bytes());
            std::fs::create_dir_all(dir.path().join("certs.d")).unwrap_or_else(|e| panic!("{e}"));
            write(&dir.path().join("certs.d/ca.crt"), cert.pem().as_bytes());
            let htpasswd = Command::new(require("htpasswd", "apache2-utils"))
                .args(["-Bbn", USER, PASS])
                .output()
                .unwrap_or_else(|e| panic!("htpasswd: {e}"));
            assert!(htpasswd.status.success(), "htpasswd failed");
            write(&dir.path().join("htpasswd"), &htpasswd.stdout);
            config.push_str(&format!(
                "  tls:\n    certificate: {0}/cert.pem\n    key: {0}/key.pem\nauth:\n  htpasswd:\n    realm: portcullis-test\n    path: {0}/htpasswd\n",
                dir.path().display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        write(&config_path, config.as_bytes());
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
        let registry = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// Pushes a fixture image with skopeo as `test/<image>:latest`.
    fn push(&self, image: &str, tls: bool) {
        let mut command = Command::new(require("skopeo", "skopeo"));
        command.args(["copy", "-q"]);
        if tls {
            command
                .arg("--dest-cert-dir")
                .arg(self.dir.path().join("certs.d"));
            command.args(["--dest-creds", &format!("{USER}:{PASS}")]);
        } else {
            command.arg("--dest-tls-verify=false");
        }
        command.arg(format!("oci:{FIXTURES}/oci:{image}"));
        command.arg(format!("docker://{}/test/{image}:latest", self.host()));
        let status = command.status().unwrap_or_else(|e| panic!("skopeo: {e}"));
        assert!(status.success(), "skopeo push of {image} failed");
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn image_of(opened: Result<Opened, SourceError>) -> Box<portcullis_source::Image> {
    match opened {
        Ok(Opened::Image(image)) => image,
        Ok(other) => panic!("not an image: {other:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn layout(image: &str) -> Box<portcullis_source::Image> {
    let reference = ImageRef::OciLayout {
        dir: PathBuf::from(FIXTURES).join("oci"),
        tag: Some(image.into()),
    };
    image_of(open(&reference, &SourceOptions::default()))
}

fn registry_ref(text: &str) -> ImageRef {
    ImageRef::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Pulls every layer and checks it lands, verified, in the cache.
fn pull_all(image: &portcullis_source::Image, cache: &Path) {
    for layer in &image.layers {
        let mut reader = image
            .open_layer(layer)
            .unwrap_or_else(|e| panic!("{}: {e}", layer.digest));
        let mut sink = Vec::new();
        reader
            .read_to_end(&mut sink)
            .unwrap_or_else(|e| panic!("{}: {e}", layer.digest));
        assert_eq!(Digest::of(&sink), layer.digest);
        assert!(
            cache
                .join("blobs/sha256")
                .join(layer.digest.hex())
                .is_file()
        );
    }
}

#[test]
fn pulls_from_a_real_registry_over_plain_http() {
    let registry = Registry::start(false);
    registry.push("debian12-min", false);
    registry.push("rpm-fixture", false);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for name in ["debian12-min", "rpm-fixture"] {
        let options = SourceOptions {
            cache_dir: Some(cache.path().to_owned()),
            insecure: true,
            ..SourceOptions::default()
        };
        let pulled = image_of(open(
            &registry_ref(&format!("{}/test/{name}", registry.host())),
            &options,
        ));
        let local = layout(name);
        assert_eq!(pulled.manifest_digest, local.manifest_digest, "{name}");
        // A tag naming a single manifest: that manifest is also what is pinned.
        assert_eq!(pulled.reference_digest, pulled.manifest_digest, "{name}");
        assert_eq!(pulled.layers, local.layers, "{name}");
        assert_eq!(pulled.config, local.config, "{name}");
        assert!(pulled.layers.iter().all(|l| !pulled.is_local(l)));
        pull_all(&pulled, cache.path());
        assert!(pulled.layers.iter().all(|l| pulled.is_local(l)));
    }
    // Without --insecure, no plain HTTP: the TLS handshake with an HTTP server fails.
    let options = SourceOptions {
        cache_dir: Some(cache.path().to_owned()),
        ..SourceOptions::default()
    };
    let err = open(
        &registry_ref(&format!("{}/test/rpm-fixture", registry.host())),
        &options,
    );
    assert!(
        matches!(&err, Err(e) if e.kind() == ErrorKind::Network),
        "{err:?}"
    );
    // A tag that is not there.
    let options = SourceOptions {
        cache_dir: Some(cache.path().to_owned()),
        insecure: true,
        ..SourceOptions::default()
    };
    let err = open(
        &registry_ref(&format!("{}/test/rpm-fixture:nope", registry.host())),
        &options,
    );
    assert!(matches!(err, Err(SourceError::NotFound { .. })), "{err:?}");
}

#[test]
fn pulls_from_a_real_registry_over_tls_with_htpasswd() {
    let registry = Registry::start(true);
    registry.push("debian12-full", true);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reference = registry_ref(&format!("{}/test/debian12-full:latest", registry.host()));
    let base = SourceOptions {
        cache_dir: Some(cache.path().to_owned()),
        ca_file: Some(registry.ca()),
        docker_config: Some(empty_docker_config(cache.path())),
        ..SourceOptions::default()
    };

    // Credentials from the options.
    let with_creds = SourceOptions {
        credentials: Some(Credentials {
            username: USER.into(),
            password: PASS.into(),
        }),
        ..base.clone()
    };
    let pulled = image_of(open(&reference, &with_creds));
    let local = layout("debian12-full");
    assert_eq!(pulled.manifest_digest, local.manifest_digest);
    assert_eq!(pulled.layers, local.layers);
    pull_all(&pulled, cache.path());

    // Credentials from a Docker config file (`auths` with base64 `auth`).
    let config_path = cache.path().join("docker-config.json");
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
    };
    write(
        &config_path,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.host()
        )
        .as_bytes(),
    );
    let from_config = SourceOptions {
        docker_config: Some(config_path),
        ..base.clone()
    };
    assert_eq!(
        image_of(open(&reference, &from_config)).manifest_digest,
        local.manifest_digest
    );

    // No credentials, wrong credentials: refused, as auth errors.
    let err = open(&reference, &base);
    assert!(matches!(err, Err(SourceError::Auth { .. })), "{err:?}");
    let wrong = SourceOptions {
        credentials: Some(Credentials {
            username: USER.into(),
            password: "wrong".into(),
        }),
        ..base.clone()
    };
    let err = open(&reference, &wrong);
    assert!(matches!(err, Err(SourceError::Auth { .. })), "{err:?}");

    // Without the CA the certificate is not trusted...
    let untrusted = SourceOptions {
        ca_file: None,
        ..with_creds
    };
    let err = open(&reference, &untrusted);
    assert!(matches!(&err, Err(SourceError::Network { .. })), "{err:?}");
    // ...unless the user says --insecure (TLS stays, unverified).
    let unverified = SourceOptions {
        insecure: true,
        ..untrusted
    };
    assert_eq!(
        image_of(open(&reference, &unverified)).manifest_digest,
        local.manifest_digest
    );
}

// ---- a scripted registry on loopback -------------------------------------

/// A canned reply: status, content type, body, and an optional lie about the
/// body's length (the connection is closed after fewer bytes).
#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    claimed_length: Option<usize>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.into(),
            body: body.into(),
            claimed_length: None,
            headers: vec![],
        }
    }
}

type Route = Arc<dyn Fn(&str, &HashMap<String, String>) -> Reply + Send + Sync>;

/// Serves `route` on 127.0.0.1 until the test process ends; returns `host:port`.
fn serve(route: Route) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let host = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let route = Arc::clone(&route);
            std::thread::spawn(move || answer(stream, &*route));
        }
    });
    host
}

fn answer(
    mut stream: TcpStream,
    route: &(dyn Fn(&str, &HashMap<String, String>) -> Reply + Send + Sync),
) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_owned();
    let target = words.next().unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    // The body is read (so closing the connection does not reset it under the
    // client) and handed to the route as `:body`, with the method as `:method`.
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse::<u64>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = Vec::new();
    let _ = (&mut reader).take(length).read_to_end(&mut body);
    headers.insert(":method".into(), method);
    headers.insert(":body".into(), String::from_utf8_lossy(&body).into_owned());
    let reply = route(&target, &headers);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.content_type,
        reply.claimed_length.unwrap_or(reply.body.len())
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A tiny valid image: one gzip layer, config, manifest.
struct TinyImage {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

fn tiny_image(layer_media_type: &str, declared_layer_size: Option<usize>) -> TinyImage {
    let layer = b"\x1f\x8b pretend gzip bytes of a layer".to_vec();
    let config = serde_json::json!({"os":"linux","architecture":"amd64",
        "rootfs":{"type":"layers","diff_ids":[Digest::of(b"tar").to_string()]}})
    .to_string()
    .into_bytes();
    let manifest = serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":Digest::of(&config).to_string(),"size":config.len()},
        "layers":[{"mediaType":layer_media_type,"digest":Digest::of(&layer).to_string(),
                   "size":declared_layer_size.unwrap_or(layer.len())}]})
    .to_string()
    .into_bytes();
    TinyImage {
        layer,
        config,
        manifest,
    }
}

/// Serves `image` at `repo`, with `layer_body` as the layer blob's bytes.
fn serve_image(image: &TinyImage, layer_body: Vec<u8>) -> String {
    let manifest = image.manifest.clone();
    let config = image.config.clone();
    let config_path = format!("/v2/test/tiny/blobs/{}", Digest::of(&image.config));
    let layer_path = format!("/v2/test/tiny/blobs/{}", Digest::of(&image.layer));
    serve(Arc::new(move |path, _| match path {
        "/v2/test/tiny/manifests/latest" => Reply::ok(OCI_MANIFEST, manifest.clone()),
        p if p == config_path => Reply::ok("application/octet-stream", config.clone()),
        p if p == layer_path => Reply::ok("application/octet-stream", layer_body.clone()),
        _ => Reply {
            status: 404,
            ..Reply::ok("application/json", r#"{"errors":[{"message":"unknown"}]}"#)
        },
    }))
}

/// An empty Docker config, so the user's own credentials never leak into a test.
fn empty_docker_config(dir: &Path) -> PathBuf {
    let path = dir.join("empty-docker-config.json");
    write(&path, b"{}");
    path
}

fn insecure(cache: &Path) -> SourceOptions {
    SourceOptions {
        cache_dir: Some(cache.to_owned()),
        insecure: true,
        docker_config: Some(empty_docker_config(cache)),
        ..SourceOptions::default()
    }
}

fn open_tiny(host: &str, cache: &Path) -> Result<Opened, SourceError> {
    open(
        &registry_ref(&format!("{host}/test/tiny")),
        &insecure(cache),
    )
}

fn read_first_layer(opened: Result<Opened, SourceError>) -> Result<(), SourceError> {
    let image = image_of(opened);
    let layer = image
        .layers
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no layer"));
    let mut reader = image.open_layer(&layer)?;
    let mut sink = Vec::new();
    reader
        .read_to_end(&mut sink)
        .map_err(|e| BlobError::from_io(e, &image.name, &layer.digest))?;
    Ok(())
}

fn blobs_in(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("blobs/sha256"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_layer_that_does_not_match_its_digest_is_refused_and_not_cached() {
    let image = tiny_image("application/vnd.oci.image.layer.v1.tar+gzip", None);
    let mut tampered = image.layer.clone();
    if let Some(b) = tampered.last_mut() {
        *b ^= 0xff;
    }
    let host = serve_image(&image, tampered);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = read_first_layer(open_tiny(&host, cache.path()));
    match err {
        Err(SourceError::Blob(BlobError::DigestMismatch {
            image: name, blob, ..
        })) => {
            assert!(name.contains("test/tiny"));
            assert_eq!(blob, Digest::of(&image.layer));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let layer_hex = Digest::of(&image.layer).hex().to_owned();
    assert!(
        !blobs_in(cache.path()).contains(&layer_hex),
        "a bad blob must not enter the cache"
    );
    assert!(
        blobs_in(cache.path())
            .iter()
            .all(|n| !n.starts_with(".partial"))
    );
}

#[test]
fn a_manifest_that_lies_about_sizes_is_refused() {
    let image = tiny_image("application/vnd.oci.image.layer.v1.tar+gzip", Some(5));
    let host = serve_image(&image, image.layer.clone());
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = read_first_layer(open_tiny(&host, cache.path()));
    assert!(
        matches!(
            err,
            Err(SourceError::Blob(BlobError::SizeMismatch {
                expected: 5,
                ..
            }))
        ),
        "{err:?}"
    );
}

#[test]
fn an_unknown_layer_media_type_is_refused() {
    let image = tiny_image("application/x-definitely-not-a-layer", None);
    let host = serve_image(&image, image.layer.clone());
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = open_tiny(&host, cache.path());
    assert!(
        matches!(&err, Err(SourceError::UnknownMediaType { media_type, .. }) if media_type.contains("not-a-layer")),
        "{err:?}"
    );
    assert!(err.is_err_and(|e| e.kind() == ErrorKind::Refused));
}

#[test]
fn garbage_replies_are_typed_errors() {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(&str, Reply)> = vec![
        ("invalid json", Reply::ok(OCI_MANIFEST, "{not json")),
        ("html", Reply::ok("text/html", "<html>hello</html>")),
        (
            "truncated",
            Reply {
                claimed_length: Some(5000),
                ..Reply::ok(OCI_MANIFEST, r#"{"schemaVersion":2,"#)
            },
        ),
        (
            "server error",
            Reply {
                status: 500,
                ..Reply::ok("text/plain", "boom")
            },
        ),
        ("huge", Reply::ok(OCI_MANIFEST, vec![b' '; 5 << 20])),
        (
            "schema1",
            Reply::ok("application/json", r#"{"schemaVersion":1,"fsLayers":[]}"#),
        ),
    ];
    for (name, reply) in cases {
        let host = serve(Arc::new(move |_, _| reply.clone()));
        let err = open_tiny(&host, cache.path());
        let ok = match (&err, name) {
            (Err(SourceError::InvalidMetadata { image, .. }), "invalid json" | "schema1") => {
                image.contains("test/tiny")
            }
            (Err(SourceError::RegistryGarbage { image, url, .. }), "html" | "truncated") => {
                image.contains("test/tiny") && url.contains("/manifests/latest")
            }
            (
                Err(SourceError::RegistryStatus {
                    status: 500,
                    message,
                    ..
                }),
                "server error",
            ) => message == "boom",
            (Err(SourceError::TooLarge { .. }), "huge") => true,
            _ => false,
        };
        assert!(ok, "{name}: unexpected {err:?}");
    }
}

#[test]
fn bearer_token_challenge_and_index_platform_selection() {
    let amd64 = tiny_image("application/vnd.oci.image.layer.v1.tar+gzip", None);
    let index = serde_json::json!({"schemaVersion":2,"mediaType":OCI_INDEX,"manifests":[
        {"mediaType":OCI_MANIFEST,"digest":Digest::of(b"arm").to_string(),"size":3,
         "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
        {"mediaType":OCI_MANIFEST,"digest":Digest::of(&amd64.manifest).to_string(),"size":amd64.manifest.len(),
         "platform":{"os":"linux","architecture":"amd64"}}]})
    .to_string()
    .into_bytes();
    let index_digest = Digest::of(&index);
    let manifest_path = format!("/v2/test/tiny/manifests/{}", Digest::of(&amd64.manifest));
    let config_path = format!("/v2/test/tiny/blobs/{}", Digest::of(&amd64.config));
    let (manifest, config) = (amd64.manifest.clone(), amd64.config.clone());
    let listener_host = Arc::new(std::sync::OnceLock::<String>::new());
    let realm_host = Arc::clone(&listener_host);
    let host = serve(Arc::new(move |path, headers| {
        if let Some(query) = path.strip_prefix("/token?") {
            // The client must pass service and scope from the challenge, and the user's credentials.
            let expected_auth = {
                use base64::Engine as _;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("alice:pw")
                )
            };
            if query.contains("service=tiny-registry")
                && query.contains("scope=repository%3Atest%2Ftiny%3Apull")
                && headers.get("authorization") == Some(&expected_auth)
            {
                return Reply::ok("application/json", r#"{"token":"t0k3n"}"#);
            }
            return Reply {
                status: 401,
                ..Reply::ok("application/json", "{}")
            };
        }
        if headers.get("authorization").map(String::as_str) != Some("Bearer t0k3n") {
            let realm = format!(
                "http://{}/token",
                realm_host.get().cloned().unwrap_or_default()
            );
            return Reply {
                status: 401,
                headers: vec![(
                    "WWW-Authenticate".into(),
                    format!(
                        r#"Bearer realm="{realm}",service="tiny-registry",scope="repository:test/tiny:pull""#
                    ),
                )],
                ..Reply::ok(
                    "application/json",
                    r#"{"errors":[{"message":"unauthorized"}]}"#,
                )
            };
        }
        match path {
            "/v2/test/tiny/manifests/latest" => Reply::ok(OCI_INDEX, index.clone()),
            p if p == manifest_path => Reply::ok(OCI_MANIFEST, manifest.clone()),
            p if p == config_path => Reply::ok("application/octet-stream", config.clone()),
            _ => Reply {
                status: 404,
                ..Reply::ok("text/plain", "")
            },
        }
    }));
    let _ = listener_host.set(host.clone());
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let options = SourceOptions {
        credentials: Some(Credentials {
            username: "alice".into(),
            password: "pw".into(),
        }),
        platform: Platform::parse("linux/amd64").ok(),
        ..insecure(cache.path())
    };
    let reference = registry_ref(&format!("{host}/test/tiny"));
    let image = image_of(open(&reference, &options));
    assert_eq!(image.manifest_digest, Some(Digest::of(&amd64.manifest)));
    assert_ne!(image.manifest_digest, Some(index_digest.clone()));
    // What the tag names is the index: the digest to pin, for every platform.
    assert_eq!(image.reference_digest, Some(index_digest));
    assert_eq!(image.platform.to_string(), "linux/amd64");

    // No arm64/v7 in the index: the error lists what there is.
    let options = SourceOptions {
        platform: Platform::parse("linux/arm/v7").ok(),
        ..options
    };
    match open(&reference, &options) {
        Err(SourceError::NoMatchingPlatform { available, .. }) => {
            assert_eq!(available, ["linux/arm64/v8", "linux/amd64"]);
        }
        other => panic!("expected no matching platform, got {other:?}"),
    }
    // Wrong credentials at the token service: an auth error.
    let options = SourceOptions {
        credentials: Some(Credentials {
            username: "alice".into(),
            password: "nope".into(),
        }),
        ..insecure(cache.path())
    };
    assert!(matches!(
        open(&reference, &options),
        Err(SourceError::Auth { .. })
    ));
}

// ---- pushing: the repository client both ways -----------------------------

fn client(reference: &str, options: &SourceOptions, access: Access) -> RepositoryClient {
    let reference = RegistryRef::parse(reference).unwrap_or_else(|e| panic!("{e}"));
    RepositoryClient::connect(&reference, options, access).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pushes_and_reads_back_an_artifact_through_a_real_registry_with_docker_config_credentials() {
    let registry = Registry::start(true);
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Credentials only in a Docker config file (`auths` with user and password).
    let config_path = scratch.path().join("docker-config.json");
    write(
        &config_path,
        format!(
            r#"{{"auths":{{"https://{}":{{"username":"{USER}","password":"{PASS}"}}}}}}"#,
            registry.host()
        )
        .as_bytes(),
    );
    let options = SourceOptions {
        ca_file: Some(registry.ca()),
        docker_config: Some(config_path),
        ..SourceOptions::default()
    };
    let reference = format!("{}/artifacts/blob-test:v1", registry.host());
    let pusher = client(&reference, &options, Access::Push);

    // A real fixture file as the payload: the Alpine secdb of the vulndata fixtures.
    let payload = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata/advisories/alpine-secdb/alpine/v3.20/main.json"
    ))
    .unwrap_or_else(|e| panic!("fixture: {e}"));
    let config = b"{}";
    let first = pusher.push_blob(config).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.uploaded);
    assert_eq!((first.digest.clone(), first.size), (Digest::of(config), 2));
    let layer = pusher.push_blob(&payload).unwrap_or_else(|e| panic!("{e}"));
    assert!(layer.uploaded);
    // The same blob again: the HEAD finds it and nothing is sent.
    let again = pusher.push_blob(&payload).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again,
        portcullis_source::PushedBlob {
            uploaded: false,
            ..layer.clone()
        }
    );
    assert!(pusher.has_blob(&layer.digest).unwrap_or(false));
    assert!(
        !pusher
            .has_blob(&Digest::of(b"never pushed"))
            .unwrap_or(true)
    );

    let manifest = serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
        "artifactType":"application/vnd.portcullis.test.v1",
        "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":first.digest.to_string(),"size":2},
        "layers":[{"mediaType":"application/octet-stream","digest":layer.digest.to_string(),"size":layer.size}]})
    .to_string()
    .into_bytes();
    let manifest_digest = pusher
        .put_manifest("v1", OCI_MANIFEST, &manifest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest_digest, Digest::of(&manifest));
    assert!(matches!(
        pusher.put_manifest("bad tag", OCI_MANIFEST, &manifest),
        Err(SourceError::InvalidReference { .. })
    ));

    // Read back with a pull-only client, by tag and by digest.
    let puller = client(&reference, &options, Access::Pull);
    let fetched = puller
        .get_manifest("v1", &[OCI_MANIFEST])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fetched.bytes, manifest);
    assert_eq!(fetched.digest, manifest_digest);
    assert_eq!(fetched.media_type.as_deref(), Some(OCI_MANIFEST));
    let by_digest = puller
        .get_manifest(manifest_digest.as_str(), &[OCI_MANIFEST])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_digest.bytes, manifest);
    let mut sink = Vec::new();
    let written = puller
        .fetch_blob_to(&layer.digest, Some(layer.size), 1 << 30, &mut sink)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((written, sink == payload), (layer.size, true));
    // A limit below the blob's size is refused before anything is read.
    let mut small = Vec::new();
    let err = puller.fetch_blob_to(&layer.digest, None, 100, &mut small);
    assert!(
        matches!(err, Err(SourceError::TooLarge { limit: 100, .. })),
        "{err:?}"
    );
    assert!(small.len() <= 100);
    let err = puller.fetch_blob_to(&Digest::of(b"never pushed"), None, 1 << 20, &mut small);
    assert!(matches!(err, Err(SourceError::NotFound { .. })), "{err:?}");

    // Without credentials the push is refused as an auth error naming the registry.
    let anonymous = SourceOptions {
        docker_config: Some(empty_docker_config(scratch.path())),
        ..options.clone()
    };
    let err = client(&reference, &anonymous, Access::Push)
        .push_blob(b"anything")
        .expect_err("no credentials");
    assert!(
        matches!(&err, SourceError::Auth { registry: r, .. } if *r == registry.host()),
        "{err:?}"
    );
    // A local transport is not a registry reference.
    assert!(RegistryRef::parse("oci:/tmp/layout:tag").is_err());
}

#[test]
fn fetch_blob_to_refuses_a_blob_that_does_not_match_its_digest() {
    let image = tiny_image("application/vnd.oci.image.layer.v1.tar+gzip", None);
    let mut tampered = image.layer.clone();
    if let Some(b) = tampered.first_mut() {
        *b ^= 0xff;
    }
    let host = serve_image(&image, tampered);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let puller = client(
        &format!("{host}/test/tiny"),
        &insecure(cache.path()),
        Access::Pull,
    );
    let digest = Digest::of(&image.layer);
    let mut sink = Vec::new();
    let err = puller.fetch_blob_to(&digest, Some(image.layer.len() as u64), 1 << 20, &mut sink);
    assert!(
        matches!(&err, Err(SourceError::Blob(BlobError::DigestMismatch { blob, .. })) if *blob == digest),
        "{err:?}"
    );
    // A manifest fetched by digest must hash to it: this registry answers
    // every manifest request with the same document.
    let manifest = image.manifest.clone();
    let liar = serve(Arc::new(move |_, _| {
        Reply::ok(OCI_MANIFEST, manifest.clone())
    }));
    let puller = client(
        &format!("{liar}/test/tiny"),
        &insecure(cache.path()),
        Access::Pull,
    );
    let asked = Digest::of(b"another manifest");
    let err = puller.get_manifest(asked.as_str(), &[OCI_MANIFEST]);
    assert!(
        matches!(&err, Err(SourceError::Blob(BlobError::DigestMismatch { blob, actual, .. }))
            if *blob == asked && *actual == Digest::of(&image.manifest).to_string()),
        "{err:?}"
    );
}

/// A scripted registry with a bearer-token service that hands out tokens per
/// scope, and a blob upload that answers with `stored_digest`.
fn serve_upload_registry(
    stored_digest: Option<String>,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&log);
    let listener_host = Arc::new(std::sync::OnceLock::<String>::new());
    let realm_host = Arc::clone(&listener_host);
    let host = serve(Arc::new(move |path, headers| {
        let method = headers.get(":method").cloned().unwrap_or_default();
        if let Ok(mut log) = seen.lock() {
            log.push(format!("{method} {path}"));
        }
        if let Some(query) = path.strip_prefix("/token?") {
            let token = if query.contains("scope=repository%3Atest%2Fdb%3Apull%2Cpush") {
                "push-token"
            } else {
                "pull-token"
            };
            return Reply::ok("application/json", format!(r#"{{"token":"{token}"}}"#));
        }
        let authorization = headers.get("authorization").cloned().unwrap_or_default();
        let needs_push = method == "POST" || method == "PUT";
        let authorized = authorization == "Bearer push-token"
            || (!needs_push && authorization == "Bearer pull-token");
        if !authorized {
            let realm = format!(
                "http://{}/token",
                realm_host.get().cloned().unwrap_or_default()
            );
            let scope = if needs_push { "pull,push" } else { "pull" };
            return Reply {
                status: 401,
                headers: vec![(
                    "WWW-Authenticate".into(),
                    format!(
                        r#"Bearer realm="{realm}",service="s",scope="repository:test/db:{scope}""#
                    ),
                )],
                ..Reply::ok("application/json", "{}")
            };
        }
        match (method.as_str(), path) {
            ("HEAD", _) => Reply {
                status: 404,
                ..Reply::ok("application/json", "")
            },
            ("POST", "/v2/test/db/blobs/uploads/") => Reply {
                status: 202,
                headers: vec![(
                    "Location".into(),
                    "/v2/test/db/blobs/uploads/u-1?_state=abc".into(),
                )],
                ..Reply::ok("text/plain", "")
            },
            ("PUT", p)
                if p.starts_with("/v2/test/db/blobs/uploads/u-1?_state=abc&digest=sha256%3A") =>
            {
                let body = headers.get(":body").cloned().unwrap_or_default();
                let digest = stored_digest
                    .clone()
                    .unwrap_or_else(|| Digest::of(body.as_bytes()).to_string());
                Reply {
                    status: 201,
                    headers: vec![("Docker-Content-Digest".into(), digest)],
                    ..Reply::ok("text/plain", "")
                }
            }
            _ => Reply {
                status: 404,
                ..Reply::ok("text/plain", "")
            },
        }
    }));
    let _ = listener_host.set(host.clone());
    (host, log)
}

#[test]
fn a_push_asks_the_token_service_for_push_scope_and_uploads_monolithically() {
    let (host, log) = serve_upload_registry(None);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pusher = client(
        &format!("{host}/test/db:1"),
        &insecure(cache.path()),
        Access::Push,
    );
    let pushed = pusher
        .push_blob(b"database bytes")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pushed.uploaded);
    assert_eq!(pushed.digest, Digest::of(b"database bytes"));
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    // The HEAD's pull challenge is answered with a token that also covers the
    // upload, so the POST and PUT need no second token.
    let tokens: Vec<&String> = log.iter().filter(|l| l.contains("/token?")).collect();
    assert_eq!(tokens.len(), 1, "{log:?}");
    assert!(tokens.iter().all(|t| t.contains("pull%2Cpush")), "{log:?}");
    assert!(log.iter().any(|l| l.starts_with("POST ")), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.starts_with("PUT ") && l.contains(pushed.digest.hex())),
        "{log:?}"
    );
}

#[test]
fn a_registry_that_stores_another_digest_is_refused() {
    let (host, _) = serve_upload_registry(Some(Digest::of(b"something else").to_string()));
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pusher = client(
        &format!("{host}/test/db:1"),
        &insecure(cache.path()),
        Access::Push,
    );
    let err = pusher.push_blob(b"database bytes");
    assert!(
        matches!(&err, Err(SourceError::RegistryGarbage { reason, .. }) if reason.contains("stored")),
        "{err:?}"
    );
    assert!(err.is_err_and(|e| e.kind() == ErrorKind::Refused));
}
