//! The coordinator: runs a scenario's steps in file order, each on the thread of its session,
//! and itself runs the steps that span sessions (`await`, `reopen`, `concurrently`).
//!
//! Sessions are scoped threads borrowing the store, so a transaction never leaves the thread
//! that began it. Steps run one at a time — a step starts only when the one before it finished —
//! except `background` steps, which the coordinator starts and collects later at `await`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread::{self, Scope};
use std::time::Duration;

use user_engine_conformance_spec::{Expect, Operation, Scenario, Step};

use super::actual::{Actual, Mismatch, describe_expect};
use super::session::{Session, verify};
use super::shared::{Shared, StepFailure};
use super::snapshot::SnapshotCheck;
use crate::{StoreError, UserEngineStore};

/// How long a step (or an awaited background step) may take before the run calls it stuck.
const STEP_TIME_LIMIT: Duration = Duration::from_secs(30);

/// How long the coordinator waits for a background step before it goes on to the next step. A
/// store that does not block (an optimistic one) finishes well within it, so the scenario takes
/// the same path on every run; one that blocks on a lock (a row-locking one) is still waiting
/// when the next step runs. Which path a store takes never decides a pass: scenarios allow both
/// (`one_of`), and only how long a run waits depends on it.
const BACKGROUND_GRACE: Duration = Duration::from_millis(250);

/// A failed step, or `None` for a failure not tied to one step.
pub(crate) type Located<'a> = (Option<&'a Step>, StepFailure);

enum Job<'a> {
    Step(&'a Step),
    DropTransactions,
}

struct Worker<'a> {
    jobs: mpsc::Sender<Job<'a>>,
    replies: mpsc::Receiver<Result<(), StepFailure>>,
    /// A background step not yet awaited.
    pending: Option<Pending<'a>>,
}

/// A background step not yet awaited, and its result if it finished within the grace period.
struct Pending<'a> {
    step: &'a Step,
    finished: Option<Result<(), StepFailure>>,
}

impl Worker<'_> {
    fn receive(&self) -> Result<(), StepFailure> {
        match self.replies.recv_timeout(STEP_TIME_LIMIT) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(StepFailure::Broken(format!(
                "the step did not finish within {} s; it is blocked, perhaps on a lock another session holds",
                STEP_TIME_LIMIT.as_secs()
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(StepFailure::Broken(
                "the session's thread ended unexpectedly".to_owned(),
            )),
        }
    }
}

/// Runs every step of `scenario` against `store`.
pub(crate) fn run_steps<'a, S: UserEngineStore>(
    store: &'a S,
    shared: &'a Shared,
    scenario: &'a Scenario,
    snapshots: &'a SnapshotCheck<'a>,
) -> Result<(), Located<'a>> {
    thread::scope(|scope| {
        let mut workers: BTreeMap<&'a str, Worker<'a>> = BTreeMap::new();
        let outcome = scenario.steps.iter().try_for_each(|step| {
            step_once(
                scope,
                &mut workers,
                step,
                store,
                shared,
                scenario,
                snapshots,
            )
        });
        // Roll back whatever is still open, so no session stays blocked, then let them end.
        for worker in workers.values() {
            let _ = worker.jobs.send(Job::DropTransactions);
        }
        drop(workers);
        outcome
    })
}

