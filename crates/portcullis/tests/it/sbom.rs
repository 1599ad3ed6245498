//! `portcullis sbom` end to end: every fixture image, from every kind of
//! source, gives exactly the ground-truth package set.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{assert_exit, cyclonedx_validator, fixture, portcullis, registry, tempdir};

const IMAGES: [&str; 3] = ["debian12-min", "debian12-full", "rpm-fixture"];

/// The ground truth: `name=version` lines from `dpkg-query`/`rpm -qa`.
fn ground_truth(image: &str) -> BTreeSet<String> {
    let path = fixture(&format!("images/{image}.packages.txt"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The OS packages of a `--format json` SBOM, spelled as the ground truth
/// spells them (rpm: `name=EPOCHNUM:version-release.arch`).
fn os_packages(sbom: &serde_json::Value) -> BTreeSet<String> {
    sbom["packages"]
        .as_array()
        .expect("packages array")
        .iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let version = p["version"].as_str()?;
            match p["ecosystem"].as_str()? {
                "Debian" | "Ubuntu" | "Alpine" | "Wolfi" => Some(format!("{name}={version}")),
                "Rpm" => {
                    let arch = p["arch"].as_str().unwrap_or("noarch");
                    let evr = if version.contains(':') {
                        version.to_string()
                    } else {
                        format!("0:{version}")
                    };
                    Some(format!("{name}={evr}.{arch}"))
                }
                _ => None,
            }
        })
        .collect()
}

fn sbom_json(args: &[&str], cache: &Path) -> serde_json::Value {
    let output = portcullis()
        .arg("sbom")
        .args(args)
        .args(["--format", "json", "--quiet", "--cache-dir"])
        .arg(cache)
        .output()
        .expect("run portcullis");
    assert!(
        output.status.success(),
        "portcullis sbom {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("sbom JSON")
}

fn oci_ref(image: &str) -> String {
    format!("oci:{}:{image}", fixture("images/oci").display())
}

fn assert_ground_truth(image: &str, sbom: &serde_json::Value) {
    let expected = ground_truth(image);
    let got = os_packages(sbom);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{image}: missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn oci_layout_matches_ground_truth() {
    let cache = tempdir();
    for image in IMAGES {
        let sbom = sbom_json(&[&oci_ref(image)], cache.path());
        assert_ground_truth(image, &sbom);
    }
}

#[test]
fn warm_cache_gives_the_same_answer() {
    let cache = tempdir();
    let image = oci_ref("debian12-full");
    let cold = sbom_json(&[&image], cache.path());
    let warm = sbom_json(&[&image], cache.path());
    assert_eq!(cold, warm);
    assert_ground_truth("debian12-full", &warm);
}

#[test]
fn packages_carry_layer_path_source_and_purl() {
    let cache = tempdir();
    let sbom = sbom_json(&[&oci_ref("debian12-full")], cache.path());
    assert_eq!(sbom["distro"]["id"], "debian");
    assert_eq!(sbom["distro"]["version_id"], "12");
    let packages = sbom["packages"].as_array().unwrap();
    let find = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"] == name && p["ecosystem"] == "Debian")
            .unwrap_or_else(|| panic!("{name} not found"))
    };
    // libssl3 is built from the openssl source package (installed in layer 2).
    let libssl = find("libssl3");
    assert_eq!(libssl["source_name"], "openssl");
    assert!(
        libssl["location"]["layer"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(libssl["location"]["path"], "/var/lib/dpkg/status");
    let purl = libssl["purl"].as_str().unwrap();
    assert!(purl.starts_with("pkg:deb/debian/libssl3@"), "{purl}");
    assert!(purl.contains("arch=amd64"), "{purl}");
    // The location of an OS package is the layer that introduced it (dpkg's
    // status is rewritten by the second and third layers); of a language
    // package, the layer that wrote its manifest: the app layer (the fourth)
    // for the PyPI packages installed there.
    let manifest = std::fs::read_to_string(fixture(
        "images/oci/blobs/sha256/e4f7c7fda57f9e0c778d899a0c8a7e2b0ede8ef303c8aa5bd723e9fb38d9fce0",
    ))
    .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        find("bash")["location"]["layer"],
        layers[0],
        "bash comes with the base layer"
    );
    assert_eq!(libssl["location"]["layer"], layers[1]);
    assert_eq!(find("nginx")["location"]["layer"], layers[2]);
    let requests = packages
        .iter()
        .find(|p| p["name"] == "requests" && p["ecosystem"] == "PyPI")
        .expect("requests");
    assert_eq!(requests["version"], "2.25.1");
    assert_eq!(requests["location"]["layer"], layers[3]);
}

#[test]
fn docker_archive_matches_ground_truth() {
    let dir = tempdir();
    for image in IMAGES {
        let archive = dir.path().join(format!("{image}.tar"));
        let status = std::process::Command::new("skopeo")
            .args(["copy", "-q", &oci_ref(image)])
            .arg(format!("docker-archive:{}", archive.display()))
            .status()
            .expect("skopeo runs (.ci/run installs it)");
        assert!(status.success(), "skopeo copy {image}");
        let sbom = sbom_json(
            &[&format!("docker-archive:{}", archive.display())],
            &dir.path().join("cache"),
        );
        assert_ground_truth(image, &sbom);
    }
}

#[test]
fn registry_plain_http_matches_ground_truth() {
    let registry = registry();
    let cache = tempdir();
    for image in IMAGES {
        let reference = format!("{}/test/{image}:latest", registry.plain);
        let sbom = sbom_json(&[&reference, "--insecure"], cache.path());
        assert_ground_truth(image, &sbom);
    }
}

#[test]
fn registry_tls_with_basic_auth_matches_ground_truth() {
    let registry = registry();
    let cache = tempdir();
    for image in IMAGES {
        let reference = format!("{}/test/{image}:latest", registry.tls);
        let auth = registry.tls_auth_args();
        let mut args = vec![reference.as_str()];
        args.extend(auth.iter().map(String::as_str));
        let sbom = sbom_json(&args, cache.path());
        assert_ground_truth(image, &sbom);
    }
}

/// Credentials from a Docker credential helper, as `docker login` with a
/// helper leaves them: `credHelpers` for the registry, then `credsStore` for
/// every registry. The helper is a real program on PATH speaking the helper
/// protocol (server URL on stdin, JSON on stdout; "credentials not found"
/// with a failure status when it has none).
#[test]
fn registry_credentials_come_from_docker_credential_helpers() {
    use std::os::unix::fs::PermissionsExt;
    let registry = registry();
    let dir = tempdir();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let asked = dir.path().join("asked");
    let helper = bin.join("docker-credential-portcullis-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\necho \"$server\" >> '{asked}'\n\
             if [ \"$server\" = '{host}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{password}\"}}' \"$server\"\n\
             else\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            asked = asked.display(),
            host = registry.tls,
            user = registry.user,
            password = registry.password,
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let reference = format!("{}/test/debian12-min:latest", registry.tls);
    let sbom_with_config = |config: serde_json::Value| {
        let docker_config = tempdir();
        std::fs::write(docker_config.path().join("config.json"), config.to_string()).unwrap();
        let cache = tempdir();
        portcullis()
            .args([
                "sbom",
                &reference,
                "--quiet",
                "--format",
                "json",
                "--ca-file",
            ])
            .arg(&registry.ca_file)
            .arg("--cache-dir")
            .arg(cache.path())
            .env("DOCKER_CONFIG", docker_config.path())
            .env("PATH", &path)
            .env_remove("PORTCULLIS_USERNAME")
            .env_remove("PORTCULLIS_PASSWORD")
            .output()
            .unwrap()
    };
    for config in [
        serde_json::json!({"credHelpers": {registry.tls.as_str(): "portcullis-test"}}),
        serde_json::json!({"credsStore": "portcullis-test"}),
    ] {
        let output = sbom_with_config(config.clone());
        assert_exit(&output, 0);
        let sbom: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_ground_truth("debian12-min", &sbom);
    }
    // The helper was asked for exactly this registry, once per pull.
    let asked_for = std::fs::read_to_string(&asked).unwrap();
    assert_eq!(
        asked_for.lines().collect::<Vec<_>>(),
        [registry.tls.as_str(), registry.tls.as_str()]
    );
    // A helper with nothing for the registry (this one answers without
    // reading its input): no credentials, so the registry's refusal is what
    // the user sees.
    std::fs::write(
        &helper,
        "#!/bin/sh\necho 'credentials not found in native keychain'; exit 1\n",
    )
    .unwrap();
    let output = sbom_with_config(serde_json::json!({"credsStore": "portcullis-test"}));
    assert_exit(&output, 4);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&registry.tls),
        "names the registry: {stderr}"
    );
}

#[test]
fn registry_tls_without_credentials_is_refused_clearly() {
    let registry = registry();
    let cache = tempdir();
    let reference = format!("{}/test/debian12-min:latest", registry.tls);
    let output = portcullis()
        .args(["sbom", &reference, "--quiet", "--ca-file"])
        .arg(&registry.ca_file)
        .arg("--cache-dir")
        .arg(cache.path())
        .env("DOCKER_CONFIG", cache.path())
        .output()
        .unwrap();
    assert_exit(&output, 4);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&registry.tls),
        "names the registry: {stderr}"
    );
}

