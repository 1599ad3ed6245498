//! The evaluator: one generic interpreter of catalog tests over a handful of
//! probe kinds (setting, file, sysctl, text, field, lines), combined with
//! `all` / `any`. No check has code of its own.

use crate::catalog::{Check, Condition, Expect, FileTarget, IfMissing, Leaf, Probe, Test};
use crate::fsroot::FileStat;
use crate::node::{ConfigState, Node, SettingValue, absolute};
use crate::report::{CheckResult, Status};

/// Files a recursive file probe looks at, at most.
const MAX_WALKED_FILES: usize = 10_000;
/// Files listed by name in a result's "found" text.
const MAX_LISTED_FILES: usize = 12;

/// A test's outcome before scoring turns it into a [`Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    NotApplicable,
    Error,
}

impl From<IfMissing> for Outcome {
    fn from(value: IfMissing) -> Self {
        match value {
            IfMissing::Pass => Self::Pass,
            IfMissing::Fail => Self::Fail,
            IfMissing::NotApplicable => Self::NotApplicable,
        }
    }
}

/// What evaluating a test produced.
#[derive(Debug, Clone)]
struct Evaluation {
    outcome: Outcome,
    read: Vec<String>,
    expected: String,
    found: Vec<String>,
}

/// Runs one check against the node.
pub fn run_check(node: &Node<'_>, check: &Check) -> CheckResult {
    let evaluation = match check
        .applies_if
        .as_ref()
        .and_then(|condition| not_applicable_because(node, condition))
    {
        Some(reason) => Evaluation {
            outcome: Outcome::NotApplicable,
            read: Vec::new(),
            expected: describe_test(&check.test),
            found: vec![reason],
        },
        None => evaluate(node, &check.test),
    };
    let status = match evaluation.outcome {
        Outcome::Pass => Status::Pass,
        Outcome::Fail if check.scored => Status::Fail,
        Outcome::Fail => Status::Warn,
        Outcome::NotApplicable => Status::NotApplicable,
        Outcome::Error => Status::Error,
    };
    let mut read = evaluation.read;
    dedup_in_order(&mut read);
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        section: check.section.clone(),
        level: check.level,
        scored: check.scored,
        benchmark: check.benchmark.clone(),
        status,
        read,
        expected: evaluation.expected,
        found: evaluation.found.join("; "),
        remediation: check.remediation.clone(),
    }
}

fn not_applicable_because(node: &Node<'_>, condition: &Condition) -> Option<String> {
    if condition.components.iter().any(|c| node.has_component(c))
        || condition
            .exists
            .iter()
            .any(|path| !node.root.glob(path).is_empty())
    {
        return None;
    }
    let mut missing: Vec<String> = condition
        .components
        .iter()
        .map(|c| format!("no {c}"))
        .collect();
    missing.extend(condition.exists.iter().map(|p| format!("no {p}")));
    Some(format!("{} on this node", missing.join(", ")))
}

fn evaluate(node: &Node<'_>, test: &Test) -> Evaluation {
    match test {
        Test::Leaf(leaf) => evaluate_leaf(node, leaf),
        Test::All(tests) | Test::Any(tests) => {
            let all = matches!(test, Test::All(_));
            let parts: Vec<Evaluation> = tests.iter().map(|t| evaluate(node, t)).collect();
            let outcomes: Vec<Outcome> = parts.iter().map(|p| p.outcome).collect();
            let has = |o: Outcome| outcomes.contains(&o);
            let outcome = if all {
                if has(Outcome::Fail) {
                    Outcome::Fail
                } else if has(Outcome::Error) {
                    Outcome::Error
                } else if has(Outcome::Pass) {
                    Outcome::Pass
                } else {
                    Outcome::NotApplicable
                }
            } else if has(Outcome::Pass) {
                Outcome::Pass
            } else if has(Outcome::Error) {
                Outcome::Error
            } else if has(Outcome::Fail) {
                Outcome::Fail
            } else {
                Outcome::NotApplicable
            };
            let mut read = Vec::new();
            let mut found = Vec::new();
            for part in parts {
                read.extend(part.read);
                found.extend(part.found);
            }
            Evaluation {
                outcome,
                read,
                expected: describe_test(test),
                found,
            }
        }
    }
}

