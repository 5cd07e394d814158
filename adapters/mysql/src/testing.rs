//! Test support for anyone testing against this adapter: the server from the environment, and
//! [`IsolatedDatabase`], a store in a fresh, uniquely named database that is dropped afterwards
//! (and kept, with its name printed, when the test panicked).
//!
//! Tests read the server from `USER_ENGINE_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`
//! (the database in the URL only has to exist: each test gets a database of its own beside it).
//! This crate's own tests are built `#[ignore]` when it is unset (see `build.rs`). With
//! `USER_ENGINE_REQUIRE_MYSQL=1` a missing URL or an unusable server is an error instead of a
//! skip. Nothing here panics: every failure is a one-line [`StoreError`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};
use user_engine::StoreError;

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

    /// Creates a uniquely named database (`ue_test_…`) on the server at `url` and connects an
    /// unmigrated store to it. A malformed URL or an unreachable server is `unavailable`, in one
    /// line that never repeats the password.
    pub fn create(url: &str) -> Result<Self, StoreError> {
        let admin = Opts::from_url(url).map_err(|_| {
            StoreError::unavailable(format!(
                "the test server's url (normally {URL_VAR}) is malformed; expected mysql://user[:password]@host[:port]/database"
            ))
        })?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("ue_test_{}_{n}_{nanos:08x}", std::process::id());
        run_admin(
            &admin,
            &format!(
                "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                quote_identifier(&name)
            ),
            "creating a test database",
        )?;
        let opts: Opts = OptsBuilder::from_opts(admin.clone())
            .db_name(Some(&name))
            .into();
        let store = match MysqlUserEngineStore::with_opts(opts) {
            Ok(store) => store,
            Err(err) => {
                // Best effort: the database is empty, and the connect error is what matters.
                let _ = run_admin(&admin, &drop_database(&name), "dropping a test database");
                return Err(err);
            }
        };
        Ok(Self { store, admin, name })
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
        MysqlUserEngineStore::with_opts(
            OptsBuilder::from_opts(self.admin.clone())
                .db_name(Some(&self.name))
                .into(),
        )
    }

    /// A plain driver connection to this database, for tests that need raw SQL.
    pub fn raw_connection(&self) -> Result<Conn, StoreError> {
        let opts: Opts = OptsBuilder::from_opts(self.admin.clone())
            .db_name(Some(&self.name))
            .into();
        Conn::new(opts).map_err(|e| crate::error::connect(self.store.server(), &e))
    }
}

/// Runs one statement on a short-lived connection to the server.
fn run_admin(opts: &Opts, sql: &str, what: &'static str) -> Result<(), StoreError> {
    let place = format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port());
    let mut conn = Conn::new(opts.clone()).map_err(|e| crate::error::connect(&place, &e))?;
    conn.query_drop(sql)
        .map_err(|e| crate::error::map(what, &e))
}

fn drop_database(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {}", quote_identifier(name))
}

/// `name` as a backquoted identifier.
fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Drop for IsolatedDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept mysql database {} for inspection: the test panicked",
                self.name
            );
            return;
        }
        // Close the store's sessions first: DROP DATABASE would wait for any open transaction.
        self.store.close_connections();
        if let Err(err) = run_admin(
            &self.admin,
            &drop_database(&self.name),
            "dropping a test database",
        ) {
            eprintln!("could not drop mysql test database {}: {err}", self.name);
        }
    }
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
