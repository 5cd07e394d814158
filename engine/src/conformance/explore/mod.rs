//! Explore: seeded random histories run on the reference and on a store under test, the first
//! divergence shrunk into an ordinary YAML scenario that passes on the reference and fails on
//! that store.
//!
//! A history is a single session's steps over the whole store boundary — transactions with
//! guarded and unguarded saves, deletes, reads of their own writes, audit entries and outbox
//! events, ended by commit, rollback, drop or a panic; reads outside transactions; tenant
//! listings walked page by page; user and audit listings; the relay's pending events and
//! acknowledgements; migrate, readiness and diagnostics — over two or three tenants whose ids
//! collide under case folding and sort differently by locale, with payloads from a corpus of
//! non-ASCII text, big numbers and odd shapes. Each step runs on a fresh
//! [`InMemoryUserEngineStore`] and on a fresh store from the factory, through the scenario
//! runner's own step interpreter; every observable result is compared. Same seed, same histories.
//! `docs/explore.md` explains the generator, the oracle and the shrinker.
//!
//! The reference always agrees with itself:
//!
//! ```
//! use user_engine::InMemoryUserEngineStore;
//! use user_engine::conformance::explore::{ExploreOptions, Progress, explore_with_progress};
//!
//! let mut options = ExploreOptions::new(42)
//!     .with_capabilities(InMemoryUserEngineStore::CAPABILITIES.iter().copied());
//! options.cases = 25;
//! let mut agreed = 0;
//! let report = explore_with_progress(&InMemoryUserEngineStore::new, &options, &mut |p| {
//!     if let Progress::Agreed { .. } = p {
//!         agreed += 1;
//!     }
//! });
//! assert!(report.passed(), "{report}");
//! assert_eq!((report.histories, agreed), (25, 25));
//! ```

mod corpus;
mod generate;
pub(crate) mod generated;
mod history;
mod oracle;
mod report;
mod scenario;
mod sessions;
mod shrink;
mod yaml;

#[cfg(test)]
mod broken;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::Instant;

pub use report::{ExploreFailure, ExploreReport, Progress};

/// The variables that override the generated explore test's settings at run time.
pub use generated::{CASES_VAR, SEED_VAR};

use crate::{InMemoryUserEngineStore, UserEngineStore};
use generate::Generator;
use history::History;
use oracle::{Divergence, Observation, lockstep};
use scenario::{Found, Origin};
use shrink::Shrinker;

/// What to explore: which seed, how many histories, how long, and what the store declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    /// The run's seed; each case draws its own seed from it and its index.
    pub seed: u64,
    /// How many histories to run (the run stops at the first that diverges).
    pub cases: usize,
    /// The index of the first case, so a reported case replays alone.
    pub first_case: usize,
    /// The longest history, in steps; each case draws its length up to this.
    pub max_steps: usize,
    /// The store's capabilities, as its conformance suite declares them. With
    /// `commit_time_conflicts` histories hold up to three transactions open at once; without
    /// it, at most one, and nothing writes outside it while it is open (a store that locks rows
    /// would wait on itself).
    pub capabilities: BTreeSet<String>,
    /// How many replays shrinking may spend on a failure.
    pub shrink_budget: usize,
    /// Sessions per history. 1: one session on one thread, every step compared with the
    /// reference. 2 or more: that many sessions, each on a thread of its own, their steps
    /// interleaved in a seeded order, and the end checked against what the isolation clause
    /// (C33) allows — guarded writes, atomic commits, outbox and audit order (`docs/explore.md`,
    /// "Two sessions"). `max_steps` then counts the steps of all sessions together.
    pub sessions: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            cases: 100,
            first_case: 0,
            max_steps: 40,
            capabilities: BTreeSet::new(),
            shrink_budget: 1_000,
            sessions: 1,
        }
    }
}

impl ExploreOptions {
    /// The defaults (100 cases of up to 40 steps, no capabilities) with this seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// These options, declaring `capabilities` instead.
    pub fn with_capabilities<'a>(
        mut self,
        capabilities: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.capabilities = capabilities.into_iter().map(str::to_owned).collect();
        self
    }

    fn concurrent(&self) -> bool {
        self.capabilities.contains("commit_time_conflicts")
    }
}

/// Explores `options.cases` histories against fresh stores from `factory`; see the module
/// documentation.
pub fn explore<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
) -> ExploreReport {
    explore_with_progress(factory, options, &mut |_| {})
}

