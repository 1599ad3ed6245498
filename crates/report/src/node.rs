//! Renderers for `portcullis node audit`: an aligned table with the details
//! of what did not pass, Portcullis JSON (the [`Report`] as is), JUnit XML
//! (one suite per section, one case per check) and SARIF 2.1.0 (one rule per
//! check, one result per failed, warned or errored check).

use std::fmt::Write as _;

use portcullis_node::{CheckResult, Level, Report, Status};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::sarif;
use crate::table::Table;

/// The table of every check, then the details of those that did not pass
/// or could not run, then a summary line.
pub fn table(report: &Report) -> String {
    let mut table = Table::new(["STATUS", "ID", "LEVEL", "SECTION", "TITLE"]);
    for result in &report.results {
        table.row([
            result.status.as_str().to_uppercase(),
            result.id.clone(),
            result.level.as_str().to_string(),
            result.section.clone(),
            result.title.clone(),
        ]);
    }
    let mut out = table.render();
    let attention: Vec<&CheckResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Warn | Status::Error))
        .collect();
    if !attention.is_empty() {
        out.push('\n');
    }
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    for result in attention {
        let _ = writeln!(
            out,
            "{} {}{}",
            result.status.as_str().to_uppercase(),
            result.id,
            result
                .benchmark
                .as_ref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "  expected: {}", clean(&result.expected));
        let _ = writeln!(out, "  found:    {}", clean(&result.found));
        if result.status != Status::Error && !result.remediation.is_empty() {
            let _ = writeln!(out, "  fix:      {}", clean(&result.remediation));
        }
    }
    let s = &report.summary;
    let present: Vec<&str> = report
        .components
        .iter()
        .filter(|c| c.present)
        .map(|c| c.name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\n{} checks on {}: {} passed, {} failed, {} warnings, {} not applicable, {} errors; components found: {}",
        s.total,
        report.root,
        s.pass,
        s.fail,
        s.warn,
        s.not_applicable,
        s.error,
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        }
    );
    out
}

/// The report as pretty JSON.
pub fn json(report: &Report) -> String {
    crate::pretty_json(report)
}

/// JUnit XML: one test suite per section, one test case per check; a fail
/// is a failure, an error an error, a not-applicable check is skipped and a
/// warning passes with its finding in `system-out`.
pub fn junit(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("portcullis node audit");
    let mut sections: Vec<&str> = report.results.iter().map(|r| r.section.as_str()).collect();
    sections.dedup();
    let mut seen = std::collections::BTreeSet::new();
    for section in sections {
        if !seen.insert(section) {
            continue;
        }
        let mut suite = TestSuite::new(format!("node/{section}"));
        for result in report.results.iter().filter(|r| r.section == section) {
            let detail = format!(
                "expected: {}\nfound: {}\nremediation: {}",
                result.expected, result.found, result.remediation
            );
            let status = match result.status {
                Status::Pass | Status::Warn => TestCaseStatus::success(),
                Status::Fail => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_message(format!("{}: {}", result.level.as_str(), result.found))
                        .set_type(result.level.as_str())
                        .set_description(detail.clone());
                    status
                }
                Status::Error => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(result.found.clone());
                    status
                }
                Status::NotApplicable => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(result.found.clone());
                    status
                }
            };
            let mut case = TestCase::new(format!("{} {}", result.id, result.title), status);
            case.set_classname(format!("node.{section}"));
            if result.status == Status::Warn {
                case.set_system_out(format!("WARN (manual check)\n{detail}"));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot serialise JUnit report: {e} -->\n"))
}

fn sarif_level(result: &CheckResult) -> sarif::Level {
    match (result.status, result.level) {
        (Status::Warn, _) => sarif::Level::Warning,
        (Status::Error, _) => sarif::Level::Warning,
        (_, Level::Critical | Level::High) => sarif::Level::Error,
        (_, Level::Medium | Level::Low) => sarif::Level::Warning,
        (_, Level::Info) => sarif::Level::Note,
    }
}

