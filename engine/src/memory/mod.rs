//! `InMemoryUserEngineStore`: the deterministic reference adapter every other adapter is judged against.
//!
//! It is an independent oracle: its transactions ([`transaction`]) are written here, directly
//! over its own maps, and share no type or code with the optional buffered strategy
//! ([`crate::buffered`]) that the SQL adapters use. What it shares with them are the contract's
//! rules ([`crate::kit`]): readiness, the migration plan, acknowledgement, the next version.

mod transaction;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::diagnostics::Diagnostics;
use crate::error::StoreError;
use crate::ids::{RecordKey, TenantId, UserId};
use crate::kit::{self, MigrationSource, acknowledgement, require_ready};
use crate::migration::{AppliedMigration, MigrationReport};
use crate::readiness::Readiness;
use crate::record::{AuditRecord, EventId, OutboxEvent, OutboxMessage, Record};
use crate::store::{
    ConformanceHooks, InjectedFault, Page, StoreTransaction, TenantQuery, UserEngineStore,
};

/// The reference store runs no SQL: applied migrations carry their manifest checksums.
const MIGRATION_SOURCE: MigrationSource = MigrationSource::Manifest;

/// The reference store: ordered maps behind one mutex, counters for sequences, no clocks.
///
/// Transactions keep their writes to themselves and apply them in one step at commit, after
/// checking that no record they guarded (with an `Absent` or `Version` expectation) changed since
/// they first wrote it. A panic never leaves the shared state half-written, so a poisoned lock is
/// safe to reuse.
///
/// ```
/// use user_engine::{InMemoryUserEngineStore, UserEngineStore};
/// let store = InMemoryUserEngineStore::new();
/// assert!(!store.readiness().is_ready());
/// store.migrate().unwrap();
/// assert!(store.readiness().is_ready());
/// ```
#[derive(Default)]
pub struct InMemoryUserEngineStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    applied: Vec<AppliedMigration>,
    records: BTreeMap<RecordKey, Record>,
    /// The last version of every key ever written, live or deleted: versions never repeat (C2).
    last_versions: BTreeMap<RecordKey, u64>,
    audit: Vec<AuditRecord>,
    outbox: BTreeMap<u64, (OutboxMessage, bool)>,
    next_audit_sequence: u64,
    next_event_id: u64,
    /// A fault armed by `ConformanceHooks::inject_fault` for the next commit.
    armed_fault: Option<usize>,
}

impl State {
    fn schema_version(&self) -> Option<u32> {
        kit::schema_version(&self.applied)
    }

    fn readiness(&self) -> Readiness {
        MIGRATION_SOURCE.readiness(Some(&self.applied))
    }

    fn ensure_ready(&self) -> Result<(), StoreError> {
        require_ready(self.readiness())
    }

    /// The live version of `key`, if it holds a record.
    fn live_version(&self, key: &RecordKey) -> Option<u64> {
        self.records.get(key).map(|r| r.version)
    }

    /// The last version `key` had, live or deleted (0: never written).
    fn last_version(&self, key: &RecordKey) -> u64 {
        self.last_versions.get(key).copied().unwrap_or(0)
    }
}

impl InMemoryUserEngineStore {
    /// The capabilities the reference store declares to the conformance suite: it exposes the
    /// migration tamper hook and fault injection, and holds any number of open transactions on
    /// one thread. It has no durable storage to reopen and no server connection to terminate.
    pub const CAPABILITIES: &'static [&'static str] = &[
        "migration_tamper",
        "stepwise_migration",
        "commit_time_conflicts",
        "fault_injection",
    ];

    /// An empty, unmigrated store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store already at the latest schema version.
    pub fn migrated() -> Self {
        let store = Self::new();
        // Migrating an empty in-memory store cannot fail: nothing is applied, nothing can drift.
        if let Err(e) = store.migrate() {
            unreachable!("migrating a new in-memory store failed: {e}");
        }
        store
    }

    /// Applies the manifest up to schema version `target`. Migration 2 changes nothing here: the
    /// reference store has remembered deleted keys' versions from the start.
    fn migrate_up_to(&self, target: u32) -> Result<MigrationReport, StoreError> {
        let mut state = self.lock();
        let plan = MIGRATION_SOURCE.plan(&state.applied)?.up_to(target);
        plan.apply(|step| {
            state.applied.push(AppliedMigration {
                version: step.migration.version,
                checksum: step.checksum.clone(),
            });
            Ok(())
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // State is only mutated in complete steps, so a panic elsewhere never leaves it torn.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for InMemoryUserEngineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("InMemoryUserEngineStore")
            .field("schema_version", &state.schema_version())
            .field("records", &state.records.len())
            .field("audit_entries", &state.audit.len())
            .field("outbox_events", &state.outbox.len())
            .finish()
    }
}

impl UserEngineStore for InMemoryUserEngineStore {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        self.lock().ensure_ready()?;
        Ok(Box::new(transaction::MemoryTransaction::new(self)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state.records.get(key).cloned())
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let records = state
            .records
            .iter()
            .filter(|(key, _)| key.tenant == query.tenant)
            .filter(|(key, _)| query.kind.is_none_or(|kind| key.kind == kind))
            .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
            .map(|(_, record)| record.clone())
            .collect();
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state
            .records
            .iter()
            .filter(|(key, record)| &key.tenant == tenant && record.user.as_ref() == Some(user))
            .map(|(_, record)| record.clone())
            .collect())
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state
            .audit
            .iter()
            .filter(|a| &a.entry.tenant == tenant)
            .cloned()
            .collect())
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state
            .outbox
            .iter()
            .filter(|(_, (_, acknowledged))| !acknowledged)
            .take(limit)
            .map(|(id, (message, _))| OutboxEvent {
                id: EventId(*id),
                message: message.clone(),
            })
            .collect())
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        let mut state = self.lock();
        state.ensure_ready()?;
        // Every id is checked before any is marked: all or nothing.
        let ids = acknowledgement(ids, |id| Ok(state.outbox.contains_key(&id.0)))?;
        let mut newly = 0;
        for id in ids {
            if let Some((_, acknowledged)) = state.outbox.get_mut(&id.0) {
                newly += usize::from(!*acknowledged);
                *acknowledged = true;
            }
        }
        Ok(newly)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.migrate_up_to(crate::LATEST_SCHEMA_VERSION)
    }

    fn readiness(&self) -> Readiness {
        self.lock().readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        let state = self.lock();
        let mut diagnostics = Diagnostics {
            schema_version: state.schema_version(),
            ..Diagnostics::default()
        };
        let mut tenants = BTreeSet::new();
        for key in state.records.keys() {
            *diagnostics.records.entry(key.kind).or_insert(0) += 1;
            tenants.insert(&key.tenant);
        }
        diagnostics.tenants = tenants.len() as u64;
        diagnostics.audit_entries = state.audit.len() as u64;
        for (_, acknowledged) in state.outbox.values() {
            if *acknowledged {
                diagnostics.outbox_acknowledged += 1;
            } else {
                diagnostics.outbox_pending += 1;
            }
        }
        Ok(diagnostics)
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        Some(self)
    }
}

