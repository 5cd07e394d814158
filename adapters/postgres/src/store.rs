//! `PostgresUserEngineStore`: connecting, reads and the relay's outbox calls. Committing lives in
//! `transaction.rs`; migration, readiness and diagnostics in `lifecycle.rs`; the conformance
//! hooks in `hooks.rs`.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use postgres::Config;
use postgres::config::SslMode;
use postgres::types::ToSql;
use user_engine::buffered::BufferedTransaction;
use user_engine::kit::{acknowledgement, require_ready};
use user_engine::migration::{MigrationReport, checksum};
use user_engine::testing::ArmedFault;
use user_engine::{
    AuditRecord, ConformanceHooks, Diagnostics, EventId, OutboxEvent, Page, Readiness,
    ReadinessLatch, Record, RecordKey, RecordKind, StoreError, StoreTransaction, TenantId,
    TenantQuery, UserEngineStore, UserId,
};

use crate::error::map;
use crate::lifecycle::{self, MIGRATION_SOURCE, applied};
use crate::outcome::{CommitResolutions, ResolutionCounts};
use crate::pool::{self, Connection, Pool};
use crate::rows::{self, RECORD_COLUMNS};

/// Used when the connection string sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store: its tables live in one schema, every connection's `search_path`.
///
/// A small pool of blocking `postgres` connections serves the calls; a connection is held for
/// one call only. Transactions buffer their writes in memory and apply them at commit in one
/// READ COMMITTED database transaction that locks the rows it guards (`SELECT … FOR UPDATE`,
/// in key order) and re-checks their versions, then — if the transaction wrote audit entries or
/// outbox events — takes a transaction-scoped advisory lock so that audit sequences and outbox
/// `commit_seq`s are drawn in commit order (see `docs/adapters/postgres.md`). Migrations run
/// under another advisory lock, so concurrent migrators apply each migration once.
///
/// ```no_run
/// use user_engine::UserEngineStore;
/// use user_engine_postgres::PostgresUserEngineStore;
///
/// let store = PostgresUserEngineStore::connect("host=127.0.0.1 user=root dbname=test", "user_engine")?;
/// store.migrate()?;
/// assert!(store.readiness().is_ready());
/// # Ok::<(), user_engine::StoreError>(())
/// ```
pub struct PostgresUserEngineStore {
    pool: Pool,
    schema: String,
    locks: LockKeys,
    /// The fault `ConformanceHooks::inject_fault` armed for the next commit.
    fault: ArmedFault,
    /// Commits whose connection broke after COMMIT was sent, by how they were settled.
    resolutions: ResolutionCounts,
    /// The latest readiness check's finding: `begin` and reads skip their own check while it
    /// found the store ready (store-contract C27; `docs/adapters/postgres.md`).
    latch: ReadinessLatch,
}

/// Advisory lock keys, one per purpose and schema, so stores in different schemas of one
/// database never wait for each other.
pub(crate) struct LockKeys {
    pub(crate) migration: i64,
    pub(crate) commit_order: i64,
}

impl LockKeys {
    fn for_schema(schema: &str) -> Self {
        let key = |purpose: &str| {
            let hex = checksum(&format!("user-engine/{purpose}/{schema}"));
            // 16 hex digits always parse as u64; the bits are reinterpreted as a signed key.
            u64::from_str_radix(&hex, 16).map_or(0, |k| k as i64)
        };
        Self {
            migration: key("migration"),
            commit_order: key("commit-order"),
        }
    }
}

