//! A private CA and a serving certificate for the webhook Service, so a
//! cluster without cert-manager can run it (`portcullis admission certs`).

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// A DNS name is not valid in a certificate.
    #[error("invalid DNS name {name:?}: {detail}")]
    Name {
        /// The name given.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Key generation or signing failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// PEM texts of a CA and of a serving certificate it signed.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    /// The CA certificate (`caBundle` of the webhook configurations).
    pub ca_cert_pem: String,
    /// The serving certificate.
    pub tls_cert_pem: String,
    /// The serving certificate's private key (PKCS#8).
    pub tls_key_pem: String,
}

/// The DNS names a Service `name` in `namespace` is reached by.
pub fn service_dns_names(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_owned(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

/// Makes a CA (valid ten years) and a serving certificate (valid one year,
/// ECDSA P-256) for `dns_names` plus `localhost`, `127.0.0.1` and `::1`.
pub fn generate(dns_names: &[String]) -> Result<GeneratedCerts, CertsError> {
    let now = time::OffsetDateTime::now_utc();
    // Allow an hour of clock skew between this machine and the cluster.
    let not_before = now - time::Duration::hours(1);

    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "portcullis admission CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = now + time::Duration::days(3650);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names: Vec<String> = Vec::new();
    for name in dns_names
        .iter()
        .map(String::as_str)
        .chain(["localhost", "127.0.0.1", "::1"])
    {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    let mut sans = Vec::with_capacity(names.len());
    for name in &names {
        sans.push(match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                // rcgen accepts any ASCII; hold names to DNS syntax here.
                rustls_pki_types::DnsName::try_from(name.as_str()).map_err(|e| {
                    CertsError::Name {
                        name: name.clone(),
                        detail: e.to_string(),
                    }
                })?;
                SanType::DnsName(name.as_str().try_into().map_err(|e: rcgen::Error| {
                    CertsError::Name {
                        name: name.clone(),
                        detail: e.to_string(),
                    }
                })?)
            }
        });
    }
    let mut leaf_params = CertificateParams::default();
    leaf_params.subject_alt_names = sans;
    leaf_params.distinguished_name = DistinguishedName::new();
    leaf_params.distinguished_name.push(
        DnType::CommonName,
        names.first().map(String::as_str).unwrap_or("localhost"),
    );
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = not_before;
    leaf_params.not_after = now + time::Duration::days(365);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

    Ok(GeneratedCerts {
        ca_cert_pem: ca_cert.pem(),
        tls_cert_pem: leaf_cert.pem(),
        tls_key_pem: leaf_key.serialize_pem(),
    })
}

impl GeneratedCerts {
    /// Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`,
    /// creating it; each file is written to a temporary name and renamed so a
    /// running server never reads half a file.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, CertsError> {
        std::fs::create_dir_all(dir).map_err(|source| CertsError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        for (name, text, private) in [
            ("ca.crt", &self.ca_cert_pem, false),
            ("tls.crt", &self.tls_cert_pem, false),
            ("tls.key", &self.tls_key_pem, true),
        ] {
            let path = dir.join(name);
            write_atomically(&path, text.as_bytes(), private).map_err(|source| {
                CertsError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::certified_key;

    #[test]
    fn serving_certificate_matches_its_key_and_names_the_service() {
        let names = service_dns_names("portcullis-admission", "portcullis-system");
        let certs = generate(&names).expect("generated");
        certified_key(
            certs.tls_cert_pem.as_bytes(),
            certs.tls_key_pem.as_bytes(),
            Path::new("tls.crt"),
            Path::new("tls.key"),
        )
        .expect("key matches certificate");

        // The serving certificate verifies against the CA for every name.
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        let ca = rustls_pki_types::CertificateDer::from_pem_slice(certs.ca_cert_pem.as_bytes())
            .expect("ca pem");
        roots.add(ca).expect("ca added");
        let leaf = rustls_pki_types::CertificateDer::from_pem_slice(certs.tls_cert_pem.as_bytes())
            .expect("leaf pem");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        use rustls::client::danger::ServerCertVerifier;
        for name in names
            .iter()
            .map(String::as_str)
            .chain(["localhost", "127.0.0.1"])
        {
            let server_name =
                rustls_pki_types::ServerName::try_from(name.to_owned()).expect("name");
            verifier
                .verify_server_cert(
                    &leaf,
                    &[],
                    &server_name,
                    &[],
                    rustls_pki_types::UnixTime::now(),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = rustls_pki_types::ServerName::try_from("evil.example").expect("name");
        assert!(
            verifier
                .verify_server_cert(&leaf, &[], &other, &[], rustls_pki_types::UnixTime::now())
                .is_err()
        );
    }

    #[test]
    fn invalid_dns_name_is_named() {
        let err = generate(&["bad name\u{0}".to_owned()]).expect_err("refused");
        assert!(err.to_string().contains("bad name"), "{err}");
    }

    #[test]
    fn writes_three_files_with_a_private_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = generate(&[]).expect("generated");
        let written = certs.write_to(&dir.path().join("out")).expect("written");
        assert_eq!(written.len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("out/tls.key"))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
