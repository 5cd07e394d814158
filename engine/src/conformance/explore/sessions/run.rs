//! Running a plan: each session on a thread of its own, the steps handed out one at a time in
//! the schedule's order, and what every step answered, with logical times around each call.
//!
//! The coordinator holds a token: it tells one session to take its next step and waits for the
//! answer. A step may block — a store that locks rows makes a second writer wait until the
//! first commits — and the session holding the lock may be the one whose turn comes next, so
//! waiting for ever would deadlock the schedule. The coordinator waits at most
//! [`RunLimits::block_after`]; then it notes the step as blocked and moves on, taking the
//! schedule's next entry of a session that is not blocked. The blocked session's later entries
//! wait (a session runs its steps in order); when its step returns — noticed before each new
//! step is handed out — its entries run again, earliest first. When every session with steps
//! left is blocked, the coordinator waits for any of them without a limit: a store that never
//! breaks a deadlock hangs the run, as a store that blocks hangs a one-session run.
//!
//! A session thread never ends silently: a panic inside a step is that step's answer, and one
//! outside it (a transaction whose drop panics) ends the thread with a last panicked outcome,
//! after which the coordinator gives that session no more turns; the check fails the history.
//!
//! Nothing the checks rely on depends on that wait: they use what each call answered and which
//! calls finished before others began (a shared counter read just before and just after every
//! call), not the schedule. A slow step taken for a blocked one only makes the interleaving
//! more concurrent than the schedule, which every correct store must survive anyway.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::plan::{End, Op, Plan, Session, Step, TOPIC};
use crate::conformance::coordinator::panic_text;
use crate::{
    AuditEntry, AuditRecord, ErrorKind, OutboxMessage, Payload, Record, RecordWrite, StoreError,
    StoreTransaction, TenantId, TenantQuery, UserEngineStore,
};

/// How long a step may take before the schedule moves on to another session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunLimits {
    pub(crate) block_after: Duration,
}

/// What one step answered.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    Done,
    Failed(ErrorKind),
    /// Not run: its transaction failed to begin, or an earlier step of it panicked.
    Skipped,
    Panicked(String),
}

/// One step's answer and the logical times just before and just after its call.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) answer: Answer,
    pub(crate) called: u64,
    pub(crate) returned: u64,
}

/// A line of the interleaving as it ran.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// Session `s` took step `index`; `waited` when it had been noted as blocked.
    Ran {
        session: usize,
        index: usize,
        waited: bool,
    },
    /// Session `s`'s step `index` did not return in time; the schedule moved on.
    Blocked { session: usize, index: usize },
}

/// What the stores held at the end, read outside any transaction: every tenant's records (with
/// versions) and audit entries, and the pending events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FinalState {
    pub(crate) records: BTreeMap<TenantId, Vec<Record>>,
    pub(crate) audit: BTreeMap<TenantId, Vec<AuditEntry>>,
    pub(crate) pending: Vec<OutboxMessage>,
    /// Audit listings whose sequence numbers did not increase.
    pub(crate) audit_unordered: Vec<TenantId>,
}

/// Everything observed running one plan.
pub(crate) struct Observed {
    /// Per session, per step (in [`Session::steps`] order).
    pub(crate) outcomes: Vec<Vec<Outcome>>,
    pub(crate) events: Vec<Event>,
    /// `Err` when the setup or a final read failed.
    pub(crate) state: Result<FinalState, String>,
}

/// More pending events than any plan enqueues; read in one call.
const PENDING_LIMIT: usize = 10_000;

