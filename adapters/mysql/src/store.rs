//! `MysqlUserEngineStore`: connecting, reads outside transactions and the relay's outbox calls.
//! Transactions live in `transaction.rs` and `commit.rs`; migration, readiness and diagnostics in
//! `lifecycle.rs`; the conformance hooks in `hooks.rs`.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use mysql::consts::CapabilityFlags;
use mysql::{Opts, OptsBuilder, Value};
use user_engine::kit::acknowledgement;
use user_engine::migration::MigrationReport;
use user_engine::testing::ArmedFault;
use user_engine::{
    AuditRecord, ConformanceHooks, Diagnostics, EventId, LATEST_SCHEMA_VERSION, OutboxEvent, Page,
    Readiness, ReadinessLatch, Record, RecordKey, StoreError, StoreTransaction, TenantId,
    TenantQuery, UserEngineStore, UserId,
};

use crate::error::map;
use crate::lifecycle::{self, ensure_ready};
use crate::pool::{Connection, Pool, Pooled};
use crate::rows::{self, AUDIT_COLUMNS, EVENT_COLUMNS, RECORD_COLUMNS, placeholders};
use crate::transaction::MysqlTransaction;

/// Used when the connection URL sets no `tcp_connect_timeout_ms`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The MySQL/MariaDB store: its tables live in the database the URL names.
///
/// A transaction is a real InnoDB transaction on a connection of its own, held from `begin` to
/// `commit` or `rollback`: writes go to the server as they are made, guarded by row locks
/// (`SELECT … FOR UPDATE`), so a second writer of the same record waits for the first to end.
/// Sessions run at READ COMMITTED. A delete keeps the row as a tombstone, so a key's versions
/// never repeat. Audit entries and outbox events are inserted at commit under a one-row
/// commit-order lock, so they are numbered in commit order. Migrations run under a named lock
/// (`GET_LOCK`). See `docs/adapters/mysql.md`.
///
/// ```no_run
/// use user_engine::UserEngineStore;
/// use user_engine_mysql::MysqlUserEngineStore;
///
/// let store = MysqlUserEngineStore::connect("mysql://root@127.0.0.1:3306/test")?;
/// store.migrate()?;
/// assert!(store.readiness().is_ready());
/// # Ok::<(), user_engine::StoreError>(())
/// ```
pub struct MysqlUserEngineStore {
    pool: Pool,
    database: String,
    /// The fault `ConformanceHooks::inject_fault` armed for the next commit.
    fault: ArmedFault,
    /// The latest readiness check's finding: `begin` and reads skip their own check while it
    /// found the store ready (store-contract C27; `docs/adapters/mysql.md`).
    latch: ReadinessLatch,
}

