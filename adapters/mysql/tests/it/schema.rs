//! The schema and its migrations: every file can run again (MySQL commits DDL statement by
//! statement, so an interrupted migration is finished by running it once more), a store migrated
//! by an older release upgrades with its data, and migrators in separate processes apply each
//! version once under the named lock, which they release.

use std::sync::Barrier;
use std::thread;

use serde_json::json;
use user_engine::{
    ConformanceHooks, ErrorKind, EventId, Expectation, LATEST_SCHEMA_VERSION, MIGRATIONS,
    NotReadyReason, Readiness, UserEngineStore,
};

use crate::support::{database, key, raw_batch, raw_rows, save, write};

fn sql(version: usize) -> &'static str {
    [
        include_str!("../../migrations/0001_user_engine_store.sql"),
        include_str!("../../migrations/0002_versions_survive_delete.sql"),
    ][version - 1]
}

fn hooks(store: &impl UserEngineStore) -> &dyn ConformanceHooks {
    store.conformance_hooks().expect("the adapter has hooks")
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn every_migration_file_applies_twice_to_a_fresh_database() {
    let db = database();
    assert_eq!(MIGRATIONS.len(), 2, "a new migration needs a line here");
    for pass in 1..=2 {
        for version in 1..=MIGRATIONS.len() {
            raw_batch(&db, sql(version))
                .unwrap_or_else(|e| panic!("file {version}, pass {pass}: {e}"));
        }
    }
    let tables = raw_rows(
        &db,
        "SELECT COUNT(*) FROM information_schema.tables
         WHERE table_schema = DATABASE() AND table_name LIKE 'user\\_engine\\_%'",
    );
    assert_eq!(tables, [[Some("5".to_owned())]]);
    assert_eq!(
        raw_rows(&db, "SELECT id, seq FROM user_engine_commit_order"),
        [[Some("1".to_owned()), Some("0".to_owned())]],
        "one commit-order row, however often the file ran"
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_migration_interrupted_before_it_was_recorded_is_finished_by_migrating_again() {
    let db = database();
    // As if a migrator crashed after running the first file's DDL, before recording it.
    raw_batch(&db, sql(1)).unwrap();
    assert_eq!(
        db.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::NotMigrated
        }
    );
    let report = db.migrate().unwrap();
    assert_eq!(report.applied, [1, 2]);
    assert!(db.readiness().is_ready());
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_store_at_version_1_upgrades_with_its_rows_and_then_keeps_tombstones() {
    let db = database();
    assert_eq!(hooks(&*db).migrate_to(1).unwrap().applied, [1]);
    assert_eq!(
        db.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::Behind {
                current: 1,
                latest: LATEST_SCHEMA_VERSION
            }
        }
    );
    assert_eq!(
        db.begin().err().map(|e| e.kind()),
        Some(ErrorKind::NotReady)
    );
    assert_eq!(
        db.get(&key("acme/profile/p1")).unwrap_err().kind(),
        ErrorKind::NotReady
    );
    // A row written by the older release, which had no tombstones.
    raw_batch(
        &db,
        r#"INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
           VALUES ('acme', 'profile', 'p1', 'u1', '{"display_name":"Ada"}', 4)"#,
    )
    .unwrap();
    let diagnostics = db.diagnostics().unwrap();
    assert_eq!(
        (diagnostics.schema_version, diagnostics.total_records()),
        (Some(1), 1)
    );
    assert_eq!(db.migrate().unwrap().applied, [2]);
    let record = db.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(
        (record.version, record.payload.expose()),
        (4, &json!({"display_name": "Ada"}))
    );
    let mut tx = db.begin().unwrap();
    tx.delete(&key("acme/profile/p1"), Expectation::Version(4))
        .unwrap();
    tx.commit().unwrap();
    let again = save(
        &*db,
        write("acme/profile/p1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(again.version, 5);
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn migrators_in_separate_processes_apply_each_version_once_and_release_the_lock() {
    let db = database();
    const MIGRATORS: usize = 4;
    let stores: Vec<_> = (0..MIGRATORS)
        .map(|_| db.connect_another().unwrap())
        .collect();
    let start = Barrier::new(MIGRATORS);
    let mut applied: Vec<u32> = thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .map(|store| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    store.migrate().unwrap().applied
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    applied.sort();
    assert_eq!(
        applied,
        [1, 2],
        "each version applied exactly once between them"
    );
    assert!(db.readiness().is_ready());
    // The lock was released: another session takes it without waiting.
    let lock = format!("user_engine_migrate:{}", db.name());
    assert_eq!(
        raw_rows(&db, &format!("SELECT GET_LOCK('{lock}', 0)")),
        [[Some("1".to_owned())]]
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn readiness_and_diagnostics_work_before_migration_and_write_nothing() {
    let db = database();
    for _ in 0..3 {
        assert!(!db.readiness().is_ready());
        assert_eq!(db.diagnostics().unwrap().schema_version, None);
    }
    let tables = raw_rows(
        &db,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
    );
    assert_eq!(tables, [[Some("0".to_owned())]]);
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn acknowledge_asks_readiness_first_when_its_one_statement_cannot_run() {
    // `acknowledge` reads the recorded migrations and the ids' rows in one statement. Before
    // migration there is no table for it to read: readiness, asked on its own, says why.
    let db = database();
    let err = db.acknowledge(&[EventId(1)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotReady, "{err}");
    // Ready, but the events table is gone: readiness holds, and the existence check's own
    // error is the answer, not an id reported missing.
    db.migrate().unwrap();
    raw_batch(&db, "DROP TABLE user_engine_outbox_events").unwrap();
    let err = db.acknowledge(&[EventId(1)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().contains("acknowledging outbox events"),
        "{err}"
    );
}
