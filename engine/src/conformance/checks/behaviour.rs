//! The checks of the store's own behaviour: records, transactions, queries, outbox, audit,
//! migration and redaction.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::json;

use super::{key, message, pending, save, tenant, user, write};
use crate::{
    AuditEntry, Cursor, ErrorKind, EventId, Expectation, NotReadyReason, OutboxMessage, Payload,
    Readiness, Record, RecordKind, StoreError, TenantQuery, UserEngineStore,
};

/// Payload, owner and version come back exactly as written; versions grow by one.
pub fn round_trip(store: &impl UserEngineStore) {
    let body = json!({"display_name": "Ada", "nested": {"list": [1, 2.5, "x", null, true], "empty": {}}, "n": -7});
    let first = save(
        store,
        write("acme/profile/p1", Some("u1"), body.clone()),
        Expectation::Absent,
    )
    .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(
        store.get(&key("acme/profile/p1")).unwrap(),
        Some(first.clone())
    );
    let second = save(
        store,
        write("acme/profile/p1", None, json!({"display_name": "Ada L."})),
        Expectation::Version(1),
    )
    .unwrap();
    assert_eq!(second.version, 2);
    let got = store.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(
        (got.version, got.user, got.payload.expose().clone()),
        (2, None, json!({"display_name": "Ada L."}))
    );
    assert_eq!(
        save(
            store,
            write("acme/profile/p1", Some("u1"), body),
            Expectation::Any
        )
        .unwrap()
        .version,
        3
    );
    assert_eq!(store.get(&key("acme/profile/missing")).unwrap(), None);
}

/// Expectations, deletes and the typed errors they produce.
pub fn versions_and_conflicts(store: &impl UserEngineStore) {
    save(
        store,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    let err = save(
        store,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: key("acme/user/u1"),
            expected: Expectation::Absent,
            actual: Some(1)
        }
    );
    let err = save(
        store,
        write("acme/user/u1", None, json!({})),
        Expectation::Version(7),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = save(
        store,
        write("acme/user/u2", None, json!({})),
        Expectation::Version(1),
    )
    .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: key("acme/user/u2"),
            expected: Expectation::Version(1),
            actual: None
        }
    );

    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.delete(&key("acme/user/u1"), Expectation::Absent)
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        tx.delete(&key("acme/user/nope"), Expectation::Any)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    tx.delete(&key("acme/user/u1"), Expectation::Version(1))
        .unwrap();
    assert_eq!(
        tx.get(&key("acme/user/u1")).unwrap(),
        None,
        "a transaction reads its own delete"
    );
    assert_eq!(
        store.get(&key("acme/user/u1")).unwrap().map(|r| r.version),
        Some(1),
        "uncommitted delete is invisible"
    );
    let again = tx
        .save(
            write("acme/user/u1", None, json!({"again": true})),
            Expectation::Absent,
        )
        .unwrap();
    assert_eq!(
        again.version, 2,
        "a record deleted and written again continues from its last version"
    );
    assert_eq!(tx.get(&key("acme/user/u1")).unwrap(), Some(again.clone()));
    tx.commit().unwrap();
    assert_eq!(store.get(&key("acme/user/u1")).unwrap(), Some(again));

    let mut tx = store.begin().unwrap();
    tx.delete(&key("acme/user/u1"), Expectation::Any).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.get(&key("acme/user/u1")).unwrap(), None);
    assert!(
        store
            .list_tenant(&TenantQuery::all(tenant("acme")))
            .unwrap()
            .records
            .is_empty()
    );
}