fn describe_test(test: &Test) -> String {
    match test {
        Test::Leaf(leaf) => format!(
            "{} {}",
            describe_probe(&leaf.probe),
            describe_expect(&leaf.expect)
        ),
        Test::All(tests) | Test::Any(tests) => {
            let joiner = if matches!(test, Test::All(_)) {
                " and "
            } else {
                " or "
            };
            tests
                .iter()
                .map(|t| match t {
                    Test::Leaf(_) => describe_test(t),
                    _ => format!("({})", describe_test(t)),
                })
                .collect::<Vec<_>>()
                .join(joiner)
        }
    }
}

fn describe_probe(probe: &Probe) -> String {
    match probe {
        Probe::Setting(s) => {
            let mut names: Vec<String> = Vec::new();
            if !s.flags.is_empty() {
                let flags = s.dashed_flags();
                names.push(match &s.flag_key {
                    Some(key) => format!("{flags} {key}"),
                    None => flags,
                });
            }
            if let Some(env) = &s.env {
                names.push(format!("${env}"));
            }
            names.extend(s.config.iter().map(ToString::to_string));
            format!("{} {}", s.component, names.join(" / "))
        }
        Probe::File(target) => describe_file_target(target),
        Probe::Sysctl(name) => format!("sysctl {name}"),
        Probe::Text(paths) => format!("content of {}", paths.join(" or ")),
        Probe::Field { paths, key, .. } => format!("{key} in {}", paths.join(" or ")),
        Probe::Lines(paths) => format!("number of lines of {}", paths.join(" or ")),
    }
}

fn describe_file_target(target: &FileTarget) -> String {
    let mut parts = Vec::new();
    if let Some(from) = &target.from {
        let flag = from
            .flags
            .first()
            .map(|f| format!("--{f}"))
            .unwrap_or_default();
        parts.push(format!("file named by {} {flag}", from.component));
    }
    if let Some(component) = &target.config_of {
        parts.push(format!("{component} configuration file"));
    }
    if !target.paths.is_empty() {
        let what = if target.recursive {
            format!(
                "files{} under {}",
                target
                    .name
                    .as_deref()
                    .map(|n| format!(" named {n}"))
                    .unwrap_or_default(),
                target.paths.join(", ")
            )
        } else if target.each {
            format!("every {}", target.paths.join(", "))
        } else {
            target.paths.join(" or ")
        };
        parts.push(what);
    }
    parts.join(", else ")
}

fn describe_expect(expect: &Expect) -> String {
    match expect {
        Expect::Equals(v) => format!("is {v}"),
        Expect::NotEquals(v) => format!("is not {v}"),
        Expect::OneOf(v) => format!("is one of {}", v.join(", ")),
        Expect::Contains(v) => format!("contains {}", v.join(" or ")),
        Expect::NotContains(v) => format!("does not contain {}", v.join(", ")),
        Expect::SubsetOf(v) => format!("only lists {}", v.join(", ")),
        Expect::AtLeast(n) => format!("is at least {n}"),
        Expect::AtMost(n) => format!("is at most {n}"),
        Expect::Set => "is set".into(),
        Expect::Unset => "is not set".into(),
        Expect::StartsWith(v) => format!("starts with {}", v.join(" or ")),
        Expect::NotStartsWith(v) => format!("does not start with {}", v.join(" or ")),
        Expect::ModeAtMost(mode) => format!("has mode {mode:o} or stricter"),
        Expect::OwnerIn(v) => format!("is owned by {}", v.join(" or ")),
        Expect::Exists => "exists".into(),
    }
}

