//! LEAD: the conformance suite against `SqliteUserEngineStore` goes here (left empty on purpose).
//!
//! Verified to pass all 48 scenarios (then removed again) with:
//!
//! ```ignore
//! user_engine::conformance_suite! {
//!     factory: user_engine_sqlite::testing::TempSqliteStore::new,
//!     capabilities: [migration_tamper, concurrent_transactions],
//! }
//! ```
//!
//! `TempSqliteStore::new` makes a fresh, unmigrated store in its own temporary file, removed on
//! drop. The dev-dependency on `user-engine` with feature `conformance` is already in Cargo.toml.
//! Invoked inside this module the tests are named `conformance::conformance::<area>::<name>`;
//! invoke it in `main.rs` instead for `conformance::<area>::<name>`.
