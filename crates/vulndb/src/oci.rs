//! `db push` / `db pull`: the database as an OCI artifact, so a cluster or an
//! air-gapped site serves it from its own registry.
//!
//! Only the artifact format lives here: an OCI image manifest with
//! `artifactType` [`ARTIFACT_TYPE`], the empty config, and one layer of
//! [`LAYER_MEDIA_TYPE`] holding the database file. Talking to the registry
//! (authentication, Docker config credentials, CA file, `insecure`, digest
//! verification) is the source stage's [`RepositoryClient`]. A pulled
//! database must open before it atomically replaces the local one.

use std::collections::BTreeMap;
use std::path::Path;

use portcullis_source::{
    Access, Digest, PushedBlob, RegistryRef, RepositoryClient, SourceError, SourceOptions,
};
use serde::{Deserialize, Serialize};

use crate::db::{self, Database, DbError};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.portcullis.vulndb.v1";
/// The media type of the layer holding the database file.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.portcullis.vulndb.layer.v1";
/// The OCI empty descriptor's content and media type, the artifact's config.
const EMPTY_CONFIG: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The file name the layer is annotated with (what `oras pull` writes).
const LAYER_TITLE: &str = "vulndb.bin";
/// Largest database accepted from a registry.
const MAX_DATABASE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Why a push or pull failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The registry, the connection or the reference failed (the error names
    /// the reference, and the URL or registry involved).
    #[error(transparent)]
    Registry(#[from] SourceError),
    /// A push needs a tag to store the manifest under.
    #[error("{reference}: a push needs a tag (HOST/REPOSITORY:TAG), not a digest")]
    NeedsTag {
        /// The reference as given.
        reference: String,
    },
    /// The artifact is not a Portcullis vulnerability database.
    #[error(
        "{reference}: the artifact holds no portcullis vulnerability database layer ({reason})"
    )]
    NotADatabase {
        /// The reference pulled.
        reference: String,
        /// What was found instead.
        reason: String,
    },
    /// The local database (pushed) or the pulled one is unusable, or the
    /// pulled one cannot be written.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The manifest could not be encoded.
    #[error("{reference}: encoding the artifact manifest: {source}")]
    Manifest {
        /// The reference being pushed.
        reference: String,
        /// The underlying failure.
        source: serde_json::Error,
    },
}

/// What [`push`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest's digest (`REFERENCE@DIGEST` pins this database).
    pub manifest: Digest,
    /// The database blob (`uploaded` is false when the registry had it).
    pub database: PushedBlob,
}

/// An OCI image manifest as this artifact uses it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn of(media_type: &str, blob: &PushedBlob) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: blob.digest.to_string(),
            size: blob.size,
            annotations: BTreeMap::new(),
        }
    }
}

/// The manifest of a database artifact whose config and layer are pushed.
fn build_manifest(config: &PushedBlob, database: &PushedBlob, built: &str) -> ArtifactManifest {
    let mut layer = Descriptor::of(LAYER_MEDIA_TYPE, database);
    layer
        .annotations
        .insert("org.opencontainers.image.title".into(), LAYER_TITLE.into());
    ArtifactManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: Descriptor::of(EMPTY_MEDIA_TYPE, config),
        layers: vec![layer],
        annotations: BTreeMap::from([(
            "org.opencontainers.image.created".to_owned(),
            built.to_owned(),
        )]),
    }
}

/// The database layer's digest and size, or why the document is not a
/// database artifact.
fn database_layer(media_type: Option<&str>, bytes: &[u8]) -> Result<(Digest, u64), String> {
    if let Some(media_type) = media_type
        && media_type != MANIFEST_MEDIA_TYPE
        && media_type != "application/json"
    {
        return Err(format!("a {media_type} document"));
    }
    let manifest: ArtifactManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OCI image manifest: {e}"))?;
    if let Some(other) = manifest
        .artifact_type
        .as_deref()
        .filter(|t| *t != ARTIFACT_TYPE)
    {
        return Err(format!("artifact type {other:?}"));
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == LAYER_MEDIA_TYPE)
        .ok_or_else(|| {
            let types: Vec<&str> = manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            format!("layers: {}", types.join(", "))
        })?;
    let digest = Digest::parse(&layer.digest)?;
    if layer.size > MAX_DATABASE_BYTES {
        return Err(format!(
            "a {}-byte layer, over the {MAX_DATABASE_BYTES}-byte limit",
            layer.size
        ));
    }
    Ok((digest, layer.size))
}

