//! The behaviour checks written in Rust, for what a YAML scenario cannot say: real threads racing
//! on one store, a panic inside a transaction, canary values searched for in every rendering, a
//! fault at every position of a long commit. `conformance_suite!` runs each as
//! `conformance_checks::<name>` beside the scenarios (the table is
//! [`BEHAVIOUR_CHECKS`](crate::conformance::spec::BEHAVIOUR_CHECKS)), gated by the capabilities it
//! needs, so every adapter — yours too — is held to the same checks through one invocation.
//!
//! The small builders below (`key`, `write`, `save`, ...) panic on bad input: they are for tests.
//!
//! ```
//! use user_engine::InMemoryUserEngineStore;
//! use user_engine::conformance::checks;
//!
//! checks::round_trip(&checks::migrated(InMemoryUserEngineStore::new()));
//! ```

mod behaviour;
mod hooks;

use serde_json::{Value, json};

use crate::{
    Expectation, OutboxMessage, Payload, Record, RecordKey, RecordWrite, StoreError, TenantId,
    UserEngineStore, UserId,
};

pub use behaviour::{
    audit_in_commit_order, concurrent_commits, drift, migrate_and_readiness, nothing_leaks,
    outbox_order_ack_and_redelivery, refused_writes_change_nothing, rollback_drop_and_panic,
    round_trip, tenant_isolation_and_pagination, versions_and_conflicts,
};
pub use hooks::{
    a_fault_at_every_change_leaves_nothing, a_fault_is_used_up_by_the_next_commit, hooks,
    observable, reopen_keeps_committed_work_only,
};

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
/// row) on `store`, migrating it first when the check starts from a migrated store. The fault
/// check strikes with `InjectedFault::CommitFailsAt`.
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
        "migrate_and_readiness" => migrate_and_readiness(&store),
        "round_trip" => round_trip(&store),
        "versions_and_conflicts" => versions_and_conflicts(&store),
        "refused_writes_change_nothing" => refused_writes_change_nothing(&store),
        "concurrent_commits" => concurrent_commits(&store),
        "rollback_drop_and_panic" => rollback_drop_and_panic(&store),
        "tenant_isolation_and_pagination" => tenant_isolation_and_pagination(&store),
        "outbox_order_ack_and_redelivery" => outbox_order_ack_and_redelivery(&store),
        "audit_in_commit_order" => audit_in_commit_order(&store),
        "drift" => drift(&store),
        "nothing_leaks" => nothing_leaks(&store),
        "a_fault_at_every_change_leaves_nothing" => {
            a_fault_at_every_change_leaves_nothing(&store, |change| {
                crate::InjectedFault::CommitFailsAt { change }
            });
        }
        "a_fault_is_used_up_by_the_next_commit" => a_fault_is_used_up_by_the_next_commit(&store),
        "reopen_keeps_committed_work_only" => reopen_keeps_committed_work_only(&store),
        other => panic!("the behaviour check `{other}` has a row but no function"),
    }
}

#[cfg(test)]
mod tests {
    use crate::InMemoryUserEngineStore;
    use crate::conformance::spec::BEHAVIOUR_CHECKS;

    /// Every row runs against the reference store (which has every hook but `reopen`), so the
    /// checks encode the reference behaviour rather than an adapter's.
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
        assert_eq!(ran, BEHAVIOUR_CHECKS.len() - 1, "all but reopen");
    }

    #[test]
    #[should_panic(expected = "no behaviour check is named `nope`")]
    fn an_unknown_name_is_refused() {
        super::run("nope", InMemoryUserEngineStore::new());
    }
}
