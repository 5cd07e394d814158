//! The five measured operations, defined once: the data they use, the [`Subject`] trait that both
//! an adapter and its raw baseline implement, and [`Adapter`], which drives any `UserEngineStore`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use user_engine::{
    AuditEntry, EventId, Expectation, OutboxMessage, Payload, RecordId, RecordKey, RecordKind,
    RecordWrite, TenantId, TenantQuery, UserEngineStore, UserId,
};

/// Records in the listed tenant (and the pool `get` draws its keys from).
pub const RECORDS: usize = 1_000;
/// Distinct keys the single-record saves rotate over.
pub const SAVE_KEYS: u64 = 1_000;
/// Record writes in the batched transaction (plus one audit entry and one outbox event).
pub const BATCH_WRITES: u64 = 10;
/// Outbox events drained per timed run.
pub const OUTBOX_EVENTS: usize = 10_000;
/// Events per `pending` + `acknowledge` call while draining.
pub const DRAIN_BATCH: usize = 100;

pub const LIST_TENANT: &str = "bench-list";
pub const SAVE_TENANT: &str = "bench-save";
pub const BATCH_TENANT: &str = "bench-tx";
pub const OUTBOX_TENANT: &str = "bench-outbox";

/// The operations, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Save,
    Get,
    List,
    Batch,
    Drain,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::Save,
        Operation::Get,
        Operation::List,
        Operation::Batch,
        Operation::Drain,
    ];

    /// How `--op` names it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Save => "save",
            Operation::Get => "get",
            Operation::List => "list",
            Operation::Batch => "batch",
            Operation::Drain => "drain",
        }
    }

    /// Whether the operation only reads (commits nothing, so waits on no disk).
    pub fn only_reads(self) -> bool {
        matches!(self, Operation::Get | Operation::List)
    }

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Operation::Save => "save one record (1 committed tx)",
            Operation::Get => "get by key",
            Operation::List => "list a tenant of 1,000 records",
            Operation::Batch => "tx: 10 writes + audit + outbox",
            Operation::Drain => "drain 10,000 outbox events /100",
        }
    }
}

/// A record of the listed tenant: its kind (rotating over all six), id and owner.
pub fn list_record(i: usize) -> (&'static str, String, String) {
    let kind = RecordKind::ALL[i % RecordKind::ALL.len()].as_str();
    (kind, format!("r{i:05}"), format!("u{}", i % 50))
}

/// The key a single-record save writes on iteration `n`.
pub fn save_id(n: u64) -> String {
    format!("s{:05}", n % SAVE_KEYS)
}

/// The key of write `j` of batch `n`.
pub fn batch_id(n: u64, j: u64) -> String {
    format!("t{:05}", (n * BATCH_WRITES + j) % SAVE_KEYS)
}

/// A profile-like body of a realistic size (about 150 bytes of JSON).
pub fn payload(n: u64) -> Value {
    json!({
        "display_name": format!("Bench User {n}"),
        "email": format!("user{n}@example.com"),
        "locale": "en-GB",
        "marketing": n.is_multiple_of(2),
        "n": n,
    })
}

/// A record row's columns as every raw baseline reads them: tenant, kind, id, owner, payload
/// (JSON text) and version.
pub type RecordRow = (String, String, String, Option<String>, String, i64);

/// A record as a hand-written reader keeps it: owned columns and the parsed body. Every raw
/// baseline returns its reads in this form, as the adapters return `Record`s, so a listing holds
/// all its records on both sides until the caller drops them.
#[allow(
    dead_code,
    reason = "read to do the same work as the adapter; never inspected"
)]
pub struct RawRecord {
    tenant: String,
    kind: String,
    id: String,
    user: Option<String>,
    payload: Value,
    version: i64,
}

impl RawRecord {
    /// The record of one row, its payload parsed.
    pub fn parse((tenant, kind, id, user, payload, version): RecordRow) -> Result<Self> {
        Ok(Self {
            tenant,
            kind,
            id,
            user,
            payload: serde_json::from_str(&payload)?,
            version,
        })
    }
}

/// An outbox body.
pub fn event_payload(n: u64) -> Value {
    json!({"sequence": n, "reason": "bench"})
}

