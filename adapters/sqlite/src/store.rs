//! `SqliteUserEngineStore`: opening the file, reads and the relay's outbox calls. Committing
//! lives in `transaction.rs`; migration, readiness and diagnostics in `lifecycle.rs`; the
//! conformance hooks in `hooks.rs`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use user_engine::kit::acknowledgement;
use user_engine::migration::MigrationReport;
use user_engine::testing::ArmedFault;
use user_engine::{
    AuditRecord, ConformanceHooks, Diagnostics, EventId, OutboxEvent, Page, Readiness,
    ReadinessLatch, Record, RecordKey, StoreError, StoreTransaction, TenantId, TenantQuery,
    UserEngineStore, UserId,
};

use crate::error::map;
use crate::lifecycle::{self, ensure_ready};
use crate::rows::{self, RECORD_COLUMNS};
use crate::transaction::SqliteTransaction;

/// How long a writer waits for another process's write transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The embedded durable store: one SQLite database file in WAL mode.
///
/// One connection behind a mutex serves every call; the mutex is held only for the duration of
/// one call, never while a [`StoreTransaction`] is open. Transactions buffer their writes in
/// memory (reading their own writes from the buffer and committed state from the file) and apply
/// them at commit inside one write transaction, after re-checking every guarded expectation.
/// An open transaction's reads share one SQLite read transaction (a snapshot) for as long as
/// nothing else uses the connection; any other call ends it first, so it never serves anyone
/// but open transactions' reads, and a commit that finds its snapshot still current takes the
/// write lock on it. So several transactions can be open at once, even on one thread, and a
/// dropped or panicking transaction never touched the file. Other processes may open the same
/// file; SQLite's locking and the busy timeout order their writers.
///
/// ```
/// use user_engine::UserEngineStore;
/// use user_engine_sqlite::SqliteUserEngineStore;
///
/// let dir = std::env::temp_dir().join(format!("user-engine-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let store = SqliteUserEngineStore::open(dir.join("store.db")).unwrap();
/// store.migrate().unwrap();
/// assert!(store.readiness().is_ready());
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct SqliteUserEngineStore {
    path: PathBuf,
    connection: Mutex<Connection>,
    /// Opened by [`open_read_only`](Self::open_read_only): reopening keeps it read-only.
    read_only: bool,
    /// The fault `ConformanceHooks::inject_fault` armed for the next commit.
    fault: ArmedFault,
    /// The latest readiness check's finding: `begin` and reads skip their own check while it
    /// found the store ready (store-contract C27; `docs/adapters/sqlite.md`).
    latch: ReadinessLatch,
    /// How many times the connection was replaced (`reopen`); changed only under its lock.
    reopened: AtomicU64,
    /// The number of the read transaction open transactions' reads share ([`Snapshot`]); 0: none
    /// is open. Changed only under the connection lock.
    snapshot: AtomicU64,
    /// How many such read transactions were begun: the next one's number is one more.
    snapshots: AtomicU64,
}

/// The connection, locked, inside the read transaction numbered `number` (the store's held
/// snapshot): what [`SqliteUserEngineStore::snapshot_connection`] hands out.
pub(crate) struct Snapshot<'a> {
    pub(crate) conn: MutexGuard<'a, Connection>,
    pub(crate) number: u64,
    /// Whether this call began it: its reads are the committed state as of now.
    pub(crate) began: bool,
}

