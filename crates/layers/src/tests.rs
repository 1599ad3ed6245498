//! Unit tests: layers built in the test with the `tar` crate, hostile ones
//! with raw header bytes (the `tar` builder itself refuses to write them).

use std::io::Write;
use std::path::Path;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use portcullis_source::{Digest, ImageRef, SourceOptions};

use super::*;

/// Wants dpkg's status file, os-release and everything under /want.
struct TestFilter;

impl PathFilter for TestFilter {
    fn wants(&self, path: &str) -> bool {
        path == "/var/lib/dpkg/status" || path == "/etc/os-release" || path.starts_with("/want/")
    }
    fn cache_key(&self) -> &str {
        "test-filter-v1"
    }
}

enum Item<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A header whose name and link name are written as raw bytes, unchecked.
fn raw_header(kind: tar::EntryType, name: &str, link: &str, size: u64) -> tar::Header {
    let mut header = tar::Header::new_old();
    {
        let old = header.as_old_mut();
        let n = name.len().min(old.name.len());
        old.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let l = link.len().min(old.linkname.len());
        old.linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let result = match item {
            Item::File(name, data) => builder.append(
                &raw_header(tar::EntryType::Regular, name, "", data.len() as u64),
                *data,
            ),
            Item::Dir(name) => {
                builder.append(&raw_header(tar::EntryType::Directory, name, "", 0), &[][..])
            }
            Item::Symlink(name, target) => builder.append(
                &raw_header(tar::EntryType::Symlink, name, target, 0),
                &[][..],
            ),
            Item::Hardlink(name, target) => {
                builder.append(&raw_header(tar::EntryType::Link, name, target, 0), &[][..])
            }
        };
        assert!(result.is_ok());
    }
    builder.into_inner().unwrap_or_default()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Level::fast());
    assert!(encoder.write_all(data).is_ok());
    encoder.finish().unwrap_or_default()
}

fn scan(
    blob: &[u8],
    compression: Compression,
    limits: &LayerLimits,
) -> Result<LayerExtract, LayersError> {
    scan_layer(
        blob,
        compression,
        &TestFilter,
        limits,
        "test-image",
        "sha256:test",
    )
}

fn data(extract: &LayerExtract, path: &str) -> Option<Vec<u8>> {
    extract.files.get(path).map(|f| f.data.to_vec())
}

#[test]
fn keeps_only_wanted_files_of_every_compression() {
    let tar = tar_of(&[
        Item::Dir("var/lib/dpkg/"),
        Item::File("./var/lib/dpkg/status", b"Package: base-files\n"),
        Item::File("usr/bin/ls", b"ELF..."),
        Item::File("want/a", b"a"),
    ]);
    let zstd = zstd::encode_all(&tar[..], 3).unwrap_or_default();
    for (blob, declared) in [
        (tar.clone(), Compression::None),
        (gzip(&tar), Compression::Gzip),
        (zstd, Compression::Zstd),
        (gzip(&tar), Compression::Unknown),
    ] {
        let extract = scan(&blob, declared, &LayerLimits::default());
        let extract = extract.unwrap_or_else(|e| panic!("{declared:?}: {e}"));
        assert_eq!(
            data(&extract, "/var/lib/dpkg/status").as_deref(),
            Some(&b"Package: base-files\n"[..])
        );
        assert_eq!(data(&extract, "/want/a").as_deref(), Some(&b"a"[..]));
        assert_eq!(extract.files.len(), 2, "{declared:?}");
    }
}

#[test]
fn media_type_and_magic_must_agree() {
    let tar = tar_of(&[Item::File("want/a", b"a")]);
    let err = scan(&tar, Compression::Gzip, &LayerLimits::default());
    assert!(
        matches!(err, Err(LayersError::Corrupt { ref reason, .. }) if reason.contains("declares")),
        "{err:?}"
    );
}

