//! `InMemoryUserEngineStore`: the deterministic reference adapter every other adapter is judged against.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::diagnostics::Diagnostics;
use crate::error::StoreError;
use crate::ids::{RecordKey, TenantId, UserId};
use crate::migration::{AppliedMigration, MIGRATIONS, MigrationReport};
use crate::payload::Payload;
use crate::readiness::{NotReadyReason, Readiness};
use crate::record::{
    AuditEntry, AuditRecord, EventId, Expectation, OutboxEvent, OutboxMessage, Record, RecordWrite,
};
use crate::store::{ConformanceHooks, Page, StoreTransaction, TenantQuery, UserEngineStore};

/// The reference store: ordered maps behind one mutex, counters for sequences, no clocks.
///
/// Transactions buffer their writes and apply them in one step at commit, after checking that no
/// record they guarded (with an `Absent` or `Version` expectation) changed since they read it.
/// A panic never leaves the shared state half-written, so a poisoned lock is safe to reuse.
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
    records: BTreeMap<RecordKey, Stored>,
    audit: Vec<AuditRecord>,
    outbox: BTreeMap<u64, (OutboxMessage, bool)>,
    next_audit_sequence: u64,
    next_event_id: u64,
}

#[derive(Clone)]
struct Stored {
    user: Option<UserId>,
    payload: Payload,
    version: u64,
}

impl Stored {
    fn to_record(&self, key: &RecordKey) -> Record {
        Record {
            key: key.clone(),
            user: self.user.clone(),
            payload: self.payload.clone(),
            version: self.version,
        }
    }
}

impl State {
    fn schema_version(&self) -> Option<u32> {
        self.applied.iter().map(|m| m.version).max()
    }

    fn readiness(&self) -> Readiness {
        for applied in &self.applied {
            if let Some(m) = crate::migration::migration(applied.version) {
                if m.manifest_checksum() != applied.checksum {
                    return Readiness::NotReady {
                        reason: NotReadyReason::Drift {
                            version: applied.version,
                        },
                    };
                }
            }
        }
        Readiness::from_schema_version(self.schema_version())
    }

    fn ensure_ready(&self) -> Result<(), StoreError> {
        match self.readiness() {
            Readiness::Ready { .. } => Ok(()),
            Readiness::NotReady { reason } => Err(StoreError::NotReady { reason }),
        }
    }
}

impl InMemoryUserEngineStore {
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
        Ok(Box::new(MemoryTransaction {
            store: self,
            writes: BTreeMap::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
        }))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state.records.get(key).map(|s| s.to_record(key)))
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
            .map(|(key, stored)| stored.to_record(key))
            .collect();
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        let state = self.lock();
        state.ensure_ready()?;
        Ok(state
            .records
            .iter()
            .filter(|(key, stored)| &key.tenant == tenant && stored.user.as_ref() == Some(user))
            .map(|(key, stored)| stored.to_record(key))
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
        let mut newly = 0;
        for id in ids.iter().collect::<BTreeSet<_>>() {
            match state.outbox.get_mut(&id.0) {
                Some((_, acknowledged)) if !*acknowledged => {
                    *acknowledged = true;
                    newly += 1;
                }
                Some(_) => {}
                None => return Err(StoreError::invalid(format!("{id} does not exist"))),
            }
        }
        Ok(newly)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut state = self.lock();
        if let Readiness::NotReady {
            reason: NotReadyReason::Drift { version },
        } = state.readiness()
        {
            let recorded = state
                .applied
                .iter()
                .find(|m| m.version == version)
                .map(|m| m.checksum.clone())
                .unwrap_or_default();
            let expected = crate::migration::migration(version)
                .map(|m| m.manifest_checksum())
                .unwrap_or_default();
            return Err(StoreError::MigrationDrift {
                version,
                recorded,
                expected,
            });
        }
        let current = state.schema_version().unwrap_or(0);
        if current > crate::LATEST_SCHEMA_VERSION {
            return Err(StoreError::NotReady {
                reason: NotReadyReason::Ahead {
                    current,
                    latest: crate::LATEST_SCHEMA_VERSION,
                },
            });
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            state.applied.push(AppliedMigration {
                version: m.version,
                checksum: m.manifest_checksum(),
            });
            applied.push(m.version);
        }
        Ok(MigrationReport {
            applied,
            schema_version: state.schema_version().unwrap_or(0),
        })
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
        applied.checksum = crate::migration::checksum(&format!("tampered {}", applied.checksum));
        Ok(())
    }
}

