//! `MysqlTransaction`: a real InnoDB transaction, held on one connection from `begin` to its end.
//!
//! Writes go to the server as they are made. Each write first takes the key's row lock with a
//! locking read (`SELECT version, deleted … FOR UPDATE`), checks the expectation and computes the
//! next version against what it read, and only then writes — so a write that fails (`conflict`,
//! `not_found`) has changed nothing, and the row lock, held to the end of the transaction, keeps
//! any other transaction from changing the record in between (store-contract C3). A second
//! writer of the same key waits for the first to end; a key neither has written yet is settled by
//! the primary key (the later insert waits for the earlier one, then finds its row, and decides
//! again on what is there). Reads in the transaction use the same connection, so they see its
//! own writes.
//!
//! Deletes keep the row as a tombstone (`deleted = 1`, owner and payload cleared, version kept),
//! so the next write of the key continues from the version it was deleted at (C2).
//!
//! InnoDB ends a deadlock victim's whole transaction (error 1213); a lock wait that times out
//! (1205) ends the statement only, unless the server runs with `innodb_rollback_on_timeout`.
//! Both are the `conflict` they are on the key; a transaction the server ended refuses every later
//! call with that error, and can never report a commit.

use std::collections::BTreeSet;

use user_engine::kit::{KeyVersions, next_version};
use user_engine::{
    AuditEntry, Expectation, OutboxMessage, Record, RecordKey, RecordWrite, StoreError,
    StoreTransaction,
};

use crate::error::{code, loses_session, map, server_code};
use crate::pool::{Connection, Pooled};
use crate::rows::column;
use crate::store::{MysqlUserEngineStore, live_record};

/// An open transaction of [`MysqlUserEngineStore`].
pub(crate) struct MysqlTransaction<'s> {
    pub(crate) store: &'s MysqlUserEngineStore,
    /// The connection the transaction is open on. Dropping it rolls the transaction back (or,
    /// if the session is lost, the server does).
    pub(crate) conn: Pooled<'s>,
    /// Every key written, in key order: the first changes a commit counts (fault injection).
    pub(crate) written: BTreeSet<RecordKey>,
    /// Appended at commit, under the commit-order lock, so they are numbered in commit order.
    pub(crate) audit: Vec<AuditEntry>,
    /// Enqueued at commit, like the audit entries.
    pub(crate) outbox: Vec<OutboxMessage>,
    /// Set once the server has ended the transaction: every later call answers with it.
    pub(crate) ended: Option<StoreError>,
}

const LOCK_KEY: &str = "SELECT version, deleted FROM user_engine_records
     WHERE tenant_id = ? AND kind = ? AND record_id = ? FOR UPDATE";

