//! A commit fault at every position of a long commit, for an adapter's own tests of a fault no
//! scenario can arm everywhere (PostgreSQL's backend termination); the scenarios cover
//! `commit_fails_at` (`faults/commit_fault_at_every_change_is_all_or_nothing`).

use crate::{
    AuditEntry, ConformanceHooks, ErrorKind, Expectation, InjectedFault, StoreError, TenantQuery,
    UserEngineStore,
};
use serde_json::json;

use super::{key, message, pending, tenant, write};

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
