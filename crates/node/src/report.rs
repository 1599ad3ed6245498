//! The audit's results: one [`CheckResult`] per check, with what was read,
//! expected and found. Renderers (table, JSON, JUnit, SARIF) live in the
//! report crate.

use serde::Serialize;

use crate::catalog::{Benchmark, Level};

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The expectation holds.
    Pass,
    /// A scored check whose expectation does not hold.
    Fail,
    /// An unscored (manual) check whose expectation does not hold: review.
    Warn,
    /// The check does not apply to this node (no kubelet, no Docker…).
    NotApplicable,
    /// What the check needs could not be read or parsed.
    Error,
}

impl Status {
    /// The spelling used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::NotApplicable => "n/a",
            Self::Error => "error",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub section: String,
    pub level: Level,
    pub scored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<Benchmark>,
    pub status: Status,
    /// Files, command lines and settings read.
    pub read: Vec<String>,
    /// What the check expects, in words.
    pub expected: String,
    /// What was found, in words.
    pub found: String,
    pub remediation: String,
}

/// A component as found on the node.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub name: String,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_by: Option<String>,
}

/// Counts of results by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub not_applicable: usize,
    pub error: usize,
}

/// The audit of one node.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The audited root directory of this machine (`/` for this machine).
    pub root: String,
    pub summary: Summary,
    pub components: Vec<ComponentInfo>,
    pub results: Vec<CheckResult>,
}

impl Report {
    pub(crate) fn new(
        root: String,
        components: Vec<ComponentInfo>,
        results: Vec<CheckResult>,
    ) -> Self {
        let mut summary = Summary {
            total: results.len(),
            ..Summary::default()
        };
        for result in &results {
            *match result.status {
                Status::Pass => &mut summary.pass,
                Status::Fail => &mut summary.fail,
                Status::Warn => &mut summary.warn,
                Status::NotApplicable => &mut summary.not_applicable,
                Status::Error => &mut summary.error,
            } += 1;
        }
        Self {
            root,
            summary,
            components,
            results,
        }
    }

    /// Failed (scored) checks at or above `threshold`: what fails the gate.
    pub fn failures_at(&self, threshold: Level) -> impl Iterator<Item = &CheckResult> {
        self.results
            .iter()
            .filter(move |r| r.status == Status::Fail && r.level >= threshold)
    }

    /// The result of a check by id.
    pub fn result(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }
}
