//! What is written is read back unchanged: payloads of any Unicode text (stored as utf8mb4 JSON
//! text, never normalised) and identifiers in byte order (a binary collation, so case and
//! punctuation sort as bytes, never as a locale would).

use serde_json::json;
use user_engine::{AuditEntry, Expectation, OutboxMessage, Payload, TenantQuery, UserEngineStore};

use crate::support::{key, migrated, raw_rows, save, tenant, write};

/// Accents, CJK, emoji (with joiners and a flag), right-to-left scripts, combining marks,
/// characters outside the Basic Multilingual Plane, and JSON escapes.
fn unicode_corpus() -> serde_json::Value {
    json!({
        "accents": "Zoë Ångström, façade, naïve, Øresund",
        "cjk": "漢字かなカナ 한국어 中文",
        "emoji": "😀👩‍👩‍👧‍👦🇫🇷🏳️‍🌈",
        "rtl": "עברית العربية فارسی",
        "combining": "e\u{301} a\u{308} n\u{303} Z\u{335}\u{32d}",
        "astral": "𝄞 𐍈 🜁 𠜎𠜱",
        "escapes": "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7}",
        "nested": [{"ключ": "значение"}, [], {}, null, 1.5e300, -0.0, 18446744073709551615u64],
        "ＦＵＬＬＷＩＤＴＨ": "ﬁ ligature, ß, İ, ǅ",
    })
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn every_unicode_payload_round_trips_byte_for_byte() {
    let db = migrated();
    let body = unicode_corpus();
    let saved = save(
        &*db,
        write("acme/profile/p1", Some("u1"), body.clone()),
        Expectation::Absent,
    )
    .unwrap();
    let read = db.get(&key("acme/profile/p1")).unwrap().unwrap();
    assert_eq!(read, saved);
    assert_eq!(read.payload.expose(), &body);
    let listed = db.list_tenant(&TenantQuery::all(tenant("acme"))).unwrap();
    assert_eq!(listed.records, [saved]);
    // Stored exactly as serialised: no key reordering, no number or escape rewriting.
    assert_eq!(
        raw_rows(&db, "SELECT payload FROM user_engine_records"),
        [[Some(Payload::new(body.clone()).to_json_text())]]
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn unicode_in_events_and_audit_actions_round_trips() {
    let db = migrated();
    let mut tx = db.begin().unwrap();
    let action = "profil.geändert · 変更 · 🔑";
    tx.append_audit(AuditEntry {
        tenant: tenant("acme"),
        actor: None,
        action: action.to_owned(),
        target: Some(key("acme/profile/p1")),
    })
    .unwrap();
    let message = OutboxMessage {
        tenant: tenant("acme"),
        topic: "profil.gespeichert.𝄞".to_owned(),
        key: "clé-😀".to_owned(),
        payload: Payload::new(unicode_corpus()),
    };
    tx.enqueue(message.clone()).unwrap();
    tx.commit().unwrap();
    let audit = db.list_audit(&tenant("acme")).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.action, action);
    let pending = db.outbox_pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message, message);
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn ids_sort_in_byte_order_and_differ_by_case() {
    let db = migrated();
    let ids = [
        "b", "a", "B", "A", "_", "-", ".", "0", "9", "@", ":", "Z", "z", "a-", "a.", "aa", "a_",
    ];
    for (n, id) in ids.iter().enumerate() {
        save(
            &*db,
            write(&format!("acme/user/{id}"), None, json!({ "n": n })),
            Expectation::Absent,
        )
        .unwrap();
    }
    let mut expected: Vec<&str> = ids.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let listed: Vec<String> = db
        .list_tenant(&TenantQuery::all(tenant("acme")))
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.key.id.as_str().to_owned())
        .collect();
    assert_eq!(listed, expected);
    // `a` and `A` are two records, each found by its own id.
    for (n, id) in ids.iter().enumerate() {
        let record = db.get(&key(&format!("acme/user/{id}"))).unwrap().unwrap();
        assert_eq!(record.payload.expose(), &json!({ "n": n }), "{id}");
    }
    // Pages cut at the same places.
    let mut query = TenantQuery::all(tenant("acme"));
    query.limit = Some(5);
    let mut walked = Vec::new();
    loop {
        let page = db.list_tenant(&query).unwrap();
        walked.extend(page.records.iter().map(|r| r.key.id.as_str().to_owned()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(walked, expected);
}
