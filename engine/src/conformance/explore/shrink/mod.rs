//! Shrinking: makes a failing history smaller — whole transactions, then runs of steps, then
//! tenants, ids, users, payloads and arguments — keeping each change only while the history
//! still diverges at the same kind of step (and, when the original's scenario failed on the
//! store, while the smaller one's scenario still does).

mod rename;

use std::collections::BTreeSet;

use user_engine_conformance_spec::{Operation, VersionCondition};

use super::corpus::simpler_values;
use super::history::{Action, History};
use super::oracle::{Replay, replay};
use super::scenario::{self, Found, Origin};
use crate::UserEngineStore;
use rename::{Field, rank, renamed, values};

/// Simpler stand-ins for one step: fewer conditions, no owner, no filters, an acknowledgement
/// without its unknown id or its repeats.
fn simpler_actions(action: &Action) -> Vec<Action> {
    let mut out = Vec::new();
    let Action::Spec { operation, capture } = action;
    let with = |op: Operation| Action::Spec {
        operation: op,
        capture: capture.clone(),
    };
    match operation {
        Operation::Save {
            condition,
            user,
            data,
            ..
        } => {
            if *condition != VersionCondition::Any {
                let mut op = operation.clone();
                if let Operation::Save { condition, .. } = &mut op {
                    *condition = VersionCondition::Any;
                }
                out.push(with(op));
            }
            if user.is_some() {
                let mut op = operation.clone();
                if let Operation::Save { user, .. } = &mut op {
                    *user = None;
                }
                out.push(with(op));
            }
            for simpler in simpler_values(data) {
                let mut op = operation.clone();
                if let Operation::Save { data, .. } = &mut op {
                    *data = simpler;
                }
                out.push(with(op));
            }
        }
        Operation::Enqueue { data, .. } => {
            for simpler in simpler_values(data) {
                let mut op = operation.clone();
                if let Operation::Enqueue { data, .. } = &mut op {
                    *data = simpler;
                }
                out.push(with(op));
            }
        }
        Operation::Delete { condition, .. } if *condition != VersionCondition::Any => {
            let mut op = operation.clone();
            if let Operation::Delete { condition, .. } = &mut op {
                *condition = VersionCondition::Any;
            }
            out.push(with(op));
        }
        Operation::List { kind: Some(_), .. } => {
            let mut op = operation.clone();
            if let Operation::List { kind, .. } = &mut op {
                *kind = None;
            }
            out.push(with(op));
        }
        Operation::Audit { actor, target, .. } if actor.is_some() || target.is_some() => {
            let mut op = operation.clone();
            if let Operation::Audit { actor, target, .. } = &mut op {
                (*actor, *target) = (None, None);
            }
            out.push(with(op));
        }
        Operation::OutboxPending { limit: Some(_) } => {
            out.push(with(Operation::OutboxPending { limit: None }));
        }
        Operation::Acknowledge {
            twice,
            unknown,
            unissued,
            ..
        } => {
            for (drop_twice, drop_unknown, drop_unissued) in [
                (*twice, false, false),
                (false, *unknown, false),
                (false, false, *unissued),
            ] {
                if drop_twice || drop_unknown || drop_unissued {
                    let mut op = operation.clone();
                    if let Operation::Acknowledge {
                        twice,
                        unknown,
                        unissued,
                        ..
                    } = &mut op
                    {
                        *twice &= !drop_twice;
                        *unknown &= !drop_unknown;
                        *unissued &= !drop_unissued;
                    }
                    out.push(with(op));
                }
            }
        }
        _ => {}
    }
    out
}

/// Shrinks one failing history against one store.
pub(crate) struct Shrinker<'f, S: UserEngineStore> {
    factory: &'f dyn Fn() -> S,
    concurrent: bool,
    capabilities: &'f BTreeSet<String>,
    /// Candidates must also produce a scenario that fails on the store.
    strict: bool,
    budget: usize,
    pub(crate) runs: usize,
    pub(crate) best: Found,
}

