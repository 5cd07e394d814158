//! Committing a [`MysqlTransaction`]: the records are on the server already (written and locked
//! as the transaction went), so what is left is readiness, the audit entries and outbox events,
//! and COMMIT.
//!
//! Commit protocol, inside the transaction:
//! 1. re-check readiness (the store could have been tampered with or rolled back meanwhile);
//! 2. only if it has audit entries or outbox events: take the commit-order row lock
//!    (`UPDATE user_engine_commit_order SET seq = LAST_INSERT_ID(seq + 1)`), held until COMMIT.
//!    InnoDB makes a transaction visible before releasing its locks, so audit sequences and the
//!    outbox `commit_seq` drawn under it are in visibility order, and a relay never skips a
//!    transaction that commits late. The lock holder waits for nothing else, so it is never part
//!    of a deadlock;
//! 3. insert the audit rows, then the event rows (one statement each, all rows at once);
//! 4. COMMIT. Any failure before it rolls everything back: a failed commit changes nothing. A
//!    COMMIT whose answer never came is `in_doubt` unless `in_doubt.rs` can find out.
//!
//! An injected fault (`hooks.rs`) strikes just before a change, counted as the contract counts
//! them (`user_engine::testing::FaultCountdown`): each written record in key order (already
//! written, so the fault strikes before COMMIT makes it visible), then each audit row, then each
//! event row (inserted one by one when a fault is armed), or just before COMMIT when its position
//! is past the last change. Either way the database transaction is rolled back (or, for a
//! terminated session, ends with it).

use mysql::Value;
use user_engine::testing::FaultCountdown;
use user_engine::{InjectedFault, StoreError};

use crate::error::{loses_session, map};
use crate::in_doubt::{self, Marker};
use crate::lifecycle::ensure_ready;
use crate::pool::Connection;
use crate::transaction::MysqlTransaction;

/// Takes the commit-order lock and draws the transaction's `commit_seq`.
const TAKE_COMMIT_ORDER: &str =
    "UPDATE user_engine_commit_order SET seq = LAST_INSERT_ID(seq + 1) WHERE id = 1";

/// Where a commit appends one kind of row.
struct Table {
    /// `INSERT INTO … VALUES ` (the rows follow).
    insert: &'static str,
    /// One row's placeholders.
    row: &'static str,
    /// The operation, for errors.
    what: &'static str,
    /// The row that proves a commit, from the first row's AUTO_INCREMENT number.
    mark: fn(u64) -> Marker,
}

const AUDIT: Table = Table {
    insert: "INSERT INTO user_engine_audit_records
     (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id) VALUES ",
    row: "(?, ?, ?, ?, ?, ?)",
    what: "appending an audit entry",
    mark: Marker::Audit,
};

const EVENTS: Table = Table {
    insert: "INSERT INTO user_engine_outbox_events
     (commit_seq, tenant_id, topic, event_key, payload) VALUES ",
    row: "(?, ?, ?, ?, ?)",
    what: "enqueueing an outbox event",
    mark: Marker::Event,
};

/// `StoreTransaction::commit`.
pub(crate) fn commit(mut tx: MysqlTransaction<'_>) -> Result<(), StoreError> {
    // This commit takes an armed fault, whether or not it gets as far as the fault's position.
    let mut countdown = tx.store.fault().take();
    if let Some(ended) = tx.ended.take() {
        return Err(ended);
    }
    // Dropping `tx` on any early return rolls the transaction back. Every commit checks
    // readiness: what it finds is what `begin` and reads go by next.
    let store = tx.store;
    store.latch().checking(|| ensure_ready(&mut tx.conn))?;
    for _ in 0..tx.written.len() {
        strike_if_due(&mut tx, &mut countdown, FaultCountdown::before_change)?;
    }
    let marker = append(&mut tx, &mut countdown)?;
    strike_if_due(&mut tx, &mut countdown, FaultCountdown::before_completion)?;
    match tx.conn.commit() {
        Ok(()) => Ok(()),
        // COMMIT was sent and no answer came back: it may or may not have taken effect. Find
        // out if the transaction left a row to look it up by; otherwise say it is unknown.
        Err(err) if loses_session(&err) => {
            in_doubt::resolve(tx.store, tx.conn.id(), marker, in_doubt::PATIENCE)
        }
        Err(err) => Err(map("committing", &err)),
    }
}

