//! The check: what C33 allows two sessions to end with. The transactions that committed, each
//! with only the operations the store accepted, are replayed one after another on a fresh
//! reference, in every order that keeps real-time precedence — a commit that returned before
//! another was called comes first; commits whose calls overlapped may have taken effect either
//! way, which no caller can tell — and some order must end exactly where the store ended:
//! records with their versions, every tenant's audit listing, the pending events.
//!
//! That one comparison holds each rule the clause names. A guarded write the store accepted must
//! hold in the replay too, so two guarded writers of one version cannot both commit (lost
//! update). A committed transaction's accepted writes must all be there and a refused one's none
//! (C12), since only the committed ones are replayed. Versions are the reference's, one more per
//! write. Events and audit entries come out in the replay's commit order (C18, C20): each
//! transaction's together and in its own order, transactions in an order real time allows.
//! Operations the store refused are left out: a locking store may refuse a write as a deadlock
//! victim where an optimistic one accepts it and refuses the commit, and either is allowed. A
//! commit answered `in_doubt` is taken as refused, and a violation says it was.

use std::collections::BTreeSet;

use super::diagnose::diagnose;
use super::plan::{End, Op, Plan, Step};
use super::run::{Answer, FinalState, Observed, final_state, perform, prepare};
use crate::{ErrorKind, Expectation, InMemoryUserEngineStore, StoreError, UserEngineStore};

/// A committed transaction: where it is in the plan, the operations the store accepted, and
/// the logical times around its commit call.
#[derive(Clone, Debug)]
pub(crate) struct Committed<'p> {
    pub(crate) name: &'p str,
    pub(super) ops: Vec<&'p Op>,
    called: u64,
    returned: u64,
}

/// Why a run is not one C33 allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// What part of the result differs, e.g. `outbox_pending`.
    pub(crate) keyword: &'static str,
    pub(crate) clause: &'static str,
    /// What an allowed order gives (payloads are the plan's own markers).
    pub(crate) expected: String,
    pub(crate) found: String,
    /// One line for the reader: which rule it looks like.
    pub(crate) summary: String,
}

/// What the check makes of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Some order real time allows ends where the store ended.
    Allowed,
    Violated(Violation),
    /// [`MAX_ORDERS`] orders were tried and none matched, but more are allowed: neither a
    /// pass nor a failure. Many overlapping commits allow more orders than are worth trying,
    /// and failing a correct store for the ones left untried would be a false alarm.
    Inconclusive {
        tried: usize,
    },
}

/// Orders tried before a history is called inconclusive.
pub(crate) const MAX_ORDERS: usize = 5_000;

/// Checks a run of `plan`.
pub(crate) fn check(plan: &Plan, observed: &Observed) -> Verdict {
    if let Some(v) = panicked(plan, observed) {
        return Verdict::Violated(v);
    }
    let state = match &observed.state {
        Ok(state) => state,
        Err(why) => {
            return Verdict::Violated(Violation {
                keyword: "final state",
                clause: "isolation-anomalies",
                expected: "the setup and the final reads to succeed".to_owned(),
                found: why.clone(),
                summary: "the store could not be read back".to_owned(),
            });
        }
    };
    if let Some(tenant) = state.audit_unordered.first() {
        return Verdict::Violated(Violation {
            keyword: "list_audit",
            clause: "audit-order",
            expected: "sequence numbers that increase in listing order".to_owned(),
            found: format!("{tenant}'s listing has them out of order"),
            summary: "audit entries are listed out of sequence".to_owned(),
        });
    }
    let committed = committed(plan, observed);
    let mut first = None;
    let mut tried = 0;
    let mut matched = false;
    let stopped = linear_extensions(&committed, &mut |order| {
        tried += 1;
        let replayed = replay(plan, &committed, order);
        let ok = replayed.as_ref().is_ok_and(|r| r == state);
        if first.is_none() {
            first = Some((order.to_vec(), replayed));
        }
        matched = ok;
        ok || tried >= MAX_ORDERS
    });
    if matched {
        return Verdict::Allowed;
    }
    // Stopped without a match: at the cap, with orders left untried.
    if stopped {
        return Verdict::Inconclusive { tried };
    }
    let (order, replayed) = first.unwrap_or_else(|| (Vec::new(), replay(plan, &committed, &[])));
    let names: Vec<&str> = order.iter().map(|&i| committed[i].name).collect();
    let mut violation = diagnose(&committed, &replayed, state);
    let orders = if tried == 1 {
        "the one order real time allows ends".to_owned()
    } else {
        format!("all {tried} orders real time allows end")
    };
    violation.summary = format!(
        "{}; replayed serially on the reference, {orders} elsewhere (expected: commit order [{}])",
        violation.summary,
        names.join(", ")
    );
    let in_doubt = in_doubt(plan, observed);
    if !in_doubt.is_empty() {
        // Taken as refused, which a commit that in fact took effect contradicts: say so, so
        // the reader can tell that case from a real violation.
        violation.summary = format!(
            "{}; the commit of {} answered in_doubt and was taken as refused",
            violation.summary,
            in_doubt.join(", ")
        );
    }
    Verdict::Violated(violation)
}

