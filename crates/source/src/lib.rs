//! Source: where an image comes from.
//!
//! First stage of the pipeline (**source** → layers → inventory → …). An
//! [`ImageRef`] (`oci:DIR[:TAG]`, `docker-archive:TAR`, `rootfs:DIR` or a
//! registry reference) is [`open`]ed into an [`Opened`]: either an [`Image`]
//! — the one platform's manifest and config, resolved through indexes, with
//! its layer descriptors — or a root filesystem directory.
//!
//! Every byte is treated as hostile: manifests and configs are size-bounded
//! and verified against their digests before they are parsed, and each layer
//! blob is read through a [`VerifiedReader`] that fails at EOF (or as soon as
//! the declared size is exceeded) when the blob is not the one promised.
//! Registry blobs are verified into a cache directory keyed by digest and
//! shared between images; nothing is written anywhere else.
//!
//! The registry protocol lives here and only here: [`RepositoryClient`] (auth
//! challenges, Docker config credentials, CA file and `insecure`, manifests
//! and blobs both ways) serves the image puller and any later stage that keeps
//! an artifact in a registry, such as the vulnerability database.

mod auth;
mod cache;
mod digest;
mod docker_archive;
mod error;
mod model;
mod oci_layout;
pub mod parse;
mod pull;
mod reference;
mod registry;
mod resolve;
mod tls;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use auth::Credentials;
pub use cache::default_cache_dir;
pub use digest::{Digest, VerifiedReader};
pub use error::{BlobError, ErrorKind, SourceError};
pub use model::{Compression, ImageConfig, LayerDescriptor, MAX_METADATA_BYTES, Platform};
pub use reference::{ImageRef, RegistryRef};
pub use registry::{Access, FetchedManifest, PushedBlob, RepositoryClient};

/// Receives progress of blob downloads (the binary draws bars with it).
pub trait Progress: Send + Sync {
    /// A download of `blob` (of `total` bytes, when known) starts.
    fn started(&self, image: &str, blob: &Digest, total: Option<u64>);
    /// `bytes` more bytes of `blob` arrived.
    fn advanced(&self, blob: &Digest, bytes: u64);
    /// The download of `blob` ended (successfully or not).
    fn finished(&self, blob: &Digest);
}

/// How to open images.
#[derive(Clone, Default)]
pub struct SourceOptions {
    /// Blob cache directory; [`default_cache_dir`] when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Platform chosen from indexes / manifest lists; [`Platform::host`] when `None`.
    pub platform: Option<Platform>,
    /// Accept a registry certificate that does not verify, or plain HTTP
    /// when the registry speaks no TLS (as Docker's insecure registries);
    /// never chosen silently.
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM), in addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// Registry credentials; when `None`, looked up in the Docker config.
    pub credentials: Option<Credentials>,
    /// Docker config file to read credentials from, instead of
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    /// Download progress receiver.
    pub progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for SourceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceOptions")
            .field("cache_dir", &self.cache_dir)
            .field("platform", &self.platform)
            .field("insecure", &self.insecure)
            .field("ca_file", &self.ca_file)
            .field("credentials", &self.credentials)
            .field("docker_config", &self.docker_config)
            .finish_non_exhaustive()
    }
}

/// An opened image source.
#[derive(Debug)]
pub enum Opened {
    /// An image made of layers.
    Image(Box<Image>),
    /// An unpacked root filesystem.
    Rootfs(Rootfs),
}

impl Opened {
    /// The image's name as the user wrote it (normalised), for messages.
    pub fn name(&self) -> &str {
        match self {
            Opened::Image(image) => &image.name,
            Opened::Rootfs(rootfs) => &rootfs.name,
        }
    }
}

/// An unpacked root filesystem (`rootfs:DIR`).
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The reference, for messages.
    pub name: String,
    /// The root directory.
    pub dir: PathBuf,
}

/// A layer stream: the raw (possibly compressed) blob, verified as it is read.
pub type LayerReader = VerifiedReader<Box<dyn Read + Send>>;

/// Where an image's layer blobs are read from.
#[derive(Debug)]
enum BlobStore {
    /// `DIR/blobs/sha256/<hex>` of an OCI layout.
    Layout(PathBuf),
    /// Members of a docker archive, read in place.
    Archive {
        path: PathBuf,
        locations: HashMap<Digest, docker_archive::ArchiveEntry>,
    },
    /// A registry, through the blob cache.
    Registry(Box<pull::RegistryImage>),
}

