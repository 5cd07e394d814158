//! The SQLite baseline: the same statements written by hand with `rusqlite`, against the schema of
//! `migrations/sqlite/` applied verbatim (every file: the adapter migrates to the latest version),
//! with the adapter's connection settings (WAL,
//! `synchronous=FULL`, a busy timeout) so that both pay for the same durability.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use crate::workload::{
    BATCH_TENANT, BATCH_WRITES, DrainSplit, LIST_TENANT, OUTBOX_TENANT, RECORDS, RawRecord,
    RecordRow, SAVE_TENANT, Subject, batch_id, event_payload, list_record, payload, save_id,
};

/// The adapter's schema, as the adapter applies it (both files: the records table of the latest
/// version has the tombstone column every read filters on).
pub const MIGRATIONS: [&str; 2] = [
    include_str!("../../migrations/sqlite/0001_user_engine_store.sql"),
    include_str!("../../migrations/sqlite/0002_versions_survive_delete.sql"),
];

const UPSERT: &str =
    "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
     VALUES (?1, ?2, ?3, ?4, ?5, 1)
     ON CONFLICT (tenant_id, kind, record_id)
     DO UPDATE SET user_id = excluded.user_id, payload = excluded.payload,
                   version = user_engine_records.version + 1, deleted = 0";
/// The key's own columns are not read back: the caller has them (the adapter's statement).
const GET: &str = "SELECT user_id, payload, version FROM user_engine_records
     WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3 AND deleted = 0";
const LIST: &str =
    "SELECT tenant_id, kind, record_id, user_id, payload, version FROM user_engine_records
     WHERE tenant_id = ?1 AND deleted = 0 ORDER BY kind, record_id";
const AUDIT: &str = "INSERT INTO user_engine_audit_records
     (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const ENQUEUE: &str = "INSERT INTO user_engine_outbox_events (tenant_id, topic, event_key, payload) VALUES (?1, ?2, ?3, ?4)";
const PENDING: &str =
    "SELECT id, tenant_id, topic, event_key, payload FROM user_engine_outbox_events
     WHERE acknowledged_at IS NULL ORDER BY id LIMIT ?1";
/// One statement per batch, the ids as a JSON array: the adapter's statement.
const ACKNOWLEDGE: &str =
    "UPDATE user_engine_outbox_events SET acknowledged_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE id IN (SELECT value FROM json_each(?1)) AND acknowledged_at IS NULL";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

/// The baseline for `SqliteUserEngineStore`.
pub struct RawSqlite {
    connection: Mutex<Connection>,
    /// What [`SIGNATURE`] reads once the migration is recorded: `version:checksum`.
    signature: String,
}

impl RawSqlite {
    /// Opens `path` like the adapter does and applies the migration file.
    pub fn open(path: &Path) -> Result<Self> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "journal mode stayed {mode}"
        );
        connection.pragma_update(None, "synchronous", "FULL")?;
        let signature = migrate(&connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
            signature,
        })
    }

    /// The list tenant's rows, as the list statement gives them.
    pub fn list_rows(&self) -> Result<Vec<RecordRow>> {
        let conn = self.conn()?;
        let mut statement = conn.prepare_cached(LIST)?;
        let rows = statement
            .query_map([LIST_TENANT], record)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.connection.lock().map_err(|_| anyhow!("poisoned"))
    }
}

/// Applies every migration file, each in its own transaction with its `schema_versions` row, as
/// the adapter records it; returns what [`SIGNATURE`] reads afterwards.
pub fn migrate(connection: &Connection) -> Result<String> {
    let mut signature = Vec::new();
    for (migration, sql) in user_engine::MIGRATIONS.iter().zip(MIGRATIONS) {
        let checksum = user_engine::migration::checksum(sql);
        connection
            .execute_batch(&format!("BEGIN IMMEDIATE; {sql}"))
            .and_then(|()| {
                connection.execute(
                    "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (?1, ?2, ?3)",
                    params![migration.version, migration.name, &checksum],
                )
            })
            .and_then(|_| connection.execute_batch("COMMIT"))
            .with_context(|| format!("applying migrations/sqlite {}", migration.name))?;
        signature.push(format!("{}:{checksum}", migration.version));
    }
    Ok(signature.join(","))
}

