//! What a step returned, and how it is compared with the step's `expect`.

use std::collections::BTreeMap;

use serde_json::Value;
use user_engine_conformance_spec::Expect;

use crate::{
    AuditRecord, Diagnostics, MigrationReport, OutboxEvent, Readiness, Record, RecordKind,
    StoreError,
};

/// The value a step produced.
pub(crate) enum Actual {
    Unit,
    Record(Option<Record>),
    Records(Vec<Record>),
    Audit(Vec<AuditRecord>),
    Events(Vec<OutboxEvent>),
    /// The relay's delivery log, as `tenant/topic/key`.
    Delivered(Vec<String>),
    Acknowledged(usize),
    Migration(MigrationReport),
    Readiness(Readiness),
    Diagnostics(Diagnostics),
}

/// Why an actual value does not satisfy an expectation.
pub(crate) struct Mismatch {
    pub(crate) expected: String,
    pub(crate) actual: String,
}

pub(crate) fn describe_expect(expect: &Expect) -> String {
    match expect {
        Expect::Ok => "success".to_owned(),
        Expect::Absent => "no record".to_owned(),
        Expect::Error(kind) => format!("error `{kind}`"),
        Expect::Record {
            version,
            user,
            data,
        } => {
            let mut parts = Vec::new();
            if let Some(v) = version {
                parts.push(format!("version {v}"));
            }
            match user {
                Some(Some(u)) => parts.push(format!("user {u}")),
                Some(None) => parts.push("no user".to_owned()),
                None => {}
            }
            if data.is_some() {
                parts.push("the payload written in the scenario".to_owned());
            }
            format!("a record with {}", parts.join(", "))
        }
        Expect::List(items) => render_list(items),
        Expect::Count(n) => format!("{n} item(s)"),
        Expect::Applied(versions) => format!("migrations applied: {versions:?}"),
        Expect::Ready => "ready".to_owned(),
        Expect::NotReady(reason) => format!("not ready: {reason}"),
        Expect::Snapshot => "diagnostics equal to the canonical snapshot".to_owned(),
        Expect::Counts(counts) => {
            let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("diagnostics with {}", parts.join(", "))
        }
        Expect::Outcomes(outcomes) => {
            let parts: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("outcomes {{{}}}", parts.join(", "))
        }
        Expect::OneOf(alternatives) => {
            let parts: Vec<String> = alternatives.iter().map(describe_expect).collect();
            format!("one of: {}", parts.join(" | "))
        }
    }
}

fn render_list(items: &[String]) -> String {
    if items.is_empty() {
        "[]".to_owned()
    } else {
        format!("[{}]", items.join(", "))
    }
}

/// A one-line, payload-free rendering of a step's result.
pub(crate) fn describe_result(result: &Result<Actual, StoreError>) -> String {
    match result {
        Err(e) => format!("error `{}`: {e}", e.kind()),
        Ok(actual) => describe_actual(actual),
    }
}

fn describe_actual(actual: &Actual) -> String {
    match actual {
        Actual::Unit => "success".to_owned(),
        Actual::Record(None) => "no record".to_owned(),
        Actual::Record(Some(r)) => describe_record(r),
        // Versions shown, so a failed `tenant/kind/id vN` item says what the store holds.
        Actual::Records(records) => render_list(
            &records
                .iter()
                .map(|r| format!("{} v{}", r.key, r.version))
                .collect::<Vec<_>>(),
        ),
        Actual::Audit(_) | Actual::Events(_) | Actual::Delivered(_) => {
            render_list(&items(actual).unwrap_or_default())
        }
        Actual::Acknowledged(n) => format!("{n} event(s) acknowledged"),
        Actual::Migration(report) => format!(
            "migrations applied: {:?} (schema version {})",
            report.applied, report.schema_version
        ),
        Actual::Readiness(readiness) => readiness.to_string(),
        Actual::Diagnostics(d) => d.render(),
    }
}

fn describe_record(r: &Record) -> String {
    match &r.user {
        Some(u) => format!("record {} version {} (user {u})", r.key, r.version),
        None => format!("record {} version {} (no user)", r.key, r.version),
    }
}

/// The list form of a list-like result, as scenarios write it.
pub(crate) fn items(actual: &Actual) -> Option<Vec<String>> {
    match actual {
        Actual::Records(records) => Some(records.iter().map(|r| r.key.to_string()).collect()),
        Actual::Audit(entries) => Some(
            entries
                .iter()
                .map(|a| match &a.entry.target {
                    Some(t) => format!("{} {}/{}", a.entry.action, t.kind, t.id),
                    None => a.entry.action.clone(),
                })
                .collect(),
        ),
        Actual::Events(events) => Some(events.iter().map(ToString::to_string).collect()),
        Actual::Delivered(log) => Some(log.clone()),
        _ => None,
    }
}

