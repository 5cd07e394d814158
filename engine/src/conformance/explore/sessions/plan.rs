//! A two-session history: what each session does (transactions of saves, deletes, audit entries
//! and enqueues, each ended by commit or rollback), the records committed before the sessions
//! start, and the seeded schedule that interleaves the sessions' steps. Drawn from the seed
//! alone — nothing here watches a store — and written out as text for the digest and reports.

use serde_json::{Value, json};

use super::super::corpus::{self, RECORD_IDS, Rng, TENANTS};
use crate::{Expectation, RecordId, RecordKey, RecordKind, TenantId};

/// One write or entry inside a transaction. Payloads, audit actions and event keys name the
/// transaction and the operation (`s1.t2.3`), so a final state shows whose work it holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    Save {
        key: RecordKey,
        expect: Expectation,
        payload: Value,
    },
    Delete {
        key: RecordKey,
        expect: Expectation,
    },
    Audit {
        tenant: TenantId,
        action: String,
        target: Option<RecordKey>,
    },
    Enqueue {
        tenant: TenantId,
        key: String,
        payload: Value,
    },
}

/// The topic of every explored event: order, not naming, is what these histories check.
pub(crate) const TOPIC: &str = "profile.saved";

impl Op {
    pub(crate) fn text(&self) -> String {
        let guard = |expect: &Expectation| match expect {
            Expectation::Any => String::new(),
            Expectation::Absent => " if absent".to_owned(),
            Expectation::Version(v) => format!(" if version {v}"),
        };
        match self {
            Op::Save {
                key,
                expect,
                payload,
            } => format!("save {key}{} = {payload}", guard(expect)),
            Op::Delete { key, expect } => format!("delete {key}{}", guard(expect)),
            Op::Audit {
                tenant,
                action,
                target,
            } => match target {
                Some(target) => format!("audit {tenant} {action} on {target}"),
                None => format!("audit {tenant} {action}"),
            },
            Op::Enqueue { tenant, key, .. } => format!("enqueue {tenant}/{TOPIC}/{key}"),
        }
    }
}

/// How a transaction ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Commit,
    Rollback,
}

/// One transaction of a session.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Transaction {
    /// `s<session>.t<n>`, both from 1.
    pub(crate) name: String,
    pub(crate) ops: Vec<Op>,
    pub(crate) end: End,
}

/// A step of a session, in the order the session runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Begin(usize),
    Op(usize, usize),
    End(usize),
}

/// One session: its transactions, one open at a time, on a thread of its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Session {
    pub(crate) transactions: Vec<Transaction>,
}

impl Session {
    pub(crate) fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for (t, tx) in self.transactions.iter().enumerate() {
            steps.push(Step::Begin(t));
            steps.extend((0..tx.ops.len()).map(|o| Step::Op(t, o)));
            steps.push(Step::End(t));
        }
        steps
    }

    pub(crate) fn step_text(&self, step: Step) -> String {
        match step {
            Step::Begin(t) => format!("{}: begin", self.transactions[t].name),
            Step::Op(t, o) => format!(
                "{}: {}",
                self.transactions[t].name,
                self.transactions[t].ops[o].text()
            ),
            Step::End(t) => {
                let tx = &self.transactions[t];
                match tx.end {
                    End::Commit => format!("{}: commit", tx.name),
                    End::Rollback => format!("{}: rollback", tx.name),
                }
            }
        }
    }
}

/// A whole case: setup, sessions and schedule.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// The tenants the sessions use; the final state is read for each.
    pub(crate) tenants: Vec<TenantId>,
    /// Saves committed in one transaction after `migrate`, before any session starts, so
    /// version guards have records to meet.
    pub(crate) setup: Vec<Op>,
    pub(crate) sessions: Vec<Session>,
    /// Which session takes the next step, one entry per step of all sessions together.
    pub(crate) schedule: Vec<usize>,
}

impl Plan {
    /// Draws case `seed`'s plan for `sessions` sessions (at least 2) of up to `max_steps` steps
    /// between them.
    pub(crate) fn draw(seed: u64, sessions: usize, max_steps: usize) -> Plan {
        let mut rng = Rng::new(seed);
        let tenant_count = rng.between(1, 2);
        let tenants: Vec<TenantId> = rng
            .choose(TENANTS, tenant_count)
            .into_iter()
            .map(tenant)
            .collect();
        let kind_count = rng.between(1, 2);
        let kinds = rng.choose(&RecordKind::ALL, kind_count);
        // Few keys, so that writers meet.
        let id_count = rng.between(1, 3);
        let ids = rng.choose(RECORD_IDS, id_count);
        let mut keys = Vec::new();
        for t in &tenants {
            for k in &kinds {
                for i in &ids {
                    keys.push(RecordKey::new(t.clone(), *k, record_id(i)));
                }
            }
        }
        let key_count = rng.between(1, keys.len().min(4));
        let keys = rng.choose(&keys, key_count);
        let setup = keys
            .iter()
            .filter(|_| rng.chance(60))
            .map(|key| Op::Save {
                key: key.clone(),
                expect: Expectation::Any,
                payload: json!({"by": "setup"}),
            })
            .collect();
        let mut drawer = Drawer {
            rng,
            tenants: &tenants,
            keys: &keys,
        };
        let budget = max_steps.max(2 * 3);
        let per_session = (budget / sessions.max(1)).max(3);
        let sessions: Vec<Session> = (1..=sessions.max(2))
            .map(|s| drawer.session(s, per_session))
            .collect();
        let schedule = drawer.schedule(&sessions);
        Plan {
            tenants,
            setup,
            sessions,
            schedule,
        }
    }