#[test]
fn whiteouts_and_opaque_dirs_apply_to_lower_layers_only() {
    let lower = scan(
        &tar_of(&[
            Item::File("want/keep", b"1"),
            Item::File("want/gone", b"2"),
            Item::File("want/dir/x", b"3"),
            Item::File("want/opaque/old", b"4"),
            Item::Symlink("want/link", "keep"),
        ]),
        Compression::None,
        &LayerLimits::default(),
    );
    let upper = scan(
        &tar_of(&[
            Item::File("want/.wh.gone", b""),
            Item::File("want/.wh.dir", b""),
            Item::File("want/opaque/.wh..wh..opq", b""),
            Item::File("want/opaque/new", b"5"),
            Item::File("want/.wh.link", b""),
        ]),
        Compression::None,
        &LayerLimits::default(),
    );
    let (Ok(lower), Ok(upper)) = (lower, upper) else {
        panic!("scan failed")
    };
    assert_eq!(upper.whiteouts, ["/want/gone", "/want/dir", "/want/link"]);
    assert_eq!(upper.opaque_dirs, ["/want/opaque"]);
    let mut merged = Merged::default();
    merged.apply(Some("sha256:lower"), &lower);
    merged.apply(Some("sha256:upper"), &upper);
    let paths: Vec<&str> = merged.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/want/keep", "/want/opaque/new"]);
    assert_eq!(
        merged
            .files
            .get("/want/keep")
            .and_then(|f| f.layer.as_deref()),
        Some("sha256:lower")
    );
    assert_eq!(
        merged
            .files
            .get("/want/opaque/new")
            .and_then(|f| f.layer.as_deref()),
        Some("sha256:upper")
    );
    assert!(merged.symlinks.is_empty());
}

#[test]
fn symlinks_and_hardlinks_resolve_inside_the_tree() {
    let tar = tar_of(&[
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        Item::File("usr/lib/os-release", b"ID=debian\n"),
        Item::File("want/original", b"same inode"),
        Item::Hardlink("want/linked", "want/original"),
        Item::File("usr/lib/unwanted", b"u"),
        Item::Hardlink("want/to-unwanted", "usr/lib/unwanted"),
    ]);
    let extract = scan(&tar, Compression::None, &LayerLimits::default());
    let Ok(extract) = extract else {
        panic!("{extract:?}")
    };
    assert_eq!(
        data(&extract, "/want/linked").as_deref(),
        Some(&b"same inode"[..])
    );
    assert_eq!(
        extract
            .hardlinks
            .get("/want/to-unwanted")
            .map(String::as_str),
        Some("/usr/lib/unwanted")
    );
    // The hard link's target is read from the same layer again.
    let mut extract = extract;
    let mut rescanned = BTreeSet::new();
    let resolved = resolve_hardlinks(&mut extract, |targets| {
        rescanned = targets.paths().clone();
        scan_layer(
            &tar[..],
            Compression::None,
            targets,
            &LayerLimits::default(),
            "test-image",
            "sha256:test",
        )
    });
    assert!(resolved.is_ok(), "{resolved:?}");
    let expected: BTreeSet<String> = ["/usr/lib/unwanted"].map(String::from).into();
    assert_eq!(rescanned, expected);
    assert!(extract.hardlinks.is_empty());
    let mut merged = Merged::default();
    merged.apply(None, &extract);
    // The symlink's target is not wanted either, but the symlink came first
    // in the stream, so its target was kept on the way, and no layer wrote
    // it without keeping it: no second pass.
    let files = finish(merged, &TestFilter, |targets| {
        panic!("no second pass expected, asked for {:?}", targets.paths())
    });
    let files = files.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        files.get("/etc/os-release").map(|f| f.data.to_vec()),
        Some(b"ID=debian\n".to_vec())
    );
    assert_eq!(
        files.get("/want/to-unwanted").map(|f| f.data.to_vec()),
        Some(b"u".to_vec())
    );
    assert!(files.get("/usr/lib/os-release").is_none());
    assert!(files.get("/usr/lib/unwanted").is_none());
}

