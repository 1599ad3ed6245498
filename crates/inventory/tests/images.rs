//! The inventory of the fixture images under `shared/fixtures/images/oci`,
//! compared with their ground truth (`*.packages.txt`, written by the image
//! builder from dpkg's and rpm's own queries).
//!
//! The layers are unpacked here with a small walker of our own (gzip + tar,
//! whiteouts and opaque directories, only wanted files kept) so this crate
//! is tested without the `layers` stage; the end-to-end tests in
//! `crates/portcullis/tests` go through the real pipeline.

use portcullis_inventory::{Analyzers, Ecosystem, analyze};
use portcullis_layers::{File, FileSet, PathFilter};
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;

const IMAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/images"
);

fn blob(digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(format!("{IMAGES}/oci/blobs/sha256/{hex}")).unwrap()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The wanted files of the image tagged `name`, layers applied in order.
fn image_files(name: &str) -> FileSet {
    let index = json(&std::fs::read(format!("{IMAGES}/oci/index.json")).unwrap());
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap();
    let manifest = json(&blob(manifest["digest"].as_str().unwrap()));
    let filter = Analyzers;
    let mut files = FileSet::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let digest = layer["digest"].as_str().unwrap();
        let data = blob(digest);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&data[..]));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let raw = entry.path().unwrap().to_string_lossy().into_owned();
            let path = format!("/{}", raw.trim_start_matches("./").trim_end_matches('/'));
            let (dir, base) = path.rsplit_once('/').unwrap();
            if base == ".wh..wh..opq" {
                files.remove_under(dir);
                continue;
            }
            if let Some(hidden) = base.strip_prefix(".wh.") {
                let hidden = format!("{dir}/{hidden}");
                files.remove(&hidden);
                files.remove_under(&hidden);
                continue;
            }
            if !entry.header().entry_type().is_file() || !filter.wants(&path) {
                continue;
            }
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).unwrap();
            files.insert(File::new(
                path,
                Some(digest.to_owned()),
                entry.header().mode().unwrap(),
                Arc::from(contents),
            ));
        }
    }
    files
}