/// What both sides of a comparison can do. Every method is one measured operation, except the
/// `seed_*` methods, which prepare state and are never timed.
pub trait Subject {
    /// Writes the [`RECORDS`] records of [`LIST_TENANT`].
    fn seed_list_tenant(&self) -> Result<()>;
    /// Saves one record (any version) in its own committed transaction; returns its version.
    fn save_one(&self, n: u64) -> Result<u64>;
    /// Reads record `i % RECORDS` of the listed tenant; fails if it is missing.
    fn get(&self, i: u64) -> Result<()>;
    /// Lists the whole listed tenant; returns how many records came back.
    fn list_tenant(&self) -> Result<usize>;
    /// One transaction: [`BATCH_WRITES`] saves, one audit entry, one outbox event.
    fn write_batch(&self, n: u64) -> Result<()>;
    /// Acknowledges whatever is pending, then enqueues `events` new events (100 per transaction).
    fn seed_outbox(&self, events: usize) -> Result<()>;
    /// Reads pending events `batch` at a time and acknowledges them until none is left; returns
    /// how many were drained.
    fn drain(&self, batch: usize) -> Result<usize> {
        self.drain_split(batch, &mut DrainSplit::default())
    }

    /// [`drain`](Self::drain), adding the time spent reading pending events and acknowledging
    /// them to `split` (`explain.rs` compares the two sides' halves).
    fn drain_split(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let mut drained = 0;
        loop {
            match self.drain_batch(batch, split)? {
                0 => return Ok(drained),
                n => drained += n,
            }
        }
    }

    /// One step of a drain: reads up to `batch` pending events and acknowledges them; returns how
    /// many it acknowledged (0: none was pending). Adds its time to `split`.
    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize>;
}

/// Where a drain's time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct DrainSplit {
    pub reading: Duration,
    pub acknowledging: Duration,
}

/// Any store, driven through the public boundary exactly as an application would.
pub struct Adapter<S> {
    store: S,
    list_keys: Vec<RecordKey>,
    save_keys: Vec<RecordKey>,
    batch_keys: Vec<RecordKey>,
    save_tenant: TenantId,
    batch_tenant: TenantId,
    outbox_tenant: TenantId,
    list_tenant: TenantId,
    owner: UserId,
}

impl<S: UserEngineStore> Adapter<S> {
    /// Migrates `store` and prepares the keys (outside any timing).
    pub fn new(store: S) -> Result<Self> {
        store.migrate().context("migrating the adapter's store")?;
        let key = |tenant: &str, kind: RecordKind, id: String| -> Result<RecordKey> {
            Ok(RecordKey::new(
                TenantId::new(tenant)?,
                kind,
                RecordId::new(id)?,
            ))
        };
        let list_keys = (0..RECORDS)
            .map(|i| {
                let (kind, id, _) = list_record(i);
                key(LIST_TENANT, kind.parse()?, id)
            })
            .collect::<Result<_>>()?;
        let save_keys = (0..SAVE_KEYS)
            .map(|n| key(SAVE_TENANT, RecordKind::Profile, save_id(n)))
            .collect::<Result<_>>()?;
        let batch_keys = (0..SAVE_KEYS)
            .map(|n| key(BATCH_TENANT, RecordKind::Preference, batch_id(0, n)))
            .collect::<Result<_>>()?;
        Ok(Self {
            store,
            list_keys,
            save_keys,
            batch_keys,
            save_tenant: TenantId::new(SAVE_TENANT)?,
            batch_tenant: TenantId::new(BATCH_TENANT)?,
            outbox_tenant: TenantId::new(OUTBOX_TENANT)?,
            list_tenant: TenantId::new(LIST_TENANT)?,
            owner: UserId::new("u1")?,
        })
    }