/// A guarded write whose record moved after it read it fails to commit, changing nothing;
/// unguarded writes keep counting from the committed version.
pub fn concurrent_commits(store: &impl UserEngineStore) {
    save(
        store,
        write("acme/profile/p1", None, json!({"v": 1})),
        Expectation::Absent,
    )
    .unwrap();

    // Two transactions open at once on one thread (capability `commit_time_conflicts`).
    let mut first = store.begin().unwrap();
    let mut second = store.begin().unwrap();
    first
        .save(
            write("acme/profile/p1", None, json!({"v": "first"})),
            Expectation::Version(1),
        )
        .unwrap();
    second
        .save(
            write("acme/profile/p1", None, json!({"v": "second"})),
            Expectation::Version(1),
        )
        .unwrap();
    second
        .append_audit(AuditEntry {
            tenant: tenant("acme"),
            actor: None,
            action: "second".into(),
            target: None,
        })
        .unwrap();
    second.enqueue(message("acme", "second", "p1")).unwrap();
    second
        .save(write("acme/profile/p2", None, json!({})), Expectation::Any)
        .unwrap();
    first.commit().unwrap();
    let err = second.commit().unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: key("acme/profile/p1"),
            expected: Expectation::Version(1),
            actual: Some(2)
        }
    );
    assert_eq!(
        store
            .get(&key("acme/profile/p1"))
            .unwrap()
            .unwrap()
            .payload
            .expose(),
        &json!({"v": "first"})
    );
    assert_eq!(
        store.get(&key("acme/profile/p2")).unwrap(),
        None,
        "a failed commit changes nothing"
    );
    assert!(store.list_audit(&tenant("acme")).unwrap().is_empty());
    assert!(pending(store).is_empty());

    let mut a = store.begin().unwrap();
    let mut b = store.begin().unwrap();
    assert_eq!(
        a.save(
            write("acme/profile/p1", None, json!({"by": "a"})),
            Expectation::Any
        )
        .unwrap()
        .version,
        3
    );
    assert_eq!(
        b.save(
            write("acme/profile/p1", None, json!({"by": "b"})),
            Expectation::Any
        )
        .unwrap()
        .version,
        3
    );
    a.commit().unwrap();
    b.commit().unwrap();
    assert_eq!(
        store.get(&key("acme/profile/p1")).unwrap().unwrap().version,
        4,
        "versions never repeat"
    );

    // Absent guards race the same way.
    let mut a = store.begin().unwrap();
    let mut b = store.begin().unwrap();
    a.save(
        write("acme/consent/c1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    b.save(
        write("acme/consent/c1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    a.commit().unwrap();
    assert_eq!(
        b.commit().unwrap_err(),
        StoreError::Conflict {
            key: key("acme/consent/c1"),
            expected: Expectation::Absent,
            actual: Some(1)
        }
    );
}

/// Rollback, drop and panic all leave nothing behind, and the store keeps serving.
pub fn rollback_drop_and_panic(store: &impl UserEngineStore) {
    let fill = |tx: &mut Box<dyn crate::StoreTransaction + '_>, id: &str| {
        tx.save(
            write(
                &format!("acme/profile/{id}"),
                Some("u1"),
                json!({"secret": "canary"}),
            ),
            Expectation::Any,
        )
        .unwrap();
        tx.append_audit(AuditEntry {
            tenant: tenant("acme"),
            actor: None,
            action: id.into(),
            target: None,
        })
        .unwrap();
        tx.enqueue(message("acme", "profile.saved", id)).unwrap();
    };
    let mut tx = store.begin().unwrap();
    fill(&mut tx, "rolled-back");
    tx.rollback().unwrap();

    let mut tx = store.begin().unwrap();
    fill(&mut tx, "dropped");
    drop(tx);

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let mut tx = store.begin().unwrap();
        fill(&mut tx, "panicked");
        panic!("boom inside a transaction");
    }));
    assert!(panicked.is_err());

    assert!(
        store
            .list_tenant(&TenantQuery::all(tenant("acme")))
            .unwrap()
            .records
            .is_empty()
    );
    assert!(store.list_audit(&tenant("acme")).unwrap().is_empty());
    assert!(pending(store).is_empty());
    let d = store.diagnostics().unwrap();
    assert_eq!(
        (d.total_records(), d.audit_entries, d.outbox_pending),
        (0, 0, 0)
    );

    save(
        store,
        write("acme/profile/after", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    assert!(store.readiness().is_ready());
}

/// Two tenants with identical ids; listing, user listing, pagination and audit never cross.
pub fn tenant_isolation_and_pagination(store: &impl UserEngineStore) {
    for t in ["acme", "globex"] {
        let mut tx = store.begin().unwrap();
        for (k, owner) in [
            ("user/u1", Some("u1")),
            ("profile/p1", Some("u1")),
            ("profile/p2", Some("u2")),
            ("contact_point/c1", Some("u1")),
            ("auth_factor/f1", Some("u1")),
            ("preference/x", None),
        ] {
            tx.save(
                write(&format!("{t}/{k}"), owner, json!({"tenant": t})),
                Expectation::Absent,
            )
            .unwrap();
        }
        tx.append_audit(AuditEntry {
            tenant: tenant(t),
            actor: Some(user("u1")),
            action: "seeded".into(),
            target: Some(key(&format!("{t}/user/u1"))),
        })
        .unwrap();
        tx.commit().unwrap();
    }
    let ids = |records: &[Record]| {
        records
            .iter()
            .map(|r| r.key.to_string())
            .collect::<Vec<_>>()
    };
    let all = store
        .list_tenant(&TenantQuery::all(tenant("acme")))
        .unwrap();
    assert_eq!(
        ids(&all.records),
        [
            "acme/auth_factor/f1",
            "acme/contact_point/c1",
            "acme/preference/x",
            "acme/profile/p1",
            "acme/profile/p2",
            "acme/user/u1"
        ],
        "ordered by kind name, then id"
    );
    assert_eq!(all.next, None);
    assert!(
        all.records
            .iter()
            .all(|r| r.payload.expose() == &json!({"tenant": "acme"}))
    );

    let mut seen = Vec::new();
    let mut query = TenantQuery {
        tenant: tenant("globex"),
        kind: None,
        after: None,
        limit: Some(4),
    };
    loop {
        let page = store.list_tenant(&query).unwrap();
        assert!(page.records.len() <= 4);
        seen.extend(ids(&page.records));
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|k| k.starts_with("globex/")));

    let first = store
        .list_tenant(&TenantQuery {
            limit: Some(2),
            ..TenantQuery::all(tenant("acme"))
        })
        .unwrap();
    let cursor = first.next.clone().unwrap();
    let foreign = TenantQuery {
        tenant: tenant("globex"),
        kind: None,
        after: Some(cursor.clone()),
        limit: Some(2),
    };
    assert_eq!(
        store.list_tenant(&foreign).unwrap_err().kind(),
        ErrorKind::Invalid,
        "a cursor is tenant-bound"
    );
    let garbage = TenantQuery {
        after: Some(Cursor::from_token("v1.zz")),
        ..TenantQuery::all(tenant("acme"))
    };
    assert_eq!(
        store.list_tenant(&garbage).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let exact = TenantQuery {
        limit: Some(6),
        ..TenantQuery::all(tenant("acme"))
    };
    assert_eq!(
        store.list_tenant(&exact).unwrap().next,
        None,
        "a full last page has no cursor"
    );

    let profiles = TenantQuery {
        kind: Some(RecordKind::Profile),
        ..TenantQuery::all(tenant("acme"))
    };
    assert_eq!(
        ids(&store.list_tenant(&profiles).unwrap().records),
        ["acme/profile/p1", "acme/profile/p2"]
    );
    let after_p1 = TenantQuery {
        after: Some(Cursor::after(&key("acme/profile/p1"))),
        ..profiles
    };
    assert_eq!(
        ids(&store.list_tenant(&after_p1).unwrap().records),
        ["acme/profile/p2"]
    );

    assert_eq!(
        ids(&store.list_user(&tenant("globex"), &user("u1")).unwrap()),
        [
            "globex/auth_factor/f1",
            "globex/contact_point/c1",
            "globex/profile/p1",
            "globex/user/u1"
        ]
    );
    assert!(
        store
            .list_user(&tenant("initech"), &user("u1"))
            .unwrap()
            .is_empty()
    );
    let audit = store.list_audit(&tenant("globex")).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.target, Some(key("globex/user/u1")));
    assert_eq!(audit[0].entry.actor, Some(user("u1")));
    assert_eq!(store.get(&key("initech/user/u1")).unwrap(), None);
    assert_eq!(store.diagnostics().unwrap().tenants, 2);
}

