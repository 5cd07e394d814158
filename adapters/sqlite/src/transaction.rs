//! SQLite's transactions: a [`WriteBuffer`] (the engine's optional buffered strategy,
//! `user_engine::buffered`) applied at commit in one `BEGIN IMMEDIATE` transaction.
//!
//! Reads-own-writes, write-time expectations and the guard bookkeeping are the buffer's. What is
//! SQLite's own is here: remembering what a transaction's reads were made against (its
//! [`ReadPoint`]), taking the write lock before the guards are checked, skipping their second
//! read when nothing reached the file since the first, writing the rows, and failing where an
//! injected fault says (`user_engine::testing::FaultCountdown`), inside the transaction so that it
//! rolls back.

use std::fmt;

use rusqlite::{Connection, TransactionBehavior};
use user_engine::buffered::{CommitPlan, RecordChange, WriteBuffer};
use user_engine::kit::KeyVersions;
use user_engine::testing::FaultCountdown;
use user_engine::{
    AuditEntry, Expectation, OutboxMessage, Record, RecordKey, RecordWrite, StoreError,
    StoreTransaction, UserEngineStore,
};

use crate::error::{is_unique_violation, map};
use crate::lifecycle::ensure_ready;
use crate::rows::{
    committed_versions, committed_versions_and_data_version, data_version, key_params,
};
use crate::store::SqliteUserEngineStore;

/// What a transaction's first-write reads were made against. Read again under the commit's write
/// lock and found equal, nothing has reached the file since — no other connection committed
/// (SQLite's `data_version` did not move), this connection changed no row (its
/// `total_changes` did not move) and it is still the same connection (a reopen counts one) — so
/// every version the transaction read is still the committed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadPoint {
    connection: u64,
    data_version: i64,
    own_changes: u64,
}

impl ReadPoint {
    fn of(store: &SqliteUserEngineStore, conn: &Connection, data_version: i64) -> Self {
        ReadPoint {
            connection: store.connection_number(),
            data_version,
            own_changes: conn.total_changes(),
        }
    }
}

/// An open transaction: its buffer, and where its first first-write read was made.
pub(crate) struct SqliteTransaction<'a> {
    store: &'a SqliteUserEngineStore,
    buffer: WriteBuffer,
    /// `None` until a first write has read a key's committed versions.
    read_point: Option<ReadPoint>,
}

impl<'a> SqliteTransaction<'a> {
    pub(crate) fn new(store: &'a SqliteUserEngineStore) -> Self {
        SqliteTransaction {
            store,
            buffer: WriteBuffer::new(),
            read_point: None,
        }
    }
}

impl fmt::Debug for SqliteTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SqliteTransaction")
            .field(&self.buffer)
            .finish()
    }
}

/// A key's committed versions for its first write in a transaction; the first such read also
/// fixes the transaction's read point (in the same read transaction as the versions).
fn first_write_read(
    store: &SqliteUserEngineStore,
    read_point: &mut Option<ReadPoint>,
    key: &RecordKey,
) -> Result<KeyVersions, StoreError> {
    let conn = store.connection();
    if read_point.is_some() {
        return committed_versions(&conn, key);
    }
    let (versions, data_version) = committed_versions_and_data_version(&conn, key)?;
    *read_point = Some(ReadPoint::of(store, &conn, data_version));
    Ok(versions)
}

impl StoreTransaction for SqliteTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        match self.buffer.buffered(key) {
            Some(buffered) => Ok(buffered),
            None => UserEngineStore::get(self.store, key),
        }
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let (store, read_point) = (self.store, &mut self.read_point);
        self.buffer.save(write, expect, |key| {
            first_write_read(store, read_point, key)
        })
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let (store, read_point) = (self.store, &mut self.read_point);
        self.buffer
            .delete(key, expect, |key| first_write_read(store, read_point, key))
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.buffer.append_audit(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.buffer.enqueue(message);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        commit_buffer(this.store, this.buffer, this.read_point)
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Nothing reached the file; dropping the buffer is the rollback.
        Ok(())
    }
}

