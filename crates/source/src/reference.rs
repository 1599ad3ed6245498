//! Image references as skopeo and syft write them.

use std::fmt;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::error::SourceError;

/// Docker Hub's canonical registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's distribution API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]`: an OCI image layout directory; the tag selects a
    /// manifest by its `org.opencontainers.image.ref.name` annotation.
    OciLayout {
        /// The layout directory (holds `index.json` and `blobs/`).
        dir: PathBuf,
        /// The tag, when given.
        tag: Option<String>,
    },
    /// `docker-archive:TAR[:REF]`: a tarball written by `docker save` or
    /// `skopeo copy … docker-archive:`.
    DockerArchive {
        /// The archive file.
        path: PathBuf,
        /// A `RepoTags` entry selecting one image of a multi-image archive.
        tag: Option<String>,
    },
    /// `rootfs:DIR`: an unpacked root filesystem.
    Rootfs {
        /// The root directory.
        dir: PathBuf,
    },
    /// A registry reference such as `debian:12` or `ghcr.io/o/r@sha256:…`.
    Registry(RegistryRef),
}

/// A normalised registry reference (`docker.io/library/debian:12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// Registry host, with port if given (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path (`library/debian`).
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Manifest digest pinned with `@sha256:…`.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// Parses a registry reference (`HOST/REPO[:TAG|@DIGEST]`, Docker's
    /// defaults as in [`ImageRef::parse`]); a local transport (`oci:`,
    /// `docker-archive:`, `rootfs:`) is refused.
    pub fn parse(input: &str) -> Result<RegistryRef, SourceError> {
        match ImageRef::parse(input)? {
            ImageRef::Registry(reference) => Ok(reference),
            _ => Err(SourceError::InvalidReference {
                input: input.to_owned(),
                reason: "a local image, not a registry reference (HOST/REPOSITORY[:TAG])".into(),
            }),
        }
    }

    /// The reference the manifest is fetched by: the digest when pinned,
    /// otherwise the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The host serving the distribution API (`registry-1.docker.io` for
    /// Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::OciLayout {
                dir,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", dir.display()),
            ImageRef::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            ImageRef::DockerArchive {
                path,
                tag: Some(tag),
            } => {
                write!(f, "docker-archive:{}:{tag}", path.display())
            }
            ImageRef::DockerArchive { path, tag: None } => {
                write!(f, "docker-archive:{}", path.display())
            }
            ImageRef::Rootfs { dir } => write!(f, "rootfs:{}", dir.display()),
            ImageRef::Registry(reference) => reference.fmt(f),
        }
    }
}

impl ImageRef {
    /// Parses an image reference.
    ///
    /// Transport prefixes follow skopeo: the path ends at the first `:` after
    /// the prefix (`oci:/layout:debian12-full`). `docker://` and `registry:`
    /// prefixes are accepted for registry references, which get Docker's
    /// defaults: a first component without `.` or `:` and other than
    /// `localhost` is not a host (`debian:12` → `docker.io/library/debian:12`),
    /// and a reference without tag or digest means `:latest`.
    pub fn parse(input: &str) -> Result<ImageRef, SourceError> {
        let invalid = |reason: &str| SourceError::InvalidReference {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = input.strip_prefix("oci:") {
            let (dir, tag) = split_path_and_tag(rest);
            if dir.is_empty() {
                return Err(invalid("`oci:` needs a directory"));
            }
            return Ok(ImageRef::OciLayout {
                dir: dir.into(),
                tag,
            });
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            let (path, tag) = split_path_and_tag(rest);
            if path.is_empty() {
                return Err(invalid("`docker-archive:` needs a file"));
            }
            return Ok(ImageRef::DockerArchive {
                path: path.into(),
                tag,
            });
        }
        if let Some(rest) = input
            .strip_prefix("rootfs:")
            .or_else(|| input.strip_prefix("dir:"))
        {
            if rest.is_empty() {
                return Err(invalid("`rootfs:` needs a directory"));
            }
            return Ok(ImageRef::Rootfs { dir: rest.into() });
        }
        let name = input
            .strip_prefix("docker://")
            .or_else(|| input.strip_prefix("registry:"))
            .unwrap_or(input);
        parse_registry(name)
            .map(ImageRef::Registry)
            .map_err(|reason| invalid(&reason))
    }
}

/// skopeo's split: everything up to the first `:` is the path.
fn split_path_and_tag(rest: &str) -> (&str, Option<String>) {
    match rest.split_once(':') {
        Some((path, tag)) if !tag.is_empty() => (path, Some(tag.to_owned())),
        Some((path, _)) => (path, None),
        None => (rest, None),
    }
}

fn parse_registry(name: &str) -> Result<RegistryRef, String> {
    if name.is_empty() {
        return Err("empty image reference".into());
    }
    if name.len() > 4096 {
        return Err("image reference longer than 4096 characters".into());
    }
    let (name, digest) = match name.split_once('@') {
        Some((name, digest)) => {
            let digest = Digest::parse(digest).map_err(|e| format!("digest: {e}"))?;
            (name, Some(digest))
        }
        None => (name, None),
    };
    // A tag is a `:` after the last `/`; a `:` before it is a host's port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name[..at], Some(name[at + 1..].to_owned()))
        }
        None => (name, None),
    };
    if let Some(tag) = &tag {
        validate_tag(tag)?;
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    let registry = if registry == "index.docker.io" {
        DOCKER_HUB.to_owned()
    } else {
        registry
    };
    validate_host(&registry)?;
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    validate_repository(&repository)?;
    let tag = match (&tag, &digest) {
        (None, None) => Some("latest".to_owned()),
        _ => tag,
    };
    Ok(RegistryRef {
        registry,
        repository,
        tag,
        digest,
    })
}

