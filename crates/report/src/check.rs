//! Renderers for `portcullis check`: workload violations as an aligned
//! table, JSON, SARIF 2.1.0 (each result at the file, line and column of the
//! offending field) and JUnit XML (one test case per workload).
//!
//! Each workload is judged with the settings of its namespace, as the
//! webhook would judge it; workloads in a namespace the policy exempts are
//! listed as exempt in every format (a note in the table, `exempt: true` in
//! JSON, a tool notification in SARIF, a skipped test case in JUnit).

use std::collections::BTreeMap;

use portcullis_kube::{
    DocumentError, PodSecurity, RuleRef, Severity, SkippedObject, Violation, Workload,
};
use serde::Serialize;

use crate::sarif;
use crate::table::Table;

/// A workload and what is wrong with it.
#[derive(Debug, Clone)]
pub struct CheckedWorkload {
    pub workload: Workload,
    /// The namespace it was judged for: its `metadata.namespace`, else the
    /// one given on the command line, else `default`.
    pub namespace: String,
    /// The Pod Security Standards level and version applied; `None` when the
    /// namespace is exempt by policy and the workload was not judged.
    pub pod_security: Option<PodSecurity>,
    /// Empty for an exempt workload.
    pub violations: Vec<Violation>,
}

impl CheckedWorkload {
    /// Whether the policy exempts the workload's namespace (not judged).
    pub fn is_exempt(&self) -> bool {
        self.pod_security.is_none()
    }
}

/// Everything one `portcullis check` run found.
#[derive(Debug, Clone, Default)]
pub struct CheckRun {
    /// The Pod Security Standards level and version applied in namespaces
    /// without a level of their own (`restricted:latest`).
    pub pod_security: String,
    pub workloads: Vec<CheckedWorkload>,
    /// Objects of other kinds, not checked.
    pub skipped: Vec<SkippedObject>,
    /// Documents that could not be read.
    pub errors: Vec<DocumentError>,
}

impl CheckRun {
    /// Number of violations over all workloads.
    pub fn violation_count(&self) -> usize {
        self.workloads.iter().map(|w| w.violations.len()).sum()
    }

    /// Number of workloads in exempt namespaces, not judged.
    pub fn exempt_count(&self) -> usize {
        self.workloads.iter().filter(|w| w.is_exempt()).count()
    }

    /// Number of violations at or above `severity`.
    pub fn violations_at_least(&self, severity: Severity) -> usize {
        self.workloads
            .iter()
            .flat_map(|w| &w.violations)
            .filter(|v| v.severity >= severity)
            .count()
    }
}

/// Why an exempt workload was not judged, in words.
fn exempt_reason(checked: &CheckedWorkload) -> String {
    format!(
        "namespace {} is exempt by policy (admission.exemptNamespaces): not judged",
        checked.namespace
    )
}

/// `restricted:latest`, or `restricted:latest (2), baseline:latest (1)` when
/// namespaces were judged at different levels.
fn levels_applied(run: &CheckRun) -> String {
    let mut levels: BTreeMap<String, usize> = BTreeMap::new();
    for level in run.workloads.iter().filter_map(|w| w.pod_security) {
        *levels.entry(level.to_string()).or_default() += 1;
    }
    if levels.len() <= 1 {
        return levels
            .into_keys()
            .next()
            .unwrap_or_else(|| run.pod_security.clone());
    }
    let list: Vec<String> = levels
        .iter()
        .map(|(level, n)| format!("{level} ({n})"))
        .collect();
    list.join(", ")
}

fn file_of(workload: &Workload) -> &str {
    workload.origin.as_ref().map_or("", |o| o.file.as_str())
}

/// `file:line` of a workload's object (just the file when unknown).
fn workload_place(workload: &Workload) -> String {
    let file = file_of(workload);
    match workload.locate(&portcullis_kube::FieldPath::root()) {
        Some(p) => format!("{file}:{}", p.line),
        None => file.to_owned(),
    }
}

