//! Committing a transaction: the engine's write buffer applied in one READ COMMITTED transaction.
//!
//! Transactions themselves are the engine's ([`user_engine::kit::BufferedTransaction`] over a
//! [`WriteBuffer`]): reads-own-writes, write-time expectations and the guard bookkeeping are the
//! reference store's, by construction. Commit protocol, in one database transaction:
//! 1. re-check readiness;
//! 2. for each written key, in key order (one global lock order, so commits never deadlock each
//!    other): a guarded key is locked with `SELECT … FOR UPDATE` and its version compared with
//!    the one the transaction observed; an unguarded write is an upsert that counts on from
//!    whatever version is committed (the reference store's rule);
//! 3. only if it has audit entries or outbox events: `pg_advisory_xact_lock(commit order)`, then
//!    the audit rows (their `sequence`), one `nextval` of `user_engine_outbox_commit_seq` and the
//!    event rows. The lock is held until COMMIT has made the transaction visible, so sequence and
//!    `commit_seq` order is visibility order;
//! 4. COMMIT. Any failure rolls everything back: a failed commit changes nothing.
//!
//! An injected fault (`hooks.rs`) strikes just before a change — each key in step 2, each audit
//! row and each event row in step 3, counted in that order — or just before COMMIT when its
//! position is past the last change (`user_engine::kit::FaultCountdown`).

use user_engine::kit::{BufferedStore, FaultCountdown, PendingWrite, WriteBuffer, require_ready};
use user_engine::{Expectation, InjectedFault, Record, RecordKey, StoreError};

use crate::error::{is_unique_violation, map};
use crate::lifecycle::{MIGRATION_SOURCE, applied_in};
use crate::pool::{Connection, Transaction};
use crate::store::{PostgresUserEngineStore, committed_record};

impl BufferedStore for PostgresUserEngineStore {
    fn committed(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        committed_record(&mut *self.connection()?, key)
    }

    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        // This commit takes an armed fault, whether or not it gets as far as the fault's position.
        let mut countdown = self.fault().take();
        let mut conn = self.connection()?;
        let outcome = {
            let mut tx = conn
                .transaction()
                .map_err(|e| map("starting a commit", &e))?;
            let applied = apply(&mut tx, self, &buffer, &mut countdown).and_then(|()| {
                match countdown.before_completion() {
                    Some(fault) => Err(strike(&mut tx, &countdown, fault)),
                    None => Ok(()),
                }
            });
            match applied {
                Ok(()) => tx
                    .commit()
                    .map_err(|e| Failure::Store(map("committing", &e))),
                // Dropping `tx` rolls it back.
                Err(failure) => Err(failure),
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Failure::Store(err)) => Err(err),
            Err(Failure::UniqueViolation { key, expected }) => {
                // The transaction is rolled back; read what is committed now, for the error.
                let actual = committed_version(&mut conn, &key)?;
                Err(StoreError::Conflict {
                    key,
                    expected,
                    actual,
                })
            }
        }
    }
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

fn apply(
    tx: &mut Transaction<'_>,
    store: &PostgresUserEngineStore,
    buffer: &WriteBuffer,
    countdown: &mut FaultCountdown,
) -> Result<(), Failure> {
    require_ready(MIGRATION_SOURCE.readiness(applied_in(tx)?.as_deref()))?;
    for (key, write) in buffer.writes() {
        before_change(tx, countdown)?;
        apply_write(tx, key, write)?;
    }
    if buffer.audit().is_empty() && buffer.outbox().is_empty() {
        return Ok(());
    }
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&store.locks().commit_order],
    )
    .map_err(|e| map("waiting for the commit-order lock", &e))?;
    for entry in buffer.audit() {
        before_change(tx, countdown)?;
        let target = entry.target.as_ref();
        tx.execute(
            "INSERT INTO user_engine_audit_records
                 (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &entry.tenant.as_str(),
                &entry.actor.as_ref().map(|a| a.as_str()),
                &entry.action,
                &target.map(|t| t.tenant.as_str()),
                &target.map(|t| t.kind.as_str()),
                &target.map(|t| t.id.as_str()),
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
            "INSERT INTO user_engine_outbox_events (commit_seq, tenant_id, topic, event_key, payload)
             VALUES ($1, $2, $3, $4, $5::text::jsonb)",
            &[&commit_seq, &message.tenant.as_str(), &message.topic, &message.key, &message.payload.to_json_text()],
        )
        .map_err(|e| map("enqueueing an outbox event", &e))?;
    }
    Ok(())
}

const LOCK_VERSION: &str = "SELECT version FROM user_engine_records WHERE tenant_id = $1 AND kind = $2 AND record_id = $3 FOR UPDATE";
const DELETE: &str =
    "DELETE FROM user_engine_records WHERE tenant_id = $1 AND kind = $2 AND record_id = $3";
const INSERT: &str =
    "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
     VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)";
const UPDATE: &str =
    "UPDATE user_engine_records SET user_id = $4, payload = $5::text::jsonb, version = $6
     WHERE tenant_id = $1 AND kind = $2 AND record_id = $3";
/// Unguarded write after a delete in the same transaction: the version restarts.
const UPSERT_ABSOLUTE: &str = "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
     VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
     ON CONFLICT (tenant_id, kind, record_id)
     DO UPDATE SET user_id = EXCLUDED.user_id, payload = EXCLUDED.payload, version = EXCLUDED.version";
/// Unguarded write: $6 is how many versions the transaction adds to whatever is committed.
const UPSERT_RELATIVE: &str =
    "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
     VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
     ON CONFLICT (tenant_id, kind, record_id)
     DO UPDATE SET user_id = EXCLUDED.user_id, payload = EXCLUDED.payload,
                   version = user_engine_records.version + EXCLUDED.version";

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
                Some(u64::try_from(v).map_err(|_| {
                    StoreError::invalid(format!("stored record {key} has a negative version"))
                })?)
            }
            None => None,
        };
        write.recheck(key, now)?;
        // The row is locked (or absent, and a concurrent insert will make ours fail as unique).
        match (write.current(), write.version_to_store(now), now.is_some()) {
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
            (_, _, true) => Action::Delete,
            (_, _, false) => Action::Nothing,
        }
    } else {
        match write.current() {
            None => Action::Delete,
            Some(record) if write.was_deleted() => Action::Write {
                sql: UPSERT_ABSOLUTE,
                version: record.version,
                record,
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
    /// Runs `sql` binding the record's owner and payload, and `version`.
    Write {
        sql: &'static str,
        version: u64,
        record: &'a Record,
    },
}

fn committed_version(conn: &mut Connection, key: &RecordKey) -> Result<Option<u64>, StoreError> {
    Ok(crate::store::committed_record(conn, key)?.map(|r| r.version))
}
