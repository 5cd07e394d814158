//! The shared behaviour and hook checks (`behaviour.rs`, `hooks.rs`), one test each, against a
//! fresh temporary store.

use user_engine::{ErrorKind, InjectedFault, UserEngineStore};
use user_engine_sqlite::testing::TempSqliteStore;

use crate::{behaviour, hooks};

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

#[test]
fn a_commit_fault_at_every_change_leaves_nothing() {
    hooks::a_fault_at_every_change_leaves_nothing(&migrated(), |change| {
        InjectedFault::CommitFailsAt { change }
    });
}

#[test]
fn a_fault_is_used_up_by_the_next_commit() {
    hooks::a_fault_is_used_up_by_the_next_commit(&migrated());
}

#[test]
fn reopen_keeps_committed_work_only() {
    hooks::reopen_keeps_committed_work_only(&migrated());
}

#[test]
fn backend_termination_is_unsupported_and_arms_nothing() {
    let store = migrated();
    let err = hooks::hooks(&store)
        .inject_fault(InjectedFault::TerminateBackendAt { change: 1 })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    store.begin().unwrap().commit().unwrap();
}