fn step_once<'a, 'scope, S: UserEngineStore>(
    scope: &'scope Scope<'scope, 'a>,
    workers: &mut BTreeMap<&'a str, Worker<'a>>,
    step: &'a Step,
    store: &'a S,
    shared: &'a Shared,
    scenario: &'a Scenario,
    snapshots: &'a SnapshotCheck<'a>,
) -> Result<(), Located<'a>> {
    let here = |f: StepFailure| (Some(step), f);
    match &step.operation {
        Operation::Await { session } => {
            let worker = workers.get_mut(session.as_str()).ok_or_else(|| {
                here(StepFailure::Broken(format!(
                    "session `{session}` never ran a step"
                )))
            })?;
            let pending = worker.pending.take().ok_or_else(|| {
                here(StepFailure::Broken(format!(
                    "session `{session}` has no background step to await"
                )))
            })?;
            let result = match pending.finished {
                Some(result) => result,
                None => worker.receive(),
            };
            result.map_err(|f| (Some(pending.step), f))
        }
        Operation::Reopen => {
            for worker in workers.values() {
                if worker.pending.is_some() {
                    return Err(here(StepFailure::Broken(
                        "a background step is still running".to_owned(),
                    )));
                }
                worker
                    .jobs
                    .send(Job::DropTransactions)
                    .map_err(|_| here(gone()))?;
                worker.receive().map_err(here)?;
            }
            let result = match store.conformance_hooks() {
                Some(hooks) => hooks.reopen().map(|()| Actual::Unit),
                None => Err(StoreError::Unsupported {
                    operation: "reopen",
                }),
            };
            verify(shared, scenario, step, &result, snapshots).map_err(here)
        }
        Operation::Concurrently { times, operation } => {
            let results = concurrently(scope, store, shared, scenario, *times, operation);
            check_concurrent(shared, &step.expect, &results).map_err(here)
        }
        _ => {
            let name = step.session.as_deref().unwrap_or("");
            let worker = workers
                .entry(name)
                .or_insert_with(|| spawn(scope, store, shared, scenario, snapshots));
            if worker.pending.is_some() {
                return Err(here(StepFailure::Broken(format!(
                    "session `{name}` is still running a background step; `await: {name}` first"
                ))));
            }
            worker
                .jobs
                .send(Job::Step(step))
                .map_err(|_| here(gone()))?;
            if step.background {
                let finished = match worker.replies.recv_timeout(BACKGROUND_GRACE) {
                    Ok(result) => Some(result),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(gone())),
                };
                worker.pending = Some(Pending { step, finished });
                Ok(())
            } else {
                worker.receive().map_err(here)
            }
        }
    }
}

fn gone() -> StepFailure {
    StepFailure::Broken("the session's thread ended unexpectedly".to_owned())
}

fn spawn<'a, 'scope, S: UserEngineStore>(
    scope: &'scope Scope<'scope, 'a>,
    store: &'a S,
    shared: &'a Shared,
    scenario: &'a Scenario,
    snapshots: &'a SnapshotCheck<'a>,
) -> Worker<'a> {
    let (jobs, job_queue) = mpsc::channel::<Job<'a>>();
    let (reply, replies) = mpsc::channel();
    scope.spawn(move || {
        let mut session = Session::new(store, shared, scenario);
        for job in job_queue {
            let result = match job {
                Job::Step(step) => catch_unwind(AssertUnwindSafe(|| session.run(step, snapshots)))
                    .unwrap_or_else(|panic| {
                        Err(StepFailure::Broken(format!(
                            "the store panicked: {}",
                            panic_text(&panic)
                        )))
                    }),
                Job::DropTransactions => {
                    session.drop_transactions();
                    Ok(())
                }
            };
            if reply.send(result).is_err() {
                break;
            }
        }
    });
    Worker {
        jobs,
        replies,
        pending: None,
    }
}

type Copies = Vec<Result<Result<Actual, StoreError>, String>>;

/// Runs `times` copies of `operation` at once, each on its own thread and session.
///
/// The copies start together through a [`StartGate`], not a `Barrier` of `times`: when a thread
/// cannot be started (the system is out of threads), a barrier would hold the started ones
/// forever; the gate sends them home and the step fails with the reason.
fn concurrently<'a, 'scope, S: UserEngineStore>(
    scope: &'scope Scope<'scope, 'a>,
    store: &'a S,
    shared: &'a Shared,
    scenario: &'a Scenario,
    times: usize,
    operation: &'a Operation,
) -> Copies {
    let gate = Arc::new(StartGate::default());
    let mut handles = Vec::with_capacity(times);
    let mut not_started = None;
    for copy in 0..times {
        let gate = Arc::clone(&gate);
        let started = thread::Builder::new().spawn_scoped(scope, move || {
            let session = catch_unwind(AssertUnwindSafe(|| Session::new(store, shared, scenario)));
            if !gate.arrive() {
                return Err("not run: another copy could not be started".to_owned());
            }
            let mut session =
                session.map_err(|panic| format!("the store panicked: {}", panic_text(&panic)))?;
            match catch_unwind(AssertUnwindSafe(|| session.perform(operation, None))) {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(StepFailure::Broken(why))) => Err(why),
                Ok(Err(StepFailure::Mismatch(m))) => Err(m.actual),
                Err(panic) => Err(format!("the store panicked: {}", panic_text(&panic))),
            }
        });
        match started {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                not_started = Some(format!(
                    "cannot start a thread for copy {} of {times}: {error}",
                    copy + 1
                ));
                break;
            }
        }
    }
    gate.decide(handles.len(), not_started.is_none());
    let mut copies: Copies = handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("a copy's thread panicked".to_owned()))
        })
        .collect();
    if let Some(why) = not_started {
        let missing = times - copies.len();
        copies.extend(std::iter::repeat_with(|| Err(why.clone())).take(missing));
    }
    copies
}

