//! The PostgreSQL adapter's integration tests: one binary, modules by concern, and the whole
//! conformance spec as `conformance::<area>::<name>` — the same names as the reference run.
//!
//! They need a server: `USER_ENGINE_POSTGRES_URL='host=127.0.0.1 user=root dbname=test'`.
//! Without it every test that needs the server — the conformance suite and the modules below —
//! is listed as ignored with that reason, never as a pass (the variable is read when the tests are
//! built, by `#[user_engine::needs_env]` and the macro's `ignore_unless_env`; setting or clearing it rebuilds them). With `USER_ENGINE_REQUIRE_POSTGRES=1`
//! a missing or unreachable server fails `postgres_is_reachable_when_required` and the tests
//! that would have used it. Every test runs in a fresh schema (`IsolatedSchema`), dropped
//! afterwards and kept when the test panicked.

mod bulk;
mod concurrency;
mod connecting;
mod faults;
mod in_doubt;
mod outbox;
mod packaged_copies;
mod redaction;
mod schema;
mod store;

use user_engine_postgres::testing::{self, IsolatedSchema};

/// The conformance factory: a fresh, unmigrated store in a schema of its own, dropped with it.
fn fresh_schema() -> IsolatedSchema {
    IsolatedSchema::from_env().unwrap_or_else(|| {
        panic!(
            "{} is not set: the conformance tests need a server (they were built with it set)",
            testing::URL_VAR
        )
    })
}

/// The factory of the scenarios that start migrated: a schema from the process's pool of
/// recycled ones (emptied, its migrations checked), or a new one migrated now.
fn migrated_schema() -> IsolatedSchema {
    IsolatedSchema::migrated_from_env().unwrap_or_else(|| {
        panic!(
            "{} is not set: the conformance tests need a server (they were built with it set)",
            testing::URL_VAR
        )
    })
}

// The list is `user_engine_postgres::CAPABILITIES`; `suite_declares_the_published_capabilities`
// keeps the two equal.
user_engine::conformance_suite! {
    factory: fresh_schema,
    migrated_factory: migrated_schema,
    capabilities: [migration_tamper, commit_time_conflicts, fault_injection, backend_termination, durable_reopen, stepwise_migration],
    ignore_unless_env: "USER_ENGINE_POSTGRES_URL",
}

#[test]
fn suite_declares_the_published_capabilities() {
    assert_eq!(
        conformance::CAPABILITIES,
        user_engine_postgres::CAPABILITIES
    );
}

/// The one test that says whether this run reached PostgreSQL at all: it fails when
/// `USER_ENGINE_REQUIRE_POSTGRES=1` and the URL is missing or the server cannot be used, and
/// prints `skipped: USER_ENGINE_POSTGRES_URL is not set` when the URL is missing otherwise.
#[test]
fn postgres_is_reachable_when_required() {
    let Some(url) = testing::url_from_env() else {
        return;
    };
    if let Err(err) = IsolatedSchema::create(&url) {
        panic!(
            "{} is set but no schema could be created there: {err}",
            testing::URL_VAR
        );
    }
}
