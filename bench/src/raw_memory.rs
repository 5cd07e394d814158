//! The in-memory baseline: a plain `Mutex<BTreeMap>` doing the same work as the reference store,
//! with the same data model (records by key, an audit list, an outbox map with an acknowledged
//! flag scanned in id order), minus the boundary: no readiness check, no write buffer, no
//! validated identifiers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Result, anyhow, ensure};
use serde_json::Value;

use crate::workload::{
    BATCH_TENANT, BATCH_WRITES, DrainSplit, LIST_TENANT, OUTBOX_TENANT, RECORDS, SAVE_TENANT,
    Subject, batch_id, event_payload, list_record, payload, save_id,
};

type Key = (String, String, String);

#[derive(Clone)]
#[allow(
    dead_code,
    reason = "stored and copied to do the adapter's work; never inspected"
)]
struct Row {
    user: Option<String>,
    payload: Value,
    version: u64,
}

#[derive(Clone)]
#[allow(
    dead_code,
    reason = "stored and copied to do the adapter's work; never inspected"
)]
struct Event {
    tenant: String,
    topic: String,
    key: String,
    payload: Value,
}

#[derive(Default)]
struct State {
    records: BTreeMap<Key, Row>,
    audit: Vec<(u64, String, String, Option<Key>)>,
    outbox: BTreeMap<u64, (Event, bool)>,
    next_audit: u64,
    next_event: u64,
}

impl State {
    fn upsert(&mut self, key: Key, user: Option<String>, payload: Value) -> (Key, Row) {
        let version = self.records.get(&key).map_or(0, |r| r.version) + 1;
        let row = Row {
            user,
            payload,
            version,
        };
        self.records.insert(key.clone(), row.clone());
        (key, row)
    }

    fn enqueue(&mut self, event: Event) {
        self.next_event += 1;
        self.outbox.insert(self.next_event, (event, false));
    }
}

/// The baseline for `InMemoryUserEngineStore`.
pub struct RawMemory {
    state: Mutex<State>,
    list_keys: Vec<Key>,
}

impl RawMemory {
    pub fn new() -> Self {
        let list_keys = (0..RECORDS)
            .map(|i| {
                let (kind, id, _) = list_record(i);
                (LIST_TENANT.to_owned(), kind.to_owned(), id)
            })
            .collect();
        Self {
            state: Mutex::default(),
            list_keys,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| anyhow!("poisoned"))
    }
}

impl Subject for RawMemory {
    fn seed_list_tenant(&self) -> Result<()> {
        let mut state = self.lock()?;
        for (i, key) in self.list_keys.iter().enumerate() {
            let (_, _, user) = list_record(i);
            state.upsert(key.clone(), Some(user), payload(i as u64));
        }
        Ok(())
    }

    fn save_one(&self, n: u64) -> Result<u64> {
        let value = payload(n);
        let key = (SAVE_TENANT.to_owned(), "profile".to_owned(), save_id(n));
        let (_, row) = self.lock()?.upsert(key, Some("u1".to_owned()), value);
        Ok(row.version)
    }

    fn get(&self, i: u64) -> Result<()> {
        let key = &self.list_keys[(i % RECORDS as u64) as usize];
        let found = self.lock()?.records.get(key).cloned();
        ensure!(found.is_some(), "record {key:?} is missing");
        Ok(())
    }

    fn list_tenant(&self) -> Result<usize> {
        let state = self.lock()?;
        let rows: Vec<(Key, Row)> = state
            .records
            .iter()
            .filter(|(key, _)| key.0 == LIST_TENANT)
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        Ok(rows.len())
    }

    fn write_batch(&self, n: u64) -> Result<()> {
        let writes: Vec<(Key, Value)> = (0..BATCH_WRITES)
            .map(|j| {
                let key = (
                    BATCH_TENANT.to_owned(),
                    "preference".to_owned(),
                    batch_id(n, j),
                );
                (key, payload(n))
            })
            .collect();
        let event = Event {
            tenant: BATCH_TENANT.to_owned(),
            topic: "bench.batch_saved".to_owned(),
            key: n.to_string(),
            payload: event_payload(n),
        };
        let mut state = self.lock()?;
        let mut first = None;
        for (key, value) in writes {
            let (key, _) = state.upsert(key, Some("u1".to_owned()), value);
            first.get_or_insert(key);
        }
        state.next_audit += 1;
        let sequence = state.next_audit;
        state.audit.push((
            sequence,
            BATCH_TENANT.to_owned(),
            "bench.batch_saved".to_owned(),
            first,
        ));
        state.enqueue(event);
        Ok(())
    }

    fn seed_outbox(&self, events: usize) -> Result<()> {
        self.drain(1_000)?;
        let mut state = self.lock()?;
        for i in 0..events {
            state.enqueue(Event {
                tenant: OUTBOX_TENANT.to_owned(),
                topic: "bench.event".to_owned(),
                key: i.to_string(),
                payload: event_payload(i as u64),
            });
        }
        Ok(())
    }

    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let mut drained = 0;
        let started = Instant::now();
        let pending: Vec<(u64, Event)> = self
            .lock()?
            .outbox
            .iter()
            .filter(|(_, (_, acknowledged))| !acknowledged)
            .take(batch)
            .map(|(id, (event, _))| (*id, event.clone()))
            .collect();
        split.reading += started.elapsed();
        if pending.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let mut state = self.lock()?;
        for (id, _event) in &pending {
            if let Some((_, acknowledged)) = state.outbox.get_mut(id) {
                if !*acknowledged {
                    *acknowledged = true;
                    drained += 1;
                }
            }
        }
        drop(state);
        split.acknowledging += started.elapsed();
        Ok(drained)
    }
}
