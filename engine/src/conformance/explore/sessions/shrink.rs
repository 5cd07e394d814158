//! Shrinking a failing multi-session case: drop whole transactions, then single operations,
//! then setup records, keeping each change only when the smaller plan, run again on a fresh
//! store with its schedule cut to match, still fails the check (any rule: a smaller plan that
//! fails is a smaller witness). With a real server the interleaving can differ between runs, so
//! a change may be refused by timing alone; that costs size, never soundness.

use super::check::{Verdict, Violation, check};
use super::limits;
use super::plan::{Plan, Step};
use super::run::{self, Observed};
use crate::UserEngineStore;

/// A failing case with what it observed and why it fails.
pub(crate) struct Found {
    pub(crate) plan: Plan,
    pub(crate) observed: Observed,
    pub(crate) violation: Violation,
}

/// Shrinks `found` within `budget` runs; returns the smallest failing case and the runs spent.
pub(crate) fn shrink<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    mut found: Found,
    budget: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> (Found, usize) {
    let mut runs = 0;
    loop {
        let mut changed = false;
        for candidate in candidates(&found.plan) {
            if runs >= budget {
                return (found, runs);
            }
            runs += 1;
            let store = factory();
            let observed = run::run(&candidate, &store, limits());
            drop(store);
            // An inconclusive candidate is not known to fail, so it is not kept.
            if let Verdict::Violated(violation) = check(&candidate, &observed) {
                found = Found {
                    plan: candidate,
                    observed,
                    violation,
                };
                changed = true;
                break;
            }
        }
        progress(found.plan.step_count(), runs);
        if !changed {
            return (found, runs);
        }
    }
}

/// Smaller plans, biggest cuts first.
fn candidates(plan: &Plan) -> Vec<Plan> {
    let mut out = Vec::new();
    for (s, session) in plan.sessions.iter().enumerate() {
        let steps = session.steps();
        for t in 0..session.transactions.len() {
            let keep: Vec<bool> = steps.iter().map(|step| tx_of(*step) != t).collect();
            out.push(plan.keeping(s, &keep));
        }
    }
    for (s, session) in plan.sessions.iter().enumerate() {
        let steps = session.steps();
        for (i, step) in steps.iter().enumerate() {
            if let Step::Op(..) = step {
                let keep: Vec<bool> = (0..steps.len()).map(|j| j != i).collect();
                out.push(plan.keeping(s, &keep));
            }
        }
    }
    for i in 0..plan.setup.len() {
        let mut smaller = plan.clone();
        smaller.setup.remove(i);
        out.push(smaller);
    }
    out
}

fn tx_of(step: Step) -> usize {
    match step {
        Step::Begin(t) | Step::Op(t, _) | Step::End(t) => t,
    }
}
