//! What only a file-backed store has: durability across reopen (closing the file, and the
//! `reopen` hook), several handles on one file, threads, the busy timeout, commit faults seen
//! from another handle, and the migration file recorded as shipped.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;
use user_engine::migration::checksum;
use user_engine::{
    AuditEntry, ErrorKind, Expectation, InjectedFault, LATEST_SCHEMA_VERSION, NotReadyReason,
    Readiness, StoreError, UserEngineStore,
};
use user_engine_sqlite::SqliteUserEngineStore;

use user_engine::conformance::checks::{key, message, pending, save, tenant, write};

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    (dir, path)
}

#[test]
fn committed_data_survives_closing_and_reopening_the_file() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let mut tx = store.begin().unwrap();
    tx.save(
        write(
            "acme/profile/p1",
            Some("u1"),
            json!({"display_name": "Ada"}),
        ),
        Expectation::Absent,
    )
    .unwrap();
    tx.append_audit(AuditEntry {
        tenant: tenant("acme"),
        actor: None,
        action: "profile.created".into(),
        target: Some(key("acme/profile/p1")),
    })
    .unwrap();
    tx.enqueue(message("acme", "profile.saved", "p1")).unwrap();
    tx.enqueue(message("acme", "profile.saved", "p2")).unwrap();
    tx.commit().unwrap();
    let first = store.outbox_pending(1).unwrap()[0].id;
    store.acknowledge(&[first]).unwrap();
    drop(store);

    let store = SqliteUserEngineStore::open(&path).unwrap();
    assert!(store.readiness().is_ready());
    assert!(store.migrate().unwrap().applied.is_empty());
    let record = store.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(
        (record.version, record.payload.expose().clone()),
        (1, json!({"display_name": "Ada"}))
    );
    assert_eq!(store.list_audit(&tenant("acme")).unwrap().len(), 1);
    assert_eq!(
        pending(&store),
        ["acme/profile.saved/p2"],
        "acknowledgements are durable too"
    );
    let d = store.diagnostics().unwrap();
    assert_eq!(
        (d.total_records(), d.outbox_pending, d.outbox_acknowledged),
        (1, 1, 1)
    );
}

