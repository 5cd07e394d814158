//! SQLite's transactions: a [`WriteBuffer`] (the engine's optional buffered strategy,
//! `user_engine::buffered`) applied at commit in one write transaction.
//!
//! Reads-own-writes, write-time expectations and the guard bookkeeping are the buffer's. What is
//! SQLite's own is here:
//! - **One snapshot for a transaction's reads.** Its first-write reads (and its reads of keys it
//!   has not written) are made in one read transaction the store holds open while nothing else
//!   uses the connection (`SqliteUserEngineStore::snapshot_connection`), so they take SQLite's
//!   read lock once rather than once a read. Any other call on the store ends it first. A read
//!   there that would refuse a write is made again in a new one, so a write is refused only on
//!   the committed state as of the write.
//! - **A commit in that snapshot** when every read of the transaction was made in it and it is
//!   still the file's latest state: the write lock is taken on it, and the versions read are
//!   the committed ones.
//! - **Otherwise a commit under `BEGIN IMMEDIATE`**, which skips the guards' second read when
//!   nothing reached the file since the first ([`ReadPoint`]).
//! - Writing the rows, and failing where an injected fault says
//!   (`user_engine::testing::FaultCountdown`), inside the transaction so that it rolls back.

use std::fmt;

use rusqlite::{Connection, TransactionBehavior};
use user_engine::buffered::{CommitPlan, RecordChange, WriteBuffer};
use user_engine::kit::KeyVersions;
use user_engine::testing::FaultCountdown;
use user_engine::{
    AuditEntry, Expectation, OutboxMessage, Record, RecordKey, RecordWrite, StoreError,
    StoreTransaction,
};

use crate::error::{is_unique_violation, map};
use crate::lifecycle::ensure_ready;
use crate::rows::{
    committed_record, committed_versions, committed_versions_and_data_version, data_version,
    key_params,
};
use crate::store::{Snapshot, SqliteUserEngineStore};

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

/// Which of the store's snapshots a transaction's reads were made in, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reads {
    first: u64,
    last: u64,
}

impl Reads {
    /// The one snapshot every read was made in, if they were.
    fn in_one(self) -> Option<u64> {
        (self.first == self.last).then_some(self.first)
    }
}

/// An open transaction: its buffer, and what its reads were made in.
pub(crate) struct SqliteTransaction<'a> {
    buffer: WriteBuffer,
    reading: Reading<'a>,
}

/// Where an open transaction's reads were made: its first first-write read's read point, and
/// which snapshots of the store its reads were made in. Apart from the buffer, so that a read the
/// buffer asks for borrows only this.
struct Reading<'a> {
    store: &'a SqliteUserEngineStore,
    /// `None` until a first write has read a key's committed versions.
    read_point: Option<ReadPoint>,
    /// `None` until the transaction has begun reading from the file.
    reads: Option<Reads>,
    /// The store's snapshots begun before this transaction: its reads use only later ones.
    begun_after: u64,
}

impl<'a> SqliteTransaction<'a> {
    pub(crate) fn new(store: &'a SqliteUserEngineStore) -> Self {
        SqliteTransaction {
            buffer: WriteBuffer::new(),
            reading: Reading {
                store,
                read_point: None,
                reads: None,
                begun_after: store.snapshots_begun(),
            },
        }
    }
}

