//! The source and layers stages through the binary: hostile or corrupt images
//! are refused with exit code 3 and a message naming image, layer and entry;
//! unusable references exit 2; a warm rescan reads no layer blob.

use std::path::Path;

use portcullis_source::Digest;
use predicates::str::contains;

use crate::common::{fixture, portcullis, tempdir};

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The rpm-fixture image's only layer (a 1 MiB gzip tar).
const RPM_LAYER: &str = "46d664fb44d8a15714f054d8072adfa54f952849f472f7db10cab31aafabc786";

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes a one-image OCI layout tagged `t` whose layers are `(media type,
/// declared digest, bytes)`; returns the `oci:` reference.
fn layout(dir: &Path, layers: &[(&str, Digest, Vec<u8>)]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("{e}"));
    let put = |bytes: &[u8]| {
        let digest = Digest::of(bytes);
        write(&blobs.join(digest.hex()), bytes);
        digest
    };
    let mut descriptors = Vec::new();
    for (media_type, digest, bytes) in layers {
        write(&blobs.join(digest.hex()), bytes);
        descriptors.push(serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()}));
    }
    let diff_ids: Vec<String> = layers.iter().map(|(_, d, _)| d.to_string()).collect();
    let config = serde_json::json!({"os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    .to_string();
    let config_digest = put(config.as_bytes());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": descriptors})
    .to_string();
    let manifest_digest = put(manifest.as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest.to_string(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    write(&dir.join("index.json"), index.to_string().as_bytes());
    write(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    format!("oci:{}:t", dir.display())
}

fn rpm_layer() -> Vec<u8> {
    std::fs::read(fixture(&format!("images/oci/blobs/sha256/{RPM_LAYER}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A ustar entry header with `name` and `link` written verbatim (the point is
/// to write what a careful tar writer refuses to).
fn tar_header(name: &str, kind: u8, link: &str, size: usize) -> Vec<u8> {
    let mut header = vec![0u8; 512];
    let put = |header: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            if let Some(slot) = header.get_mut(at + i) {
                *slot = *b;
            }
        }
    };
    put(&mut header, 0, name.as_bytes());
    put(&mut header, 100, b"0000644\0");
    put(&mut header, 108, b"0000000\0");
    put(&mut header, 116, b"0000000\0");
    put(&mut header, 124, format!("{size:011o}\0").as_bytes());
    put(&mut header, 136, b"00000000000\0");
    put(&mut header, 148, b"        ");
    put(&mut header, 156, &[kind]);
    put(&mut header, 157, link.as_bytes());
    put(&mut header, 257, b"ustar\x0000");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
    header
}

fn tar_of(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        out.extend(tar_header(name, *kind, link, data.len()));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn sbom(reference: &str, cache: &Path) -> assert_cmd::assert::Assert {
    portcullis()
        .args(["sbom", "--quiet", "--format", "json", "--cache-dir"])
        .arg(cache)
        .arg(reference)
        .assert()
}

#[test]
fn a_layer_that_does_not_match_its_digest_is_refused() {
    let dir = tempdir();
    let mut tampered = rpm_layer();
    if let Some(byte) = tampered.get_mut(1000) {
        *byte ^= 0x55;
    }
    let promised = Digest::parse(&format!("sha256:{RPM_LAYER}")).unwrap_or_else(|e| panic!("{e}"));
    let reference = layout(&dir.path().join("oci"), &[(TAR_GZIP, promised, tampered)]);
    sbom(&reference, &dir.path().join("cache"))
        .code(3)
        .stderr(contains(&reference))
        .stderr(contains(RPM_LAYER));
}

#[test]
fn a_truncated_gzip_layer_is_refused() {
    let dir = tempdir();
    let full = rpm_layer();
    let truncated = full.get(..full.len() / 2).unwrap_or_default().to_vec();
    let digest = Digest::of(&truncated);
    let reference = layout(
        &dir.path().join("oci"),
        &[(TAR_GZIP, digest.clone(), truncated)],
    );
    sbom(&reference, &dir.path().join("cache"))
        .code(3)
        .stderr(contains("truncated"))
        .stderr(contains(digest.to_string()));
}

/// A tar entry to write: path, type flag, link target, contents.
type Entry<'a> = (&'a str, u8, &'a str, &'a [u8]);

#[test]
fn entries_reaching_out_of_the_tree_are_refused_by_name() {
    let cases: [(&str, &[Entry]); 4] = [
        (
            "../../etc/passwd",
            &[("../../etc/passwd", b'0', "", b"root::0:0::/:/bin/sh\n")],
        ),
        ("/etc/shadow", &[("/etc/shadow", b'0', "", b"x")]),
        (
            "etc/evil",
            &[("etc/evil", b'2', "../../../etc/passwd", b"")],
        ),
        (
            "var/lib/dpkg/status",
            &[("var/lib/dpkg/status", b'1', "../../../etc/shadow", b"")],
        ),
    ];
    for (entry, items) in cases {
        let dir = tempdir();
        let layer = tar_of(items);
        let digest = Digest::of(&layer);
        let reference = layout(&dir.path().join("oci"), &[(TAR, digest.clone(), layer)]);
        sbom(&reference, &dir.path().join("cache"))
            .code(3)
            .stderr(contains(format!("{entry:?}")))
            .stderr(contains(digest.to_string()))
            .stderr(contains(&reference));
    }
}

#[test]
fn an_unknown_layer_media_type_is_refused() {
    let dir = tempdir();
    let layer = rpm_layer();
    let digest = Digest::of(&layer);
    let reference = layout(
        &dir.path().join("oci"),
        &[("application/x-mystery", digest, layer)],
    );
    sbom(&reference, &dir.path().join("cache"))
        .code(3)
        .stderr(contains("application/x-mystery"));
}

#[test]
fn unusable_references_exit_2() {
    let dir = tempdir();
    let oci = fixture("images/oci");
    sbom(&format!("oci:{}:no-such-tag", oci.display()), dir.path())
        .code(2)
        .stderr(contains("debian12-full"));
    sbom("Not A Valid/Reference!", dir.path()).code(2);
    sbom(
        &format!(
            "docker-archive:{}",
            dir.path().join("missing.tar").display()
        ),
        dir.path(),
    )
    .code(2);
}

#[test]
fn a_warm_rescan_reads_no_layer_blob() {
    let dir = tempdir();
    let layer = rpm_layer();
    let digest = Digest::of(&layer);
    let reference = layout(
        &dir.path().join("oci"),
        &[(TAR_GZIP, digest.clone(), layer)],
    );
    let cache = dir.path().join("cache");
    let cold = sbom(&reference, &cache)
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&cold).contains("busybox"));
    // The layer blob is gone: only the per-layer cache can answer now.
    std::fs::remove_file(dir.path().join("oci/blobs/sha256").join(digest.hex()))
        .unwrap_or_else(|e| panic!("{e}"));
    let warm = sbom(&reference, &cache)
        .success()
        .get_output()
        .stdout
        .clone();
    let without_timestamps = |out: &[u8]| -> serde_json::Value {
        let mut value: serde_json::Value =
            serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}"));
        if let Some(object) = value.as_object_mut() {
            object.remove("created");
        }
        value
    };
    assert_eq!(without_timestamps(&cold), without_timestamps(&warm));
}
