//! Test support for anyone testing against this adapter: the server from the environment, and
//! [`IsolatedDatabase`], a store in a fresh, uniquely named database that is dropped afterwards
//! (and kept, with its name printed, when the test panicked).
//!
//! Tests read the server from `USER_ENGINE_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`
//! (the database in the URL only has to exist: each test gets a database of its own beside it).
//! This crate's own tests are built `#[ignore]` when it is unset (`#[user_engine::needs_env]`). With
//! `USER_ENGINE_REQUIRE_MYSQL=1` a missing URL or an unusable server is an error instead of a
//! skip. Nothing here panics: every failure is a one-line [`StoreError`].
//!
//! Nothing outlives its run (see `user_engine::testing::scratch`): while a process has test
//! databases on a server it keeps one session there holding the named lock
//! `ue_owner_<run token>`; each database is registered for `scratch::drop_live` (what a signal
//! handler calls); and [`drop_abandoned`] drops the `ue_test_*` databases whose run's lock is free
//! — a run killed hard — never one a live run owns. A database's teardown runs after its test on
//! the process's teardown thread (`scratch::later`), so the test does not wait for it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};
use user_engine::StoreError;
use user_engine::testing::scratch;

use crate::MysqlUserEngineStore;

/// The variable naming the test server, e.g. `mysql://root@127.0.0.1:3306/test`.
pub const URL_VAR: &str = "USER_ENGINE_MYSQL_URL";

/// Set to `1` to turn a skipped MySQL test into a failure.
pub const REQUIRE_VAR: &str = "USER_ENGINE_REQUIRE_MYSQL";

/// Whether `USER_ENGINE_REQUIRE_MYSQL=1`.
pub fn mysql_required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1")
}