fn security_severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "9.5",
        Level::High => "8.0",
        Level::Medium => "5.5",
        Level::Low => "3.0",
        Level::Info => "0.0",
    }
}

/// SARIF 2.1.0: every check is a rule; failed, warned and errored checks
/// are results, located at the first file the check read (or `/` when it
/// read none).
pub fn sarif(report: &Report) -> String {
    let rules: Vec<sarif::Rule> = report
        .results
        .iter()
        .map(|result| sarif::Rule {
            id: result.id.clone(),
            name: None,
            short_description: sarif::Text::new(result.title.clone()),
            full_description: result
                .benchmark
                .as_ref()
                .map(|b| sarif::Text::new(format!("{}: {}", b, result.title))),
            help: Some(sarif::Text::new(result.remediation.clone())),
            help_uri: None,
            default_configuration: sarif::Configuration {
                level: match result.level {
                    Level::Critical | Level::High => sarif::Level::Error,
                    Level::Medium | Level::Low => sarif::Level::Warning,
                    Level::Info => sarif::Level::Note,
                },
            },
            properties: Some(sarif::RuleProperties {
                tags: vec!["security".into(), "node".into(), result.section.clone()],
                security_severity: Some(security_severity(result.level).into()),
                precision: Some("high".into()),
            }),
        })
        .collect();
    let results: Vec<sarif::SarifResult> = report
        .results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.status, Status::Fail | Status::Warn | Status::Error))
        .map(|(index, result)| {
            let location = result
                .read
                .iter()
                .find(|r| r.starts_with('/'))
                .cloned()
                .unwrap_or_else(|| "/".into());
            sarif::SarifResult {
                rule_id: result.id.clone(),
                rule_index: Some(index),
                level: sarif_level(result),
                message: sarif::Text::new(format!(
                    "{} — {}: expected {}; found {}",
                    result.status.as_str(),
                    result.title,
                    result.expected,
                    result.found
                )),
                locations: vec![sarif::Location::at(location, None, None)],
                partial_fingerprints: None,
                properties: Some(serde_json::json!({
                    "status": result.status,
                    "scored": result.scored,
                    "benchmark": result.benchmark,
                })),
            }
        })
        .collect();
    let log = sarif::Log::single(sarif::Run::portcullis(rules, results));
    crate::pretty_json(&log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audited() -> (tempfile::TempDir, Report) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/docker")).unwrap();
        std::fs::write(
            root.join("etc/docker/daemon.json"),
            r#"{"icc": true, "live-restore": true, "hosts": ["tcp://0.0.0.0:2375"]}"#,
        )
        .unwrap();
        let catalog = portcullis_node::Catalog::builtin().unwrap();
        let report = portcullis_node::audit(root, &catalog).unwrap();
        (dir, report)
    }

    #[test]
    fn renders_every_format() {
        let (_dir, report) = audited();
        assert_eq!(report.result("docker-2.2").unwrap().status, Status::Fail);
        assert_eq!(report.result("docker-2.15").unwrap().status, Status::Pass);

        let table = table(&report);
        assert!(table.contains("FAIL    docker-2.2"), "{table}");
        assert!(table.contains("fix:      Set \"icc\": false"), "{table}");
        assert!(table.contains("components found: dockerd"), "{table}");

        let json: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(json["summary"]["total"], report.results.len());
        let icc = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "docker-2.2")
            .unwrap();
        assert_eq!(icc["status"], "fail");
        assert_eq!(icc["benchmark"]["id"], "2.2");

        let xml = junit(&report);
        assert!(xml.contains("<testsuite name=\"node/docker\""), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
        assert!(xml.contains("<skipped"), "{xml}");

        let log: serde_json::Value = serde_json::from_str(&sarif(&report)).unwrap();
        let run = &log["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            report.results.len()
        );
        let result = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == "docker-2.7")
            .unwrap();
        assert_eq!(result["level"], "error");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "/etc/docker/daemon.json"
        );
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "docker-2.7");
    }
}