/// [`explore`], telling `progress` about every history run and every shrinking round, so a
/// command can show where it is.
pub fn explore_with_progress<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> ExploreReport {
    if options.sessions >= 2 {
        return sessions::explore_sessions(factory, options, progress);
    }
    let started = Instant::now();
    let mut report = ExploreReport::empty(options);
    for case in options.first_case..options.first_case.saturating_add(options.cases) {
        let run = run_case(factory, options, case);
        report.histories += 1;
        report.steps += run.history.steps.len();
        report.digest = digest(report.digest, &run.history);
        match run.divergence {
            None => progress(&Progress::Agreed {
                case,
                steps: run.history.steps.len(),
            }),
            Some((observations, divergence)) => {
                progress(&Progress::Diverged {
                    case,
                    step: divergence.index,
                    keyword: divergence.keyword,
                });
                let found = Found {
                    history: run.history,
                    observations,
                    divergence,
                };
                report.failure = Some(write_up(factory, options, case, found, progress));
                break;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// The steps case `case` of `options` runs, one per line, as the reference sees them.
pub fn case_history(options: &ExploreOptions, case: usize) -> String {
    if options.sessions >= 2 {
        // Each session's steps, then the schedule that interleaves them.
        return sessions::case_plan(options, case).text();
    }
    yaml::history_text(&run_case(&InMemoryUserEngineStore::new, options, case).history)
}

/// FNV-1a's offset basis: the digest of a run that drew no history.
const DIGEST_START: u64 = 0xcbf2_9ce4_8422_2325;

/// `so_far` continued (FNV-1a) over one history's text and a separator, so two runs that drew
/// the same histories in the same order have the same [`ExploreReport::digest`].
fn digest(so_far: u64, history: &History) -> u64 {
    fnv(so_far, &yaml::history_text(history))
}

/// `so_far` continued (FNV-1a) over `text` and a separator.
fn fnv(so_far: u64, text: &str) -> u64 {
    text.bytes().chain([0]).fold(so_far, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One case: its history, and where it diverged if it did.
struct CaseRun {
    history: History,
    divergence: Option<(Vec<Observation>, Divergence)>,
}

/// Generates case `case` step by step, running each step on both stores as it goes.
fn run_case<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
    case: usize,
) -> CaseRun {
    let seed = corpus::case_seed(options.seed, case);
    lockstep(factory, |reference, store| {
        let mut generator = Generator::new(
            seed,
            reference.store(),
            options.concurrent(),
            options.max_steps,
        );
        let mut history = History::default();
        let mut seen = Vec::new();
        while let Some(action) = generator.next_action() {
            let expected = reference.perform(&action);
            if let Observation::Unusable(_) = expected {
                // A step the reference cannot carry out (two pending events drawn under one
                // name) has no effect; it is left out of the history.
                continue;
            }
            let found = store.perform(&action);
            generator.observe(&action, &expected);
            history.steps.push(action);
            if found != expected {
                let divergence = Divergence {
                    index: history.steps.len() - 1,
                    keyword: history.steps[history.steps.len() - 1].keyword(),
                    reference: expected,
                    store: found,
                };
                return CaseRun {
                    history,
                    divergence: Some((seen, divergence)),
                };
            }
            seen.push(expected);
        }
        CaseRun {
            history,
            divergence: None,
        }
    })
}

/// Shrinks a diverging case and writes it as a scenario, checked on both stores.
fn write_up<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
    case: usize,
    found: Found,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> ExploreFailure {
    let origin = Origin {
        seed: options.seed,
        case,
        steps_before: found.history.steps.len(),
    };
    let mut shrinker = Shrinker::new(factory, &options.capabilities, options.shrink_budget, found);
    shrinker.run(&mut |steps, runs| progress(&Progress::Shrinking { steps, runs }));
    let runs = shrinker.runs;
    let found = shrinker.best;
    let action = &found.history.steps[found.divergence.index];
    let mut failure = ExploreFailure {
        case,
        keyword: found.divergence.keyword.to_owned(),
        clause: scenario::clause(action, &found.divergence).to_owned(),
        reference: found.divergence.reference.describe(),
        store: found.divergence.store.describe(),
        steps_before: origin.steps_before,
        steps_after: found.history.steps.len(),
        shrink_runs: runs,
        history: yaml::history_text(&found.history),
        scenario_id: format!("explore/seed_{}_case_{case}", options.seed),
        scenario_path: format!("scenarios/explore/seed_{}_case_{case}.yaml", options.seed),
        scenario_yaml: None,
        not_written: None,
        passes_on_reference: false,
        fails_on_store: false,
    };
    let written = scenario::write(&found, &origin);
    match scenario::load(&written) {
        Err(errors) => {
            failure.not_written = Some(format!("the written scenario does not load: {errors}"));
        }
        Ok(loaded) => {
            failure.passes_on_reference = scenario::passes_on_reference(&loaded);
            failure.fails_on_store = scenario::fails_on(&loaded, factory, &options.capabilities);
            if !failure.fails_on_store {
                failure.not_written = Some(
                    "the scenario format cannot express what differs (see the history)".to_owned(),
                );
            }
        }
    }
    failure.scenario_id = written.id;
    failure.scenario_path = written.path;
    failure.scenario_yaml = Some(written.text);
    failure
}
