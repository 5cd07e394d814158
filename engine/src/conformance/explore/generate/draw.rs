//! How the generator draws each kind of step's arguments: tenants, keys, versions near the real
//! ones, payloads, listings that continue a walk, acknowledgements of pending events.

use serde_json::json;
use user_engine_conformance_spec::{KeySpec, Operation, VersionCondition};

use super::{Generator, kind_names};
use crate::UserEngineStore;
use crate::conformance::explore::corpus::{self, ACTIONS, TOPICS};
use crate::conformance::explore::history::Action;
use crate::conformance::session::record_key;

impl Generator<'_> {
    /// A tenant, the first one most often: listings only show order and paging bugs when one
    /// tenant holds several records of a kind.
    pub(super) fn tenant(&mut self) -> String {
        if self.rng.chance(55) {
            self.tenants[0].clone()
        } else {
            self.rng.pick(&self.tenants).clone()
        }
    }

    pub(super) fn user(&mut self) -> String {
        self.rng.pick(&self.users).clone()
    }

    /// A key; with `known`, most often one the history has already seen.
    pub(super) fn key(&mut self, known: bool) -> KeySpec {
        if known && !self.seen.is_empty() && self.rng.chance(45) {
            let keys: Vec<&(String, String, String)> = self.seen.keys().collect();
            let (tenant, kind, id) = (*self.rng.pick(&keys)).clone();
            return KeySpec { tenant, kind, id };
        }
        let tenant = self.tenant();
        let kind = if self.rng.chance(85) {
            *self.rng.pick(&self.hot_kinds)
        } else {
            *self.rng.pick(&kind_names())
        };
        let id = self.rng.pick(&self.ids).clone();
        KeySpec {
            tenant,
            kind: kind.to_owned(),
            id,
        }
    }

    /// A version near the ones the key really has, so guards sometimes hold.
    pub(super) fn near_version(&mut self, key: &KeySpec) -> u64 {
        let seen = self
            .seen
            .get(&(key.tenant.clone(), key.kind.clone(), key.id.clone()))
            .copied();
        let committed = record_key(key)
            .ok()
            .and_then(|k| self.reference.get(&k).ok().flatten())
            .map(|r| r.version);
        let known: Vec<u64> = [seen, committed].into_iter().flatten().collect();
        let base = if known.is_empty() {
            1
        } else {
            *self.rng.pick(&known)
        };
        match self.rng.below(10) {
            0..=5 => base,
            6..=7 => base + 1,
            8 => base.saturating_sub(1).max(1),
            _ => 1,
        }
    }

    pub(super) fn save(&mut self, tx: Option<String>) -> Action {
        let key = self.key(true);
        let condition = match self.rng.below(100) {
            0..=44 => VersionCondition::Any,
            45..=62 => VersionCondition::Absent,
            _ => VersionCondition::Version(self.near_version(&key)),
        };
        let user = self.rng.chance(70).then(|| self.user());
        let data = corpus::payload(&mut self.rng);
        Action::op(Operation::Save {
            tx,
            key,
            user,
            data,
            condition,
        })
    }

    pub(super) fn delete(&mut self, tx: Option<String>) -> Action {
        let key = self.key(true);
        let condition = match self.rng.below(100) {
            0..=49 => VersionCondition::Any,
            // `invalid` for a delete, and it must win over `not_found` (C3).
            97..=99 => VersionCondition::Absent,
            _ => VersionCondition::Version(self.near_version(&key)),
        };
        Action::op(Operation::Delete { tx, key, condition })
    }

    pub(super) fn audit(&mut self, tx: Option<String>) -> Action {
        let tenant = self.tenant();
        let action = (*self.rng.pick(ACTIONS)).to_owned();
        let actor = self.rng.chance(60).then(|| self.user());
        let target = self.rng.chance(60).then(|| {
            let key = self.key(true);
            format!("{}/{}", key.kind, key.id)
        });
        Action::op(Operation::Audit {
            tx,
            tenant,
            action,
            actor,
            target,
        })
    }

    pub(super) fn enqueue(&mut self, tx: Option<String>) -> Action {
        let tenant = self.tenant();
        let topic = (*self.rng.pick(TOPICS)).to_owned();
        let key = self.rng.pick(&self.ids).clone();
        let data = if self.rng.chance(50) {
            corpus::payload(&mut self.rng)
        } else {
            json!({})
        };
        Action::op(Operation::Enqueue {
            tx,
            tenant,
            topic,
            key,
            data,
        })
    }

    pub(super) fn list_user(&mut self) -> Operation {
        Operation::ListUser {
            tenant: self.tenant(),
            user: self.user(),
        }
    }

    /// A tenant listing: the next page of a walk the reference left open, or a fresh query.
    pub(super) fn list(&mut self) -> Action {
        let (tenant, kind, limit, after) = if !self.walks.is_empty() && self.rng.chance(55) {
            let walk = self.walks.remove(self.rng.below(self.walks.len()));
            let mut tenant = walk.tenant;
            if self.rng.chance(8) {
                // A cursor offered to another tenant must be refused (C15).
                tenant = self.tenant();
            }
            let mut limit = walk.limit;
            if self.rng.chance(8) {
                limit = Some(self.rng.between(1, 3));
            }
            (tenant, walk.kind, limit, Some(walk.cursor))
        } else {
            let tenant = match self.seen.keys().nth(self.rng.below(self.seen.len().max(1))) {
                Some((tenant, _, _)) if self.rng.chance(60) => tenant.clone(),
                _ => self.tenant(),
            };
            let kind = self.rng.chance(40).then(|| {
                if self.rng.chance(75) {
                    (*self.rng.pick(&self.hot_kinds)).to_owned()
                } else {
                    (*self.rng.pick(&kind_names())).to_owned()
                }
            });
            let limit = self.rng.chance(65).then(|| {
                if self.rng.chance(6) {
                    0
                } else {
                    self.rng.between(1, 4)
                }
            });
            (tenant, kind, limit, None)
        };
        let capture = limit.map(|_| {
            self.cursors += 1;
            format!("p{}", self.cursors)
        });
        Action::Spec {
            operation: Operation::List {
                tenant,
                kind,
                limit,
                after,
            },
            capture,
        }
    }

    pub(super) fn acknowledge(&mut self) -> Action {
        let pending: Vec<String> = self
            .reference
            .outbox_pending(10_000)
            .map(|events| events.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let operation = |events: Vec<String>, first: Option<usize>, again: bool| {
            Action::op(Operation::Acknowledge {
                events,
                first,
                again,
                twice: false,
                unknown: false,
                unissued: false,
            })
        };
        let adjusted = |first: usize, twice: bool, unknown: bool, unissued: bool| {
            Action::op(Operation::Acknowledge {
                events: Vec::new(),
                first: Some(first),
                again: false,
                twice,
                unknown,
                unissued,
            })
        };
        match self.rng.below(100) {
            0..=29 => operation(Vec::new(), Some(self.rng.between(0, 3)), false),
            30..=59 if !pending.is_empty() => {
                let count = self.rng.between(1, 3);
                operation(self.rng.choose(&pending, count), None, false)
            }
            30..=71 => operation(Vec::new(), None, true),
            // Mostly with known ids beside the unknown one: all or nothing (C21) is only
            // visible when there is something to acknowledge wrongly.
            // The unknown id is either past the signed 64-bit range or inside it.
            72..=87 => {
                let past_the_range = self.rng.below(2) == 0;
                adjusted(
                    self.rng.between(0, 3).max(usize::from(!pending.is_empty())),
                    false,
                    past_the_range,
                    !past_the_range,
                )
            }
            _ => adjusted(self.rng.between(1, 3), true, false, false),
        }
    }
}
