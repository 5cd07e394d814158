//! `Pool`: a few idle connections behind a mutex, each set up for this adapter's sessions (READ
//! COMMITTED, strict SQL mode, utf8mb4, a bounded lock wait), each with the driver's cache of
//! prepared statements.
//!
//! A connection is checked out for one store call (a read, a migration) or for the whole life
//! of a transaction, and returned afterwards. One returned with a transaction still open is
//! rolled back first; one that broke, or that comes back while its thread is panicking (it may
//! have been interrupted mid-protocol), is dropped instead, which ends its server session. The
//! next call opens a fresh one. [`Pool::reset`] (the `reopen` hook) closes every connection: the
//! idle ones at once, the checked-out ones when they come back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Params, Row};
use user_engine::StoreError;

use crate::error::{self, loses_session};

/// Idle connections kept for reuse; more may be open while calls run concurrently.
const MAX_IDLE: usize = 4;

/// How long a statement waits for a row lock before it fails with `conflict` (MySQL's default is
/// 50 s). Shorter than the conformance runner's 30 s step limit, so a lock that is never released
/// is reported as the store's conflict rather than as a stuck step.
pub(crate) const LOCK_WAIT_TIMEOUT_SECS: u32 = 10;

/// Run on every new session. READ COMMITTED: no gap locks, and every statement reads the latest
/// committed rows (and its own transaction's writes). Strict mode: a value that does not fit is
/// an error, never silently truncated.
const SESSION_SETUP: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// One server session.
pub(crate) struct Connection {
    conn: Conn,
    /// Set when an error said the session is gone; the pool then drops the connection.
    broken: bool,
    /// Between `START TRANSACTION` and its end, as this side knows it.
    in_transaction: bool,
    /// `@@innodb_rollback_on_timeout`: whether a lock wait timeout rolls back the whole
    /// transaction (otherwise only the statement).
    rollback_on_timeout: bool,
    /// The pool's generation when it was opened; one from before a reset is not reused.
    generation: u64,
}

/// Notes a lost session in `broken` and passes the error on.
fn noting(broken: &mut bool) -> impl FnOnce(mysql::Error) -> mysql::Error + '_ {
    move |err| {
        *broken |= loses_session(&err);
        err
    }
}

impl Connection {
    /// The server's id of this session, for `KILL`.
    pub(crate) fn id(&self) -> u32 {
        self.conn.connection_id()
    }

    /// Whether a lock wait timeout rolls back the whole transaction on this server.
    pub(crate) fn rollback_on_timeout(&self) -> bool {
        self.rollback_on_timeout
    }

    /// Marks the connection as not to be reused: the pool drops it when it comes back.
    pub(crate) fn discard(&mut self) {
        self.broken = true;
    }

    /// Whether an error said the session is gone.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs a prepared statement (cached by the driver) and collects its rows.
    pub(crate) fn rows(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Vec<Row>, mysql::Error> {
        self.conn
            .exec(sql, params)
            .map_err(noting(&mut self.broken))
    }

    /// Runs a prepared statement; returns how many rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<u64, mysql::Error> {
        self.conn
            .exec_drop(sql, params)
            .map_err(noting(&mut self.broken))?;
        Ok(self.conn.affected_rows())
    }

    /// The AUTO_INCREMENT value (or `LAST_INSERT_ID(expr)`) of the last statement.
    pub(crate) fn last_insert_id(&self) -> u64 {
        self.conn.last_insert_id()
    }

