//! The two-session explorer (`ExploreOptions::sessions`) against gallery exhibits whose fault
//! only concurrent sessions show: the row-locking store's locking mutations, the outbox
//! ordered by enqueue time, and a failed commit that publishes its events. The fault-free store
//! of each design ends every history as the isolation clause allows — the row-locking one with
//! its second writers waiting on their own threads.

use user_engine::UserEngineStore;
use user_engine::conformance::explore::{ExploreOptions, ExploreReport, explore};

use super::base::{Broken, Faithful, Fault};
use super::locking::{self, LockingStore};
use super::outbox::PendingInEnqueueOrder;
use super::transactions::FailedCommitPublishesEvents;

fn two_sessions<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    seed: u64,
    cases: usize,
) -> ExploreReport {
    let mut options = ExploreOptions::new(seed);
    options.sessions = 2;
    options.cases = cases;
    explore(factory, &options)
}

/// The clause each of seeds 1–3 catches `factory`'s store at, within `cases` histories.
fn caught_at<S: UserEngineStore>(factory: &dyn Fn() -> S, cases: usize) -> Vec<String> {
    (1..=3)
        .map(|seed| {
            let report = two_sessions(factory, seed, cases);
            let failure = report
                .failure
                .as_ref()
                .unwrap_or_else(|| panic!("not caught from seed {seed}: {report}"));
            println!(
                "seed {seed}: caught after {} histories\n{report}",
                report.histories
            );
            failure.clause.clone()
        })
        .collect()
}

fn broken<F: Fault>() -> Broken<F> {
    Broken::new(F::CAPABILITIES)
}

#[test]
fn the_fault_free_stores_pass_two_session_histories() {
    let report = two_sessions(&broken::<Faithful>, 1, 200);
    assert!(report.passed(), "{report}");
    for seed in [1, 2] {
        let report = two_sessions(&LockingStore::<locking::Correct>::new, seed, 100);
        assert!(report.passed(), "{report}");
        // Its second writers wait for the lock, so the schedule moved on past them.
        assert!(report.blocked_steps > 0, "{report}");
    }
}

#[test]
fn a_locking_writer_that_skips_the_lock_is_a_lost_update() {
    let clauses = caught_at(
        &LockingStore::<locking::LockingWriterSkipsTheLock>::new,
        300,
    );
    assert_eq!(clauses, ["isolation-anomalies"; 3]);
}

#[test]
fn a_guard_checked_before_waiting_for_the_lock_is_a_lost_update() {
    let clauses = caught_at(
        &LockingStore::<locking::LockingGuardCheckedBeforeWaiting>::new,
        300,
    );
    assert_eq!(clauses, ["isolation-anomalies"; 3]);
}

#[test]
fn events_in_enqueue_order_are_not_in_commit_order() {
    let clauses = caught_at(&broken::<PendingInEnqueueOrder>, 300);
    assert_eq!(clauses, ["outbox-order"; 3]);
}

#[test]
fn a_failed_commit_that_publishes_its_events_is_not_atomic() {
    let clauses = caught_at(&broken::<FailedCommitPublishesEvents>, 300);
    assert_eq!(clauses, ["tx-atomic-failure"; 3]);
}