#[test]
fn uncommitted_data_does_not_survive_closing_the_file() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    save(
        &store,
        write("acme/profile/kept", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    let mut tx = store.begin().unwrap();
    tx.save(
        write("acme/profile/lost", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    tx.enqueue(message("acme", "t", "lost")).unwrap();
    // The process "dies" with the transaction open: never committed, never rolled back.
    std::mem::forget(tx);
    drop(store);

    // A writer that dies inside an open database transaction leaves nothing either.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO user_engine_records (tenant_id, kind, record_id, payload, version) VALUES ('acme', 'profile', 'torn', '{}', 1);",
    )
    .unwrap();
    drop(raw);

    let store = SqliteUserEngineStore::open(&path).unwrap();
    assert!(store.get(&key("acme/profile/kept")).unwrap().is_some());
    assert_eq!(store.get(&key("acme/profile/lost")).unwrap(), None);
    assert_eq!(store.get(&key("acme/profile/torn")).unwrap(), None);
    assert!(pending(&store).is_empty());
}

#[test]
fn two_handles_on_one_file_migrate_once_and_see_each_others_commits() {
    let (_dir, path) = temp_db();
    let barrier = Arc::new(Barrier::new(2));
    let reports: Vec<Vec<u32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (barrier, path) = (barrier.clone(), path.clone());
                s.spawn(move || {
                    let store = SqliteUserEngineStore::open(&path).unwrap();
                    barrier.wait();
                    store.migrate().unwrap().applied
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut reports = reports;
    reports.sort();
    assert_eq!(
        reports,
        [vec![], (1..=LATEST_SCHEMA_VERSION).collect::<Vec<_>>()],
        "applied exactly once"
    );

    let one = SqliteUserEngineStore::open(&path).unwrap();
    let two = SqliteUserEngineStore::open(&path).unwrap();
    save(
        &one,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(
        two.get(&key("acme/user/u1")).unwrap().map(|r| r.version),
        Some(1)
    );
    let mut stale = two.begin().unwrap();
    stale
        .save(
            write("acme/user/u1", None, json!({"by": "two"})),
            Expectation::Version(1),
        )
        .unwrap();
    save(
        &one,
        write("acme/user/u1", None, json!({"by": "one"})),
        Expectation::Version(1),
    )
    .unwrap();
    assert_eq!(
        stale.commit().unwrap_err().kind(),
        ErrorKind::Conflict,
        "guards hold across handles"
    );
}

#[test]
fn threads_share_one_store_and_versions_never_repeat() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..10 {
                    let mut tx = store.begin().unwrap();
                    tx.save(
                        write("acme/preference/counter", None, json!({"t": t, "i": i})),
                        Expectation::Any,
                    )
                    .unwrap();
                    tx.enqueue(message("acme", "counter", &format!("{t}-{i}")))
                        .unwrap();
                    tx.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(
        store
            .get(&key("acme/preference/counter"))
            .unwrap()
            .unwrap()
            .version,
        40
    );
    assert_eq!(store.outbox_pending(100).unwrap().len(), 40);
}

#[test]
fn a_writer_holding_the_lock_past_the_busy_timeout_is_unavailable_not_a_panic() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = save(
        &store,
        write("acme/user/u1", None, json!({"secret": "canary-busy"})),
        Expectation::Absent,
    )
    .unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the busy timeout was waited for"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("SQLITE_BUSY"), "{err}");
    assert!(!format!("{err:?}").contains("canary"));
    other.execute_batch("ROLLBACK").unwrap();
    save(
        &store,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
}

#[test]
fn a_commit_fault_rolls_back_inside_sqlite_and_releases_the_write_lock() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    let rows = |sql: &str| -> i64 { other.query_row(sql, [], |r| r.get(0)).unwrap() };
    // Position 3 is the audit entry: the record and nothing else reached the open transaction.
    // Position 4 is past the last change: every row was written before the commit failed.
    for change in [1, 2, 3, 4] {
        store
            .conformance_hooks()
            .unwrap()
            .inject_fault(InjectedFault::CommitFailsAt { change })
            .unwrap();
        let mut tx = store.begin().unwrap();
        tx.save(write("acme/user/u1", None, json!({})), Expectation::Absent)
            .unwrap();
        tx.append_audit(AuditEntry {
            tenant: tenant("acme"),
            actor: None,
            action: "user.created".into(),
            target: None,
        })
        .unwrap();
        tx.enqueue(message("acme", "user.created", "u1")).unwrap();
        let err = tx.commit().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        // Another handle (default busy timeout: none) takes the write lock at once: the failed
        // commit's transaction is over, and it left no row.
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        for table in [
            "user_engine_records",
            "user_engine_audit_records",
            "user_engine_outbox_events",
        ] {
            assert_eq!(
                rows(&format!("SELECT count(*) FROM {table}")),
                0,
                "{table} at {change}"
            );
        }
        other.execute_batch("ROLLBACK").unwrap();
    }
}

#[test]
fn reopen_reads_what_another_handle_committed_and_survives_the_wal() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let other = SqliteUserEngineStore::open(&path).unwrap();
    save(
        &other,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    drop(other);
    store.conformance_hooks().unwrap().reopen().unwrap();
    assert_eq!(
        store.get(&key("acme/user/u1")).unwrap().map(|r| r.version),
        Some(1)
    );
    // The reopened connection closes cleanly and leaves a file a fresh handle reads.
    drop(store);
    let store = SqliteUserEngineStore::open(&path).unwrap();
    assert!(store.get(&key("acme/user/u1")).unwrap().is_some());
}

#[test]
fn a_reopen_that_cannot_open_the_file_is_unavailable_and_the_store_keeps_serving() {
    let (dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    save(
        &store,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    // The directory disappears behind the store's back: the file cannot be opened again.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let err = store.conformance_hooks().unwrap().reopen().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().contains("cannot open sqlite database"),
        "{err}"
    );
    // The old connection still has the (unlinked) file open and serves on.
    assert!(store.get(&key("acme/user/u1")).unwrap().is_some());
}

#[test]
fn the_recorded_checksum_is_that_of_the_shipped_file() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations/0001_user_engine_store.sql");
    let text = std::fs::read_to_string(file).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let (name, recorded): (String, String) = raw
        .query_row(
            "SELECT name, checksum FROM user_engine_schema_versions WHERE version = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(name, "0001_user_engine_store");
    assert_eq!(recorded, checksum(&text));
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_schema_newer_than_this_release_is_reported_ahead() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    store.migrate().unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (?1, 'future', 'x')",
        [LATEST_SCHEMA_VERSION + 1],
    )
    .unwrap();
    let ahead = NotReadyReason::Ahead {
        current: LATEST_SCHEMA_VERSION + 1,
        latest: LATEST_SCHEMA_VERSION,
    };
    assert_eq!(
        store.readiness(),
        Readiness::NotReady {
            reason: ahead.clone()
        }
    );
    assert_eq!(
        store.migrate().unwrap_err(),
        StoreError::NotReady { reason: ahead }
    );
}

#[test]
fn an_unopenable_path_is_one_readable_error() {
    let (dir, _) = temp_db();
    let path = dir.path().join("missing-dir").join("store.db");
    let err = SqliteUserEngineStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let text = err.to_string();
    assert!(
        text.contains("cannot open sqlite database") && text.contains("SQLITE_CANTOPEN"),
        "{text}"
    );
}

#[test]
fn the_store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteUserEngineStore>();
    assert_send_sync::<user_engine_sqlite::testing::TempSqliteStore>();
}

/// Migration 0002 on a file written by a release at schema version 1: every row is kept, and from
/// then on a deleted key's versions continue (store-contract C2, C22).
#[test]
fn a_file_at_schema_version_1_keeps_its_data_through_migration_2() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    let hooks = store.conformance_hooks().unwrap();
    assert_eq!(hooks.migrate_to(1).unwrap().applied, [1]);
    // What a version-1 release left behind, written as it wrote it.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
             VALUES ('acme', 'profile', 'p1', 'u1', '{\"display_name\":\"Ada\"}', 3);
         INSERT INTO user_engine_audit_records (tenant_id, action) VALUES ('acme', 'profile.updated');
         INSERT INTO user_engine_outbox_events (tenant_id, topic, event_key, payload)
             VALUES ('acme', 'profile.saved', 'p1', '{}');",
    )
    .unwrap();
    drop(raw);
    assert_eq!(
        store.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::Behind {
                current: 1,
                latest: LATEST_SCHEMA_VERSION
            }
        }
    );
    assert_eq!(store.migrate().unwrap().applied, [2]);

    let p1 = store.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(
        (p1.version, p1.payload.expose()),
        (3, &json!({"display_name": "Ada"}))
    );
    assert_eq!(store.list_audit(&tenant("acme")).unwrap().len(), 1);
    assert_eq!(pending(&store).len(), 1);
    let d = store.diagnostics().unwrap();
    assert_eq!(
        (d.total_records(), d.audit_entries, d.outbox_pending),
        (1, 1, 1)
    );

    // The guarantee migration 2 adds: a key deleted and written again continues its versions.
    let mut tx = store.begin().unwrap();
    tx.delete(&key("acme/profile/p1"), Expectation::Version(3))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(store.get(&key("acme/profile/p1")).unwrap(), None);
    assert_eq!(store.diagnostics().unwrap().total_records(), 0);
    let again = save(
        &store,
        write(
            "acme/profile/p1",
            Some("u1"),
            json!({"display_name": "Ada L."}),
        ),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(again.version, 4);
}

/// A fresh handle's transaction writes `u1` guarded on version 1; another handle then commits
/// version 2 of it; with `reopen`, the first handle's connection is replaced before its commit.
/// The commit must find the guard broken either way.
fn overtaken_guard_conflicts(reopen: bool) {
    let (_dir, path) = temp_db();
    {
        let first = SqliteUserEngineStore::open(&path).unwrap();
        first.migrate().unwrap();
        save(
            &first,
            write("acme/user/u1", None, json!({})),
            Expectation::Absent,
        )
        .unwrap();
    }
    // The transaction's first write is the handle's first read of a record: its read point is
    // where a new connection's counters start.
    let store = SqliteUserEngineStore::open(&path).unwrap();
    let mut open = store.begin().unwrap();
    open.save(
        write("acme/user/u1", None, json!({"by": "open"})),
        Expectation::Version(1),
    )
    .unwrap();
    let other = SqliteUserEngineStore::open(&path).unwrap();
    save(
        &other,
        write("acme/user/u1", None, json!({"by": "other"})),
        Expectation::Version(1),
    )
    .unwrap();
    drop(other);
    if reopen {
        // The new connection has not seen the other handle commit, and has changed nothing.
        store.conformance_hooks().unwrap().reopen().unwrap();
    }
    assert_eq!(
        open.commit().unwrap_err().kind(),
        ErrorKind::Conflict,
        "the other handle's commit moved the guarded version (reopen: {reopen})"
    );
    assert_eq!(
        store.get(&key("acme/user/u1")).unwrap().map(|r| r.version),
        Some(2)
    );
}

#[test]
fn a_transaction_open_across_a_reopen_checks_its_guards_again_at_commit() {
    overtaken_guard_conflicts(true);
}

#[test]
fn a_fresh_handle_whose_first_write_another_handle_overtakes_fails_its_guard() {
    overtaken_guard_conflicts(false);
}

/// A store with `acme/user/u1` and `acme/user/u4` committed (version 1), and an open transaction
/// on a second handle whose first write (to `u1`) began the snapshot its later reads share; then a
/// third handle creates `acme/user/u2` and `acme/user/u3` (version 1) and updates `u4` to version 2.
fn snapshot_overtaken_by_another_handle<'s>(
    path: &std::path::Path,
    store: &'s SqliteUserEngineStore,
) -> Box<dyn user_engine::StoreTransaction + 's> {
    let first = migrated(path);
    for id in ["acme/user/u1", "acme/user/u4"] {
        save(&first, write(id, None, json!({})), Expectation::Absent).unwrap();
    }
    let mut open = store.begin().unwrap();
    open.save(
        write("acme/user/u1", None, json!({"by": "open"})),
        Expectation::Any,
    )
    .unwrap();
    for (id, expect) in [
        ("acme/user/u2", Expectation::Absent),
        ("acme/user/u3", Expectation::Absent),
        ("acme/user/u4", Expectation::Version(1)),
    ] {
        save(&first, write(id, None, json!({"by": "other"})), expect).unwrap();
    }
    open
}