/// A buffered write to one key.
struct PendingWrite {
    /// The committed version when this transaction first touched the key.
    observed: Option<u64>,
    /// Whether some write relied on `observed` (an `Absent` or `Version` expectation).
    guarded: bool,
    /// Whether the transaction deleted the key at some point (versions then restart at 1).
    deleted: bool,
    /// The key's state as this transaction sees it; `None`: deleted.
    current: Option<Stored>,
}

struct MemoryTransaction<'a> {
    store: &'a InMemoryUserEngineStore,
    writes: BTreeMap<RecordKey, PendingWrite>,
    audit: Vec<AuditEntry>,
    outbox: Vec<OutboxMessage>,
}

impl MemoryTransaction<'_> {
    fn pending(&mut self, key: &RecordKey) -> &mut PendingWrite {
        if !self.writes.contains_key(key) {
            let committed = self.store.lock().records.get(key).cloned();
            let observed = committed.as_ref().map(|s| s.version);
            self.writes.insert(
                key.clone(),
                PendingWrite {
                    observed,
                    guarded: false,
                    deleted: false,
                    current: committed,
                },
            );
        }
        self.writes
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }
}

impl StoreTransaction for MemoryTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        if let Some(write) = self.writes.get(key) {
            return Ok(write.current.as_ref().map(|s| s.to_record(key)));
        }
        self.store.get(key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let key = write.key.clone();
        let pending = self.pending(&key);
        let current = pending.current.as_ref().map(|s| s.version);
        if !expect.admits(current) {
            return Err(StoreError::Conflict {
                key,
                expected: expect,
                actual: current,
            });
        }
        pending.guarded |= expect != Expectation::Any;
        let stored = Stored {
            user: write.user,
            payload: write.payload,
            version: current.unwrap_or(0) + 1,
        };
        let record = stored.to_record(&key);
        pending.current = Some(stored);
        Ok(record)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(StoreError::invalid(format!(
                "delete of {key} cannot expect the record to be absent"
            )));
        }
        let pending = self.pending(key);
        let current = pending.current.as_ref().map(|s| s.version);
        if current.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        if !expect.admits(current) {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: expect,
                actual: current,
            });
        }
        pending.guarded |= expect != Expectation::Any;
        pending.deleted = true;
        pending.current = None;
        Ok(())
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.audit.push(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.outbox.push(message);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        let mut state = this.store.lock();
        state.ensure_ready()?;
        // Validate everything before changing anything: a commit is all or nothing.
        for (key, write) in &this.writes {
            let now = state.records.get(key).map(|s| s.version);
            if write.guarded && now != write.observed {
                let expected = write
                    .observed
                    .map_or(Expectation::Absent, Expectation::Version);
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected,
                    actual: now,
                });
            }
        }
        for (key, write) in this.writes {
            let now = state.records.get(&key).map(|s| s.version);
            match write.current {
                Some(mut stored) => {
                    // An unguarded write over a record changed concurrently keeps counting from
                    // the committed version, so versions never repeat.
                    if !write.deleted && now != write.observed {
                        stored.version =
                            now.unwrap_or(0) + stored.version - write.observed.unwrap_or(0);
                    }
                    state.records.insert(key, stored);
                }
                None => {
                    state.records.remove(&key);
                }
            }
        }
        for entry in this.audit {
            state.next_audit_sequence += 1;
            let sequence = state.next_audit_sequence;
            state.audit.push(AuditRecord { sequence, entry });
        }
        for message in this.outbox {
            state.next_event_id += 1;
            let id = state.next_event_id;
            state.outbox.insert(id, (message, false));
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Nothing reached shared state; dropping the buffers is the rollback.
        Ok(())
    }
}
