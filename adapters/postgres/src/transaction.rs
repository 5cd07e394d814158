//! Committing a transaction: the engine's write buffer applied in one READ COMMITTED transaction.
//!
//! Transactions themselves are the engine's optional buffered strategy
//! ([`user_engine::buffered::BufferedTransaction`] over a [`WriteBuffer`]): reads-own-writes,
//! write-time expectations and the guard bookkeeping are the buffer's (the reference store shares
//! none of it). Commit protocol, in one database transaction:
//! 1. re-check readiness and learn the transaction's id (`txid_current()`, when it has anything
//!    to write) — sent with `START TRANSACTION` as one batch, so a store that reads as ready
//!    costs no round trip of its own (any other answer is re-checked in full);
//! 2. only if it has audit entries or outbox events: `pg_advisory_xact_lock(commit order)`, in
//!    the same batch. Held until COMMIT has made the transaction visible, so audit sequence and
//!    `commit_seq` order is visibility order. Every such commit takes it before any row lock, so
//!    commits never wait for each other in a cycle;
//! 3. for each written key, in key order (one global lock order, so commits never deadlock each
//!    other): a guarded key is locked with `SELECT … FOR UPDATE` and its version compared with
//!    the one the transaction observed; an unguarded write is an upsert that counts on from
//!    whatever version is committed (the reference store's rule). Consecutive unguarded upserts
//!    go as one `unnest` statement, rows in key order;
//! 4. the audit rows (their `sequence`), one `nextval` of `user_engine_outbox_commit_seq` and the
//!    event rows, as one statement;
//! 5. COMMIT. Any failure before it rolls everything back: a failed commit changes nothing.
//!    A connection that breaks once COMMIT is sent leaves the outcome unknown: the
//!    transaction's id is then looked up on another connection (`outcome.rs`), and the commit
//!    reports what the server says — success, `unavailable` if it rolled back — or `in_doubt`.
//!
//! An injected fault (`hooks.rs`) strikes just before a change — each key in step 3, each audit
//! row and each event row in step 4, counted in that order — or just before COMMIT when its
//! position is past the last change (`user_engine::kit::FaultCountdown`). A commit carrying a
//! fault therefore writes one statement per change; so does one whose bulk upsert a unique index
//! refused (it is retried row by row, to name the key in the `conflict`).
//!
//! The commonest commit — one unguarded save, no audit entry, no event — is a single statement
//! instead, its own transaction, that writes only if the recorded migrations read as ready in
//! that same statement (`save_alone`); otherwise the protocol above runs. Its transaction id
//! would only come back with its answer, so a connection that breaks once it is sent makes it
//! `in_doubt`: learning the id first would cost the round trip this path exists to save.

use postgres::SimpleQueryMessage;
use postgres::types::ToSql;
use user_engine::buffered::{BufferedStore, PendingWrite, WriteBuffer};
use user_engine::kit::{KeyVersions, require_ready};
use user_engine::testing::FaultCountdown;
use user_engine::{Expectation, InjectedFault, Record, RecordKey, StoreError};

use crate::error::{is_undefined_table, is_unique_violation, map, outcome_unknown, reason};
use crate::lifecycle::{MIGRATION_SOURCE, applied_in};
use crate::outcome::{CURRENT_XID, committed_despite_error, resolve};
use crate::pool::{Connection, Transaction};
use crate::store::PostgresUserEngineStore;

impl BufferedStore for PostgresUserEngineStore {
    fn committed_versions(&self, key: &RecordKey) -> Result<KeyVersions, StoreError> {
        committed_versions(&mut *self.connection()?, key)
    }

    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        // Every commit checks readiness: what it finds is what `begin` and reads go by next.
        self.latch().checking(|| self.commit_checked(buffer))
    }
}

