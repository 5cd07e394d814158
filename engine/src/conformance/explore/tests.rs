//! The explorer's tests: the reference agrees with itself, seeds replay, payloads survive being
//! written as YAML, and broken stores are caught and written up as scenarios that reproduce.

use std::collections::BTreeMap;
use std::time::Instant;

use user_engine_conformance_spec::{KeySpec, Operation, VersionCondition, parse_scenario};

use super::broken::{Broken, Fault};
use super::corpus::{self, Rng};
use super::history::History;
use super::oracle::{Observation, Replay, lockstep, replay, tally};
use super::{
    ExploreOptions, Progress, case_history, explore, explore_with_progress, run_case, yaml,
};
use crate::InMemoryUserEngineStore;
use crate::conformance::{RunOptions, SnapshotCheck, run_scenario};

fn reference_options(seed: u64) -> ExploreOptions {
    ExploreOptions::new(seed)
        .with_capabilities(InMemoryUserEngineStore::CAPABILITIES.iter().copied())
}

#[test]
fn the_reference_agrees_with_itself_over_300_histories() {
    let mut options = reference_options(1);
    options.cases = 300;
    let report = explore(&InMemoryUserEngineStore::new, &options);
    assert!(report.passed(), "{report}");
    assert_eq!(report.histories, 300);
    println!(
        "reference against itself: {} histories, {} steps in {:.2} s = {:.0} histories/s",
        report.histories,
        report.steps,
        report.elapsed.as_secs_f64(),
        report.histories_per_second()
    );
    // One transaction at a time, as for a store that locks rows.
    let mut locking = ExploreOptions::new(2);
    locking.cases = 100;
    let report = explore(&InMemoryUserEngineStore::new, &locking);
    assert!(report.passed(), "{report}");
}

#[test]
fn histories_reach_every_kind_of_answer() {
    let options = reference_options(3);
    let mut seen = BTreeMap::new();
    for case in 0..150 {
        let history = run_case(&InMemoryUserEngineStore::new, &options, case).history;
        assert!(
            matches!(
                replay(&history, &InMemoryUserEngineStore::new),
                Replay::Agreed
            ),
            "case {case} does not replay on the reference"
        );
        tally(&reference_answers(&history), &mut seen);
    }
    for wanted in [
        "error conflict",
        "error not_found",
        "error invalid",
        "error not_ready",
        "page with next",
        "Record",
        "Records",
        "Audit",
        "Events",
        "Acknowledged",
        "Migration",
        "Readiness",
        "Diagnostics",
    ] {
        assert!(seen.contains_key(wanted), "no `{wanted}` in {seen:?}");
    }
}

/// What the reference answers at each step of `history`.
fn reference_answers(history: &History) -> Vec<Observation> {
    lockstep(&InMemoryUserEngineStore::new, |reference, _| {
        history.steps.iter().map(|a| reference.perform(a)).collect()
    })
}

#[test]
fn the_same_seed_gives_the_same_histories() {
    let options = reference_options(7);
    for case in 0..20 {
        let first = case_history(&options, case);
        assert!(!first.is_empty());
        assert_eq!(first, case_history(&options, case), "case {case}");
    }
    let other = reference_options(8);
    assert_ne!(case_history(&options, 0), case_history(&other, 0));
}

#[test]
fn the_digest_names_the_histories_run() {
    let mut options = reference_options(7);
    options.cases = 20;
    let first = explore(&InMemoryUserEngineStore::new, &options);
    let again = explore(&InMemoryUserEngineStore::new, &options);
    assert_eq!(first.digest, again.digest);
    assert!(
        first
            .to_string()
            .contains(&format!("digest {:016x}", first.digest))
    );
    let other_seed = ExploreOptions {
        seed: 8,
        ..options.clone()
    };
    let fewer = ExploreOptions {
        cases: 19,
        ..options.clone()
    };
    let shifted = ExploreOptions {
        first_case: 1,
        ..options.clone()
    };
    for other in [other_seed, fewer, shifted] {
        assert_ne!(
            explore(&InMemoryUserEngineStore::new, &other).digest,
            first.digest,
            "{other:?}"
        );
    }
}

