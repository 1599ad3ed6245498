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
    // The location is the layer that last wrote the file the package was
    // read from: dpkg's status for Debian packages, the app layer (the
    // fourth) for the PyPI packages installed there.
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
        layers[2],
        "the nginx layer rewrote dpkg's status last"
    );
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
