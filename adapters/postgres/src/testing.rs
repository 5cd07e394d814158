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
//! session left — a run killed hard — never one a live run owns.

use std::collections::HashMap;
use std::fmt;
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
    store: PostgresUserEngineStore,
    url: String,
    name: String,
    _registration: scratch::Registration,
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
            store,
            url: url.to_owned(),
            name,
            _registration: registration,
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
        &self.store
    }

    /// Another, independent store on the same schema (its own connections), as a second process
    /// would have. Its sessions' `application_name` is the schema's name too.
    pub fn connect_another(&self) -> Result<PostgresUserEngineStore, StoreError> {
        PostgresUserEngineStore::with_config(Self::config(&self.url, &self.name)?, &self.name)
    }

    /// A plain client whose `search_path` is this schema, for tests that need raw SQL.
    pub fn raw_client(&self) -> Result<postgres::Client, StoreError> {
        self.store.raw_client()
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
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept postgresql schema {} for inspection: the test panicked",
                self.name
            );
            return;
        }
        let sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_identifier(&self.name)
        );
        if let Err(err) = on_owner(&self.url, &sql) {
            eprintln!("could not drop postgresql test schema {}: {err}", self.name);
        }
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
    let mut owners = owners().lock().unwrap_or_else(PoisonError::into_inner);
    if owners.get(url).is_none_or(postgres::Client::is_closed) {
        let mut config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
        config.application_name(&scratch::owner_name(scratch::run_token()));
        let client = config
            .connect(postgres::NoTls)
            .map_err(|e| crate::error::connect(&config, &e))?;
        owners.insert(url.to_owned(), client);
    }
    let client = owners.get_mut(url).expect("inserted above");
    client
        .batch_execute(sql)
        .map_err(|e| crate::error::map("creating or dropping a test schema", &e))
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
        &self.store
    }
}

user_engine::delegate_store!(IsolatedSchema => |isolated| &isolated.store);