/// Checks `result` against `expect`. `expected_data` is the expectation's payload after canary
/// substitution.
pub(crate) fn check(
    expect: &Expect,
    expected_data: Option<&Value>,
    result: &Result<Actual, StoreError>,
) -> Result<(), Mismatch> {
    let mismatch = || Mismatch {
        expected: describe_expect(expect),
        actual: describe_result(result),
    };
    // store-contract C18: whatever a scenario expects of the entries, their sequence numbers
    // increase in listing order (gaps allowed).
    if let Ok(Actual::Audit(entries)) = result {
        if let Some(pair) = entries.windows(2).find(|w| w[0].sequence >= w[1].sequence) {
            return Err(Mismatch {
                expected: "audit entries whose sequence numbers increase in listing order (store-contract C18)".to_owned(),
                actual: format!(
                    "sequence {} listed before sequence {}",
                    pair[0].sequence, pair[1].sequence
                ),
            });
        }
    }
    let ok = match (expect, result) {
        (Expect::Error(kind), Err(e)) => e.kind().as_str() == kind,
        (Expect::Error(_), Ok(_)) | (_, Err(_)) => false,
        (Expect::Ok, Ok(_)) => true,
        (Expect::Absent, Ok(Actual::Record(r))) => r.is_none(),
        (Expect::Record { version, user, .. }, Ok(Actual::Record(Some(r)))) => {
            let user_differs = user
                .as_ref()
                .is_some_and(|u| u.as_deref() != r.user.as_ref().map(|x| x.as_str()));
            if version.is_some_and(|v| v != r.version) || user_differs {
                false
            } else if expected_data.is_some_and(|d| d != r.payload.expose()) {
                // The payload is compared but never printed.
                return Err(Mismatch {
                    expected: describe_expect(expect),
                    actual: format!("{}, with a different payload", describe_record(r)),
                });
            } else {
                true
            }
        }
        // A record item may name its version too (`tenant/kind/id vN`), so one listing can show
        // which writes of several transactions committed together.
        (Expect::List(expected), Ok(Actual::Records(records))) => {
            records.len() == expected.len()
                && records
                    .iter()
                    .zip(expected)
                    .all(|(record, item)| match item.split_once(' ') {
                        Some((key, version)) => {
                            record.key.to_string() == key
                                && version.strip_prefix('v') == Some(&record.version.to_string())
                        }
                        None => record.key.to_string() == *item,
                    })
        }
        (Expect::List(expected), Ok(actual)) => items(actual).is_some_and(|got| &got == expected),
        (Expect::Count(n), Ok(Actual::Acknowledged(got))) => *got as u64 == *n,
        (Expect::Count(n), Ok(actual)) => items(actual).is_some_and(|got| got.len() as u64 == *n),
        (Expect::Applied(versions), Ok(Actual::Migration(report))) => &report.applied == versions,
        (Expect::Ready, Ok(Actual::Readiness(r))) => r.is_ready(),
        (Expect::NotReady(reason), Ok(Actual::Readiness(Readiness::NotReady { reason: got }))) => {
            got.name() == reason
        }
        (Expect::Counts(counts), Ok(Actual::Diagnostics(d))) => {
            let wrong: BTreeMap<&String, Option<u64>> = counts
                .keys()
                .map(|k| (k, counter(d, k)))
                .filter(|(k, got)| *got != counts.get(*k).copied())
                .collect();
            if !wrong.is_empty() {
                let parts: Vec<String> = wrong
                    .iter()
                    .map(|(k, got)| {
                        format!(
                            "{k}: {}",
                            got.map_or("unknown counter".to_owned(), |g| g.to_string())
                        )
                    })
                    .collect();
                return Err(Mismatch {
                    expected: describe_expect(expect),
                    actual: format!("diagnostics with {}", parts.join(", ")),
                });
            }
            true
        }
        // Snapshots are compared by the caller, which knows where they live.
        (Expect::Snapshot, Ok(Actual::Diagnostics(_))) => true,
        _ => false,
    };
    if ok { Ok(()) } else { Err(mismatch()) }
}

/// A diagnostics counter by its spec name.
pub(crate) fn counter(d: &Diagnostics, name: &str) -> Option<u64> {
    Some(match name {
        "records" => d.total_records(),
        "tenants" => d.tenants,
        "audit_entries" => d.audit_entries,
        "outbox.pending" => d.outbox_pending,
        "outbox.acknowledged" => d.outbox_acknowledged,
        "schema_version" => u64::from(d.schema_version.unwrap_or(0)),
        other => {
            let kind: RecordKind = other.strip_prefix("records.")?.parse().ok()?;
            d.records_of(kind)
        }
    })
}