/// `file:line:col` of a violation (or of its workload when no field is known).
fn place(workload: &Workload, violation: &Violation) -> String {
    let file = file_of(workload);
    match violation.position {
        Some(p) => format!("{file}:{}:{}", p.line, p.column),
        None => file.to_owned(),
    }
}

/// The aligned text table, then a summary line.
pub fn table(run: &CheckRun) -> String {
    let mut table = Table::new(["LOCATION", "WORKLOAD", "SEVERITY", "RULE", "MESSAGE"]);
    for checked in &run.workloads {
        // Rows in the order of the file, so they read top to bottom.
        let mut violations: Vec<&Violation> = checked.violations.iter().collect();
        violations.sort_by_key(|v| v.position);
        for v in violations {
            table.row([
                place(&checked.workload, v),
                checked.workload.display_name(),
                v.severity.to_string(),
                v.rule.id(),
                v.message.clone(),
            ]);
        }
    }
    let mut out = if table.is_empty() {
        String::new()
    } else {
        table.render()
    };
    if !out.is_empty() {
        out.push('\n');
    }
    // Workloads judged at another level than the run's, and exempt ones,
    // each get a line saying so: the same object reads differently per namespace.
    for checked in &run.workloads {
        let name = checked.workload.display_name();
        let file = workload_place(&checked.workload);
        match checked.pod_security {
            None => out.push_str(&format!(
                "note: {file}: {name}: {}\n",
                exempt_reason(checked)
            )),
            Some(level) if level.to_string() != run.pod_security => out.push_str(&format!(
                "note: {file}: {name}: judged at {level} for namespace {}\n",
                checked.namespace
            )),
            Some(_) => {}
        }
    }
    let failing = run
        .workloads
        .iter()
        .filter(|w| !w.violations.is_empty())
        .count();
    let judged = run.workloads.len() - run.exempt_count();
    out.push_str(&format!(
        "{} workload{} checked at {}: {} violation{} in {} workload{}",
        judged,
        plural(judged),
        levels_applied(run),
        run.violation_count(),
        plural(run.violation_count()),
        failing,
        plural(failing),
    ));
    if run.exempt_count() > 0 {
        out.push_str(&format!(
            "; {} exempt (namespace exempt by policy)",
            run.exempt_count()
        ));
    }
    if !run.skipped.is_empty() {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &run.skipped {
            *kinds.entry(s.kind.as_str()).or_default() += 1;
        }
        let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!("; skipped (not workloads): {}", list.join(", ")));
    }
    if !run.errors.is_empty() {
        out.push_str(&format!(
            "; {} unreadable document{}",
            run.errors.len(),
            plural(run.errors.len())
        ));
    }
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRun<'a> {
    pod_security: &'a str,
    summary: JsonSummary,
    workloads: Vec<JsonWorkload<'a>>,
    skipped: Vec<JsonSkipped<'a>>,
    errors: Vec<JsonError<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSummary {
    workloads: usize,
    failing_workloads: usize,
    exempt: usize,
    violations: usize,
    skipped: usize,
    errors: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonWorkload<'a> {
    file: &'a str,
    document: Option<usize>,
    api_version: &'a str,
    kind: &'a str,
    name: Option<&'a str>,
    /// The namespace judged for (metadata, `--namespace` or `default`).
    namespace: &'a str,
    /// The level applied; `null` when exempt.
    pod_security: Option<String>,
    exempt: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exempt_reason: Option<String>,
    violations: Vec<JsonViolation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonViolation<'a> {
    rule: String,
    severity: Severity,
    message: &'a str,
    container: Option<&'a str>,
    field: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    fields: &'a [portcullis_kube::LocatedField],
    remediation: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSkipped<'a> {
    file: &'a str,
    document: usize,
    api_version: &'a str,
    kind: &'a str,
    name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonError<'a> {
    file: &'a str,
    document: usize,
    line: Option<u32>,
    column: Option<u32>,
    message: &'a str,
}

