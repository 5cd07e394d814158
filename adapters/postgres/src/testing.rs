//! Test support: the server from the environment, and [`IsolatedSchema`], a store in a fresh,
//! uniquely named schema that is dropped afterwards (and kept, with its name printed, when the
//! test panicked).
//!
//! Tests read the server from `USER_ENGINE_POSTGRES_URL`. This crate's own tests are built
//! `#[ignore]` when it is unset (`#[user_engine::needs_env]`); [`IsolatedSchema::from_env`] additionally prints
//! `skipped: USER_ENGINE_POSTGRES_URL is not set` and returns `None` for callers built with it set
//! but run without it. With `USER_ENGINE_REQUIRE_POSTGRES=1` a missing URL or an unreachable
//! server fails them instead.
//!
//! Nothing outlives its run (see `user_engine::testing::scratch`): while a process has test
//! schemas on a server it keeps one session there whose `application_name` is
//! `ue_owner_<run token>`; each schema is registered for `scratch::drop_live` (what a signal
//! handler calls); and [`drop_abandoned`] drops the `ue_test_*` schemas whose run has no owner
//! session left — a run killed hard — never one a live run owns. A schema's teardown runs after
//! its test on the process's teardown thread (`scratch::later`), so the test does not wait for it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use user_engine::StoreError;
use user_engine::testing::scratch;

use crate::PostgresUserEngineStore;
use crate::pool::quote_identifier;

/// The variable naming the test server, e.g. `host=127.0.0.1 user=root dbname=test`.
pub const URL_VAR: &str = "USER_ENGINE_POSTGRES_URL";

/// Set to `1` to turn a skipped PostgreSQL test into a failure.
pub const REQUIRE_VAR: &str = "USER_ENGINE_REQUIRE_POSTGRES";

/// Whether `USER_ENGINE_REQUIRE_POSTGRES=1`.
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1")
}

/// The test server's URL; `None` (after printing why) when tests should be skipped.
///
/// # Panics
/// When the URL is missing but `USER_ENGINE_REQUIRE_POSTGRES=1`.
pub fn url_from_env() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if postgres_required() => {
            panic!(
                "{REQUIRE_VAR}=1 but {URL_VAR} is not set; set it, e.g. {URL_VAR}='host=127.0.0.1 user=root dbname=test'"
            )
        }
        _ => {
            println!("skipped: {URL_VAR} is not set");
            None
        }
    }
}

/// A [`PostgresUserEngineStore`] in a fresh schema of its own, dropped with it.
///
/// It is a store itself (every call is forwarded, through `user_engine::delegate_store!`), so it fits the
/// conformance suite's factory.
/// The store is not migrated.
///
/// ```no_run
/// use user_engine::UserEngineStore;
/// use user_engine_postgres::testing::IsolatedSchema;
///
/// let Some(db) = IsolatedSchema::from_env() else { return }; // prints why it skipped
/// db.migrate().unwrap();
/// assert!(db.readiness().is_ready());
/// ```
pub struct IsolatedSchema {
    /// `None` only inside `drop`, once the store's sessions are closed.
    store: Option<PostgresUserEngineStore>,
    url: String,
    name: String,
    /// `None` only inside `drop`, once the schema went back to the pool.
    registration: Option<scratch::Registration>,
    /// Whether the schema may go back to the pool when dropped: set by [`IsolatedSchema::migrated`]
    /// and cleared by anything that can change it beyond what the store's own operations do
    /// ([`IsolatedSchema::raw_client`], [`IsolatedSchema::connect_another`]).
    recyclable: AtomicBool,
}

/// A migrated, emptied schema this process may hand out again, with its store (and that store's
/// open session), so the next test connects nothing.
struct Pooled {
    name: String,
    registration: scratch::Registration,
    store: PostgresUserEngineStore,
}

/// The pool, by server URL; at most 8 schemas wait, one more is dropped instead.
static POOL: scratch::Pool<Pooled> = scratch::Pool::new(8);

/// Empties a migrated schema for its next test, on the owner session in one transaction:
/// every row of the records, audit and outbox tables, and the sequences restarted, so it reads as
/// freshly migrated. The recorded migrations stay.
fn empty_schema_sql(name: &str) -> String {
    let schema = quote_identifier(name);
    format!(
        "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL search_path TO {schema};
         DELETE FROM user_engine_records; DELETE FROM user_engine_audit_records;
         DELETE FROM user_engine_outbox_events;
         ALTER SEQUENCE user_engine_audit_records_sequence_seq RESTART;
         ALTER SEQUENCE user_engine_outbox_events_id_seq RESTART;
         ALTER SEQUENCE user_engine_outbox_commit_seq RESTART; COMMIT;"
    )
}

