//! The conformance hooks on a server: commit failures and backend termination at every change
//! leave nothing, a terminated session is dropped from the pool and the store serves on, and
//! `reopen` closes every pooled connection.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use user_engine::{ErrorKind, Expectation, InjectedFault, UserEngineStore};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks as hooks;
use user_engine::conformance::checks::{key, save, write};

/// Runs `check` on a fresh, migrated store, or reports the skip.
fn with_migrated(check: impl FnOnce(&IsolatedSchema)) {
    if let Some(db) = IsolatedSchema::from_env() {
        db.migrate().unwrap();
        check(&db);
    }
}

/// The server processes of the store's sessions (its `application_name` is the schema's name),
/// other than `admin`'s own.
fn store_backends(admin: &mut postgres::Client, db: &IsolatedSchema) -> BTreeSet<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&db.name()],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Waits until `gone` is no longer among the store's sessions: a terminated backend takes a
/// moment to exit.
fn wait_until_gone(admin: &mut postgres::Client, db: &IsolatedSchema, gone: &BTreeSet<i32>) {
    let started = Instant::now();
    while !store_backends(admin, db).is_disjoint(gone) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "backends {gone:?} never exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn commit_one_save(db: &IsolatedSchema, id: &str) -> Result<(), user_engine::StoreError> {
    save(
        db,
        write(&format!("acme/user/{id}"), None, json!({})),
        Expectation::Absent,
    )
    .map(drop)
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_backend_terminated_at_every_change_leaves_nothing() {
    with_migrated(|db| {
        hooks::a_fault_at_every_change_leaves_nothing(db, |change| {
            InjectedFault::TerminateBackendAt { change }
        });
    });
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_terminated_backend_is_dropped_from_the_pool_and_the_store_serves_on() {
    with_migrated(|db| {
        let mut admin = db.raw_client().unwrap();
        commit_one_save(db, "u1").unwrap();
        let before = store_backends(&mut admin, db);
        assert_eq!(before.len(), 1, "one call at a time: one pooled session");

        db.conformance_hooks()
            .unwrap()
            .inject_fault(InjectedFault::TerminateBackendAt { change: 1 })
            .unwrap();
        let err = commit_one_save(db, "u2").unwrap_err();
        // Told as the server's 57P01 admin_shutdown report or, when the socket's closing
        // overtakes the report, as a closed or reset connection: which one is a race, so only
        // the kind and the step are checked (the fault strikes before COMMIT is sent).
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.to_string().contains("while committing"), "{err}");
        wait_until_gone(&mut admin, db, &before);

        // The dead connection was not pooled again: the very next call succeeds, on a new session.
        assert_eq!(db.get(&key("acme/user/u2")).unwrap(), None);
        assert!(db.get(&key("acme/user/u1")).unwrap().is_some());
        let after = store_backends(&mut admin, db);
        assert_eq!(after.len(), 1);
        assert!(after.is_disjoint(&before));
        commit_one_save(db, "u2").unwrap();
    });
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_commit_failure_rolls_back_and_keeps_its_healthy_session() {
    with_migrated(|db| {
        let mut admin = db.raw_client().unwrap();
        commit_one_save(db, "u1").unwrap();
        let before = store_backends(&mut admin, db);
        db.conformance_hooks()
            .unwrap()
            .inject_fault(InjectedFault::CommitFailsAt { change: 2 })
            .unwrap();
        let err = commit_one_save(db, "u2").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        // No transaction is left open on the server, and the session is reused.
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() AND state <> 'idle'",
                &[&db.name()],
            )
            .unwrap()
            .get(0);
        assert_eq!(open, 0);
        assert_eq!(db.get(&key("acme/user/u2")).unwrap(), None);
        assert_eq!(store_backends(&mut admin, db), before);
    });
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn reopen_closes_every_pooled_session_and_connects_anew() {
    with_migrated(|db| {
        let mut admin = db.raw_client().unwrap();
        commit_one_save(db, "u1").unwrap();
        let before = store_backends(&mut admin, db);
        assert!(!before.is_empty());
        db.conformance_hooks().unwrap().reopen().unwrap();
        wait_until_gone(&mut admin, db, &before);
        let after = store_backends(&mut admin, db);
        assert_eq!(
            after.len(),
            1,
            "reopen connects once, so an unreachable server is reported"
        );
        assert!(db.get(&key("acme/user/u1")).unwrap().is_some());
        assert_eq!(
            store_backends(&mut admin, db),
            after,
            "and that session serves"
        );
    });
}