impl MysqlUserEngineStore {
    /// Connects to the server at `url` (`mysql://user[:password]@host[:port]/database`) and uses
    /// the tables in that database, which must exist (`migrate` creates the tables).
    ///
    /// One connection is opened right away, so a malformed URL (`invalid`) or an unreachable
    /// server (`unavailable`) is reported here, as one readable line that never repeats the
    /// password.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = Opts::from_url(url).map_err(|_| {
            StoreError::invalid(
                "malformed mysql connection url; expected mysql://user[:password]@host[:port]/database, \
                 such as mysql://root@127.0.0.1:3306/test",
            )
        })?;
        Self::with_opts(opts)
    }

    /// Like [`connect`](Self::connect), from already built [`mysql::Opts`].
    pub fn with_opts(opts: Opts) -> Result<Self, StoreError> {
        let database = match opts.get_db_name() {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => {
                return Err(StoreError::invalid(
                    "the mysql connection url names no database; add one, as in mysql://root@127.0.0.1:3306/test",
                ));
            }
        };
        let timeout = opts
            .get_tcp_connect_timeout()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        // Affected-row counts must mean rows changed, not rows matched: an insert that met a
        // row inserted meanwhile (0 changed) is told apart from one that inserted (1).
        let capabilities = opts.get_additional_capabilities() - CapabilityFlags::CLIENT_FOUND_ROWS;
        let opts: Opts = OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(timeout))
            .additional_capabilities(capabilities)
            .into();
        let store = Self {
            pool: Pool::new(opts),
            database,
            fault: ArmedFault::new(),
            latch: ReadinessLatch::new(),
        };
        drop(store.connection()?);
        Ok(store)
    }

    /// The database holding this store's tables.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn connection(&self) -> Result<Pooled<'_>, StoreError> {
        self.pool.get()
    }

    /// The fault armed for the next commit (conformance hooks).
    pub(crate) fn fault(&self) -> &ArmedFault {
        &self.fault
    }

    /// The connections (conformance hooks: `reopen` resets them, termination kills one).
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// `host:port` of the server, for messages (never the password).
    pub(crate) fn server(&self) -> &str {
        self.pool.place()
    }

    /// Closes every pooled connection (a test database is about to be dropped).
    pub(crate) fn close_connections(&self) {
        self.pool.reset();
    }

    /// What the latest readiness check found (commit, `migrate`, `readiness` and the hooks
    /// record into it).
    pub(crate) fn latch(&self) -> &ReadinessLatch {
        &self.latch
    }

    /// The check `begin` and reads make on `conn`: none while the latest check found the store
    /// ready, a full one (recorded) otherwise.
    pub(crate) fn serving(&self, conn: &mut Connection) -> Result<(), StoreError> {
        if self.latch.is_ready() {
            Ok(())
        } else {
            self.latch.checking(|| ensure_ready(conn))
        }
    }

    /// A pooled connection for a read: see [`serving`](Self::serving).
    fn serving_connection(&self) -> Result<Pooled<'_>, StoreError> {
        let mut conn = self.connection()?;
        self.serving(&mut conn)?;
        Ok(conn)
    }
}

/// The live record at `key` as `conn` sees it (inside a transaction: with its own writes).
pub(crate) fn live_record(
    conn: &mut Connection,
    key: &RecordKey,
) -> Result<Option<Record>, StoreError> {
    let rows = conn
        .rows(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM user_engine_records
                 WHERE tenant_id = ? AND kind = ? AND record_id = ? AND deleted = 0"
            ),
            (key.tenant.as_str(), key.kind.as_str(), key.id.as_str()),
        )
        .map_err(|e| map("reading a record", &e))?;
    rows.into_iter().next().map(rows::record).transpose()
}

impl fmt::Debug for MysqlUserEngineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the connection URL: it may hold a password.
        f.debug_struct("MysqlUserEngineStore")
            .field("server", &self.pool.place())
            .field("database", &self.database)
            .field("idle_connections", &self.pool.idle_count())
            .finish_non_exhaustive()
    }
}

/// `acknowledge` when it marks something, in one statement: the listed pending events, marked
/// only if every listed id exists (the count of their rows, from a derived table the server
/// materialises, so MySQL lets the statement read the table it updates) and the recorded
/// migrations read as the manifest's. Both guards are evaluated once, before any row is marked,
/// so a count above zero says they held.
///
/// When the listed ids are contiguous (`contiguous`; a relay draining events in the order they
/// were issued lists them so) the rows in `BETWEEN ? AND ?` are the listed ones, so counting that
/// one range says the same as looking each id up again, at a fraction of the cost: the second
/// list costs the server its own range analysis and one index descent per id. Sessions run at
/// `READ COMMITTED`, so the range count takes no gap lock that would hold up a new event.
fn acknowledge_pending_sql(ids: usize, contiguous: bool) -> String {
    let listed = placeholders(ids);
    let counted = if contiguous {
        "BETWEEN ? AND ?".to_owned()
    } else {
        format!("IN ({listed})")
    };
    format!(
        "UPDATE user_engine_outbox_events SET acknowledged_at = CURRENT_TIMESTAMP(6)
         WHERE id IN ({listed}) AND acknowledged_at IS NULL
           AND (SELECT found FROM (SELECT COUNT(*) AS found FROM user_engine_outbox_events
                                   WHERE id {counted}) AS listed) = ?
           AND (SELECT GROUP_CONCAT(version, ':', checksum ORDER BY version SEPARATOR ',')
                FROM user_engine_schema_versions) = ?"
    )
}