impl PostgresUserEngineStore {
    fn commit_checked(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        // This commit takes an armed fault, whether or not it gets as far as the fault's position.
        let mut countdown = self.fault().take();
        let mut conn = self.connection()?;
        // In bulk unless a fault must strike at an exact change (then one statement per change).
        let mut bulk = !countdown.is_armed();
        let alone = if bulk {
            save_alone(&mut conn, self, &buffer)
        } else {
            Ok(None)
        };
        let outcome = match alone {
            Ok(Some(())) => Ok(()),
            Err(failure) => Err(failure),
            Ok(None) => loop {
                let attempt = commit_once(&mut conn, self, &buffer, &mut countdown, bulk);
                match attempt {
                    // A unique index refused a row of a bulk statement, which does not say which
                    // key: the transaction is rolled back, so do it again one key at a time.
                    Err(Failure::BulkUniqueViolation) if bulk => bulk = false,
                    other => break other,
                }
            },
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Failure::Store(err)) => Err(err),
            Err(Failure::BulkUniqueViolation) => Err(StoreError::unavailable(
                "postgresql refused a record row as a duplicate only in a bulk write",
            )),
            Err(Failure::UniqueViolation { key, expected }) => {
                // The transaction is rolled back; read what is committed now, for the error.
                let actual = committed_versions(&mut conn, &key)?.live;
                Err(StoreError::Conflict {
                    key,
                    expected,
                    actual,
                })
            }
        }
    }
}

/// The commonest commit, one unguarded save and nothing else, as one statement that re-checks
/// readiness itself (its own transaction: all or nothing). `Ok(Some(()))`: committed;
/// `Ok(None)`: not that kind of commit, or the store did not read as ready, or no versions table
/// — the full protocol then runs (and says why it is not ready). Not used when a fault is armed
/// (the caller checks), as the fault must strike inside a transaction.
///
/// A connection that breaks once the statement is sent leaves it `in_doubt`: it commits itself,
/// and its transaction id would only come with its answer. Before that (the pool's checkout
/// notices a session that died idle; preparing runs nothing) the save certainly did nothing.
fn save_alone(
    conn: &mut Connection,
    store: &PostgresUserEngineStore,
    buffer: &WriteBuffer,
) -> Result<Option<()>, Failure> {
    let mut writes = buffer.writes();
    let (Some((key, write)), None) = (writes.next(), writes.next()) else {
        return Ok(None);
    };
    let (Some(record), Some(expected)) =
        (relative_upsert(write), MIGRATION_SOURCE.ready_signature())
    else {
        return Ok(None);
    };
    if !buffer.audit().is_empty() || !buffer.outbox().is_empty() {
        return Ok(None);
    }
    let added = i64::try_from(write.versions_added())
        .map_err(|_| StoreError::invalid(format!("version of {key} overflows")))?;
    let user = record.user.as_ref().map(|u| u.as_str());
    let statement = match conn.prepare(SAVE_ALONE) {
        Ok(statement) => statement,
        Err(err) if is_undefined_table(&err) => return Ok(None),
        Err(err) => return Err(Failure::Store(map("writing a record", &err))),
    };
    let saved = conn.execute_prepared(
        &statement,
        &[
            &key.tenant.as_str(),
            &key.kind.as_str(),
            &key.id.as_str(),
            &user,
            &record.payload.to_json_text(),
            &added,
            &expected,
        ],
    );
    match saved {
        Ok(1) => Ok(Some(())),
        Ok(_) => Ok(None),
        Err(err) if is_undefined_table(&err) => Ok(None),
        Err(err) if is_unique_violation(&err) => Err(Failure::UniqueViolation {
            key: key.clone(),
            expected: write.expectation(),
        }),
        Err(err) if outcome_unknown(&err) => {
            let broke = reason(map("saving a record as a transaction of its own", &err));
            let reported = Err(StoreError::in_doubt(format!(
                "{broke} ({key}); such a save cannot be looked up afterwards"
            )));
            store.resolutions().note(&reported);
            reported.map(Some).map_err(Failure::Store)
        }
        Err(err) => Err(Failure::Store(map("writing a record", &err))),
    }
}

