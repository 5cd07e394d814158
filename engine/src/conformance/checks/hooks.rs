//! The checks of the conformance hooks a durable adapter implements: commit faults
//! (`fault_injection`) and closing and reopening (`durable_reopen`).

use crate::{
    AuditEntry, ConformanceHooks, ErrorKind, Expectation, InjectedFault, NotReadyReason, Readiness,
    StoreError, TenantQuery, UserEngineStore,
};
use serde_json::json;

use super::{key, message, pending, save, tenant, write};

/// The store's conformance hooks.
pub fn hooks(store: &impl UserEngineStore) -> &dyn ConformanceHooks {
    store
        .conformance_hooks()
        .expect("the adapter implements ConformanceHooks")
}

/// Everything a scenario could observe in tenant `acme`, payloads included, and the counts.
pub fn observable(store: &impl UserEngineStore) -> Vec<String> {
    let mut seen = Vec::new();
    let page = store
        .list_tenant(&TenantQuery::all(tenant("acme")))
        .unwrap();
    for record in page.records {
        seen.push(format!("{record} {}", record.payload.expose()));
    }
    for audit in store.list_audit(&tenant("acme")).unwrap() {
        let target = audit.entry.target.map(|t| t.to_string());
        seen.push(format!(
            "audit #{} {} {target:?}",
            audit.sequence, audit.entry.action
        ));
    }
    for event in store.outbox_pending(usize::MAX).unwrap() {
        seen.push(format!("{event} {}", event.message.payload.expose()));
    }
    seen.push(store.diagnostics().unwrap().to_string());
    seen
}

fn entry(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        tenant: tenant("acme"),
        actor: None,
        action: action.into(),
        target: Some(key(target)),
    }
}

/// The transaction the fault checks commit: four record changes (a guarded update, a guarded
/// create, a delete, an unguarded create), two audit entries and two events — eight changes.
const CHANGES: usize = 8;

fn commit_eight_changes(store: &impl UserEngineStore) -> Result<(), StoreError> {
    let mut tx = store.begin()?;
    tx.save(
        write(
            "acme/profile/p1",
            Some("u1"),
            json!({"display_name": "Ada L."}),
        ),
        Expectation::Version(1),
    )?;
    tx.save(
        write(
            "acme/contact_point/c1",
            Some("u1"),
            json!({"email": "ada@acme.example"}),
        ),
        Expectation::Absent,
    )?;
    tx.delete(&key("acme/profile/gone"), Expectation::Any)?;
    tx.save(
        write("acme/preference/pr1", None, json!({"locale": "en"})),
        Expectation::Any,
    )?;
    tx.append_audit(entry("profile.updated", "acme/profile/p1"))?;
    tx.append_audit(entry("contact_point.created", "acme/contact_point/c1"))?;
    tx.enqueue(message("acme", "profile.saved", "p1"))?;
    tx.enqueue(message("acme", "contact_point.saved", "c1"))?;
    tx.commit()
}

fn seed(store: &impl UserEngineStore) {
    let mut tx = store.begin().unwrap();
    for (id, name) in [("p1", "Ada"), ("gone", "Old")] {
        tx.save(
            write(
                &format!("acme/profile/{id}"),
                Some("u1"),
                json!({"display_name": name}),
            ),
            Expectation::Absent,
        )
        .unwrap();
    }
    tx.append_audit(entry("profile.created", "acme/profile/p1"))
        .unwrap();
    tx.enqueue(message("acme", "profile.saved", "p1")).unwrap();
    tx.commit().unwrap();
}

/// store-contract C12: a commit failing just before any one of its changes, or just before it
/// completes, leaves none of them behind; the fault is used up and the same commit then succeeds.
/// `fault` makes the fault for a position (commit failure or backend termination).
pub fn a_fault_at_every_change_leaves_nothing(
    store: &impl UserEngineStore,
    fault: impl Fn(usize) -> InjectedFault,
) {
    seed(store);
    let before = observable(store);
    for k in (1..=CHANGES + 1).chain([CHANGES + 50]) {
        hooks(store).inject_fault(fault(k)).unwrap();
        let err = commit_eight_changes(store).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "fault at {k}: {err}");
        assert_eq!(
            observable(store),
            before,
            "fault at {k} left something behind"
        );
        assert!(store.readiness().is_ready(), "fault at {k}");
    }
    commit_eight_changes(store).unwrap();
    let after = observable(store);
    assert_eq!(
        after[..4],
        [
            "acme/contact_point/c1 v1 (user u1) {\"email\":\"ada@acme.example\"}",
            "acme/preference/pr1 v1 {\"locale\":\"en\"}",
            "acme/profile/p1 v2 (user u1) {\"display_name\":\"Ada L.\"}",
            "audit #1 profile.created Some(\"acme/profile/p1\")",
        ]
    );
    assert_eq!(
        pending(store),
        [
            "acme/profile.saved/p1",
            "acme/profile.saved/p1",
            "acme/contact_point.saved/c1"
        ]
    );
    assert_eq!(store.list_audit(&tenant("acme")).unwrap().len(), 3);
}

