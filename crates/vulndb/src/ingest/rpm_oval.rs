//! Red Hat–style OVAL definitions as Rocky Linux publishes them
//! (`org.rockylinux.rlsa-9.xml`): one definition per RLSA advisory, whose
//! criteria reference `rpminfo_test`s ("package X is earlier than
//! `E:V-R`") and an `rpmverifyfile_test` on `rocky-release` that pins the
//! release ("Rocky Linux 9 is installed").
//!
//! The criteria are not evaluated as a boolean tree: every `earlier than`
//! test a definition references becomes one affected package, as OSV's
//! RHEL-family records do. The release comes from what the definition says
//! about itself (platform, CPEs, the `rocky-release` version pattern), never
//! from the file name — the fixture mirror's `rlsa-8.xml` holds Rocky 9
//! definitions.
//!
//! The document is read as a stream of XML events (quick-xml); tests,
//! objects and states follow the definitions in the file, so they are kept
//! by id and resolved at the end. Text kept per element is capped, so memory
//! stays proportional to the (already bounded) document.

use std::collections::{BTreeSet, HashMap, HashSet};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};

use crate::model::{Advisory, Affected, Event, Level, Range, RangeKind, Severity};
use crate::version::rpm::Evr;

/// Longest text kept from one element; descriptions run to a few KiB.
const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Most criteria one definition may reference.
const MAX_TEST_REFS: usize = 65_536;

/// What one OVAL document gave.
#[derive(Debug, Default)]
pub struct OvalRead {
    pub advisories: Vec<Advisory>,
    /// `<definition>` elements seen.
    pub definitions: usize,
    /// The generator's `<oval:timestamp>`: when the snapshot was made.
    pub timestamp: Option<String>,
    /// Definitions left out as a whole, with the reason.
    pub skipped_definitions: Vec<String>,
    /// Tests of read definitions left out (not an `earlier than` check).
    pub skipped_tests: Vec<String>,
}

/// Whether a text is an OVAL document with rpm package tests.
pub fn looks_like(text: &str) -> bool {
    text.get(..4096)
        .unwrap_or(text)
        .contains("<oval_definitions")
        && text.contains("rpminfo_test")
}

/// Reads the document. `Err` (with what and where) when the XML itself is
/// malformed: tests and states follow the definitions, so nothing after the
/// fault could be resolved.
pub fn from_text(text: &str) -> Result<OvalRead, String> {
    let mut parsed = parse(text)?;
    let mut read = OvalRead {
        definitions: parsed.definitions.len(),
        timestamp: parsed.timestamp.take(),
        skipped_definitions: std::mem::take(&mut parsed.malformed),
        ..OvalRead::default()
    };
    for definition in &parsed.definitions {
        // Test skips count only for definitions that are read.
        let mut skipped_tests = Vec::new();
        match resolve(definition, &parsed, &mut skipped_tests) {
            Ok(advisory) => {
                read.advisories.push(advisory);
                read.skipped_tests.extend(skipped_tests);
            }
            Err(reason) => read.skipped_definitions.push(reason),
        }
    }
    Ok(read)
}

