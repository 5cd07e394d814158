//! The reference run: the whole conformance spec against `InMemoryUserEngineStore`, through the
//! public macro exactly as an adapter author invokes it.

user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    capabilities: [migration_tamper, stepwise_migration, commit_time_conflicts, fault_injection],
}
