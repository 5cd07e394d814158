//! A conformance run's results — per store, per scenario — and the four renderings of them:
//! [`human`] (tables and located failures), [`json`], [`junit`] (XML) and [`markdown`].

pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;

use std::collections::BTreeMap;
use std::time::Duration;

use user_engine::conformance::spec::Scenario;
use user_engine::conformance::{ScenarioOutcome, Status, Tally};

use crate::stores::StoreUnderTest;

/// Everything a rendering needs.
pub struct Report<'a> {
    /// `embedded`, or the spec root given with `--spec`.
    pub spec_source: String,
    /// The `--filter`, if any.
    pub filter: Option<String>,
    /// The scenarios that ran, in id order.
    pub scenarios: Vec<&'a Scenario>,
    /// One entry per `--store`, in command-line order.
    pub stores: Vec<StoreRun<'a>>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// One store's results, in the order of [`Report::scenarios`].
pub struct StoreRun<'a> {
    /// The store.
    pub store: &'a StoreUnderTest,
    /// One per scenario.
    pub results: Vec<ScenarioRun>,
    /// Wall time for this store.
    pub elapsed: Duration,
}

/// One scenario against one store.
pub struct ScenarioRun {
    /// What the runner returned.
    pub outcome: ScenarioOutcome,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report<'_> {
    /// Counts over every store.
    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for run in &self.stores {
            let t = run.tally();
            total.passed += t.passed;
            total.failed += t.failed;
            total.skipped += t.skipped;
        }
        total
    }
}

impl StoreRun<'_> {
    /// Counts for this store.
    pub fn tally(&self) -> Tally {
        Tally::of(self.results.iter().map(|r| &r.outcome))
    }

    /// Counts per area, areas in name order.
    pub fn by_area(&self) -> BTreeMap<&str, Tally> {
        let mut areas: BTreeMap<&str, Tally> = BTreeMap::new();
        for result in &self.results {
            let tally = areas.entry(result.outcome.area.as_str()).or_default();
            match result.outcome.status {
                Status::Passed => tally.passed += 1,
                Status::Failed(_) => tally.failed += 1,
                Status::Skipped { .. } => tally.skipped += 1,
            }
        }
        areas
    }
}

/// The one-word state of an outcome: `pass`, `fail`, `skip`.
pub fn word(status: &Status) -> &'static str {
    match status {
        Status::Passed => "pass",
        Status::Failed(_) => "fail",
        Status::Skipped { .. } => "skip",
    }
}

/// Seconds with millisecond precision, as JUnit and the summary line print them.
pub fn seconds(elapsed: Duration) -> String {
    format!("{:.3}", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use user_engine::conformance::spec::parse_scenario;
    use user_engine::conformance::{ScenarioOutcome, Status};

    use super::*;
    use crate::store_url::StoreUrl;

    /// A skipped scenario (no adapter in this workspace lacks a capability, so the binary's tests
    /// cannot produce one) shows in every format with its reason.
    #[test]
    fn skips_are_reported_with_their_reason() {
        let yaml = "id: readiness/drift\nsummary: s\nclause: store-contract#readiness-states\nrequires: [migration_tamper]\nsteps:\n  - readiness: {}\n";
        let scenario =
            parse_scenario("drift.yaml", "scenarios/readiness/drift.yaml", yaml).unwrap();
        let store = StoreUnderTest::prepare(StoreUrl::Memory, "memory".into()).unwrap();
        let reason = "requires capability `migration_tamper`, which this adapter does not declare"
            .to_owned();
        let outcome = ScenarioOutcome {
            id: scenario.id.clone(),
            area: scenario.area.clone(),
            clause: scenario.clause.clone(),
            status: Status::Skipped {
                reason: reason.clone(),
            },
        };
        let report = Report {
            spec_source: "embedded".into(),
            filter: None,
            scenarios: vec![&scenario],
            stores: vec![StoreRun {
                store: &store,
                results: vec![ScenarioRun {
                    outcome,
                    elapsed: Duration::ZERO,
                }],
                elapsed: Duration::ZERO,
            }],
            elapsed: Duration::ZERO,
        };
        let human = human::render(&report);
        assert!(
            human.contains(&format!(
                "\nskipped (not run, and why)\n  memory: readiness/drift: {reason}\n"
            )),
            "{human}"
        );
        assert!(
            human.ends_with("result: ok. 0 passed, 0 failed, 1 skipped in 0.00s\n"),
            "{human}"
        );
        let json: serde_json::Value = serde_json::from_str(&json::render(&report)).unwrap();
        assert_eq!(json["stores"][0]["scenarios"][0]["status"], "skipped");
        assert_eq!(json["stores"][0]["scenarios"][0]["reason"], reason.as_str());
        let junit = junit::render(&report);
        assert!(junit.contains("<skipped message=\"requires capability `migration_tamper`, which this adapter does not declare\"/>"), "{junit}");
        assert!(junit.contains("skipped=\"1\""), "{junit}");
        let markdown = markdown::render(&report);
        assert!(
            markdown.contains(&format!(
                "## Skipped\n\n- `memory` `readiness/drift`: {reason}\n"
            )),
            "{markdown}"
        );
    }
}