/// Runs `plan` on `store`: migrate and setup on this thread, then the sessions on theirs.
pub(crate) fn run<S: UserEngineStore>(plan: &Plan, store: &S, limits: RunLimits) -> Observed {
    let empty = || plan.sessions.iter().map(|_| Vec::new()).collect();
    if let Err(why) = unpanicked(|| prepare(plan, store)) {
        return Observed {
            outcomes: empty(),
            events: Vec::new(),
            state: Err(why),
        };
    }
    // A turn past a session's last step would be the plan's bug, not the store's: refuse it
    // here, before any thread starts, rather than blame the store for it later.
    for (s, session) in plan.sessions.iter().enumerate() {
        let entries = plan.schedule.iter().filter(|&&e| e == s).count();
        assert_eq!(
            entries,
            session.steps().len(),
            "the schedule has {entries} entries for s{}, which has {} steps",
            s + 1,
            session.steps().len()
        );
    }
    let clock = AtomicU64::new(0);
    let (outcomes, events) = std::thread::scope(|scope| {
        let (done_send, done) = mpsc::channel::<Message>();
        let mut turns = Vec::new();
        for (s, session) in plan.sessions.iter().enumerate() {
            let (turn_send, turn) = mpsc::channel::<()>();
            turns.push(turn_send);
            let done_send = done_send.clone();
            let clock = &clock;
            scope.spawn(move || {
                // Each step's own panic is caught in `next`; this catches the rest (a
                // transaction whose drop panics, or a bug of this runner), so the thread
                // always says it ended and the coordinator never waits for it in vain.
                let ended = catch_unwind(AssertUnwindSafe(|| {
                    let mut runner = SessionRunner::new(store, session, clock);
                    for () in &turn {
                        let Some(outcome) = runner.next() else {
                            panic!("s{} was given a turn past its last step", s + 1);
                        };
                        if done_send.send(Message::Step(s, outcome)).is_err() {
                            break;
                        }
                    }
                }));
                if let Err(panic) = ended {
                    let at = clock.fetch_add(1, Ordering::SeqCst);
                    let outcome = Outcome {
                        answer: Answer::Panicked(format!(
                            "{} (the session's thread ended)",
                            panic_text(&panic)
                        )),
                        called: at,
                        returned: at,
                    };
                    let _ = done_send.send(Message::Ended(s, outcome));
                }
            });
        }
        drop(done_send);
        let mut coordinator = Coordinator {
            outcomes: empty(),
            events: Vec::new(),
            blocked: vec![false; plan.sessions.len()],
            over: vec![false; plan.sessions.len()],
            done,
        };
        coordinator.drive(&plan.schedule, &turns, limits);
        // Dropping the turns ends every session thread's loop.
        drop(turns);
        (coordinator.outcomes, coordinator.events)
    });
    Observed {
        outcomes,
        events,
        state: unpanicked(|| final_state(plan, store)),
    }
}

/// `body`'s result, a panic in the store turned into an error the check reports.
fn unpanicked<T>(body: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(format!("the store panicked: {}", panic_text(&panic))))
}

/// What a session thread sends the coordinator.
enum Message {
    /// Session `s` took its next step.
    Step(usize, Outcome),
    /// Session `s`'s thread ended by unwinding, outside any step's own catch: the outcome is a
    /// panic, in place of the step it was taking (or after its last one), and the session
    /// takes no further step.
    Ended(usize, Outcome),
}

struct Coordinator {
    outcomes: Vec<Vec<Outcome>>,
    events: Vec<Event>,
    blocked: Vec<bool>,
    /// Sessions whose thread has ended; their schedule entries left are dropped.
    over: Vec<bool>,
    done: mpsc::Receiver<Message>,
}

