//! The generator: draws one history step at a time from a seed, watching the reference's answers
//! so that guards name versions near the real ones, walks follow cursors that exist, and
//! acknowledgements name events that are pending. How each kind of step draws its arguments is
//! [`draw`]'s.
//!
//! It reads the reference only, never the store under test, so a seed fixes the history whatever
//! store it is run against (up to the step where that store diverges).

mod draw;

use std::collections::BTreeMap;

use user_engine_conformance_spec::{Operation, VersionCondition};

use super::corpus::{self, RECORD_IDS, Rng, TENANTS, USERS};
use super::history::Action;
use super::oracle::Observation;
use crate::{InMemoryUserEngineStore, RecordKind};

/// Kinds by name, in the order `RecordKind::ALL` lists them.
fn kind_names() -> Vec<&'static str> {
    RecordKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// A cursor the reference issued, and the query it continues.
#[derive(Clone)]
struct Walk {
    cursor: String,
    tenant: String,
    kind: Option<String>,
    limit: Option<usize>,
}

/// What a top-level (outside any transaction) step may be.
#[derive(Clone, Copy)]
enum Choice {
    Begin,
    Save,
    Delete,
    Audit,
    Enqueue,
    Acknowledge,
    Migrate,
    Get,
    List,
    ListUser,
    ListAudit,
    OutboxPending,
    Readiness,
    Diagnostics,
}

/// Draws the steps of one history.
pub(crate) struct Generator<'r> {
    rng: Rng,
    reference: &'r InMemoryUserEngineStore,
    /// The store under test declares `commit_time_conflicts`: several transactions may be open.
    concurrent: bool,
    steps_left: usize,
    /// Unguarded saves still to make right after migrating: listings only show order and
    /// paging bugs when a tenant holds several records of a kind.
    burst: usize,
    start_migrated: bool,
    started: bool,
    migrated: bool,
    unmigrated_steps: usize,
    tenants: Vec<String>,
    users: Vec<String>,
    ids: Vec<String>,
    hot_kinds: Vec<&'static str>,
    open: Vec<String>,
    transactions: usize,
    cursors: usize,
    walks: Vec<Walk>,
    /// The last version observed for each key (tenant, kind, id).
    seen: BTreeMap<(String, String, String), u64>,
}

impl<'r> Generator<'r> {
    pub(crate) fn new(
        seed: u64,
        reference: &'r InMemoryUserEngineStore,
        concurrent: bool,
        max_steps: usize,
    ) -> Self {
        let mut rng = Rng::new(seed);
        let max_steps = max_steps.max(2);
        let steps = rng.between((max_steps / 4).max(2), max_steps);
        let start_migrated = rng.chance(85);
        let tenant_count = rng.between(2, 3);
        let tenants = rng.choose(TENANTS, tenant_count);
        let users = rng.choose(USERS, 3);
        let id_count = rng.between(3, 7);
        let ids = rng.choose(RECORD_IDS, id_count);
        let hot_count = rng.between(1, 3);
        let hot_kinds = rng.choose(&kind_names(), hot_count);
        let burst = if rng.chance(60) { rng.between(2, 8) } else { 0 };
        Generator {
            rng,
            reference,
            concurrent,
            steps_left: steps,
            burst,
            start_migrated,
            started: false,
            migrated: false,
            unmigrated_steps: 0,
            tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
            ids: ids.iter().map(|i| corpus::record_id(i)).collect(),
            hot_kinds,
            open: Vec::new(),
            transactions: 0,
            cursors: 0,
            walks: Vec::new(),
            seen: BTreeMap::new(),
        }
    }

    /// The next step, or `None` when the history is long enough.
    pub(crate) fn next_action(&mut self) -> Option<Action> {
        if self.steps_left == 0 {
            return None;
        }
        self.steps_left -= 1;
        if !self.started {
            self.started = true;
            if self.start_migrated {
                return Some(Action::op(Operation::Migrate));
            }
        }
        if !self.migrated {
            return Some(self.unmigrated());
        }
        if self.burst > 0 {
            self.burst -= 1;
            let key = self.key(false);
            let user = self.rng.chance(70).then(|| self.user());
            return Some(Action::op(Operation::Save {
                tx: None,
                key,
                user,
                data: corpus::payload(&mut self.rng),
                condition: VersionCondition::Any,
            }));
        }
        let in_transaction = !self.open.is_empty() && (!self.concurrent || self.rng.chance(70));
        Some(if in_transaction {
            let tx = self.rng.pick(&self.open).clone();
            self.in_transaction(tx)
        } else {
            self.outside()
        })
    }

