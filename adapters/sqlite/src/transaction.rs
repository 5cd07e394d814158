//! Committing a transaction: the kit's [`CommitPlan`] applied in one `BEGIN IMMEDIATE` transaction.
//!
//! Transactions themselves are the engine's ([`user_engine::kit::BufferedTransaction`] over a
//! [`WriteBuffer`]): reads-own-writes, write-time expectations and the guard bookkeeping are the
//! reference store's, by construction. What is SQLite's own is here: taking the write lock before
//! re-reading the guarded versions, writing the rows, and failing where an injected fault says
//! (`user_engine::kit::FaultCountdown`), inside the transaction so that it rolls back.

use rusqlite::{Connection, TransactionBehavior};
use user_engine::buffered::{BufferedStore, CommitPlan, RecordChange, WriteBuffer};
use user_engine::kit::KeyVersions;
use user_engine::testing::FaultCountdown;
use user_engine::{RecordKey, StoreError};

use crate::error::{is_unique_violation, map};
use crate::lifecycle::ensure_ready;
use crate::rows::{committed_versions, key_params};
use crate::store::SqliteUserEngineStore;

impl BufferedStore for SqliteUserEngineStore {
    fn committed_versions(&self, key: &RecordKey) -> Result<KeyVersions, StoreError> {
        committed_versions(&self.connection(), key)
    }

    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        let mut conn = self.connection();
        // IMMEDIATE: the write lock is taken before the guards are re-read, so nothing can change
        // them between the check and the write. On any error the transaction is dropped, which
        // rolls it back: a failed commit changes nothing.
        // An injected fault is taken by this commit, under the connection lock, so exactly one
        // commit meets it.
        let mut countdown = self.fault().take();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map("starting a commit", &e))?;
        // Every commit checks readiness: what it finds is what `begin` and reads go by next.
        self.latch().checking(|| ensure_ready(&tx))?;
        let plan = buffer.into_commit_plan(|key| committed_versions(&tx, key))?;
        apply(&tx, &plan, &mut countdown)?;
        if countdown.before_completion().is_some() {
            return Err(countdown.failure());
        }
        tx.commit().map_err(|e| map("committing", &e))
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