#[test]
fn payloads_read_back_exactly_from_written_yaml() {
    let mut rng = Rng::new(11);
    for n in 0..300 {
        let data = corpus::payload(&mut rng);
        let save = Operation::Save {
            tx: None,
            key: KeySpec {
                tenant: "acme".into(),
                kind: "profile".into(),
                id: corpus::record_id(corpus::RECORD_IDS[n % corpus::RECORD_IDS.len()]),
            },
            user: Some("ada@example.org".into()),
            data,
            condition: VersionCondition::Version(3),
        };
        let text = format!(
            "id: explore/payload\nsummary: s\nclause: store-contract#records-round-trip\nsteps:\n  - {}\n",
            yaml::operation(&save)
        );
        let scenario = parse_scenario("payload.yaml", "scenarios/explore/payload.yaml", &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(scenario.steps[0].operation, save, "{text}");
    }
}

/// Explores `fault` from `seed` and checks the written scenario end to end; returns how many
/// histories it took and how many steps the scenario has.
fn catch(fault: Fault, seed: u64, capabilities: &[&str]) -> (usize, usize) {
    let factory = move || Broken::new(fault);
    let mut options = ExploreOptions::new(seed).with_capabilities(capabilities.iter().copied());
    options.cases = 300;
    let started = Instant::now();
    let report = explore(&factory, &options);
    let failure = report
        .failure
        .unwrap_or_else(|| panic!("{fault:?} not caught in 300 histories from seed {seed}"));
    let yaml = failure
        .scenario_yaml
        .clone()
        .unwrap_or_else(|| panic!("{failure}"));
    let scenario = parse_scenario(&failure.scenario_path, &failure.scenario_path, &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(scenario.id, failure.scenario_id);
    let snapshots = BTreeMap::new();
    let snapshots = SnapshotCheck::Loaded(&snapshots);
    let reference =
        RunOptions::with_capabilities(InMemoryUserEngineStore::CAPABILITIES.iter().copied());
    let on_reference = run_scenario(
        &scenario,
        &InMemoryUserEngineStore::new,
        &reference,
        &snapshots,
    );
    assert!(on_reference.passed(), "{:?}\n{yaml}", on_reference.status);
    let declared = RunOptions::with_capabilities(capabilities.iter().copied());
    let on_broken = run_scenario(&scenario, &factory, &declared, &snapshots);
    assert!(
        on_broken.failure().is_some(),
        "{:?}\n{yaml}",
        on_broken.status
    );
    assert!(failure.reproduces(), "{failure}");
    println!(
        "{fault:?} from seed {seed}: caught after {} histories, shrunk {} -> {} steps in {} replays, {:.2} s\n{yaml}",
        failure.case + 1,
        failure.steps_before,
        failure.steps_after,
        failure.shrink_runs,
        started.elapsed().as_secs_f64()
    );
    (failure.case + 1, failure.steps_after)
}

fn median(mut values: Vec<usize>) -> usize {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Each broken store over five seeds, for the numbers `docs/explore.md` quotes.
fn measure(fault: Fault, capabilities: &[&str]) {
    let runs: Vec<(usize, usize)> = (1..=5)
        .map(|seed| catch(fault, seed, capabilities))
        .collect();
    println!(
        "{fault:?}: histories to catch {:?} (median {}), shrunk sizes {:?} (median {})",
        runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        median(runs.iter().map(|r| r.0).collect()),
        runs.iter().map(|r| r.1).collect::<Vec<_>>(),
        median(runs.iter().map(|r| r.1).collect()),
    );
}

#[test]
fn case_insensitive_listing_is_caught_and_written_up() {
    measure(
        Fault::CaseInsensitiveListing,
        InMemoryUserEngineStore::CAPABILITIES,
    );
}

#[test]
fn an_owner_lost_on_the_second_save_is_caught_and_written_up() {
    measure(
        Fault::OwnerLostOnSecondSave,
        InMemoryUserEngineStore::CAPABILITIES,
    );
}

#[test]
fn tombstones_counted_in_diagnostics_are_caught_and_written_up() {
    measure(
        Fault::TombstonesCounted,
        InMemoryUserEngineStore::CAPABILITIES,
    );
}

#[test]
fn a_store_without_commit_time_conflicts_is_explored_one_transaction_at_a_time() {
    let (caught, _) = catch(Fault::OwnerLostOnSecondSave, 4, &[]);
    assert!(caught <= 300);
}

#[test]
fn a_partial_acknowledgement_is_caught_and_written_up_with_an_unknown_id() {
    let factory = || Broken::new(Fault::PartialAcknowledgement);
    let mut options = reference_options(1);
    options.cases = 500;
    let mut events = Vec::new();
    let report = explore_with_progress(&factory, &options, &mut |p| match p {
        Progress::Diverged { keyword, .. } => events.push(format!("diverged at {keyword}")),
        Progress::Shrinking { .. } => events.push("shrinking".to_owned()),
        _ => {}
    });
    let failure = report
        .failure
        .clone()
        .expect("a partial acknowledgement is caught");
    assert!(events[0].starts_with("diverged at "), "{events:?}");
    assert!(events.iter().any(|e| e == "shrinking"), "{events:?}");
    // Only an acknowledgement naming an id no store issued shows it (past the signed 64-bit
    // range or inside it), and the spec writes one.
    let yaml = failure.scenario_yaml.as_deref().unwrap_or_default();
    assert!(
        yaml.contains("unknown: true") || yaml.contains("unissued: true"),
        "{failure}\n{yaml}"
    );
    assert!(failure.reproduces(), "{failure}");
    println!("{report}\n{yaml}");
    measure(
        Fault::PartialAcknowledgement,
        InMemoryUserEngineStore::CAPABILITIES,
    );
}

#[test]
fn acknowledgements_with_an_unknown_id_or_repeats_run_as_the_spec_writes_them() {
    let text = "\
id: explore/acknowledge_forms
summary: s
clause: store-contract#outbox-ack
given:
  migrated: true
steps:
  - enqueue: {tenant: acme, topic: t, key: a}
  - enqueue: {tenant: acme, topic: t, key: b}
  - acknowledge: {first: 2, unknown: true}
    expect: {error: invalid}
  - outbox_pending:
    expect: [acme/t/a, acme/t/b]
  - acknowledge: {events: [acme/t/a], twice: true}
    expect: {count: 1}
  - acknowledge: {again: true, twice: true, unknown: true}
    expect: {error: invalid}
  - acknowledge: {first: 5, twice: true}
    expect: {count: 1}
  - outbox_pending:
    expect: []
";
    let scenario = parse_scenario(
        "forms.yaml",
        "scenarios/explore/acknowledge_forms.yaml",
        text,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let snapshots = BTreeMap::new();
    let outcome = run_scenario(
        &scenario,
        &InMemoryUserEngineStore::new,
        &RunOptions::default(),
        &SnapshotCheck::Loaded(&snapshots),
    );
    assert!(outcome.passed(), "{:?}", outcome.status);
    // A store that acknowledges the known ids of a call that also names an unknown one fails it.
    let on_broken = run_scenario(
        &scenario,
        &|| Broken::new(Fault::PartialAcknowledgement),
        &RunOptions::default(),
        &SnapshotCheck::Loaded(&snapshots),
    );
    assert!(on_broken.failure().is_some(), "{:?}", on_broken.status);
}
