//! `Pool`: a few idle connections behind a mutex, each pinned to the store's schema, each with
//! its own cache of prepared statements.
//!
//! A connection is checked out for one store call (a read, a commit, a migration) and returned
//! afterwards, so the pool only needs as many connections as calls run at the same time. A
//! connection that broke is dropped instead of returned; the next call opens a fresh one.
//! [`Pool::reset`] (the `reopen` hook) closes every connection: the idle ones at once, the
//! checked-out ones when they come back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Row, SimpleQueryMessage, Statement};
use user_engine::StoreError;

use crate::error;

/// Idle connections kept for reuse; more may be open while calls run concurrently.
const MAX_IDLE: usize = 4;

/// One connection, with `search_path` set to the store's schema.
pub(crate) struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Set when an error said the session is gone; the pool then drops the connection.
    broken: bool,
    /// The pool's generation when it was opened; one from before a reset is not reused.
    generation: u64,
}

/// A transaction on a pooled connection: rolls back when dropped without `commit`.
///
/// Started and ended with plain `START TRANSACTION` / `COMMIT` / `ROLLBACK` statements rather
/// than `postgres::Transaction`, so that a commit can send `START TRANSACTION` together with its
/// first statements in one round trip ([`Connection::transaction_reading`]).
pub(crate) struct Transaction<'a> {
    client: &'a mut Client,
    statements: &'a mut HashMap<String, Statement>,
    broken: &'a mut bool,
    /// Committed or rolled back already: nothing left to do when dropped.
    done: bool,
}

/// Whether an error means the session itself is lost (not just this statement). The server
/// sends `57P01 admin_shutdown` before closing, so the client is not yet marked closed then.
fn loses_session(err: &postgres::Error) -> bool {
    match err.code() {
        Some(code) => {
            code.code().starts_with("08") || matches!(code.code(), "57P01" | "57P02" | "57P03")
        }
        None => true,
    }
}

/// Notes a lost session in `broken` and passes the error on.
fn noting(broken: &mut bool) -> impl FnOnce(postgres::Error) -> postgres::Error + '_ {
    move |err| {
        *broken |= loses_session(&err);
        err
    }
}

fn prepared(
    statements: &mut HashMap<String, Statement>,
    client: &mut impl postgres::GenericClient,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

impl Connection {
    /// Whether an error said the session is gone (the pool will drop the connection).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken || self.client.is_closed()
    }

    /// Whether the session still looks alive, found out without a round trip: reads whatever
    /// the server sent while the connection sat idle. A backend terminated while idle sends its
    /// FATAL report and closes; with no request in flight, nothing else can be waiting but
    /// notices. Catching that before a statement is sent matters most to a statement that is its
    /// own transaction: once sent, a broken connection leaves its outcome unknown.
    fn looks_alive(&mut self) -> bool {
        if self.is_broken() {
            return false;
        }
        let news = self.client.notifications().iter().next().map(drop);
        match news {
            Ok(()) => !self.client.is_closed(),
            Err(_) => {
                self.broken = true;
                false
            }
        }
    }

    /// The plain client, leaving the statement cache behind.
    pub(crate) fn into_client(self) -> Client {
        self.client
    }

    /// Runs a query through the statement cache.
    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = prepared(&mut self.statements, &mut self.client, sql)
            .map_err(noting(&mut self.broken))?;
        self.client
            .query(&statement, params)
            .map_err(noting(&mut self.broken))
    }

    /// The statement prepared for `sql`, from the cache (preparing it costs a round trip the
    /// first time on this connection).
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        prepared(&mut self.statements, &mut self.client, sql).map_err(noting(&mut self.broken))
    }

    /// Runs a prepared statement; returns the rows it changed. An error here came after the
    /// statement was sent (or while sending it).
    pub(crate) fn execute_prepared(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        self.client
            .execute(statement, params)
            .map_err(noting(&mut self.broken))
    }

    /// Runs a statement through the statement cache; returns the rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepare(sql)?;
        self.execute_prepared(&statement, params)
    }

    /// A READ COMMITTED transaction, whatever the server's default isolation: the commit and
    /// migration protocols rely on each statement seeing what committed before it started.
    pub(crate) fn transaction(&mut self) -> Result<Transaction<'_>, postgres::Error> {
        self.transaction_with(IsolationLevel::ReadCommitted, false)
    }

    /// A transaction with the given isolation.
    pub(crate) fn transaction_with(
        &mut self,
        isolation: IsolationLevel,
        read_only: bool,
    ) -> Result<Transaction<'_>, postgres::Error> {
        let level = match isolation {
            IsolationLevel::Serializable => "SERIALIZABLE",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            _ => "READ COMMITTED",
        };
        let mode = if read_only { " READ ONLY" } else { "" };
        self.client
            .batch_execute(&format!("START TRANSACTION ISOLATION LEVEL {level}{mode}"))
            .map_err(noting(&mut self.broken))?;
        Ok(self.open_transaction())
    }

    /// Starts a READ COMMITTED transaction and runs `statements` (SQL text, no parameters) in
    /// the same round trip; keeps the transaction open when `accept` takes what they returned,
    /// and rolls it back otherwise — also when they fail. Then
    /// [`open_transaction`](Self::open_transaction) hands out the accepted transaction.
    ///
    /// (Two calls rather than one returning the transaction, so the caller can fall back to
    /// another way of starting on the same connection.)
    pub(crate) fn transaction_reading(
        &mut self,
        statements: &str,
        accept: impl FnOnce(&[SimpleQueryMessage]) -> bool,
    ) -> Result<bool, postgres::Error> {
        let started = self
            .client
            .simple_query(&format!(
                "START TRANSACTION ISOLATION LEVEL READ COMMITTED; {statements}"
            ))
            .map_err(noting(&mut self.broken));
        let accepted = match &started {
            Ok(messages) => accept(messages),
            Err(_) => false,
        };
        if !accepted && !self.broken {
            // An error left the transaction aborted (or never started): end it either way.
            self.client
                .batch_execute("ROLLBACK")
                .map_err(noting(&mut self.broken))?;
        }
        started.map(|_| accepted)
    }

    /// The transaction [`transaction_reading`](Self::transaction_reading) accepted and left open.
    pub(crate) fn open_transaction(&mut self) -> Transaction<'_> {
        Transaction {
            client: &mut self.client,
            statements: &mut self.statements,
            broken: &mut self.broken,
            done: false,
        }
    }
}

