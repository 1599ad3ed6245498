//! Package URLs (<https://github.com/package-url/purl-spec>), built by hand:
//! the few rules we need are smaller than a dependency.

use std::fmt::Write as _;

/// Builds `pkg:<type>/<namespace>/<name>@<version>?<qualifiers>`.
///
/// Each component is percent-encoded as the purl specification asks: every
/// byte outside `A-Z a-z 0-9 . - _ ~` is encoded, except `:` which the
/// specification leaves readable (dpkg epochs such as `1:2.3-4`). Qualifiers
/// with an empty value are dropped and the rest sorted by key, so equal
/// packages always get byte-equal purls.
pub(crate) fn build(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: &mut [(&str, &str)],
) -> String {
    let mut out = String::with_capacity(16 + name.len() + version.map_or(0, str::len) + 48);
    out.push_str("pkg:");
    out.push_str(purl_type);
    out.push('/');
    if let Some(namespace) = namespace.filter(|ns| !ns.is_empty()) {
        // A namespace may have several segments (npm scopes do not, Go paths do).
        for (i, segment) in namespace.split('/').filter(|s| !s.is_empty()).enumerate() {
            if i > 0 {
                out.push('/');
            }
            encode_into(&mut out, segment);
        }
        out.push('/');
    }
    encode_into(&mut out, name);
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        encode_into(&mut out, version);
    }
    qualifiers.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut first = true;
    for (key, value) in qualifiers.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' | b':' => {
                out.push(char::from(byte));
            }
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_purl_spec_test_suite() {
        // From purl-spec test-suite-data.json: "debian can use qualifiers".
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "curl",
                Some("7.50.3-1"),
                &mut [("distro", "jessie"), ("arch", "i386")]
            ),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        // "rpm often use qualifiers"
        assert_eq!(
            build(
                "rpm",
                Some("fedora"),
                "curl",
                Some("7.50.3-1.fc25"),
                &mut [("distro", "fedora-25"), ("arch", "i386")]
            ),
            "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&distro=fedora-25"
        );
        // npm scope: '@' is encoded in a namespace.
        assert_eq!(
            build(
                "npm",
                Some("@angular"),
                "animation",
                Some("12.3.1"),
                &mut []
            ),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        // '+' in Debian versions is percent-encoded; the epoch colon is not.
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "libcap2-bin",
                Some("1:2.66-4+deb12u3+b1"),
                &mut [("arch", "amd64"), ("epoch", "")]
            ),
            "pkg:deb/debian/libcap2-bin@1:2.66-4%2Bdeb12u3%2Bb1?arch=amd64"
        );
    }
}
