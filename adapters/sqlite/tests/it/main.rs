//! The SQLite adapter's integration tests: one binary, modules by concern, and the whole
//! conformance spec as `conformance::<area>::<name>` — the same names as the reference run.

mod durability;
mod packaged_copies;

// Each test gets a fresh, unmigrated store in its own temporary file, removed afterwards. The
// list is `user_engine_sqlite::CAPABILITIES`; `suite_declares_the_published_capabilities` keeps
// the two equal.
user_engine::conformance_suite! {
    factory: user_engine_sqlite::testing::TempSqliteStore::new,
    capabilities: [migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, stepwise_migration],
    explore: {cases: 150, seed: 1},
}

#[test]
fn suite_declares_the_published_capabilities() {
    assert_eq!(conformance::CAPABILITIES, user_engine_sqlite::CAPABILITIES);
}
