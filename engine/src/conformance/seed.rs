//! `given`: puts a fresh store in a scenario's seed state through its public operations.

use serde_json::{Value, json};
use user_engine_conformance_spec::{KeySpec, RecordSpec, Scenario, Seed};

use super::session::record_key;
use super::shared::Shared;
use crate::{Expectation, Payload, RecordWrite, UserEngineStore, UserId};

/// Migrates and commits the seed records, or says what failed.
pub(crate) fn seed<S: UserEngineStore>(
    store: &S,
    shared: &Shared,
    scenario: &Scenario,
) -> Result<(), String> {
    let given = &scenario.given;
    if !(given.migrated || given.seed.is_some() || !given.records.is_empty()) {
        return Ok(());
    }
    store
        .migrate()
        .map_err(|e| format!("seed: migrate failed: {e}"))?;
    let mut records = match given.seed {
        Some(Seed::TwoTenants) => two_tenants(),
        None => Vec::new(),
    };
    records.extend(given.records.iter().cloned());
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = store
        .begin()
        .map_err(|e| format!("seed: begin failed: {e}"))?;
    for spec in &records {
        shared.touch_tenant(&spec.tenant);
        let key = KeySpec {
            tenant: spec.tenant.clone(),
            kind: spec.kind.clone(),
            id: spec.id.clone(),
        };
        let write = record_key(&key).and_then(|key| {
            Ok(RecordWrite {
                key,
                user: spec.user.as_deref().map(UserId::new).transpose()?,
                payload: Payload::new(shared.substitute(&spec.data)),
            })
        });
        let write = write.map_err(|e| format!("seed: bad record: {e}"))?;
        tx.save(write, Expectation::Any)
            .map_err(|e| format!("seed: save failed: {e}"))?;
    }
    tx.commit().map_err(|e| format!("seed: commit failed: {e}"))
}

/// The `two_tenants` seed: `acme` and `globex` with identical ids, so leaks across tenants show.
fn two_tenants() -> Vec<RecordSpec> {
    let mut records = Vec::new();
    for (tenant, name) in [("acme", "Ada"), ("globex", "Grace")] {
        let mut add = |kind: &str, id: &str, user: &str, data: Value| {
            records.push(RecordSpec {
                tenant: tenant.to_owned(),
                kind: kind.to_owned(),
                id: id.to_owned(),
                user: Some(user.to_owned()),
                data,
            });
        };
        add("user", "u1", "u1", json!({"status": "active"}));
        add("user", "u2", "u2", json!({"status": "active"}));
        add("profile", "p1", "u1", json!({"display_name": name}));
        add(
            "contact_point",
            "c1",
            "u1",
            json!({"email": format!("{}@{tenant}.example", name.to_lowercase())}),
        );
        add(
            "auth_factor",
            "f1",
            "u2",
            json!({"type": "totp", "secret": "${canary}"}),
        );
        add("preference", "pr1", "u2", json!({"locale": "en"}));
    }
    records
}