/// Whether the distinct ids `listed` are every integer from the first to the last.
fn is_contiguous(listed: &BTreeSet<i64>) -> bool {
    match (listed.first(), listed.last()) {
        (Some(&first), Some(&last)) => last
            .checked_sub(first)
            .and_then(|span| span.checked_add(1))
            .is_some_and(|span| usize::try_from(span) == Ok(listed.len())),
        _ => false,
    }
}

impl MysqlUserEngineStore {
    /// A relay's acknowledgement, every listed event existing and pending, in one round trip:
    /// `Ok(Some(count))` when it marked something. `Ok(None)` (nothing marked, or the statement
    /// failed on a session still usable) leaves the answer to the checks asked apart, which say
    /// why. A lost session is the answer: whether the update took effect is unknown.
    fn acknowledge_pending(
        &self,
        conn: &mut Connection,
        ids: &[EventId],
    ) -> Result<Option<usize>, StoreError> {
        let Some(expected) = lifecycle::MIGRATION_SOURCE.ready_signature() else {
            return Ok(None);
        };
        // Ids past i64::MAX cannot exist; -1 matches no row, so the count guard fails.
        let listed: BTreeSet<i64> = ids
            .iter()
            .map(|&id| i64::try_from(id.0).unwrap_or(-1))
            .collect();
        if listed.is_empty() {
            return Ok(None);
        }
        let contiguous = is_contiguous(&listed);
        let mut params: Vec<Value> = Vec::with_capacity(listed.len() * 2 + 3);
        params.extend(listed.iter().map(|&id| Value::from(id)));
        match (contiguous, listed.first(), listed.last()) {
            (true, Some(&first), Some(&last)) => {
                params.push(Value::from(first));
                params.push(Value::from(last));
            }
            _ => params.extend(listed.iter().map(|&id| Value::from(id))),
        }
        params.push(Value::from(listed.len()));
        params.push(Value::from(expected));
        let check = self.latch.check();
        match conn.execute(&acknowledge_pending_sql(listed.len(), contiguous), params) {
            Ok(newly @ 1..) => {
                check.found_ready(true);
                Ok(Some(usize::try_from(newly).unwrap_or(usize::MAX)))
            }
            Err(err) if conn.is_broken() => Err(map("acknowledging outbox events", &err)),
            _ => Ok(None),
        }
    }
}

