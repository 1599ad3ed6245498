//! Container image references as Docker resolves them: `nginx` is
//! `docker.io/library/nginx:latest`.

use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port), `docker.io` when none is written.
    pub registry: String,
    /// Repository path in the registry (`library/nginx`).
    pub repository: String,
    /// The tag, if written.
    pub tag: Option<String>,
    /// The digest (`sha256:…`), if written.
    pub digest: Option<String>,
}

/// An image string that is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {0:?}")]
pub struct InvalidImage(pub String);

impl ImageRef {
    /// Parses and normalises a reference (Docker's rules: a first component
    /// with `.` or `:`, or `localhost`, is a registry; Docker Hub names
    /// without a namespace are in `library/`).
    pub fn parse(image: &str) -> Result<Self, InvalidImage> {
        let bad = || InvalidImage(image.to_owned());
        if image.is_empty()
            || image.len() > 4096
            || image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (image, None),
        };
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => {
                (&name_tag[..i], Some(name_tag[i + 1..].to_owned()))
            }
            _ => (name_tag, None),
        };
        if name.is_empty() || tag.as_deref() == Some("") || digest.as_deref() == Some("") {
            return Err(bad());
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            "docker.io".to_owned()
        } else {
            registry
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(bad());
        }
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the name allow-lists match.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the digest is a well-formed `sha256:<64 hex>` (or sha512).
    pub fn has_valid_digest(&self) -> bool {
        let Some(digest) = &self.digest else {
            return false;
        };
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return false;
        };
        let len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return false,
        };
        hex.len() == len
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Normalises an allow-list pattern the way references are normalised, so
/// that `nginx` or `library/*` mean Docker Hub as they do for `docker pull`.
pub fn normalize_pattern(pattern: &str) -> String {
    match pattern.split_once('/') {
        Some((first, _))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.contains(['*', '?', '[']) =>
        {
            pattern.to_owned()
        }
        Some(_) => format!("docker.io/{pattern}"),
        None if pattern.contains(['*', '?', '[']) => pattern.to_owned(),
        None => format!("docker.io/library/{pattern}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let nginx = ImageRef::parse("nginx").unwrap();
        assert_eq!(nginx.name(), "docker.io/library/nginx");
        assert_eq!(nginx.tag, None);
        let local = ImageRef::parse("localhost:5000/team/app:1.2@sha256:abc").unwrap();
        assert_eq!(
            (local.registry.as_str(), local.repository.as_str()),
            ("localhost:5000", "team/app")
        );
        assert_eq!(local.tag.as_deref(), Some("1.2"));
        assert!(!local.has_valid_digest());
        let pinned = ImageRef::parse(&format!("ghcr.io/a/b@sha256:{}", "0".repeat(64))).unwrap();
        assert!(pinned.has_valid_digest());
        assert_eq!(
            ImageRef::parse("user/app:2").unwrap().name(),
            "docker.io/user/app"
        );
        assert!(ImageRef::parse("bad image").is_err());
        assert!(ImageRef::parse("app:").is_err());
        assert_eq!(normalize_pattern("nginx"), "docker.io/library/nginx");
        assert_eq!(normalize_pattern("ghcr.io/example/*"), "ghcr.io/example/*");
        assert_eq!(normalize_pattern("bitnami/*"), "docker.io/bitnami/*");
    }
}