fn panicked(plan: &Plan, observed: &Observed) -> Option<Violation> {
    for (s, outcomes) in observed.outcomes.iter().enumerate() {
        let session = &plan.sessions[s];
        for (step, outcome) in session.steps().into_iter().zip(outcomes) {
            if let Answer::Panicked(why) = &outcome.answer {
                return Some(Violation {
                    keyword: "panic",
                    clause: "tx-panic",
                    expected: "no panic".to_owned(),
                    found: format!("s{}: {} panicked: {why}", s + 1, session.step_text(step)),
                    summary: "the store panicked".to_owned(),
                });
            }
        }
    }
    None
}

/// The transactions whose commit succeeded, with the operations the store accepted.
pub(crate) fn committed<'p>(plan: &'p Plan, observed: &Observed) -> Vec<Committed<'p>> {
    let mut committed = Vec::new();
    for (s, outcomes) in observed.outcomes.iter().enumerate() {
        let session = &plan.sessions[s];
        let mut ops = Vec::new();
        for (step, outcome) in session.steps().into_iter().zip(outcomes) {
            match step {
                Step::Begin(_) => ops.clear(),
                Step::Op(t, o) => {
                    if outcome.answer == Answer::Done {
                        ops.push(&session.transactions[t].ops[o]);
                    }
                }
                Step::End(t) => {
                    let tx = &session.transactions[t];
                    if tx.end == End::Commit && outcome.answer == Answer::Done {
                        committed.push(Committed {
                            name: &tx.name,
                            ops: std::mem::take(&mut ops),
                            called: outcome.called,
                            returned: outcome.returned,
                        });
                    }
                }
            }
        }
    }
    committed
}

/// The transactions whose commit answered `in_doubt`.
fn in_doubt<'p>(plan: &'p Plan, observed: &Observed) -> Vec<&'p str> {
    let mut names = Vec::new();
    for (s, outcomes) in observed.outcomes.iter().enumerate() {
        let session = &plan.sessions[s];
        for (step, outcome) in session.steps().into_iter().zip(outcomes) {
            if let Step::End(t) = step {
                let tx = &session.transactions[t];
                if tx.end == End::Commit && outcome.answer == Answer::Failed(ErrorKind::InDoubt) {
                    names.push(tx.name.as_str());
                }
            }
        }
    }
    names
}