/// The run as pretty JSON.
pub fn json(run: &CheckRun) -> String {
    let doc = JsonRun {
        pod_security: &run.pod_security,
        summary: JsonSummary {
            workloads: run.workloads.len(),
            failing_workloads: run
                .workloads
                .iter()
                .filter(|w| !w.violations.is_empty())
                .count(),
            exempt: run.exempt_count(),
            violations: run.violation_count(),
            skipped: run.skipped.len(),
            errors: run.errors.len(),
        },
        workloads: run
            .workloads
            .iter()
            .map(|c| JsonWorkload {
                file: file_of(&c.workload),
                document: c.workload.origin.as_ref().map(|o| o.document),
                api_version: &c.workload.api_version,
                kind: c.workload.kind.as_str(),
                name: c.workload.name.as_deref(),
                namespace: &c.namespace,
                pod_security: c.pod_security.map(|p| p.to_string()),
                exempt: c.is_exempt(),
                exempt_reason: c.is_exempt().then(|| exempt_reason(c)),
                violations: c
                    .violations
                    .iter()
                    .map(|v| JsonViolation {
                        rule: v.rule.id(),
                        severity: v.severity,
                        message: &v.message,
                        container: v.container.as_deref(),
                        field: v.field.as_ref().map(ToString::to_string),
                        line: v.position.map(|p| p.line),
                        column: v.position.map(|p| p.column),
                        fields: &v.fields,
                        remediation: v.rule.remediation(),
                    })
                    .collect(),
            })
            .collect(),
        skipped: run
            .skipped
            .iter()
            .map(|s| JsonSkipped {
                file: &s.file,
                document: s.document,
                api_version: &s.api_version,
                kind: &s.kind,
                name: s.name.as_deref(),
            })
            .collect(),
        errors: run
            .errors
            .iter()
            .map(|e| JsonError {
                file: &e.file,
                document: e.document,
                line: e.position.map(|p| p.line),
                column: e.position.map(|p| p.column),
                message: &e.message,
            })
            .collect(),
    };
    crate::pretty_json(&doc)
}

fn sarif_level(severity: Severity) -> sarif::Level {
    match severity {
        Severity::Critical | Severity::High => sarif::Level::Error,
        Severity::Medium => sarif::Level::Warning,
        Severity::Low => sarif::Level::Note,
    }
}

/// GitHub's `security-severity` score for a severity.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// SARIF's `uri` for a file as given on the command line.
fn uri(file: &str) -> String {
    match file {
        "-" | "" => "stdin".to_owned(),
        other => other.strip_prefix("./").unwrap_or(other).replace('\\', "/"),
    }
}