#[derive(Debug, Default)]
struct RawDefinition {
    oval_id: String,
    title: String,
    description: String,
    severity: Option<String>,
    issued: Option<String>,
    updated: Option<String>,
    /// `reference` ids other than CVEs (`RLSA-2022:4582`).
    advisory_refs: Vec<String>,
    cves: Vec<String>,
    platforms: Vec<String>,
    cpes: Vec<String>,
    test_refs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestKind {
    RpmInfo,
    VerifyFile,
    Other,
}

#[derive(Debug)]
struct RawTest {
    kind: TestKind,
    element: String,
    check: String,
    object: Option<String>,
    state: Option<String>,
}

#[derive(Debug, Default)]
struct RawState {
    /// `(operation, value)` of `<evr>`.
    evr: Option<(String, String)>,
    has_arch: bool,
    has_signature: bool,
    /// Other children (`version`, `release`, …) of an `rpminfo_state`.
    other: Vec<String>,
    name_pattern: Option<String>,
    version_pattern: Option<String>,
}

#[derive(Debug, Default)]
struct Parsed {
    timestamp: Option<String>,
    definitions: Vec<RawDefinition>,
    malformed: Vec<String>,
    tests: HashMap<String, RawTest>,
    /// `rpminfo_object` id → package name.
    objects: HashMap<String, String>,
    states: HashMap<String, RawState>,
}

/// The element whose children are being read.
#[derive(Debug)]
enum Owner {
    Definition(RawDefinition),
    Test(String, RawTest),
    Object(String, Option<String>),
    State(String, RawState),
}

/// Where captured text goes when its element ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Timestamp,
    Title,
    Description,
    Severity,
    Cve,
    Platform,
    Cpe,
    ObjectName,
    StateEvr,
    StateName,
    StateVersion,
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(at) => name.get(at + 1..).unwrap_or(name),
        None => name,
    }
}

/// The unescaped value of attribute `key`, if present and well-formed.
fn attribute(element: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| local(a.key.as_ref()) == key)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

fn push_capped(into: &mut String, text: &str) {
    let room = MAX_TEXT_BYTES.saturating_sub(into.len());
    if text.len() <= room {
        into.push_str(text);
    } else {
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        into.push_str(text.get(..end).unwrap_or_default());
    }
}

/// The character a general entity reference stands for.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

struct Walker {
    parsed: Parsed,
    owner: Option<Owner>,
    /// Local name of the owner element, to see where it ends.
    owner_element: Vec<u8>,
    capture: Option<(Field, Vec<u8>)>,
    text: String,
    /// `operation` attribute of the `<evr>` being read.
    evr_operation: String,
}

