//! The shared behaviour checks (`behaviour.rs`), one test each, against a fresh temporary store.

use user_engine_sqlite::testing::TempSqliteStore;

use crate::behaviour;

fn fresh() -> TempSqliteStore {
    TempSqliteStore::new()
}

fn migrated() -> TempSqliteStore {
    behaviour::migrated(fresh())
}

#[test]
fn migrate_and_readiness() {
    behaviour::migrate_and_readiness(&fresh());
}

#[test]
fn round_trip() {
    behaviour::round_trip(&migrated());
}

#[test]
fn versions_and_conflicts() {
    behaviour::versions_and_conflicts(&migrated());
}

#[test]
fn refused_writes_change_nothing() {
    behaviour::refused_writes_change_nothing(&migrated());
}

#[test]
fn concurrent_commits() {
    behaviour::concurrent_commits(&migrated());
}

#[test]
fn rollback_drop_and_panic() {
    behaviour::rollback_drop_and_panic(&migrated());
}

#[test]
fn tenant_isolation_and_pagination() {
    behaviour::tenant_isolation_and_pagination(&migrated());
}

#[test]
fn outbox_order_ack_and_redelivery() {
    behaviour::outbox_order_ack_and_redelivery(&migrated());
}

#[test]
fn audit_in_commit_order() {
    behaviour::audit_in_commit_order(&migrated());
}

#[test]
fn drift() {
    behaviour::drift(&migrated());
}

#[test]
fn nothing_leaks() {
    behaviour::nothing_leaks(&migrated());
}
