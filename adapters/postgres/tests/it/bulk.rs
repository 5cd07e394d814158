//! The commit's bulk statements and the one-statement `acknowledge`: rows in key, append and
//! enqueue order, a unique violation still named by key, unknown ids acknowledging nothing, and
//! a store that stops being ready between `begin` and `commit` refusing the commit.

use serde_json::json;
use user_engine::{
    AuditEntry, ErrorKind, EventId, Expectation, NotReadyReason, StoreError, UserEngineStore,
};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks::{key, message, pending, save, tenant, user, write};

fn migrated() -> Option<IsolatedSchema> {
    let db = IsolatedSchema::from_env()?;
    db.migrate().unwrap();
    Some(db)
}

fn audit(action: &str, target: Option<&str>) -> AuditEntry {
    AuditEntry {
        tenant: tenant("acme"),
        actor: Some(user("u1")),
        action: action.to_owned(),
        target: target.map(key),
    }
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_bulk_commit_keeps_versions_and_orders() {
    let Some(db) = migrated() else {
        return;
    };
    save(
        &*db,
        write("acme/profile/p2", None, json!({"n": 0})),
        Expectation::Any,
    )
    .unwrap();
    save(
        &*db,
        write("acme/profile/p2", None, json!({"n": 1})),
        Expectation::Any,
    )
    .unwrap();
    let mut tx = db.begin().unwrap();
    for (id, n) in [("p3", 3), ("p1", 1), ("p2", 2), ("p4", 4)] {
        let saved = tx
            .save(
                write(&format!("acme/profile/{id}"), Some("u1"), json!({"n": n})),
                Expectation::Any,
            )
            .unwrap();
        assert_eq!(saved.version, if id == "p2" { 3 } else { 1 });
    }
    // A guarded write in the middle of the key order splits the run of upserts.
    tx.save(
        write("acme/profile/p25", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    tx.append_audit(audit("first", Some("acme/profile/p1")))
        .unwrap();
    tx.append_audit(audit("second", None)).unwrap();
    for k in ["e1", "e2", "e3"] {
        tx.enqueue(message("acme", "t", k)).unwrap();
    }
    tx.commit().unwrap();

    for (id, version, n) in [("p1", 1, 1), ("p2", 3, 2), ("p3", 1, 3), ("p4", 1, 4)] {
        let record = db
            .get(&key(&format!("acme/profile/{id}")))
            .unwrap()
            .unwrap();
        assert_eq!(
            (record.version, record.payload.expose()["n"].clone()),
            (version, json!(n))
        );
        assert_eq!(record.user, Some(user("u1")));
    }
    assert_eq!(
        db.get(&key("acme/profile/p25")).unwrap().unwrap().version,
        1
    );
    let log: Vec<String> = db
        .list_audit(&tenant("acme"))
        .unwrap()
        .into_iter()
        .map(|a| a.entry.action)
        .collect();
    assert_eq!(log, ["first", "second"]);
    assert_eq!(pending(&*db), ["acme/t/e1", "acme/t/e2", "acme/t/e3"]);

    // Audit only, then events only: each alone is one statement too.
    let mut tx = db.begin().unwrap();
    tx.append_audit(audit("third", None)).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin().unwrap();
    tx.enqueue(message("acme", "t", "e4")).unwrap();
    tx.commit().unwrap();
    assert_eq!(db.list_audit(&tenant("acme")).unwrap().len(), 3);
    assert_eq!(pending(&*db).len(), 4);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_unique_violation_in_a_bulk_upsert_names_its_key_and_commits_nothing() {
    let Some(db) = migrated() else {
        return;
    };
    db.raw_client()
        .unwrap()
        .batch_execute(
            "CREATE UNIQUE INDEX contact_email_unique ON user_engine_records ((payload->>'email'))",
        )
        .unwrap();
    save(
        &*db,
        write(
            "acme/contact_point/c1",
            None,
            json!({"email": "a@example.org"}),
        ),
        Expectation::Any,
    )
    .unwrap();
    let mut tx = db.begin().unwrap();
    tx.save(
        write(
            "acme/contact_point/c2",
            None,
            json!({"email": "b@example.org"}),
        ),
        Expectation::Any,
    )
    .unwrap();
    tx.save(
        write(
            "acme/contact_point/c3",
            None,
            json!({"email": "a@example.org"}),
        ),
        Expectation::Any,
    )
    .unwrap();
    tx.enqueue(message("acme", "t", "never")).unwrap();
    let err = tx.commit().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("acme/contact_point/c3"), "{err}");
    assert_eq!(db.get(&key("acme/contact_point/c2")).unwrap(), None);
    assert!(pending(&*db).is_empty());
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn acknowledging_an_unknown_id_acknowledges_nothing() {
    let Some(db) = migrated() else {
        return;
    };
    let mut tx = db.begin().unwrap();
    tx.enqueue(message("acme", "t", "a")).unwrap();
    tx.enqueue(message("acme", "t", "b")).unwrap();
    tx.commit().unwrap();
    let ids: Vec<EventId> = db
        .outbox_pending(10)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let unknown = EventId(ids[1].0 + 100);
    for wanted in [
        vec![ids[0], unknown, EventId(u64::MAX)],
        vec![EventId(u64::MAX), ids[1]],
    ] {
        let err = db.acknowledge(&wanted).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let smallest = wanted.iter().filter(|id| !ids.contains(id)).min().unwrap();
        assert_eq!(
            err.to_string(),
            format!("invalid request: {smallest} does not exist")
        );
        assert_eq!(pending(&*db).len(), 2, "nothing acknowledged");
    }
    assert_eq!(db.acknowledge(&[ids[0], ids[0]]).unwrap(), 1);
    assert_eq!(
        db.acknowledge(&[ids[0], ids[1]]).unwrap(),
        1,
        "twice is harmless"
    );
    assert_eq!(db.acknowledge(&[]).unwrap(), 0);
    assert!(pending(&*db).is_empty());
    // Committed, not just visible to the acknowledging session: another connection sees it.
    let acknowledged: i64 = db
        .raw_client()
        .unwrap()
        .query_one(
            "SELECT count(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(acknowledged, 2);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_store_that_drifts_after_begin_refuses_the_commit_and_every_read() {
    let Some(db) = migrated() else {
        return;
    };
    let mut tx = db.begin().unwrap();
    tx.save(write("acme/profile/p1", None, json!({})), Expectation::Any)
        .unwrap();
    tx.append_audit(audit("a", None)).unwrap();
    // One unguarded save alone: the commit that is a single statement.
    let mut alone = db.begin().unwrap();
    alone
        .save(write("acme/profile/p2", None, json!({})), Expectation::Any)
        .unwrap();
    db.conformance_hooks()
        .unwrap()
        .tamper_applied_migration(1)
        .unwrap();
    let drift = StoreError::NotReady {
        reason: NotReadyReason::Drift { version: 1 },
    };
    assert_eq!(tx.commit().unwrap_err(), drift);
    assert_eq!(alone.commit().unwrap_err(), drift);
    assert_eq!(db.get(&key("acme/profile/p2")).unwrap_err(), drift);
    assert_eq!(db.get(&key("acme/profile/p1")).unwrap_err(), drift);
    assert_eq!(db.acknowledge(&[EventId(1)]).unwrap_err(), drift);
    assert_eq!(db.acknowledge(&[]).unwrap_err(), drift);
    assert_eq!(db.begin().err(), Some(drift));
    assert_eq!(db.diagnostics().unwrap().audit_entries, 0);
}