impl Transaction<'_> {
    /// Runs a query through the statement cache.
    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = prepared(self.statements, self.client, sql).map_err(noting(self.broken))?;
        self.client
            .query(&statement, params)
            .map_err(noting(self.broken))
    }

    /// Runs a statement through the statement cache; returns the rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = prepared(self.statements, self.client, sql).map_err(noting(self.broken))?;
        self.client
            .execute(&statement, params)
            .map_err(noting(self.broken))
    }

    /// Runs SQL text as is (several statements, no parameters): how migration files are applied.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql).map_err(noting(self.broken))
    }

    /// Marks the connection as not to be reused: the pool drops it when it comes back.
    pub(crate) fn discard(&mut self) {
        *self.broken = true;
    }

    /// Commits.
    pub(crate) fn commit(mut self) -> Result<(), postgres::Error> {
        self.done = true;
        self.client
            .batch_execute("COMMIT")
            .map_err(noting(self.broken))
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done || *self.broken || self.client.is_closed() {
            return;
        }
        // Not committed: roll back. A connection that cannot even do that is not reused.
        if self.client.batch_execute("ROLLBACK").is_err() {
            *self.broken = true;
        }
    }
}

/// Where and how to connect, and the idle connections.
pub(crate) struct Pool {
    config: Config,
    schema: String,
    idle: Mutex<Vec<Connection>>,
    /// Bumped by [`reset`](Self::reset): connections of an older generation are closed.
    generation: AtomicU64,
}

impl Pool {
    pub(crate) fn new(mut config: Config, schema: String) -> Self {
        // Server notices (e.g. "relation already exists, skipping") are not ours to log.
        config.notice_callback(|_notice| {});
        Self {
            config,
            schema,
            idle: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        }
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
        // Dropping a client ends its session (a Terminate message, then the socket closes).
        drop(closing);
    }

    /// Closes all idle connections but the `keep` most recently returned (test support: a
    /// pooled test store keeps one session open, not all it ever used).
    pub(crate) fn keep_idle(&self, keep: usize) {
        let closing = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let surplus = idle.len().saturating_sub(keep);
            idle.drain(..surplus).collect::<Vec<_>>()
        };
        drop(closing);
    }

    /// An idle connection that still looks alive, or a new one.
    pub(crate) fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let connection = loop {
            let next = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match next {
                Some(mut connection) => {
                    if connection.looks_alive() {
                        break connection;
                    }
                    // Its session ended while it sat idle: drop it, try the next.
                }
                None => break self.open()?,
            }
        };
        Ok(Pooled {
            pool: self,
            connection: Some(connection),
        })
    }

    /// Opens a connection and pins it to the schema.
    pub(crate) fn open(&self) -> Result<Connection, StoreError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|e| error::connect(&self.config, &e))?;
        // READ COMMITTED also for the statements that run as their own transaction (a commit of
        // one save, `acknowledge`), whatever the server's default: like the explicit ones.
        client
            .batch_execute(&format!(
                "SET search_path TO {}; SET default_transaction_isolation TO 'read committed'",
                quote_identifier(&self.schema)
            ))
            .map_err(|e| error::map("selecting the schema", &e))?;
        Ok(Connection {
            client,
            statements: HashMap::new(),
            broken: false,
            generation,
        })
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
        let Some(connection) = self.connection.take() else {
            return;
        };
        // A panic may have interrupted the connection mid-protocol: never reuse it then.
        if connection.broken || connection.client.is_closed() || std::thread::panicking() {
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

/// `name` as a double-quoted SQL identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_embedded_quotes_doubled() {
        assert_eq!(quote_identifier("ue_test"), "\"ue_test\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
