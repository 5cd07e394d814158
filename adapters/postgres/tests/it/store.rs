//! What the store does on PostgreSQL beyond the generated scenarios and behaviour checks
//! (`conformance::`, `conformance_checks::`): jsonb's number handling and the adapter's own paths.

use user_engine::UserEngineStore;
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks as behaviour;

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
