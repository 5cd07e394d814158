//! `given`: puts a fresh store in a scenario's seed state through its public operations: the
//! named seed's records (read by the loader from `seeds/<name>.yaml`), then the scenario's own.

use user_engine_conformance_spec::{KeySpec, RecordSpec, Scenario};

use super::session::record_key;
use super::shared::Shared;
use crate::{Expectation, Payload, RecordWrite, UserEngineStore, UserId};

/// Migrates and commits the seed records in one transaction, or says what failed.
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
    let records: Vec<&RecordSpec> = given.seed_records.iter().chain(&given.records).collect();
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = store
        .begin()
        .map_err(|e| format!("seed: begin failed: {e}"))?;
    for spec in records {
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