    /// Learns from the reference's answer to `action`.
    pub(crate) fn observe(&mut self, action: &Action, answer: &Observation) {
        match (action, answer) {
            (
                Action::Spec {
                    operation: Operation::Migrate,
                    ..
                },
                Observation::Migration(_),
            ) => self.migrated = true,
            (
                Action::Spec {
                    operation: Operation::Begin { tx },
                    ..
                },
                Observation::Done,
            ) => self.open.push(tx.clone()),
            (
                Action::Spec {
                    operation:
                        Operation::List {
                            tenant,
                            kind,
                            limit,
                            ..
                        },
                    capture: Some(cursor),
                },
                Observation::Page {
                    next: Some(Some(Ok(_))),
                    ..
                },
            ) => self.walks.push(Walk {
                cursor: cursor.clone(),
                tenant: tenant.clone(),
                kind: kind.clone(),
                limit: *limit,
            }),
            _ => {}
        }
        let records = match answer {
            Observation::Record(Some(r)) => std::slice::from_ref(r),
            Observation::Page { records, .. } | Observation::Records(records) => records,
            _ => &[],
        };
        for r in records {
            let key = (
                r.key.tenant.to_string(),
                r.key.kind.to_string(),
                r.key.id.to_string(),
            );
            self.seen.insert(key, r.version);
        }
    }

    fn unmigrated(&mut self) -> Action {
        self.unmigrated_steps += 1;
        if self.unmigrated_steps > 5 || self.rng.chance(20) {
            return Action::op(Operation::Migrate);
        }
        let operation = match self.rng.below(9) {
            0 => Operation::Readiness,
            1 => Operation::Diagnostics,
            2 => Operation::Get {
                tx: None,
                key: self.key(false),
            },
            3 => Operation::List {
                tenant: self.tenant(),
                kind: None,
                limit: None,
                after: None,
            },
            4 => self.list_user(),
            5 => Operation::ListAudit {
                tenant: self.tenant(),
            },
            6 => Operation::OutboxPending { limit: None },
            7 => Operation::Acknowledge {
                events: Vec::new(),
                first: Some(1),
                again: false,
                twice: false,
                unknown: false,
                unissued: false,
            },
            _ => return self.save(None),
        };
        Action::op(operation)
    }

    fn outside(&mut self) -> Action {
        use Choice as C;
        let may_write = self.concurrent || self.open.is_empty();
        let may_begin = self.open.len() < if self.concurrent { 3 } else { 1 };
        let table = [
            (16, C::Begin, may_begin),
            (10, C::Save, may_write),
            (4, C::Delete, may_write),
            (3, C::Audit, may_write),
            (6, C::Enqueue, may_write),
            (10, C::Acknowledge, may_write),
            (2, C::Migrate, may_write),
            (9, C::Get, true),
            (16, C::List, true),
            (5, C::ListUser, true),
            (4, C::ListAudit, true),
            (7, C::OutboxPending, true),
            (4, C::Readiness, true),
            (8, C::Diagnostics, true),
        ];
        let allowed: Vec<(usize, Choice)> = table
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(w, c, _)| (*w, *c))
            .collect();
        let total: usize = allowed.iter().map(|(w, _)| w).sum();
        let mut draw = self.rng.below(total);
        let mut choice = C::Diagnostics;
        for (weight, c) in allowed {
            if draw < weight {
                choice = c;
                break;
            }
            draw -= weight;
        }
        match choice {
            C::Begin => {
                self.transactions += 1;
                Action::op(Operation::Begin {
                    tx: format!("t{}", self.transactions),
                })
            }
            C::Save => self.save(None),
            C::Delete => self.delete(None),
            C::Audit => self.audit(None),
            C::Enqueue => self.enqueue(None),
            C::Acknowledge => self.acknowledge(),
            C::Migrate => Action::op(Operation::Migrate),
            C::Get => Action::op(Operation::Get {
                tx: None,
                key: self.key(true),
            }),
            C::List => self.list(),
            C::ListUser => Action::op(self.list_user()),
            C::ListAudit => Action::op(Operation::ListAudit {
                tenant: self.tenant(),
            }),
            C::OutboxPending => Action::op(Operation::OutboxPending {
                limit: self.rng.chance(50).then(|| self.rng.between(1, 4)),
            }),
            C::Readiness => Action::op(Operation::Readiness),
            C::Diagnostics => Action::op(Operation::Diagnostics),
        }
    }

    fn in_transaction(&mut self, tx: String) -> Action {
        let draw = self.rng.below(100);
        let in_tx = Some(tx.clone());
        match draw {
            0..=33 => self.save(in_tx),
            34..=43 => self.delete(in_tx),
            44..=57 => Action::op(Operation::Get {
                tx: in_tx,
                key: self.key(true),
            }),
            58..=65 => self.audit(in_tx),
            66..=73 => self.enqueue(in_tx),
            _ => {
                self.open.retain(|open| *open != tx);
                Action::op(match self.rng.below(100) {
                    0..=69 => Operation::Commit { tx },
                    70..=84 => Operation::Rollback { tx },
                    85..=94 => Operation::Drop { tx },
                    _ => Operation::PanicIn { tx },
                })
            }
        }
    }
}
