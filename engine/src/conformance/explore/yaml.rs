//! Writing histories out: each step in the scenario format of `docs/spec-format.md`, and a
//! shrunk failing history as a whole scenario whose expectations are the reference's answers.

use serde_json::Value;
use user_engine_conformance_spec::{COUNTER_NAMES, Operation, VersionCondition};

use super::history::{Action, History};
use super::oracle::{Divergence, Observation};
use crate::conformance::actual::counter;
use crate::{Diagnostics, Record};

/// A scalar as YAML: plain when it cannot be read as anything but this string, else quoted.
pub(crate) fn scalar(text: &str) -> String {
    const WORDS: &[&str] = &[
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~",
    ];
    let plain = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain { text.to_owned() } else { quoted(text) }
}

/// A double-quoted YAML string. Everything outside YAML's printable set is escaped, and so are
/// the characters a YAML 1.1 reader would take for line breaks (NEL, LS, PS) or a byte order
/// mark: the text must read back exactly.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0xa0 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A payload in YAML flow style. Numbers keep serde_json's spelling, which reads back as the
/// same integer or the same double.
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), value(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// `{a: x, b: y}` from the fields that are present.
fn flow(fields: Vec<(&str, Option<String>)>) -> String {
    let present: Vec<String> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
        .collect();
    format!("{{{}}}", present.join(", "))
}

fn condition(c: VersionCondition) -> Option<String> {
    match c {
        VersionCondition::Any => None,
        VersionCondition::Absent => Some("absent".to_owned()),
        VersionCondition::Version(v) => Some(format!("{{version: {v}}}")),
    }
}

/// Payloads default to `{}`, so an empty object is left out.
fn data(v: &Value) -> Option<String> {
    (!v.as_object().is_some_and(serde_json::Map::is_empty)).then(|| value(v))
}

/// One operation as the text after `- `.
pub(crate) fn operation(op: &Operation) -> String {
    let s = |t: &str| Some(scalar(t));
    let o = |t: &Option<String>| t.as_deref().map(scalar);
    let args = match op {
        Operation::Begin { tx }
        | Operation::Commit { tx }
        | Operation::Rollback { tx }
        | Operation::Drop { tx }
        | Operation::PanicIn { tx } => scalar(tx),
        Operation::Save {
            tx,
            key,
            user,
            data: d,
            condition: c,
        } => flow(vec![
            ("tx", o(tx)),
            ("tenant", s(&key.tenant)),
            ("kind", s(&key.kind)),
            ("id", s(&key.id)),
            ("user", o(user)),
            ("data", data(d)),
            ("if", condition(*c)),
        ]),
        Operation::Delete {
            tx,
            key,
            condition: c,
        } => flow(vec![
            ("tx", o(tx)),
            ("tenant", s(&key.tenant)),
            ("kind", s(&key.kind)),
            ("id", s(&key.id)),
            ("if", condition(*c)),
        ]),
        Operation::Get { tx, key } => flow(vec![
            ("tx", o(tx)),
            ("tenant", s(&key.tenant)),
            ("kind", s(&key.kind)),
            ("id", s(&key.id)),
        ]),
        Operation::List {
            tenant,
            kind,
            limit,
            after,
        } => flow(vec![
            ("tenant", s(tenant)),
            ("kind", o(kind)),
            ("limit", limit.map(|l| l.to_string())),
            ("after", o(after)),
        ]),
        Operation::ListUser { tenant, user } => {
            flow(vec![("tenant", s(tenant)), ("user", s(user))])
        }
        Operation::Audit {
            tx,
            tenant,
            action,
            actor,
            target,
        } => flow(vec![
            ("tx", o(tx)),
            ("tenant", s(tenant)),
            ("action", s(action)),
            ("actor", o(actor)),
            ("target", o(target)),
        ]),
        Operation::ListAudit { tenant } => flow(vec![("tenant", s(tenant))]),
        Operation::Enqueue {
            tx,
            tenant,
            topic,
            key,
            data: d,
        } => flow(vec![
            ("tx", o(tx)),
            ("tenant", s(tenant)),
            ("topic", s(topic)),
            ("key", s(key)),
            ("data", data(d)),
        ]),
        Operation::OutboxPending { limit } => flow(vec![("limit", limit.map(|l| l.to_string()))]),
        Operation::Acknowledge {
            events,
            first,
            again,
            twice,
            unknown,
            unissued,
        } => {
            let which = if *again {
                "again: true".to_owned()
            } else if let Some(n) = first {
                format!("first: {n}")
            } else {
                let names: Vec<String> = events.iter().map(|e| scalar(e)).collect();
                format!("events: [{}]", names.join(", "))
            };
            let twice = if *twice { ", twice: true" } else { "" };
            let unknown = if *unknown { ", unknown: true" } else { "" };
            let unissued = if *unissued { ", unissued: true" } else { "" };
            format!("{{{which}{twice}{unknown}{unissued}}}")
        }
        _ => "{}".to_owned(),
    };
    format!("{}: {args}", op.keyword())
}

/// One history step without expectations, for listings and determinism checks.
fn action(a: &Action) -> String {
    let Action::Spec {
        operation: op,
        capture,
    } = a;
    match capture {
        Some(name) => format!("{}  # as {name}", operation(op)),
        None => operation(op),
    }
}

/// The history as one line per step.
pub(crate) fn history_text(history: &History) -> String {
    let lines: Vec<String> = history
        .steps
        .iter()
        .map(|a| format!("- {}\n", action(a)))
        .collect();
    lines.concat()
}

fn record_list(records: &[Record]) -> String {
    let items: Vec<String> = records.iter().map(|r| scalar(&r.key.to_string())).collect();
    format!("[{}]", items.join(", "))
}

/// The full record expectation: version, owner and payload.
fn record(r: &Record) -> String {
    let user = r
        .user
        .as_ref()
        .map_or("null".to_owned(), |u| scalar(u.as_str()));
    format!(
        "{{version: {}, user: {user}, data: {}}}",
        r.version,
        value(r.payload.expose())
    )
}

/// What a step must return, from the reference's answer; `None` is plain success. Saves name
/// only their version unless `full` (the diverging step), to keep scenarios readable.
pub(crate) fn expectation(op: &Operation, answer: &Observation, full: bool) -> Option<String> {
    Some(match answer {
        Observation::Done => return None,
        Observation::Failed(kind) => format!("{{error: {kind}}}"),
        Observation::Record(None) => "absent".to_owned(),
        Observation::Record(Some(r)) => match op {
            Operation::Save { .. } if !full => format!("{{version: {}}}", r.version),
            _ => record(r),
        },
        Observation::Page { records, .. } | Observation::Records(records) => record_list(records),
        Observation::Audit(entries, _) => {
            let items: Vec<String> = entries
                .iter()
                .map(|e| match &e.target {
                    Some(t) => scalar(&format!("{} {}/{}", e.action, t.kind, t.id)),
                    None => scalar(&e.action),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        Observation::Events(events) => {
            let items: Vec<String> = events
                .iter()
                .map(|m| scalar(&format!("{}/{}/{}", m.tenant, m.topic, m.key)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Observation::Acknowledged(n) => format!("{{count: {n}}}"),
        Observation::Migration(report) => {
            let versions: Vec<String> = report.applied.iter().map(u32::to_string).collect();
            format!("{{applied: [{}]}}", versions.join(", "))
        }
        Observation::Readiness(r) => match r {
            crate::Readiness::Ready { .. } => "ready".to_owned(),
            crate::Readiness::NotReady { reason } => format!("{{not_ready: {}}}", reason.name()),
        },
        Observation::Diagnostics(d) => format!("{{counts: {{{}}}}}", counts(d)),
        Observation::Unusable(_) | Observation::Panicked(_) => return None,
    })
}

/// Every counter the spec names, so a scenario pins the diagnostics completely.
fn counts(d: &Diagnostics) -> String {
    let mut names: Vec<String> = vec!["records".to_owned()];
    names.extend(
        crate::RecordKind::ALL
            .iter()
            .map(|k| format!("records.{k}")),
    );
    names.extend(
        COUNTER_NAMES
            .iter()
            .filter(|n| **n != "records")
            .map(|n| (*n).to_owned()),
    );
    let fields: Vec<String> = names
        .iter()
        .map(|name| format!("{name}: {}", counter(d, name).unwrap_or(0)))
        .collect();
    fields.join(", ")
}

/// The steps that make a divergence visible to the scenario's expectations when the diverging
/// step's own expectation cannot: the records whose contents differ, read one by one, and the
/// page a cursor leads to.
pub(crate) fn revealing_steps(action: &Action, divergence: &Divergence) -> Vec<String> {
    let mut steps = Vec::new();
    let (reference, store) = (&divergence.reference, &divergence.store);
    let (Observation::Page { records: a, .. } | Observation::Records(a)) = reference else {
        return steps;
    };
    let (Observation::Page { records: b, .. } | Observation::Records(b)) = store else {
        return steps;
    };
    let keys = |rs: &[Record]| rs.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    if keys(a) == keys(b) {
        for (mine, theirs) in a.iter().zip(b) {
            if mine != theirs {
                let get = Operation::Get {
                    tx: None,
                    key: user_engine_conformance_spec::KeySpec {
                        tenant: mine.key.tenant.to_string(),
                        kind: mine.key.kind.to_string(),
                        id: mine.key.id.to_string(),
                    },
                };
                steps.push(format!(
                    "- {}\n  expect: {}\n",
                    operation(&get),
                    record(mine)
                ));
            }
        }
    }
    if let (
        Action::Spec {
            operation:
                Operation::List {
                    tenant,
                    kind,
                    limit,
                    ..
                },
            capture: Some(name),
        },
        Observation::Page {
            next: Some(Some(next)),
            ..
        },
    ) = (action, reference)
    {
        let follow = Operation::List {
            tenant: tenant.clone(),
            kind: kind.clone(),
            limit: *limit,
            after: Some(name.clone()),
        };
        let expect = match next {
            Ok(records) => record_list(records),
            Err(kind) => format!("{{error: {kind}}}"),
        };
        steps.push(format!("- {}\n  expect: {expect}\n", operation(&follow)));
    }
    steps
}