/// Applies a transaction's buffer, all or nothing.
fn commit_buffer(
    store: &SqliteUserEngineStore,
    buffer: WriteBuffer,
    read_point: Option<ReadPoint>,
) -> Result<(), StoreError> {
    let mut conn = store.connection();
    // IMMEDIATE: the write lock is taken before the guards are checked, so nothing can change
    // them between the check and the write. On any error the transaction is dropped, which
    // rolls it back: a failed commit changes nothing.
    // An injected fault is taken by this commit, under the connection lock, so exactly one
    // commit meets it.
    let mut countdown = store.fault().take();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| map("starting a commit", &e))?;
    // Every commit checks readiness: what it finds is what `begin` and reads go by next.
    store.latch().checking(|| ensure_ready(&tx))?;
    let unchanged = match read_point {
        Some(point) => point == ReadPoint::of(store, &tx, data_version(&tx)?),
        None => false,
    };
    let plan = if unchanged {
        buffer.into_commit_plan_as_observed()
    } else {
        buffer.into_commit_plan(|key| committed_versions(&tx, key))?
    };
    apply(&tx, &plan, &mut countdown)?;
    if countdown.before_completion().is_some() {
        return Err(countdown.failure());
    }
    tx.commit().map_err(|e| map("committing", &e))
}

/// Fails with the injected fault when it strikes before the next change.
fn before_change(countdown: &mut FaultCountdown) -> Result<(), StoreError> {
    match countdown.before_change() {
        // Only commit failures can be armed here (`hooks.rs`): returning the error drops the
        // SQLite transaction, which rolls back every change made so far.
        Some(_) => Err(countdown.failure()),
        None => Ok(()),
    }
}

/// Writes a checked plan: records, then audit entries, then outbox events — the order in which
/// an injected fault counts them.
fn apply(
    conn: &Connection,
    plan: &CommitPlan,
    countdown: &mut FaultCountdown,
) -> Result<(), StoreError> {
    for change in &plan.changes {
        before_change(countdown)?;
        apply_change(conn, change)?;
    }
    for entry in &plan.audit {
        before_change(countdown)?;
        let target = entry.target.as_ref();
        conn.prepare_cached(
            "INSERT INTO user_engine_audit_records
                 (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                entry.tenant.as_str(),
                entry.actor.as_ref().map(|a| a.as_str()),
                entry.action,
                target.map(|t| t.tenant.as_str()),
                target.map(|t| t.kind.as_str()),
                target.map(|t| t.id.as_str()),
            ])
        })
        .map_err(|e| map("appending an audit entry", &e))?;
    }
    // Events get their ids inside the single write transaction, so id order is commit order.
    for message in &plan.outbox {
        before_change(countdown)?;
        conn.prepare_cached(
            "INSERT INTO user_engine_outbox_events (tenant_id, topic, event_key, payload) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                message.tenant.as_str(),
                message.topic,
                message.key,
                message.payload.to_json_text(),
            ])
        })
        .map_err(|e| map("enqueueing an outbox event", &e))?;
    }
    Ok(())
}

/// Writes (or deletes) one key's record; the guards were checked when the plan was made.
fn apply_change(conn: &Connection, change: &RecordChange) -> Result<(), StoreError> {
    let key = &change.key;
    let [tenant, kind, id] = key_params(key);
    let Some(record) = &change.record else {
        // The row stays (or, for a record the transaction created and deleted itself, becomes) a
        // tombstone holding the key's last version (C2), without its owner or payload (C4:
        // nothing of a deleted record is kept).
        let last = i64::try_from(change.last)
            .map_err(|_| StoreError::invalid(format!("version of {key} overflows")))?;
        conn.prepare_cached(
            "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version, deleted)
             VALUES (?1, ?2, ?3, NULL, 'null', ?4, 1)
             ON CONFLICT (tenant_id, kind, record_id)
             DO UPDATE SET deleted = 1, user_id = NULL, payload = 'null',
                           version = max(version, excluded.version)",
        )
        .and_then(|mut s| s.execute(rusqlite::params![tenant, kind, id, last]))
        .map_err(|e| map("deleting a record", &e))?;
        return Ok(());
    };
    let version = i64::try_from(record.version)
        .map_err(|_| StoreError::invalid(format!("version of {key} overflows")))?;
    let result = conn
        .prepare_cached(
            "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, kind, record_id)
             DO UPDATE SET user_id = excluded.user_id, payload = excluded.payload, version = excluded.version,
                           deleted = 0",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                tenant,
                kind,
                id,
                record.user.as_ref().map(|u| u.as_str()),
                record.payload.to_json_text(),
                version
            ])
        });
    match result {
        Ok(_) => Ok(()),
        // Another unique index (an operator's, say on an e-mail inside the payload) refused the
        // row: a conflict on this key. The driver's message is dropped, it may quote the value.
        Err(err) if is_unique_violation(&err) => Err(change.conflict()),
        Err(err) => Err(map("saving a record", &err)),
    }
}