impl<'f, S: UserEngineStore> Shrinker<'f, S> {
    pub(crate) fn new(
        factory: &'f dyn Fn() -> S,
        capabilities: &'f BTreeSet<String>,
        budget: usize,
        found: Found,
    ) -> Self {
        let concurrent = capabilities.contains("commit_time_conflicts");
        let mut shrinker = Shrinker {
            factory,
            concurrent,
            capabilities,
            strict: false,
            budget,
            runs: 0,
            best: found,
        };
        shrinker.strict = shrinker.scenario_fails(&shrinker.best);
        shrinker
    }

    fn scenario_fails(&self, found: &Found) -> bool {
        let origin = Origin {
            seed: 0,
            case: 0,
            steps_before: 0,
        };
        scenario::load(&scenario::write(found, &origin))
            .is_ok_and(|s| scenario::fails_on(&s, self.factory, self.capabilities))
    }

    /// Keeps `candidate` if it still fails the same way; says whether it did.
    fn attempt(&mut self, candidate: History) -> bool {
        if self.runs >= self.budget
            || candidate.steps.is_empty()
            || candidate == self.best.history
            || !candidate.well_formed(self.concurrent)
        {
            return false;
        }
        self.runs += 1;
        let Replay::Diverged(observations, divergence) = replay(&candidate, self.factory) else {
            return false;
        };
        if divergence.keyword != self.best.divergence.keyword {
            return false;
        }
        let found = Found {
            history: candidate.truncated(divergence.index),
            observations,
            divergence: *divergence,
        };
        if self.strict && !self.scenario_fails(&found) {
            return false;
        }
        self.best = found;
        true
    }

    /// Shrinks until no pass makes progress, or the budget of replays is spent.
    pub(crate) fn run(&mut self, progress: &mut dyn FnMut(usize, usize)) {
        for _round in 0..8 {
            let before = (self.best.history.clone(), self.runs);
            self.drop_transactions();
            self.drop_runs();
            self.merge(Field::Tenant, &["acme", "globex", "initech"]);
            self.merge(Field::Id, &["a", "b", "c", "d"]);
            self.merge(Field::User, &["u1", "u2", "u3"]);
            self.simplify_steps();
            progress(self.best.history.steps.len(), self.runs);
            if self.best.history == before.0 || self.runs >= self.budget {
                break;
            }
        }
    }

    /// Drops each transaction whole, or else makes its steps auto-commit ones.
    fn drop_transactions(&mut self) {
        for tx in self.best.history.transactions() {
            let candidate = self.best.history.without_transaction(&tx);
            if !self.attempt(candidate) {
                let candidate = self.best.history.inlined(&tx);
                self.attempt(candidate);
            }
        }
    }

    /// Removes runs of steps, long runs first (delta debugging's chunking, greedily).
    fn drop_runs(&mut self) {
        let mut size = (self.best.history.steps.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start < self.best.history.steps.len() {
                let end = (start + size).min(self.best.history.steps.len());
                let candidate = self.best.history.without(start..end);
                if !self.attempt(candidate) {
                    start += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
    }

    /// Folds each value of `field` into another one the history uses (fewer tenants, fewer
    /// users), then renames what is left to simpler names.
    fn merge(&mut self, field: Field, simple: &[&str]) {
        let used = values(&self.best.history, field);
        for from in &used {
            for into in values(&self.best.history, field) {
                if into != *from && self.attempt(renamed(&self.best.history, field, from, &into)) {
                    break;
                }
            }
        }
        for from in values(&self.best.history, field) {
            let now = values(&self.best.history, field);
            let target = simple
                .iter()
                .find(|s| !now.iter().any(|v| v == *s) && rank(s) < rank(&from));
            if let Some(to) = target {
                self.attempt(renamed(&self.best.history, field, &from, to));
            }
        }
    }

    /// Simplifies each step in place until none of its simpler forms still fails.
    fn simplify_steps(&mut self) {
        let mut index = 0;
        while index < self.best.history.steps.len() {
            let mut changed = true;
            let mut tries = 0;
            while changed && tries < 32 {
                changed = false;
                tries += 1;
                let Some(action) = self.best.history.steps.get(index).cloned() else {
                    break;
                };
                for simpler in simpler_actions(&action) {
                    let mut candidate = self.best.history.clone();
                    candidate.steps[index] = simpler;
                    if self.attempt(candidate) {
                        changed = true;
                        break;
                    }
                }
            }
            index += 1;
        }
    }
}
