//! The PostgreSQL adapter's integration tests: one binary, modules by concern.
//!
//! They need a server: `USER_ENGINE_POSTGRES_URL='host=127.0.0.1 user=root dbname=test'`.
//! Without it each test prints `skipped: USER_ENGINE_POSTGRES_URL is not set` and passes; with
//! `USER_ENGINE_REQUIRE_POSTGRES=1` a missing or unreachable server fails them. Every test runs
//! in a fresh schema (`IsolatedSchema`), dropped afterwards and kept when the test panicked.

// The same generic checks the SQLite adapter runs, shared by path so both are held to one text.
#[path = "../../../sqlite/tests/it/behaviour.rs"]
mod behaviour;
mod concurrency;
mod conformance;
mod connecting;
mod outbox;
mod redaction;
mod schema;
mod store;