fn parse(text: &str) -> Result<Parsed, String> {
    let mut reader = Reader::from_str(text);
    let mut walker = Walker {
        parsed: Parsed::default(),
        owner: None,
        owner_element: Vec::new(),
        capture: None,
        text: String::new(),
        evr_operation: String::new(),
    };
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML near byte {position}: {e}"))?;
        match event {
            XmlEvent::Start(element) => walker.open(&element, false),
            XmlEvent::Empty(element) => walker.open(&element, true),
            XmlEvent::End(element) => walker.close(local(element.name().as_ref())),
            XmlEvent::Text(text) if walker.capture.is_some() => {
                let decoded = text
                    .xml10_content()
                    .map_err(|e| format!("text near byte {position}: {e}"))?;
                push_capped(&mut walker.text, &decoded);
            }
            XmlEvent::CData(data) if walker.capture.is_some() => {
                let decoded = data
                    .decode()
                    .map_err(|e| format!("CDATA near byte {position}: {e}"))?;
                push_capped(&mut walker.text, &decoded);
            }
            XmlEvent::GeneralRef(reference) if walker.capture.is_some() => {
                let resolved = if reference.is_char_ref() {
                    reference.resolve_char_ref().ok().flatten()
                } else {
                    reference.decode().ok().and_then(|name| entity(&name))
                };
                // An unknown entity is kept as written rather than dropped.
                match resolved {
                    Some(c) => push_capped(&mut walker.text, c.encode_utf8(&mut [0; 4])),
                    None => {
                        let raw = String::from_utf8_lossy(reference.as_ref());
                        push_capped(&mut walker.text, &format!("&{raw};"));
                    }
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if let Some(owner) = walker.owner.take() {
        walker.parsed.malformed.push(format!(
            "{} is not closed at the end of the document",
            describe(&owner)
        ));
    }
    Ok(walker.parsed)
}

fn describe(owner: &Owner) -> String {
    match owner {
        Owner::Definition(d) => format!("definition {:?}", d.oval_id),
        Owner::Test(id, _) => format!("test {id:?}"),
        Owner::Object(id, _) => format!("object {id:?}"),
        Owner::State(id, _) => format!("state {id:?}"),
    }
}

impl Walker {
    fn open(&mut self, element: &BytesStart<'_>, empty: bool) {
        let name = element.name();
        let name = local(name.as_ref()).to_vec();
        if let Some(owner) = self.owner_for(&name, element) {
            if let Some(previous) = self.owner.take() {
                self.parsed.malformed.push(format!(
                    "{} holds another OVAL element and is left out",
                    describe(&previous)
                ));
            }
            self.owner = Some(owner);
            self.owner_element = name;
            self.capture = None;
            if empty {
                let element = self.owner_element.clone();
                self.close(&element);
            }
            return;
        }
        let Some(owner) = self.owner.as_mut() else {
            if name == b"timestamp" {
                self.text.clear();
                self.capture = Some((Field::Timestamp, name));
            }
            return;
        };
        let field = match owner {
            Owner::Definition(definition) => match name.as_slice() {
                b"title" => Some(Field::Title),
                b"description" => Some(Field::Description),
                b"severity" => Some(Field::Severity),
                b"cve" => Some(Field::Cve),
                b"platform" => Some(Field::Platform),
                b"cpe" => Some(Field::Cpe),
                b"reference" => {
                    if let Some(id) = attribute(element, b"ref_id") {
                        let source = attribute(element, b"source").unwrap_or_default();
                        if source.eq_ignore_ascii_case("CVE") {
                            definition.cves.push(id);
                        } else {
                            definition.advisory_refs.push(id);
                        }
                    }
                    None
                }
                b"issued" => {
                    definition.issued = attribute(element, b"date");
                    None
                }
                b"updated" => {
                    definition.updated = attribute(element, b"date");
                    None
                }
                b"advisory" => {
                    definition.cpes.extend(attribute(element, b"from"));
                    None
                }
                b"criterion" => {
                    if definition.test_refs.len() < MAX_TEST_REFS {
                        definition.test_refs.extend(attribute(element, b"test_ref"));
                    }
                    None
                }
                _ => None,
            },
            Owner::Test(_, test) => {
                match name.as_slice() {
                    b"object" => test.object = attribute(element, b"object_ref"),
                    b"state" => test.state = attribute(element, b"state_ref"),
                    _ => {}
                }
                None
            }
            Owner::Object(_, _) => (name == b"name").then_some(Field::ObjectName),
            Owner::State(_, state) => match name.as_slice() {
                b"evr" => {
                    self.evr_operation = attribute(element, b"operation").unwrap_or_default();
                    Some(Field::StateEvr)
                }
                b"name" => Some(Field::StateName),
                b"version" => Some(Field::StateVersion),
                b"arch" => {
                    state.has_arch = true;
                    None
                }
                b"signature_keyid" => {
                    state.has_signature = true;
                    None
                }
                other => {
                    state
                        .other
                        .push(String::from_utf8_lossy(other).into_owned());
                    None
                }
            },
        };
        if let Some(field) = field {
            self.text.clear();
            if empty {
                self.commit(field);
            } else {
                self.capture = Some((field, name));
            }
        }
    }

    /// A new owner when `name` is a definition, test, object or state.
    fn owner_for(&self, name: &[u8], element: &BytesStart<'_>) -> Option<Owner> {
        if name == b"definition" {
            return Some(Owner::Definition(RawDefinition {
                oval_id: attribute(element, b"id").unwrap_or_default(),
                ..RawDefinition::default()
            }));
        }
        // Children named `object`/`state` are references, not the elements.
        let id = || attribute(element, b"id");
        if name.ends_with(b"_test") {
            let kind = match name {
                b"rpminfo_test" => TestKind::RpmInfo,
                b"rpmverifyfile_test" => TestKind::VerifyFile,
                _ => TestKind::Other,
            };
            return Some(Owner::Test(
                id()?,
                RawTest {
                    kind,
                    element: String::from_utf8_lossy(name).into_owned(),
                    check: attribute(element, b"check").unwrap_or_default(),
                    object: None,
                    state: None,
                },
            ));
        }
        if name == b"rpminfo_object" {
            return Some(Owner::Object(id()?, None));
        }
        if name.ends_with(b"_state") {
            return Some(Owner::State(id()?, RawState::default()));
        }
        None
    }

    fn close(&mut self, name: &[u8]) {
        if let Some((field, element)) = self.capture.take() {
            if element == name {
                self.commit(field);
            } else {
                self.capture = Some((field, element));
            }
        }
        if self.owner.is_none() || name != self.owner_element.as_slice() {
            return;
        }
        self.capture = None;
        match self.owner.take() {
            Some(Owner::Definition(definition)) => self.parsed.definitions.push(definition),
            Some(Owner::Test(id, test)) => {
                self.parsed.tests.insert(id, test);
            }
            Some(Owner::Object(id, Some(package))) => {
                self.parsed.objects.insert(id, package);
            }
            Some(Owner::Object(_, None)) | None => {}
            Some(Owner::State(id, state)) => {
                self.parsed.states.insert(id, state);
            }
        }
    }

    fn commit(&mut self, field: Field) {
        let text = std::mem::take(&mut self.text);
        let trimmed = text.trim().to_string();
        match (self.owner.as_mut(), field) {
            (None, Field::Timestamp) => self.parsed.timestamp = Some(trimmed),
            (Some(Owner::Definition(d)), Field::Title) => d.title = trimmed,
            (Some(Owner::Definition(d)), Field::Description) => d.description = text,
            (Some(Owner::Definition(d)), Field::Severity) => d.severity = Some(trimmed),
            (Some(Owner::Definition(d)), Field::Cve) => d.cves.push(trimmed),
            (Some(Owner::Definition(d)), Field::Platform) => d.platforms.push(trimmed),
            (Some(Owner::Definition(d)), Field::Cpe) => d.cpes.push(trimmed),
            (Some(Owner::Object(_, name)), Field::ObjectName) if !trimmed.is_empty() => {
                *name = Some(trimmed)
            }
            (Some(Owner::State(_, s)), Field::StateEvr) => {
                s.evr = Some((std::mem::take(&mut self.evr_operation), trimmed))
            }
            (Some(Owner::State(_, s)), Field::StateName) => s.name_pattern = Some(trimmed),
            (Some(Owner::State(_, s)), Field::StateVersion) => s.version_pattern = Some(trimmed),
            _ => {}
        }
    }
}

/// The leading run of ASCII digits (`9` of `9[^\d]`, `9:GA`).
fn leading_digits(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.get(..end).filter(|d| !d.is_empty())
}

/// The Rocky Linux release a CPE names (`cpe:/o:rocky:rocky:9:GA`,
/// `cpe:/a:rocky:linux:9`).
fn release_of_cpe(cpe: &str) -> Option<&str> {
    let mut parts = cpe.split(':');
    let (Some("cpe"), Some(_part), Some("rocky"), Some(_product), Some(version)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    leading_digits(version)
}

/// The distribution's rating (`Important`) on the common scale.
pub fn severity_from_rating(rating: &str) -> Option<Severity> {
    let level = match rating.trim().to_ascii_lowercase().as_str() {
        "critical" => Level::Critical,
        "important" => Level::High,
        "moderate" => Level::Medium,
        "low" => Level::Low,
        _ => return None,
    };
    Some(Severity {
        level,
        score: None,
        source: format!("rocky severity: {}", rating.trim()),
    })
}

/// `2022-05-17` as RFC 3339 (`2022-05-17T00:00:00Z`); `None` otherwise.
fn date_to_rfc3339(date: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date.trim(), &format)
        .ok()
        .map(|d| format!("{d}T00:00:00Z"))
}

/// The CVE ids named in `text` (`CVE-2022-1271`).
fn cve_ids(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("CVE-") {
        let tail = rest.get(at + 4..).unwrap_or_default();
        rest = tail;
        let Some(year) = leading_digits(tail).filter(|y| y.len() == 4) else {
            continue;
        };
        let Some(number) = tail
            .get(5..)
            .filter(|_| tail.as_bytes().get(4) == Some(&b'-'))
            .and_then(leading_digits)
            .filter(|n| n.len() >= 4)
        else {
            continue;
        };
        found.push(format!("CVE-{year}-{number}"));
    }
    found
}

/// The fixed version as OSV's RHEL-family records write it: `E:V-R` with
/// the epoch only when it is not 0 (AlmaLinux OSV: `1:1.26.0-14.el8_3`,
/// `1.10-9.el9_0`). The rpm comparator reads a missing epoch as 0.
fn fixed_version(evr: &str) -> Result<String, String> {
    let evr = evr.trim();
    let parsed = Evr::parse(evr).map_err(|e| e.to_string())?;
    if !parsed.epoch.bytes().all(|b| b.is_ascii_digit()) || parsed.version.is_empty() {
        return Err(format!("malformed EVR {evr:?}"));
    }
    let body = evr.split_once(':').map_or(evr, |(_, rest)| rest);
    if parsed.epoch.trim_start_matches('0').is_empty() {
        Ok(body.to_string())
    } else {
        Ok(format!("{}:{body}", parsed.epoch))
    }
}

fn resolve(
    definition: &RawDefinition,
    parsed: &Parsed,
    skipped_tests: &mut Vec<String>,
) -> Result<Advisory, String> {
    let oval_id = &definition.oval_id;
    let title_id = definition
        .title
        .split_once(": ")
        .map(|(id, _)| id.trim())
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace));
    let Some(id) = definition
        .advisory_refs
        .first()
        .map(String::as_str)
        .or(title_id)
        .map(str::to_string)
    else {
        return Err(format!(
            "definition {oval_id:?}: no advisory id in its references or title"
        ));
    };

    // What the definition says about its release, from every place it says it.
    let mut releases = BTreeSet::new();
    let mut names_rocky = false;
    let mut other_platforms = Vec::new();
    for platform in &definition.platforms {
        match platform.strip_prefix("Rocky Linux") {
            Some(rest) => {
                names_rocky = true;
                releases.extend(leading_digits(rest.trim()));
            }
            None => other_platforms.push(platform.as_str()),
        }
    }
    for cpe in &definition.cpes {
        if let Some(release) = release_of_cpe(cpe) {
            names_rocky = true;
            releases.insert(release);
        }
    }
    // Criteria name a test more than once (each `AND` pair repeats it);
    // sets keep the work linear on a hostile document.
    let mut seen_refs: HashSet<&str> = HashSet::new();
    let mut seen_packages: HashSet<(String, String)> = HashSet::new();
    let mut packages: Vec<(String, String)> = Vec::new();
    for test_ref in &definition.test_refs {
        if !seen_refs.insert(test_ref.as_str()) {
            continue;
        }
        let Some(test) = parsed.tests.get(test_ref) else {
            skipped_tests.push(format!("{id}: test {test_ref:?} is not in the document"));
            continue;
        };
        let state = test.state.as_ref().and_then(|s| parsed.states.get(s));
        match test.kind {
            TestKind::VerifyFile => {
                // `rocky-release` with version `^9[^\d]`: Rocky Linux 9 is installed.
                let Some(state) = state else { continue };
                if state
                    .name_pattern
                    .as_deref()
                    .is_some_and(|n| n.trim_start_matches('^').starts_with("rocky-release"))
                {
                    names_rocky = true;
                    if let Some(version) = state.version_pattern.as_deref() {
                        releases.extend(leading_digits(version.trim_start_matches('^')));
                    }
                }
            }
            TestKind::Other => skipped_tests.push(format!(
                "{id}: {} is not a package version test",
                test.element
            )),
            TestKind::RpmInfo => match package_test(test, state, parsed) {
                Ok(package) => {
                    if seen_packages.insert(package.clone()) {
                        packages.push(package);
                    }
                }
                Err(reason) => skipped_tests.push(format!("{id}: {reason}")),
            },
        }
    }
    if !names_rocky {
        return Err(format!(
            "{id}: not a Rocky Linux definition (platform {other_platforms:?})"
        ));
    }
    let release = match releases.len() {
        1 => releases.into_iter().next().unwrap_or_default(),
        0 => return Err(format!("{id}: names no Rocky Linux release")),
        _ => {
            return Err(format!(
                "{id}: names several Rocky Linux releases {releases:?}"
            ));
        }
    };
    if packages.is_empty() {
        return Err(format!("{id}: no `package is earlier than` test"));
    }
    let ecosystem = format!("Rocky Linux:{release}");
    let severity = definition
        .severity
        .as_deref()
        .and_then(severity_from_rating);
    let affected = packages
        .into_iter()
        .map(|(package, fixed)| Affected {
            ecosystem: ecosystem.clone(),
            package,
            ranges: vec![Range {
                kind: RangeKind::Ecosystem,
                events: vec![Event::Introduced("0".into()), Event::Fixed(fixed)],
            }],
            versions: Vec::new(),
            severity: severity.clone(),
        })
        .collect();
    let mut aliases: Vec<String> = definition
        .cves
        .iter()
        .cloned()
        .chain(cve_ids(&definition.description))
        .chain(definition.advisory_refs.iter().skip(1).cloned())
        .filter(|alias| *alias != id)
        .collect();
    aliases.sort();
    aliases.dedup();
    let summary = definition
        .title
        .strip_prefix(id.as_str())
        .map(|t| t.trim_start_matches(':').trim())
        .unwrap_or(&definition.title)
        .chars()
        .take(200)
        .collect::<String>();
    Ok(Advisory {
        id,
        aliases,
        summary: Some(summary).filter(|s| !s.is_empty()),
        published: definition.issued.as_deref().and_then(date_to_rfc3339),
        modified: definition.updated.as_deref().and_then(date_to_rfc3339),
        withdrawn: None,
        severity: None,
        affected,
    })
}

/// The `(package, fixed version)` an `rpminfo_test` checks, or why it is
/// not an `earlier than` test.
fn package_test(
    test: &RawTest,
    state: Option<&RawState>,
    parsed: &Parsed,
) -> Result<(String, String), String> {
    let Some(package) = test.object.as_ref().and_then(|o| parsed.objects.get(o)) else {
        return Err(format!(
            "rpminfo test without a package name ({:?})",
            test.object
        ));
    };
    if test.check != "at least one" {
        return Err(format!("{package}: check {:?} is not read", test.check));
    }
    let Some(state) = state else {
        return Err(format!("{package}: installed-only test (no state)"));
    };
    match &state.evr {
        Some((operation, evr)) if operation == "less than" => {
            let fixed = fixed_version(evr).map_err(|e| format!("{package}: {e}"))?;
            Ok((package.clone(), fixed))
        }
        Some((operation, _)) => Err(format!(
            "{package}: evr operation {operation:?} is not `less than`"
        )),
        None if state.has_signature => Err(format!("{package}: signature key check")),
        None if state.has_arch && state.other.is_empty() => {
            Err(format!("{package}: architecture-only test"))
        }
        None => Err(format!(
            "{package}: state without an evr ({:?})",
            state.other
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/vulndata/advisories/rocky-oval/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_every_rocky_9_definition() {
        let text = fixture("org.rockylinux.rlsa-9.xml");
        assert!(looks_like(&text));
        let read = from_text(&text).expect("well-formed");
        // PROVENANCE.md: 175 definitions.
        assert_eq!(read.definitions, 175);
        assert_eq!(
            read.advisories.len() + read.skipped_definitions.len(),
            175,
            "{:?}",
            read.skipped_definitions
        );
        assert!(
            read.skipped_definitions.is_empty(),
            "{:?}",
            read.skipped_definitions
        );
        // One criterion in the feed points at a test that is not there.
        assert_eq!(
            read.skipped_tests,
            ["RLSA-2023:3661: test \"oval:org.rockylinux.rlsa:tst:unk\" is not in the document"]
        );
        assert!(
            read.advisories
                .iter()
                .flat_map(|a| &a.affected)
                .all(|a| a.ecosystem == "Rocky Linux:9")
        );

        // RLSA-2022:4582, checked by hand against the XML: the gzip,
        // gzip-debuginfo and gzip-debugsource tests, state `0:1.10-9.el9_0`.
        let gzip = read
            .advisories
            .iter()
            .find(|a| a.id == "RLSA-2022:4582")
            .expect("RLSA-2022:4582");
        assert_eq!(gzip.aliases, vec!["CVE-2022-1271".to_string()]);
        assert_eq!(
            gzip.summary.as_deref(),
            Some("gzip security update (Important)")
        );
        assert_eq!(gzip.published.as_deref(), Some("2022-05-17T00:00:00Z"));
        assert_eq!(gzip.modified.as_deref(), Some("2022-05-17T00:00:00Z"));
        let mut names: Vec<&str> = gzip.affected.iter().map(|a| a.package.as_str()).collect();
        names.sort();
        assert_eq!(names, ["gzip", "gzip-debuginfo", "gzip-debugsource"]);
        for affected in &gzip.affected {
            assert_eq!(
                affected.ranges[0].events,
                [
                    Event::Introduced("0".into()),
                    Event::Fixed("1.10-9.el9_0".into())
                ]
            );
            let severity = affected.severity.as_ref().expect("rated");
            assert_eq!(severity.level, Level::High);
            assert_eq!(severity.source, "rocky severity: Important");
        }
    }

    #[test]
    fn a_nonzero_epoch_is_kept_and_a_zero_epoch_dropped() {
        let read = from_text(&fixture("org.rockylinux.rlsa-9.xml")).expect("well-formed");
        let fixed: Vec<&str> = read
            .advisories
            .iter()
            .flat_map(|a| &a.affected)
            .map(|a| a.ranges[0].events[1].version())
            .collect();
        // grub2's state is `1:2.06-46.el9_1.3.rocky.0.2`.
        assert!(fixed.contains(&"1:2.06-46.el9_1.3.rocky.0.2"));
        assert!(fixed.iter().all(|v| !v.starts_with("0:")));
        assert_eq!(fixed_version("0:1.10-9.el9_0"), Ok("1.10-9.el9_0".into()));
        assert_eq!(fixed_version("7:7.0.0-13.el9"), Ok("7:7.0.0-13.el9".into()));
        assert!(fixed_version("x:1-1").is_err());
    }

    #[test]
    fn the_rlsa_8_file_holds_rocky_9_definitions_and_says_so() {
        // The mirror's `rlsa-8.xml` is an older snapshot of the Rocky 9
        // feed: platform `Rocky Linux 9`, `el9` releases. The ecosystem
        // follows the content, not the file name.
        let read = from_text(&fixture("org.rockylinux.rlsa-8.xml")).expect("well-formed");
        assert_eq!(read.definitions, 64);
        assert_eq!(read.advisories.len(), 64, "{:?}", read.skipped_definitions);
        assert!(
            read.advisories
                .iter()
                .flat_map(|a| &a.affected)
                .all(|a| a.ecosystem == "Rocky Linux:9")
        );
    }

    #[test]
    fn skips_what_is_not_an_earlier_than_test_with_reasons() {
        let text = r#"<oval_definitions><definitions>
          <definition id="oval:x:def:1"><metadata><title>RLSA-2099:1: a (Low)</title>
            <affected family="unix"><platform>Rocky Linux 8</platform></affected>
            <advisory><severity>Low</severity><cve>CVE-2099-0001</cve></advisory></metadata>
            <criteria><criterion test_ref="t:1"/><criterion test_ref="t:2"/>
              <criterion test_ref="t:3"/><criterion test_ref="t:4"/></criteria></definition>
          <definition id="oval:x:def:2"><metadata><title>RHSA-2099:2: b</title>
            <affected family="unix"><platform>Red Hat Enterprise Linux 8</platform></affected></metadata>
            <criteria><criterion test_ref="t:1"/></criteria></definition>
          <definition id="oval:x:def:3"><metadata><title>no id here</title></metadata></definition>
        </definitions><tests>
          <rpminfo_test id="t:1" check="at least one"><object object_ref="o:1"/><state state_ref="s:1"/></rpminfo_test>
          <rpminfo_test id="t:2" check="at least one"><object object_ref="o:1"/><state state_ref="s:2"/></rpminfo_test>
          <rpminfo_test id="t:3" check="at least one"><object object_ref="o:1"/><state state_ref="s:3"/></rpminfo_test>
          <textfilecontent54_test id="t:4" check="all"/>
        </tests><objects><rpminfo_object id="o:1"><name>openssl</name></rpminfo_object></objects>
        <states>
          <rpminfo_state id="s:1"><evr datatype="evr_string" operation="less than">1:3.0.7-1.el8</evr></rpminfo_state>
          <rpminfo_state id="s:2"><signature_keyid operation="equals">15af5dac6d745a60</signature_keyid></rpminfo_state>
          <rpminfo_state id="s:3"><arch operation="pattern match">x86_64</arch></rpminfo_state>
        </states></oval_definitions>"#;
        let read = from_text(text).expect("well-formed");
        assert_eq!(read.definitions, 3);
        assert_eq!(read.advisories.len(), 1);
        let advisory = &read.advisories[0];
        assert_eq!(advisory.id, "RLSA-2099:1");
        assert_eq!(advisory.aliases, ["CVE-2099-0001"]);
        assert_eq!(advisory.affected[0].ecosystem, "Rocky Linux:8");
        assert_eq!(
            advisory.affected[0].ranges[0].events[1],
            Event::Fixed("1:3.0.7-1.el8".into())
        );
        assert_eq!(read.skipped_tests.len(), 3, "{:?}", read.skipped_tests);
        assert!(read.skipped_tests[0].contains("signature key check"));
        assert!(read.skipped_tests[1].contains("architecture-only"));
        assert!(read.skipped_tests[2].contains("textfilecontent54_test"));
        assert_eq!(
            read.skipped_definitions.len(),
            2,
            "{:?}",
            read.skipped_definitions
        );
        assert!(read.skipped_definitions[0].contains("not a Rocky Linux definition"));
        assert!(read.skipped_definitions[1].contains("no advisory id"));
    }

    #[test]
    fn hostile_xml_is_an_error_or_a_skip_never_a_panic() {
        assert!(from_text("<oval_definitions><definition id='x'><title>").is_ok());
        assert!(from_text("<oval_definitions></definitions>").is_err());
        assert!(from_text("<oval_definitions><a b='&#xFFFFFFFF;'/>").is_ok());
        let nested = "<definition id='a'>".repeat(10_000);
        let read = from_text(&format!("<oval_definitions>{nested}")).expect("no end-tag fault");
        assert!(read.advisories.is_empty());
        assert_eq!(
            cve_ids("CVE-2022- CVE-12-3456 (CVE-2022-26280)"),
            ["CVE-2022-26280"]
        );
    }
}