    /// Runs SQL text as is, several statements allowed, checking every statement's result (the
    /// driver's `query_drop` would let an error after the first statement pass unseen): how
    /// migration files are applied.
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), mysql::Error> {
        let mut result = self
            .conn
            .query_iter(sql)
            .map_err(noting(&mut self.broken))?;
        let mut failed = None;
        while let Some(set) = result.iter() {
            for row in set {
                if let Err(err) = row {
                    failed.get_or_insert(err);
                }
            }
        }
        drop(result);
        match failed {
            Some(err) => Err(noting(&mut self.broken)(err)),
            None => Ok(()),
        }
    }

    /// `START TRANSACTION` (READ COMMITTED, the session's level).
    pub(crate) fn start_transaction(&mut self) -> Result<(), mysql::Error> {
        self.batch("START TRANSACTION")?;
        self.in_transaction = true;
        Ok(())
    }

    /// A REPEATABLE READ, read-only transaction whose snapshot is taken now: every statement in
    /// it reads the same committed state (diagnostics).
    pub(crate) fn start_snapshot(&mut self) -> Result<(), mysql::Error> {
        // `SET TRANSACTION` without SESSION applies to the next transaction only.
        self.batch(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
             START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        )?;
        self.in_transaction = true;
        Ok(())
    }

    /// `COMMIT`. Whatever it answers, this side no longer holds a transaction open.
    pub(crate) fn commit(&mut self) -> Result<(), mysql::Error> {
        self.in_transaction = false;
        self.batch("COMMIT")
    }

    /// `ROLLBACK`; a session that cannot even do that is not reused (the server rolls its
    /// transaction back when the session ends).
    pub(crate) fn rollback(&mut self) {
        if !self.in_transaction {
            return;
        }
        self.in_transaction = false;
        if self.batch("ROLLBACK").is_err() {
            self.broken = true;
        }
    }

    /// Notes that the server ended the transaction itself (a deadlock victim is rolled back
    /// whole), so that nothing is rolled back twice.
    pub(crate) fn transaction_ended_by_server(&mut self) {
        self.in_transaction = false;
    }
}

/// Where and how to connect, and the idle connections.
pub(crate) struct Pool {
    opts: Opts,
    /// `host:port` (or the socket), for error messages: never the password.
    place: String,
    idle: Mutex<Vec<Connection>>,
    /// Bumped by [`reset`](Self::reset): connections of an older generation are closed.
    generation: AtomicU64,
}

impl Pool {
    pub(crate) fn new(opts: Opts) -> Self {
        let place = match opts.get_socket() {
            Some(socket) if opts.get_ip_or_hostname().is_empty() => socket.to_owned(),
            _ => format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port()),
        };
        Self {
            opts,
            place,
            idle: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// `host:port`, for messages.
    pub(crate) fn place(&self) -> &str {
        &self.place
    }

    /// Closes every connection, as a restarted process would have none: the idle ones now, and
    /// any checked out by a call still running when it is returned. The next call connects anew.
    pub(crate) fn reset(&self) {
        let closing = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            // Under the idle lock, so no connection of the old generation is pooled after this.
            self.generation.fetch_add(1, Ordering::SeqCst);
            std::mem::take(&mut *idle)
        };
        // Dropping a connection ends its session (COM_QUIT, then the socket closes).
        drop(closing);
    }

    /// An idle connection, or a new one.
    pub(crate) fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match reused {
            Some(connection) => connection,
            None => self.open()?,
        };
        Ok(Pooled {
            pool: self,
            connection: Some(connection),
        })
    }

    /// Opens a session and sets it up.
    pub(crate) fn open(&self) -> Result<Connection, StoreError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let conn = Conn::new(self.opts.clone()).map_err(|e| error::connect(&self.place, &e))?;
        let setup = format!(
            "{SESSION_SETUP}; SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_SECS}, \
             SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', \
             NAMES utf8mb4 COLLATE utf8mb4_bin"
        );
        let mut connection = Connection {
            conn,
            broken: false,
            in_transaction: false,
            rollback_on_timeout: true,
            generation,
        };
        connection
            .batch(&setup)
            .map_err(|e| error::map("setting up a session", &e))?;
        let rows = connection
            .rows("SELECT @@innodb_rollback_on_timeout", ())
            .map_err(|e| error::map("setting up a session", &e))?;
        // Unknown counts as on: then a timeout ends the transaction, the safe assumption.
        connection.rollback_on_timeout = rows
            .into_iter()
            .next()
            .and_then(|mut row| row.take_opt::<i64, usize>(0))
            .and_then(Result::ok)
            .is_none_or(|on| on != 0);
        Ok(connection)
    }

    /// How many idle connections are kept (for `Debug`).
    pub(crate) fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A checked-out connection; goes back to the pool when dropped, unless it broke.
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    connection: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.connection
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        // A transaction still open (dropped, or unwound by a panic) is rolled back now, so its
        // row locks are released before anyone else waits on them, even if the session is then
        // closed rather than reused.
        if !connection.broken {
            connection.rollback();
        }
        // A panic may have interrupted the connection mid-protocol: never reuse it then.
        if connection.broken || std::thread::panicking() {
            return;
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.pool.generation.load(Ordering::SeqCst);
        if connection.generation == current && idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }
}
