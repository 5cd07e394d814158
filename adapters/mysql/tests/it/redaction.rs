//! Nothing of a row reaches an error message or `Debug`: the server's own messages quote row
//! values (a duplicate key names the key's bytes), so each is mapped to fixed words.

use serde_json::json;
use user_engine::{ErrorKind, Expectation, OutboxMessage, Payload, UserEngineStore};

use crate::support::{key, migrated, raw_batch, save, tenant, write};

const CANARY: &str = "canary-4b1d-secret";

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_duplicate_key_message_carries_no_row_value() {
    let db = migrated();
    // A unique index the adapter does not know about, over an event's payload text: the server's
    // message for the second event quotes that text, secret included.
    raw_batch(
        &db,
        "CREATE UNIQUE INDEX unique_payload ON user_engine_outbox_events (payload(64))",
    )
    .unwrap();
    let enqueue = || {
        let mut tx = db.begin()?;
        tx.save(
            write("acme/auth_factor/f1", None, json!({"n": 1})),
            Expectation::Any,
        )?;
        tx.enqueue(OutboxMessage {
            tenant: tenant("acme"),
            topic: "factor.saved".to_owned(),
            key: "f1".to_owned(),
            payload: Payload::new(json!({"secret": CANARY})),
        })?;
        tx.commit()
    };
    enqueue().unwrap();
    let err = enqueue().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!(
        err.to_string(),
        "invalid request: mysql refused a write while enqueueing an outbox event: a unique key is taken (error 1062, SQLSTATE 23000)"
    );
    assert!(!format!("{err:?}").contains(CANARY));
    // The refused commit changed nothing, and the store keeps serving.
    assert_eq!(
        db.get(&key("acme/auth_factor/f1"))
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(db.outbox_pending(10).unwrap().len(), 1);
    save(
        &*db,
        write("acme/auth_factor/f3", None, json!({})),
        Expectation::Any,
    )
    .unwrap();
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn a_record_refused_by_another_unique_key_is_invalid_and_named_by_its_key_only() {
    let db = migrated();
    raw_batch(
        &db,
        "CREATE UNIQUE INDEX unique_payload ON user_engine_records (payload(64))",
    )
    .unwrap();
    let body = json!({"secret": CANARY});
    save(
        &*db,
        write("acme/auth_factor/f1", None, body.clone()),
        Expectation::Any,
    )
    .unwrap();
    let err = save(
        &*db,
        write("acme/auth_factor/f2", None, body),
        Expectation::Any,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("acme/auth_factor/f2"), "{err}");
    assert!(!format!("{err} {err:?}").contains(CANARY), "{err}");
    assert_eq!(db.get(&key("acme/auth_factor/f2")).unwrap(), None);
    let f1 = db.get(&key("acme/auth_factor/f1")).unwrap().unwrap();
    assert_eq!(f1.version, 1, "the other record was locked, never changed");
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn debug_shows_where_the_store_is_not_what_it_holds() {
    let db = migrated();
    save(
        &*db,
        write("acme/auth_factor/f1", None, json!({"secret": CANARY})),
        Expectation::Any,
    )
    .unwrap();
    let mut tx = db.begin().unwrap();
    tx.save(
        write("acme/auth_factor/f2", None, json!({"secret": CANARY})),
        Expectation::Any,
    )
    .unwrap();
    for text in [
        format!("{db:?}"),
        format!("{:?}", db.store()),
        format!("{:?}", db.diagnostics()),
    ] {
        assert!(!text.contains(CANARY), "{text}");
    }
    assert!(format!("{:?}", db.store()).contains(db.name()));
    tx.rollback().unwrap();
}