impl ConformanceHooks for InMemoryUserEngineStore {
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError> {
        let mut state = self.lock();
        let applied = state
            .applied
            .iter_mut()
            .find(|m| m.version == version)
            .ok_or_else(|| {
                StoreError::invalid(format!("migration {version} has not been applied"))
            })?;
        applied.checksum = kit::tampered_checksum(&applied.checksum);
        Ok(())
    }

    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        self.migrate_up_to(version)
    }

    /// Commits apply every change in one step under the lock, so a fault before any change
    /// leaves exactly what a fault before the first one does: nothing. There is no server
    /// connection to terminate.
    fn inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        match fault {
            InjectedFault::CommitFailsAt { change } if change >= 1 => {
                self.lock().armed_fault = Some(change);
                Ok(())
            }
            InjectedFault::CommitFailsAt { .. } => {
                Err(StoreError::invalid("fault positions count changes from 1"))
            }
            _ => Err(StoreError::Unsupported {
                operation: "inject_fault",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;
    use crate::payload::Payload;
    use crate::record::{Expectation, RecordWrite};

    fn write(key: &RecordKey, n: u64) -> RecordWrite {
        RecordWrite {
            key: key.clone(),
            user: None,
            payload: Payload::new(json!({ "n": n })),
        }
    }

    /// store-contract C3/C4: a write that fails "changes nothing", not even at commit time.
    #[test]
    fn a_failed_delete_never_deletes_a_record_created_concurrently() {
        let store = InMemoryUserEngineStore::migrated();
        let key = RecordKey::parse("acme/profile/p1").unwrap();
        let mut late = store.begin().unwrap();
        let err = late.delete(&key, Expectation::Any).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let mut creator = store.begin().unwrap();
        creator.save(write(&key, 1), Expectation::Absent).unwrap();
        creator.commit().unwrap();
        late.commit().unwrap();
        assert_eq!(store.get(&key).unwrap().map(|r| r.version), Some(1));
    }

    #[test]
    fn a_failed_save_never_writes_back_what_it_first_saw() {
        let store = InMemoryUserEngineStore::migrated();
        let key = RecordKey::parse("acme/profile/p1").unwrap();
        let mut first = store.begin().unwrap();
        first.save(write(&key, 1), Expectation::Absent).unwrap();
        first.commit().unwrap();
        let mut late = store.begin().unwrap();
        let err = late
            .save(write(&key, 9), Expectation::Version(5))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let mut other = store.begin().unwrap();
        other.save(write(&key, 2), Expectation::Any).unwrap();
        other.commit().unwrap();
        late.commit().unwrap();
        let record = store.get(&key).unwrap().unwrap();
        assert_eq!(
            (record.version, record.payload.expose()),
            (2, &json!({"n": 2}))
        );
    }

    #[test]
    fn acknowledge_is_all_or_nothing() {
        let store = InMemoryUserEngineStore::migrated();
        let mut tx = store.begin().unwrap();
        for key in ["a", "b"] {
            tx.enqueue(OutboxMessage {
                tenant: TenantId::new("acme").unwrap(),
                topic: "t".into(),
                key: key.into(),
                payload: Payload::empty(),
            })
            .unwrap();
        }
        tx.commit().unwrap();
        let ids: Vec<EventId> = store
            .outbox_pending(10)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        let err = store.acknowledge(&[ids[0], EventId(99)]).unwrap_err();
        assert_eq!(err.to_string(), "invalid request: event 99 does not exist");
        assert_eq!(
            store.outbox_pending(10).unwrap().len(),
            2,
            "nothing acknowledged"
        );
        assert_eq!(store.acknowledge(&[ids[1], ids[0], ids[1]]).unwrap(), 2);
        assert_eq!(
            store.acknowledge(&ids).unwrap(),
            0,
            "acknowledging twice is harmless"
        );
    }
}