/// Where the copies of a `concurrently` step wait until all of them exist, or until the step is
/// given up; the coordinator, which knows how many threads it made, decides which.
#[derive(Default)]
struct StartGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    /// How many copies were started, once the coordinator knows all of them were.
    expected: Option<usize>,
    /// `true` to run, `false` to give up.
    decision: Option<bool>,
}

impl StartGate {
    /// Called by each copy once its session exists; blocks until the decision and returns it.
    fn arrive(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        if state.expected == Some(state.arrived) {
            state.decision = Some(true);
            self.changed.notify_all();
        }
        loop {
            if let Some(decision) = state.decision {
                return decision;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Called by the coordinator after starting `started` copies: run them all once they have
    /// arrived (`all_started`), or release them at once to give up.
    fn decide(&self, started: usize, all_started: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !all_started {
            state.decision = Some(false);
        } else if state.arrived == started {
            state.decision = Some(true);
        } else {
            state.expected = Some(started);
        }
        self.changed.notify_all();
    }
}

fn check_concurrent(shared: &Shared, expect: &Expect, copies: &Copies) -> Result<(), StepFailure> {
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut applied = Vec::new();
    for copy in copies {
        match copy {
            Err(why) => return Err(StepFailure::Broken(why.clone())),
            Ok(Err(e)) => {
                shared.record_error(e);
                *outcomes.entry(e.kind().as_str().to_owned()).or_default() += 1;
            }
            Ok(Ok(actual)) => {
                *outcomes.entry("ok".to_owned()).or_default() += 1;
                if let Actual::Migration(report) = actual {
                    applied.extend(report.applied.iter().copied());
                }
            }
        }
    }
    applied.sort_unstable();
    let n = copies.len() as u64;
    let holds = match expect {
        Expect::Outcomes(wanted) => {
            *wanted
                == outcomes
                    .clone()
                    .into_iter()
                    .filter(|(_, c)| *c > 0)
                    .collect::<BTreeMap<_, _>>()
        }
        Expect::Applied(versions) => outcomes.get("ok") == Some(&n) && applied == *versions,
        Expect::Ok => outcomes.get("ok") == Some(&n),
        Expect::Error(kind) => outcomes.get(kind) == Some(&n),
        _ => false,
    };
    if holds {
        return Ok(());
    }
    let parts: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let mut actual = format!("outcomes {{{}}}", parts.join(", "));
    if matches!(expect, Expect::Applied(_)) {
        actual.push_str(&format!(
            ", migrations applied by all copies together: {applied:?}"
        ));
    }
    let expected = match expect {
        Expect::Outcomes(wanted) => {
            let parts: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("outcomes {{{}}}", parts.join(", "))
        }
        Expect::Applied(v) => format!("every copy to succeed, applying {v:?} between them"),
        other => format!("every copy: {}", describe_expect(other)),
    };
    Err(StepFailure::Mismatch(Mismatch { expected, actual }))
}

pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_gate_sends_started_copies_home_when_one_cannot_start() {
        let gate = Arc::new(StartGate::default());
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let gate = Arc::clone(&gate);
                thread::spawn(move || gate.arrive())
            })
            .collect();
        // The fourth copy never started.
        gate.decide(3, false);
        for copy in waiting {
            assert!(!copy.join().unwrap());
        }
    }

    #[test]
    fn the_start_gate_opens_once_every_started_copy_has_arrived() {
        for arrive_first in [0, 2, 4] {
            let gate = Arc::new(StartGate::default());
            let spawn = |gate: &Arc<StartGate>| {
                let gate = Arc::clone(gate);
                thread::spawn(move || gate.arrive())
            };
            let mut copies: Vec<_> = (0..arrive_first).map(|_| spawn(&gate)).collect();
            gate.decide(4, true);
            copies.extend((arrive_first..4).map(|_| spawn(&gate)));
            for copy in copies {
                assert!(copy.join().unwrap());
            }
        }
    }
}
