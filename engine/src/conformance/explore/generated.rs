//! What the `explore: {cases: N, seed: S}` option of `conformance_suite!` generates a test for:
//! N seeded histories against the suite's factory and declared capabilities, the environment
//! able to change the seed and the count, and on a failure a panic carrying the report, the
//! command that replays it and the scenario to save.

use super::{ExploreOptions, ExploreReport, explore};
use crate::__private::FactoryOutput;

/// Overrides the invocation's `seed`.
pub const SEED_VAR: &str = "USER_ENGINE_EXPLORE_SEED";
/// Overrides the invocation's `cases`.
pub const CASES_VAR: &str = "USER_ENGINE_EXPLORE_CASES";

/// The generated test's settings, as the invocation wrote them.
pub struct GeneratedExplore {
    /// Histories to run.
    pub cases: usize,
    /// The seed.
    pub seed: u64,
    /// Capabilities declared in the invocation.
    pub capabilities: &'static [&'static str],
}

/// Runs the generated explore test; panics with the report when the store diverges.
#[track_caller]
pub fn run_generated<O: FactoryOutput, F: Fn() -> O>(settings: &GeneratedExplore, factory: &F) {
    let options = options(
        settings,
        std::env::var(SEED_VAR).ok().as_deref(),
        std::env::var(CASES_VAR).ok().as_deref(),
    )
    .unwrap_or_else(|problem| panic!("{problem}"));
    let make = || match factory().into_store() {
        Ok(store) => store,
        Err(error) => panic!("explore did not run: the factory could not make a store: {error}"),
    };
    let report = explore(&make, &options);
    if !report.passed() {
        panic!("{}", failure_message(&report, &options));
    }
    // Shown with `--nocapture`: how long the histories took.
    println!("{report}");
}

/// The invocation's settings, with the environment's overrides (an empty value counts as
/// unset).
fn options(
    settings: &GeneratedExplore,
    seed: Option<&str>,
    cases: Option<&str>,
) -> Result<ExploreOptions, String> {
    let mut options =
        ExploreOptions::new(settings.seed).with_capabilities(settings.capabilities.iter().copied());
    options.cases = settings.cases;
    if let Some(seed) = seed.map(str::trim).filter(|s| !s.is_empty()) {
        options.seed = seed.parse().map_err(|_| {
            format!("{SEED_VAR} must be a whole number from 0 to 2^64-1, not {seed:?}")
        })?;
    }
    if let Some(cases) = cases.map(str::trim).filter(|s| !s.is_empty()) {
        options.cases = cases
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("{CASES_VAR} must be a whole number above 0, not {cases:?}"))?;
    }
    Ok(options)
}

fn failure_message(report: &ExploreReport, options: &ExploreOptions) -> String {
    let mut message = format!(
        "{report}\nreplay: {SEED_VAR}={} {CASES_VAR}={} cargo test conformance_explore",
        options.seed, options.cases
    );
    if let Some(failure) = &report.failure {
        if let (Some(yaml), true) = (&failure.scenario_yaml, failure.reproduces()) {
            message.push_str(&format!(
                "\nthe scenario, to review and save as <spec root>/{}:\n{yaml}",
                failure.scenario_path
            ));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::InMemoryUserEngineStore;
    use crate::conformance::explore::broken::{Broken, Fault};

    const SETTINGS: GeneratedExplore = GeneratedExplore {
        cases: 30,
        seed: 4,
        capabilities: InMemoryUserEngineStore::CAPABILITIES,
    };

    #[test]
    fn the_environment_overrides_seed_and_cases() {
        let plain = options(&SETTINGS, None, None).unwrap();
        assert_eq!((plain.seed, plain.cases), (4, 30));
        assert!(plain.capabilities.contains("commit_time_conflicts"));
        let overridden = options(&SETTINGS, Some("17"), Some(" 5 ")).unwrap();
        assert_eq!((overridden.seed, overridden.cases), (17, 5));
        assert_eq!(options(&SETTINGS, Some(""), Some("")).unwrap(), plain);
        assert_eq!(
            options(&SETTINGS, Some("seven"), None).unwrap_err(),
            "USER_ENGINE_EXPLORE_SEED must be a whole number from 0 to 2^64-1, not \"seven\""
        );
        assert_eq!(
            options(&SETTINGS, None, Some("0")).unwrap_err(),
            "USER_ENGINE_EXPLORE_CASES must be a whole number above 0, not \"0\""
        );
    }

    #[test]
    fn the_reference_passes() {
        run_generated(&SETTINGS, &InMemoryUserEngineStore::new);
        run_generated(&SETTINGS, &|| {
            Ok::<_, String>(InMemoryUserEngineStore::new())
        });
    }

    fn panic_text(run: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(run)).expect_err("the test panics");
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "a non-text panic".to_owned())
    }

    #[test]
    fn a_divergence_panics_with_the_report_the_replay_and_the_scenario() {
        let settings = GeneratedExplore {
            cases: 300,
            seed: 1,
            ..SETTINGS
        };
        let text =
            panic_text(|| run_generated(&settings, &|| Broken::new(Fault::OwnerLostOnSecondSave)));
        assert!(text.contains(" diverged at `"), "{text}");
        assert!(
            text.contains("replay: USER_ENGINE_EXPLORE_SEED=1 USER_ENGINE_EXPLORE_CASES=300 cargo test conformance_explore"),
            "{text}"
        );
        assert!(
            text.contains("save as <spec root>/scenarios/explore/seed_1_case_"),
            "{text}"
        );
        assert!(text.contains("\nid: explore/seed_1_case_"), "{text}");
    }

    #[test]
    fn a_factory_that_fails_says_so() {
        let text = panic_text(|| {
            run_generated(&SETTINGS, &|| {
                Err::<InMemoryUserEngineStore, _>("server down")
            })
        });
        assert_eq!(
            text,
            "explore did not run: the factory could not make a store: server down"
        );
    }
}