#[test]
fn a_write_an_older_snapshot_would_refuse_is_decided_on_the_committed_state_as_of_the_write() {
    // Each write is the first after the other handle's commits, so it meets the older snapshot:
    // a save over a record created since, a delete of one created since, and a delete of one
    // updated since. Each was committed by the other handle before the write was made.
    type Write = fn(&mut dyn user_engine::StoreTransaction) -> Result<(), StoreError>;
    // What each write does, and the versions of u2, u3 and u4 after its commit.
    let writes: [(&str, Write, [Option<u64>; 3]); 3] = [
        (
            "save u2 at version 1",
            |tx| {
                let saved = tx.save(
                    write("acme/user/u2", None, json!({"by": "open"})),
                    Expectation::Version(1),
                )?;
                assert_eq!(saved.version, 2);
                Ok(())
            },
            [Some(2), Some(1), Some(2)],
        ),
        (
            "delete u3 at version 1",
            |tx| tx.delete(&key("acme/user/u3"), Expectation::Version(1)),
            [Some(1), None, Some(2)],
        ),
        (
            "delete u4 at version 2",
            |tx| tx.delete(&key("acme/user/u4"), Expectation::Version(2)),
            [Some(1), Some(1), None],
        ),
    ];
    for (what, make, expected) in writes {
        let (_dir, path) = temp_db();
        let store = SqliteUserEngineStore::open(&path).unwrap();
        let mut open = snapshot_overtaken_by_another_handle(&path, &store);
        make(open.as_mut()).unwrap_or_else(|e| panic!("{what}: refused with {e}"));
        open.commit().unwrap();
        let after = |id: &str| store.get(&key(id)).unwrap().map(|r| r.version);
        assert_eq!(
            [
                after("acme/user/u2"),
                after("acme/user/u3"),
                after("acme/user/u4")
            ],
            expected,
            "{what}"
        );
    }
}