/// Step 2 and 3: the commit-order lock, then the audit and event rows. Returns a row that exists
/// once the transaction has committed, and never otherwise (none when it appends nothing).
pub(crate) fn append(
    tx: &mut MysqlTransaction<'_>,
    countdown: &mut FaultCountdown,
) -> Result<Option<Marker>, StoreError> {
    if tx.audit.is_empty() && tx.outbox.is_empty() {
        return Ok(None);
    }
    let what = "taking the commit-order lock";
    let locked = tx
        .conn
        .execute(TAKE_COMMIT_ORDER, ())
        .map_err(|e| map(what, &e))?;
    if locked != 1 {
        return Err(StoreError::unavailable(
            "the commit-order row is missing from user_engine_commit_order; run migrate",
        ));
    }
    let commit_seq = tx.conn.last_insert_id();
    let audit: Vec<Vec<Value>> = tx
        .audit
        .iter()
        .map(|entry| {
            let target = entry.target.as_ref();
            vec![
                entry.tenant.as_str().into(),
                entry.actor.as_ref().map(|a| a.as_str()).into(),
                entry.action.as_str().into(),
                target.map(|t| t.tenant.as_str()).into(),
                target.map(|t| t.kind.as_str()).into(),
                target.map(|t| t.id.as_str()).into(),
            ]
        })
        .collect();
    let events: Vec<Vec<Value>> = tx
        .outbox
        .iter()
        .map(|message| {
            vec![
                commit_seq.into(),
                message.tenant.as_str().into(),
                message.topic.as_str().into(),
                message.key.as_str().into(),
                message.payload.to_json_text().into(),
            ]
        })
        .collect();
    let mut marker = None;
    for (table, rows) in [(&AUDIT, audit), (&EVENTS, events)] {
        if rows.is_empty() {
            continue;
        }
        let first = if countdown.is_armed() {
            // One statement per change, so that the fault strikes exactly where it says.
            let mut first = None;
            for values in rows {
                strike_if_due(tx, countdown, FaultCountdown::before_change)?;
                let id = insert_rows(&mut tx.conn, table, vec![values])?;
                first.get_or_insert(id);
            }
            first
        } else {
            Some(insert_rows(&mut tx.conn, table, rows)?)
        };
        marker = marker.or(first.map(table.mark));
    }
    Ok(marker)
}

/// One multi-row `INSERT`: rows get their AUTO_INCREMENT numbers in the order given. Returns the
/// first row's number.
fn insert_rows(
    conn: &mut Connection,
    table: &Table,
    rows: Vec<Vec<Value>>,
) -> Result<u64, StoreError> {
    let sql = format!("{}{}", table.insert, vec![table.row; rows.len()].join(", "));
    let params: Vec<Value> = rows.into_iter().flatten().collect();
    conn.execute(&sql, params)
        .map_err(|e| map(table.what, &e))?;
    Ok(conn.last_insert_id())
}

/// Lets the armed fault strike if `due` says it is due now: the commit then fails with
/// `unavailable` and the transaction is rolled back (or ends with its terminated session).
fn strike_if_due(
    tx: &mut MysqlTransaction<'_>,
    countdown: &mut FaultCountdown,
    due: fn(&mut FaultCountdown) -> Option<InjectedFault>,
) -> Result<(), StoreError> {
    match due(countdown) {
        None => Ok(()),
        Some(InjectedFault::TerminateBackendAt { .. }) => Err(terminate(tx, countdown)),
        Some(_) => {
            tx.conn.rollback();
            Err(countdown.failure())
        }
    }
}

/// Kills the committing session from a second connection (`KILL CONNECTION`), as if the server
/// process serving it had crashed: the server rolls its transaction back as the session dies.
/// The commit then finds its connection gone.
fn terminate(tx: &mut MysqlTransaction<'_>, countdown: &FaultCountdown) -> StoreError {
    let victim = tx.conn.id();
    let killed = tx
        .store
        .pool()
        .get()
        .and_then(|mut other| {
            other
                .batch(&format!("KILL CONNECTION {victim}"))
                .map_err(|e| map("terminating the committing session", &e))
        })
        .map(|()| tx.conn.batch("DO 0"));
    // Whatever happened, the session must not serve again.
    tx.conn.discard();
    tx.conn.transaction_ended_by_server();
    match killed {
        // The next statement on the killed session failed, as it must.
        Ok(Err(err)) => map("committing", &err),
        Ok(Ok(())) => StoreError::unavailable(
            "injected fault: the server did not end the committing session; it was discarded",
        ),
        // The kill itself failed: still fail the commit, which rolls back as the session closes.
        Err(err) => StoreError::unavailable(format!("{}; {err}", countdown.failure())),
    }
}
