//! What a conformance run reports: per-scenario outcomes and the located failure message.

use std::fmt;

use user_engine_conformance_spec::{Location, Scenario};

/// The result of running one scenario against one store.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioOutcome {
    /// The scenario's id, e.g. `outbox/commit_order`.
    pub id: String,
    /// The scenario's area.
    pub area: String,
    /// The contract clause it checks.
    pub clause: String,
    /// Passed, failed or skipped.
    pub status: Status,
}

impl ScenarioOutcome {
    pub(crate) fn new(scenario: &Scenario, status: Status) -> Self {
        Self {
            id: scenario.id.clone(),
            area: scenario.area.clone(),
            clause: scenario.clause.clone(),
            status,
        }
    }

    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        matches!(self.status, Status::Passed)
    }

    /// The failure, if it failed.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.status {
            Status::Failed(failure) => Some(failure),
            _ => None,
        }
    }
}

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Every step returned what it must.
    Passed,
    /// A step (or the seed) did not.
    Failed(Box<Failure>),
    /// Not run, and why.
    Skipped {
        /// Why (a missing capability, or a skip declared by the adapter).
        reason: String,
    },
}

/// Where and how a scenario failed: enough to act on from a CI log alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The scenario's id.
    pub scenario: String,
    /// The clause it checks.
    pub clause: String,
    /// The scenario's summary.
    pub summary: String,
    /// Where the failing step is written (`file:line:col`).
    pub location: Location,
    /// Which step failed (`given` for the seed, else `step N of M`).
    pub step_label: String,
    /// The step as written in the file.
    pub step_text: String,
    /// What the step had to return.
    pub expected: String,
    /// What came back.
    pub actual: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "conformance scenario `{}` failed at {} ({})",
            self.scenario, self.location, self.step_label
        )?;
        writeln!(
            f,
            "  clause:   store-contract#{} ({})",
            self.clause, self.summary
        )?;
        writeln!(f, "  step:")?;
        for line in self.step_text.lines() {
            writeln!(f, "    {line}")?;
        }
        writeln!(f, "  expected: {}", indent_continuation(&self.expected))?;
        write!(f, "  actual:   {}", indent_continuation(&self.actual))
    }
}

fn indent_continuation(text: &str) -> String {
    text.replace('\n', "\n            ")
}

/// Counts over a set of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios not run.
    pub skipped: usize,
}

impl Tally {
    /// Counts `outcomes`.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a ScenarioOutcome>) -> Self {
        let mut tally = Tally::default();
        for outcome in outcomes {
            match outcome.status {
                Status::Passed => tally.passed += 1,
                Status::Failed(_) => tally.failed += 1,
                Status::Skipped { .. } => tally.skipped += 1,
            }
        }
        tally
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}
