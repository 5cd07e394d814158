//! The MySQL/MariaDB adapter's integration tests: one binary, modules by concern, and the whole
//! conformance spec as `conformance::<area>::<name>` — the same names as the reference run.
//!
//! They need a server: `USER_ENGINE_MYSQL_URL=mysql://root@127.0.0.1:3306/test`. Without it every
//! test that needs the server — the conformance suite and most modules below — is listed as
//! ignored with that reason, never as a pass (the variable is read when the tests are built, by
//! `#[user_engine::needs_env]` and the macro's `ignore_unless_env`; setting or clearing it rebuilds them). With
//! `USER_ENGINE_REQUIRE_MYSQL=1` a missing or unusable server fails
//! `mysql_is_reachable_when_required`. Every test runs in a fresh database (`IsolatedDatabase`),
//! dropped afterwards and kept when the test panicked.

mod connecting;
mod locking;
mod outbox;
mod packaged_copies;
mod payloads;
mod redaction;
mod schema;
mod support;

use user_engine_mysql::testing::{self, IsolatedDatabase};

/// The conformance factory: a fresh, unmigrated store in a database of its own, dropped with it.
fn fresh_database() -> IsolatedDatabase {
    match IsolatedDatabase::from_env() {
        Ok(Some(db)) => db,
        Ok(None) => panic!(
            "{} is not set: the conformance tests need a server (they were built with it set)",
            testing::URL_VAR
        ),
        Err(err) => panic!("no test database: {err}"),
    }
}

/// The factory of the scenarios that start migrated: a database from the process's pool of
/// recycled ones (emptied, still ready), or a new one migrated now.
fn migrated_database() -> IsolatedDatabase {
    match IsolatedDatabase::migrated_from_env() {
        Ok(Some(db)) => db,
        Ok(None) => panic!(
            "{} is not set: the conformance tests need a server (they were built with it set)",
            testing::URL_VAR
        ),
        Err(err) => panic!("no test database: {err}"),
    }
}

// The list is `user_engine_mysql::CAPABILITIES`; `suite_declares_the_published_capabilities`
// keeps the two equal. Not `commit_time_conflicts`: see the constant's docs.
user_engine::conformance_suite! {
    factory: fresh_database,
    migrated_factory: migrated_database,
    capabilities: [migration_tamper, fault_injection, backend_termination, durable_reopen, stepwise_migration],
    ignore_unless_env: "USER_ENGINE_MYSQL_URL",
}

#[test]
fn suite_declares_the_published_capabilities() {
    assert_eq!(conformance::CAPABILITIES, user_engine_mysql::CAPABILITIES);
}

/// The one test that says whether this run reached MySQL at all: it fails when
/// `USER_ENGINE_REQUIRE_MYSQL=1` and the URL is missing or the server cannot be used, and prints
/// `skipped: USER_ENGINE_MYSQL_URL is not set` when the URL is missing otherwise.
#[test]
fn mysql_is_reachable_when_required() {
    if let Err(err) = IsolatedDatabase::from_env() {
        panic!("{err}");
    }
}