    /// [`Subject::write_batch`], adding to `phases` the time from `begin` to the last save's
    /// return, then the time of the audit entry, the event and `commit` (`explain.rs` compares the
    /// two with the raw side's).
    pub fn write_batch_phased(&self, n: u64, phases: &mut [Duration; 2]) -> Result<()> {
        let started = Instant::now();
        let mut tx = self.store.begin()?;
        let mut first = None;
        for j in 0..BATCH_WRITES {
            let key = &self.batch_keys[((n * BATCH_WRITES + j) % SAVE_KEYS) as usize];
            first.get_or_insert(key);
            tx.save(self.write(key, n), Expectation::Any)?;
        }
        let written = Instant::now();
        phases[0] += written - started;
        tx.append_audit(AuditEntry {
            tenant: self.batch_tenant.clone(),
            actor: Some(self.owner.clone()),
            action: "bench.batch_saved".to_owned(),
            target: first.cloned(),
        })?;
        tx.enqueue(OutboxMessage {
            tenant: self.batch_tenant.clone(),
            topic: "bench.batch_saved".to_owned(),
            key: n.to_string(),
            payload: Payload::new(event_payload(n)),
        })?;
        tx.commit()?;
        phases[1] += written.elapsed();
        Ok(())
    }

    fn write(&self, key: &RecordKey, n: u64) -> RecordWrite {
        RecordWrite {
            key: key.clone(),
            user: Some(self.owner.clone()),
            payload: Payload::new(payload(n)),
        }
    }
}

impl<S: UserEngineStore> Subject for Adapter<S> {
    fn seed_list_tenant(&self) -> Result<()> {
        let mut tx = self.store.begin()?;
        for (i, key) in self.list_keys.iter().enumerate() {
            let (_, _, user) = list_record(i);
            let write = RecordWrite {
                key: key.clone(),
                user: Some(UserId::new(user)?),
                payload: Payload::new(payload(i as u64)),
            };
            tx.save(write, Expectation::Any)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn save_one(&self, n: u64) -> Result<u64> {
        let key = &self.save_keys[(n % SAVE_KEYS) as usize];
        debug_assert_eq!(key.tenant, self.save_tenant);
        let mut tx = self.store.begin()?;
        let record = tx.save(self.write(key, n), Expectation::Any)?;
        tx.commit()?;
        Ok(record.version)
    }

    fn get(&self, i: u64) -> Result<()> {
        let key = &self.list_keys[(i % RECORDS as u64) as usize];
        ensure!(self.store.get(key)?.is_some(), "record {key} is missing");
        Ok(())
    }

    fn list_tenant(&self) -> Result<usize> {
        let page = self
            .store
            .list_tenant(&TenantQuery::all(self.list_tenant.clone()))?;
        Ok(page.records.len())
    }

    fn write_batch(&self, n: u64) -> Result<()> {
        self.write_batch_phased(n, &mut [Duration::ZERO; 2])
    }

    fn seed_outbox(&self, events: usize) -> Result<()> {
        self.drain(1_000)?;
        for chunk in 0..events.div_ceil(100) {
            let mut tx = self.store.begin()?;
            for i in chunk * 100..(chunk * 100 + 100).min(events) {
                tx.enqueue(OutboxMessage {
                    tenant: self.outbox_tenant.clone(),
                    topic: "bench.event".to_owned(),
                    key: i.to_string(),
                    payload: Payload::new(event_payload(i as u64)),
                })?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let started = Instant::now();
        let events = self.store.outbox_pending(batch)?;
        split.reading += started.elapsed();
        if events.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        let acknowledged = self.store.acknowledge(&ids)?;
        split.acknowledging += started.elapsed();
        Ok(acknowledged)
    }
}

/// Seeds both sides' state for `operation` (never timed) and checks they agree on the result.
pub fn prepare(operation: Operation, adapter: &dyn Subject, raw: &dyn Subject) -> Result<()> {
    match operation {
        Operation::Get | Operation::List => {
            adapter.seed_list_tenant()?;
            raw.seed_list_tenant()?;
            let (a, r) = (adapter.list_tenant()?, raw.list_tenant()?);
            ensure!(
                a == RECORDS && r == RECORDS,
                "listed {a} (adapter) and {r} (raw) records, expected {RECORDS}"
            );
        }
        Operation::Save => {
            let (a, r) = (adapter.save_one(0)?, raw.save_one(0)?);
            ensure!(
                a == r,
                "first save gave version {a} (adapter) and {r} (raw)"
            );
        }
        Operation::Batch | Operation::Drain => {}
    }
    Ok(())
}
