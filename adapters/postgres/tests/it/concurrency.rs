//! Several threads on one store: versions never repeat, guarded read-modify-write loses no
//! update, and a store survives its connections being killed.

use serde_json::json;
use user_engine::{ErrorKind, Expectation, UserEngineStore};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks::{key, save, write};

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn unguarded_writes_from_threads_never_repeat_a_version() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let db = &db;
            s.spawn(move || {
                for i in 0..10 {
                    save(
                        db,
                        write("acme/preference/p", None, json!({"t": t, "i": i})),
                        Expectation::Any,
                    )
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(
        db.get(&key("acme/preference/p")).unwrap().unwrap().version,
        40
    );
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn guarded_read_modify_write_from_threads_loses_no_update() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    save(
        &*db,
        write("acme/preference/counter", None, json!({"n": 0})),
        Expectation::Absent,
    )
    .unwrap();
    let conflicts = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (db, conflicts) = (&db, &conflicts);
            s.spawn(move || {
                let mut done = 0;
                while done < 10 {
                    let mut tx = db.begin().unwrap();
                    let current = tx.get(&key("acme/preference/counter")).unwrap().unwrap();
                    let n = current.payload.expose()["n"].as_u64().unwrap();
                    // The expectation is checked when saving (against the version the save first
                    // sees) and again at commit (against the version committed by then).
                    let next = write("acme/preference/counter", None, json!({"n": n + 1}));
                    let outcome = tx
                        .save(next, Expectation::Version(current.version))
                        .and_then(|_| tx.commit());
                    match outcome {
                        Ok(()) => done += 1,
                        Err(err) if err.kind() == ErrorKind::Conflict => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(err) => panic!("unexpected {err}"),
                    }
                }
            });
        }
    });
    let record = db.get(&key("acme/preference/counter")).unwrap().unwrap();
    assert_eq!(record.payload.expose()["n"], 40);
    assert_eq!(record.version, 41);
    println!("{} conflicts were retried", conflicts.into_inner());
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_store_whose_connections_were_killed_reports_it_then_recovers() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    save(
        &*db,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    let mut admin = db.raw_client().unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&db.name()],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the store had an idle pooled connection");
    // The pooled connection is dead; whichever call meets it fails as unavailable, readably.
    let mut failures = 0;
    for _ in 0..4 {
        match db.get(&key("acme/user/u1")) {
            Ok(found) => {
                assert!(found.is_some());
                break;
            }
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
                failures += 1;
            }
        }
    }
    assert!(
        failures <= 1,
        "a broken connection is dropped, the next call reconnects"
    );
    assert!(db.readiness().is_ready());
}