fn ground_truth(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{IMAGES}/{name}.packages.txt")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn dpkg_image_matches_ground_truth(name: &str) -> portcullis_inventory::Analysis {
    let files = image_files(name);
    let started = std::time::Instant::now();
    let analysis = analyze(&files).unwrap();
    eprintln!(
        "{name}: {} kept files, analyze took {:?}",
        files.len(),
        started.elapsed()
    );
    let distro = analysis.inventory.distro.as_ref().unwrap();
    assert_eq!(
        (distro.id.as_str(), distro.version_id.as_deref()),
        ("debian", Some("12"))
    );
    let mut got: Vec<String> = analysis
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .map(|p| format!("{}={}", p.name, p.version))
        .collect();
    got.sort();
    assert_eq!(got, ground_truth(name));
    for package in analysis
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
    {
        assert_eq!(package.location.path, "/var/lib/dpkg/status");
        assert!(
            package
                .location
                .layer
                .as_deref()
                .is_some_and(|l| l.starts_with("sha256:"))
        );
        let encoded_name = package.name.replace('+', "%2B");
        assert!(
            package
                .purl
                .starts_with(&format!("pkg:deb/debian/{encoded_name}@")),
            "{}",
            package.purl
        );
        assert!(
            package.purl.ends_with("distro=debian-12"),
            "{}",
            package.purl
        );
        assert!(package.source_name.is_some() && package.source_version.is_some());
    }
    // Licences come from DEP-5 copyright files; a few packages still write
    // theirs as prose (libcrypt1) or share another package's doc directory
    // through a symlink (libgcc-s1 → gcc-12-base), and so state none.
    let debian: Vec<_> = analysis
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .collect();
    let without: Vec<&str> = debian
        .iter()
        .filter(|p| p.licenses.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    eprintln!("{name}: no licence stated for {without:?}");
    assert!(
        without.len() * 5 < debian.len(),
        "{} of {} without licence",
        without.len(),
        debian.len()
    );
    for with_licence in ["apt", "bash", "dpkg", "libc6"] {
        assert!(
            !debian
                .iter()
                .find(|p| p.name == with_licence)
                .unwrap()
                .licenses
                .is_empty(),
            "{with_licence}"
        );
    }
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    analysis
}

#[test]
fn debian12_min() {
    let analysis = dpkg_image_matches_ground_truth("debian12-min");
    assert_eq!(analysis.inventory.packages.len(), 88);
}

/// debian12-full: four layers (the status file is rewritten by the second
/// and third) plus five old PyPI packages installed with pip in the last.
#[test]
fn debian12_full() {
    let analysis = dpkg_image_matches_ground_truth("debian12-full");
    let libcap = analysis
        .inventory
        .packages
        .iter()
        .find(|p| p.name == "libcap2-bin")
        .unwrap();
    assert_eq!(libcap.version, "1:2.66-4+deb12u3+b1");
    assert_eq!(libcap.source_name.as_deref(), Some("libcap2"));
    // A binNMU (+b1): the source version is the one without it.
    assert_eq!(libcap.source_version.as_deref(), Some("1:2.66-4+deb12u3"));
    assert_eq!(
        libcap.purl,
        "pkg:deb/debian/libcap2-bin@1:2.66-4%2Bdeb12u3%2Bb1?arch=amd64&distro=debian-12"
    );
    let python: Vec<String> = analysis
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::PyPI)
        .map(|p| format!("{}=={} {}", p.name, p.version, p.purl))
        .collect();
    assert_eq!(
        python,
        [
            "certifi==2020.12.5 pkg:pypi/certifi@2020.12.5",
            "chardet==4.0.0 pkg:pypi/chardet@4.0.0",
            "idna==2.10 pkg:pypi/idna@2.10",
            "requests==2.25.1 pkg:pypi/requests@2.25.1",
            "urllib3==1.26.4 pkg:pypi/urllib3@1.26.4",
        ]
    );
    let app_layer = "sha256:c17ac0ff8f5b401547c9cb99790ebfbed74b25898f738c474f95c14f83b0c92a";
    for package in analysis
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::PyPI)
    {
        assert_eq!(package.location.layer.as_deref(), Some(app_layer));
        assert!(
            package
                .location
                .path
                .starts_with("/usr/local/lib/python3.11/dist-packages/")
        );
    }
    assert_eq!(analysis.inventory.packages.len(), 131 + 5);

    // dpkg's status is written by the base layer and rewritten by the
    // python3/openssl/curl and nginx layers: each Debian package is
    // attributed to the layer that installed it, not to the last writer.
    let layers = [
        "sha256:1b1b5745f15508f319c6c148ff282f4dca053be95c170f0b3c648cfc496539ce",
        "sha256:dbc4ec5ab7b990bcdbeb74f5df866461faa639bf47f30154bc800cc55475e0fe",
        "sha256:578518bd06642110e0e2088ed1ef0f353b905a5874dad2a78f5822254bfbf415",
    ];
    let debian_in = |layer: &str| -> Vec<&str> {
        analysis
            .inventory
            .packages
            .iter()
            .filter(|p| {
                p.ecosystem == Ecosystem::Debian && p.location.layer.as_deref() == Some(layer)
            })
            .map(|p| p.name.as_str())
            .collect()
    };
    let base = debian_in(layers[0]);
    let mut minimal: Vec<String> = ground_truth("debian12-min")
        .iter()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
        .collect();
    minimal.sort();
    assert_eq!(base, minimal, "the base layer is debian12-min's");
    let tools = debian_in(layers[1]);
    assert_eq!(tools.len(), 34, "{tools:?}");
    for name in ["curl", "libssl3", "openssl", "python3"] {
        assert!(tools.contains(&name), "{name} in {tools:?}");
    }
    assert_eq!(
        debian_in(layers[2]),
        [
            "iproute2",
            "libbpf1",
            "libbsd0",
            "libcap2-bin",
            "libelf1",
            "libmnl0",
            "libxtables12",
            "nginx",
            "nginx-common"
        ]
    );
}

/// The rpm fixture: a sqlite rpmdb left in WAL mode, and an os-release of a
/// made-up distribution. The ground truth is `rpm -qa` with
/// `%{NAME}=%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}`; our version keeps the
/// epoch only where the header has one, so `0:` is added back here.
#[test]
fn rpm_fixture() {
    let files = image_files("rpm-fixture");
    let analysis = analyze(&files).unwrap();
    let distro = analysis.inventory.distro.as_ref().unwrap();
    assert_eq!(distro.id, "peers-rpm-fixture");
    assert_eq!(distro.id_like, ["rhel", "fedora"]);
    let mut got: Vec<String> = analysis
        .inventory
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.ecosystem, Ecosystem::Rpm);
            assert_eq!(p.location.path, "/var/lib/rpm/rpmdb.sqlite");
            let version = if p.version.contains(':') {
                p.version.clone()
            } else {
                format!("0:{}", p.version)
            };
            format!("{}={version}.{}", p.name, p.arch.as_deref().unwrap())
        })
        .collect();
    got.sort();
    assert_eq!(got, ground_truth("rpm-fixture"));
    let busybox = analysis
        .inventory
        .packages
        .iter()
        .find(|p| p.name == "busybox")
        .unwrap();
    assert_eq!(
        busybox.purl,
        "pkg:rpm/peers-rpm-fixture/busybox@1.35.0-4%2Bdeb12u1%2Bb1?arch=x86_64&distro=peers-rpm-fixture-1.0&epoch=1"
    );
}