impl PostgresUserEngineStore {
    /// Connects to the server at `url` (`host=… user=… dbname=…` or `postgres://user@host:port/db`)
    /// and uses the tables in `schema`, which `migrate` creates if it does not exist.
    ///
    /// One connection is opened right away, so a malformed URL (`invalid`) or an unreachable server
    /// (`unavailable`) is reported here, as one readable error that never repeats the password.
    pub fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        let config: Config = url.parse().map_err(|_| {
            StoreError::invalid(
                "malformed postgresql connection string; expected key=value pairs such as \
                 `host=127.0.0.1 user=root dbname=test` or a URL such as `postgres://root@127.0.0.1:5432/test`",
            )
        })?;
        Self::with_config(config, schema)
    }

    /// Like [`connect`](Self::connect), from an already built [`postgres::Config`].
    pub fn with_config(mut config: Config, schema: &str) -> Result<Self, StoreError> {
        if schema.is_empty() || schema.len() > 63 || schema.contains('\0') {
            return Err(StoreError::invalid(format!(
                "schema name {schema:?} must be 1 to 63 bytes without NUL characters"
            )));
        }
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(StoreError::invalid(
                "the postgresql connection string names no host",
            ));
        }
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::invalid(
                "sslmode=require is not supported: user-engine-postgres connects without TLS",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let store = Self {
            pool: Pool::new(config, schema.to_owned()),
            schema: schema.to_owned(),
            locks: LockKeys::for_schema(schema),
            fault: ArmedFault::new(),
            resolutions: ResolutionCounts::default(),
            latch: ReadinessLatch::new(),
        };
        drop(store.pool.get()?);
        Ok(store)
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// How the commits whose connection broke once COMMIT was sent were settled since this store
    /// was opened: found committed (reported as a success), found rolled back (`unavailable`),
    /// or not found out (`in_doubt`). See `docs/adapters/postgres-in-doubt.md`.
    ///
    /// ```no_run
    /// # let store = user_engine_postgres::PostgresUserEngineStore::connect("host=127.0.0.1 user=root dbname=test", "user_engine")?;
    /// let settled = store.commit_resolutions();
    /// println!("{} commits found committed after their connection broke", settled.committed);
    /// # Ok::<(), user_engine::StoreError>(())
    /// ```
    pub fn commit_resolutions(&self) -> CommitResolutions {
        self.resolutions.snapshot()
    }

    pub(crate) fn resolutions(&self) -> &ResolutionCounts {
        &self.resolutions
    }

    /// A new plain client on this store's schema, outside the pool (test support).
    pub(crate) fn raw_client(&self) -> Result<postgres::Client, StoreError> {
        self.pool.open().map(Connection::into_client)
    }

    pub(crate) fn connection(&self) -> Result<pool::Pooled<'_>, StoreError> {
        self.pool.get()
    }

    pub(crate) fn locks(&self) -> &LockKeys {
        &self.locks
    }

    /// The fault armed for the next commit (conformance hooks).
    pub(crate) fn fault(&self) -> &ArmedFault {
        &self.fault
    }

    /// Makes the store what a new one on its (emptied) schema would be, for another test: no
    /// fault armed, no commit resolutions counted, one idle session kept. Its readiness latch
    /// stays: the schema is still migrated and intact (the caller checked).
    pub(crate) fn reuse(&self) {
        self.fault.disarm();
        self.resolutions.reset();
        self.pool.keep_idle(1);
    }

    /// The connections (conformance hooks: `reopen` resets them).
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// What the latest readiness check found (commit, `migrate`, `readiness` and the hooks
    /// record into it).
    pub(crate) fn latch(&self) -> &ReadinessLatch {
        &self.latch
    }

    /// A pooled connection, once readiness is checked on it: refused with the reason if not
    /// ready. Records the finding.
    fn checked_connection(&self) -> Result<pool::Pooled<'_>, StoreError> {
        let check = self.latch.check();
        let mut conn = self.connection()?;
        let ready = applied(&mut conn)
            .and_then(|applied| require_ready(MIGRATION_SOURCE.readiness(applied.as_deref())));
        check.found(&ready);
        ready.map(|()| conn)
    }

    /// A pooled connection for `begin` or a read: without a check of its own while the latest
    /// check found the store ready, [`checked_connection`](Self::checked_connection) otherwise.
    fn serving_connection(&self) -> Result<pool::Pooled<'_>, StoreError> {
        if self.latch.is_ready() {
            self.connection()
        } else {
            self.checked_connection()
        }
    }
}