// Each statement of the commit is written once; these fragments are the parts several share.

/// The record columns every record insert names.
macro_rules! insert_record {
    () => {
        "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)"
    };
}

/// An unguarded write's conflict clause: the row (or the tombstone holding the key's last
/// version) counts on by the versions the transaction added, and is live again.
macro_rules! on_conflict_count_on {
    () => {
        " ON CONFLICT (tenant_id, kind, record_id)
          DO UPDATE SET user_id = EXCLUDED.user_id, payload = EXCLUDED.payload,
                        version = user_engine_records.version + EXCLUDED.version, deleted = false"
    };
}

/// A tombstone row for `$1..$3` at `$4`, and the start of its conflict clause.
macro_rules! insert_tombstone {
    () => {
        "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version, deleted)
         VALUES ($1, $2, $3, NULL, 'null'::jsonb, $4, true)
         ON CONFLICT (tenant_id, kind, record_id)
         DO UPDATE SET deleted = true, user_id = NULL, payload = 'null'::jsonb, "
    };
}

/// The audit rows of arrays `$1..$6`, in array order (their `sequence`s drawn in that order).
macro_rules! insert_audit {
    () => {
        "INSERT INTO user_engine_audit_records
             (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
         SELECT a.tenant_id, a.actor_user_id, a.action, a.target_tenant_id, a.target_kind, a.target_record_id
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              WITH ORDINALITY AS a(tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id, n)
         ORDER BY a.n"
    };
}

/// `UPSERT_RELATIVE` that writes only when the recorded migrations read as `$7` (a ready store).
const SAVE_ALONE: &str = concat!(
    "WITH ready AS (
         SELECT string_agg(version::text || ':' || checksum, ',' ORDER BY version) AS signature
         FROM user_engine_schema_versions) ",
    insert_record!(),
    " SELECT $1::text, $2::text, $3::text, $4::text, $5::text::jsonb, $6::bigint
     FROM ready WHERE ready.signature = $7::text",
    on_conflict_count_on!()
);

/// One attempt at the commit protocol, in one database transaction that rolls back on any
/// failure (dropping `tx`).
fn commit_once(
    conn: &mut Connection,
    store: &PostgresUserEngineStore,
    buffer: &WriteBuffer,
    countdown: &mut FaultCountdown,
    bulk: bool,
) -> Result<(), Failure> {
    let ordered = !buffer.audit().is_empty() || !buffer.outbox().is_empty();
    // A commit that writes nothing needs no id: whether it committed changes nothing.
    let numbered = ordered || buffer.writes().next().is_some();
    let (mut tx, xid) = start_ready(conn, store, ordered, numbered)?;
    apply(&mut tx, buffer, countdown, bulk)?;
    if let Some(fault) = countdown.before_completion() {
        return Err(strike(&mut tx, countdown, fault));
    }
    let Err(err) = tx.commit() else {
        return Ok(());
    };
    let failed = map("committing", &err);
    match xid {
        // COMMIT was sent and no answer says what became of it: ask the server.
        Some(xid) if outcome_unknown(&err) => resolve(store, xid, failed).map_err(Failure::Store),
        // The server refused it, which rolled it back — unless the error came from clean-up
        // past the commit point. A lookup on the failure path only rules that out.
        Some(xid) if committed_despite_error(conn, xid) => Ok(()),
        // Or there was nothing to commit.
        _ => Err(Failure::Store(failed)),
    }
}

/// The recorded migrations as one text (`MigrationSource::ready_signature`).
pub(crate) const SIGNATURE: &str = "SELECT string_agg(version::text || ':' || checksum, ',' ORDER BY version) AS signature FROM user_engine_schema_versions";