impl IsolatedSchema {
    /// A fresh schema on the server from the environment; `None` when tests should be skipped.
    ///
    /// # Panics
    /// When the URL is set (or required) but the schema cannot be created: a test that was asked
    /// to use PostgreSQL must not pass without it.
    pub fn from_env() -> Option<Self> {
        let url = url_from_env()?;
        match Self::create(&url) {
            Ok(schema) => Some(schema),
            Err(err) => panic!("{URL_VAR} is set but no test schema could be created: {err}"),
        }
    }

    /// A migrated schema on the server from the environment ([`IsolatedSchema::migrated`]);
    /// `None` when tests should be skipped.
    ///
    /// # Panics
    /// As [`IsolatedSchema::from_env`].
    pub fn migrated_from_env() -> Option<Self> {
        let url = url_from_env()?;
        match Self::migrated(&url) {
            Ok(schema) => Some(schema),
            Err(err) => panic!("{URL_VAR} is set but no test schema could be made: {err}"),
        }
    }

    /// A store in a schema of its own that is already migrated, for a test that starts from a
    /// migrated store (a scenario whose `given` says `migrated`, a seed or records). It comes from
    /// this process's pool of schemas earlier tests used and returned — emptied, their recorded
    /// migrations checked to be the manifest's — when there is one, and is made and migrated
    /// now otherwise. Dropped, it goes back to the pool when it is still ready and nothing but
    /// the store's own operations touched it; it is dropped otherwise.
    ///
    /// Schemas still in the pool when the process ends stay on the server, empty and ownerless:
    /// the next run's first schema (or [`drop_abandoned`]) drops them, as it drops a killed
    /// run's.
    pub fn migrated(url: &str) -> Result<Self, StoreError> {
        sweep_once(url);
        let schema = match POOL.take(url) {
            Some(pooled) => Self {
                store: Some(pooled.store),
                url: url.to_owned(),
                name: pooled.name,
                registration: Some(pooled.registration),
                recyclable: AtomicBool::new(true),
            },
            None => {
                let schema = Self::create(url)?;
                user_engine::UserEngineStore::migrate(schema.store())?;
                schema.recyclable.store(true, Ordering::Relaxed);
                schema
            }
        };
        Ok(schema)
    }

    /// Creates a uniquely named schema (`ue_test_<run token>_<n>`) on the server at `url` and
    /// connects a store to it.
    pub fn create(url: &str) -> Result<Self, StoreError> {
        let name = scratch::fresh_name();
        let config = Self::config(url, &name)?;
        let ((), registration) = {
            let (dropper_url, dropper_name) = (url.to_owned(), name.clone());
            scratch::create(
                name.clone(),
                || on_owner(url, &format!("CREATE SCHEMA {}", quote_identifier(&name))),
                move || drop_now(&dropper_url, &dropper_name),
            )
            .ok_or_else(ending)??
        };
        let store = match PostgresUserEngineStore::with_config(config, &name) {
            Ok(store) => store,
            Err(err) => {
                // Best effort: the schema is empty, and the connect error is what matters.
                let _ = on_owner(url, &format!("DROP SCHEMA {}", quote_identifier(&name)));
                return Err(err);
            }
        };
        Ok(Self {
            store: Some(store),
            url: url.to_owned(),
            name,
            registration: Some(registration),
            recyclable: AtomicBool::new(false),
        })
    }

    /// The server's configuration, with `application_name` set to the schema's name so a test
    /// (and [`drop_now`]) can find this schema's sessions in `pg_stat_activity`.
    fn config(url: &str, name: &str) -> Result<postgres::Config, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
        config.application_name(name);
        Ok(config)
    }

    /// The schema's name, also the `application_name` of the store's sessions.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store.
    pub fn store(&self) -> &PostgresUserEngineStore {
        self.store.as_ref().expect("the store lives until drop")
    }

    /// Another, independent store on the same schema (its own connections), as a second process
    /// would have. Its sessions' `application_name` is the schema's name too.
    pub fn connect_another(&self) -> Result<PostgresUserEngineStore, StoreError> {
        self.recyclable.store(false, Ordering::Relaxed);
        PostgresUserEngineStore::with_config(Self::config(&self.url, &self.name)?, &self.name)
    }

    /// A plain client whose `search_path` is this schema, for tests that need raw SQL.
    pub fn raw_client(&self) -> Result<postgres::Client, StoreError> {
        self.recyclable.store(false, Ordering::Relaxed);
        self.store().raw_client()
    }
}