impl Coordinator {
    fn drive(&mut self, schedule: &[usize], turns: &[mpsc::Sender<()>], limits: RunLimits) {
        let mut left: Vec<usize> = schedule.to_vec();
        loop {
            left.retain(|&s| !self.over[s]);
            if left.is_empty() {
                break;
            }
            // Blocked steps that returned meanwhile.
            while let Ok(message) = self.done.try_recv() {
                self.receive(message);
            }
            let Some(at) = left.iter().position(|&s| !self.blocked[s] && !self.over[s]) else {
                if left.iter().all(|&s| self.over[s]) {
                    continue;
                }
                // Every session with steps left waits inside the store.
                match self.done.recv() {
                    Ok(message) => self.receive(message),
                    Err(_) => return,
                }
                continue;
            };
            let s = left.remove(at);
            let index = self.outcomes[s].len();
            if turns[s].send(()).is_err() {
                return;
            }
            self.blocked[s] = true;
            let deadline = Instant::now() + limits.block_after;
            while self.blocked[s] {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.done.recv_timeout(wait) {
                    Ok(message) => self.receive(message),
                    Err(RecvTimeoutError::Timeout) => {
                        self.events.push(Event::Blocked { session: s, index });
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
        while self.blocked.iter().any(|&b| b) {
            match self.done.recv() {
                Ok(message) => self.receive(message),
                Err(_) => return,
            }
        }
    }

    fn receive(&mut self, message: Message) {
        match message {
            Message::Step(s, outcome) => self.record(s, outcome),
            Message::Ended(s, outcome) => {
                self.record(s, outcome);
                self.over[s] = true;
            }
        }
    }

    fn record(&mut self, s: usize, outcome: Outcome) {
        let index = self.outcomes[s].len();
        let waited = self.events.iter().any(
            |e| matches!(e, Event::Blocked { session, index: i } if *session == s && *i == index),
        );
        self.outcomes[s].push(outcome);
        self.blocked[s] = false;
        self.events.push(Event::Ran {
            session: s,
            index,
            waited,
        });
    }
}

/// One session's thread state: its steps, where it is, and its open transaction.
struct SessionRunner<'s, S: UserEngineStore> {
    store: &'s S,
    session: &'s Session,
    steps: Vec<Step>,
    next: usize,
    tx: Option<Box<dyn StoreTransaction + 's>>,
    clock: &'s AtomicU64,
}

impl<'s, S: UserEngineStore> SessionRunner<'s, S> {
    fn new(store: &'s S, session: &'s Session, clock: &'s AtomicU64) -> Self {
        SessionRunner {
            store,
            session,
            steps: session.steps(),
            next: 0,
            tx: None,
            clock,
        }
    }

    /// Takes the next step; `None` when none is left.
    fn next(&mut self) -> Option<Outcome> {
        let step = *self.steps.get(self.next)?;
        self.next += 1;
        let called = self.clock.fetch_add(1, Ordering::SeqCst);
        let answer = catch_unwind(AssertUnwindSafe(|| self.take(step))).unwrap_or_else(|panic| {
            // What a panicking transaction held is dropped (rolled back) here, on its thread.
            self.tx = None;
            Answer::Panicked(panic_text(&panic))
        });
        let returned = self.clock.fetch_add(1, Ordering::SeqCst);
        Some(Outcome {
            answer,
            called,
            returned,
        })
    }

    fn take(&mut self, step: Step) -> Answer {
        let answer = |result: Result<(), StoreError>| match result {
            Ok(()) => Answer::Done,
            Err(e) => Answer::Failed(e.kind()),
        };
        match step {
            Step::Begin(_) => match self.store.begin() {
                Ok(tx) => {
                    self.tx = Some(tx);
                    Answer::Done
                }
                Err(e) => Answer::Failed(e.kind()),
            },
            Step::Op(t, o) => match self.tx.as_mut() {
                None => Answer::Skipped,
                Some(tx) => answer(perform(tx.as_mut(), &self.session.transactions[t].ops[o])),
            },
            Step::End(t) => match self.tx.take() {
                None => Answer::Skipped,
                Some(tx) => answer(match self.session.transactions[t].end {
                    End::Commit => tx.commit(),
                    End::Rollback => tx.rollback(),
                }),
            },
        }
    }
}

/// Carries one operation out in `tx`.
pub(crate) fn perform(tx: &mut dyn StoreTransaction, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::Save {
            key,
            expect,
            payload,
        } => {
            let write = RecordWrite {
                key: key.clone(),
                user: None,
                payload: Payload::new(payload.clone()),
            };
            tx.save(write, *expect).map(drop)
        }
        Op::Delete { key, expect } => tx.delete(key, *expect),
        Op::Audit {
            tenant,
            action,
            target,
        } => tx.append_audit(AuditEntry {
            tenant: tenant.clone(),
            actor: None,
            action: action.clone(),
            target: target.clone(),
        }),
        Op::Enqueue {
            tenant,
            key,
            payload,
        } => tx.enqueue(OutboxMessage {
            tenant: tenant.clone(),
            topic: TOPIC.to_owned(),
            key: key.clone(),
            payload: Payload::new(payload.clone()),
        }),
    }
}

/// Migrates `store` and commits the plan's setup.
pub(crate) fn prepare<S: UserEngineStore>(plan: &Plan, store: &S) -> Result<(), String> {
    store
        .migrate()
        .map_err(|e| format!("migrate failed: {e}"))?;
    if plan.setup.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().map_err(|e| format!("setup begin: {e}"))?;
    for op in &plan.setup {
        perform(tx.as_mut(), op).map_err(|e| format!("setup {}: {e}", op.text()))?;
    }
    tx.commit().map_err(|e| format!("setup commit: {e}"))
}

/// Reads what `store` holds for the plan's tenants.
pub(crate) fn final_state<S: UserEngineStore>(
    plan: &Plan,
    store: &S,
) -> Result<FinalState, String> {
    let mut state = FinalState {
        records: BTreeMap::new(),
        audit: BTreeMap::new(),
        pending: Vec::new(),
        audit_unordered: Vec::new(),
    };
    for tenant in &plan.tenants {
        let page = store
            .list_tenant(&TenantQuery::all(tenant.clone()))
            .map_err(|e| format!("list {tenant}: {e}"))?;
        state.records.insert(tenant.clone(), page.records);
        let audit: Vec<AuditRecord> = store
            .list_audit(tenant)
            .map_err(|e| format!("list_audit {tenant}: {e}"))?;
        if !audit.windows(2).all(|w| w[0].sequence < w[1].sequence) {
            state.audit_unordered.push(tenant.clone());
        }
        state
            .audit
            .insert(tenant.clone(), audit.into_iter().map(|a| a.entry).collect());
    }
    state.pending = store
        .outbox_pending(PENDING_LIMIT)
        .map_err(|e| format!("outbox_pending: {e}"))?
        .into_iter()
        .map(|e| e.message)
        .collect();
    Ok(state)
}