#[test]
fn an_unguarded_write_over_a_key_another_handle_created_meanwhile_continues_its_versions() {
    let (_dir, path) = temp_db();
    let store = SqliteUserEngineStore::open(&path).unwrap();
    let mut open = snapshot_overtaken_by_another_handle(&path, &store);
    open.save(
        write("acme/user/u2", None, json!({"by": "open"})),
        Expectation::Any,
    )
    .unwrap();
    open.commit().unwrap();
    // The other handle gave version 1; this commit's write is the next one (C2).
    let u2 = store.get(&key("acme/user/u2")).unwrap().unwrap();
    assert_eq!(
        (u2.version, u2.payload.expose().clone()),
        (2, json!({"by": "open"}))
    );
    let u1 = store.get(&key("acme/user/u1")).unwrap().unwrap();
    assert_eq!(u1.version, 2);
}

/// Whether a checkpoint that empties the write-ahead log can finish now: not while a read
/// transaction on another connection still uses the log.
fn log_can_be_emptied(path: &std::path::Path) -> bool {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.busy_timeout(Duration::ZERO).unwrap();
    let busy: i64 = raw
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .unwrap();
    busy == 0
}

/// A store on the file at `path`, migrated.
fn migrated(path: &std::path::Path) -> SqliteUserEngineStore {
    let store = SqliteUserEngineStore::open(path).unwrap();
    store.migrate().unwrap();
    store
}