fn evaluate_leaf(node: &Node<'_>, leaf: &Leaf) -> Evaluation {
    let expected = format!(
        "{} {}",
        describe_probe(&leaf.probe),
        describe_expect(&leaf.expect)
    );
    let (outcome, read, found) = match &leaf.probe {
        Probe::Setting(setting) => {
            let mut read: Vec<String> = node.flags_origin(&setting.component).into_iter().collect();
            if let Some(path) = node
                .component(&setting.component)
                .and_then(|c| c.config.path().map(str::to_string))
                .filter(|_| !setting.config.is_empty())
            {
                read.push(path);
            }
            let (outcome, found) = match node.setting(setting) {
                SettingValue::ComponentAbsent(why) => (Outcome::NotApplicable, why),
                SettingValue::Error(message) => (Outcome::Error, message),
                SettingValue::Found { values, source } => {
                    let (outcome, note) = judge_values(&values, &leaf.expect);
                    (outcome, format!("{} ({source}){note}", values.join(",")))
                }
                SettingValue::Missing { looked } => match &leaf.default {
                    Some(default) => {
                        let (outcome, note) =
                            judge_values(std::slice::from_ref(default), &leaf.expect);
                        (outcome, format!("not set, default {default}{note}"))
                    }
                    None => (
                        missing_outcome(leaf),
                        format!("not set (looked at {})", looked.join("; ")),
                    ),
                },
            };
            (outcome, read, found)
        }
        Probe::File(target) => evaluate_files(node, leaf, target),
        Probe::Sysctl(name) => {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            let value = read_value(node, std::slice::from_ref(&path), |text| {
                Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
            });
            judge_read(leaf, value, &format!("sysctl {name}"))
        }
        Probe::Text(paths) => {
            let value = read_value(node, paths, |text| Some(text.trim().to_string()));
            judge_read(leaf, value, "content")
        }
        Probe::Field {
            paths,
            key,
            separator,
        } => {
            let value = read_value(node, paths, |text| field_value(text, key, separator));
            judge_read(leaf, value, key)
        }
        Probe::Lines(paths) => {
            let value = read_value(node, paths, |text| {
                Some(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .count()
                        .to_string(),
                )
            });
            judge_read(leaf, value, "lines")
        }
    };
    Evaluation {
        outcome,
        read,
        expected,
        found: vec![found],
    }
}

/// The outcome of a leaf whose value is not set.
fn missing_outcome(leaf: &Leaf) -> Outcome {
    match leaf.expect {
        Expect::Set | Expect::Exists => Outcome::Fail,
        Expect::Unset => Outcome::Pass,
        _ => leaf.if_missing.into(),
    }
}

/// Reading a file-backed value: the file read, and the value it holds.
enum ReadValue {
    Found {
        path: String,
        value: String,
    },
    /// The file exists but holds no such value.
    NoValue {
        path: String,
    },
    NoFile {
        looked: Vec<String>,
    },
    Error {
        path: String,
        message: String,
    },
}

fn read_value(
    node: &Node<'_>,
    paths: &[String],
    extract: impl Fn(&str) -> Option<String>,
) -> ReadValue {
    for pattern in paths {
        for path in node.root.glob(pattern) {
            return match node.root.read_text(&path) {
                Ok(text) => match extract(&text) {
                    Some(value) => ReadValue::Found { path, value },
                    None => ReadValue::NoValue { path },
                },
                Err(e) if e.is_not_found() => continue,
                Err(e) => ReadValue::Error {
                    path,
                    message: e.to_string(),
                },
            };
        }
        // A loop or unreadable directory on the way makes glob see nothing;
        // name the error instead of calling the file missing.
        if !crate::glob::has_wildcard(pattern)
            && let Err(e) = node.root.stat(pattern)
            && !e.is_not_found()
        {
            return ReadValue::Error {
                path: pattern.clone(),
                message: e.to_string(),
            };
        }
    }
    ReadValue::NoFile {
        looked: paths.to_vec(),
    }
}