/// Starts the commit's transaction once readiness is re-checked inside it (step 1), takes the
/// commit-order lock first thing when the commit appends audit entries or events (step 2), and,
/// when `numbered`, has the transaction's id assigned and returns it (for `outcome.rs`, should
/// the connection break once COMMIT is sent).
///
/// One round trip when the store reads as ready: `START TRANSACTION`, the recorded migrations,
/// the lock and the id go as one batch. Otherwise the transaction is rolled back and the
/// readiness check runs in full in a new one, which refuses with the reason (or goes on, if the
/// store is ready after all).
fn start_ready<'c>(
    conn: &'c mut Connection,
    store: &PostgresUserEngineStore,
    ordered: bool,
    numbered: bool,
) -> Result<(Transaction<'c>, Option<i64>), Failure> {
    if let Some(expected) = MIGRATION_SOURCE.ready_signature() {
        let mut statements = SIGNATURE.to_owned();
        if ordered {
            let lock = store.locks().commit_order;
            statements.push_str(&format!("; SELECT pg_advisory_xact_lock({lock})"));
        }
        if numbered {
            statements.push_str("; ");
            statements.push_str(CURRENT_XID);
        }
        let mut xid = None;
        let ready = conn.transaction_reading(&statements, |messages| {
            if numbered {
                // The id is the last statement's one row.
                xid = last_text(messages).and_then(|text| text.parse::<i64>().ok());
            }
            first_text(messages) == Some(expected) && (xid.is_some() || !numbered)
        });
        match ready {
            Ok(true) => return Ok((conn.open_transaction(), xid)),
            Err(err) if conn.is_broken() => {
                return Err(Failure::Store(map("starting a commit", &err)));
            }
            // Not ready as it reads, or no versions table: ask properly below.
            Ok(false) | Err(_) => {}
        }
    }
    let mut tx = conn
        .transaction()
        .map_err(|e| map("starting a commit", &e))?;
    require_ready(MIGRATION_SOURCE.readiness(applied_in(&mut tx)?.as_deref()))?;
    if ordered {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&store.locks().commit_order],
        )
        .map_err(|e| map("waiting for the commit-order lock", &e))?;
    }
    let xid = if numbered {
        let what = "numbering the transaction";
        let rows = tx.query(CURRENT_XID, &[]).map_err(|e| map(what, &e))?;
        Some(rows[0].try_get(0).map_err(|e| map(what, &e))?)
    } else {
        None
    };
    Ok((tx, xid))
}

/// The first column of the first row of a simple query's answer.
fn first_text(messages: &[SimpleQueryMessage]) -> Option<&str> {
    messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    })
}

/// The first column of the last row of a simple query's answer.
fn last_text(messages: &[SimpleQueryMessage]) -> Option<&str> {
    messages.iter().rev().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    })
}