#[test]
fn cyclonedx_is_valid_against_the_official_schema() {
    let cache = tempdir();
    let validator = cyclonedx_validator();
    for image in IMAGES {
        let output = portcullis()
            .args([
                "sbom",
                &oci_ref(image),
                "--format",
                "cyclonedx",
                "--quiet",
                "--cache-dir",
            ])
            .arg(cache.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bom: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&bom)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{image}: {errors:#?}");
        assert_eq!(bom["specVersion"], "1.6");
        let libraries = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "library")
            .count();
        assert!(
            libraries >= ground_truth(image).len(),
            "{image}: {libraries} components"
        );
    }
}

#[test]
fn spdx_is_valid_per_spdx_tools() {
    let cache = tempdir();
    let out = cache.path().join("debian12-full.spdx.json");
    portcullis()
        .args([
            "sbom",
            &oci_ref("debian12-full"),
            "--format",
            "spdx",
            "--quiet",
            "--output",
        ])
        .arg(&out)
        .arg("--cache-dir")
        .arg(cache.path())
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let tool = std::env::var("PORTCULLIS_PYSPDXTOOLS").unwrap_or_else(|_| "pyspdxtools".into());
    let output = std::process::Command::new(&tool)
        .arg("-i")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (PyPI spdx-tools; .ci/run installs it): {e}"));
    assert!(
        output.status.success(),
        "pyspdxtools rejects the document: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn table_lists_packages() {
    let cache = tempdir();
    let output = portcullis()
        .args(["sbom", &oci_ref("debian12-min"), "--quiet", "--cache-dir"])
        .arg(cache.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("OS: Debian GNU/Linux 12 (bookworm)\n88 packages\n"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("bash ") && l.contains("5.2.15-2+b13"))
    );
}

#[test]
fn unknown_image_form_is_unusable_input() {
    portcullis()
        .args(["sbom", "oci:/nonexistent/layout:tag", "--quiet"])
        .assert()
        .code(2);
}

/// The digest of the only (or `index`th) layer of a fixture image.
fn fixture_layer(image: &str, index: usize) -> String {
    let layout = fixture("images/oci");
    let read_json = |path: std::path::PathBuf| -> serde_json::Value {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).expect("JSON")
    };
    let blob = |digest: &str| layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let index_json = read_json(layout.join("index.json"));
    let manifest = index_json["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == image)
        .unwrap_or_else(|| panic!("{image} not in the layout"));
    let manifest = read_json(blob(manifest["digest"].as_str().expect("digest")));
    manifest["layers"][index]["digest"]
        .as_str()
        .expect("layer digest")
        .to_owned()
}

/// The regular files at `paths` in a gzip layer blob of the fixture layout.
fn files_of_fixture_layer(digest: &str, paths: &[&str]) -> Vec<Vec<u8>> {
    let path = fixture("images/oci/blobs/sha256").join(&digest["sha256:".len()..]);
    let blob = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; paths.len()];
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let name = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .into_owned();
        let name = name.trim_start_matches("./");
        if let Some(slot) = paths.iter().position(|p| *p == name) {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("read entry");
            found[slot] = Some(data);
        }
    }
    found
        .into_iter()
        .zip(paths)
        .map(|(data, path)| data.unwrap_or_else(|| panic!("{path} not in layer {digest}")))
        .collect()
}