fn judge_read(leaf: &Leaf, value: ReadValue, what: &str) -> (Outcome, Vec<String>, String) {
    match value {
        ReadValue::Found { path, value } => {
            let (outcome, note) = judge_values(std::slice::from_ref(&value), &leaf.expect);
            (
                outcome,
                vec![path.clone()],
                format!("{value} ({path}){note}"),
            )
        }
        ReadValue::NoValue { path } => match &leaf.default {
            Some(default) => {
                let (outcome, note) = judge_values(std::slice::from_ref(default), &leaf.expect);
                (
                    outcome,
                    vec![path],
                    format!("not set, default {default}{note}"),
                )
            }
            None => (
                missing_outcome(leaf),
                vec![path.clone()],
                format!("no {what} in {path}"),
            ),
        },
        ReadValue::NoFile { looked } => (
            match leaf.expect {
                Expect::Unset => Outcome::Pass,
                _ => leaf.if_missing.into(),
            },
            Vec::new(),
            format!("{} not found", looked.join(", ")),
        ),
        ReadValue::Error { path, message } => (Outcome::Error, vec![path], message),
    }
}

/// The value of `key` in `key<separator>value` lines (surrounding quotes
/// removed); the last line wins, as shell-style files are sourced.
fn field_value(text: &str, key: &str, separator: &str) -> Option<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(separator))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .next_back()
}

/// Whether the values meet the expectation, with a note saying why not.
fn judge_values(values: &[String], expect: &Expect) -> (Outcome, String) {
    let ok = |b: bool| if b { Outcome::Pass } else { Outcome::Fail };
    let numbers = || {
        values
            .iter()
            .map(|v| parse_quantity(v))
            .collect::<Option<Vec<f64>>>()
    };
    match expect {
        Expect::Equals(x) => (ok(values.iter().all(|v| same_value(v, x))), String::new()),
        Expect::NotEquals(x) => (ok(!values.iter().any(|v| same_value(v, x))), String::new()),
        Expect::OneOf(set) => (
            ok(values.iter().all(|v| set.iter().any(|x| same_value(v, x)))),
            String::new(),
        ),
        Expect::Contains(subs) => (
            ok(values
                .iter()
                .any(|v| subs.iter().any(|s| v.contains(s.as_str())))),
            String::new(),
        ),
        Expect::NotContains(subs) => {
            let bad: Vec<&str> = subs
                .iter()
                .filter(|s| values.iter().any(|v| v.contains(s.as_str())))
                .map(String::as_str)
                .collect();
            if bad.is_empty() {
                (Outcome::Pass, String::new())
            } else {
                (Outcome::Fail, format!(" — contains {}", bad.join(", ")))
            }
        }
        Expect::SubsetOf(allowed) => {
            let extra: Vec<&str> = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|e| !e.is_empty() && !allowed.iter().any(|a| a == e))
                .collect();
            if extra.is_empty() {
                (Outcome::Pass, String::new())
            } else {
                (
                    Outcome::Fail,
                    format!(" — not allowed: {}", extra.join(", ")),
                )
            }
        }
        Expect::AtLeast(min) | Expect::AtMost(min) => match numbers() {
            Some(found) => {
                let at_least = matches!(expect, Expect::AtLeast(_));
                (
                    ok(found
                        .iter()
                        .all(|n| if at_least { n >= min } else { n <= min })),
                    String::new(),
                )
            }
            None => (Outcome::Fail, " — not a number".into()),
        },
        Expect::Set => (Outcome::Pass, String::new()),
        Expect::Unset => (Outcome::Fail, String::new()),
        Expect::StartsWith(prefixes) => (
            ok(values
                .iter()
                .all(|v| prefixes.iter().any(|p| v.starts_with(p.as_str())))),
            String::new(),
        ),
        Expect::NotStartsWith(prefixes) => (
            ok(!values
                .iter()
                .any(|v| prefixes.iter().any(|p| v.starts_with(p.as_str())))),
            String::new(),
        ),
        // File expectations never reach here (validation keeps them on
        // file probes).
        Expect::ModeAtMost(_) | Expect::OwnerIn(_) | Expect::Exists => {
            (Outcome::Error, " — not a file test".into())
        }
    }
}

/// Equality as checks mean it: numbers and durations by value (`0` is
/// `0s`), anything else ignoring ASCII case (`False`, `false`).
fn same_value(found: &str, expected: &str) -> bool {
    match (parse_quantity(found), parse_quantity(expected)) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => found.trim().eq_ignore_ascii_case(expected.trim()),
    }
}

