//! Migrations on PostgreSQL: concurrent migrators, schema creation and isolation, the file
//! recorded as shipped, drift and a newer schema.

use std::sync::{Arc, Barrier};

use serde_json::json;
use user_engine::migration::checksum;
use user_engine::{
    Expectation, LATEST_SCHEMA_VERSION, NotReadyReason, Readiness, StoreError, UserEngineStore,
};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks::{key, save, write};

fn recorded_versions(db: &IsolatedSchema) -> Vec<(i32, String)> {
    let mut client = db.raw_client().unwrap();
    client
        .query(
            "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The checksum of a shipped migration file, read from disk (not from the adapter's copy).
fn shipped_checksum_of(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(file);
    checksum(&std::fs::read_to_string(path).unwrap())
}

fn shipped_checksum() -> String {
    shipped_checksum_of("0001_user_engine_store.sql")
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn concurrent_migrators_on_one_fresh_schema_apply_once() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    let migrators: Vec<_> = (0..4).map(|_| db.connect_another().unwrap()).collect();
    let barrier = Arc::new(Barrier::new(migrators.len()));
    let mut reports: Vec<Vec<u32>> = std::thread::scope(|s| {
        let handles: Vec<_> = migrators
            .iter()
            .map(|store| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    store.migrate()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap().applied)
            .collect()
    });
    reports.sort();
    let everything: Vec<u32> = (1..=LATEST_SCHEMA_VERSION).collect();
    assert_eq!(
        reports,
        [vec![], vec![], vec![], everything],
        "every migrator returned, one applied"
    );
    assert_eq!(recorded_versions(&db).len(), LATEST_SCHEMA_VERSION as usize);
    assert!(db.readiness().is_ready());
    assert!(migrators.iter().all(|m| m.readiness().is_ready()));
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn migrate_creates_a_missing_schema_and_schemas_are_isolated() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.raw_client()
        .unwrap()
        .batch_execute(&format!("DROP SCHEMA \"{}\"", db.name()))
        .unwrap();
    assert_eq!(
        db.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::NotMigrated
        }
    );
    assert_eq!(
        db.migrate().unwrap().applied,
        (1..=LATEST_SCHEMA_VERSION).collect::<Vec<_>>()
    );
    assert!(db.readiness().is_ready());

    let Some(other) = IsolatedSchema::from_env() else {
        return;
    };
    other.migrate().unwrap();
    save(
        &*db,
        write("acme/user/u1", None, json!({"in": "first"})),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(
        other.get(&key("acme/user/u1")).unwrap(),
        None,
        "another schema is another store"
    );
    save(
        &*other,
        write("acme/user/u1", None, json!({"in": "second"})),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(
        db.get(&key("acme/user/u1"))
            .unwrap()
            .unwrap()
            .payload
            .expose(),
        &json!({"in": "first"})
    );

    let mut client = db.raw_client().unwrap();
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'user_engine_%'",
            &[&db.name()],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 4, "the tables live in the store's schema");
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn the_recorded_checksum_is_that_of_the_shipped_file() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    assert_eq!(
        recorded_versions(&db),
        [
            (1, shipped_checksum()),
            (2, shipped_checksum_of("0002_versions_survive_delete.sql"))
        ]
    );
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn drift_blocks_migrate_and_work_but_not_diagnostics() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    let mut client = db.raw_client().unwrap();
    client
        .execute(
            "UPDATE user_engine_schema_versions SET checksum = 'edited' WHERE version = 1",
            &[],
        )
        .unwrap();
    assert_eq!(
        db.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::Drift { version: 1 }
        }
    );
    match db.migrate().unwrap_err() {
        StoreError::MigrationDrift {
            version: 1,
            recorded,
            expected,
        } => {
            assert_eq!(recorded, "edited");
            assert_eq!(expected, shipped_checksum());
        }
        other => panic!("expected drift, got {other}"),
    }
    // The drifted migration is not the latest one: diagnostics still report the latest applied.
    assert_eq!(
        db.diagnostics().unwrap().schema_version,
        Some(LATEST_SCHEMA_VERSION)
    );
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_schema_newer_than_this_release_is_reported_ahead() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    let mut client = db.raw_client().unwrap();
    let future = i32::try_from(LATEST_SCHEMA_VERSION + 1).unwrap();
    client
        .execute("INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES ($1, 'future', 'x')", &[&future])
        .unwrap();
    let ahead = NotReadyReason::Ahead {
        current: LATEST_SCHEMA_VERSION + 1,
        latest: LATEST_SCHEMA_VERSION,
    };
    assert_eq!(
        db.readiness(),
        Readiness::NotReady {
            reason: ahead.clone()
        }
    );
    assert_eq!(
        db.migrate().unwrap_err(),
        StoreError::NotReady { reason: ahead }
    );
}

/// A schema handed back to the pool comes out again as a new migrated store would be: empty,
/// ready, no fault armed from the test before, its sequences restarted. (Within one process the next `migrated` takes the schema just returned; a test
/// running beside this one may take it first, and then this one gets another — the properties
/// hold for either.)
#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_recycled_schema_comes_back_empty_with_nothing_armed() {
    use user_engine::InjectedFault;
    use user_engine::conformance::checks::message;
    let Some(first) = IsolatedSchema::migrated_from_env() else {
        return;
    };
    let name = first.name().to_owned();
    save(
        &first,
        write("acme/profile/p1", None, json!({"display_name": "Ada"})),
        Expectation::Any,
    )
    .unwrap();
    let mut tx = first.begin().unwrap();
    tx.enqueue(message("acme", "profile.saved", "p1")).unwrap();
    tx.commit().unwrap();
    let hooks = first.conformance_hooks().unwrap();
    hooks
        .inject_fault(InjectedFault::CommitFailsAt { change: 1 })
        .unwrap();
    drop(first);

    let second = IsolatedSchema::migrated_from_env().unwrap();
    assert!(second.readiness().is_ready());
    let diagnostics = second.diagnostics().unwrap();
    assert_eq!(
        diagnostics.records.values().sum::<u64>(),
        0,
        "{diagnostics:?}"
    );
    assert_eq!(diagnostics.outbox_pending, 0);
    // No fault left armed: this commit goes through.
    save(
        &second,
        write("acme/profile/p2", None, json!({"display_name": "Eve"})),
        Expectation::Absent,
    )
    .unwrap();
    // Sequences restarted: the first event of the new test is event 1 again.
    let mut tx = second.begin().unwrap();
    tx.enqueue(message("acme", "profile.saved", "p2")).unwrap();
    tx.commit().unwrap();
    let pending = second.outbox_pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    if second.name() == name {
        assert_eq!(
            pending[0].id.0, 1,
            "the recycled schema's sequences restart"
        );
    }
}
