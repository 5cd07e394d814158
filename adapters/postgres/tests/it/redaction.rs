//! Canary tests: database messages quote row values (a unique violation's DETAIL, a JSON error's
//! CONTEXT); none of that may reach a `StoreError`'s Display or Debug.

use serde_json::json;
use user_engine::{ErrorKind, Expectation, StoreError, UserEngineStore};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks::{save, write};

fn assert_hidden(err: &StoreError, canary: &str) {
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        assert!(!text.contains(canary), "leaked {canary}: {text}");
    }
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_unique_violation_detail_never_escapes() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    let canary = "canary-3f9a2c@example.org";
    let mut client = db.raw_client().unwrap();
    // An operator's unique index on a payload field: the realistic way a record write meets a
    // unique violation whose DETAIL quotes a payload value.
    client
        .batch_execute(
            "CREATE UNIQUE INDEX contact_email_unique ON user_engine_records ((payload->>'email'))",
        )
        .unwrap();
    save(
        &*db,
        write(
            "acme/contact_point/c1",
            Some("u1"),
            json!({"email": canary}),
        ),
        Expectation::Absent,
    )
    .unwrap();

    // The raw database error does carry the canary: the adapter has something to hide.
    let raw = client
        .execute(
            "INSERT INTO user_engine_records (tenant_id, kind, record_id, payload, version)
             VALUES ('acme', 'contact_point', 'raw', jsonb_build_object('email', $1::text), 1)",
            &[&canary],
        )
        .unwrap_err();
    let detail = raw
        .as_db_error()
        .and_then(|e| e.detail())
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains(canary),
        "the DETAIL quotes the value: {detail}"
    );

    for expect in [Expectation::Absent, Expectation::Any] {
        let err = save(
            &*db,
            write(
                "acme/contact_point/c2",
                Some("u2"),
                json!({"email": canary}),
            ),
            expect,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("acme/contact_point/c2"), "{err}");
        assert_hidden(&err, canary);
    }
    assert_eq!(
        db.get(&user_engine::RecordKey::parse("acme/contact_point/c2").unwrap())
            .unwrap(),
        None
    );
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_value_postgresql_cannot_store_is_invalid_without_quoting_it() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    // jsonb refuses \u0000 and its CONTEXT line quotes the document.
    let canary = "canary-77d1\u{0}secret";
    let err = save(
        &*db,
        write("acme/auth_factor/f1", None, json!({"secret": canary})),
        Expectation::Absent,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("22P05"), "{err}");
    assert_hidden(&err, "canary-77d1");
    assert!(
        db.readiness().is_ready(),
        "the failed commit left the store usable"
    );
}
