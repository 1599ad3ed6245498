//! Operating-system detection: `/etc/os-release` (or `/usr/lib/os-release`),
//! then the older release files as fallbacks.

use crate::Distro;
use portcullis_layers::FileSet;

/// The os-release files, in the order systemd reads them.
pub(crate) const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];
/// Release files older than os-release, read only when it is missing.
pub(crate) const FALLBACK_PATHS: [&str; 5] = [
    "/etc/debian_version",
    "/etc/alpine-release",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/system-release",
];

/// Largest release file read; real ones are a few hundred bytes.
const MAX_RELEASE_FILE: usize = 64 * 1024;

/// Detects the distribution of the image, or `None` when no release file
/// names one (a scratch or distroless image without os-release).
pub(crate) fn detect(files: &FileSet) -> Option<Distro> {
    for path in OS_RELEASE_PATHS {
        if let Some(distro) = files
            .get(path)
            .and_then(|f| parse_os_release(bounded(&f.data)))
        {
            return Some(distro);
        }
    }
    for path in FALLBACK_PATHS {
        let Some(file) = files.get(path) else {
            continue;
        };
        let text = String::from_utf8_lossy(bounded(&file.data));
        let distro = match path {
            "/etc/debian_version" => parse_debian_version(&text),
            "/etc/alpine-release" => parse_alpine_release(&text),
            _ => parse_redhat_release(&text),
        };
        if distro.is_some() {
            return distro;
        }
    }
    None
}

fn bounded(data: &[u8]) -> &[u8] {
    data.get(..MAX_RELEASE_FILE).unwrap_or(data)
}

/// Parses os-release(5): `KEY=value` lines, values optionally quoted with
/// shell-style escapes. Returns `None` without an `ID`.
pub fn parse_os_release(data: &[u8]) -> Option<Distro> {
    let text = String::from_utf8_lossy(data);
    let mut distro = Distro::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        let value = || Some(value.clone()).filter(|v| !v.is_empty());
        match key.trim() {
            "ID" => distro.id = value().unwrap_or_default().to_ascii_lowercase(),
            "VERSION_ID" => distro.version_id = value(),
            "VERSION_CODENAME" => distro.codename = value(),
            "PRETTY_NAME" => distro.pretty_name = value(),
            "ID_LIKE" => {
                distro.id_like = value()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect();
            }
            _ => {}
        }
    }
    (!distro.id.is_empty()).then_some(distro)
}

/// Removes one level of shell quoting: `"a \"b\""` → `a "b"`, `'x'` → `x`.
fn unquote(raw: &str) -> String {
    let bytes = raw.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(b'"'), Some(b'"')) if raw.len() >= 2 => {
            let inner = &raw[1..raw.len() - 1];
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        (Some(b'\''), Some(b'\'')) if raw.len() >= 2 => raw[1..raw.len() - 1].to_owned(),
        _ => raw.to_owned(),
    }
}

/// `/etc/debian_version` holds `12.4` on releases and `trixie/sid` on testing.
fn parse_debian_version(text: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    if line.is_empty() {
        return None;
    }
    let mut distro = Distro {
        id: "debian".into(),
        pretty_name: Some(format!("Debian {line}")),
        ..Distro::default()
    };
    let major = line.split('.').next().unwrap_or_default();
    if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
        // os-release's VERSION_ID for Debian is the major release only.
        distro.version_id = Some(major.to_owned());
    } else if let Some((codename, _)) = line.split_once('/') {
        distro.codename = Some(codename.to_owned());
    }
    Some(distro)
}

fn parse_alpine_release(text: &str) -> Option<Distro> {
    let version = text.lines().next()?.trim();
    (!version.is_empty()).then(|| Distro {
        id: "alpine".into(),
        version_id: Some(version.to_owned()),
        pretty_name: Some(format!("Alpine Linux v{version}")),
        ..Distro::default()
    })
}