impl Reading<'_> {
    /// Notes that a read is made in the snapshot numbered `number` — before it is made, so that a
    /// read that fails still leaves the snapshot for the transaction's drop to end.
    fn read_in(&mut self, number: u64) {
        self.reads = Some(match self.reads {
            Some(Reads { first, .. }) => Reads {
                first,
                last: number,
            },
            None => Reads {
                first: number,
                last: number,
            },
        });
    }

    /// A key's committed versions for its first write in the transaction, read in the store's
    /// held snapshot; the transaction's first such read also fixes its read point. A held
    /// snapshot may predate another connection's commit, so a read there that would refuse the
    /// write (`refuses`) is made again in a new one: a write is refused only on the committed
    /// state as of the write.
    fn first_write(
        &mut self,
        key: &RecordKey,
        refuses: impl Fn(&KeyVersions) -> bool,
    ) -> Result<KeyVersions, StoreError> {
        let snapshot = self.store.snapshot_connection(self.begun_after)?;
        let versions = self.versions_in(&snapshot, key)?;
        if snapshot.began || !refuses(&versions) {
            return Ok(versions);
        }
        let older = snapshot.number;
        drop(snapshot);
        let snapshot = self.store.snapshot_connection(older)?;
        self.versions_in(&snapshot, key)
    }

    /// One first-write read in `snapshot`.
    fn versions_in(
        &mut self,
        snapshot: &Snapshot<'_>,
        key: &RecordKey,
    ) -> Result<KeyVersions, StoreError> {
        self.read_in(snapshot.number);
        let conn = &snapshot.conn;
        if self.read_point.is_some() {
            return committed_versions(conn, key);
        }
        let (versions, data_version) = committed_versions_and_data_version(conn, key)?;
        self.read_point = Some(ReadPoint::of(self.store, conn, data_version));
        Ok(versions)
    }
}

impl fmt::Debug for SqliteTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SqliteTransaction")
            .field(&self.buffer)
            .finish()
    }
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        // A transaction that ends without committing ends the snapshot its reads were made in,
        // if nothing else has: nothing reached the file, so that is the whole rollback.
        if let Some(reads) = self.reading.reads {
            self.reading.store.release_snapshot(reads.last);
        }
    }
}

impl StoreTransaction for SqliteTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        if let Some(buffered) = self.buffer.buffered(key) {
            return Ok(buffered);
        }
        let store = self.reading.store;
        if !store.latch().is_ready() {
            // A check the latch records is made on the committed state as of now, never in a
            // snapshot that may be older.
            store.serving(&store.connection())?;
        }
        let snapshot = store.snapshot_connection(self.reading.begun_after)?;
        self.reading.read_in(snapshot.number);
        committed_record(&snapshot.conn, key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let reading = &mut self.reading;
        self.buffer.save(write, expect, |key| {
            reading.first_write(key, |v| !expect.admits(v.live))
        })
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let reading = &mut self.reading;
        self.buffer.delete(key, expect, |key| {
            reading.first_write(key, |v| v.live.is_none() || !expect.admits(v.live))
        })
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.buffer.append_audit(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.buffer.enqueue(message);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let buffer = std::mem::take(&mut self.buffer);
        // The commit ends the snapshot itself (or finds it ended): nothing for drop to release.
        let reads = self.reading.reads.take();
        commit_buffer(self.reading.store, buffer, self.reading.read_point, reads)
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Nothing reached the file; dropping the buffer (and the snapshot) is the rollback.
        Ok(())
    }
}

/// A statement that writes nothing but needs the write lock: run inside the held snapshot, it
/// turns the snapshot into a write transaction — or fails (`SQLITE_BUSY_SNAPSHOT`) when another
/// connection committed since the snapshot began, or (`SQLITE_BUSY`) while another one writes.
const TAKE_WRITE_LOCK: &str = "DELETE FROM user_engine_schema_versions WHERE 0";