/// The test server's URL from `USER_ENGINE_MYSQL_URL`; `None` when it is unset or empty.
pub fn url_from_env() -> Option<String> {
    std::env::var(URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A [`MysqlUserEngineStore`] in a fresh database of its own, dropped with it.
///
/// It is a store itself (every call is forwarded, hooks included), so it fits the conformance
/// suite's factory. The store is not migrated.
///
/// ```no_run
/// use user_engine::UserEngineStore;
/// use user_engine_mysql::testing::IsolatedDatabase;
///
/// let Some(db) = IsolatedDatabase::from_env()? else {
///     return Ok(()); // printed why it skipped
/// };
/// db.migrate()?;
/// assert!(db.readiness().is_ready());
/// # Ok::<(), user_engine::StoreError>(())
/// ```
pub struct IsolatedDatabase {
    store: MysqlUserEngineStore,
    /// The server's options as given (the database they name is where `CREATE DATABASE` runs).
    admin: Opts,
    name: String,
    /// `None` only inside `drop`, once the database went back to the pool.
    registration: Option<scratch::Registration>,
    /// Whether the database may go back to the pool when dropped: set by
    /// [`IsolatedDatabase::migrated`], cleared by [`IsolatedDatabase::raw_connection`] and
    /// [`IsolatedDatabase::connect_another`], which can change it beyond the store's own
    /// operations.
    recyclable: AtomicBool,
}

/// A migrated, emptied database this process may hand out again.
struct Pooled {
    admin: Opts,
    name: String,
    registration: scratch::Registration,
}

/// The pool, by server address; at most 8 databases wait, one more is dropped instead.
static POOL: scratch::Pool<Pooled> = scratch::Pool::new(8);

/// Empties a migrated database for its next test, on the owner session: every row of the
/// records, audit and outbox tables, the commit-order counter and the id counters back to where
/// a fresh migration leaves them. The recorded migrations stay.
fn empty_database_sql(name: &str) -> String {
    let db = quote_identifier(name);
    format!(
        "DELETE FROM {db}.user_engine_records; DELETE FROM {db}.user_engine_audit_records;
         DELETE FROM {db}.user_engine_outbox_events;
         UPDATE {db}.user_engine_commit_order SET seq = 0;
         ALTER TABLE {db}.user_engine_audit_records AUTO_INCREMENT = 1;
         ALTER TABLE {db}.user_engine_outbox_events AUTO_INCREMENT = 1;"
    )
}

user_engine::delegate_store!(IsolatedDatabase => |db| &db.store);

impl IsolatedDatabase {
    /// A fresh database on the server from the environment. `Ok(None)` (after printing
    /// `skipped: USER_ENGINE_MYSQL_URL is not set`) when the URL is unset and not required;
    /// `unavailable` when it is required but unset, or the server cannot be used.
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        match url_from_env() {
            Some(url) => Self::create(&url).map(Some),
            None if mysql_required() => Err(StoreError::unavailable(format!(
                "{REQUIRE_VAR}=1 but {URL_VAR} is not set; set it, e.g. {URL_VAR}=mysql://root@127.0.0.1:3306/test"
            ))),
            None => {
                println!("skipped: {URL_VAR} is not set");
                Ok(None)
            }
        }
    }

    /// A migrated database on the server from the environment ([`IsolatedDatabase::migrated`]);
    /// `Ok(None)` as [`IsolatedDatabase::from_env`].
    pub fn migrated_from_env() -> Result<Option<Self>, StoreError> {
        match url_from_env() {
            Some(url) => Self::migrated(&url).map(Some),
            None => Self::from_env(),
        }
    }

    /// A store in a database of its own that is already migrated, for a test that starts from a
    /// migrated store. It comes from this process's pool of databases earlier tests used and
    /// returned — emptied, still ready — when there is one, and is made and migrated now
    /// otherwise. Dropped, it goes back to the pool when it is still ready and nothing but the
    /// store's own operations touched it; it is dropped otherwise.
    ///
    /// Databases still in the pool when the process ends stay on the server, empty and
    /// ownerless: the next run's first pooled database (or [`drop_abandoned`]) drops them, as it
    /// drops a killed run's.
    pub fn migrated(url: &str) -> Result<Self, StoreError> {
        let admin = Opts::from_url(url).map_err(|_| malformed_url())?;
        sweep_once(url, &admin);
        let Some(pooled) = POOL.take(&place(&admin)) else {
            let database = Self::create(url)?;
            user_engine::UserEngineStore::migrate(database.store())?;
            database.recyclable.store(true, Ordering::Relaxed);
            return Ok(database);
        };
        let opts: Opts = OptsBuilder::from_opts(pooled.admin.clone())
            .db_name(Some(&pooled.name))
            .into();
        match MysqlUserEngineStore::with_opts(opts) {
            Ok(store) => Ok(Self {
                store,
                admin: pooled.admin,
                name: pooled.name,
                registration: Some(pooled.registration),
                recyclable: AtomicBool::new(true),
            }),
            Err(err) => {
                drop_now(&pooled.admin, &pooled.name);
                Err(err)
            }
        }
    }

    /// Creates a uniquely named database (`ue_test_…`) on the server at `url` and connects an
    /// unmigrated store to it. A malformed URL or an unreachable server is `unavailable`, in one
    /// line that never repeats the password.
    pub fn create(url: &str) -> Result<Self, StoreError> {
        let admin = Opts::from_url(url).map_err(|_| malformed_url())?;
        let name = scratch::fresh_name();
        let create = format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            quote_identifier(&name)
        );
        let ((), registration) = {
            let (opts, dropper_name) = (admin.clone(), name.clone());
            scratch::create(
                name.clone(),
                || on_owner(&admin, &create),
                move || drop_now(&opts, &dropper_name),
            )
            .ok_or_else(|| {
                StoreError::unavailable("the test run is ending: no new test database is made")
            })??
        };
        let opts: Opts = OptsBuilder::from_opts(admin.clone())
            .db_name(Some(&name))
            .into();
        let store = match MysqlUserEngineStore::with_opts(opts) {
            Ok(store) => store,
            Err(err) => {
                // Best effort: the database is empty, and the connect error is what matters.
                let _ = on_owner(&admin, &drop_database(&name));
                return Err(err);
            }
        };
        Ok(Self {
            store,
            admin,
            name,
            registration: Some(registration),
            recyclable: AtomicBool::new(false),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store.
    pub fn store(&self) -> &MysqlUserEngineStore {
        &self.store
    }

    /// Another, independent store on the same database (its own connections), as a second
    /// process would have.
    pub fn connect_another(&self) -> Result<MysqlUserEngineStore, StoreError> {
        self.recyclable.store(false, Ordering::Relaxed);
        MysqlUserEngineStore::with_opts(
            OptsBuilder::from_opts(self.admin.clone())
                .db_name(Some(&self.name))
                .into(),
        )
    }

    /// A plain driver connection to this database, for tests that need raw SQL.
    pub fn raw_connection(&self) -> Result<Conn, StoreError> {
        self.recyclable.store(false, Ordering::Relaxed);
        let opts: Opts = OptsBuilder::from_opts(self.admin.clone())
            .db_name(Some(&self.name))
            .into();
        Conn::new(opts).map_err(|e| crate::error::connect(self.store.server(), &e))
    }
}

fn malformed_url() -> StoreError {
    StoreError::unavailable(format!(
        "the test server's url (normally {URL_VAR}) is malformed; expected mysql://user[:password]@host[:port]/database"
    ))
}

fn drop_database(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {}", quote_identifier(name))
}

/// `name` as a backquoted identifier.
fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Drop for IsolatedDatabase {
    /// Closes the store's sessions (`DROP DATABASE` and emptying would wait for any open
    /// transaction) and hands the rest to `scratch::later`, so the test ends without waiting for
    /// it: a database that may go back to the pool is emptied there and pooled (a test asking for
    /// a pooled database meanwhile waits for it rather than making one), any other is dropped
    /// there. The job keeps the database's registration, so an interrupted run still drops it.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept mysql database {} for inspection: the test panicked",
                self.name
            );
            return;
        }
        let recycle = self.recyclable.load(Ordering::Relaxed)
            && user_engine::UserEngineStore::readiness(&self.store).is_ready();
        self.store.close_connections();
        let Some(registration) = self.registration.take() else {
            return;
        };
        let (admin, name) = (self.admin.clone(), std::mem::take(&mut self.name));
        let incoming = if recycle {
            POOL.expect(&place(&admin))
        } else {
            None
        };
        scratch::later(move || match incoming {
            Some(incoming) if on_reaper(&admin, &empty_database_sql(&name)).is_ok() => {
                incoming.put(Pooled {
                    admin,
                    name,
                    registration,
                });
            }
            incoming => {
                // The pool's room is given back before the drop, so no test waits on it.
                drop(incoming);
                match on_reaper(&admin, &drop_database(&name)) {
                    Ok(()) => drop(registration),
                    Err(err) => {
                        eprintln!("could not drop mysql test database {name}: {err}");
                        // Kept, so an interrupted run still tries again.
                        std::mem::forget(registration);
                    }
                }
            }
        });
    }
}

