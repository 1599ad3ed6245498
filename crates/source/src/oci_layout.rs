//! OCI image layout directories (`oci:DIR[:TAG]`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::SourceError;
use crate::model::{self, MAX_METADATA_BYTES, Parsed, Platform, invalid};
use crate::resolve::{self, verify_small};
use crate::{BlobStore, Image};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Path of a blob inside a layout; the digest's hex is validated, so the path
/// cannot leave `blobs/sha256`.
pub(crate) fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// Reads at most `limit` bytes of a file; more is an error.
pub(crate) fn read_bounded(
    image: &str,
    path: &Path,
    what: &str,
    limit: u64,
) -> Result<Vec<u8>, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        image: image.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SourceError::Io {
            image: image.to_owned(),
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            image: image.to_owned(),
            what: what.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

pub(crate) fn open(
    image: &str,
    dir: &Path,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<Image, SourceError> {
    let index_path = dir.join("index.json");
    let index = read_bounded(image, &index_path, "index.json", MAX_METADATA_BYTES)?;
    let Parsed::Index(manifests) =
        model::parse_manifest(image, "index.json", &index, Some(model::OCI_INDEX))?
    else {
        return Err(invalid(image, "index.json", "not an image index"));
    };
    let tag_of = |d: &model::DescriptorJson| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let available: Vec<String> = manifests.iter().filter_map(tag_of).collect();
    let chosen = match tag {
        Some(tag) => manifests
            .iter()
            .find(|d| tag_of(d).as_deref() == Some(tag))
            .ok_or_else(|| SourceError::NotFound {
                image: image.to_owned(),
                what: format!("tag {tag:?}"),
                available: available.clone(),
            })?,
        None => match manifests.as_slice() {
            [only] => only,
            [] => {
                return Err(SourceError::NotFound {
                    image: image.to_owned(),
                    what: "any manifest in index.json".into(),
                    available,
                });
            }
            _ => {
                return Err(SourceError::NotFound {
                    image: image.to_owned(),
                    what: "a tag (the layout holds several images; write oci:DIR:TAG)".into(),
                    available,
                });
            }
        },
    };
    let (digest, size) = model::descriptor_target(image, "index.json", chosen)?;
    let fetch = |digest: &Digest, size: Option<u64>, _kind| -> Result<Vec<u8>, SourceError> {
        let what = format!("blob {digest}");
        let bytes = read_bounded(image, &blob_path(dir, digest), &what, MAX_METADATA_BYTES)?;
        verify_small(image, digest, size, &bytes)?;
        Ok(bytes)
    };
    let bytes = fetch(&digest, Some(size), resolve::MetadataKind::Manifest)?;
    let declared = Some(chosen.media_type.clone()).filter(|m| !m.is_empty());
    let resolved = resolve::resolve(image, digest, bytes, declared, platform, &fetch)?;
    Ok(Image::new(
        image,
        resolved,
        BlobStore::Layout(dir.to_owned()),
    ))
}