    /// The plan as text, one line a step: what the digest hashes and what a report shows.
    pub(crate) fn text(&self) -> String {
        let mut text = String::new();
        for op in &self.setup {
            text.push_str(&format!("setup: {}\n", op.text()));
        }
        for (s, session) in self.sessions.iter().enumerate() {
            for step in session.steps() {
                text.push_str(&format!("s{}: {}\n", s + 1, session.step_text(step)));
            }
        }
        let order: Vec<String> = self
            .schedule
            .iter()
            .map(|s| format!("s{}", s + 1))
            .collect();
        text.push_str(&format!("schedule: {}\n", order.join(" ")));
        text
    }

    /// Steps of all sessions together.
    pub(crate) fn step_count(&self) -> usize {
        self.schedule.len()
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap_or_else(|e| unreachable!("pool tenant {name}: {e}"))
}

fn record_id(name: &str) -> RecordId {
    let id = corpus::record_id(name);
    RecordId::new(id).unwrap_or_else(|e| unreachable!("pool id {name}: {e}"))
}

struct Drawer<'p> {
    rng: Rng,
    tenants: &'p [TenantId],
    keys: &'p [RecordKey],
}

impl Drawer<'_> {
    fn session(&mut self, s: usize, steps: usize) -> Session {
        let mut session = Session::default();
        let mut left = self.rng.between(3, steps);
        while left >= 3 || session.transactions.is_empty() {
            let ops = self.rng.between(1, (left.saturating_sub(2)).clamp(1, 4));
            let name = format!("s{s}.t{}", session.transactions.len() + 1);
            let ops = (1..=ops).map(|o| self.op(&format!("{name}.{o}"))).collect();
            let end = if self.rng.chance(80) {
                End::Commit
            } else {
                End::Rollback
            };
            let tx = Transaction { name, ops, end };
            left = left.saturating_sub(tx.ops.len() + 2);
            session.transactions.push(tx);
        }
        session
    }

    /// A guard near the versions a key can have: the setup gives 1 or nothing, each committed
    /// write one more.
    fn guard(&mut self, save: bool) -> Expectation {
        match self.rng.below(100) {
            0..35 => Expectation::Any,
            35..52 if save => Expectation::Absent,
            _ => Expectation::Version(self.rng.between(1, 3) as u64),
        }
    }

    fn op(&mut self, mark: &str) -> Op {
        let key = self.rng.pick(self.keys).clone();
        match self.rng.below(100) {
            0..50 => Op::Save {
                key,
                expect: self.guard(true),
                payload: json!({"by": mark}),
            },
            50..65 => Op::Delete {
                expect: self.guard(false),
                key,
            },
            65..80 => Op::Audit {
                tenant: key.tenant.clone(),
                action: mark.to_owned(),
                target: self.rng.chance(50).then_some(key),
            },
            _ => Op::Enqueue {
                tenant: if self.rng.chance(80) {
                    key.tenant
                } else {
                    self.rng.pick(self.tenants).clone()
                },
                key: mark.to_owned(),
                payload: json!({"by": mark}),
            },
        }
    }

    /// The interleaving: a session with steps left, drawn at random; now and then the same one
    /// runs on, so some transactions run whole between the other's steps.
    fn schedule(&mut self, sessions: &[Session]) -> Vec<usize> {
        let mut left: Vec<usize> = sessions.iter().map(|s| s.steps().len()).collect();
        let mut schedule = Vec::new();
        let mut last = None;
        while left.iter().any(|&n| n > 0) {
            let live: Vec<usize> = (0..left.len()).filter(|&s| left[s] > 0).collect();
            let next = match last {
                Some(s) if left[s] > 0 && self.rng.chance(40) => s,
                _ => *self.rng.pick(&live),
            };
            left[next] -= 1;
            schedule.push(next);
            last = Some(next);
        }
        schedule
    }
}

impl Plan {
    /// The plan with only the steps of session `s` that `keep` (indexed by [`Session::steps`])
    /// marks, and the schedule's entries for them. A transaction is kept when its `begin` is.
    pub(crate) fn keeping(&self, s: usize, keep: &[bool]) -> Plan {
        let old = &self.sessions[s];
        let mut session = Session::default();
        let mut flags = keep.iter();
        for tx in &old.transactions {
            let begun = *flags.next().unwrap_or(&true);
            let ops: Vec<Op> = tx
                .ops
                .iter()
                .filter(|_| *flags.next().unwrap_or(&true))
                .cloned()
                .collect();
            flags.next();
            if begun {
                session.transactions.push(Transaction {
                    name: tx.name.clone(),
                    ops,
                    end: tx.end,
                });
            }
        }
        let mut seen = 0;
        let schedule = self
            .schedule
            .iter()
            .copied()
            .filter(|&entry| {
                if entry != s {
                    return true;
                }
                seen += 1;
                keep.get(seen - 1).copied().unwrap_or(true)
            })
            .collect();
        let mut sessions = self.sessions.clone();
        sessions[s] = session;
        let plan = Plan {
            sessions,
            schedule,
            ..self.clone()
        };
        // A `keep` that drops a `begin` but keeps its other steps would leave the schedule
        // with entries for steps that are gone; `run` refuses such a plan.
        debug_assert!(
            plan.sessions.iter().enumerate().all(|(i, session)| {
                plan.schedule.iter().filter(|&&e| e == i).count() == session.steps().len()
            }),
            "keeping left a schedule that does not match the sessions' steps"
        );
        plan
    }
}
