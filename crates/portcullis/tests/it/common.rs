//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

/// The binary under test.
pub fn portcullis() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("portcullis").expect("binary built")
}

/// `../shared` (next to the repository), where fixtures live.
pub fn shared() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"));
    assert!(
        dir.join("fixtures").is_dir(),
        "shared fixtures not found at {}",
        dir.display()
    );
    dir
}

/// A path under `../shared/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    shared().join("fixtures").join(rel)
}

/// A scratch directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("portcullis-it-")
        .tempdir()
        .expect("temp dir")
}

/// Writes `text` to `name` below `dir` (creating parent directories) and
/// returns the file's path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// The JSON document a command printed on stdout.
pub fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Asserts a command's exit code, showing what it printed when it differs.
pub fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Real registries on loopback (Debian's `docker-registry`, started by
/// `shared/tools/run-registry.sh`): plain HTTP and TLS with htpasswd, with
/// the fixture images pushed as `test/<tag>:latest`. Started once per test
/// binary; a watchdog stops both when this process exits, so they stop by
/// themselves whatever the outcome of the tests.
pub struct Registry {
    pub plain: String,
    pub tls: String,
    pub user: String,
    pub password: String,
    pub ca_file: PathBuf,
}

impl Registry {
    /// The flags that reach the TLS registry: its CA and the htpasswd user.
    pub fn tls_auth_args(&self) -> [String; 6] {
        [
            "--ca-file".into(),
            self.ca_file.display().to_string(),
            "--username".into(),
            self.user.clone(),
            "--password".into(),
            self.password.clone(),
        ]
    }
}

/// The shared registries (started on first use).
pub fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(start_registry)
}

fn free_port_pair() -> u16 {
    // The registry also listens on port+1 for debug; look for two free ports.
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        if port < 65000 && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair on loopback");
}

fn start_registry() -> Registry {
    let script = shared().join("tools/run-registry.sh");
    let dir = std::env::temp_dir().join(format!("portcullis-it-registry-{}", std::process::id()));
    let plain_port = free_port_pair();
    let mut tls_port = free_port_pair();
    while tls_port.abs_diff(plain_port) < 2 {
        tls_port = free_port_pair();
    }
    let run = |command: &str| {
        let output = std::process::Command::new("bash")
            .arg(&script)
            .arg(command)
            .arg(&dir)
            .env("PLAIN_PORT", plain_port.to_string())
            .env("TLS_PORT", tls_port.to_string())
            .output()
            .expect("run-registry.sh runs (bash present)");
        // Say what the script said: a missing docker-registry, a full disk
        // and a port clash all end here and need different fixes.
        assert!(
            output.status.success(),
            "run-registry.sh {command} failed ({}; .ci/run installs docker-registry and skopeo):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    };
    // The watchdog outlives nothing: it waits for this test process to end,
    // then stops exactly the registries the script recorded in `dir`.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; PLAIN_PORT={plain_port} TLS_PORT={tls_port} bash '{script}' stop '{dir}' >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        script = script.display(),
        dir = dir.display(),
    );
    run("start");
    // `setsid -f` forks the watchdog into its own session and returns at
    // once, so there is no child left here to wait for.
    let status = std::process::Command::new("setsid")
        .args(["-f", "bash", "-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("start registry watchdog");
    assert!(status.success(), "registry watchdog did not start");
    run("push");
    Registry {
        plain: format!("127.0.0.1:{plain_port}"),
        tls: format!("127.0.0.1:{tls_port}"),
        user: "peers".into(),
        password: "peers-pass".into(),
        ca_file: dir.join("tls/cert.pem"),
    }
}

/// Serves the two schemas the CycloneDX schema references from the fixtures,
/// so validation never reaches the network.
struct FixtureSchemas(std::collections::HashMap<String, serde_json::Value>);

impl jsonschema::Retrieve for FixtureSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("schema {uri} is not among the fixtures").into())
    }
}

pub fn cyclonedx_validator() -> jsonschema::Validator {
    let dir = fixture("schemas/cyclonedx");
    let load = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let schemas = FixtureSchemas(
        [
            (
                "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
                load("spdx.SNAPSHOT.schema.json"),
            ),
            (
                "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
                load("jsf-0.82.SNAPSHOT.schema.json"),
            ),
        ]
        .into_iter()
        .map(|(uri, schema)| (uri.to_string(), schema))
        .collect(),
    );
    jsonschema::options()
        .with_retriever(schemas)
        .build(&load("bom-1.6.SNAPSHOT.schema.json"))
        .expect("CycloneDX schema compiles")
}