/// Drops every database waiting in this process's pool (see [`IsolatedDatabase::migrated`]),
/// for a run that ends under its own control — a command, a benchmark — and so leaves nothing
/// behind.
pub fn drop_pooled() {
    // Teardown still on its way to the pool arrives first.
    scratch::settle();
    for (_, database) in POOL.drain() {
        if let Err(err) = on_owner(&database.admin, &drop_database(&database.name)) {
            eprintln!(
                "could not drop mysql test database {}: {err}",
                database.name
            );
        }
    }
}

/// Drops the abandoned test databases on the server at `url` once per process, before its first
/// pooled database: a finished run leaves its pool behind (see [`IsolatedDatabase::migrated`]).
fn sweep_once(url: &str, admin: &Opts) {
    if scratch::first_time(&format!("mysql sweep {}", place(admin)))
        && let Err(err) = drop_abandoned(url)
    {
        eprintln!("could not drop abandoned mysql test databases: {err}");
    }
}

/// The owner session of this process on each server it has test databases on, by address. It
/// holds the named lock `ue_owner_<run token>` until the process ends.
fn owners() -> &'static Mutex<HashMap<String, Conn>> {
    static OWNERS: OnceLock<Mutex<HashMap<String, Conn>>> = OnceLock::new();
    OWNERS.get_or_init(Mutex::default)
}

fn place(opts: &Opts) -> String {
    format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port())
}

/// Runs `sql` on this process's owner session on the server of `opts`, opening it (and taking its
/// named lock) first if there is none or it stopped answering.
fn on_owner(opts: &Opts, sql: &str) -> Result<(), StoreError> {
    let place = place(opts);
    let mut owners = owners().lock().unwrap_or_else(PoisonError::into_inner);
    if owners
        .get_mut(&place)
        .is_none_or(|conn| conn.ping().is_err())
    {
        let mut conn = Conn::new(opts.clone()).map_err(|e| crate::error::connect(&place, &e))?;
        let owner = scratch::owner_name(scratch::run_token());
        let held: Option<i64> = conn
            .exec_first("SELECT GET_LOCK(?, 0)", (owner.as_str(),))
            .map_err(|e| crate::error::map("taking the test run's owner lock", &e))?
            .flatten();
        if held != Some(1) && !held_by_us(&mut conn, &owner, &owners)? {
            return Err(StoreError::unavailable(format!(
                "another session holds this run's owner lock {owner}"
            )));
        }
        owners.insert(place.clone(), conn);
    }
    let conn = owners.get_mut(&place).expect("inserted above");
    conn.query_drop(sql)
        .map_err(|e| crate::error::map("creating or dropping a test database", &e))
}