/// The adapter's readiness check when ready: the recorded migrations as one text
/// (`adapters/sqlite/src/rows.rs`).
pub const SIGNATURE: &str =
    "SELECT group_concat(version || ':' || checksum, ',') FROM user_engine_schema_versions";
/// A key's committed version, as the adapter reads it at a key's first write (and at commit, when
/// something reached the file since).
pub const VERSION: &str = "SELECT version, deleted FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3";
/// A transaction's first first-write read: the key's version and SQLite's `data_version`, in one
/// statement (`adapters/sqlite/src/rows.rs`).
pub const VERSION_AND_DATA_VERSION: &str =
    "SELECT (SELECT data_version FROM pragma_data_version), max(version), max(deleted)
     FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3";

/// The statement that turns the adapter's held read transaction into its commit's write
/// transaction (`adapters/sqlite/src/transaction.rs`): it writes nothing but needs the lock.
/// `copies::the_copied_statements_are_the_adapters` keeps it the adapter's.
pub const TAKE_WRITE_LOCK: &str = "DELETE FROM user_engine_schema_versions WHERE 0";

impl RawSqlite {
    /// [`Subject::write_batch`] with the statements the adapter adds to it, where it makes them:
    /// with `first_writes`, each key's committed version read as it is first written, all in one
    /// read transaction begun by the first of them (which also reads `data_version`) and then
    /// turned into the write transaction, as the adapter's snapshot is; with `at_commit`, the
    /// write-lock statement and the readiness check (nothing else reached the file, so the
    /// adapter reads no version a second time). What those statements alone cost in place.
    pub fn write_batch_checked(&self, n: u64, first_writes: bool, at_commit: bool) -> Result<()> {
        self.write_batch_checked_phased(n, first_writes, at_commit, &mut [Duration::ZERO; 2])
    }

