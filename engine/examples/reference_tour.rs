//! Drives the in-memory reference store end to end and prints its diagnostics.
//!
//! `cargo run -p user-engine --example reference_tour`

use serde_json::json;
use user_engine::{
    AuditEntry, Expectation, InMemoryUserEngineStore, OutboxMessage, Payload, RecordKey,
    RecordWrite, StoreError, TenantId, TenantQuery, UserEngineStore, UserId,
};

fn main() -> Result<(), StoreError> {
    let store = InMemoryUserEngineStore::new();
    println!("readiness: {}", store.readiness());
    let report = store.migrate()?;
    println!(
        "migrate applied {:?}; readiness: {}",
        report.applied,
        store.readiness()
    );

    for tenant in ["acme", "globex"] {
        let mut tx = store.begin()?;
        let key = RecordKey::parse(&format!("{tenant}/profile/p1"))?;
        let write = RecordWrite {
            key: key.clone(),
            user: Some(UserId::new("u1")?),
            payload: Payload::new(json!({"display_name": "Ada"})),
        };
        tx.save(write, Expectation::Absent)?;
        let factor = RecordWrite {
            key: RecordKey::parse(&format!("{tenant}/auth_factor/f1"))?,
            user: Some(UserId::new("u1")?),
            payload: Payload::new(json!({"type": "totp", "secret": "JBSWY3DPEHPK3PXP"})),
        };
        tx.save(factor, Expectation::Absent)?;
        tx.append_audit(AuditEntry {
            tenant: key.tenant.clone(),
            actor: Some(UserId::new("u1")?),
            action: "profile.created".into(),
            target: Some(key.clone()),
        })?;
        tx.enqueue(OutboxMessage {
            tenant: key.tenant.clone(),
            topic: "profile.saved".into(),
            key: "p1".into(),
            payload: Payload::empty(),
        })?;
        tx.commit()?;
    }

    // A rolled-back transaction leaves nothing behind.
    let mut tx = store.begin()?;
    tx.enqueue(OutboxMessage {
        tenant: TenantId::new("acme")?,
        topic: "never.sent".into(),
        key: "x".into(),
        payload: Payload::empty(),
    })?;
    tx.rollback()?;

    let page = store.list_tenant(&TenantQuery::all(TenantId::new("acme")?))?;
    for record in &page.records {
        println!("acme holds {record} — payload {}", record.payload);
    }
    let pending = store.outbox_pending(10)?;
    println!(
        "relay sees {} pending event(s); acknowledging the first",
        pending.len()
    );
    if let Some(first) = pending.first() {
        store.acknowledge(&[first.id])?;
    }
    println!("\n{}", store.diagnostics()?);
    Ok(())
}
