//! The MySQL/MariaDB adapter of the user-engine store boundary: [`MysqlUserEngineStore`], on
//! real InnoDB transactions.
//!
//! A second transaction design beside the buffered, optimistic one the other SQL adapters use: a
//! transaction here is a database transaction held open from `begin` to `commit`, its writes sent
//! to the server as they are made and guarded by row locks, so a second writer of the same record
//! waits for the first instead of failing at commit. Sessions run at READ COMMITTED. A delete
//! keeps a tombstone row, so a key's versions never repeat. Audit entries and outbox events are
//! numbered under a one-row commit-order lock at commit, so a relay never skips a transaction that
//! commits late. `migrations/mysql/*.sql` are applied verbatim under a named lock (`GET_LOCK`).
//! Driver errors become typed [`user_engine::StoreError`]s that never carry a row value. See
//! `docs/adapters/mysql.md`.
//!
//! [`testing::IsolatedDatabase`] gives each test a fresh database on the server named by
//! `USER_ENGINE_MYSQL_URL`, and drops it afterwards.
//!
//! ```no_run
//! use serde_json::json;
//! use user_engine::{Expectation, Payload, RecordKey, RecordWrite, UserEngineStore};
//! use user_engine_mysql::MysqlUserEngineStore;
//!
//! # fn main() -> Result<(), user_engine::StoreError> {
//! let store = MysqlUserEngineStore::connect("mysql://root@127.0.0.1:3306/test")?;
//! store.migrate()?;
//! let key = RecordKey::parse("acme/profile/p1")?;
//! let mut tx = store.begin()?;
//! let write = RecordWrite { key: key.clone(), user: None, payload: Payload::new(json!({"name": "Ada"})) };
//! tx.save(write, Expectation::Any)?; // the row is written and locked now
//! tx.commit()?;
//! assert!(store.get(&key)?.is_some());
//! # Ok(())
//! # }
//! ```

mod commit;
mod error;
mod hooks;
mod in_doubt;
mod lifecycle;
mod pool;
mod rows;
mod store;
pub mod testing;
mod transaction;

pub use store::MysqlUserEngineStore;

/// The capabilities this adapter declares to the conformance suite (`conformance_suite!`'s
/// `capabilities`, and the `user-engine conformance` command), each one honestly held:
///
/// - `migration_tamper`: `ConformanceHooks::tamper_applied_migration` rewrites a recorded checksum;
/// - `fault_injection`: `ConformanceHooks::inject_fault` fails the next commit just before its
///   K-th change, inside the database transaction, which rolls back;
/// - `backend_termination`: `inject_fault` can instead kill the committing session from a second
///   connection (`KILL CONNECTION`) just before the K-th change; the dead connection is dropped;
/// - `durable_reopen`: `ConformanceHooks::reopen` closes every pooled connection and reconnects;
/// - `stepwise_migration`: `ConformanceHooks::migrate_to` applies the manifest up to a version.
///
/// Not `commit_time_conflicts`: writers here do wait for each other (an open transaction holds
/// the row locks of what it wrote), and a broken guard fails the write, not the commit. A second
/// transaction on the same thread that writes the same record would wait for the first for ever.
///
/// ```
/// assert!(!user_engine_mysql::CAPABILITIES.contains(&"commit_time_conflicts"));
/// ```
pub const CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "fault_injection",
    "backend_termination",
    "durable_reopen",
    "stepwise_migration",
];

/// The driver, re-exported so callers of [`MysqlUserEngineStore::with_opts`] name the same
/// `mysql::Opts` this crate was built with.
pub use mysql;