/// A hard link is the file its target was in the link's layer: later layers
/// rewriting or deleting the target's path do not change it.
#[test]
fn collect_keeps_a_hard_link_to_its_own_layer_cold_and_warm() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layers = vec![
        tar_of(&[
            Item::File("usr/lib/unwanted", b"one"),
            Item::Hardlink("want/linked", "usr/lib/unwanted"),
        ]),
        tar_of(&[Item::File("usr/lib/unwanted", b"two")]),
        tar_of(&[Item::File("usr/lib/.wh.unwanted", b"")]),
    ];
    let LayoutImage {
        opened,
        options,
        layer_digests,
    } = open_layout(temp.path(), &layers);
    let first = &layer_digests[0];
    for run in ["cold", "warm"] {
        let files =
            collect(&opened, &TestFilter, &options).unwrap_or_else(|e| panic!("{run}: {e}"));
        assert_eq!(
            versions(&files, "/want/linked"),
            owned(&[(first, "one")]),
            "{run}"
        );
        assert_eq!(files.len(), 1, "{run}");
    }
}

fn assert_hostile(items: &[Item<'_>], entry: &str) {
    let err = scan(
        &gzip(&tar_of(items)),
        Compression::Gzip,
        &LayerLimits::default(),
    );
    match err {
        Err(LayersError::Hostile {
            image,
            layer,
            entry: got,
            ..
        }) => {
            assert_eq!(
                (image.as_str(), layer.as_str(), got.as_str()),
                ("test-image", "sha256:test", entry)
            );
        }
        other => panic!("{entry}: expected a hostile-entry error, got {other:?}"),
    }
}

#[test]
fn hostile_entries_are_refused_by_name() {
    assert_hostile(&[Item::File("../../etc/passwd", b"x")], "../../etc/passwd");
    assert_hostile(&[Item::File("a/../../b", b"x")], "a/../../b");
    assert_hostile(&[Item::File("/etc/shadow", b"x")], "/etc/shadow");
    assert_hostile(
        &[Item::Symlink("etc/evil", "../../../../etc/passwd")],
        "etc/evil",
    );
    assert_hostile(&[Item::Hardlink("want/evil", "../etc/passwd")], "want/evil");
    assert_hostile(&[Item::Hardlink("want/evil", "/etc/passwd")], "want/evil");
    assert_hostile(&[Item::File("want/.wh..", b"")], "want/.wh..");
}

#[test]
fn truncated_gzip_is_refused() {
    let blob = gzip(&tar_of(&[Item::File("want/a", &[7u8; 100_000])]));
    let truncated = &blob[..blob.len() / 2];
    let err = scan(truncated, Compression::Gzip, &LayerLimits::default());
    assert!(
        matches!(err, Err(LayersError::Corrupt { ref reason, .. }) if reason.contains("truncated")),
        "{err:?}"
    );
}

#[test]
fn decompression_bombs_are_refused() {
    let zeros = vec![0u8; 8 << 20];
    let tar = tar_of(&[Item::File("usr/share/bomb", &zeros)]);
    let blob = gzip(&tar);
    let ratio = LayerLimits {
        ratio_floor: 1 << 20,
        max_ratio: 100,
        ..LayerLimits::default()
    };
    assert!(matches!(
        scan(&blob, Compression::Gzip, &ratio),
        Err(LayersError::Bomb { .. })
    ));
    let total = LayerLimits {
        max_layer_bytes: 4 << 20,
        ..LayerLimits::default()
    };
    assert!(matches!(
        scan(&blob, Compression::Gzip, &total),
        Err(LayersError::Bomb { .. })
    ));
    assert!(scan(&blob, Compression::Gzip, &LayerLimits::default()).is_ok());
}

#[test]
fn oversized_kept_files_are_refused() {
    let tar = tar_of(&[Item::File("want/big", &[1u8; 4096])]);
    let limits = LayerLimits {
        max_file_bytes: 1024,
        ..LayerLimits::default()
    };
    let err = scan(&tar, Compression::None, &limits);
    assert!(
        matches!(
            err,
            Err(LayersError::FileTooLarge {
                size: 4096,
                limit: 1024,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused() {
    let blob = gzip(&tar_of(&[Item::File("want/a", b"a")]));
    let wrong = Digest::of(b"another blob");
    let reader = portcullis_source::VerifiedReader::new(&blob[..], "img", wrong, None);
    let err = scan_layer(
        reader,
        Compression::Gzip,
        &TestFilter,
        &LayerLimits::default(),
        "img",
        "l",
    );
    assert!(
        matches!(
            err,
            Err(LayersError::Blob(
                portcullis_source::BlobError::DigestMismatch { .. }
            ))
        ),
        "{err:?}"
    );
}

/// Writes a one-image OCI layout of gzip layers; returns its reference.
fn write_layout(dir: &Path, layers: &[Vec<u8>]) -> ImageRef {
    let blobs = dir.join("blobs").join("sha256");
    assert!(std::fs::create_dir_all(&blobs).is_ok());
    let put = |bytes: &[u8]| {
        let digest = Digest::of(bytes);
        assert!(std::fs::write(blobs.join(digest.hex()), bytes).is_ok());
        digest
    };
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        let blob = gzip(tar);
        let digest = put(&blob);
        diff_ids.push(Digest::of(tar).to_string());
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest.to_string(), "size": blob.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": diff_ids}}))
    .unwrap_or_default();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest.to_string(), "size": config.len()},
        "layers": descriptors}))
    .unwrap_or_default();
    let manifest_digest = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest.to_string(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    assert!(std::fs::write(dir.join("index.json"), index.to_string()).is_ok());
    ImageRef::OciLayout {
        dir: dir.to_owned(),
        tag: Some("t".into()),
    }
}

/// `layers` written to `dir` as an OCI layout and opened, with a layer
/// cache under `dir/cache`.
struct LayoutImage {
    opened: portcullis_source::Opened,
    options: LayerOptions,
    /// Digests of the gzip layer blobs, bottom layer first.
    layer_digests: Vec<String>,
}

fn open_layout(dir: &Path, layers: &[Vec<u8>]) -> LayoutImage {
    let layer_digests = layers
        .iter()
        .map(|tar| Digest::of(&gzip(tar)).to_string())
        .collect();
    let reference = write_layout(dir, layers);
    let opened = portcullis_source::open(&reference, &SourceOptions::default());
    let Ok(opened) = opened else {
        panic!("{opened:?}")
    };
    let options = LayerOptions {
        cache_dir: Some(dir.join("cache")),
        ..LayerOptions::default()
    };
    LayoutImage {
        opened,
        options,
        layer_digests,
    }
}

#[test]
fn symlink_targets_the_filter_did_not_ask_for_are_fetched_in_a_second_pass() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = tar_of(&[
        Item::File("usr/lib/os-release", b"ID=debian\n"),
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
    ]);
    let top = tar_of(&[Item::File("want/x", b"x")]);
    let LayoutImage {
        opened, options, ..
    } = open_layout(temp.path(), &[base, top]);
    let cache = temp.path().join("cache");
    for run in ["cold", "warm"] {
        let files =
            collect(&opened, &TestFilter, &options).unwrap_or_else(|e| panic!("{run}: {e}"));
        let os_release = files.get("/etc/os-release").map(|f| f.data.to_vec());
        assert_eq!(os_release.as_deref(), Some(&b"ID=debian\n"[..]), "{run}");
        // The target itself was not wanted, so it is not handed out.
        assert!(files.get("/usr/lib/os-release").is_none(), "{run}");
        assert_eq!(files.len(), 2, "{run}");
    }
    let cached = std::fs::read_dir(cache.join("layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(cached, 4, "two layers × (filter, second-pass filter)");
}

#[test]
fn rootfs_walk_never_leaves_the_root() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = temp.path().join("root");
    let outside = temp.path().join("secret");
    for dir in ["etc", "usr/lib", "want", "var/lib/dpkg"] {
        assert!(std::fs::create_dir_all(root.join(dir)).is_ok());
    }
    assert!(std::fs::write(&outside, b"outside").is_ok());
    assert!(std::fs::write(root.join("usr/lib/os-release"), b"ID=debian\n").is_ok());
    assert!(
        std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).is_ok()
    );
    assert!(std::fs::write(root.join("var/lib/dpkg/status"), b"Package: x\n").is_ok());
    // An absolute symlink means the root's /secret, which does not exist.
    assert!(std::os::unix::fs::symlink(&outside, root.join("want/abs")).is_ok());
    assert!(std::os::unix::fs::symlink("../../secret", root.join("want/rel")).is_ok());
    // A link inside the tree whose path crosses a directory link out of it
    // (not recorded, so path arithmetic alone would not see it).
    let outside_dir = temp.path().join("outside-dir");
    assert!(std::fs::create_dir_all(&outside_dir).is_ok());
    assert!(std::fs::write(outside_dir.join("secret"), b"outside").is_ok());
    assert!(std::os::unix::fs::symlink("../outside-dir", root.join("escape")).is_ok());
    assert!(std::os::unix::fs::symlink("../escape/secret", root.join("want/through")).is_ok());
    let opened = portcullis_source::open(
        &ImageRef::Rootfs { dir: root.clone() },
        &SourceOptions::default(),
    );
    let Ok(opened) = opened else {
        panic!("{opened:?}")
    };
    let files =
        collect(&opened, &TestFilter, &LayerOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(got, ["/etc/os-release", "/var/lib/dpkg/status"]);
    assert_eq!(
        files.get("/etc/os-release").map(|f| f.data.to_vec()),
        Some(b"ID=debian\n".to_vec())
    );
}

/// `(layer, contents)` of every version of `path`, oldest first.
fn versions(files: &FileSet, path: &str) -> Vec<(String, String)> {
    files
        .get(path)
        .map(|file| {
            file.history()
                .map(|(layer, data)| {
                    (
                        layer.unwrap_or("-").to_owned(),
                        String::from_utf8_lossy(data).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(l, d)| ((*l).to_owned(), (*d).to_owned()))
        .collect()
}

#[test]
fn rewritten_files_keep_their_lower_versions_until_removed() {
    let layers = [
        tar_of(&[
            Item::File("var/lib/dpkg/status", b"A"),
            Item::File("want/x", b"x1"),
            Item::File("want/dir/y", b"y1"),
        ]),
        tar_of(&[
            Item::File("var/lib/dpkg/status", b"AB"),
            Item::File("want/.wh.x", b""),
            Item::File("want/dir/y", b"y2"),
        ]),
        tar_of(&[
            Item::File("var/lib/dpkg/status", b"ABC"),
            Item::File("want/x", b"x3"),
            Item::File("want/dir/.wh..wh..opq", b""),
            Item::File("want/dir/y", b"y3"),
        ]),
    ];
    let mut merged = Merged::default();
    for (i, tar) in layers.iter().enumerate() {
        let extract = scan(tar, Compression::None, &LayerLimits::default());
        let Ok(extract) = extract else {
            panic!("{extract:?}")
        };
        merged.apply(Some(&format!("l{}", i + 1)), &extract);
    }
    let files = merged.into_wanted(&TestFilter);
    assert_eq!(
        versions(&files, "/var/lib/dpkg/status"),
        owned(&[("l1", "A"), ("l2", "AB"), ("l3", "ABC")])
    );
    // Whited out in l2, written again in l3: a new file.
    assert_eq!(versions(&files, "/want/x"), owned(&[("l3", "x3")]));
    // The opaque directory hides l1's and l2's versions in the same layer
    // that writes the new one.
    assert_eq!(versions(&files, "/want/dir/y"), owned(&[("l3", "y3")]));
}

/// Through [`collect`], with the extract cache cold and warm: a symlinked
/// wanted path shares its target's history, and the status file deleted in
/// the second layer and written again in the third has only that version.
#[test]
fn collect_reports_history_through_the_cache_and_symlinks() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layers = vec![
        tar_of(&[
            Item::File("var/lib/dpkg/status", b"one"),
            Item::File("usr/lib/os-release", b"ID=debian\nVERSION_ID=11\n"),
            Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        ]),
        tar_of(&[
            Item::File("var/lib/dpkg/.wh.status", b""),
            Item::File("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n"),
        ]),
        tar_of(&[Item::File("var/lib/dpkg/status", b"three")]),
    ];
    let LayoutImage {
        opened,
        options,
        layer_digests: digests,
    } = open_layout(temp.path(), &layers);
    for run in ["cold", "warm"] {
        let files =
            collect(&opened, &TestFilter, &options).unwrap_or_else(|e| panic!("{run}: {e}"));
        assert_eq!(
            versions(&files, "/var/lib/dpkg/status"),
            owned(&[(&digests[2], "three")]),
            "{run}"
        );
        assert_eq!(
            versions(&files, "/etc/os-release"),
            owned(&[
                (&digests[0], "ID=debian\nVERSION_ID=11\n"),
                (&digests[1], "ID=debian\nVERSION_ID=12\n"),
            ]),
            "{run}"
        );
    }
}

/// Scans in-memory tar layers with `filter` and merges them bottom-up; layer
/// `i` (from 0) is named `l{i+1}`.
fn merge_tars(tars: &[Vec<u8>], filter: &dyn PathFilter) -> Merged {
    let mut merged = Merged::default();
    for (i, tar) in tars.iter().enumerate() {
        let layer = format!("l{}", i + 1);
        let extract = scan_layer(
            &tar[..],
            Compression::None,
            filter,
            &LayerLimits::default(),
            "test-image",
            &layer,
        );
        let Ok(extract) = extract else {
            panic!("{layer}: {extract:?}")
        };
        merged.apply(Some(&layer), &extract);
    }
    merged
}

/// What [`collect`] does, over in-memory layers: merge them, then give the
/// wanted links their targets, with a second pass over the same layers for
/// targets [`TestFilter`] does not ask for.
fn resolve_tars(tars: &[Vec<u8>]) -> FileSet {
    resolve_tars_asking(tars).0
}

/// [`resolve_tars`], and the paths the second pass was asked for.
fn resolve_tars_asking(tars: &[Vec<u8>]) -> (FileSet, BTreeSet<String>) {
    let merged = merge_tars(tars, &TestFilter);
    let mut asked = BTreeSet::new();
    let files = finish(merged, &TestFilter, |targets| {
        asked = targets.paths().clone();
        Ok(merge_tars(tars, targets))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (files, asked)
}

/// The bug: the link came before its target in the first layer's archive, so
/// that layer kept the target on the way; the second layer rewrote only the
/// target (no link in it, and the filter does not want the target), and the
/// link kept showing the first layer's contents.
#[test]
fn a_target_rewritten_by_a_later_layer_shows_through_the_link() {
    let mut layers = vec![
        tar_of(&[
            Item::Symlink("etc/os-release", "../usr/lib/os-release"),
            Item::File("usr/lib/os-release", b"VERSION_ID=11"),
        ]),
        tar_of(&[Item::File("usr/lib/os-release", b"VERSION_ID=12")]),
    ];
    // Alone, the first layer kept the target on the way: no second pass.
    let (files, asked) = resolve_tars_asking(&layers[..1]);
    assert_eq!(
        versions(&files, "/etc/os-release"),
        owned(&[("l1", "VERSION_ID=11")])
    );
    assert!(asked.is_empty(), "{asked:?}");
    let (files, asked) = resolve_tars_asking(&layers);
    assert_eq!(
        versions(&files, "/etc/os-release"),
        owned(&[("l1", "VERSION_ID=11"), ("l2", "VERSION_ID=12")])
    );
    let target: BTreeSet<String> = ["/usr/lib/os-release"].map(String::from).into();
    assert_eq!(asked, target);
    assert_eq!(
        files
            .get("/etc/os-release")
            .and_then(|f| f.layer.as_deref()),
        Some("l2")
    );
    // The target itself was not wanted, so it is not handed out.
    assert!(files.get("/usr/lib/os-release").is_none());
    assert_eq!(files.len(), 1);
    // The target deleted above: the link dangles, the path is absent.
    layers.push(tar_of(&[Item::File("usr/lib/.wh.os-release", b"")]));
    assert!(resolve_tars(&layers).is_empty());
}

/// A lower layer wrote the target without the link; the layer holding the
/// link kept its own version on the way: the lower version is still part of
/// the target's history.
#[test]
fn a_target_written_below_the_link_keeps_its_history() {
    let layers = vec![
        tar_of(&[Item::File("usr/lib/os-release", b"VERSION_ID=11")]),
        tar_of(&[
            Item::Symlink("etc/os-release", "../usr/lib/os-release"),
            Item::File("usr/lib/os-release", b"VERSION_ID=12"),
        ]),
    ];
    assert_eq!(
        versions(&resolve_tars(&layers), "/etc/os-release"),
        owned(&[("l1", "VERSION_ID=11"), ("l2", "VERSION_ID=12")])
    );
}

#[test]
fn dropped_paths_have_no_false_negatives_and_few_false_positives() {
    let mut dropped = DroppedPaths::default();
    assert!(!dropped.may_contain("/usr/lib/os-release"));
    let written: Vec<String> = (0..20_000)
        .map(|i| format!("/usr/share/doc/package-{i}/copyright"))
        .collect();
    for path in &written {
        dropped.insert(path);
    }
    assert!(written.iter().all(|path| dropped.may_contain(path)));
    let false_positives = (0..20_000)
        .filter(|i| dropped.may_contain(&format!("/usr/lib/other-{i}/os-release")))
        .count();
    assert!(false_positives < 200, "{false_positives} of 20000");
    assert!(DroppedPaths::unknown().may_contain("/anything"));
}

#[test]
fn links_and_files_replace_each_other_across_layers() {
    let mut layers = vec![
        tar_of(&[
            Item::File("var/lib/dpkg/status", b"status-l1"),
            Item::File("want/real", b"real-l1"),
        ]),
        // A link where a file was: the path now shows the target's history.
        tar_of(&[Item::Symlink("var/lib/dpkg/status", "/want/real")]),
        tar_of(&[Item::File("want/real", b"real-l3")]),
    ];
    let files = resolve_tars(&layers);
    assert_eq!(
        versions(&files, "/var/lib/dpkg/status"),
        owned(&[("l1", "real-l1"), ("l3", "real-l3")])
    );
    // A file where the link was: a new file with a history of its own.
    layers.push(tar_of(&[Item::File("var/lib/dpkg/status", b"status-l4")]));
    layers.push(tar_of(&[Item::File("want/real", b"real-l5")]));
    let files = resolve_tars(&layers);
    assert_eq!(
        versions(&files, "/var/lib/dpkg/status"),
        owned(&[("l4", "status-l4")])
    );
    assert_eq!(
        versions(&files, "/want/real"),
        owned(&[("l1", "real-l1"), ("l3", "real-l3"), ("l5", "real-l5")])
    );
}

#[test]
fn chains_loops_and_climbing_links_resolve_like_a_chroot_lookup() {
    let chain: Vec<(String, String)> = (0..40)
        .map(|i| (format!("want/hop{i}"), format!("hop{}", i + 1)))
        .chain([("want/hop40".into(), "/usr/lib/os-release".into())])
        .collect();
    let mut items = vec![
        // Relative to absolute to the file.
        Item::Symlink("etc/os-release", "alternatives/os-release"),
        Item::Symlink("etc/alternatives/os-release", "/usr/lib/os-release"),
        Item::File("usr/lib/os-release", b"ID=test"),
        Item::Symlink("want/loop-a", "loop-b"),
        Item::Symlink("want/loop-b", "loop-a"),
        // `..` at the root stays at the root, as in the kernel.
        Item::Symlink("want/root", "/"),
        Item::Symlink("want/up", "root/../../usr/lib/os-release"),
    ];
    items.extend(chain.iter().map(|(l, t)| Item::Symlink(l, t)));
    let files = resolve_tars(&[tar_of(&items)]);
    for path in ["/etc/os-release", "/want/up", "/want/hop1"] {
        assert_eq!(
            versions(&files, path),
            owned(&[("l1", "ID=test")]),
            "{path}"
        );
    }
    // A loop, and a chain of 41 links (one more than Linux follows): absent,
    // not an error.
    for path in ["/want/loop-a", "/want/loop-b", "/want/hop0", "/want/root"] {
        assert!(files.get(path).is_none(), "{path}");
    }
}

/// A directory replaced by a symlink hides what lower layers wrote under it;
/// files reached through a directory symlink are kept at their real path
/// (the spelling that holds no symlink), so one file is never listed twice.
#[test]
fn a_directory_replaced_by_a_symlink_hides_its_lower_contents() {
    let layers = vec![
        tar_of(&[
            Item::Dir("var/lib/dpkg/"),
            Item::File("var/lib/dpkg/status", b"old"),
        ]),
        tar_of(&[
            Item::Symlink("var/lib/dpkg", "../../want/dpkg"),
            Item::Dir("want/dpkg/"),
            Item::File("want/dpkg/status", b"new"),
        ]),
    ];
    let files = resolve_tars(&layers);
    assert!(files.get("/var/lib/dpkg/status").is_none());
    assert_eq!(
        versions(&files, "/want/dpkg/status"),
        owned(&[("l2", "new")])
    );
    // A regular file replacing a directory hides it the same way.
    let layers = vec![
        tar_of(&[Item::File("want/d/x", b"x"), Item::File("want/d/y", b"y")]),
        tar_of(&[Item::File("want/d", b"now a file")]),
    ];
    let files = resolve_tars(&layers);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/want/d"]);
}

/// The bug through [`collect`] on an OCI layout of gzip layers, with the
/// extract cache cold and warm.
#[test]
fn collect_shows_a_rewritten_target_through_the_link_cold_and_warm() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layers = vec![
        tar_of(&[
            Item::Symlink("etc/os-release", "../usr/lib/os-release"),
            Item::File("usr/lib/os-release", b"VERSION_ID=11"),
        ]),
        tar_of(&[Item::File("want/app", b"app")]),
        tar_of(&[Item::File("usr/lib/os-release", b"VERSION_ID=12")]),
    ];
    let LayoutImage {
        opened,
        options,
        layer_digests: digests,
    } = open_layout(temp.path(), &layers);
    for run in ["cold", "warm"] {
        let files =
            collect(&opened, &TestFilter, &options).unwrap_or_else(|e| panic!("{run}: {e}"));
        assert_eq!(
            versions(&files, "/etc/os-release"),
            owned(&[
                (&digests[0], "VERSION_ID=11"),
                (&digests[2], "VERSION_ID=12")
            ]),
            "{run}"
        );
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/etc/os-release", "/want/app"], "{run}");
    }
}
