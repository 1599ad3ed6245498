//! Debian OVAL definitions (`oval-definitions-bookworm.xml`): each definition
//! names a CVE (or DSA), the release (`Debian GNU/Linux 12`) and, per source
//! package, the first fixed version (`glibc DPKG is earlier than 2.2-1`).
//!
//! The files are machine-generated with one element per line; this reader
//! scans the elements it needs instead of building a DOM, which keeps a
//! 50 MB file within a second and bounded memory.

use std::collections::BTreeMap;

use crate::model::{Advisory, Affected};

/// Whether a text is an OVAL definitions document.
pub fn looks_like(text: &str) -> bool {
    text.get(..4096)
        .unwrap_or(text)
        .contains("<oval_definitions")
}

/// The text between `open` and `close` after `from`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// Decodes the five predefined XML entities (and numeric ones).
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads Debian OVAL definitions; returns advisories and skipped entries.
pub fn from_text(text: &str) -> (Vec<Advisory>, Vec<String>) {
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<definition ") {
        let Some(len) = rest[start..].find("</definition>") else {
            skipped.push("unterminated <definition>".to_string());
            break;
        };
        let block = &rest[start..start + len];
        rest = &rest[start + len + "</definition>".len()..];
        let title = between(block, "<title>", "</title>")
            .map(unescape)
            .unwrap_or_default();
        let Some(id) = title.split_whitespace().next().map(str::to_string) else {
            skipped.push("definition without a title".to_string());
            continue;
        };
        let platform = between(block, "<platform>", "</platform>").unwrap_or_default();
        let Some(release) = platform.strip_prefix("Debian GNU/Linux ").map(str::trim) else {
            skipped.push(format!("{id}: platform {platform:?} is not Debian"));
            continue;
        };
        let ecosystem = format!("Debian:{release}");
        let mut affected = Vec::new();
        let mut cursor = block;
        while let Some(at) = cursor.find("comment=\"") {
            cursor = &cursor[at + "comment=\"".len()..];
            let Some(end) = cursor.find('"') else { break };
            let comment = unescape(&cursor[..end]);
            if let Some((package, version)) = comment.split_once(" DPKG is earlier than ") {
                let entry = Affected::until_fixed(
                    ecosystem.clone(),
                    package.trim().to_string(),
                    Some(version.trim().to_string()),
                );
                if !affected.contains(&entry) {
                    affected.push(entry);
                }
            }
        }
        if affected.is_empty() {
            skipped.push(format!("{id}: no `DPKG is earlier than` criterion"));
            continue;
        }
        let mut aliases: Vec<String> = Vec::new();
        let mut refs = block;
        while let Some(at) = refs.find("ref_id=\"") {
            refs = &refs[at + "ref_id=\"".len()..];
            let Some(end) = refs.find('"') else { break };
            let alias = unescape(&refs[..end]);
            if alias != id && !aliases.contains(&alias) {
                aliases.push(alias);
            }
        }
        aliases.sort();
        let summary = between(block, "<description>", "</description>")
            .map(unescape)
            .and_then(|d| {
                d.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(|l| l.chars().take(200).collect())
            });
        let advisory = by_id.entry(id.clone()).or_insert_with(|| Advisory {
            id: id.clone(),
            aliases: Vec::new(),
            summary,
            published: None,
            modified: None,
            withdrawn: None,
            severity: None,
            affected: Vec::new(),
        });
        advisory.aliases.extend(aliases);
        advisory.aliases.sort();
        advisory.aliases.dedup();
        advisory.affected.extend(affected);
    }
    (by_id.into_values().collect(), skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    #[test]
    fn reads_a_definition() {
        let text = r#"<oval_definitions><definitions>
    <definition id="oval:org.debian:def:1" version="1" class="vulnerability">
      <metadata>
        <title>CVE-2023-0001 openssl</title>
        <affected family="unix"><platform>Debian GNU/Linux 12</platform><product>openssl</product></affected>
        <reference source="CVE" ref_id="CVE-2023-0001" ref_url="x"/>
        <description>A &lt;bug&gt; in openssl.</description>
      </metadata>
      <criteria comment="Release section" operator="AND">
        <criterion test_ref="t1" comment="Debian 12 is installed"/>
        <criterion test_ref="t3" comment="openssl DPKG is earlier than 3.0.9-1"/>
      </criteria>
    </definition></definitions></oval_definitions>"#;
        let (advisories, skipped) = from_text(text);
        assert!(skipped.is_empty());
        assert_eq!(advisories.len(), 1);
        assert_eq!(
            advisories[0].summary.as_deref(),
            Some("A <bug> in openssl.")
        );
        assert_eq!(advisories[0].affected[0].ecosystem, "Debian:12");
        assert_eq!(
            advisories[0].affected[0].ranges[0].events[1],
            Event::Fixed("3.0.9-1".into())
        );
    }
}