/// Applies a transaction's buffer, all or nothing.
fn commit_buffer(
    store: &SqliteUserEngineStore,
    buffer: WriteBuffer,
    read_point: Option<ReadPoint>,
    reads: Option<Reads>,
) -> Result<(), StoreError> {
    let (mut conn, holding) = store.commit_connection(reads.and_then(Reads::in_one));
    // An injected fault is taken by this commit, under the connection lock, so exactly one
    // commit meets it.
    let mut countdown = store.fault().take();
    if holding {
        // Every read the transaction made is in the held snapshot. If it still is the file's
        // latest state, the write lock is taken on it and the versions read are the committed
        // ones: no second read, no second lock.
        let upgraded = conn
            .prepare_cached(TAKE_WRITE_LOCK)
            .and_then(|mut s| s.execute([]));
        match upgraded {
            Ok(_) => return commit_in_snapshot(store, &conn, buffer, &mut countdown),
            Err(_) => store.end_snapshot(&conn),
        }
    }
    // IMMEDIATE: the write lock is taken before the guards are checked, so nothing can change
    // them between the check and the write. On any error the transaction is dropped, which
    // rolls it back: a failed commit changes nothing.
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

/// The commit inside the held snapshot, now holding the write lock: the state every read saw
/// is the committed state, so the plan is built from the observed versions. Any failure rolls
/// the whole transaction back.
fn commit_in_snapshot(
    store: &SqliteUserEngineStore,
    conn: &Connection,
    buffer: WriteBuffer,
    countdown: &mut FaultCountdown,
) -> Result<(), StoreError> {
    let mut open = InSnapshot {
        store,
        conn,
        committed: false,
    };
    store.latch().checking(|| ensure_ready(conn))?;
    apply(conn, &buffer.into_commit_plan_as_observed(), countdown)?;
    if countdown.before_completion().is_some() {
        return Err(countdown.failure());
    }
    conn.prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]))
        .map_err(|e| map("committing", &e))?;
    open.committed = true;
    Ok(())
}

/// The write transaction a commit made of the held snapshot. Dropped before it committed — an
/// error, or a panic while applying — it rolls back, so a failed commit leaves nothing and the
/// write lock is released at once; either way the store holds no snapshot after it.
struct InSnapshot<'c> {
    store: &'c SqliteUserEngineStore,
    conn: &'c Connection,
    committed: bool,
}

impl Drop for InSnapshot<'_> {
    fn drop(&mut self) {
        if self.committed {
            self.store.snapshot_ended();
        } else {
            self.store.end_snapshot(self.conn);
        }
    }
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

#[cfg(test)]
mod tests {
    use rusqlite::ffi::ErrorCode;

    use super::*;

    /// Two connections to a fresh file holding the table [`TAKE_WRITE_LOCK`] names.
    fn two_connections() -> (tempfile::TempDir, Connection, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let first = Connection::open(&path).unwrap();
        first
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE user_engine_schema_versions (version INTEGER PRIMARY KEY);",
            )
            .unwrap();
        let second = Connection::open(&path).unwrap();
        // Neither waits: a busy answer comes at once.
        first.busy_timeout(std::time::Duration::ZERO).unwrap();
        second.busy_timeout(std::time::Duration::ZERO).unwrap();
        (dir, first, second)
    }

    fn begin_snapshot(conn: &Connection) {
        conn.execute_batch("BEGIN").unwrap();
        let _: i64 = conn
            .query_row(
                "SELECT count(*) FROM user_engine_schema_versions",
                [],
                |r| r.get(0),
            )
            .unwrap();
    }

    #[test]
    fn the_write_lock_statement_takes_the_lock_on_a_current_snapshot() {
        let (_dir, first, second) = two_connections();
        begin_snapshot(&first);
        first.execute(TAKE_WRITE_LOCK, []).unwrap();
        // The first connection now holds the write lock: the second cannot take it.
        let err = second.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(ErrorCode::DatabaseBusy));
        first.execute_batch("COMMIT").unwrap();
        second.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
    }

    #[test]
    fn the_write_lock_statement_fails_on_a_snapshot_another_connection_overtook() {
        let (_dir, first, second) = two_connections();
        begin_snapshot(&first);
        second
            .execute("INSERT INTO user_engine_schema_versions VALUES (1)", [])
            .unwrap();
        let err = first.execute(TAKE_WRITE_LOCK, []).unwrap_err();
        let rusqlite::Error::SqliteFailure(code, _) = err else {
            panic!("not a SQLite failure: {err}");
        };
        assert_eq!(code.extended_code, rusqlite::ffi::SQLITE_BUSY_SNAPSHOT);
        first.execute_batch("ROLLBACK").unwrap();
    }
}