impl SqliteUserEngineStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode with a busy timeout.
    ///
    /// The store is not migrated by opening it; call [`UserEngineStore::migrate`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let connection = open_connection(&path)?;
        Ok(Self {
            path,
            connection: Mutex::new(connection),
            read_only: false,
            fault: ArmedFault::new(),
            latch: ReadinessLatch::new(),
            reopened: AtomicU64::new(0),
            snapshot: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
        })
    }

    /// Opens an existing database file only to read it, for readiness and diagnostics: SQLite's
    /// `SQLITE_OPEN_READ_ONLY`, no journal-mode change, no pragma that writes, and no file created
    /// when `path` does not exist (that is an `unavailable` error). Every write the store is asked
    /// for fails.
    ///
    /// ```
    /// use user_engine_sqlite::SqliteUserEngineStore;
    ///
    /// let missing = std::env::temp_dir().join(format!("user-engine-ro-{}.db", std::process::id()));
    /// assert!(SqliteUserEngineStore::open_read_only(&missing).is_err());
    /// assert!(!missing.exists());
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let connection = open_read_only_connection(&path)?;
        Ok(Self {
            path,
            connection: Mutex::new(connection),
            read_only: true,
            fault: ArmedFault::new(),
            latch: ReadinessLatch::new(),
            reopened: AtomicU64::new(0),
            snapshot: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for one call. A panic while it was held cannot have left a half-applied
    /// write (every write runs in a transaction that rolls back on unwind), so a poisoned lock is
    /// reused after making sure no transaction is left open. A held snapshot ends here too: every
    /// call but an open transaction's own reads sees the committed state as of now.
    pub(crate) fn connection(&self) -> MutexGuard<'_, Connection> {
        let guard = self.lock();
        self.end_snapshot(&guard);
        guard
    }

    /// The connection, locked. After a panic while it was held, whatever transaction the panic
    /// left open is rolled back (and the snapshot with it) before the lock is used again.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| {
            let conn = poisoned.into_inner();
            self.end_snapshot(&conn);
            self.connection.clear_poison();
            conn
        })
    }

    /// Ends whatever transaction is open on `conn` (the held snapshot, or one a panic left).
    pub(crate) fn end_snapshot(&self, conn: &Connection) {
        if !conn.is_autocommit() {
            // Best effort: if this fails the next statement reports the problem.
            let _ = conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
        self.snapshot.store(0, Ordering::SeqCst);
    }

    /// The number of the held snapshot, if `conn` is still inside it. Read under the lock.
    fn held(&self, conn: &Connection) -> Option<u64> {
        let held = self.snapshot.load(Ordering::Relaxed);
        (held != 0 && !conn.is_autocommit()).then_some(held)
    }

    /// How many snapshots were begun so far: every snapshot numbered above what this returns
    /// begins after the call (a transaction's `begin` takes it, so that its reads never see a
    /// snapshot older than itself).
    pub(crate) fn snapshots_begun(&self) -> u64 {
        self.snapshots.load(Ordering::SeqCst)
    }

    /// The connection for an open transaction's read: inside the held snapshot when its number
    /// is above `newer_than`, otherwise in a new one, begun here. The snapshot lasts until the
    /// connection serves anything else: any other call ends it
    /// ([`connection`](Self::connection)), as do a transaction's commit and its drop.
    pub(crate) fn snapshot_connection(&self, newer_than: u64) -> Result<Snapshot<'_>, StoreError> {
        let conn = self.lock();
        if let Some(held) = self.held(&conn).filter(|&held| held > newer_than) {
            return Ok(Snapshot {
                conn,
                number: held,
                began: false,
            });
        }
        self.end_snapshot(&conn);
        // Deferred: the read transaction starts with the first read, and stays open after it.
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(|e| map("reading a record version", &e))?;
        // Numbered after BEGIN and before the first read: a transaction begun before this number
        // was drawn begins before the snapshot does.
        let number = self.snapshots.fetch_add(1, Ordering::SeqCst) + 1;
        self.snapshot.store(number, Ordering::SeqCst);
        Ok(Snapshot {
            conn,
            number,
            began: true,
        })
    }

    /// The connection for a commit: `true` with it when the held snapshot is the one numbered
    /// `reads` (every read of the committing transaction was made in it), otherwise ended.
    pub(crate) fn commit_connection(
        &self,
        reads: Option<u64>,
    ) -> (MutexGuard<'_, Connection>, bool) {
        let conn = self.lock();
        if reads.is_some() && self.held(&conn) == reads {
            return (conn, true);
        }
        self.end_snapshot(&conn);
        (conn, false)
    }

    /// Ends the held snapshot if it is the one numbered `number` (a transaction dropped or
    /// rolled back after reading in it), so the file's checkpoints are not held back by it.
    pub(crate) fn release_snapshot(&self, number: u64) {
        let conn = self.lock();
        if self.held(&conn) == Some(number) {
            self.end_snapshot(&conn);
        }
    }

    /// Forgets the held snapshot after the commit that used it ended it.
    pub(crate) fn snapshot_ended(&self) {
        self.snapshot.store(0, Ordering::SeqCst);
    }

    /// The fault armed for the next commit (conformance hooks).
    pub(crate) fn fault(&self) -> &ArmedFault {
        &self.fault
    }

    /// Which connection this is: a reopened store's new one has another number. Read it while
    /// holding [`connection`](Self::connection).
    pub(crate) fn connection_number(&self) -> u64 {
        self.reopened.load(Ordering::Relaxed)
    }

    /// What the latest readiness check found.
    pub(crate) fn latch(&self) -> &ReadinessLatch {
        &self.latch
    }

    /// The check `begin` and reads make: none while the latest check found the store ready,
    /// a full one (recorded) otherwise.
    pub(crate) fn serving(&self, conn: &Connection) -> Result<(), StoreError> {
        if self.latch.is_ready() {
            Ok(())
        } else {
            self.latch.checking(|| ensure_ready(conn))
        }
    }

    /// Closes the connection and opens the file again, as a restarted process would: what is
    /// committed is in the file, anything else is gone. The new connection is opened before the
    /// old one is closed, so a reopen that fails leaves the store serving as it was; the two share
    /// nothing but the file (no shared cache), so the new one reads only what reached it.
    pub(crate) fn reopen_connection(&self) -> Result<(), StoreError> {
        let mut guard = self.connection();
        let fresh = if self.read_only {
            open_read_only_connection(&self.path)?
        } else {
            open_connection(&self.path)?
        };
        let old = std::mem::replace(&mut *guard, fresh);
        self.reopened.fetch_add(1, Ordering::Relaxed);
        self.fault.disarm();
        // A store opened again has checked nothing yet.
        self.latch.forget();
        drop(guard);
        old.close()
            .map_err(|(_, e)| map("closing the connection a reopen replaced", &e))
    }
}