/// Why applying a commit stopped.
enum Failure {
    Store(StoreError),
    /// A unique index refused a record row. Mapped to a conflict on that key once the aborted
    /// transaction is rolled back; the driver's DETAIL, which quotes the row, is dropped here.
    UniqueViolation {
        key: RecordKey,
        expected: Expectation,
    },
    /// A unique index refused a row of a bulk upsert; which key is not known.
    BulkUniqueViolation,
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

/// Ends this session's own server backend, as a crash of the database process serving it would:
/// the server rolls the open transaction back as the session dies.
const TERMINATE_OWN_BACKEND: &str = "SELECT pg_terminate_backend(pg_backend_pid())";

/// Lets the armed fault strike: the commit fails with `unavailable`, and the caller drops the
/// transaction (a rollback, or nothing left to roll back once the backend is gone).
fn strike(tx: &mut Transaction<'_>, countdown: &FaultCountdown, fault: InjectedFault) -> Failure {
    match fault {
        InjectedFault::TerminateBackendAt { .. } => match tx.batch_execute(TERMINATE_OWN_BACKEND) {
            // 57P01 admin_shutdown, or the socket closing: the pool notes the session as lost.
            Err(err) => Failure::Store(map("committing", &err)),
            Ok(()) => {
                // Never expected; the session must not serve again whatever state it is in.
                tx.discard();
                Failure::Store(StoreError::unavailable(
                    "injected fault: the server did not end the committing session; it was discarded",
                ))
            }
        },
        _ => Failure::Store(countdown.failure()),
    }
}

/// Lets the armed fault strike if it is due before the next change.
fn before_change(tx: &mut Transaction<'_>, countdown: &mut FaultCountdown) -> Result<(), Failure> {
    match countdown.before_change() {
        Some(fault) => Err(strike(tx, countdown, fault)),
        None => Ok(()),
    }
}

/// Steps 2 and 3 of the commit protocol. In `bulk`, runs of unguarded upserts (in key order) go
/// as one statement, and audit entries with events as one more; otherwise every change is a
/// statement of its own, announced to the fault countdown first.
fn apply(
    tx: &mut Transaction<'_>,
    buffer: &WriteBuffer,
    countdown: &mut FaultCountdown,
    bulk: bool,
) -> Result<(), Failure> {
    let writes: Vec<(&RecordKey, &PendingWrite)> = buffer.writes().collect();
    let mut next = 0;
    while next < writes.len() {
        let run = if bulk {
            writes[next..]
                .iter()
                .take_while(|(_, write)| relative_upsert(write).is_some())
                .count()
        } else {
            0
        };
        if run >= 2 {
            upsert_many(tx, &writes[next..next + run])?;
            next += run;
            continue;
        }
        let (key, write) = writes[next];
        before_change(tx, countdown)?;
        apply_write(tx, key, write)?;
        next += 1;
    }
    if bulk {
        return append_all(tx, buffer);
    }
    for entry in buffer.audit() {
        before_change(tx, countdown)?;
        let target = entry.target.as_ref();
        tx.execute(
            AUDIT_MANY,
            &[
                &[entry.tenant.as_str()].as_slice(),
                &[entry.actor.as_ref().map(|a| a.as_str())].as_slice(),
                &[entry.action.as_str()].as_slice(),
                &[target.map(|t| t.tenant.as_str())].as_slice(),
                &[target.map(|t| t.kind.as_str())].as_slice(),
                &[target.map(|t| t.id.as_str())].as_slice(),
            ],
        )
        .map_err(|e| map("appending an audit entry", &e))?;
    }
    if buffer.outbox().is_empty() {
        return Ok(());
    }
    let commit_seq: i64 = tx
        .query("SELECT nextval('user_engine_outbox_commit_seq')", &[])
        .and_then(|rows| rows[0].try_get(0))
        .map_err(|e| map("numbering outbox events", &e))?;
    for message in buffer.outbox() {
        before_change(tx, countdown)?;
        tx.execute(
            EVENT_AT,
            &[
                &commit_seq,
                &message.tenant.as_str(),
                &message.topic,
                &message.key,
                &message.payload.to_json_text(),
            ],
        )
        .map_err(|e| map("enqueueing an outbox event", &e))?;
    }
    Ok(())
}

/// The record an unguarded write over whatever is committed stores (`UPSERT_RELATIVE`), if the
/// write is one.
fn relative_upsert(write: &PendingWrite) -> Option<&Record> {
    match write.current() {
        Some(record) if !write.is_guarded() => Some(record),
        _ => None,
    }
}

/// `UPSERT_RELATIVE` for many keys in one statement, rows in key order.
const UPSERT_RELATIVE_MANY: &str = concat!(
    insert_record!(),
    " SELECT w.tenant_id, w.kind, w.record_id, w.user_id, w.payload::jsonb, w.version
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
          WITH ORDINALITY AS w(tenant_id, kind, record_id, user_id, payload, version, n)
     ORDER BY w.n",
    on_conflict_count_on!()
);

/// Unguarded writes over whatever is committed, in one statement.
fn upsert_many(
    tx: &mut Transaction<'_>,
    writes: &[(&RecordKey, &PendingWrite)],
) -> Result<(), Failure> {
    let mut columns = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (key, write) in writes {
        let Some(record) = relative_upsert(write) else {
            continue;
        };
        let added = i64::try_from(write.versions_added())
            .map_err(|_| StoreError::invalid(format!("version of {key} overflows")))?;
        columns.0.push(key.tenant.as_str());
        columns.1.push(key.kind.as_str());
        columns.2.push(key.id.as_str());
        columns.3.push(record.user.as_ref().map(|u| u.as_str()));
        columns.4.push(record.payload.to_json_text());
        columns.5.push(added);
    }
    let (tenants, kinds, ids, users, payloads, added) = columns;
    tx.execute(
        UPSERT_RELATIVE_MANY,
        &[&tenants, &kinds, &ids, &users, &payloads, &added],
    )
    .map_err(|err| {
        if is_unique_violation(&err) {
            Failure::BulkUniqueViolation
        } else {
            Failure::Store(map("writing a record", &err))
        }
    })?;
    Ok(())
}

/// The audit rows of a commit, in append order (their `sequence`s drawn in that order); one
/// entry at a time on the per-change path.
const AUDIT_MANY: &str = insert_audit!();

/// The event columns every event insert names.
macro_rules! insert_event {
    () => {
        "INSERT INTO user_engine_outbox_events (commit_seq, tenant_id, topic, event_key, payload)"
    };
}

/// One event under commit number `$1`, on the per-change path.
const EVENT_AT: &str = concat!(insert_event!(), " VALUES ($1, $2, $3, $4, $5::text::jsonb)");

/// The event rows of a commit, in enqueue order, under one `commit_seq` (drawn once: a
/// materialized CTE is evaluated once).
const EVENTS_MANY: &str = concat!(
    insert_event!(),
    " SELECT s.commit_seq, e.tenant_id, e.topic, e.event_key, e.payload::jsonb
     FROM s, unnest($7::text[], $8::text[], $9::text[], $10::text[])
          WITH ORDINALITY AS e(tenant_id, topic, event_key, payload, n)
     ORDER BY e.n"
);

/// Step 3 in one statement (the commit-order lock was taken when the transaction started).
fn append_all(tx: &mut Transaction<'_>, buffer: &WriteBuffer) -> Result<(), Failure> {
    let (audit, outbox) = (buffer.audit(), buffer.outbox());
    if audit.is_empty() && outbox.is_empty() {
        return Ok(());
    }
    let targets: Vec<Option<&RecordKey>> = audit.iter().map(|e| e.target.as_ref()).collect();
    let tenants: Vec<&str> = audit.iter().map(|e| e.tenant.as_str()).collect();
    let actors: Vec<Option<&str>> = audit
        .iter()
        .map(|e| e.actor.as_ref().map(|a| a.as_str()))
        .collect();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    let target_tenants: Vec<Option<&str>> = targets
        .iter()
        .map(|t| t.map(|t| t.tenant.as_str()))
        .collect();
    let target_kinds: Vec<Option<&str>> =
        targets.iter().map(|t| t.map(|t| t.kind.as_str())).collect();
    let target_ids: Vec<Option<&str>> = targets.iter().map(|t| t.map(|t| t.id.as_str())).collect();
    let event_tenants: Vec<&str> = outbox.iter().map(|m| m.tenant.as_str()).collect();
    let topics: Vec<&str> = outbox.iter().map(|m| m.topic.as_str()).collect();
    let event_keys: Vec<&str> = outbox.iter().map(|m| m.key.as_str()).collect();
    let payloads: Vec<String> = outbox.iter().map(|m| m.payload.to_json_text()).collect();
    let audit_params: [&(dyn ToSql + Sync); 6] = [
        &tenants,
        &actors,
        &actions,
        &target_tenants,
        &target_kinds,
        &target_ids,
    ];
    let event_params: [&(dyn ToSql + Sync); 4] = [&event_tenants, &topics, &event_keys, &payloads];
    let what = if outbox.is_empty() {
        "appending an audit entry"
    } else {
        "enqueueing an outbox event"
    };
    let result = if outbox.is_empty() {
        tx.execute(AUDIT_MANY, &audit_params)
    } else {
        // Both lists bound, an empty one inserting nothing: one statement shape for the two cases.
        let sql = events_statement();
        let params: Vec<&(dyn ToSql + Sync)> =
            audit_params.iter().chain(&event_params).copied().collect();
        tx.execute(sql, &params)
    };
    result.map_err(|e| map(what, &e))?;
    Ok(())
}

/// Audit rows (possibly none), one `commit_seq`, then the event rows: one statement.
fn events_statement() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "WITH audit AS ({AUDIT_MANY}),
                  s AS MATERIALIZED (SELECT nextval('user_engine_outbox_commit_seq') AS commit_seq)
             {EVENTS_MANY}"
        )
    })
}

