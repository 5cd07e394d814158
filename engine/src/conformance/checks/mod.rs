//! The behaviour checks written in Rust, for what a YAML scenario cannot say: many real threads
//! committing against one store for a while, and payloads larger and deeper than a scenario file
//! may hold. `conformance_suite!` runs each as `conformance_checks::<name>` beside the scenarios
//! (the table is [`BEHAVIOUR_CHECKS`](crate::conformance::spec::BEHAVIOUR_CHECKS)), gated by the
//! capabilities it needs, so every adapter — yours too — is held to the same checks through one
//! invocation. Everything a scenario can say is a scenario; the kill matrix
//! (`docs/kill-matrix.md`) shows what each check catches.
//!
//! Beside them, for an adapter's own tests: [`a_fault_at_every_change_leaves_nothing`], of a fault
//! a scenario cannot arm at every position (PostgreSQL's backend termination);
//! [`racing_relays_count_each_event_once`], two acknowledgements waiting on each other's row locks;
//! and the small builders below.
//!
//! The small builders below (`key`, `write`, `save`, ...) panic on bad input: they are for tests.
//!
//! ```
//! use user_engine::InMemoryUserEngineStore;
//! use user_engine::conformance::checks;
//!
//! checks::payloads_beyond_a_scenario_file(&checks::migrated(InMemoryUserEngineStore::new()));
//! ```

mod behaviour;
mod hooks;
mod relays;

use serde_json::{Value, json};

use crate::{
    Expectation, OutboxMessage, Payload, Record, RecordKey, RecordWrite, StoreError, TenantId,
    UserEngineStore, UserId,
};

pub use behaviour::{
    COMMITS_PER_THREAD, DEEP_NESTING, RACING_THREADS, payloads_beyond_a_scenario_file,
    racing_writers_lose_no_commit,
};
pub use hooks::{a_fault_at_every_change_leaves_nothing, hooks, observable};
pub use relays::{RELAY_EVENTS, racing_relays_count_each_event_once};

/// A record key from `tenant/kind/id`.
pub fn key(text: &str) -> RecordKey {
    RecordKey::parse(text).unwrap()
}

/// A tenant id.
pub fn tenant(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

/// A user id.
pub fn user(text: &str) -> UserId {
    UserId::new(text).unwrap()
}

/// A record write: `key_text` as `tenant/kind/id`, an optional owner, the payload.
pub fn write(key_text: &str, owner: Option<&str>, body: Value) -> RecordWrite {
    RecordWrite {
        key: key(key_text),
        user: owner.map(user),
        payload: Payload::new(body),
    }
}

/// An outbox message whose payload names its key.
pub fn message(tenant_text: &str, topic: &str, key: &str) -> OutboxMessage {
    OutboxMessage {
        tenant: tenant(tenant_text),
        topic: topic.to_owned(),
        key: key.to_owned(),
        payload: Payload::new(json!({"k": key})),
    }
}

/// Saves in a transaction of its own.
pub fn save(
    store: &impl UserEngineStore,
    w: RecordWrite,
    expect: Expectation,
) -> Result<Record, StoreError> {
    let mut tx = store.begin()?;
    let record = tx.save(w, expect)?;
    tx.commit()?;
    Ok(record)
}

/// `tenant/topic/key` of each pending event.
pub fn pending(store: &impl UserEngineStore) -> Vec<String> {
    store
        .outbox_pending(usize::MAX)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `store`, migrated.
pub fn migrated<S: UserEngineStore>(store: S) -> S {
    store.migrate().unwrap();
    store
}

/// Runs the check named `name` (a [`BEHAVIOUR_CHECKS`](crate::conformance::spec::BEHAVIOUR_CHECKS)
/// row) on `store`, migrating it first when the check starts from a migrated store.
///
/// # Panics
/// When the check fails, and for a name no row has.
pub fn run<S: UserEngineStore>(name: &str, store: S) {
    let row = crate::conformance::spec::BEHAVIOUR_CHECKS
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no behaviour check is named `{name}`"));
    let store = if row.migrated { migrated(store) } else { store };
    match name {
        "racing_writers_lose_no_commit" => racing_writers_lose_no_commit(&store),
        "payloads_beyond_a_scenario_file" => payloads_beyond_a_scenario_file(&store),
        other => panic!("the behaviour check `{other}` has a row but no function"),
    }
}

#[cfg(test)]
mod tests {
    use crate::InMemoryUserEngineStore;
    use crate::conformance::spec::BEHAVIOUR_CHECKS;

    /// Every row runs against the reference store, so the checks encode the reference behaviour
    /// rather than an adapter's.
    #[test]
    fn the_reference_store_passes_every_check_it_can_take() {
        let mut ran = 0;
        for check in BEHAVIOUR_CHECKS {
            if check
                .requires
                .iter()
                .all(|c| InMemoryUserEngineStore::CAPABILITIES.contains(c))
            {
                super::run(check.name, InMemoryUserEngineStore::new());
                ran += 1;
            }
        }
        assert_eq!(
            ran,
            BEHAVIOUR_CHECKS.len(),
            "the reference takes every check"
        );
    }

    #[test]
    #[should_panic(expected = "no behaviour check is named `nope`")]
    fn an_unknown_name_is_refused() {
        super::run("nope", InMemoryUserEngineStore::new());
    }
}