/// One platform's image: manifest, config and layers.
#[derive(Debug)]
pub struct Image {
    /// The reference, normalised, for messages (`oci:/x:debian12-full`).
    pub name: String,
    /// Digest of the chosen platform's manifest (`None` for docker archives,
    /// which have none): what was read and scanned.
    pub manifest_digest: Option<Digest>,
    /// Digest of the document the reference names: the index (manifest list)
    /// when the tag or digest names a multi-platform image, else the same as
    /// `manifest_digest`. Pinning a tag to this digest keeps every platform
    /// pulling its own image.
    pub reference_digest: Option<Digest>,
    /// The image's platform, from its config.
    pub platform: Platform,
    /// The config.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<LayerDescriptor>,
    store: BlobStore,
}

impl Image {
    fn new(name: &str, resolved: resolve::Resolved, store: BlobStore) -> Image {
        let platform = Platform {
            os: resolved.config.os.clone(),
            architecture: resolved.config.architecture.clone(),
            variant: resolved.config.variant.clone(),
        };
        Image {
            name: name.to_owned(),
            manifest_digest: resolved.manifest_digest,
            reference_digest: resolved.reference_digest,
            platform,
            config: resolved.config,
            layers: resolved.layers,
            store,
        }
    }

    /// Opens a layer blob as a verified stream. For a registry image this
    /// downloads the blob into the cache first, unless it is already there.
    pub fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerReader, SourceError> {
        let io_err = |path: &Path, source| SourceError::Io {
            image: self.name.clone(),
            path: path.to_owned(),
            source,
        };
        let (reader, size): (Box<dyn Read + Send>, Option<u64>) = match &self.store {
            BlobStore::Layout(dir) => {
                let path = oci_layout::blob_path(dir, &layer.digest);
                (
                    Box::new(File::open(&path).map_err(|e| io_err(&path, e))?),
                    layer.size,
                )
            }
            BlobStore::Archive { path, locations } => {
                let entry = locations
                    .get(&layer.digest)
                    .ok_or_else(|| SourceError::NotFound {
                        image: self.name.clone(),
                        what: format!("layer {}", layer.digest),
                        available: Vec::new(),
                    })?;
                let mut file = File::open(path).map_err(|e| io_err(path, e))?;
                file.seek(SeekFrom::Start(entry.offset))
                    .map_err(|e| io_err(path, e))?;
                (Box::new(file.take(entry.size)), Some(entry.size))
            }
            BlobStore::Registry(client) => {
                let path = client.layer_path(&layer.digest, layer.size)?;
                (
                    Box::new(File::open(&path).map_err(|e| io_err(&path, e))?),
                    layer.size,
                )
            }
        };
        Ok(VerifiedReader::new(
            reader,
            &self.name,
            layer.digest.clone(),
            size,
        ))
    }

    /// Whether reading `layer` needs no network (local sources, or a registry
    /// blob already in the cache).
    pub fn is_local(&self, layer: &LayerDescriptor) -> bool {
        match &self.store {
            BlobStore::Registry(client) => client.is_cached(&layer.digest),
            _ => true,
        }
    }
}

/// Opens an image source: reads and verifies its metadata; layer blobs are
/// read later, with [`Image::open_layer`].
pub fn open(reference: &ImageRef, options: &SourceOptions) -> Result<Opened, SourceError> {
    let name = reference.to_string();
    let platform = options.platform.clone().unwrap_or_else(Platform::host);
    match reference {
        ImageRef::OciLayout { dir, tag } => oci_layout::open(&name, dir, tag.as_deref(), &platform)
            .map(|image| Opened::Image(Box::new(image))),
        ImageRef::DockerArchive { path, tag } => docker_archive::open(&name, path, tag.as_deref())
            .map(|image| Opened::Image(Box::new(image))),
        ImageRef::Rootfs { dir } => {
            let metadata = std::fs::metadata(dir).map_err(|source| SourceError::Io {
                image: name.clone(),
                path: dir.clone(),
                source,
            })?;
            if !metadata.is_dir() {
                return Err(SourceError::Io {
                    image: name.clone(),
                    path: dir.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "not a directory",
                    ),
                });
            }
            Ok(Opened::Rootfs(Rootfs {
                name,
                dir: dir.clone(),
            }))
        }
        ImageRef::Registry(registry_ref) => {
            let cache_dir = options
                .cache_dir
                .clone()
                .or_else(default_cache_dir)
                .ok_or_else(|| SourceError::Config {
                    what: "cache directory".into(),
                    reason: "neither XDG_CACHE_HOME nor HOME is set; pass a cache directory".into(),
                })?;
            let client = pull::RegistryImage::new(registry_ref, options, cache_dir)?;
            let resolved = client.resolve(&platform)?;
            let store = BlobStore::Registry(Box::new(client));
            Ok(Opened::Image(Box::new(Image::new(&name, resolved, store))))
        }
    }
}
