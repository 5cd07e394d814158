//! Test support: the server from the environment, and [`IsolatedSchema`], a store in a fresh,
//! uniquely named schema that is dropped afterwards (and kept, with its name printed, when the
//! test panicked).
//!
//! Tests read the server from `USER_ENGINE_POSTGRES_URL`. This crate's own tests are built
//! `#[ignore]` when it is unset (see `build.rs`); [`IsolatedSchema::from_env`] additionally prints
//! `skipped: USER_ENGINE_POSTGRES_URL is not set` and returns `None` for callers built with it set
//! but run without it. With `USER_ENGINE_REQUIRE_POSTGRES=1` a missing URL or an unreachable
//! server fails them instead.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use user_engine::StoreError;

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

    /// Creates a uniquely named schema on the server at `url` and connects a store to it.
    pub fn create(url: &str) -> Result<Self, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("ue_test_{}_{n}_{nanos:08x}", std::process::id());
        let mut admin = Self::admin(url)?;
        admin
            .batch_execute(&format!("CREATE SCHEMA {}", quote_identifier(&name)))
            .map_err(|e| crate::error::map("creating a test schema", &e))?;
        let mut config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
        // Lets a test find this store's sessions in pg_stat_activity.
        config.application_name(&name);
        let store = match PostgresUserEngineStore::with_config(config, &name) {
            Ok(store) => store,
            Err(err) => {
                // Best effort: the schema is empty, and the connect error is what matters.
                let _ = admin.batch_execute(&format!("DROP SCHEMA {}", quote_identifier(&name)));
                return Err(err);
            }
        };
        Ok(Self {
            store,
            url: url.to_owned(),
            name,
        })
    }

    /// A plain connection for creating and dropping schemas.
    fn admin(url: &str) -> Result<postgres::Client, StoreError> {
        let config: postgres::Config = url.parse().map_err(|_| invalid_url())?;
        config
            .connect(postgres::NoTls)
            .map_err(|e| crate::error::connect(&config, &e))
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
    /// would have. Its sessions' `application_name` is not the schema's.
    pub fn connect_another(&self) -> Result<PostgresUserEngineStore, StoreError> {
        PostgresUserEngineStore::connect(&self.url, &self.name)
    }

    /// A plain client whose `search_path` is this schema, for tests that need raw SQL.
    pub fn raw_client(&self) -> Result<postgres::Client, StoreError> {
        self.store.raw_client()
    }
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
        let dropped = Self::admin(&self.url).and_then(|mut admin| {
            admin
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    quote_identifier(&self.name)
                ))
                .map_err(|e| crate::error::map("dropping a test schema", &e))
        });
        if let Err(err) = dropped {
            eprintln!("could not drop postgresql test schema {}: {err}", self.name);
        }
    }
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
