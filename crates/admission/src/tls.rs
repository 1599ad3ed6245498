//! Serving certificate: loaded from PEM files, swapped in place when the files
//! change (cert-manager and Secret volume updates), never dropped on a bad file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no usable PEM certificate.
    #[error("{path}: no PEM certificate found ({detail})")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        detail: String,
    },
    /// The file holds no usable PEM private key.
    #[error("{path}: no usable PEM private key ({detail})")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Key and certificate do not belong together.
    #[error("{key} does not match the certificate in {cert}: {detail}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The certificate and key file pair, with the bytes last loaded.
#[derive(Debug)]
pub struct CertificateFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    loaded: (Vec<u8>, Vec<u8>),
}

/// Parses a PEM chain and key into a rustls signing key, checking they match.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert_path.to_owned(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert_path.to_owned(),
            detail: "the file has no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
        path: key_path.to_owned(),
        detail: e.to_string(),
    })?;
    let signing_key = any_supported_type(&key).map_err(|e| TlsError::Key {
        path: key_path.to_owned(),
        detail: e.to_string(),
    })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(certified)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    // Certificates are small; a huge file is a mistake, not something to load.
    const LIMIT: u64 = 1 << 20;
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

impl CertificateFiles {
    /// Loads the pair once; fails when either file is unusable.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<(Self, CertifiedKey), TlsError> {
        let cert = read(cert_path)?;
        let key = read(key_path)?;
        let certified = certified_key(&cert, &key, cert_path, key_path)?;
        Ok((
            Self {
                cert_path: cert_path.to_owned(),
                key_path: key_path.to_owned(),
                loaded: (cert, key),
            },
            certified,
        ))
    }

    /// Re-reads the files; returns a new key only when their bytes changed and
    /// they form a valid pair. Comparing bytes, not modification times, also
    /// catches Secret volume updates, which swap a symlink.
    pub fn reload_if_changed(&mut self) -> Result<Option<CertifiedKey>, TlsError> {
        let cert = read(&self.cert_path)?;
        let key = read(&self.key_path)?;
        if (cert.as_slice(), key.as_slice()) == (self.loaded.0.as_slice(), self.loaded.1.as_slice())
        {
            return Ok(None);
        }
        let certified = certified_key(&cert, &key, &self.cert_path, &self.key_path)?;
        self.loaded = (cert, key);
        Ok(Some(certified))
    }
}

/// A certificate resolver whose key can be replaced while connections are served.
#[derive(Debug)]
pub struct ReloadingResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingResolver {
    /// Starts with the given key.
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// Serves `key` to every new handshake from now on.
    pub fn replace(&self, key: CertifiedKey) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(key);
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(Arc::clone(&current))
    }
}

/// A rustls server configuration (ring provider, TLS 1.2 and 1.3, h2 and
/// http/1.1 by ALPN) that takes its certificate from `resolver`.
pub fn server_config(resolver: Arc<ReloadingResolver>) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