/// Inserts a key no row holds yet. Should another transaction have inserted it meanwhile, the
/// insert waits for that one to end and then, instead of failing as a duplicate, locks the row
/// and changes nothing (0 rows affected). A plain insert would take a *shared* lock on the
/// duplicate, and two such waiters upgrading to exclusive locks deadlock each other; this one
/// takes an exclusive lock at once, so waiters line up.
const INSERT: &str = "INSERT INTO user_engine_records
     (tenant_id, kind, record_id, user_id, payload, version, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
     ON DUPLICATE KEY UPDATE version = version";

const UPDATE: &str =
    "UPDATE user_engine_records SET user_id = ?, payload = ?, version = ?, deleted = 0
     WHERE tenant_id = ? AND kind = ? AND record_id = ?";

/// A tombstone: no owner, payload JSON `null`, version kept.
const DELETE: &str = "UPDATE user_engine_records SET deleted = 1, user_id = NULL, payload = 'null'
     WHERE tenant_id = ? AND kind = ? AND record_id = ?";

impl<'s> MysqlTransaction<'s> {
    /// Takes a connection, checks readiness on it unless the latest check found the store ready,
    /// and starts the transaction.
    pub(crate) fn begin(store: &'s MysqlUserEngineStore) -> Result<Self, StoreError> {
        let mut conn = store.connection()?;
        store.serving(&mut conn)?;
        conn.start_transaction()
            .map_err(|e| map("starting a transaction", &e))?;
        Ok(Self {
            store,
            conn,
            written: BTreeSet::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
            ended: None,
        })
    }

    /// `Err` with the reason when the server has ended this transaction.
    fn usable(&self) -> Result<(), StoreError> {
        match &self.ended {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// What `key` holds, read with its row lock, which is then held to the end of the transaction.
    fn lock_key(
        &mut self,
        key: &RecordKey,
        expect: Expectation,
    ) -> Result<KeyVersions, StoreError> {
        let what = "locking a record";
        let rows = self.conn.rows(LOCK_KEY, params_of(key));
        let rows = rows.map_err(|err| self.failed(what, key, expect, &err))?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(KeyVersions::NEVER_WRITTEN);
        };
        let version: i64 = column(&mut row, 0, what)?;
        let deleted: i64 = column(&mut row, 1, what)?;
        let version = u64::try_from(version).map_err(|_| {
            StoreError::invalid(format!("stored record {key} has a negative version"))
        })?;
        Ok(if deleted == 0 {
            KeyVersions::live(version)
        } else {
            KeyVersions::deleted(version)
        })
    }

    /// The error a failed statement of this transaction answers with, noting when the server
    /// ended the transaction (then every later call answers with it too).
    pub(crate) fn failed(
        &mut self,
        what: &'static str,
        key: &RecordKey,
        expect: Expectation,
        err: &mysql::Error,
    ) -> StoreError {
        let ends_transaction = match server_code(err) {
            Some(code::DEADLOCK) => true,
            Some(code::LOCK_WAIT_TIMEOUT) => self.conn.rollback_on_timeout(),
            _ => loses_session(err),
        };
        let mapped = match server_code(err) {
            Some(code::DEADLOCK | code::LOCK_WAIT_TIMEOUT) => StoreError::Conflict {
                key: key.clone(),
                expected: expect,
                actual: committed_version(&mut self.conn, key),
            },
            _ => map(what, err),
        };
        if ends_transaction {
            self.conn.transaction_ended_by_server();
            self.ended = Some(mapped.clone());
        }
        mapped
    }
}

/// The key's columns as statement parameters.
fn params_of(key: &RecordKey) -> (&str, &str, &str) {
    (key.tenant.as_str(), key.kind.as_str(), key.id.as_str())
}

/// The committed live version at `key`, read without waiting for any lock, for a conflict's
/// `actual`; `None` if absent or unreadable (the conflict is reported either way).
fn committed_version(conn: &mut Connection, key: &RecordKey) -> Option<u64> {
    if conn.is_broken() {
        return None;
    }
    let rows = conn
        .rows(
            "SELECT version FROM user_engine_records
             WHERE tenant_id = ? AND kind = ? AND record_id = ? AND deleted = 0",
            params_of(key),
        )
        .ok()?;
    let mut row = rows.into_iter().next()?;
    let version: i64 = column(&mut row, 0, "reading a record version").ok()?;
    u64::try_from(version).ok()
}

/// `conflict` unless `expect` holds for a record at `live` (`None`: absent).
fn admit(key: &RecordKey, expect: Expectation, live: Option<u64>) -> Result<(), StoreError> {
    if expect.admits(live) {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            key: key.clone(),
            expected: expect,
            actual: live,
        })
    }
}

impl StoreTransaction for MysqlTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.usable()?;
        self.store.serving(&mut self.conn)?;
        live_record(&mut self.conn, key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        self.usable()?;
        let what = "writing a record";
        let key = &write.key;
        let user = write.user.as_ref().map(|u| u.as_str());
        let payload = write.payload.to_json_text();
        let mut raced = false;
        let version = loop {
            let versions = self.lock_key(key, expect)?;
            admit(key, expect, versions.live)?;
            let version = next_version(key, versions.last)?;
            let (tenant, kind, id) = params_of(key);
            if versions != KeyVersions::NEVER_WRITTEN {
                if let Err(err) = self
                    .conn
                    .execute(UPDATE, (user, &payload, version, tenant, kind, id))
                {
                    return Err(self.failed(what, key, expect, &err));
                }
                break version;
            }
            match self
                .conn
                .execute(INSERT, (tenant, kind, id, user, &payload, version))
            {
                Ok(1) => break version,
                // Another transaction inserted the key after the locking read found nothing:
                // the insert waited for it to end, then locked its row and changed nothing.
                // Read again, under that lock, and decide on what is there now.
                Ok(_) if !raced => raced = true,
                // Still no row at the key: what the insert met was another unique key (one
                // this schema does not have, added by hand).
                Ok(_) => {
                    return Err(StoreError::invalid(format!(
                        "mysql refused a write of {key}: a unique key other than the record's is taken"
                    )));
                }
                Err(err) => return Err(self.failed(what, key, expect, &err)),
            }
        };
        self.written.insert(key.clone());
        Ok(Record {
            key: write.key,
            user: write.user,
            payload: write.payload,
            version,
        })
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(StoreError::invalid(format!(
                "delete of {key} cannot expect the record to be absent"
            )));
        }
        self.usable()?;
        let versions = self.lock_key(key, expect)?;
        if versions.live.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        admit(key, expect, versions.live)?;
        if let Err(err) = self.conn.execute(DELETE, params_of(key)) {
            return Err(self.failed("deleting a record", key, expect, &err));
        }
        self.written.insert(key.clone());
        Ok(())
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.usable()?;
        self.audit.push(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.usable()?;
        self.outbox.push(message);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        crate::commit::commit(*self)
    }

    fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        // A session that cannot roll back is dropped, and the server rolls back as it ends.
        self.conn.rollback();
        Ok(())
    }
}
