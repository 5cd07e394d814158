//! The embedded durable adapter of the user-engine store boundary: [`SqliteUserEngineStore`],
//! one SQLite file (bundled SQLite, nothing to install) in WAL mode.
//!
//! It applies `migrations/sqlite/*.sql` verbatim, records each with
//! [`user_engine::migration::checksum`] of its text, and behaves exactly like the reference
//! [`user_engine::InMemoryUserEngineStore`]: its transactions keep their writes in the engine's
//! optional write buffer ([`user_engine::buffered::WriteBuffer`]), applied at commit in one
//! `BEGIN IMMEDIATE` transaction that re-checks guarded expectations. See
//! `docs/adapters/sqlite.md` for isolation, locking, the outbox and known limits.
//!
//! ```
//! use serde_json::json;
//! use user_engine::{Expectation, Payload, RecordKey, RecordWrite, UserEngineStore};
//! use user_engine_sqlite::testing::TempSqliteStore;
//!
//! # fn main() -> Result<(), user_engine::StoreError> {
//! let store = TempSqliteStore::new(); // or SqliteUserEngineStore::open("users.db")?
//! store.migrate()?;
//! let key = RecordKey::parse("acme/profile/p1")?;
//! let mut tx = store.begin()?;
//! tx.save(RecordWrite { key: key.clone(), user: None, payload: Payload::new(json!({"name": "Ada"})) }, Expectation::Absent)?;
//! tx.commit()?;
//! assert_eq!(store.get(&key)?.map(|r| r.version), Some(1));
//! # Ok(())
//! # }
//! ```

mod error;
mod hooks;
mod lifecycle;
mod rows;
mod store;
pub mod testing;
mod transaction;

pub use store::SqliteUserEngineStore;

/// The capabilities this adapter declares to the conformance suite (`conformance_suite!`'s
/// `capabilities`, and the `user-engine conformance` command), each one honestly held:
///
/// - `migration_tamper`: `ConformanceHooks::tamper_applied_migration` rewrites a recorded checksum;
/// - `commit_time_conflicts`: transactions buffer their writes (`user_engine::buffered`) and
///   check their guards at commit, so writers never wait for each other;
/// - `fault_injection`: `ConformanceHooks::inject_fault` fails the next commit just before its
///   K-th change, inside the SQLite transaction, which rolls back;
/// - `stepwise_migration`: `ConformanceHooks::migrate_to` applies the manifest up to a version;
/// - `durable_reopen`: `ConformanceHooks::reopen` closes the connection and opens the file again.
///
/// Not `backend_termination`: an embedded database has no server connection to kill.
///
/// ```
/// assert!(!user_engine_sqlite::CAPABILITIES.contains(&"backend_termination"));
/// ```
pub const CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "fault_injection",
    "durable_reopen",
    "stepwise_migration",
];
