//! SARIF 2.1.0: the subset of the OASIS model that code-scanning tools read
//! (GitHub code scanning, GitLab, Azure DevOps). Every gate builds a [`Log`]
//! from its own results and serialises it with `serde_json`.

use serde::Serialize;

/// The `$schema` of SARIF 2.1.0 logs.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A SARIF log with one run per tool invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: Vec<Run>,
}

impl Log {
    /// A log holding a single run.
    pub fn single(run: Run) -> Self {
        Self {
            schema: SCHEMA,
            version: "2.1.0",
            runs: vec![run],
        }
    }
}

/// One invocation of a tool: its rules and its results.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub tool: Tool,
    pub results: Vec<SarifResult>,
}

impl Run {
    /// A run of Portcullis with these rules and results.
    pub fn portcullis(rules: Vec<Rule>, results: Vec<SarifResult>) -> Self {
        Self {
            tool: Tool {
                driver: Driver {
                    name: "portcullis",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://example.invalid/portcullis",
                    rules,
                },
            },
            results,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub driver: Driver,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    pub name: &'static str,
    pub version: &'static str,
    pub information_uri: &'static str,
    pub rules: Vec<Rule>,
}

/// A rule (`reportingDescriptor`): what a result's `ruleId` refers to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_description: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    pub default_configuration: Configuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<RuleProperties>,
}

/// Plain text (SARIF's `message` and `multiformatMessageString`).
#[derive(Debug, Clone, Serialize)]
pub struct Text {
    pub text: String,
}

impl Text {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Configuration {
    pub level: Level,
}

/// Properties GitHub code scanning reads to rank security results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleProperties {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// CVSS-like score "0.0"–"10.0" as a string.
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    pub security_severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
}

/// A result's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

/// One result (a finding, violation or failed check).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    pub rule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_index: Option<usize>,
    pub level: Level,
    pub message: Text,
    pub locations: Vec<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_fingerprints: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
}

/// Where a result is: a file (or image path) and optionally a region in it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub physical_location: PhysicalLocation,
}

impl Location {
    /// A location in `uri`, at `line`:`column` when known (both 1-based).
    pub fn at(uri: impl Into<String>, line: Option<u64>, column: Option<u64>) -> Self {
        Self {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri.into() },
                region: line.map(|start_line| Region {
                    start_line,
                    start_column: column,
                }),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    pub artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactLocation {
    pub uri: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub start_line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_sarif_spelling() {
        let rule = Rule {
            id: "R1".into(),
            name: None,
            short_description: Text::new("short"),
            full_description: None,
            help: None,
            help_uri: None,
            default_configuration: Configuration {
                level: Level::Error,
            },
            properties: Some(RuleProperties {
                security_severity: Some("9.8".into()),
                ..Default::default()
            }),
        };
        let result = SarifResult {
            rule_id: "R1".into(),
            rule_index: Some(0),
            level: Level::Error,
            message: Text::new("bad"),
            locations: vec![Location::at("deploy.yaml", Some(3), Some(7))],
            partial_fingerprints: None,
            properties: None,
        };
        let json =
            serde_json::to_value(Log::single(Run::portcullis(vec![rule], vec![result]))).unwrap();
        assert_eq!(json["version"], "2.1.0");
        let run = &json["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"],
            "error"
        );
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
            "9.8"
        );
        let region = &run["results"][0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], 3);
        assert_eq!(region["startColumn"], 7);
    }
}
