//! The locking design itself: a second writer waits for the first, a deadlock victim fails with
//! `conflict` and can never commit, a panic or a drop releases the row locks at once, racing
//! creators of one key settle on the primary key, and deletes leave tombstones no read shows.

use std::sync::{Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use user_engine::{ErrorKind, Expectation, RecordKind, TenantQuery, UserEngineStore, UserId};

use crate::support::{key, migrated, raw_rows, save, tenant, write};

/// Long enough for a write that is not blocked to have finished on this machine.
const SETTLE: Duration = Duration::from_millis(400);

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_second_writer_waits_for_the_first_and_counts_on_from_its_commit() {
    let db = migrated();
    save(
        &*db,
        write("acme/profile/p1", None, json!({"n": 1})),
        Expectation::Any,
    )
    .unwrap();
    let mut first = db.begin().unwrap();
    first
        .save(
            write("acme/profile/p1", None, json!({"n": 2})),
            Expectation::Version(1),
        )
        .unwrap();
    thread::scope(|scope| {
        let (done, finished) = mpsc::channel();
        let db = &db;
        scope.spawn(move || {
            let saved = save(
                &*db,
                write("acme/profile/p1", None, json!({"n": 3})),
                Expectation::Any,
            );
            done.send(saved).unwrap();
        });
        assert!(
            finished.recv_timeout(SETTLE).is_err(),
            "the second writer did not wait for the first's row lock"
        );
        first.commit().unwrap();
        let second = finished
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(second.version, 3);
    });
    let record = db.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(
        (record.version, record.payload.expose()),
        (3, &json!({"n": 3}))
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_deadlock_victim_fails_with_conflict_and_never_commits() {
    let db = migrated();
    let both = Barrier::new(2);
    let run = |mine: &str, theirs: &str, by: &str| {
        let mut tx = db.begin().unwrap();
        tx.save(write(mine, None, json!({"by": by})), Expectation::Any)
            .unwrap();
        both.wait();
        match tx.save(write(theirs, None, json!({"by": by})), Expectation::Any) {
            Ok(_) => tx.commit().map(|()| by.to_owned()),
            Err(err) => {
                // The server rolled the whole transaction back: every later call refuses.
                assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
                let again = tx.get(&key(mine)).unwrap_err();
                assert_eq!(again.kind(), ErrorKind::Conflict);
                assert_eq!(tx.commit().unwrap_err().kind(), ErrorKind::Conflict);
                Err(err)
            }
        }
    };
    let (left, right) = thread::scope(|scope| {
        let left = scope.spawn(|| run("acme/profile/a", "acme/profile/b", "left"));
        let right = scope.spawn(|| run("acme/profile/b", "acme/profile/a", "right"));
        (left.join().unwrap(), right.join().unwrap())
    });
    let winner = match (left, right) {
        (Ok(winner), Err(_)) | (Err(_), Ok(winner)) => winner,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    for id in ["a", "b"] {
        let record = db
            .get(&key(&format!("acme/profile/{id}")))
            .unwrap()
            .unwrap();
        assert_eq!(record.payload.expose(), &json!({"by": winner}), "{id}");
        assert_eq!(
            record.version, 1,
            "the victim's write was rolled back with it"
        );
    }
    // The store keeps serving, on the victim's connection too.
    for n in 0..3 {
        save(
            &*db,
            write("acme/profile/c", None, json!({"n": n})),
            Expectation::Any,
        )
        .unwrap();
    }
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_panic_or_a_drop_releases_the_row_locks_at_once() {
    let db = migrated();
    let panicked = thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut tx = db.begin().unwrap();
                tx.save(
                    write("acme/profile/p1", None, json!({"n": 1})),
                    Expectation::Any,
                )
                .unwrap();
                panic!("deliberate panic with a transaction open");
            })
            .join()
    });
    assert!(panicked.is_err());
    let mut dropped = db.begin().unwrap();
    dropped
        .save(
            write("acme/profile/p2", None, json!({"n": 1})),
            Expectation::Any,
        )
        .unwrap();
    drop(dropped);
    let started = Instant::now();
    for id in ["p1", "p2"] {
        let saved = save(
            &*db,
            write(&format!("acme/profile/{id}"), None, json!({"n": 2})),
            Expectation::Absent,
        )
        .unwrap();
        assert_eq!(
            saved.version, 1,
            "{id}: nothing of the rolled-back write remains"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?} for locks that should have been released",
        started.elapsed()
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn racing_creators_of_one_key_settle_on_the_primary_key() {
    let db = migrated();
    const WRITERS: usize = 4;
    for (id, expect) in [("absent", Expectation::Absent), ("any", Expectation::Any)] {
        let start = Barrier::new(WRITERS);
        let outcomes: Vec<_> = thread::scope(|scope| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|n| {
                    let start = &start;
                    let db = &db;
                    scope.spawn(move || {
                        let mut tx = db.begin().unwrap();
                        start.wait();
                        let saved = tx.save(
                            write(&format!("acme/user/{id}"), None, json!({"n": n})),
                            expect,
                        )?;
                        tx.commit().map(|()| saved.version)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut versions: Vec<u64> = outcomes.iter().filter_map(|o| o.clone().ok()).collect();
        versions.sort();
        if expect == Expectation::Absent {
            assert_eq!(versions, [1], "{outcomes:?}");
            for outcome in outcomes.iter().filter_map(|o| o.as_ref().err()) {
                assert_eq!(outcome.kind(), ErrorKind::Conflict, "{outcome}");
            }
        } else {
            assert_eq!(
                versions,
                [1, 2, 3, 4],
                "every unguarded writer wrote, in turn"
            );
        }
    }
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_delete_leaves_a_tombstone_that_no_read_shows_and_the_next_write_counts_on() {
    let db = migrated();
    for n in 1..=2 {
        save(
            &*db,
            write("acme/profile/p1", Some("u1"), json!({"secret": n})),
            Expectation::Any,
        )
        .unwrap();
    }
    let mut tx = db.begin().unwrap();
    tx.delete(&key("acme/profile/p1"), Expectation::Version(2))
        .unwrap();
    assert_eq!(
        tx.get(&key("acme/profile/p1")).unwrap(),
        None,
        "reads its own delete"
    );
    tx.commit().unwrap();
    assert_eq!(
        raw_rows(
            &db,
            "SELECT deleted, user_id, payload, version FROM user_engine_records WHERE record_id = 'p1'"
        ),
        [[
            Some("1".into()),
            None,
            Some("null".into()),
            Some("2".into())
        ]],
        "the tombstone keeps the version and nothing of the record"
    );
    assert_eq!(db.get(&key("acme/profile/p1")).unwrap(), None);
    assert!(
        db.list_tenant(&TenantQuery::all(tenant("acme")))
            .unwrap()
            .records
            .is_empty()
    );
    let owner = UserId::new("u1").unwrap();
    assert!(db.list_user(&tenant("acme"), &owner).unwrap().is_empty());
    let diagnostics = db.diagnostics().unwrap();
    assert_eq!(
        (
            diagnostics.records_of(RecordKind::Profile),
            diagnostics.tenants
        ),
        (0, 0)
    );
    let err = save(
        &*db,
        write("acme/profile/p1", None, json!({})),
        Expectation::Version(2),
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "a tombstone is not a record at version 2"
    );
    let again = save(
        &*db,
        write("acme/profile/p1", None, json!({"n": 3})),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(again.version, 3, "versions never repeat for a key");
}