    /// [`write_batch_checked`](Self::write_batch_checked), adding to `phases` the time up to the
    /// last first-write read, then the rest (the commit's statements, the writes, `COMMIT`): the
    /// adapter's two phases (`Adapter::write_batch_phased`).
    pub fn write_batch_checked_phased(
        &self,
        n: u64,
        first_writes: bool,
        at_commit: bool,
        phases: &mut [Duration; 2],
    ) -> Result<()> {
        let started = Instant::now();
        let mut conn = self.conn()?;
        let tx = if first_writes {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            for j in 0..BATCH_WRITES {
                let key = [BATCH_TENANT, "preference", &batch_id(n, j)];
                if j == 0 {
                    let read: (i64, Option<i64>, Option<bool>) = tx
                        .prepare_cached(VERSION_AND_DATA_VERSION)?
                        .query_row(key, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    std::hint::black_box((read, tx.total_changes()));
                } else {
                    let read: Option<(i64, bool)> = tx
                        .prepare_cached(VERSION)?
                        .query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    std::hint::black_box(read);
                }
            }
            tx
        } else {
            conn.transaction_with_behavior(TransactionBehavior::Immediate)?
        };
        let read = Instant::now();
        phases[0] += read - started;
        if at_commit {
            tx.prepare_cached(TAKE_WRITE_LOCK)?.execute([])?;
            let signature: Option<String> =
                tx.prepare_cached(SIGNATURE)?.query_row([], |r| r.get(0))?;
            ensure!(
                signature.as_deref() == Some(self.signature.as_str()),
                "the recorded migrations read as {signature:?}"
            );
        }
        batch_writes(&tx, n)?;
        tx.commit()?;
        phases[1] += read.elapsed();
        Ok(())
    }
}

/// The batch's writes, audit entry and event, inside an open write transaction.
fn batch_writes(tx: &Connection, n: u64) -> Result<()> {
    for j in 0..BATCH_WRITES {
        upsert(
            tx,
            "preference",
            BATCH_TENANT,
            &batch_id(n, j),
            "u1",
            &payload(n),
        )?;
    }
    let first = batch_id(n, 0);
    tx.prepare_cached(AUDIT)?.execute(params![
        BATCH_TENANT,
        "u1",
        "bench.batch_saved",
        BATCH_TENANT,
        "preference",
        first
    ])?;
    tx.prepare_cached(ENQUEUE)?.execute(params![
        BATCH_TENANT,
        "bench.batch_saved",
        n.to_string(),
        event_payload(n).to_string()
    ])?;
    Ok(())
}

/// One upsert. Without `RETURNING`, which SQLite serves through a temporary table of its own per
/// statement: it cost the 10-write transaction about 300 µs of fresh page-cache memory (measured
/// with `perf stat -e page-faults`), and the adapter's writes do not use it.
fn upsert(
    conn: &Connection,
    kind: &str,
    tenant: &str,
    id: &str,
    user: &str,
    body: &Value,
) -> Result<()> {
    conn.prepare_cached(UPSERT)?
        .execute(params![tenant, kind, id, user, body.to_string()])?;
    Ok(())
}

impl Subject for RawSqlite {
    fn seed_list_tenant(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for i in 0..RECORDS {
            let (kind, id, user) = list_record(i);
            upsert(&tx, kind, LIST_TENANT, &id, &user, &payload(i as u64))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn save_one(&self, n: u64) -> Result<u64> {
        let body = payload(n);
        let id = save_id(n);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        upsert(&tx, "profile", SAVE_TENANT, &id, "u1", &body)?;
        // The version written, read back by key inside the transaction (cheaper than `RETURNING`).
        let version: i64 = tx
            .prepare_cached(VERSION)?
            .query_row([SAVE_TENANT, "profile", &id], |r| r.get(0))?;
        tx.commit()?;
        Ok(u64::try_from(version)?)
    }

    fn get(&self, i: u64) -> Result<()> {
        let (kind, id, _) = list_record((i % RECORDS as u64) as usize);
        let conn = self.conn()?;
        let row = conn
            .prepare_cached(GET)?
            .query_row(params![LIST_TENANT, kind, id], |r| {
                Ok((
                    LIST_TENANT.to_owned(),
                    kind.to_owned(),
                    id.clone(),
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                ))
            })
            .optional()?;
        ensure!(
            row.map(RawRecord::parse).transpose()?.is_some(),
            "record {id} is missing"
        );
        Ok(())
    }

    fn list_tenant(&self) -> Result<usize> {
        let records = self
            .list_rows()?
            .into_iter()
            .map(RawRecord::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(records.len())
    }

    fn write_batch(&self, n: u64) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        batch_writes(&tx, n)?;
        tx.commit()?;
        Ok(())
    }

    fn seed_outbox(&self, events: usize) -> Result<()> {
        self.drain(1_000)?;
        let mut conn = self.conn()?;
        for chunk in 0..events.div_ceil(100) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for i in chunk * 100..(chunk * 100 + 100).min(events) {
                tx.prepare_cached(ENQUEUE)?.execute(params![
                    OUTBOX_TENANT,
                    "bench.event",
                    i.to_string(),
                    event_payload(i as u64).to_string()
                ])?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let mut conn = self.conn()?;
        let started = Instant::now();
        let rows: Vec<(i64, String, String, String, String)> = conn
            .prepare_cached(PENDING)?
            .query_map([i64::try_from(batch)?], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if rows.is_empty() {
            split.reading += started.elapsed();
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        for (id, tenant, topic, key, body) in rows {
            let body: Value = serde_json::from_str(&body)?;
            debug_assert!(!tenant.is_empty() && !topic.is_empty() && !key.is_empty());
            debug_assert!(!body.is_null());
            ids.push(id);
        }
        split.reading += started.elapsed();
        let started = Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
        let acknowledged = tx
            .prepare_cached(ACKNOWLEDGE)?
            .execute([format!("[{}]", listed.join(","))])?;
        tx.commit()?;
        split.acknowledging += started.elapsed();
        Ok(acknowledged)
    }
}