/// The error for a database that cannot be opened, naming the file.
fn cannot_open(path: &Path, err: &rusqlite::Error) -> StoreError {
    let StoreError::Unavailable { reason } = map("opening the database", err) else {
        return StoreError::unavailable(format!("cannot open sqlite database {}", path.display()));
    };
    StoreError::unavailable(format!(
        "cannot open sqlite database {}: {reason}",
        path.display()
    ))
}

/// Opens the existing file at `path` read-only, with a busy timeout and nothing else changed.
fn open_read_only_connection(path: &Path) -> Result<Connection, StoreError> {
    // No SQLITE_OPEN_CREATE: a missing file is an error, not a new database.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(|e| cannot_open(path, &e))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| cannot_open(path, &e))?;
    // Opening reads nothing; read the schema now, so a file that is not a database is an error
    // naming it, as for a read-write open.
    connection
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(|e| cannot_open(path, &e))?;
    Ok(connection)
}

/// Opens (creating if needed) the database file at `path`, in WAL mode with a busy timeout.
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let cannot = |err: &rusqlite::Error| cannot_open(path, err);
    let connection = Connection::open(path).map_err(|e| cannot(&e))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| cannot(&e))?;
    let mode: String = retry_while_busy(|| {
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
    })
    .map_err(|e| cannot(&e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::unavailable(format!(
            "sqlite database {} cannot use write-ahead logging (journal mode stayed {mode})",
            path.display()
        )));
    }
    // FULL: a commit that returned survives power loss, not only a crash of this process.
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(|e| cannot(&e))?;
    Ok(connection)
}

