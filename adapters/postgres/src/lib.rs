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
mod hooks;
mod lifecycle;
mod outcome;
mod pool;
mod rows;
mod store;
pub mod testing;
mod transaction;

pub use outcome::CommitResolutions;
pub use store::PostgresUserEngineStore;

/// The capabilities this adapter declares to the conformance suite (`conformance_suite!`'s
/// `capabilities`, and the `user-engine conformance` command), each one honestly held:
///
/// - `migration_tamper`: `ConformanceHooks::tamper_applied_migration` rewrites a recorded checksum;
/// - `commit_time_conflicts`: transactions buffer their writes (`user_engine::buffered`), hold no
///   connection until commit and check their guards then, so writers never wait for each other;
/// - `fault_injection`: `ConformanceHooks::inject_fault` fails the next commit just before its
///   K-th change, inside the database transaction, which rolls back;
/// - `backend_termination`: `inject_fault` can instead terminate the committing session's own
///   server backend just before the K-th change; the pool drops the dead connection;
/// - `stepwise_migration`: `ConformanceHooks::migrate_to` applies the manifest up to a version;
/// - `durable_reopen`: `ConformanceHooks::reopen` closes every pooled connection and reconnects.
///
/// ```
/// assert_eq!(user_engine_postgres::CAPABILITIES.len(), 6);
/// ```
pub const CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "fault_injection",
    "backend_termination",
    "durable_reopen",
    "stepwise_migration",
];

/// The driver, re-exported so callers of [`PostgresUserEngineStore::with_config`] name the same
/// `postgres::Config` this crate was built with.
pub use postgres;
