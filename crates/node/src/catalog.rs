//! The check catalog: data, not code.
//!
//! A catalog is a YAML document with `components` (how to find a daemon:
//! its process names, static pod manifests and configuration file) and
//! `checks` (what to read and what to expect). The built-in catalog is
//! embedded in the binary; `--checks FILE` adds checks, replaces them, or
//! patches their level, title, scoring or remediation by id, and can turn a
//! check off with `enabled: false`.
//!
//! The file is parsed into raw, all-optional types first, merged, then
//! validated into [`Catalog`], whose types can no longer be wrong: every
//! check has a test, every component a check names exists, every expectation
//! fits its probe.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigFormat, KeyPath};
use crate::error::CatalogError;

/// The built-in catalog (CIS Kubernetes 1.12 node, control-plane TLS, CIS
/// Docker 1.6 daemon checks, containerd, kernel controls, SSH).
pub const BUILTIN: &str = include_str!("../catalog/node.yaml");

/// Severity of a failing check; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The lower-case name used in catalogs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// The benchmark recommendation a check implements.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    /// e.g. `CIS Kubernetes Benchmark`.
    pub name: String,
    /// e.g. `1.12`.
    pub version: String,
    /// The recommendation's number, e.g. `4.2.1`.
    pub id: String,
}

impl std::fmt::Display for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.name, self.version, self.id)
    }
}

/// A validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub components: BTreeMap<String, Component>,
    pub checks: Vec<Check>,
}

/// How to find a daemon on the node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Process names: the program's base name, optionally followed by its
    /// first argument (`hyperkube kubelet`).
    #[serde(default)]
    pub processes: Vec<String>,
    /// Static pod manifests whose first container's command and args stand
    /// in for a process that is not running (yet).
    #[serde(default)]
    pub manifests: Vec<String>,
    /// The configuration file.
    #[serde(default)]
    pub config: Option<ConfigSource>,
}

/// Where a component's configuration file is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSource {
    /// The command-line flag naming the file (`config` for `--config`).
    #[serde(default)]
    pub flag: Option<String>,
    pub format: ConfigFormat,
    /// Default locations, first existing wins, when the flag is absent.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The flag naming a drop-in directory whose `*.conf` files, in name
    /// order, override the file (the kubelet's `--config-dir`).
    #[serde(default)]
    pub dropin_flag: Option<String>,
}

/// One check.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    /// Grouping for reports: `kubelet`, `docker`, `ssh`, …
    pub section: String,
    pub level: Level,
    /// Whether a failure fails the gate; an unscored (manual) check that
    /// does not hold is a warning.
    pub scored: bool,
    pub benchmark: Option<Benchmark>,
    /// When present, the check is not applicable unless this holds.
    pub applies_if: Option<Condition>,
    pub test: Test,
    pub remediation: String,
}

/// Applicability: any listed component present, or any listed path exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub exists: Vec<String>,
}

/// A test: leaves combined with `all` / `any`.
#[derive(Debug, Clone)]
pub enum Test {
    All(Vec<Test>),
    Any(Vec<Test>),
    Leaf(Box<Leaf>),
}

/// What a leaf concludes when its value or file is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IfMissing {
    Pass,
    Fail,
    NotApplicable,
}

/// One probe and what its value must satisfy.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub probe: Probe,
    pub expect: Expect,
    pub if_missing: IfMissing,
    /// The component's built-in default, used as the value when nothing
    /// sets it (so `sshd_config` checks see what `sshd -T` would).
    pub default: Option<String>,
}

/// What a leaf reads.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A component setting: command-line flag, then environment, then
    /// configuration file (flags override the file, as the kubelet does).
    Setting(SettingRef),
    /// A file's mode and owner.
    File(FileTarget),
    /// `/proc/sys/<a>/<b>` for sysctl `a.b`.
    Sysctl(String),
    /// The trimmed content of the first existing file.
    Text(Vec<String>),
    /// A `key<separator>value` line of the first existing file.
    Field {
        paths: Vec<String>,
        key: String,
        separator: String,
    },
    /// The number of non-empty lines of the first existing file.
    Lines(Vec<String>),
}

/// A setting of a component.
#[derive(Debug, Clone)]
pub struct SettingRef {
    pub component: String,
    /// Flag names without dashes (aliases: `host`, `H`).
    pub flags: Vec<String>,
    /// For `key=value,…` flags (`--feature-gates`): the key to read.
    pub flag_key: Option<String>,
    /// Environment variable (etcd reads `ETCD_*`).
    pub env: Option<String>,
    /// Key paths in the configuration file, first present wins.
    pub config: Vec<KeyPath>,
    /// Every occurrence of a repeated flag counts (Docker's `-H`), instead
    /// of the last one winning.
    pub repeated: bool,
}