/// Calls `visit` with every order of `committed` that keeps real-time precedence, earliest
/// commit call first, until it returns `true`; whether it did.
fn linear_extensions(committed: &[Committed<'_>], visit: &mut dyn FnMut(&[usize]) -> bool) -> bool {
    let mut by_call: Vec<usize> = (0..committed.len()).collect();
    by_call.sort_by_key(|&i| committed[i].called);
    let before = |i: usize, j: usize| committed[i].returned < committed[j].called;
    fn extend(
        by_call: &[usize],
        before: &dyn Fn(usize, usize) -> bool,
        order: &mut Vec<usize>,
        used: &mut Vec<bool>,
        visit: &mut dyn FnMut(&[usize]) -> bool,
    ) -> bool {
        if order.len() == by_call.len() {
            return visit(order);
        }
        for &j in by_call {
            let ready = !used[j] && by_call.iter().all(|&i| used[i] || i == j || !before(i, j));
            if ready {
                used[j] = true;
                order.push(j);
                if extend(by_call, before, order, used, visit) {
                    return true;
                }
                order.pop();
                used[j] = false;
            }
        }
        false
    }
    let mut used = vec![false; committed.len()];
    extend(&by_call, &before, &mut Vec::new(), &mut used, visit)
}

/// The reference's final state after the setup and `order`'s transactions one at a time; `Err`
/// names an accepted guarded write whose guard does not hold in this order.
fn replay(plan: &Plan, committed: &[Committed<'_>], order: &[usize]) -> Result<FinalState, String> {
    let reference = InMemoryUserEngineStore::new();
    prepare(plan, &reference)?;
    for &i in order {
        let tx_of = &committed[i];
        let mut tx = reference
            .begin()
            .map_err(|e| format!("{}: begin: {e}", tx_of.name))?;
        let mut written = BTreeSet::new();
        for op in &tx_of.ops {
            // A guard on a key the transaction already wrote names the transaction's own
            // write, whose number an optimistic store may move at commit (counting on from a
            // concurrent writer's, C2); only the first write of a key relies on other
            // transactions, so later ones are replayed as the store accepted them.
            let own = match op {
                Op::Save { key, expect, .. } | Op::Delete { key, expect } => {
                    let again = !written.insert(key.clone()) && *expect != Expectation::Any;
                    again.then(|| unguarded(op))
                }
                _ => None,
            };
            match perform(tx.as_mut(), own.as_ref().unwrap_or(op)) {
                Ok(()) => {}
                // An unguarded delete of a record another transaction deleted first: allowed,
                // and it leaves what the other left.
                Err(StoreError::NotFound { .. })
                    if matches!(
                        op,
                        Op::Delete {
                            expect: Expectation::Any,
                            ..
                        }
                    ) => {}
                Err(e) => {
                    return Err(format!(
                        "{}'s `{}` ({}) does not hold after the transactions before it",
                        tx_of.name,
                        op.text(),
                        e.kind()
                    ));
                }
            }
        }
        tx.commit()
            .map_err(|e| format!("{}: commit: {}", tx_of.name, e.kind()))?;
    }
    final_state(plan, &reference)
}

/// `op` without its guard.
fn unguarded(op: &Op) -> Op {
    let mut op = op.clone();
    if let Op::Save { expect, .. } | Op::Delete { expect, .. } = &mut op {
        *expect = Expectation::Any;
    }
    op
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::plan::{Session, Transaction};
    use super::super::run::Outcome;
    use super::*;
    use crate::{OutboxMessage, Payload, TenantId};

    fn acme() -> TenantId {
        TenantId::new("acme").unwrap()
    }

    /// Two sessions, each one transaction enqueuing one event.
    fn two_enqueuers() -> Plan {
        enqueuers(2)
    }

    /// `n` sessions, each one transaction enqueuing one event.
    fn enqueuers(n: usize) -> Plan {
        let session = |s: usize| Session {
            transactions: vec![Transaction {
                name: format!("s{s}.t1"),
                ops: vec![Op::Enqueue {
                    tenant: acme(),
                    key: format!("s{s}.t1.1"),
                    payload: json!({"by": format!("s{s}.t1.1")}),
                }],
                end: End::Commit,
            }],
        };
        Plan {
            tenants: vec![acme()],
            setup: Vec::new(),
            sessions: (1..=n).map(session).collect(),
            schedule: (0..n).flat_map(|s| [s; 3]).collect(),
        }
    }

    fn done(called: u64, returned: u64) -> Outcome {
        Outcome {
            answer: Answer::Done,
            called,
            returned,
        }
    }

    /// Both commit; s1's commit call spans `first`, s2's `second`; the store lists s2's event
    /// before s1's.
    fn s2_listed_first(first: (u64, u64), second: (u64, u64)) -> Observed {
        let event = |s: usize| OutboxMessage {
            tenant: acme(),
            topic: super::super::plan::TOPIC.to_owned(),
            key: format!("s{s}.t1.1"),
            payload: Payload::new(json!({"by": format!("s{s}.t1.1")})),
        };
        Observed {
            outcomes: vec![
                vec![done(0, 1), done(2, 3), done(first.0, first.1)],
                vec![done(4, 5), done(6, 7), done(second.0, second.1)],
            ],
            events: Vec::new(),
            state: Ok(FinalState {
                records: BTreeMap::from([(acme(), Vec::new())]),
                audit: BTreeMap::from([(acme(), Vec::new())]),
                pending: vec![event(2), event(1)],
                audit_unordered: Vec::new(),
            }),
        }
    }

    #[test]
    fn commits_that_overlapped_may_have_taken_effect_in_either_order() {
        let plan = two_enqueuers();
        // s1's commit was called first but returned after s2's was called: either order.
        assert_eq!(
            check(&plan, &s2_listed_first((8, 11), (9, 10))),
            Verdict::Allowed
        );
        // s1's commit returned before s2's was called: s1's event must come first.
        let Verdict::Violated(violation) = check(&plan, &s2_listed_first((8, 9), (10, 11))) else {
            panic!("not a violation");
        };
        assert_eq!(
            (violation.keyword, violation.clause),
            ("outbox_pending", "outbox-order")
        );
        assert_eq!(violation.expected, "[acme/s1.t1.1, acme/s2.t1.1]");
        assert_eq!(violation.found, "[acme/s2.t1.1, acme/s1.t1.1]");
    }

    #[test]
    fn a_violation_with_an_in_doubt_commit_says_it_was_taken_as_refused() {
        let plan = two_enqueuers();
        let mut observed = s2_listed_first((8, 9), (10, 11));
        observed.outcomes[0][2].answer = Answer::Failed(ErrorKind::InDoubt);
        // s1's event is there though its commit was taken as refused.
        let Verdict::Violated(violation) = check(&plan, &observed) else {
            panic!("not a violation");
        };
        assert!(
            violation
                .summary
                .ends_with("; the commit of s1.t1 answered in_doubt and was taken as refused"),
            "{violation:?}"
        );
    }

    /// `n` sessions whose commits all overlap, and a store that lost every event.
    fn all_overlapping_and_nothing_pending(n: usize) -> Observed {
        let far = 10 * n as u64;
        Observed {
            outcomes: (0..n as u64)
                .map(|s| {
                    vec![
                        done(4 * s, 4 * s + 1),
                        done(4 * s + 2, 4 * s + 3),
                        done(far + s, 2 * far),
                    ]
                })
                .collect(),
            events: Vec::new(),
            state: Ok(FinalState {
                records: BTreeMap::from([(acme(), Vec::new())]),
                audit: BTreeMap::from([(acme(), Vec::new())]),
                pending: Vec::new(),
                audit_unordered: Vec::new(),
            }),
        }
    }

    #[test]
    fn orders_past_the_cap_leave_a_history_inconclusive_not_failed() {
        // 3! = 6 orders, all tried: a violation.
        let three = check(&enqueuers(3), &all_overlapping_and_nothing_pending(3));
        assert!(matches!(three, Verdict::Violated(_)), "{three:?}");
        // 8! = 40 320 orders, more than the cap: no verdict either way.
        let eight = check(&enqueuers(8), &all_overlapping_and_nothing_pending(8));
        assert_eq!(eight, Verdict::Inconclusive { tried: MAX_ORDERS });
    }

    #[test]
    fn orders_keep_real_time_precedence_and_nothing_else() {
        let committed = |called: u64, returned: u64| Committed {
            name: "t",
            ops: Vec::new(),
            called,
            returned,
        };
        // 0 ends before 1 and 2 begin; 1 and 2 overlap.
        let all = [committed(1, 2), committed(3, 6), committed(4, 5)];
        let mut orders = Vec::new();
        linear_extensions(&all, &mut |order| {
            orders.push(order.to_vec());
            false
        });
        assert_eq!(orders, [vec![0, 1, 2], vec![0, 2, 1]]);
        // None overlaps: one order, by call.
        let chain = [committed(5, 6), committed(1, 2), committed(3, 4)];
        let mut orders = Vec::new();
        linear_extensions(&chain, &mut |order| {
            orders.push(order.to_vec());
            false
        });
        assert_eq!(orders, [vec![1, 2, 0]]);
    }
}
