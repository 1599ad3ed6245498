//! The real fixture images, read from the OCI layout and from a docker
//! archive made from it with skopeo: the kept files must give exactly the
//! ground-truth package sets, and both sources must agree byte for byte.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_layers::{FileSet, LayerOptions, PathFilter, collect};
use portcullis_source::{ImageRef, Opened, SourceOptions, open};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/images"
);

/// What the package analyzers read.
struct PackageFiles;

impl PathFilter for PackageFiles {
    fn wants(&self, path: &str) -> bool {
        matches!(
            path,
            "/etc/os-release" | "/var/lib/dpkg/status" | "/etc/nginx/sites-enabled/default"
        ) || path.starts_with("/var/lib/dpkg/status.d/")
            || path.starts_with("/var/lib/rpm/")
    }
    fn cache_key(&self) -> &str {
        "layers-it-package-files-v1"
    }
}

fn layout(tag: &str) -> ImageRef {
    ImageRef::OciLayout {
        dir: PathBuf::from(FIXTURES).join("oci"),
        tag: Some(tag.into()),
    }
}

fn files_of(reference: &ImageRef, cache: Option<&Path>) -> FileSet {
    let opened =
        open(reference, &SourceOptions::default()).unwrap_or_else(|e| panic!("{reference}: {e}"));
    let options = LayerOptions {
        cache_dir: cache.map(Path::to_owned),
        ..LayerOptions::default()
    };
    collect(&opened, &PackageFiles, &options).unwrap_or_else(|e| panic!("{reference}: {e}"))
}

/// `name=version` of every installed package in a dpkg status file.
fn dpkg_installed(status: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(status);
    text.split("\n\n")
        .filter(|stanza| stanza.lines().any(|l| l == "Status: install ok installed"))
        .filter_map(|stanza| {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::trim)
            };
            Some(format!("{}={}", field("Package:")?, field("Version:")?))
        })
        .collect()
}

fn ground_truth(image: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{image}.packages.txt"))
        .unwrap_or_else(|e| panic!("{image}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn debian_images_from_the_oci_layout_give_the_ground_truth_packages() {
    for image in ["debian12-min", "debian12-full"] {
        let files = files_of(&layout(image), None);
        let status = files
            .get("/var/lib/dpkg/status")
            .unwrap_or_else(|| panic!("{image}: no dpkg status"));
        assert_eq!(dpkg_installed(&status.data), ground_truth(image), "{image}");
        // os-release is a symlink to ../usr/lib/os-release in Debian.
        let os_release = files
            .get("/etc/os-release")
            .map(|f| String::from_utf8_lossy(&f.data).into_owned());
        assert!(
            os_release.is_some_and(|t| t.contains("ID=debian")),
            "{image}: os-release"
        );
    }
}

#[test]
fn whiteouts_of_the_top_layer_apply() {
    // debian12-full's last layer ran `rm /etc/nginx/sites-enabled/default`.
    let full = files_of(&layout("debian12-full"), None);
    assert!(full.get("/etc/nginx/sites-enabled/default").is_none());
    // The dpkg status of the full image comes from a later layer than the base.
    let status_layer = full
        .get("/var/lib/dpkg/status")
        .and_then(|f| f.layer.clone());
    let opened =
        open(&layout("debian12-full"), &SourceOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let Opened::Image(image) = opened else {
        panic!("not an image")
    };
    assert_ne!(
        status_layer.as_deref(),
        image.layers.first().map(|l| l.digest.as_str())
    );
}

#[test]
fn rpm_fixture_keeps_the_sqlite_database() {
    let files = files_of(&layout("rpm-fixture"), None);
    let db = files
        .get("/var/lib/rpm/rpmdb.sqlite")
        .unwrap_or_else(|| panic!("no rpmdb.sqlite"));
    assert!(db.data.starts_with(b"SQLite format 3\0"));
    assert!(files.get("/etc/os-release").is_some());
}

#[test]
fn warm_cache_gives_the_same_files() {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cold = files_of(&layout("debian12-full"), Some(cache.path()));
    let warm = files_of(&layout("debian12-full"), Some(cache.path()));
    assert_eq!(cold, warm);
    let entries = std::fs::read_dir(cache.path().join("layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    // The filter wants /etc/os-release, a link to /usr/lib/os-release, which
    // it does not want: the base layer kept that target on the way (the link
    // comes first in its archive) and no layer wrote it without keeping it,
    // so there was no second pass.
    assert_eq!(entries, 4, "one extract per layer");
}

fn skopeo() -> &'static str {
    let found = Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "skopeo is required for the docker-archive tests (apt-get install skopeo; .ci/run installs it)"
    );
    "skopeo"
}

#[test]
fn docker_archives_made_by_skopeo_agree_with_the_layout() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for image in ["debian12-full", "rpm-fixture"] {
        let archive = temp.path().join(format!("{image}.tar"));
        let status = Command::new(skopeo())
            .args(["copy", "-q", &format!("oci:{FIXTURES}/oci:{image}")])
            .arg(format!("docker-archive:{}", archive.display()))
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "skopeo copy of {image} failed"
        );
        let from_archive = files_of(
            &ImageRef::DockerArchive {
                path: archive,
                tag: None,
            },
            None,
        );
        let from_layout = files_of(&layout(image), None);
        let contents = |set: &FileSet| -> Vec<(String, Vec<u8>)> {
            set.iter()
                .map(|f| (f.path.clone(), f.data.to_vec()))
                .collect()
        };
        assert_eq!(contents(&from_archive), contents(&from_layout), "{image}");
        assert!(!from_archive.is_empty());
    }
}