impl SettingRef {
    /// The setting's flags as written on a command line, aliases joined by
    /// `/` (`-H/--host`); empty when the setting has no flag.
    pub fn dashed_flags(&self) -> String {
        self.flags
            .iter()
            .map(|f| {
                if f.len() == 1 {
                    format!("-{f}")
                } else {
                    format!("--{f}")
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Which file(s) a file probe looks at.
#[derive(Debug, Clone)]
pub struct FileTarget {
    /// A setting naming the file, tried first.
    pub from: Option<SettingRef>,
    /// The configuration file a component uses.
    pub config_of: Option<String>,
    /// Candidate paths (globs allowed); first existing, or every match with
    /// `each`.
    pub paths: Vec<String>,
    /// Check every existing match, not just the first.
    pub each: bool,
    /// The paths are directories: check every file under them.
    pub recursive: bool,
    /// With `recursive`: only files whose name matches this glob.
    pub name: Option<String>,
}

/// What the value must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Every value equals this (case-insensitive; numbers and durations
    /// compare by value: `0` equals `0s`).
    Equals(String),
    /// No value equals this.
    NotEquals(String),
    /// Every value is one of these.
    OneOf(Vec<String>),
    /// Some value contains one of these substrings.
    Contains(Vec<String>),
    /// No value contains any of these substrings.
    NotContains(Vec<String>),
    /// Every comma-separated element of every value is one of these.
    SubsetOf(Vec<String>),
    /// Every value is a number or duration at least this.
    AtLeast(f64),
    /// Every value is a number or duration at most this.
    AtMost(f64),
    /// The setting is set.
    Set,
    /// The setting is not set.
    Unset,
    /// Every value starts with one of these prefixes.
    StartsWith(Vec<String>),
    /// No value starts with any of these prefixes.
    NotStartsWith(Vec<String>),
    /// File permission bits are within this octal mask (`600`).
    ModeAtMost(u32),
    /// File owner `user:group` is one of these.
    OwnerIn(Vec<String>),
    /// The file exists.
    Exists,
}

impl Expect {
    fn is_file_expectation(&self) -> bool {
        matches!(self, Self::ModeAtMost(_) | Self::OwnerIn(_) | Self::Exists)
    }
}

// ---------------------------------------------------------------------------
// Raw, all-optional form as written in YAML.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    components: BTreeMap<String, Component>,
    #[serde(default)]
    checks: Vec<RawCheck>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    scored: Option<bool>,
    #[serde(default)]
    benchmark: Option<Benchmark>,
    #[serde(default)]
    applies_if: Option<Condition>,
    #[serde(default)]
    test: Option<RawTest>,
    #[serde(default)]
    remediation: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    #[serde(default)]
    all: Option<Vec<RawTest>>,
    #[serde(default)]
    any: Option<Vec<RawTest>>,
    #[serde(default)]
    setting: Option<RawSetting>,
    #[serde(default)]
    file: Option<RawFile>,
    #[serde(default)]
    sysctl: Option<String>,
    #[serde(default)]
    text: Option<OneOrMany>,
    #[serde(default)]
    field: Option<RawField>,
    #[serde(default)]
    lines: Option<OneOrMany>,
    #[serde(default)]
    expect: Option<RawExpect>,
    #[serde(default)]
    if_missing: Option<IfMissing>,
    #[serde(default)]
    default: Option<Scalar>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetting {
    component: String,
    #[serde(default)]
    flag: Option<OneOrMany>,
    #[serde(default)]
    flag_key: Option<String>,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    config: Option<OneOrMany>,
    #[serde(default)]
    repeated: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    from: Option<RawSetting>,
    #[serde(default)]
    config_of: Option<String>,
    #[serde(default)]
    paths: Option<OneOrMany>,
    #[serde(default)]
    each: bool,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    paths: OneOrMany,
    key: String,
    #[serde(default = "default_separator")]
    separator: String,
}

fn default_separator() -> String {
    "=".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawExpect {
    Equals(Scalar),
    NotEquals(Scalar),
    OneOf(OneOrMany),
    Contains(OneOrMany),
    NotContains(OneOrMany),
    SubsetOf(OneOrMany),
    AtLeast(Scalar),
    AtMost(Scalar),
    Set,
    Unset,
    StartsWith(OneOrMany),
    NotStartsWith(OneOrMany),
    ModeAtMost(Scalar),
    OwnerIn(OneOrMany),
    Exists,
}

/// A YAML scalar (string, bool or number) kept as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, boolean or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One scalar or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a scalar or a list of scalars")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(Scalar(item)) = seq.next_element::<Scalar>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

// ---------------------------------------------------------------------------
// Loading, merging, validating.

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Result<Self, CatalogError> {
        Self::load(&[("built-in catalog", BUILTIN)])
    }

    /// The built-in catalog with a user's catalog merged over it.
    pub fn builtin_with(origin: &str, user_yaml: &str) -> Result<Self, CatalogError> {
        Self::load(&[("built-in catalog", BUILTIN), (origin, user_yaml)])
    }

    /// Parses catalogs in order, each merged over the previous, and
    /// validates the result.
    pub fn load(documents: &[(&str, &str)]) -> Result<Self, CatalogError> {
        let mut components: BTreeMap<String, Component> = BTreeMap::new();
        let mut checks: Vec<RawCheck> = Vec::new();
        let mut last_origin = "catalog";
        for (origin, text) in documents {
            last_origin = origin;
            let raw = parse_raw(origin, text)?;
            components.extend(raw.components);
            merge_checks(origin, &mut checks, raw.checks)?;
        }
        let validator = Validator {
            origin: last_origin,
            components: &components,
        };
        let checks = checks
            .into_iter()
            .filter(|c| c.enabled != Some(false))
            .map(|c| validator.check(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { components, checks })
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

fn parse_raw(origin: &str, text: &str) -> Result<RawCatalog, CatalogError> {
    if text.trim().is_empty() {
        return Ok(RawCatalog::default());
    }
    serde_saphyr::from_str::<RawCatalog>(text).map_err(|e| CatalogError::Parse {
        origin: origin.to_string(),
        message: e.to_string(),
    })
}

/// Checks with a known id patch it (fields they set replace the old ones,
/// `enabled: false` turns it off); new ids are appended.
fn merge_checks(
    origin: &str,
    checks: &mut Vec<RawCheck>,
    incoming: Vec<RawCheck>,
) -> Result<(), CatalogError> {
    let mut seen = BTreeSet::new();
    for new in incoming {
        if !seen.insert(new.id.clone()) {
            return Err(CatalogError::Invalid {
                origin: origin.to_string(),
                message: format!("check id `{}` appears twice", new.id),
            });
        }
        match checks.iter_mut().find(|c| c.id == new.id) {
            Some(old) => {
                macro_rules! patch {
                    ($($field:ident),*) => {$(
                        if new.$field.is_some() { old.$field = new.$field.clone(); }
                    )*};
                }
                patch!(
                    title,
                    section,
                    level,
                    scored,
                    benchmark,
                    applies_if,
                    test,
                    remediation,
                    enabled
                );
            }
            None => checks.push(new),
        }
    }
    Ok(())
}

struct Validator<'a> {
    origin: &'a str,
    components: &'a BTreeMap<String, Component>,
}

impl Validator<'_> {
    fn fail(&self, id: &str, message: impl std::fmt::Display) -> CatalogError {
        CatalogError::Invalid {
            origin: self.origin.to_string(),
            message: format!("check `{id}`: {message}"),
        }
    }

    fn check(&self, raw: RawCheck) -> Result<Check, CatalogError> {
        let id = raw.id.trim().to_string();
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.fail(&raw.id, "ids must be non-empty without spaces"));
        }
        let required = |value: Option<String>, field: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| self.fail(&id, format!("`{field}` is required for a new check")))
        };
        let title = required(raw.title, "title")?;
        let level = raw
            .level
            .ok_or_else(|| self.fail(&id, "`level` is required for a new check"))?;
        let raw_test = raw
            .test
            .ok_or_else(|| self.fail(&id, "`test` is required for a new check"))?;
        let test = self.test(&id, raw_test, 0)?;
        if let Some(condition) = &raw.applies_if {
            if condition.components.is_empty() && condition.exists.is_empty() {
                return Err(self.fail(&id, "`applies_if` needs components or exists"));
            }
            for component in &condition.components {
                self.component(&id, component)?;
            }
        }
        Ok(Check {
            section: raw.section.unwrap_or_else(|| "custom".into()),
            scored: raw.scored.unwrap_or(true),
            benchmark: raw.benchmark,
            applies_if: raw.applies_if,
            remediation: raw.remediation.unwrap_or_default().trim().to_string(),
            title: title.trim().to_string(),
            id,
            level,
            test,
        })
    }

    fn component(&self, id: &str, name: &str) -> Result<(), CatalogError> {
        if self.components.contains_key(name) {
            Ok(())
        } else {
            Err(self.fail(id, format!("unknown component `{name}`")))
        }
    }

    fn test(&self, id: &str, raw: RawTest, depth: usize) -> Result<Test, CatalogError> {
        if depth > 8 {
            return Err(self.fail(id, "tests nested deeper than 8"));
        }
        let kinds = [
            raw.all.is_some(),
            raw.any.is_some(),
            raw.setting.is_some(),
            raw.file.is_some(),
            raw.sysctl.is_some(),
            raw.text.is_some(),
            raw.field.is_some(),
            raw.lines.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(self.fail(
                id,
                "a test needs exactly one of all, any, setting, file, sysctl, text, field, lines",
            ));
        }
        let group = |items: Vec<RawTest>| -> Result<Vec<Test>, CatalogError> {
            if items.is_empty() {
                return Err(self.fail(id, "`all`/`any` needs at least one test"));
            }
            items
                .into_iter()
                .map(|t| self.test(id, t, depth + 1))
                .collect()
        };
        if let Some(items) = raw.all {
            return Ok(Test::All(group(items)?));
        }
        if let Some(items) = raw.any {
            return Ok(Test::Any(group(items)?));
        }
        let probe = if let Some(setting) = raw.setting {
            Probe::Setting(self.setting(id, setting)?)
        } else if let Some(file) = raw.file {
            Probe::File(self.file(id, file)?)
        } else if let Some(name) = raw.sysctl {
            if name.is_empty() || name.contains("..") || name.contains('/') {
                return Err(self.fail(id, format!("bad sysctl name `{name}`")));
            }
            Probe::Sysctl(name)
        } else if let Some(paths) = raw.text {
            Probe::Text(self.paths(id, paths.0)?)
        } else if let Some(field) = raw.field {
            if field.separator.is_empty() {
                return Err(self.fail(id, "field separator must not be empty"));
            }
            Probe::Field {
                paths: self.paths(id, field.paths.0)?,
                key: field.key,
                separator: field.separator,
            }
        } else if let Some(paths) = raw.lines {
            Probe::Lines(self.paths(id, paths.0)?)
        } else {
            return Err(self.fail(id, "empty test"));
        };
        let raw_expect = raw
            .expect
            .ok_or_else(|| self.fail(id, "a test needs `expect`"))?;
        let expect = self.expect(id, raw_expect)?;
        let is_file = matches!(probe, Probe::File(_));
        if is_file != expect.is_file_expectation() {
            return Err(self.fail(
                id,
                if is_file {
                    "file tests expect mode_at_most, owner_in or exists"
                } else {
                    "mode_at_most, owner_in and exists only apply to file tests"
                },
            ));
        }
        let if_missing = raw.if_missing.unwrap_or(match probe {
            Probe::Setting(_) => IfMissing::Fail,
            _ => IfMissing::NotApplicable,
        });
        Ok(Test::Leaf(Box::new(Leaf {
            probe,
            expect,
            if_missing,
            default: raw.default.map(|s| s.0),
        })))
    }

    fn paths(&self, id: &str, paths: Vec<String>) -> Result<Vec<String>, CatalogError> {
        if paths.is_empty() {
            return Err(self.fail(id, "at least one path is required"));
        }
        for path in &paths {
            if !path.starts_with('/') {
                return Err(self.fail(id, format!("path `{path}` must be absolute")));
            }
        }
        Ok(paths)
    }

    fn setting(&self, id: &str, raw: RawSetting) -> Result<SettingRef, CatalogError> {
        self.component(id, &raw.component)?;
        let flags: Vec<String> = raw
            .flag
            .map(|f| f.0)
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.trim_start_matches('-').to_string())
            .collect();
        if flags.iter().any(String::is_empty) {
            return Err(self.fail(id, "empty flag name"));
        }
        let config = raw
            .config
            .map(|c| c.0)
            .unwrap_or_default()
            .iter()
            .map(|p| KeyPath::parse(p).map_err(|e| self.fail(id, e)))
            .collect::<Result<Vec<_>, _>>()?;
        if flags.is_empty() && config.is_empty() && raw.env.is_none() {
            return Err(self.fail(id, "a setting needs a flag, env or config key"));
        }
        if !config.is_empty()
            && self
                .components
                .get(&raw.component)
                .and_then(|c| c.config.as_ref())
                .is_none()
        {
            return Err(self.fail(
                id,
                format!("component `{}` has no configuration file", raw.component),
            ));
        }
        Ok(SettingRef {
            component: raw.component,
            flags,
            flag_key: raw.flag_key,
            env: raw.env,
            config,
            repeated: raw.repeated,
        })
    }

