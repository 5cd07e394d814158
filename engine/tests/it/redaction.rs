//! A unique canary in every payload-carrying value: no public type prints it.

use serde_json::json;
use user_engine::{
    AuditEntry, Expectation, InMemoryUserEngineStore, OutboxMessage, Payload, RecordKey,
    RecordWrite, StoreError, TenantId, TenantQuery, UserEngineStore, UserId,
};

const CANARY: &str = "canary-5e1f0c2a-never-printed";

fn formatted(value: &(impl std::fmt::Debug + std::fmt::Display)) -> [String; 3] {
    [
        format!("{value:?}"),
        format!("{value:#?}"),
        format!("{value}"),
    ]
}

fn assert_silent(what: &str, texts: impl IntoIterator<Item = String>) {
    for text in texts {
        assert!(!text.contains(CANARY), "{what} printed the canary: {text}");
    }
}

#[test]
fn no_public_type_prints_a_payload_value() -> Result<(), StoreError> {
    let store = InMemoryUserEngineStore::new();
    store.migrate()?;
    let key = RecordKey::parse("acme/auth_factor/f1")?;
    let payload = Payload::new(json!({"type": "totp", "secret": CANARY, "backup": [CANARY]}));
    let write = RecordWrite {
        key: key.clone(),
        user: Some(UserId::new("u1")?),
        payload: payload.clone(),
    };
    let message = OutboxMessage {
        tenant: TenantId::new("acme")?,
        topic: "factor.enrolled".into(),
        key: "f1".into(),
        payload: payload.clone(),
    };

    assert_silent("Payload", formatted(&payload));
    assert_silent("RecordWrite", [format!("{write:?}"), format!("{write:#?}")]);
    assert_silent(
        "OutboxMessage",
        [format!("{message:?}"), format!("{message:#?}")],
    );

    let mut tx = store.begin()?;
    let saved = tx.save(write.clone(), Expectation::Absent)?;
    tx.append_audit(AuditEntry {
        tenant: key.tenant.clone(),
        actor: Some(UserId::new("u1")?),
        action: "factor.enrolled".into(),
        target: Some(key.clone()),
    })?;
    tx.enqueue(message)?;
    tx.commit()?;
    assert_silent("Record returned by save", formatted(&saved));

    // Errors raised while the canary record exists: a conflict and a not-found.
    let mut tx = store.begin()?;
    let conflict = tx.save(write, Expectation::Absent).unwrap_err();
    drop(tx);
    let missing = store
        .begin()?
        .delete(&RecordKey::parse("acme/auth_factor/f2")?, Expectation::Any)
        .unwrap_err();
    for error in [&conflict, &missing] {
        assert_silent("StoreError", formatted(error));
    }

    let record = store.get(&key)?.expect("committed record");
    assert_eq!(
        record.payload.expose()["secret"],
        CANARY,
        "the payload itself is stored faithfully"
    );
    assert_silent("Record", formatted(&record));
    let page = store.list_tenant(&TenantQuery::all(key.tenant.clone()))?;
    assert_silent("Page", [format!("{page:?}"), format!("{page:#?}")]);
    let audit = store.list_audit(&key.tenant)?;
    assert_silent("AuditRecord", [format!("{audit:?}")]);
    for event in store.outbox_pending(10)? {
        assert_silent("OutboxEvent", formatted(&event));
    }
    assert_silent("Diagnostics", formatted(&store.diagnostics()?));
    assert_silent(
        "InMemoryUserEngineStore",
        [format!("{store:?}"), format!("{store:#?}")],
    );
    Ok(())
}