/// What [`IsolatedSchema::create`] says once the run is ending (`scratch::drop_live` has run).
fn ending() -> StoreError {
    StoreError::unavailable("the test run is ending: no new test schema is made")
}

fn invalid_url() -> StoreError {
    StoreError::invalid(format!(
        "the postgresql url given to IsolatedSchema (normally {URL_VAR}) is malformed"
    ))
}

impl Drop for IsolatedSchema {
    /// Hands the teardown to `scratch::later`, so the test ends without waiting for it: a schema
    /// that may go back to the pool is emptied there and pooled (a test asking for a pooled
    /// schema meanwhile waits for it rather than making one), any other is dropped there. The
    /// job keeps the schema's registration, so an interrupted run still drops it.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept postgresql schema {} for inspection: the test panicked",
                self.name
            );
            return;
        }
        // Whether it is still ready is asked in the job, off the test's path.
        let recycle = self.recyclable.load(Ordering::Relaxed);
        let (Some(store), Some(registration)) = (self.store.take(), self.registration.take())
        else {
            return;
        };
        let (url, name) = (
            std::mem::take(&mut self.url),
            std::mem::take(&mut self.name),
        );
        let incoming = if recycle { POOL.expect(&url) } else { None };
        // A schema that will be dropped closes its store's sessions now: queued, they would
        // count against the server's connections.
        let store = incoming.is_some().then_some(store);
        scratch::later(move || match (incoming, store) {
            (Some(incoming), Some(store))
                if user_engine::UserEngineStore::readiness(&store).is_ready()
                    && on_reaper(&url, &empty_schema_sql(&name)).is_ok() =>
            {
                store.reuse();
                incoming.put(Pooled {
                    name,
                    registration,
                    store,
                });
            }
            (incoming, store) => {
                // The pool's room is given back before the drop, so no test waits on it.
                drop(incoming);
                drop_schema(&url, &name, store, registration);
            }
        });
    }
}

/// Drops the schema `name` with its store: its sessions end first, so none holds the drop up.
/// The registration goes once the schema is gone; when the drop failed it is kept, so an
/// interrupted run still tries again (a finished run leaves the schema to `drop_abandoned`).
fn drop_schema(
    url: &str,
    name: &str,
    store: Option<PostgresUserEngineStore>,
    registration: scratch::Registration,
) {
    drop(store);
    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_identifier(name));
    match on_reaper(url, &sql) {
        Ok(()) => drop(registration),
        Err(err) => {
            eprintln!("could not drop postgresql test schema {name}: {err}");
            std::mem::forget(registration);
        }
    }
}

/// Drops every schema waiting in this process's pool (see [`IsolatedSchema::migrated`]), for a
/// run that ends under its own control — a command, a benchmark — and so leaves nothing behind.
pub fn drop_pooled() {
    // Teardown still on its way to the pool arrives first.
    scratch::settle();
    for (url, schema) in POOL.drain() {
        // Its sessions end first, so none holds the drop up.
        drop(schema.store);
        let sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_identifier(&schema.name)
        );
        if let Err(err) = on_owner(&url, &sql) {
            eprintln!(
                "could not drop postgresql test schema {}: {err}",
                schema.name
            );
        }
    }
}

/// Drops the abandoned test schemas on the server at `url` once per process, before its first
/// pooled schema: a finished run leaves its pool behind (see [`IsolatedSchema::migrated`]).
fn sweep_once(url: &str) {
    if scratch::first_time(&format!("postgres sweep {url}"))
        && let Err(err) = drop_abandoned(url)
    {
        eprintln!("could not drop abandoned postgresql test schemas: {err}");
    }
}

/// The owner session of this process on each server it has test schemas on, by URL.
fn owners() -> &'static Mutex<HashMap<String, postgres::Client>> {
    static OWNERS: OnceLock<Mutex<HashMap<String, postgres::Client>>> = OnceLock::new();
    OWNERS.get_or_init(Mutex::default)
}

