//! Saying why a run is not one the isolation clause allows: a lost update named by its two
//! writers, a guard that cannot have held, or which part of the final state differs — records,
//! pending events or audit entries — and whether it holds work the store refused (C12). The
//! verdict is [`super::check`]'s; this only names it for the reader.

use std::collections::BTreeMap;

use serde_json::Value;

use super::check::{Committed, Violation};
use super::plan::Op;
use super::run::FinalState;
use crate::{AuditEntry, Expectation, OutboxMessage, Record, RecordKey, TenantId};

/// Names what differs between `replayed` (the first allowed order) and the store's `state`.
pub(super) fn diagnose(
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

fn describe_records(records: &BTreeMap<TenantId, Vec<Record>>) -> String {
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

fn describe_audit(audit: &BTreeMap<TenantId, Vec<AuditEntry>>) -> String {
    let tenants: Vec<String> = audit
        .iter()
        .map(|(tenant, entries)| {
            let items: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            format!("{tenant}: [{}]", items.join(", "))
        })
        .collect();
    tenants.join("; ")
}
