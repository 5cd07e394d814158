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
//! victim where an optimistic one accepts it and refuses the commit, and either is allowed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::plan::{End, Op, Plan, Step};
use super::run::{Answer, FinalState, Observed, final_state, perform, prepare};
use crate::{
    AuditEntry, Expectation, InMemoryUserEngineStore, OutboxMessage, Record, RecordKey, StoreError,
    UserEngineStore,
};

/// A committed transaction: where it is in the plan, the operations the store accepted, and
/// the logical times around its commit call.
#[derive(Clone, Debug)]
pub(crate) struct Committed<'p> {
    pub(crate) name: &'p str,
    ops: Vec<&'p Op>,
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

/// More orders than any allowed plan needs checking; past it the run says so.
const MAX_ORDERS: usize = 5_000;

/// Checks a run of `plan`; `None` when some allowed order explains it.
pub(crate) fn check(plan: &Plan, observed: &Observed) -> Option<Violation> {
    if let Some(v) = panicked(plan, observed) {
        return Some(v);
    }
    let state = match &observed.state {
        Ok(state) => state,
        Err(why) => {
            return Some(Violation {
                keyword: "final state",
                clause: "isolation-anomalies",
                expected: "the setup and the final reads to succeed".to_owned(),
                found: why.clone(),
                summary: "the store could not be read back".to_owned(),
            });
        }
    };
    if let Some(tenant) = state.audit_unordered.first() {
        return Some(Violation {
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
    linear_extensions(&committed, &mut |order| {
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
        return None;
    }
    let (order, replayed) = first.unwrap_or_else(|| (Vec::new(), replay(plan, &committed, &[])));
    let names: Vec<&str> = order.iter().map(|&i| committed[i].name).collect();
    let mut violation = diagnose(&committed, &replayed, state);
    let orders = if tried >= MAX_ORDERS {
        format!("the first {MAX_ORDERS} of the orders real time allows end")
    } else if tried == 1 {
        "the one order real time allows ends".to_owned()
    } else {
        format!("all {tried} orders real time allows end")
    };
    violation.summary = format!(
        "{}; replayed serially on the reference, {orders} elsewhere (expected: commit order [{}])",
        violation.summary,
        names.join(", ")
    );
    Some(violation)
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

/// Calls `visit` with every order of `committed` that keeps real-time precedence, earliest
/// commit call first, until it returns `true`.
fn linear_extensions(committed: &[Committed<'_>], visit: &mut dyn FnMut(&[usize]) -> bool) {
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
    extend(&by_call, &before, &mut Vec::new(), &mut used, visit);
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

/// Names what differs between `replayed` (the first allowed order) and the store's `state`.
fn diagnose(
    committed: &[Committed<'_>],
    replayed: &Result<FinalState, String>,
    state: &FinalState,
) -> Violation {
    let accepted = accepted_marks(committed);
    if let Some((a, b, key, expect)) = lost_update(committed) {
        return Violation {
            keyword: "commit",
            clause: "isolation-anomalies",
            expected: format!("at most one of {a} and {b} to commit"),
            found: format!(
                "both committed a write of {key} guarded on {}",
                guard(expect)
            ),
            summary: "a lost update: two guarded writers of one version both committed".to_owned(),
        };
    }
    let expected = match replayed {
        Ok(expected) => expected,
        Err(why) => {
            return Violation {
                keyword: "commit",
                clause: "isolation-anomalies",
                expected: "every accepted guarded write to hold in commit order".to_owned(),
                found: why.clone(),
                summary: "a guard the store accepted cannot have held".to_owned(),
            };
        }
    };
    let strays: Vec<String> = marks_in(state)
        .into_iter()
        .filter(|m| m != "setup" && !accepted.contains(m))
        .collect();
    if expected.records != state.records {
        return Violation {
            keyword: "records",
            clause: if strays.is_empty() {
                "isolation-anomalies"
            } else {
                "tx-atomic-failure"
            },
            expected: describe_records(&expected.records),
            found: describe_records(&state.records),
            summary: stray_summary(&strays, "the records are not those of the committed writes"),
        };
    }
    if expected.pending != state.pending {
        return Violation {
            keyword: "outbox_pending",
            clause: if strays.is_empty() {
                "outbox-order"
            } else {
                "tx-atomic-failure"
            },
            expected: describe_events(&expected.pending),
            found: describe_events(&state.pending),
            summary: stray_summary(&strays, "pending events are not in commit order"),
        };
    }
    Violation {
        keyword: "list_audit",
        clause: if strays.is_empty() {
            "audit-order"
        } else {
            "tx-atomic-failure"
        },
        expected: describe_audit(&expected.audit),
        found: describe_audit(&state.audit),
        summary: stray_summary(&strays, "audit entries are not in commit order"),
    }
}

/// `op` without its guard.
fn unguarded(op: &Op) -> Op {
    let mut op = op.clone();
    if let Op::Save { expect, .. } | Op::Delete { expect, .. } = &mut op {
        *expect = Expectation::Any;
    }
    op
}

fn stray_summary(strays: &[String], otherwise: &str) -> String {
    if strays.is_empty() {
        otherwise.to_owned()
    } else {
        format!(
            "work the store refused or rolled back is visible ({})",
            strays.join(", ")
        )
    }
}

/// Two committed transactions whose first write of one key was guarded on the same version.
fn lost_update<'p>(
    committed: &[Committed<'p>],
) -> Option<(&'p str, &'p str, RecordKey, Expectation)> {
    let firsts: Vec<BTreeMap<&RecordKey, Expectation>> = committed
        .iter()
        .map(|c| {
            let mut first = BTreeMap::new();
            for op in &c.ops {
                if let Op::Save { key, expect, .. } | Op::Delete { key, expect } = op {
                    first.entry(key).or_insert(*expect);
                }
            }
            first
        })
        .collect();
    for (i, a) in firsts.iter().enumerate() {
        for (j, b) in firsts.iter().enumerate().skip(i + 1) {
            for (key, expect) in a {
                if let (Expectation::Version(_), Some(other)) = (expect, b.get(key)) {
                    if other == expect {
                        let (key, expect) = ((*key).clone(), *expect);
                        return Some((committed[i].name, committed[j].name, key, expect));
                    }
                }
            }
        }
    }
    None
}

fn guard(expect: Expectation) -> String {
    match expect {
        Expectation::Any => "nothing".to_owned(),
        Expectation::Absent => "absence".to_owned(),
        Expectation::Version(v) => format!("version {v}"),
    }
}

/// The marks (`s1.t2.3`) of every operation a committed transaction had accepted.
fn accepted_marks(committed: &[Committed<'_>]) -> Vec<String> {
    let mut marks = Vec::new();
    for c in committed {
        for op in &c.ops {
            match op {
                Op::Save { payload, .. } | Op::Enqueue { payload, .. } => {
                    marks.extend(mark(payload).map(str::to_owned));
                }
                Op::Audit { action, .. } => marks.push(action.clone()),
                Op::Delete { .. } => {}
            }
        }
    }
    marks
}

/// The marks the store's state holds.
fn marks_in(state: &FinalState) -> Vec<String> {
    let mut marks = Vec::new();
    for records in state.records.values() {
        marks.extend(
            records
                .iter()
                .filter_map(|r| mark(r.payload.expose()).map(str::to_owned)),
        );
    }
    marks.extend(
        state
            .pending
            .iter()
            .filter_map(|m| mark(m.payload.expose()).map(str::to_owned)),
    );
    for entries in state.audit.values() {
        marks.extend(entries.iter().map(|e| e.action.clone()));
    }
    marks
}

fn mark(payload: &Value) -> Option<&str> {
    payload.get("by").and_then(Value::as_str)
}

fn describe_records(records: &BTreeMap<crate::TenantId, Vec<Record>>) -> String {
    let items: Vec<String> = records
        .values()
        .flatten()
        .map(|r| {
            format!(
                "{} v{} by {}",
                r.key,
                r.version,
                mark(r.payload.expose()).unwrap_or("?")
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn describe_events(events: &[OutboxMessage]) -> String {
    let items: Vec<String> = events
        .iter()
        .map(|m| format!("{}/{}", m.tenant, m.key))
        .collect();
    format!("[{}]", items.join(", "))
}

fn describe_audit(audit: &BTreeMap<crate::TenantId, Vec<AuditEntry>>) -> String {
    let tenants: Vec<String> = audit
        .iter()
        .map(|(tenant, entries)| {
            let items: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            format!("{tenant}: [{}]", items.join(", "))
        })
        .collect();
    tenants.join("; ")
}