/// Runs `sql` on this process's owner session on the server at `url`, opening it first if there
/// is none (or it was closed). The session lives until the process ends.
fn on_owner(url: &str, sql: &str) -> Result<(), StoreError> {
    on_session(owners(), url, sql)
}

/// Runs `sql` on the session for `url` in `sessions`, opened first (named after this run's
/// owner) if there is none or it was closed.
fn on_session(
    sessions: &Mutex<HashMap<String, postgres::Client>>,
    url: &str,
    sql: &str,
) -> Result<(), StoreError> {
    let mut sessions = sessions.lock().unwrap_or_else(PoisonError::into_inner);
    if sessions.get(url).is_none_or(postgres::Client::is_closed) {
        let mut config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
        config.application_name(&scratch::owner_name(scratch::run_token()));
        let client = config
            .connect(postgres::NoTls)
            .map_err(|e| crate::error::connect(&config, &e))?;
        sessions.insert(url.to_owned(), client);
    }
    let client = sessions.get_mut(url).expect("inserted above");
    let done = client.batch_execute(sql);
    if done.is_err() {
        // A batch that failed inside its BEGIN leaves the session in an aborted transaction;
        // end it, so the next call does not fail on it. (The session stays: an owner session
        // is what marks this run's schemas as live.)
        let _ = client.batch_execute("ROLLBACK");
    }
    done.map_err(|e| crate::error::map("creating or dropping a test schema", &e))
}

/// [`on_owner`], on a second session of the owner's name that only teardown uses (`scratch::later`
/// runs it on one thread), so a test creating a schema never waits behind another's drop.
fn on_reaper(url: &str, sql: &str) -> Result<(), StoreError> {
    static REAPERS: OnceLock<Mutex<HashMap<String, postgres::Client>>> = OnceLock::new();
    on_session(REAPERS.get_or_init(Mutex::default), url, sql)
}

/// A plain connection of its own, for cleanup that must not wait on the owner session.
fn admin(url: &str) -> Result<postgres::Client, StoreError> {
    let config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
    config
        .connect(postgres::NoTls)
        .map_err(|e| crate::error::connect(&config, &e))
}

/// Drops the schema `name` now, from any thread: ends the sessions of its stores first (found by
/// their `application_name`, which only this run's stores on it carry), so an open transaction
/// cannot hold the drop up. What `scratch::drop_live` runs for each live schema.
fn drop_now(url: &str, name: &str) {
    let dropped = admin(url).and_then(|mut admin| {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .and_then(|_| {
                admin.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    quote_identifier(name)
                ))
            })
            .map_err(|e| crate::error::map("dropping a test schema", &e))
    });
    if let Err(err) = dropped {
        eprintln!("could not drop postgresql test schema {name}: {err}");
    }
}

/// Drops every `ue_test_*` schema on the server at `url` whose run is gone: no session holds its
/// run's owner name, and none of its own stores is connected. A schema a live run owns is never
/// touched, whichever host that run is on. Returns the names dropped, in name order.
pub fn drop_abandoned(url: &str) -> Result<Vec<String>, StoreError> {
    let mut admin = admin(url)?;
    let map = |e: postgres::Error| crate::error::map("finding abandoned test schemas", &e);
    let schemas: Vec<String> = admin
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1",
            &[&scratch::PREFIX],
        )
        .map_err(map)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let sessions: Vec<String> = admin
        .query(
            "SELECT DISTINCT coalesce(application_name, '') FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid()",
            &[],
        )
        .map_err(map)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut dropped = Vec::new();
    for schema in schemas {
        let Some(token) = scratch::token_of(&schema) else {
            continue;
        };
        let owner = scratch::owner_name(token);
        if sessions.iter().any(|s| *s == owner || *s == schema) {
            continue;
        }
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_identifier(&schema)
            ))
            .map_err(|e| crate::error::map("dropping an abandoned test schema", &e))?;
        dropped.push(schema);
    }
    Ok(dropped)
}

impl fmt::Debug for IsolatedSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IsolatedSchema").field(&self.store).finish()
    }
}

impl std::ops::Deref for IsolatedSchema {
    type Target = PostgresUserEngineStore;
    fn deref(&self) -> &PostgresUserEngineStore {
        self.store()
    }
}

user_engine::delegate_store!(IsolatedSchema => |isolated| isolated.store());