const LOCK_VERSION: &str = "SELECT version, deleted FROM user_engine_records WHERE tenant_id = $1 AND kind = $2 AND record_id = $3 FOR UPDATE";
/// The row stays as a tombstone holding the key's last version (C2), without its owner or payload
/// (C4: nothing of a deleted record is kept). A no-op for a key already deleted or never written.
const DELETE: &str =
    "UPDATE user_engine_records SET deleted = true, user_id = NULL, payload = 'null'::jsonb
     WHERE tenant_id = $1 AND kind = $2 AND record_id = $3 AND NOT deleted";
/// A tombstone at the version `$4` a transaction leaves the key at — for a record it created and
/// deleted itself there may be no row yet — never lowering the version a row already holds.
const TOMBSTONE_AT: &str = concat!(
    insert_tombstone!(),
    "version = GREATEST(user_engine_records.version, EXCLUDED.version)"
);
/// Unguarded delete by a transaction that also wrote the key: a tombstone `$4` versions past
/// whatever is committed (the versions it gave are used up, C2).
const TOMBSTONE_RELATIVE: &str = concat!(
    insert_tombstone!(),
    "version = user_engine_records.version + EXCLUDED.version"
);
const INSERT: &str = concat!(
    insert_record!(),
    " VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)"
);
const UPDATE: &str =
    "UPDATE user_engine_records SET user_id = $4, payload = $5::text::jsonb, version = $6, deleted = false
     WHERE tenant_id = $1 AND kind = $2 AND record_id = $3";
