//! The shared behaviour checks (`behaviour.rs`), one test each, against a fresh schema.

use user_engine::UserEngineStore;
use user_engine_postgres::testing::IsolatedSchema;

use crate::behaviour;

/// Runs `check` on a fresh, unmigrated store, or reports the skip.
fn with_fresh(check: impl FnOnce(&IsolatedSchema)) {
    if let Some(db) = IsolatedSchema::from_env() {
        check(&db);
    }
}

/// Runs `check` on a fresh, migrated store, or reports the skip.
fn with_migrated(check: impl FnOnce(&IsolatedSchema)) {
    with_fresh(|db| {
        db.migrate().unwrap();
        check(db)
    });
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn migrate_and_readiness() {
    with_fresh(behaviour::migrate_and_readiness);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn round_trip() {
    with_migrated(behaviour::round_trip);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn versions_and_conflicts() {
    with_migrated(behaviour::versions_and_conflicts);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn refused_writes_change_nothing() {
    with_migrated(behaviour::refused_writes_change_nothing);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn concurrent_commits() {
    with_migrated(behaviour::concurrent_commits);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn rollback_drop_and_panic() {
    with_migrated(behaviour::rollback_drop_and_panic);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn tenant_isolation_and_pagination() {
    with_migrated(behaviour::tenant_isolation_and_pagination);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn outbox_order_ack_and_redelivery() {
    with_migrated(behaviour::outbox_order_ack_and_redelivery);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn audit_in_commit_order() {
    with_migrated(behaviour::audit_in_commit_order);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn drift() {
    with_migrated(behaviour::drift);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn nothing_leaks() {
    with_migrated(behaviour::nothing_leaks);
}

/// A documented limit (docs/adapters/postgres.md): jsonb stores numbers as `numeric`, so a float
/// with a large integral value comes back as an integer. Everything else round-trips exactly.
#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn jsonb_normalises_some_numbers() {
    with_migrated(|db| {
        let body =
            serde_json::json!({"small": 1.5, "integral": 2.0, "int": 3, "big": 1e16, "neg": -4});
        let saved = behaviour::save(
            db,
            behaviour::write("acme/preference/n", None, body.clone()),
            user_engine::Expectation::Absent,
        )
        .unwrap();
        let read = db.get(&saved.key).unwrap().unwrap();
        let value = read.payload.expose();
        for field in ["small", "integral", "int", "neg"] {
            assert_eq!(value[field], body[field], "{field}");
        }
        assert_eq!(
            value["big"],
            serde_json::json!(10_000_000_000_000_000_u64),
            "1e16 comes back as an integer"
        );
        assert_ne!(value["big"], body["big"]);
    });
}
