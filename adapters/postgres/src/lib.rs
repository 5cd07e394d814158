//! The PostgreSQL adapter of the user-engine store boundary: [`PostgresUserEngineStore`].
//!
//! It applies `migrations/postgres/*.sql` verbatim inside its own transaction under an advisory
//! lock, records each with [`user_engine::migration::checksum`] of its text, keeps every table in
//! one schema (each connection's `search_path`), and behaves exactly like the reference
//! [`user_engine::InMemoryUserEngineStore`]. Outbox events are read in commit order and a
//! transaction that commits late is never skipped. Database errors are mapped to typed
//! [`user_engine::StoreError`]s that never carry a row value. See `docs/adapters/postgres.md`.
//!
//! [`testing::IsolatedSchema`] gives each test a fresh schema on the server named by
//! `USER_ENGINE_POSTGRES_URL`, and drops it afterwards.
//!
//! ```no_run
//! use serde_json::json;
//! use user_engine::{Expectation, Payload, RecordKey, RecordWrite, UserEngineStore};
//! use user_engine_postgres::PostgresUserEngineStore;
//!
//! # fn main() -> Result<(), user_engine::StoreError> {
//! let store = PostgresUserEngineStore::connect("postgres://root@127.0.0.1:5432/test", "user_engine")?;
//! store.migrate()?;
//! let key = RecordKey::parse("acme/profile/p1")?;
//! let mut tx = store.begin()?;
//! tx.save(RecordWrite { key: key.clone(), user: None, payload: Payload::new(json!({"name": "Ada"})) }, Expectation::Any)?;
//! tx.commit()?;
//! assert!(store.get(&key)?.is_some());
//! # Ok(())
//! # }
//! ```

mod error;
mod lifecycle;
mod pool;
mod rows;
mod store;
pub mod testing;
mod transaction;

pub use store::PostgresUserEngineStore;

/// The driver, re-exported so callers of [`PostgresUserEngineStore::with_config`] name the same
/// `postgres::Config` this crate was built with.
pub use postgres;
