//! The two-session explorer's tests: the reference passes, seeds replay, and stores that break
//! a guard, the outbox order or the commit's atomicity under concurrency are caught.

use super::broken::{Race, Racy};
use super::{case_plan, interleaving};
use crate::InMemoryUserEngineStore;
use crate::conformance::explore::{
    ExploreFailure, ExploreOptions, ExploreReport, case_history, explore,
};

fn options(seed: u64, sessions: usize, cases: usize) -> ExploreOptions {
    let mut options = ExploreOptions::new(seed);
    options.sessions = sessions;
    options.cases = cases;
    options
}

#[test]
fn the_reference_passes_two_and_three_session_histories() {
    for (seed, sessions) in [(1, 2), (2, 2), (3, 3)] {
        let report = explore(&InMemoryUserEngineStore::new, &options(seed, sessions, 300));
        assert!(report.passed(), "{report}");
        assert_eq!(report.histories, 300);
        println!(
            "reference, {sessions} sessions, seed {seed}: {} histories, {} steps in {:.2} s = {:.0} histories/s",
            report.histories,
            report.steps,
            report.elapsed.as_secs_f64(),
            report.histories_per_second()
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_plans_and_digest() {
    let two = options(7, 2, 30);
    for case in 0..10 {
        let first = case_history(&two, case);
        assert_eq!(first, case_history(&two, case), "case {case}");
        assert!(first.contains("\ns2: s2.t1: begin\n"), "{first}");
        assert!(first.contains("schedule: "), "{first}");
    }
    assert_ne!(case_history(&two, 0), case_history(&options(8, 2, 30), 0));
    let first = explore(&InMemoryUserEngineStore::new, &two);
    let again = explore(&InMemoryUserEngineStore::new, &two);
    assert_eq!(first.digest, again.digest);
    // The digest is the plans', not the store's: a store that fails late draws the same ones.
    let one_session = explore(&InMemoryUserEngineStore::new, &options(7, 1, 30));
    assert_ne!(first.digest, one_session.digest);
    let three = explore(&InMemoryUserEngineStore::new, &options(7, 3, 30));
    assert_ne!(first.digest, three.digest);
}

#[test]
fn plans_meet_on_guards_and_end_both_ways() {
    let two = options(5, 2, 1);
    let (mut guarded, mut rollbacks, mut interleaved) = (0, 0, 0);
    for case in 0..100 {
        let plan = case_plan(&two, case);
        let text = plan.text();
        guarded += usize::from(text.contains(" if version "));
        rollbacks += usize::from(text.contains(": rollback"));
        // Some schedule hands the token back and forth within a transaction.
        interleaved += usize::from(
            plan.schedule
                .windows(3)
                .any(|w| w[0] != w[1] && w[1] != w[2]),
        );
        assert_eq!(
            plan.step_count(),
            plan.sessions.iter().map(|s| s.steps().len()).sum::<usize>()
        );
    }
    assert!(
        guarded > 50 && rollbacks > 20 && interleaved > 50,
        "{guarded} {rollbacks} {interleaved}"
    );
}

/// Explores `race` until caught, over three seeds; the reports.
fn caught(race: Race, cases: usize) -> Vec<ExploreReport> {
    (1..=3)
        .map(|seed| {
            let report = explore(&|| Racy::new(race), &options(seed, 2, cases));
            let failure = report
                .failure
                .as_ref()
                .unwrap_or_else(|| panic!("{race:?} not caught from seed {seed}: {report}"));
            println!(
                "{race:?}, seed {seed}: caught after {} histories at `{}` (store-contract#{}), shrunk from {} to {} steps in {} runs\n{report}",
                report.histories,
                failure.keyword,
                failure.clause,
                failure.steps_before,
                failure.steps_after,
                failure.shrink_runs
            );
            assert!(failure.steps_after <= failure.steps_before);
            assert!(failure.history.contains("schedule as drawn: "), "{report}");
            // The printed interleaving gives every step of the shrunk case with its answer.
            let answered = failure
                .history
                .lines()
                .filter(|l| session_line(l) && l.contains(" -> "))
                .count();
            assert_eq!(answered, failure.steps_after, "{report}");
            report
        })
        .collect()
}

/// Whether `line` of an interleaving is a session's (`s2: ...`), not the setup's or the schedule's.
fn session_line(line: &str) -> bool {
    line.split_once(": ")
        .and_then(|(who, _)| who.strip_prefix('s'))
        .is_some_and(|n| n.parse::<usize>().is_ok())
}

/// Whether the failure's interleaving has steps of both sessions, as a race between them needs.
fn names_both_sessions(failure: &ExploreFailure) -> bool {
    ["s1: ", "s2: "]
        .iter()
        .all(|s| failure.history.lines().any(|l| l.starts_with(s)))
}

#[test]
fn a_guard_checked_only_at_the_write_is_a_lost_update() {
    for report in caught(Race::GuardCheckedOnlyAtWrite, 300) {
        let failure = report.failure.unwrap();
        assert_eq!(failure.clause, "isolation-anomalies", "{failure}");
        assert_eq!(failure.keyword, "commit", "{failure}");
        assert!(names_both_sessions(&failure), "{failure}");
    }
}

#[test]
fn events_in_begin_order_are_not_in_commit_order() {
    for report in caught(Race::OutboxInBeginOrder, 300) {
        let failure = report.failure.unwrap();
        assert_eq!(
            (failure.keyword.as_str(), failure.clause.as_str()),
            ("outbox_pending", "outbox-order"),
            "{failure}"
        );
        assert!(names_both_sessions(&failure), "{failure}");
    }
}

#[test]
fn a_commit_applied_write_by_write_is_not_atomic() {
    for report in caught(Race::CommitWriteByWrite, 300) {
        let failure = report.failure.unwrap();
        assert_eq!(failure.clause, "tx-atomic-failure", "{failure}");
    }
}

#[test]
fn a_session_thread_that_dies_outside_a_step_ends_the_history_as_a_panic() {
    // Before, the coordinator waited for ever for the dead thread's answer; a timeout makes a
    // hang fail the test instead of hanging it.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let report = explore(
            &|| Racy::new(Race::PanicsInSaveAndInDrop),
            &options(1, 2, 20),
        );
        let _ = send.send(report);
    });
    let report = receive
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the run hung after a session thread died");
    let failure = report.failure.as_ref().expect("not caught");
    assert_eq!(
        (failure.keyword.as_str(), failure.clause.as_str()),
        ("panic", "tx-panic"),
        "{report}"
    );
    assert!(
        failure.store.contains("(the session's thread ended)"),
        "{report}"
    );
}

#[test]
fn the_interleaving_names_every_step_and_answer() {
    let two = options(11, 2, 1);
    let plan = case_plan(&two, 0);
    let store = InMemoryUserEngineStore::new();
    let observed = super::run::run(&plan, &store, super::limits());
    assert_eq!(
        super::check::check(&plan, &observed),
        super::check::Verdict::Allowed
    );
    let text = interleaving(&plan, &observed);
    // The reference never blocks: the steps run in the schedule's order.
    let ran: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('s') && l.contains(" -> "))
        .collect();
    assert_eq!(ran.len(), plan.step_count(), "{text}");
    let sessions: Vec<usize> = ran
        .iter()
        .map(|l| l[1..l.find(':').unwrap()].parse::<usize>().unwrap() - 1)
        .collect();
    assert_eq!(sessions, plan.schedule, "{text}");
}