/// A gzip tar of `(path, contents)` regular files; an empty content under a
/// `.wh.` name is a whiteout.
fn gzip_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, *data)
            .expect("tar entry");
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("gzip layer")
}

/// Writes a one-image OCI layout (tag `t`) of gzip layers; returns the
/// layers' digests.
fn write_oci_layout(dir: &Path, layers: &[Vec<u8>]) -> Vec<String> {
    use portcullis_source::Digest;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    let put = |bytes: &[u8]| {
        let digest = Digest::of(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).expect("write blob");
        digest.to_string()
    };
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    let mut digests = Vec::new();
    for blob in layers {
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&blob[..]), &mut tar)
            .expect("gunzip own layer");
        diff_ids.push(Digest::of(&tar).to_string());
        let digest = put(blob);
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest, "size": blob.len()}));
        digests.push(digest);
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    .to_string();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put(config.as_bytes()), "size": config.len()},
        "layers": descriptors})
    .to_string();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put(manifest.as_bytes()), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    digests
}

/// The Debian packages of an SBOM: name → layer.
fn debian_layers(sbom: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    sbom["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] == "Debian")
        .map(|p| {
            let name = p["name"].as_str().expect("name").to_owned();
            let layer = p["location"]["layer"].as_str().expect("layer").to_owned();
            (name, layer)
        })
        .collect()
}

/// dpkg's status rewritten by a later layer that installs one more package:
/// the packages of the base layer stay attributed to it, the new one to the
/// layer that installed it. Deleted (whiteout) and written again: everything
/// to the layer that wrote it again. Real data: debian12-min's status and
/// os-release, curl's stanza from debian12-full's status.
#[test]
fn packages_are_attributed_to_the_layer_that_introduced_them() {
    let min_layer = fixture_layer("debian12-min", 0);
    let [status, os_release]: [Vec<u8>; 2] =
        files_of_fixture_layer(&min_layer, &["var/lib/dpkg/status", "usr/lib/os-release"])
            .try_into()
            .expect("two files");
    let [full_status]: [Vec<u8>; 1] =
        files_of_fixture_layer(&fixture_layer("debian12-full", 2), &["var/lib/dpkg/status"])
            .try_into()
            .expect("one file");
    let full_status = String::from_utf8(full_status).expect("UTF-8 status");
    let curl = full_status
        .split("\n\n")
        .find(|stanza| stanza.starts_with("Package: curl\n"))
        .expect("curl in debian12-full");
    let base = String::from_utf8(status).expect("UTF-8 status");
    assert!(!base.contains("Package: curl\n"));
    let with_curl = format!("{}\n\n{curl}\n", base.trim_end_matches('\n'));

    let base_layer = gzip_layer(&[
        ("etc/os-release", &os_release),
        ("var/lib/dpkg/status", base.as_bytes()),
    ]);
    let curl_layer = gzip_layer(&[("var/lib/dpkg/status", with_curl.as_bytes())]);
    let delete_layer = gzip_layer(&[("var/lib/dpkg/.wh.status", b"")]);
    // Not byte-identical to the curl layer, so its digest differs.
    let again_layer = gzip_layer(&[
        ("etc/motd", b"written again\n"),
        ("var/lib/dpkg/status", with_curl.as_bytes()),
    ]);

    let dir = tempdir();
    let added = dir.path().join("added");
    let digests = write_oci_layout(&added, &[base_layer.clone(), curl_layer.clone()]);
    let sbom = sbom_json(
        &[&format!("oci:{}:t", added.display())],
        &dir.path().join("cache"),
    );
    let layers = debian_layers(&sbom);
    assert_eq!(layers.len(), 89, "debian12-min's 88 packages and curl");
    assert_eq!(layers["curl"], digests[1]);
    let in_base = layers.iter().filter(|(_, l)| **l == digests[0]).count();
    assert_eq!(in_base, 88, "{layers:?}");

    let readded = dir.path().join("readded");
    let digests = write_oci_layout(
        &readded,
        &[base_layer, curl_layer, delete_layer, again_layer],
    );
    let sbom = sbom_json(
        &[&format!("oci:{}:t", readded.display())],
        &dir.path().join("cache"),
    );
    let layers = debian_layers(&sbom);
    assert_eq!(layers.len(), 89);
    assert_ne!(digests[3], digests[1]);
    assert!(
        layers.values().all(|l| *l == digests[3]),
        "deleted then written again: all from the last layer: {layers:?}"
    );
}