/// Unguarded write: $6 is how many versions the transaction adds to the key's last committed
/// version (a tombstone row holds it too, so a key written after its delete counts on).
const UPSERT_RELATIVE: &str = concat!(
    insert_record!(),
    " VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)",
    on_conflict_count_on!()
);

fn apply_write(
    tx: &mut Transaction<'_>,
    key: &RecordKey,
    write: &PendingWrite,
) -> Result<(), Failure> {
    let (tenant, kind, id) = (key.tenant.as_str(), key.kind.as_str(), key.id.as_str());
    let expected = write.expectation();
    let failed = |err: postgres::Error| {
        if is_unique_violation(&err) {
            Failure::UniqueViolation {
                key: key.clone(),
                expected,
            }
        } else {
            Failure::Store(map("writing a record", &err))
        }
    };
    let to_i64 = |v: u64| {
        i64::try_from(v).map_err(|_| StoreError::invalid(format!("version of {key} overflows")))
    };

    let action = if write.is_guarded() {
        let rows = tx
            .query(LOCK_VERSION, &[&tenant, &kind, &id])
            .map_err(failed)?;
        let now = match rows.first() {
            Some(row) => {
                let v: i64 = row.try_get(0).map_err(failed)?;
                let deleted: bool = row.try_get(1).map_err(failed)?;
                versions_of(key, v, deleted)?
            }
            None => KeyVersions::NEVER_WRITTEN,
        };
        write.recheck(key, now.live)?;
        // The row is locked (or absent, and a concurrent insert will make ours fail as unique).
        match (
            write.current(),
            write.version_to_store(now),
            !rows.is_empty(),
        ) {
            (Some(record), Some(version), true) => Action::Write {
                sql: UPDATE,
                version,
                record,
            },
            (Some(record), Some(version), false) => Action::Write {
                sql: INSERT,
                version,
                record,
            },
            _ => match write.last_to_keep(now) {
                // Only deleted what was committed: the row keeps its version.
                last if last == now.last && now.live.is_some() => Action::Delete,
                last if last == now.last => Action::Nothing,
                last => Action::Tombstone {
                    sql: TOMBSTONE_AT,
                    version: last,
                },
            },
        }
    } else {
        match write.current() {
            None if write.versions_added() == 0 => Action::Delete,
            None => Action::Tombstone {
                sql: TOMBSTONE_RELATIVE,
                version: write.versions_added(),
            },
            Some(record) => Action::Write {
                sql: UPSERT_RELATIVE,
                version: write.versions_added(),
                record,
            },
        }
    };
    match action {
        Action::Nothing => {}
        Action::Delete => {
            tx.execute(DELETE, &[&tenant, &kind, &id]).map_err(failed)?;
        }
        Action::Tombstone { sql, version } => {
            let version = to_i64(version)?;
            tx.execute(sql, &[&tenant, &kind, &id, &version])
                .map_err(failed)?;
        }
        Action::Write {
            sql,
            version,
            record,
        } => {
            let version = to_i64(version)?;
            let user = record.user.as_ref().map(|u| u.as_str());
            tx.execute(
                sql,
                &[
                    &tenant,
                    &kind,
                    &id,
                    &user,
                    &record.payload.to_json_text(),
                    &version,
                ],
            )
            .map_err(failed)?;
        }
    }
    Ok(())
}

