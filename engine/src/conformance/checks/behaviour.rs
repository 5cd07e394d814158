//! The checks a YAML scenario cannot express: many real threads committing against one store for
//! a while (a scenario's `concurrently` starts at most 64 copies of one step, once), and payloads
//! larger and deeper than a scenario file may hold (1 MiB, nesting 64).

use std::collections::BTreeMap;
use std::thread;

use serde_json::{Value, json};

use super::{key, message, tenant, write};
use crate::{AuditEntry, ErrorKind, Expectation, StoreError, TenantQuery, UserEngineStore};

/// Threads in [`racing_writers_lose_no_commit`].
pub const RACING_THREADS: usize = 8;

/// Transactions each thread commits in [`racing_writers_lose_no_commit`].
pub const COMMITS_PER_THREAD: usize = 25;

/// Commits `body` in a transaction of its own, again while the store refuses it with `conflict`
/// (a deadlock victim or a lock wait that timed out, which C33 allows; the refused attempt left
/// nothing, C12).
fn commit_retrying(
    store: &impl UserEngineStore,
    body: impl Fn(&mut dyn crate::StoreTransaction) -> Result<(), StoreError>,
) {
    for _ in 0..100 {
        let attempt = store.begin().and_then(|mut tx| {
            body(tx.as_mut())?;
            tx.commit()
        });
        match attempt {
            Ok(()) => return,
            Err(error) if error.kind() == ErrorKind::Conflict => continue,
            Err(error) => panic!("a racing commit failed: {error}"),
        }
    }
    panic!("a racing commit was refused with conflict 100 times in a row");
}

/// C6, C18, C20 and C33 under sustained load: [`RACING_THREADS`] threads each commit
/// [`COMMITS_PER_THREAD`] transactions at once, each an unguarded write of one shared record, an
/// audit entry and an event. Every commit counts: the shared record's version grows by one per
/// committed write, and every event and audit entry is there, each thread's in the order it
/// committed them, with no transaction's event and audit entry split by another's.
pub fn racing_writers_lose_no_commit(store: &impl UserEngineStore) {
    let shared = "acme/profile/shared";
    thread::scope(|scope| {
        for t in 0..RACING_THREADS {
            scope.spawn(move || {
                for i in 0..COMMITS_PER_THREAD {
                    let id = format!("t{t}-{i:03}");
                    commit_retrying(store, |tx| {
                        tx.save(write(shared, None, json!({"by": id})), Expectation::Any)?;
                        tx.append_audit(AuditEntry {
                            tenant: tenant("acme"),
                            actor: None,
                            action: id.clone(),
                            target: None,
                        })?;
                        tx.enqueue(message("acme", "raced", &id))?;
                        Ok(())
                    });
                }
            });
        }
    });
    let total = RACING_THREADS * COMMITS_PER_THREAD;
    let record = store.get(&key(shared)).unwrap().expect("the shared record");
    assert_eq!(
        record.version, total as u64,
        "{total} committed writes of one record, the first creating it: its version is {total}"
    );
    let events: Vec<String> = store
        .outbox_pending(usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.message.key.clone())
        .collect();
    let audit: Vec<String> = store
        .list_audit(&tenant("acme"))
        .unwrap()
        .into_iter()
        .map(|a| a.entry.action)
        .collect();
    for (what, seen) in [("pending events", &events), ("audit entries", &audit)] {
        assert_eq!(seen.len(), total, "{what}: one per committed transaction");
        let mut per_thread: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for id in seen {
            let (thread, _) = id.split_once('-').expect("t<thread>-<i>");
            per_thread.entry(thread).or_default().push(id);
        }
        for (thread, ids) in per_thread {
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(
                ids, sorted,
                "{what} of thread {thread} must come in the order it committed them"
            );
        }
    }
    assert_eq!(
        events, audit,
        "events and audit entries list in one commit order: the same for both"
    );
    let last = record.payload.expose()["by"].as_str().unwrap_or_default();
    assert_eq!(
        events.last().map(String::as_str),
        Some(last),
        "the shared record holds the write of the last transaction to commit"
    );
}

/// How deep the nested payload of [`payloads_beyond_a_scenario_file`] goes (arrays and objects,
/// alternating), past a scenario file's nesting limit of 64.
pub const DEEP_NESTING: usize = 80;

/// `levels` arrays and objects, alternating, around one number.
fn deep(levels: usize) -> Value {
    (0..levels).fold(json!(1.25), |inner, level| {
        if level % 2 == 0 {
            json!([inner])
        } else {
            json!({ "k": inner })
        }
    })
}

/// Payloads no scenario file can hold, each read back exactly as written (C5), by `get` and in a
/// listing, through one transaction and in another: a 2 MiB string with every kind of text in
/// it, nesting [`DEEP_NESTING`] deep, 5,000 keys, and 20,000 numbers of every shape a payload
/// may carry (integers past 2^53 and past `i64`, negative zero excepted, fractions, exponents).
pub fn payloads_beyond_a_scenario_file(store: &impl UserEngineStore) {
    let unit = "ascii ÄÖü 漢字 🦀 עברית e\u{301} \"quoted\" \\ \t\n";
    let long = unit.repeat(2 * 1024 * 1024 / unit.len() + 1);
    let many_keys: serde_json::Map<String, Value> = (0..5_000)
        .map(|i| (format!("key{i:05}"), json!(i)))
        .collect();
    let numbers: Vec<Value> = (0..20_000u64)
        .map(|i| match i % 5 {
            0 => json!(i),
            1 => json!(u64::MAX - i),
            2 => json!(-(i as i64) - 9_007_199_254_740_993),
            3 => json!(i as f64 / 7.0),
            _ => json!(1.5e300 / (i as f64 + 1.0)),
        })
        .collect();
    let payloads = [
        ("acme/profile/long", json!({ "text": long })),
        ("acme/profile/deep", deep(DEEP_NESTING)),
        ("acme/preference/wide", Value::Object(many_keys)),
        ("acme/consent/numbers", json!({ "n": numbers })),
    ];
    let mut tx = store.begin().unwrap();
    for (key_text, body) in &payloads {
        tx.save(
            write(key_text, Some("u1"), body.clone()),
            Expectation::Absent,
        )
        .unwrap();
        let seen = tx.get(&key(key_text)).unwrap().expect("its own write");
        assert!(
            seen.payload.expose() == body,
            "{key_text}: read inside its transaction differs from what it wrote"
        );
    }
    tx.commit().unwrap();
    for (key_text, body) in &payloads {
        let record = store.get(&key(key_text)).unwrap().expect("committed");
        assert!(
            record.payload.expose() == body,
            "{key_text}: read back differs from what was written (C5)"
        );
        assert_eq!(record.version, 1);
    }
    let listed = store
        .list_tenant(&TenantQuery::all(tenant("acme")))
        .unwrap()
        .records;
    assert_eq!(listed.len(), payloads.len());
    for record in listed {
        let (_, body) = payloads
            .iter()
            .find(|(k, _)| key(k) == record.key)
            .expect("one of the written keys");
        assert!(
            record.payload.expose() == body,
            "{}: listed payload differs from what was written (C5)",
            record.key
        );
    }
}