/// Runs `attempt` again while SQLite says the file is busy, up to [`BUSY_TIMEOUT`]. Switching a
/// file to WAL needs a moment of exclusive access and SQLite does not call the busy handler for
/// it, so two handles opening the same file at once could otherwise fail with `SQLITE_BUSY`.
fn retry_while_busy<T>(mut attempt: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    loop {
        match attempt() {
            Err(rusqlite::Error::SqliteFailure(code, _))
                if code.code == rusqlite::ffi::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

impl fmt::Debug for SqliteUserEngineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteUserEngineStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl UserEngineStore for SqliteUserEngineStore {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        if !self.latch.is_ready() {
            self.serving(&self.connection())?;
        }
        Ok(Box::new(SqliteTransaction::new(self)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let conn = self.connection();
        self.serving(&conn)?;
        rows::committed_record(&conn, key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        let conn = self.connection();
        self.serving(&conn)?;
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = ? AND deleted = 0"
        );
        let mut params = vec![Value::Text(query.tenant.as_str().to_owned())];
        if let Some(kind) = query.kind {
            sql.push_str(" AND kind = ?");
            params.push(Value::Text(kind.as_str().to_owned()));
        }
        if let Some(after) = &after {
            sql.push_str(" AND (kind, record_id) > (?, ?)");
            params.push(Value::Text(after.kind.as_str().to_owned()));
            params.push(Value::Text(after.id.as_str().to_owned()));
        }
        sql.push_str(" ORDER BY kind, record_id");
        if let Some(limit) = query.limit {
            // One row more than the page tells whether another page follows.
            sql.push_str(" LIMIT ?");
            params.push(Value::Integer(
                i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
            ));
        }
        let records = rows::query_records(&conn, &sql, rusqlite::params_from_iter(params))?;
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        let conn = self.connection();
        self.serving(&conn)?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM user_engine_records WHERE tenant_id = ?1 AND user_id = ?2 AND deleted = 0 ORDER BY kind, record_id"
        );
        rows::query_records(&conn, &sql, [tenant.as_str(), user.as_str()])
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.connection();
        self.serving(&conn)?;
        rows::audit_of(&conn, tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let conn = self.connection();
        self.serving(&conn)?;
        rows::pending_events(&conn, limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        let what = "acknowledging outbox events";
        let mut conn = self.connection();
        // IMMEDIATE: the ids are checked and marked under the write lock, in one step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map(what, &e))?;
        self.latch.checking(|| ensure_ready(&tx))?;
        // Ids past i64::MAX cannot exist. The listed pending events are marked first; when that
        // marks every listed id (a relay acknowledging what it read, the usual call), every one
        // existed. Otherwise their existence is checked, and an unknown id acknowledges nothing:
        // dropping the transaction unmarks them (C21, all or nothing).
        let mut wanted: Vec<i64> = ids
            .iter()
            .filter_map(|id| i64::try_from(id.0).ok())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let listed = rows::id_list(&wanted);
        let newly = tx
            .prepare_cached(
                "UPDATE user_engine_outbox_events SET acknowledged_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id IN (SELECT value FROM json_each(?1)) AND acknowledged_at IS NULL",
            )
            .and_then(|mut s| s.execute([&listed]))
            .map_err(|e| map(what, &e))?;
        let all_fit = ids.iter().all(|id| i64::try_from(id.0).is_ok());
        if !all_fit || newly < wanted.len() {
            let existing = rows::existing_events(&tx, &listed)?;
            acknowledgement(ids, |id| {
                Ok(i64::try_from(id.0).is_ok_and(|row_id| existing.contains(&row_id)))
            })?;
        }
        tx.commit().map_err(|e| map(what, &e))?;
        Ok(newly)
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