/// `Rocky Linux release 9.3 (Blue Onyx)`, `Amazon Linux release 2 (Karoo)`, …
fn parse_redhat_release(text: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    let lower = line.to_ascii_lowercase();
    let (id, like): (&str, &[&str]) = if lower.starts_with("red hat") {
        ("rhel", &["fedora"])
    } else if lower.starts_with("centos") {
        ("centos", &["rhel", "fedora"])
    } else if lower.starts_with("rocky") {
        ("rocky", &["rhel", "centos", "fedora"])
    } else if lower.starts_with("almalinux") {
        ("almalinux", &["rhel", "centos", "fedora"])
    } else if lower.starts_with("fedora") {
        ("fedora", &[])
    } else if lower.starts_with("amazon linux") {
        ("amzn", &["centos", "rhel", "fedora"])
    } else if lower.starts_with("oracle linux") {
        ("ol", &["fedora"])
    } else {
        return None;
    };
    let version_id = line
        .split_whitespace()
        .skip_while(|word| !word.eq_ignore_ascii_case("release"))
        .nth(1)
        .map(str::to_owned);
    Some(Distro {
        id: id.into(),
        version_id,
        pretty_name: Some(line.to_owned()),
        id_like: like.iter().map(|s| (*s).to_owned()).collect(),
        ..Distro::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_fixtures::read;

    #[test]
    fn debian12_host_os_release() {
        let data = read("debian12-host/os-release");
        let distro = parse_os_release(&data).unwrap();
        assert_eq!(distro.id, "debian");
        assert_eq!(distro.version_id.as_deref(), Some("12"));
        assert_eq!(distro.codename.as_deref(), Some("bookworm"));
        assert_eq!(
            distro.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let version = String::from_utf8(read("debian12-host/debian_version")).unwrap();
        let fallback = parse_debian_version(&version).unwrap();
        assert_eq!(
            (fallback.id.as_str(), fallback.version_id.as_deref()),
            ("debian", Some("12"))
        );
    }

    #[test]
    fn syft_image_dpkg_os_release() {
        let data = read("syft/debian/image-dpkg/etc/os-release");
        let distro = parse_os_release(&data).unwrap();
        assert_eq!(distro.id, "debian");
        assert!(distro.version_id.is_some());
    }

    #[test]
    fn quoting_and_id_like() {
        let distro = parse_os_release(
            b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID='9.3'\n# c\nPRETTY_NAME=\"a \\\"b\\\"\"\n",
        )
        .unwrap();
        assert_eq!(distro.id, "rocky");
        assert_eq!(distro.id_like, ["rhel", "centos", "fedora"]);
        assert_eq!(distro.version_id.as_deref(), Some("9.3"));
        assert_eq!(distro.pretty_name.as_deref(), Some("a \"b\""));
        assert_eq!(parse_os_release(b"NAME=x\n"), None);
    }

    #[test]
    fn release_file_fallbacks() {
        let rocky = parse_redhat_release("Rocky Linux release 9.3 (Blue Onyx)\n").unwrap();
        assert_eq!(
            (rocky.id.as_str(), rocky.version_id.as_deref()),
            ("rocky", Some("9.3"))
        );
        let centos = parse_redhat_release("CentOS Linux release 7.9.2009 (Core)").unwrap();
        assert_eq!(
            (centos.id.as_str(), centos.version_id.as_deref()),
            ("centos", Some("7.9.2009"))
        );
        let amzn = parse_redhat_release("Amazon Linux release 2 (Karoo)").unwrap();
        assert_eq!(
            (amzn.id.as_str(), amzn.version_id.as_deref()),
            ("amzn", Some("2"))
        );
        assert_eq!(
            parse_alpine_release("3.20.3\n")
                .unwrap()
                .version_id
                .as_deref(),
            Some("3.20.3")
        );
        assert_eq!(
            parse_debian_version("trixie/sid\n")
                .unwrap()
                .codename
                .as_deref(),
            Some("trixie")
        );
        assert_eq!(parse_redhat_release("Something else"), None);
    }
}