pub(crate) fn validate_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || tag.len() > 128 {
        return Err(format!("invalid tag {tag:?}"));
    }
    Ok(())
}

fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    if !name_ok || !port_ok {
        return Err(format!("invalid registry host {host:?}"));
    }
    Ok(())
}

/// Docker's repository grammar: lowercase components separated by `/`, each
/// alphanumerics joined by `.`, `_`, `__` or runs of `-`.
fn validate_repository(repository: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return false;
        };
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(first) || !alnum(last) {
            return false;
        }
        let mut separator = String::new();
        for &b in bytes {
            if alnum(&b) {
                let ok = separator.is_empty()
                    || separator == "."
                    || separator == "_"
                    || separator == "__"
                    || separator.bytes().all(|s| s == b'-');
                if !ok {
                    return false;
                }
                separator.clear();
            } else if matches!(b, b'.' | b'_' | b'-') {
                separator.push(char::from(b));
            } else {
                return false;
            }
        }
        true
    };
    if repository.len() > 255 || !repository.split('/').all(component_ok) {
        return Err(format!("invalid repository name {repository:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(input: &str) -> RegistryRef {
        match ImageRef::parse(input) {
            Ok(ImageRef::Registry(r)) => r,
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn docker_defaults() {
        let r = registry("debian:12");
        assert_eq!(r.to_string(), "docker.io/library/debian:12");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(
            registry("debian").to_string(),
            "docker.io/library/debian:latest"
        );
        assert_eq!(
            registry("bitnami/redis").to_string(),
            "docker.io/bitnami/redis:latest"
        );
        assert_eq!(
            registry("index.docker.io/foo/bar:1").to_string(),
            "docker.io/foo/bar:1"
        );
        assert_eq!(
            registry("docker.io/alpine").to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            registry("docker://alpine:3.20").to_string(),
            "docker.io/library/alpine:3.20"
        );
    }

    #[test]
    fn host_detection() {
        let r = registry("localhost:5000/x");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "x")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = registry("localhost/x:1");
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("localhost", Some("1"))
        );
        let r = registry("127.0.0.1:5443/test/debian12-min:latest");
        assert_eq!(r.registry, "127.0.0.1:5443");
        assert_eq!(r.repository, "test/debian12-min");
        let r = registry("ghcr.io/owner/repo/sub:v1.2");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("ghcr.io", "owner/repo/sub")
        );
        // No dot, colon or localhost: a Docker Hub namespace, not a host.
        let r = registry("myhost/repo");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "myhost/repo")
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
    }

    #[test]
    fn digests() {
        let hex = "a".repeat(64);
        let r = registry(&format!("quay.io/o/r@sha256:{hex}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
        let r = registry(&format!("r:1@sha256:{hex}"));
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
        assert_eq!(r.to_string(), format!("docker.io/library/r:1@sha256:{hex}"));
        assert!(ImageRef::parse("r@sha256:abc").is_err());
        assert!(ImageRef::parse(&format!("r@md5:{hex}")).is_err());
    }

    #[test]
    fn transports() {
        assert_eq!(
            ImageRef::parse("oci:/work/oci:debian12-full").ok(),
            Some(ImageRef::OciLayout {
                dir: "/work/oci".into(),
                tag: Some("debian12-full".into())
            })
        );
        assert_eq!(
            ImageRef::parse("oci:layout").ok(),
            Some(ImageRef::OciLayout {
                dir: "layout".into(),
                tag: None
            })
        );
        assert_eq!(
            ImageRef::parse("docker-archive:/tmp/x.tar").ok(),
            Some(ImageRef::DockerArchive {
                path: "/tmp/x.tar".into(),
                tag: None
            })
        );
        assert_eq!(
            ImageRef::parse("rootfs:/srv/root").ok(),
            Some(ImageRef::Rootfs {
                dir: "/srv/root".into()
            })
        );
        let display = ImageRef::parse("oci:/a:b").map(|r| r.to_string()).ok();
        assert_eq!(display.as_deref(), Some("oci:/a:b"));
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "oci:",
            "docker-archive:",
            "rootfs:",
            "Debian:12",
            "debian:",
            "debian:-x",
            "debian:a b",
            "a//b",
            "-a/b",
            "a/b-",
            "a..b",
            "host:99999/x",
            "host:port/x",
            "white space",
            "a/b@",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["a__b", "a---b", "a.b_c-d/e", "x/y/z:TAG_1.0-rc"] {
            assert!(ImageRef::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }
}