/// Pushes the database file at `path` as `reference` (`HOST/REPO:TAG`). Only
/// a database that opens is pushed; blobs the registry already holds are not
/// sent again.
pub fn push(path: &Path, reference: &str, options: &SourceOptions) -> Result<Pushed, OciError> {
    let target = RegistryRef::parse(reference)?;
    let tag = match (&target.tag, &target.digest) {
        (Some(tag), None) => tag.clone(),
        _ => {
            return Err(OciError::NeedsTag {
                reference: reference.to_owned(),
            });
        }
    };
    let db = Database::open(path)?;
    let client = RepositoryClient::connect(&target, options, Access::Push)?;
    let config = client.push_blob(EMPTY_CONFIG)?;
    let database = client.push_blob(db.bytes())?;
    let manifest = build_manifest(&config, &database, &db.metadata().built);
    let bytes = serde_json::to_vec(&manifest).map_err(|source| OciError::Manifest {
        reference: reference.to_owned(),
        source,
    })?;
    let manifest = client.put_manifest(&tag, MANIFEST_MEDIA_TYPE, &bytes)?;
    Ok(Pushed { manifest, database })
}

/// Pulls `reference` (a tag or `@sha256:` digest) and atomically replaces the
/// database at `path`, after checking the blob against its digest and that it
/// opens as a database; on any failure the local database is unchanged.
pub fn pull(
    reference: &str,
    path: &Path,
    options: &SourceOptions,
) -> Result<db::Metadata, OciError> {
    let target = RegistryRef::parse(reference)?;
    let client = RepositoryClient::connect(&target, options, Access::Pull)?;
    let manifest = client.get_manifest(&target.manifest_reference(), &[MANIFEST_MEDIA_TYPE])?;
    let (digest, size) =
        database_layer(manifest.media_type.as_deref(), &manifest.bytes).map_err(|reason| {
            OciError::NotADatabase {
                reference: reference.to_owned(),
                reason,
            }
        })?;
    // Not reserved from the descriptor's size: a hostile manifest must not
    // buy a large allocation before a single byte arrives.
    let mut bytes = Vec::new();
    client.fetch_blob_to(&digest, Some(size), MAX_DATABASE_BYTES, &mut bytes)?;
    let db = Database::from_bytes(path, bytes)?;
    db::write_atomically(path, db.bytes())?;
    Ok(db.metadata().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(bytes: &[u8]) -> PushedBlob {
        PushedBlob {
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            uploaded: true,
        }
    }

    #[test]
    fn a_built_manifest_reads_back_as_a_database_artifact() {
        let database = blob(b"PCVULNDB pretend database");
        let manifest = build_manifest(&blob(EMPTY_CONFIG), &database, "2026-11-29T00:00:00Z");
        let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(value["artifactType"], ARTIFACT_TYPE);
        assert_eq!(value["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(value["config"]["size"], 2);
        assert_eq!(
            value["layers"][0]["annotations"]["org.opencontainers.image.title"],
            LAYER_TITLE
        );
        assert_eq!(
            database_layer(Some(MANIFEST_MEDIA_TYPE), &bytes),
            Ok((database.digest, database.size))
        );
    }

    #[test]
    fn other_documents_are_not_databases() {
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}]}"#;
        let reason = database_layer(Some(MANIFEST_MEDIA_TYPE), image).err();
        assert_eq!(
            reason.as_deref(),
            Some("layers: application/vnd.oci.image.layer.v1.tar+gzip")
        );
        let index = database_layer(
            Some("application/vnd.oci.image.index.v1+json"),
            br#"{"manifests":[]}"#,
        );
        assert!(index.is_err_and(|r| r.contains("index")));
        assert!(database_layer(None, b"<html>").is_err());
        // A hostile digest never reaches a URL.
        let evil = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"sha256:00","size":2}},
            "layers":[{{"mediaType":"{LAYER_MEDIA_TYPE}","digest":"sha256:../../etc/passwd","size":2}}]}}"#
        );
        assert!(database_layer(None, evil.as_bytes()).is_err_and(|r| r.contains("sha256")));
        let huge = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"sha256:00","size":2}},
            "layers":[{{"mediaType":"{LAYER_MEDIA_TYPE}","digest":"sha256:{}","size":{}}}]}}"#,
            "0".repeat(64),
            MAX_DATABASE_BYTES + 1
        );
        assert!(database_layer(None, huge.as_bytes()).is_err_and(|r| r.contains("limit")));
    }
}