/// The run as a SARIF 2.1.0 log: one rule per check that fired, one result
/// per violation at the file, line and column of the offending field.
pub fn sarif(run: &CheckRun) -> String {
    let mut rule_index: BTreeMap<RuleRef, (usize, Severity)> = BTreeMap::new();
    let mut rules = Vec::new();
    let mut results = Vec::new();
    for checked in &run.workloads {
        for v in &checked.violations {
            let index = match rule_index.get(&v.rule) {
                Some((i, _)) => *i,
                None => {
                    let i = rules.len();
                    rule_index.insert(v.rule, (i, v.severity));
                    rules.push(sarif::Rule {
                        id: v.rule.id(),
                        name: None,
                        short_description: sarif::Text::new(v.rule.description()),
                        full_description: None,
                        help: Some(sarif::Text::new(v.rule.remediation())),
                        help_uri: None,
                        default_configuration: sarif::Configuration {
                            level: sarif_level(v.severity),
                        },
                        properties: Some(sarif::RuleProperties {
                            tags: vec!["security".into(), "kubernetes".into()],
                            security_severity: Some(security_severity(v.severity).into()),
                            precision: Some("very-high".into()),
                        }),
                    });
                    i
                }
            };
            let workload = &checked.workload;
            let mut fingerprint = BTreeMap::new();
            fingerprint.insert(
                "portcullis/v1".to_owned(),
                format!(
                    "{}|{}|{}|{}",
                    v.rule.id(),
                    workload.display_name(),
                    v.container.as_deref().unwrap_or(""),
                    v.field
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
            );
            results.push(sarif::SarifResult {
                rule_id: v.rule.id(),
                rule_index: Some(index),
                level: sarif_level(v.severity),
                message: sarif::Text::new(format!("{}: {}", workload.display_name(), v.message)),
                locations: vec![sarif::Location::at(
                    uri(file_of(workload)),
                    v.position.map(|p| u64::from(p.line)),
                    v.position.map(|p| u64::from(p.column)),
                )],
                partial_fingerprints: Some(fingerprint),
                properties: Some(serde_json::json!({
                    "severity": v.severity,
                    "field": v.field.as_ref().map(ToString::to_string),
                    "container": v.container,
                })),
            });
        }
    }
    let log = sarif::Log::single(sarif::Run::portcullis(rules, results));
    let exempt: Vec<serde_json::Value> = run
        .workloads
        .iter()
        .filter(|c| c.is_exempt())
        .map(|c| {
            let location = sarif::Location::at(
                uri(file_of(&c.workload)),
                c.workload
                    .locate(&portcullis_kube::FieldPath::root())
                    .map(|p| u64::from(p.line)),
                None,
            );
            serde_json::json!({
                "level": "note",
                "message": {"text": format!("{}: {}", c.workload.display_name(), exempt_reason(c))},
                "locations": [location],
            })
        })
        .collect();
    if exempt.is_empty() {
        return crate::pretty_json(&log);
    }
    // Exempt workloads are not findings: they go into the invocation's tool
    // notifications (SARIF 2.1.0 §3.20.21), which code scanning does not
    // raise as alerts.
    let mut log = serde_json::to_value(&log).unwrap_or_default();
    if let Some(run) = log.pointer_mut("/runs/0").and_then(|r| r.as_object_mut()) {
        run.insert(
            "invocations".into(),
            serde_json::json!([{
                "executionSuccessful": true,
                "toolExecutionNotifications": exempt,
            }]),
        );
    }
    crate::pretty_json(&log)
}

/// The run as JUnit XML: a test suite per file, a test case per workload
/// (failed when it has violations) and an errored case per unreadable document.
pub fn junit(run: &CheckRun) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    let mut add = |file: &str, case: TestCase| {
        suites
            .entry(file.to_owned())
            .or_insert_with(|| TestSuite::new(format!("portcullis check {}", uri(file))))
            .add_test_case(case);
    };
    for checked in &run.workloads {
        let workload = &checked.workload;
        let file = file_of(workload);
        let status = if checked.is_exempt() {
            let mut status = TestCaseStatus::skipped();
            status.set_message(exempt_reason(checked));
            status.set_type("exempt");
            status
        } else if checked.violations.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let lines: Vec<String> = checked
                .violations
                .iter()
                .map(|v| {
                    format!(
                        "{} [{}] {}: {}",
                        place(workload, v),
                        v.severity,
                        v.rule.id(),
                        v.message
                    )
                })
                .collect();
            status.set_message(format!(
                "{} violation{} at {}",
                checked.violations.len(),
                plural(checked.violations.len()),
                checked
                    .pod_security
                    .map_or_else(|| run.pod_security.clone(), |p| p.to_string())
            ));
            status.set_type("violation");
            status.set_description(lines.join("\n"));
            status
        };
        let mut case = TestCase::new(workload.display_name(), status);
        case.set_classname(uri(file));
        add(file, case);
    }
    for error in &run.errors {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(error.message.clone());
        status.set_type("unreadable document");
        status.set_description(error.to_string());
        let mut case = TestCase::new(format!("document {}", error.document + 1), status);
        case.set_classname(uri(&error.file));
        add(&error.file, case);
    }
    let mut report = Report::new("portcullis check");
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_kube::{CheckSettings, evaluate, load_documents};

    fn run_of(text: &str) -> CheckRun {
        let loaded = load_documents(text, "deploy/web.yaml");
        let settings = CheckSettings::default();
        CheckRun {
            pod_security: settings.pod_security.to_string(),
            workloads: loaded
                .workloads
                .into_iter()
                .map(|w| CheckedWorkload {
                    violations: evaluate(&w, &settings),
                    namespace: w.namespace.clone().unwrap_or_else(|| "default".into()),
                    pod_security: Some(settings.pod_security),
                    workload: w,
                })
                .collect(),
            skipped: loaded.skipped,
            errors: loaded.errors,
        }
    }

    const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx
        securityContext:
          privileged: true
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
kind: [
";

    #[test]
    fn sarif_points_at_the_offending_field() {
        let run = run_of(MANIFEST);
        let log: serde_json::Value = serde_json::from_str(&sarif(&run)).unwrap();
        let results = log["runs"][0]["results"].as_array().unwrap();
        let privileged = results
            .iter()
            .find(|r| r["ruleId"] == "pss/privileged")
            .unwrap();
        let location = &privileged["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "deploy/web.yaml");
        assert_eq!(location["region"]["startLine"], 11);
        assert_eq!(location["region"]["startColumn"], 23);
        assert_eq!(privileged["level"], "error");
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        let index = privileged["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], "pss/privileged");
    }

    #[test]
    fn table_json_and_junit_agree_on_counts() {
        let run = run_of(MANIFEST);
        assert_eq!(run.errors.len(), 1);
        let text = table(&run);
        assert!(text.contains("deploy/web.yaml:11:23"), "{text}");
        assert!(
            text.contains("1 workload checked at restricted:latest"),
            "{text}"
        );
        assert!(
            text.contains("skipped (not workloads): 1 Service"),
            "{text}"
        );
        assert!(text.contains("1 unreadable document"), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&json(&run)).unwrap();
        assert_eq!(
            doc["summary"]["violations"].as_u64().unwrap() as usize,
            run.violation_count()
        );
        assert_eq!(doc["errors"][0]["line"], 17);
        let xml = junit(&run);
        assert!(xml.contains("<testcase name=\"Deployment/web\""), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
        assert!(xml.contains("<error"), "{xml}");
    }

    #[test]
    fn exempt_workloads_are_listed_in_every_format_without_findings() {
        let mut run = run_of(MANIFEST);
        let mut exempt = run.workloads[0].clone();
        exempt.namespace = "kube-system".into();
        exempt.pod_security = None;
        exempt.violations.clear();
        run.workloads.push(exempt);
        assert_eq!(run.exempt_count(), 1);

        let text = table(&run);
        assert!(
            text.contains(
                "note: deploy/web.yaml:1: Deployment/web: namespace kube-system is exempt"
            ),
            "{text}"
        );
        assert!(
            text.contains("1 workload checked at restricted:latest"),
            "{text}"
        );
        assert!(text.contains("; 1 exempt"), "{text}");

        let doc: serde_json::Value = serde_json::from_str(&json(&run)).unwrap();
        assert_eq!(doc["summary"]["exempt"], 1);
        assert_eq!(doc["workloads"][1]["exempt"], true);
        assert_eq!(doc["workloads"][1]["podSecurity"], serde_json::Value::Null);
        assert_eq!(doc["workloads"][0]["podSecurity"], "restricted:latest");

        let log: serde_json::Value = serde_json::from_str(&sarif(&run)).unwrap();
        let run0 = &log["runs"][0];
        let alerts = run0["results"].as_array().unwrap().len();
        assert_eq!(
            alerts,
            run.violation_count(),
            "no result for the exempt one"
        );
        let notes = run0["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "deploy/web.yaml"
        );

        let xml = junit(&run);
        assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    }
}