impl UserEngineStore for MysqlUserEngineStore {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        MysqlTransaction::begin(self).map(|tx| Box::new(tx) as Box<dyn StoreTransaction + '_>)
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        live_record(&mut *self.serving_connection()?, key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut conn = self.serving_connection()?;
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = ? AND deleted = 0"
        );
        let mut params: Vec<Value> = vec![query.tenant.as_str().into()];
        if let Some(kind) = query.kind {
            sql.push_str(" AND kind = ?");
            params.push(kind.as_str().into());
        }
        if let Some(after) = &after {
            // Spelled out rather than `(kind, record_id) > (?, ?)`, which MySQL cannot serve
            // from the primary key.
            sql.push_str(" AND (kind > ? OR (kind = ? AND record_id > ?))");
            params.push(after.kind.as_str().into());
            params.push(after.kind.as_str().into());
            params.push(after.id.as_str().into());
        }
        sql.push_str(" ORDER BY kind, record_id");
        if let Some(limit) = query.limit {
            // One row more than the page tells whether another page follows.
            sql.push_str(" LIMIT ?");
            params.push(
                u64::try_from(limit.saturating_add(1))
                    .unwrap_or(u64::MAX)
                    .into(),
            );
        }
        let rows = conn
            .rows(&sql, params)
            .map_err(|e| map("listing records", &e))?;
        let records = rows
            .into_iter()
            .map(rows::record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        let mut conn = self.serving_connection()?;
        let rows = conn
            .rows(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM user_engine_records
                     WHERE tenant_id = ? AND user_id = ? AND deleted = 0 ORDER BY kind, record_id"
                ),
                (tenant.as_str(), user.as_str()),
            )
            .map_err(|e| map("listing records", &e))?;
        rows.into_iter().map(rows::record).collect()
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.serving_connection()?;
        let rows = conn
            .rows(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM user_engine_audit_records
                     WHERE tenant_id = ? ORDER BY sequence"
                ),
                (tenant.as_str(),),
            )
            .map_err(|e| map("reading audit entries", &e))?;
        rows.into_iter().map(rows::audit).collect()
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut conn = self.serving_connection()?;
        // commit_seq order is commit (= visibility) order; id orders events within a transaction.
        let rows = conn
            .rows(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM user_engine_outbox_events
                     WHERE acknowledged_at IS NULL ORDER BY commit_seq, id LIMIT ?"
                ),
                (u64::try_from(limit).unwrap_or(u64::MAX),),
            )
            .map_err(|e| map("reading outbox events", &e))?;
        rows.into_iter().map(rows::event).collect()
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        let what = "acknowledging outbox events";
        let mut conn = self.connection()?;
        // Ids past i64::MAX cannot exist; -1 matches no row.
        let row_id = |id: EventId| i64::try_from(id.0).unwrap_or(-1);
        if let Some(newly) = self.acknowledge_pending(&mut conn, ids)? {
            return Ok(newly);
        }
        let wanted: Vec<Value> = ids.iter().map(|&id| row_id(id).into()).collect();
        // Readiness is checked first, and with the ids' existence when there are any (one
        // statement for both).
        let existing: BTreeSet<i64> = if wanted.is_empty() {
            self.latch.checking(|| ensure_ready(&mut conn))?;
            BTreeSet::new()
        } else {
            self.latch
                .checking(|| lifecycle::ready_and_existing(&mut conn, &wanted))?
        };
        // Every id is checked before any is marked: an unknown one acknowledges nothing. Events
        // are never deleted, so what exists now still exists when the update runs.
        let known = acknowledgement(ids, |id| Ok(existing.contains(&row_id(id))))?;
        if known.is_empty() {
            return Ok(0);
        }
        let params: Vec<Value> = known.iter().map(|&id| row_id(id).into()).collect();
        let newly = conn
            .execute(
                &format!(
                    "UPDATE user_engine_outbox_events SET acknowledged_at = CURRENT_TIMESTAMP(6)
                     WHERE id IN ({}) AND acknowledged_at IS NULL",
                    placeholders(params.len())
                ),
                params,
            )
            .map_err(|e| map(what, &e))?;
        Ok(usize::try_from(newly).unwrap_or(usize::MAX))
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.latch.migrating(LATEST_SCHEMA_VERSION, || {
            lifecycle::migrate(self, LATEST_SCHEMA_VERSION)
        })
    }

    fn readiness(&self) -> Readiness {
        self.latch.reporting(|| lifecycle::readiness(self))
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        lifecycle::diagnostics(self)
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::MIGRATION_SOURCE;
    use user_engine::RecordKind;

    #[test]
    fn the_schema_knows_every_record_kind() {
        let sql = MIGRATION_SOURCE
            .sql_of(&user_engine::MIGRATIONS[0])
            .unwrap();
        for kind in RecordKind::ALL {
            assert!(sql.contains(&format!("'{kind}'")), "{kind} missing");
        }
    }

    #[test]
    fn only_ids_without_gaps_are_contiguous() {
        let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
        assert!(is_contiguous(&set(&[7])));
        assert!(is_contiguous(&set(&[3, 1, 2])));
        assert!(is_contiguous(&set(&[-1, 0, 1])));
        assert!(!is_contiguous(&set(&[])));
        assert!(!is_contiguous(&set(&[1, 3])));
        assert!(!is_contiguous(&set(&[1, 2, 4])));
        // A span past i64 cannot be counted: not contiguous, whatever the set's size.
        assert!(!is_contiguous(&set(&[i64::MIN, i64::MAX])));
        assert!(!is_contiguous(&set(&[-1, i64::MAX])));
    }

    #[test]
    fn malformed_urls_are_invalid_before_connecting() {
        for url in ["postgres://x", "mysql://root@127.0.0.1:3306", "not a url"] {
            let err = MysqlUserEngineStore::connect(url).unwrap_err();
            assert_eq!(err.kind(), user_engine::ErrorKind::Invalid, "{url}: {err}");
        }
    }
}