#[test]
fn a_transaction_that_ends_without_committing_releases_its_snapshot() {
    let (_dir, path) = temp_db();
    let store = migrated(&path);
    for ending in ["drop", "rollback", "commit"] {
        // Something in the log, so that an open read transaction uses it.
        save(
            &store,
            write("acme/user/u0", None, json!({"ending": ending})),
            Expectation::Any,
        )
        .unwrap();
        let mut open = store.begin().unwrap();
        open.save(write("acme/user/u1", None, json!({})), Expectation::Any)
            .unwrap();
        assert!(
            !log_can_be_emptied(&path),
            "an open transaction's snapshot holds the log ({ending})"
        );
        match ending {
            "drop" => drop(open),
            "rollback" => open.rollback().unwrap(),
            _ => open.commit().unwrap(),
        }
        assert!(
            log_can_be_emptied(&path),
            "a transaction that ended ({ending}) still holds a snapshot"
        );
    }
}

#[test]
fn a_transaction_begun_after_another_handle_committed_reads_that_commit() {
    let (_dir, path) = temp_db();
    let store = migrated(&path);
    for id in ["acme/user/u1", "acme/user/u2"] {
        save(&store, write(id, None, json!({})), Expectation::Absent).unwrap();
    }
    // An older transaction's read holds a snapshot of the file…
    let mut older = store.begin().unwrap();
    older
        .save(write("acme/user/u1", None, json!({})), Expectation::Any)
        .unwrap();
    // …then another handle commits, and only then does this transaction begin.
    let other = SqliteUserEngineStore::open(&path).unwrap();
    save(
        &other,
        write("acme/user/u2", None, json!({"by": "other"})),
        Expectation::Version(1),
    )
    .unwrap();
    let mut other_tx = other.begin().unwrap();
    other_tx
        .delete(&key("acme/user/u1"), Expectation::Any)
        .unwrap();
    other_tx.commit().unwrap();
    let mut newer = store.begin().unwrap();
    let u2 = newer.get(&key("acme/user/u2")).unwrap().unwrap();
    assert_eq!(
        u2.version, 2,
        "a transaction reads what was committed before it began"
    );
    assert_eq!(
        newer
            .delete(&key("acme/user/u1"), Expectation::Any)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound,
        "u1 was deleted before this transaction began (C4)"
    );
    drop(newer);
    drop(older);
}

#[test]
fn a_transaction_whose_read_failed_still_releases_its_snapshot() {
    let (_dir, path) = temp_db();
    let store = migrated(&path);
    save(
        &store,
        write("acme/user/u0", None, json!({})),
        Expectation::Any,
    )
    .unwrap();
    // A row whose payload is not JSON (written past the schema's check): reading it fails after
    // the read began.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "ignore_check_constraints", true)
        .unwrap();
    raw.execute(
        "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
         VALUES ('acme', 'user', 'bad', NULL, 'not json', 1)",
        [],
    )
    .unwrap();
    drop(raw);
    let mut open = store.begin().unwrap();
    assert!(open.get(&key("acme/user/bad")).is_err());
    assert!(
        !log_can_be_emptied(&path),
        "the failed read was made in the transaction's snapshot"
    );
    drop(open);
    assert!(
        log_can_be_emptied(&path),
        "a transaction whose read failed still holds a snapshot after its drop"
    );
}