/// A number, or a duration in Go (`4h0m0s`, `1.5s`) or sshd (`1m30s`, `2H`)
/// spelling, in seconds.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest.get(..unit_len)?;
        rest = rest.get(unit_len..)?;
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "S" | "" => 1.0,
            "m" | "M" => 60.0,
            "h" | "H" => 3600.0,
            "d" | "D" => 86_400.0,
            "w" | "W" => 604_800.0,
            _ => return None,
        };
        total += number * scale;
    }
    Some(total)
}

fn evaluate_files(
    node: &Node<'_>,
    leaf: &Leaf,
    target: &FileTarget,
) -> (Outcome, Vec<String>, String) {
    let paths = match file_targets(node, target) {
        Targets::Files(paths) => paths,
        Targets::NotApplicable(why) => return (Outcome::NotApplicable, Vec::new(), why),
        Targets::Error(message) => return (Outcome::Error, Vec::new(), message),
        Targets::Missing(looked) => {
            return (
                missing_outcome(leaf),
                Vec::new(),
                format!("no file (looked at {})", looked.join(", ")),
            );
        }
    };
    let mut outcome = Outcome::Pass;
    let mut notes = Vec::new();
    let mut failing = 0usize;
    for path in &paths {
        let (file_outcome, note) = match node.root.stat(path) {
            Ok(stat) => judge_file(node, &stat, &leaf.expect),
            Err(e) if e.is_not_found() => (missing_outcome(leaf), "missing".into()),
            Err(e) => (Outcome::Error, e.to_string()),
        };
        outcome = match (outcome, file_outcome) {
            (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
            (Outcome::Error, _) | (_, Outcome::Error) => Outcome::Error,
            (Outcome::Pass, Outcome::Pass) => Outcome::Pass,
            (a, Outcome::NotApplicable) => a,
            (Outcome::NotApplicable, b) => b,
        };
        // With many files, list the failing ones first and say how many.
        if file_outcome != Outcome::Pass || paths.len() <= MAX_LISTED_FILES {
            if notes.len() < MAX_LISTED_FILES {
                notes.push(format!("{path}: {note}"));
            }
            if file_outcome != Outcome::Pass {
                failing += 1;
            }
        }
    }
    let mut found = notes.join(", ");
    if paths.len() > MAX_LISTED_FILES {
        found = format!("{} files, {failing} not as expected: {found}", paths.len());
        if failing == 0 {
            found = format!("{} files, all as expected", paths.len());
        }
    }
    (outcome, paths, found)
}

fn judge_file(node: &Node<'_>, stat: &FileStat, expect: &Expect) -> (Outcome, String) {
    let owner = node.owner_name(stat.uid, stat.gid);
    let note = format!("mode {:o}, owner {owner}", stat.mode);
    let outcome = match expect {
        Expect::ModeAtMost(max) => stat.mode & !max == 0,
        Expect::OwnerIn(owners) => owners.contains(&owner),
        Expect::Exists => true,
        _ => return (Outcome::Error, "not a file expectation".into()),
    };
    (
        if outcome {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        note,
    )
}

enum Targets {
    Files(Vec<String>),
    Missing(Vec<String>),
    NotApplicable(String),
    Error(String),
}

fn file_targets(node: &Node<'_>, target: &FileTarget) -> Targets {
    let mut looked = Vec::new();
    // Without the component, its default paths may still hold the file
    // (kube-bench checks a proxy kubeconfig that exists whoever uses it).
    let mut absent = None;
    if let Some(from) = &target.from {
        match node.setting(from) {
            SettingValue::Found { values, .. } => {
                return Targets::Files(values.iter().map(|v| absolute(v)).collect());
            }
            SettingValue::ComponentAbsent(why) => absent = Some(why),
            SettingValue::Error(message) => return Targets::Error(message),
            SettingValue::Missing { looked: l } => looked.extend(l),
        }
    }
    if let Some(component) = &target.config_of {
        let Some(state) = node.component(component) else {
            return Targets::Error(format!("unknown component {component}"));
        };
        if state.found_by.is_none() {
            return Targets::NotApplicable(format!("no {component} on this node"));
        }
        match &state.config {
            ConfigState::NotFound { looked: l } => looked.extend(l.iter().cloned()),
            ConfigState::NotConfigured => {}
            other => {
                if let Some(path) = other.path() {
                    return Targets::Files(vec![path.to_string()]);
                }
            }
        }
    }
    let mut files = Vec::new();
    for pattern in &target.paths {
        let matches = node.root.glob(pattern);
        if matches.is_empty() {
            if !crate::glob::has_wildcard(pattern)
                && let Err(e) = node.root.stat(pattern)
                && !e.is_not_found()
            {
                return Targets::Error(e.to_string());
            }
            looked.push(pattern.clone());
            continue;
        }
        files.extend(matches);
        if !target.each && !target.recursive {
            break;
        }
    }
    if target.recursive {
        let mut under = Vec::new();
        for dir in &files {
            match node.root.walk_files(dir, MAX_WALKED_FILES) {
                Ok(found) => under.extend(found.into_iter().filter(|path| {
                    target.name.as_deref().is_none_or(|name| {
                        crate::glob::matches(name, path.rsplit('/').next().unwrap_or(path))
                    })
                })),
                Err(e) => return Targets::Error(e.to_string()),
            }
        }
        files = under;
    }
    if files.is_empty() {
        match absent {
            Some(why) => Targets::NotApplicable(why),
            None => Targets::Missing(looked),
        }
    } else {
        if !target.each && !target.recursive {
            files.truncate(1);
        }
        Targets::Files(files)
    }
}

fn dedup_in_order(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_equality() {
        assert_eq!(parse_quantity("0"), Some(0.0));
        assert_eq!(parse_quantity("4h0m0s"), Some(14_400.0));
        assert_eq!(parse_quantity("1m30s"), Some(90.0));
        assert_eq!(parse_quantity("5m"), Some(300.0));
        assert_eq!(parse_quantity("1.5s"), Some(1.5));
        assert_eq!(parse_quantity("yes"), None);
        assert_eq!(parse_quantity("10x"), None);
        assert_eq!(parse_quantity("inf"), None);
        assert!(same_value("0s", "0"));
        assert!(same_value("False", "false"));
        assert!(!same_value("5m", "0"));
    }

    #[test]
    fn judging_values() {
        let v = |items: &[&str]| items.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        let pass = |values: &[&str], e: Expect| judge_values(&v(values), &e).0 == Outcome::Pass;
        assert!(pass(&["Webhook"], Expect::NotContains(v(&["AlwaysAllow"]))));
        assert!(!pass(
            &["Node,AlwaysAllow"],
            Expect::NotContains(v(&["AlwaysAllow"]))
        ));
        assert!(pass(&["A,B"], Expect::SubsetOf(v(&["A", "B", "C"]))));
        assert!(!pass(&["A", "D"], Expect::SubsetOf(v(&["A", "B"]))));
        assert!(pass(&["3"], Expect::AtMost(4.0)));
        assert!(!pass(&["6"], Expect::AtMost(4.0)));
        assert!(!pass(&["lots"], Expect::AtLeast(1.0)));
        assert!(pass(
            &["unix:///run/docker.sock"],
            Expect::NotStartsWith(v(&["tcp://"]))
        ));
        assert!(!pass(
            &["unix:///x", "tcp://0.0.0.0:2375"],
            Expect::NotStartsWith(v(&["tcp://"]))
        ));
        assert!(pass(
            &["127.0.0.1:10249"],
            Expect::Contains(v(&["127.0.0.1"]))
        ));
        assert!(pass(
            &["no"],
            Expect::OneOf(v(&["no", "prohibit-password"]))
        ));
    }

    #[test]
    fn fields_of_shell_style_files() {
        let text = "# SELINUX=disabled\nSELINUX=\"enforcing\"\nSELINUXTYPE=targeted\n";
        assert_eq!(
            field_value(text, "SELINUX", "=").as_deref(),
            Some("enforcing")
        );
        let status = "Name:\tinit\nSeccomp:\t0\nSeccomp_filters:\t0\n";
        assert_eq!(field_value(status, "Seccomp", ":").as_deref(), Some("0"));
        assert_eq!(field_value(status, "Missing", ":"), None);
    }
}