pub(crate) fn committed_record(
    conn: &mut Connection,
    key: &RecordKey,
) -> Result<Option<Record>, StoreError> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = $1 AND kind = $2 AND record_id = $3 AND NOT deleted"
    );
    let rows = conn
        .query(
            &sql,
            &[&key.tenant.as_str(), &key.kind.as_str(), &key.id.as_str()],
        )
        .map_err(|e| map("reading a record", &e))?;
    rows.first().map(rows::record).transpose()
}

impl fmt::Debug for PostgresUserEngineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the connection string: it may hold a password.
        f.debug_struct("PostgresUserEngineStore")
            .field("schema", &self.schema)
            .field("idle_connections", &self.pool.idle_count())
            .finish_non_exhaustive()
    }
}

impl UserEngineStore for PostgresUserEngineStore {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        if !self.latch.is_ready() {
            drop(self.checked_connection()?);
        }
        Ok(Box::new(BufferedTransaction::new(self)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        committed_record(&mut *self.serving_connection()?, key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut conn = self.serving_connection()?;
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let kind = query.kind.map(RecordKind::as_str);
        let after_position = after.as_ref().map(|k| (k.kind.as_str(), k.id.as_str()));
        // One row more than the page tells whether another page follows.
        let limit = query
            .limit
            .map(|l| i64::try_from(l.saturating_add(1)).unwrap_or(i64::MAX));
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = $1 AND NOT deleted"
        );
        let tenant = query.tenant.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
        if let Some(kind) = &kind {
            params.push(kind);
            sql.push_str(&format!(" AND kind = ${}", params.len()));
        }
        if let Some((after_kind, after_id)) = &after_position {
            params.push(after_kind);
            params.push(after_id);
            sql.push_str(&format!(
                " AND (kind, record_id) > (${}, ${})",
                params.len() - 1,
                params.len()
            ));
        }
        sql.push_str(" ORDER BY kind, record_id");
        if let Some(limit) = &limit {
            params.push(limit);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let rows = conn
            .query(&sql, &params)
            .map_err(|e| map("listing records", &e))?;
        let records = rows
            .iter()
            .map(rows::record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        let mut conn = self.serving_connection()?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = $1 AND user_id = $2 AND NOT deleted ORDER BY kind, record_id"
        );
        let rows = conn
            .query(&sql, &[&tenant.as_str(), &user.as_str()])
            .map_err(|e| map("listing records", &e))?;
        rows.iter().map(rows::record).collect()
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.serving_connection()?;
        let rows = conn
            .query(
                "SELECT sequence, tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id
                 FROM user_engine_audit_records WHERE tenant_id = $1 ORDER BY sequence",
                &[&tenant.as_str()],
            )
            .map_err(|e| map("reading audit entries", &e))?;
        rows.iter().map(rows::audit).collect()
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut conn = self.serving_connection()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // commit_seq order is commit (= visibility) order; id orders events within a transaction.
        let rows = conn
            .query(
                "SELECT id, tenant_id, topic, event_key, payload::text FROM user_engine_outbox_events
                 WHERE acknowledged_at IS NULL ORDER BY commit_seq, id LIMIT $1",
                &[&limit],
            )
            .map_err(|e| map("reading outbox events", &e))?;
        rows.iter().map(rows::event).collect()
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        // Ids past i64::MAX cannot exist; -1 matches no row.
        let row_id = |id: EventId| i64::try_from(id.0).unwrap_or(-1);
        if let Some(expected) = MIGRATION_SOURCE.ready_signature() {
            let mut wanted: Vec<i64> = ids.iter().map(|&id| row_id(id)).collect();
            wanted.sort_unstable();
            wanted.dedup();
            let listed = i64::try_from(wanted.len()).unwrap_or(i64::MAX);
            let check = self.latch.check();
            let mut conn = self.connection()?;
            // Readiness, the update and (when it marked fewer than listed) existence in one
            // all-or-nothing statement; it fails when a listed id is missing.
            if let Ok(rows) = conn.query(ACKNOWLEDGE, &[&wanted, &expected, &listed]) {
                let what = "acknowledging outbox events";
                let row = &rows[0];
                let signature: Option<&str> = row.try_get(0).map_err(|e| map(what, &e))?;
                if signature == Some(expected) {
                    check.found_ready(true);
                    let newly: i64 = row.try_get(1).map_err(|e| map(what, &e))?;
                    return Ok(usize::try_from(newly).unwrap_or(usize::MAX));
                }
            }
        }
        // Not ready, or a listed id missing (the statement failed and marked nothing): the
        // slow path says which.
        self.acknowledge_slowly(ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let latest = user_engine::LATEST_SCHEMA_VERSION;
        self.latch
            .migrating(latest, || lifecycle::migrate(self, latest))
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

/// `acknowledge` in one statement, marking first: when the recorded migrations read as `$2` (a
/// ready store), every listed pending event (`$1`, distinct ids, `$3` of them) is marked
/// acknowledged and counted. When it marked all `$3`, every listed id existed and that count is
/// the answer — the relay's usual case, which looks each id up once, as a plain `UPDATE … FROM
/// unnest` does. When it marked fewer, the listed ids that exist are counted; if that is short
/// too, the statement fails (a cast of a text that names the cause), so its marks are undone: an
/// unknown id acknowledges nothing (C21). The count runs only then: an uncorrelated subquery in a
/// `CASE` branch is evaluated when that branch is reached. An event a concurrent statement
/// acknowledged first is waited for and rechecked in its newer version, whose
/// `acknowledged_at IS NULL` fails: it is neither marked nor counted as marked here, and it
/// exists. Events are never deleted, so the count and the update agree.
const ACKNOWLEDGE: &str = "WITH ready AS (
         SELECT string_agg(version::text || ':' || checksum, ',' ORDER BY version) AS signature
         FROM user_engine_schema_versions),
     acknowledged AS (
         UPDATE user_engine_outbox_events AS e SET acknowledged_at = now()
         FROM unnest($1::bigint[]) AS w(id)
         WHERE e.id = w.id AND e.acknowledged_at IS NULL
           AND (SELECT signature FROM ready) = $2::text
         RETURNING 1),
     marked AS (SELECT count(*) AS n FROM acknowledged)
SELECT (SELECT signature FROM ready),
       CASE WHEN (SELECT n FROM marked) = $3::bigint THEN (SELECT n FROM marked)
            WHEN (SELECT count(*) FROM user_engine_outbox_events
                  WHERE id IN (SELECT unnest($1::bigint[]))) = $3::bigint THEN (SELECT n FROM marked)
            ELSE ('user_engine: a listed outbox event does not exist; marked '
                  || (SELECT n FROM marked))::bigint
       END";

impl PostgresUserEngineStore {
    /// `acknowledge` as three round trips (readiness, existence, update): for a store that does
    /// not read as ready, which this refuses with the reason.
    fn acknowledge_slowly(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        let mut conn = self.checked_connection()?;
        let what = "acknowledging outbox events";
        // Ids past i64::MAX cannot exist; -1 matches no row.
        let row_id = |id: EventId| i64::try_from(id.0).unwrap_or(-1);
        let wanted: Vec<i64> = ids.iter().map(|&id| row_id(id)).collect();
        let existing: BTreeSet<i64> = conn
            .query(
                "SELECT id FROM user_engine_outbox_events WHERE id = ANY($1)",
                &[&wanted],
            )
            .map_err(|e| map(what, &e))?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(|e| map(what, &e))?;
        // Every id is checked before any is marked: an unknown one acknowledges nothing. Events
        // are never deleted, so what exists now still exists when the update runs.
        let known = acknowledgement(ids, |id| Ok(existing.contains(&row_id(id))))?;
        let acknowledge: Vec<i64> = known.into_iter().map(row_id).collect();
        let newly = conn
            .execute(
                "UPDATE user_engine_outbox_events SET acknowledged_at = now()
                 WHERE id = ANY($1) AND acknowledged_at IS NULL",
                &[&acknowledge],
            )
            .map_err(|e| map(what, &e))?;
        Ok(usize::try_from(newly).unwrap_or(usize::MAX))
    }
}