    fn file(&self, id: &str, raw: RawFile) -> Result<FileTarget, CatalogError> {
        let from = raw.from.map(|s| self.setting(id, s)).transpose()?;
        if let Some(component) = &raw.config_of {
            self.component(id, component)?;
        }
        let paths = match raw.paths {
            Some(paths) => self.paths(id, paths.0)?,
            None => Vec::new(),
        };
        if from.is_none() && raw.config_of.is_none() && paths.is_empty() {
            return Err(self.fail(id, "a file test needs paths, from or config_of"));
        }
        Ok(FileTarget {
            from,
            config_of: raw.config_of,
            paths,
            each: raw.each,
            recursive: raw.recursive,
            name: raw.name,
        })
    }

    fn expect(&self, id: &str, raw: RawExpect) -> Result<Expect, CatalogError> {
        let number = |s: Scalar| {
            crate::eval::parse_quantity(&s.0)
                .ok_or_else(|| self.fail(id, format!("`{}` is not a number or duration", s.0)))
        };
        Ok(match raw {
            RawExpect::Equals(s) => Expect::Equals(s.0),
            RawExpect::NotEquals(s) => Expect::NotEquals(s.0),
            RawExpect::OneOf(v) => Expect::OneOf(v.0),
            RawExpect::Contains(v) => Expect::Contains(v.0),
            RawExpect::NotContains(v) => Expect::NotContains(v.0),
            RawExpect::SubsetOf(v) => Expect::SubsetOf(v.0),
            RawExpect::AtLeast(s) => Expect::AtLeast(number(s)?),
            RawExpect::AtMost(s) => Expect::AtMost(number(s)?),
            RawExpect::Set => Expect::Set,
            RawExpect::Unset => Expect::Unset,
            RawExpect::StartsWith(v) => Expect::StartsWith(v.0),
            RawExpect::NotStartsWith(v) => Expect::NotStartsWith(v.0),
            RawExpect::ModeAtMost(s) => Expect::ModeAtMost(
                u32::from_str_radix(s.0.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        self.fail(
                            id,
                            format!("mode `{}` is not an octal mode like \"600\"", s.0),
                        )
                    })?,
            ),
            RawExpect::OwnerIn(v) => Expect::OwnerIn(v.0),
            RawExpect::Exists => Expect::Exists,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid_with_unique_ids() {
        let catalog = Catalog::builtin().unwrap();
        let mut ids = BTreeSet::new();
        for check in &catalog.checks {
            assert!(ids.insert(check.id.clone()), "duplicate id {}", check.id);
            assert!(
                !check.remediation.is_empty(),
                "{} has no remediation",
                check.id
            );
        }
        assert!(catalog.checks.len() > 80, "{}", catalog.checks.len());
    }

    #[test]
    fn user_catalog_patches_adds_and_disables() {
        let user = r#"
checks:
  - id: k8s-4.2.1
    level: low
  - id: ssh-x11-forwarding
    enabled: false
  - id: site-motd
    title: A message of the day exists
    level: info
    scored: false
    test:
      file: { paths: /etc/motd }
      expect: exists
"#;
        let catalog = Catalog::builtin_with("site.yaml", user).unwrap();
        let patched = catalog.check("k8s-4.2.1").unwrap();
        assert_eq!(patched.level, Level::Low);
        assert!(patched.title.contains("anonymous-auth"));
        assert!(catalog.check("ssh-x11-forwarding").is_none());
        assert_eq!(catalog.check("site-motd").unwrap().section, "custom");
    }

    #[test]
    fn invalid_catalogs_name_the_problem() {
        let cases = [
            ("checks: [", "not valid YAML"),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n",
                "`test` is required",
            ),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n    test: {sysctl: a.b}\n",
                "needs `expect`",
            ),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n    test: {sysctl: a.b, expect: {mode_at_most: '600'}}\n",
                "only apply to file tests",
            ),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n    test: {setting: {component: nope, flag: a}, expect: set}\n",
                "unknown component",
            ),
            (
                "checks:\n  - id: x\n    title: t\n    level: severe\n    test: {sysctl: a, expect: set}\n",
                "not valid YAML",
            ),
            ("checks:\n  - id: x\n    bogus: 1\n", "not valid YAML"),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n    test: {file: {paths: relative}, expect: exists}\n",
                "must be absolute",
            ),
            (
                "checks:\n  - id: x\n    title: t\n    level: high\n    test: {sysctl: a, expect: {at_most: lots}}\n",
                "not a number",
            ),
        ];
        for (yaml, expected) in cases {
            let error = Catalog::builtin_with("user.yaml", yaml)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{yaml:?}: {error}");
            assert!(error.contains("user.yaml"), "{error}");
        }
    }
}