/// What commit does for one key.
enum Action<'a> {
    Nothing,
    Delete,
    /// Runs `sql` binding the key and the tombstone's `version`.
    Tombstone {
        sql: &'static str,
        version: u64,
    },
    /// Runs `sql` binding the record's owner and payload, and `version`.
    Write {
        sql: &'static str,
        version: u64,
        record: &'a Record,
    },
}

/// The committed versions at `key`: two columns of one row (a tombstone row keeps the last).
fn committed_versions(conn: &mut Connection, key: &RecordKey) -> Result<KeyVersions, StoreError> {
    let what = "reading a record version";
    let rows = conn
        .query(
            "SELECT version, deleted FROM user_engine_records WHERE tenant_id = $1 AND kind = $2 AND record_id = $3",
            &[&key.tenant.as_str(), &key.kind.as_str(), &key.id.as_str()],
        )
        .map_err(|e| map(what, &e))?;
    match rows.first() {
        None => Ok(KeyVersions::NEVER_WRITTEN),
        Some(row) => {
            let version: i64 = row.try_get(0).map_err(|e| map(what, &e))?;
            let deleted: bool = row.try_get(1).map_err(|e| map(what, &e))?;
            versions_of(key, version, deleted)
        }
    }
}

/// A stored row's `version` and `deleted` columns as the key's versions.
fn versions_of(key: &RecordKey, version: i64, deleted: bool) -> Result<KeyVersions, StoreError> {
    let version = u64::try_from(version)
        .map_err(|_| StoreError::invalid(format!("stored record {key} has a negative version")))?;
    Ok(if deleted {
        KeyVersions::deleted(version)
    } else {
        KeyVersions::live(version)
    })
}