/// A fault is armed for one commit — even one with no change, which it fails just before
/// completing — and a position of 0 is refused without arming anything.
pub fn a_fault_is_used_up_by_the_next_commit(store: &impl UserEngineStore) {
    hooks(store)
        .inject_fault(InjectedFault::CommitFailsAt { change: 1 })
        .unwrap();
    let empty = store.begin().unwrap();
    assert_eq!(empty.commit().unwrap_err().kind(), ErrorKind::Unavailable);
    store.begin().unwrap().commit().unwrap();
    let err = hooks(store)
        .inject_fault(InjectedFault::CommitFailsAt { change: 0 })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    save(
        store,
        write("acme/user/u1", Some("u1"), json!({})),
        Expectation::Absent,
    )
    .unwrap();
    // A rolled-back or dropped transaction is not a commit: the fault waits for the next one.
    hooks(store)
        .inject_fault(InjectedFault::CommitFailsAt { change: 1 })
        .unwrap();
    let mut dropped = store.begin().unwrap();
    dropped
        .save(write("acme/user/u2", None, json!({})), Expectation::Absent)
        .unwrap();
    drop(dropped);
    let err = save(
        store,
        write("acme/user/u3", None, json!({})),
        Expectation::Absent,
    );
    assert_eq!(err.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(store.get(&key("acme/user/u3")).unwrap(), None);
    assert_eq!(
        save(
            store,
            write("acme/user/u3", None, json!({})),
            Expectation::Absent
        )
        .unwrap()
        .version,
        1
    );
}

/// store-contract C30: after `reopen`, committed records, audit entries and events (pending and
/// acknowledged) are there; a transaction that had not committed, and an armed fault, are not.
/// A tampered migration is committed state too: it still reads as drift.
pub fn reopen_keeps_committed_work_only(store: &impl UserEngineStore) {
    seed(store);
    let first = store.outbox_pending(1).unwrap()[0].id;
    let mut tx = store.begin().unwrap();
    tx.enqueue(message("acme", "user.created", "u1")).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.acknowledge(&[first]).unwrap(), 1);
    let committed = observable(store);

    let mut open = store.begin().unwrap();
    open.save(
        write("acme/profile/lost", None, json!({})),
        Expectation::Absent,
    )
    .unwrap();
    open.append_audit(entry("profile.created", "acme/profile/lost"))
        .unwrap();
    open.enqueue(message("acme", "profile.saved", "lost"))
        .unwrap();
    // A crash loses the open transaction; the caller of `reopen` drops it first.
    drop(open);
    hooks(store)
        .inject_fault(InjectedFault::CommitFailsAt { change: 1 })
        .unwrap();
    hooks(store).reopen().unwrap();

    assert!(store.readiness().is_ready());
    assert_eq!(observable(store), committed);
    assert_eq!(pending(store), ["acme/user.created/u1"]);
    let d = store.diagnostics().unwrap();
    assert_eq!((d.outbox_pending, d.outbox_acknowledged), (1, 1));
    // Versions count on, and the fault armed before reopening is gone.
    let saved = save(
        store,
        write(
            "acme/profile/p1",
            Some("u1"),
            json!({"display_name": "Ada L."}),
        ),
        Expectation::Version(1),
    )
    .unwrap();
    assert_eq!(saved.version, 2);
    hooks(store).reopen().unwrap();
    assert_eq!(store.get(&key("acme/profile/p1")).unwrap(), Some(saved));

    hooks(store).tamper_applied_migration(1).unwrap();
    hooks(store).reopen().unwrap();
    assert_eq!(
        store.readiness(),
        Readiness::NotReady {
            reason: NotReadyReason::Drift { version: 1 }
        }
    );
}