/// Runs `sql` on a session of its own on the server of `opts` that only teardown uses
/// (`scratch::later` runs it on one thread), so a test creating a database never waits behind
/// another's drop. It takes no lock: the owner session marks this run's databases as live.
fn on_reaper(opts: &Opts, sql: &str) -> Result<(), StoreError> {
    static REAPERS: OnceLock<Mutex<HashMap<String, Conn>>> = OnceLock::new();
    let place = place(opts);
    let mut reapers = REAPERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if reapers
        .get_mut(&place)
        .is_none_or(|conn| conn.ping().is_err())
    {
        let conn = Conn::new(opts.clone()).map_err(|e| crate::error::connect(&place, &e))?;
        reapers.insert(place.clone(), conn);
    }
    let conn = reapers.get_mut(&place).expect("inserted above");
    let done = conn.query_drop(sql);
    if done.is_err() {
        // A batch that failed part way may leave the session in a state of its own: the next
        // call opens a new one.
        reapers.remove(&place);
    }
    done.map_err(|e| crate::error::map("emptying or dropping a test database", &e))
}

/// Whether the session holding `owner` on `conn`'s server is one of this process's own owner
/// sessions: the same server reached at another address (a proxy, another name for the host),
/// whose lock then already marks this run's databases there as live.
fn held_by_us(
    conn: &mut Conn,
    owner: &str,
    owners: &HashMap<String, Conn>,
) -> Result<bool, StoreError> {
    let holder: Option<u64> = conn
        .exec_first("SELECT IS_USED_LOCK(?)", (owner,))
        .map_err(|e| crate::error::map("looking up the test run's owner lock", &e))?
        .flatten();
    Ok(holder.is_some_and(|id| {
        owners
            .values()
            .any(|own| u64::from(own.connection_id()) == id)
    }))
}

/// A plain connection of its own, for cleanup that must not wait on the owner session.
fn admin(opts: &Opts) -> Result<Conn, StoreError> {
    Conn::new(opts.clone()).map_err(|e| crate::error::connect(&place(opts), &e))
}

/// Drops the database `name` now, from any thread: ends the sessions using it first (only this
/// run's stores use it), so an open transaction cannot hold the drop up. What
/// `scratch::drop_live` runs for each live database.
fn drop_now(opts: &Opts, name: &str) {
    let dropped = admin(opts).and_then(|mut conn| {
        let map = |e: mysql::Error| crate::error::map("dropping a test database", &e);
        let sessions: Vec<u64> = conn
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                (name,),
            )
            .map_err(map)?;
        for id in sessions {
            // A session that ended meanwhile is no error.
            let _ = conn.query_drop(format!("KILL {id}"));
        }
        conn.query_drop(drop_database(name)).map_err(map)
    });
    if let Err(err) = dropped {
        eprintln!("could not drop mysql test database {name}: {err}");
    }
}

/// Drops every `ue_test_*` database on the server at `url` whose run is gone: its run's owner lock
/// is free and no session uses it. A database a live run owns is never touched, whichever host
/// that run is on. Returns the names dropped, in name order. The user needs the `PROCESS`
/// privilege to see other users' sessions; without it only its own are seen.
pub fn drop_abandoned(url: &str) -> Result<Vec<String>, StoreError> {
    let opts = Opts::from_url(url).map_err(|_| malformed_url())?;
    let mut conn = admin(&opts)?;
    let map = |e: mysql::Error| crate::error::map("finding abandoned test databases", &e);
    let databases: Vec<String> = conn
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
             WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ? ORDER BY SCHEMA_NAME",
            (scratch::PREFIX, scratch::PREFIX),
        )
        .map_err(map)?;
    let mut dropped = Vec::new();
    for database in databases {
        let Some(token) = scratch::token_of(&database) else {
            continue;
        };
        let owned: Option<Option<u64>> = conn
            .exec_first("SELECT IS_USED_LOCK(?)", (scratch::owner_name(token),))
            .map_err(map)?;
        let in_use: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
                (database.as_str(),),
            )
            .map_err(map)?;
        if owned.flatten().is_some() || in_use.unwrap_or(0) > 0 {
            continue;
        }
        conn.query_drop(drop_database(&database))
            .map_err(|e| crate::error::map("dropping an abandoned test database", &e))?;
        dropped.push(database);
    }
    Ok(dropped)
}

impl fmt::Debug for IsolatedDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IsolatedDatabase")
            .field(&self.store)
            .finish()
    }
}

impl std::ops::Deref for IsolatedDatabase {
    type Target = MysqlUserEngineStore;
    fn deref(&self) -> &MysqlUserEngineStore {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_backquotes_doubled() {
        assert_eq!(quote_identifier("ue_test"), "`ue_test`");
        assert_eq!(quote_identifier("a`b"), "`a``b`");
    }

    #[test]
    fn a_malformed_url_is_one_unavailable_line() {
        let err = IsolatedDatabase::create("mysql://root:hunter2@[::1").unwrap_err();
        assert_eq!(err.kind(), user_engine::ErrorKind::Unavailable);
        assert!(!err.to_string().contains('\n'));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