/// Pending events come in commit order, not enqueue order; acknowledged ones never come back.
pub fn outbox_order_ack_and_redelivery(store: &impl UserEngineStore) {
    let mut a = store.begin().unwrap();
    a.enqueue(message("acme", "t", "a1")).unwrap();
    let mut b = store.begin().unwrap();
    b.enqueue(message("acme", "t", "b1")).unwrap();
    b.enqueue(message("globex", "t", "b2")).unwrap();
    assert!(
        pending(store).is_empty(),
        "nothing is visible before commit"
    );
    b.commit().unwrap();
    assert_eq!(pending(store), ["acme/t/b1", "globex/t/b2"]);
    a.commit().unwrap();
    assert_eq!(
        pending(store),
        ["acme/t/b1", "globex/t/b2", "acme/t/a1"],
        "commit order, a late commit is not skipped"
    );

    let events = store.outbox_pending(2).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].message.payload.expose(), &json!({"k": "b1"}));
    assert!(events[0].id < events[1].id);
    assert_eq!(store.acknowledge(&[events[0].id, events[0].id]).unwrap(), 1);
    assert_eq!(
        store.acknowledge(&[events[0].id]).unwrap(),
        0,
        "acknowledging twice is harmless"
    );
    assert_eq!(
        pending(store),
        ["globex/t/b2", "acme/t/a1"],
        "unacknowledged events are delivered again"
    );
    assert_eq!(pending(store), ["globex/t/b2", "acme/t/a1"]);
    let err = store.acknowledge(&[EventId(u64::MAX)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    // All or nothing: one unknown id and no id of the call is acknowledged, whatever the order.
    let next = store.outbox_pending(1).unwrap()[0].id;
    for ids in [[next, EventId(u64::MAX)], [EventId(u64::MAX - 1), next]] {
        let err = store.acknowledge(&ids).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
    let d = store.diagnostics().unwrap();
    assert_eq!((d.outbox_pending, d.outbox_acknowledged), (2, 1));
    let rest: Vec<EventId> = store
        .outbox_pending(10)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(store.acknowledge(&rest).unwrap(), 2);
    assert!(pending(store).is_empty());
}

/// Audit entries commit with their transaction and list in commit order, per tenant.
pub fn audit_in_commit_order(store: &impl UserEngineStore) {
    let entry = |t: &str, action: &str| AuditEntry {
        tenant: tenant(t),
        actor: None,
        action: action.into(),
        target: None,
    };
    let mut late = store.begin().unwrap();
    late.append_audit(entry("acme", "late")).unwrap();
    let mut early = store.begin().unwrap();
    early.append_audit(entry("acme", "early.1")).unwrap();
    early.append_audit(entry("globex", "early.other")).unwrap();
    early.append_audit(entry("acme", "early.2")).unwrap();
    early.commit().unwrap();
    late.commit().unwrap();
    let mut dropped = store.begin().unwrap();
    dropped.append_audit(entry("acme", "dropped")).unwrap();
    drop(dropped);
    let audit = store.list_audit(&tenant("acme")).unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.entry.action.as_str()).collect();
    assert_eq!(actions, ["early.1", "early.2", "late"]);
    assert!(audit.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(store.list_audit(&tenant("globex")).unwrap().len(), 1);
    assert_eq!(store.diagnostics().unwrap().audit_entries, 4);
}

/// Before migration: not ready, work refused, diagnostics answer. Migrate applies once.
pub fn migrate_and_readiness(store: &impl UserEngineStore) {
    let not_migrated = Readiness::NotReady {
        reason: NotReadyReason::NotMigrated,
    };
    assert_eq!(store.readiness(), not_migrated);
    assert_eq!(store.readiness(), not_migrated, "readiness never writes");
    assert_eq!(
        store.begin().err().map(|e| e.kind()),
        Some(ErrorKind::NotReady)
    );
    assert_eq!(
        store.get(&key("acme/user/u1")).unwrap_err().kind(),
        ErrorKind::NotReady
    );
    assert_eq!(
        store.outbox_pending(1).unwrap_err().kind(),
        ErrorKind::NotReady
    );
    let before = store.diagnostics().unwrap();
    assert_eq!(before.schema_version, None);
    assert_eq!(before.total_records(), 0);

    let report = store.migrate().unwrap();
    assert_eq!(
        report.applied,
        (1..=crate::LATEST_SCHEMA_VERSION).collect::<Vec<_>>()
    );
    assert_eq!(report.schema_version, crate::LATEST_SCHEMA_VERSION);
    assert_eq!(
        store.readiness(),
        Readiness::Ready {
            schema_version: crate::LATEST_SCHEMA_VERSION
        }
    );
    let again = store.migrate().unwrap();
    assert!(again.applied.is_empty(), "a second migrate applies nothing");
    assert_eq!(again.schema_version, crate::LATEST_SCHEMA_VERSION);
    assert_eq!(
        store.diagnostics().unwrap().schema_version,
        Some(crate::LATEST_SCHEMA_VERSION)
    );
}

/// A tampered applied migration: readiness says drift, migrate refuses, work is refused.
pub fn drift(store: &impl UserEngineStore) {
    save(
        store,
        write("acme/user/u1", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    let hooks = store
        .conformance_hooks()
        .expect("the adapter offers conformance hooks");
    assert_eq!(
        hooks.tamper_applied_migration(99).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    hooks.tamper_applied_migration(1).unwrap();
    assert_eq!(
        store.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::Drift { version: 1 }
        }
    );
    let err = store.migrate().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Drift);
    assert!(
        matches!(err, StoreError::MigrationDrift { version: 1, .. }),
        "{err}"
    );
    assert_eq!(
        store.begin().err().map(|e| e.kind()),
        Some(ErrorKind::NotReady)
    );
    assert_eq!(
        store.get(&key("acme/user/u1")).unwrap_err().kind(),
        ErrorKind::NotReady
    );
    let d = store.diagnostics().unwrap();
    assert_eq!(
        (d.schema_version, d.total_records()),
        (Some(crate::LATEST_SCHEMA_VERSION), 1),
        "diagnostics still answer"
    );
}

/// Canary values never reach Debug, Display, diagnostics or errors.
pub fn nothing_leaks(store: &impl UserEngineStore) {
    let canary = "canary-5e7c1d-secret";
    let record = save(
        store,
        write(
            "acme/auth_factor/f1",
            Some("u1"),
            json!({"totp_secret": canary}),
        ),
        Expectation::Absent,
    )
    .unwrap();
    let conflict = save(
        store,
        write("acme/auth_factor/f1", None, json!({"totp_secret": canary})),
        Expectation::Absent,
    )
    .unwrap_err();
    let mut tx = store.begin().unwrap();
    tx.enqueue(OutboxMessage {
        payload: Payload::new(json!({"secret": canary})),
        ..message("acme", "factor.added", "f1")
    })
    .unwrap();
    tx.commit().unwrap();
    let events = store.outbox_pending(10).unwrap();
    let texts = [
        format!("{store:?}"),
        format!("{record:?} {record}"),
        format!("{conflict:?} {conflict}"),
        format!("{events:?}"),
        store.diagnostics().unwrap().render(),
        format!("{:?}", store.readiness()),
    ];
    for text in texts {
        assert!(!text.contains(canary), "leaked: {text}");
    }
    assert_eq!(
        store
            .get(&key("acme/auth_factor/f1"))
            .unwrap()
            .unwrap()
            .payload
            .expose()["totp_secret"],
        canary
    );
}

/// A refused write changes nothing, not even at commit (store-contract C3, C4): the transaction
/// does not write back what it saw before the refusal over a concurrent change.
pub fn refused_writes_change_nothing(store: &impl UserEngineStore) {
    let p1 = key("acme/profile/p1");
    let body = |n: u64| write("acme/profile/p1", None, json!({ "n": n }));
    let current = || store.get(&p1).unwrap().map(|r| (r.version, r.payload));

    let mut late = store.begin().unwrap();
    let refused = late.delete(&p1, Expectation::Any).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotFound);
    save(store, body(1), Expectation::Absent).unwrap();
    late.commit().unwrap();
    assert_eq!(
        current().map(|(version, _)| version),
        Some(1),
        "a refused delete removed a record created after it"
    );

    let mut late = store.begin().unwrap();
    let refused = late.save(body(9), Expectation::Version(7)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    save(store, body(2), Expectation::Any).unwrap();
    late.commit().unwrap();
    assert_eq!(
        current(),
        Some((2, body(2).payload)),
        "a refused save wrote back what it first saw"
    );
}
