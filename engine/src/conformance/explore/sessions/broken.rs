//! Stores that break what only concurrent sessions show, for the two-session explorer's tests:
//! the reference with a guard, the outbox order or the commit's atomicity broken the way a real
//! adapter might break it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{
    AuditEntry, AuditRecord, Diagnostics, EventId, Expectation, InMemoryUserEngineStore,
    MigrationReport, OutboxEvent, OutboxMessage, Page, Readiness, Record, RecordKey, RecordWrite,
    StoreError, StoreTransaction, TenantId, TenantQuery, UserEngineStore, UserId,
};

/// Which rule is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Race {
    /// Guards are checked at the write, against what the transaction sees then, and never again
    /// at commit: two writers guarded on one version both commit (a lost update, C3, C33).
    GuardCheckedOnlyAtWrite,
    /// Pending events ordered by when their transaction began, as a store that numbers
    /// events from a sequence taken at `begin` would (C20).
    OutboxInBeginOrder,
    /// Commit sends its statements one by one outside a transaction: the unconditional writes
    /// with the audit entries and events in one batch first, then each guarded write, and stops
    /// at the first that fails, leaving what it sent before (C12).
    CommitWriteByWrite,
    /// A save panics, and so does dropping the transaction it leaves: the second panic is
    /// outside the step's own catch, on the session's thread.
    PanicsInSaveAndInDrop,
}

/// Panics when dropped, for `PanicsInSaveAndInDrop`.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("dropping the transaction panicked");
        }
    }
}

#[derive(Debug)]
pub(crate) struct Racy {
    inner: InMemoryUserEngineStore,
    race: Race,
    begins: AtomicU64,
    /// For `OutboxInBeginOrder`: each committed event's transaction's begin number.
    begun_at: Mutex<BTreeMap<EventId, u64>>,
}

impl Racy {
    pub(crate) fn new(race: Race) -> Self {
        Racy {
            inner: InMemoryUserEngineStore::new(),
            race,
            begins: AtomicU64::new(0),
            begun_at: Mutex::default(),
        }
    }
}

/// A write kept for `CommitWriteByWrite`.
enum Logged {
    Save(RecordWrite, Expectation),
    Delete(RecordKey, Expectation),
}

struct RacyTransaction<'a> {
    inner: Box<dyn StoreTransaction + 'a>,
    store: &'a Racy,
    begun: u64,
    log: Vec<Logged>,
    audit: Vec<AuditEntry>,
    outbox: Vec<OutboxMessage>,
    /// Set by a `PanicsInSaveAndInDrop` save.
    armed: Option<PanicsWhenDropped>,
}

impl RacyTransaction<'_> {
    fn check_now(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let sees = self.inner.get(key)?.map(|r| r.version);
        if expect.admits(sees) {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                key: key.clone(),
                expected: expect,
                actual: sees,
            })
        }
    }
}

impl StoreTransaction for RacyTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        match self.store.race {
            Race::GuardCheckedOnlyAtWrite => {
                self.check_now(&write.key, expect)?;
                self.inner.save(write, Expectation::Any)
            }
            Race::CommitWriteByWrite => {
                let saved = self.inner.save(write.clone(), expect)?;
                self.log.push(Logged::Save(write, expect));
                Ok(saved)
            }
            Race::OutboxInBeginOrder => self.inner.save(write, expect),
            Race::PanicsInSaveAndInDrop => {
                self.armed = Some(PanicsWhenDropped);
                panic!("save panicked")
            }
        }
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        match self.store.race {
            Race::GuardCheckedOnlyAtWrite if expect != Expectation::Absent => {
                self.check_now(key, expect)?;
                self.inner.delete(key, Expectation::Any)
            }
            Race::CommitWriteByWrite => {
                self.inner.delete(key, expect)?;
                self.log.push(Logged::Delete(key.clone(), expect));
                Ok(())
            }
            _ => self.inner.delete(key, expect),
        }
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.audit.push(entry.clone());
        self.inner.append_audit(entry)
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.outbox.push(message.clone());
        self.inner.enqueue(message)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        match this.store.race {
            Race::GuardCheckedOnlyAtWrite | Race::PanicsInSaveAndInDrop => this.inner.commit(),
            Race::OutboxInBeginOrder => {
                let store = &this.store.inner;
                let mut begun_at = this
                    .store
                    .begun_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let before: BTreeSet<EventId> = pending_ids(store)?;
                this.inner.commit()?;
                for id in pending_ids(store)? {
                    if !before.contains(&id) {
                        begun_at.entry(id).or_insert(this.begun);
                    }
                }
                Ok(())
            }
            Race::CommitWriteByWrite => {
                drop(this.inner);
                let store = &this.store.inner;
                let apply = |logged: Logged| -> Result<(), StoreError> {
                    let mut tx = store.begin()?;
                    match logged {
                        Logged::Save(write, expect) => tx.save(write, expect).map(drop)?,
                        Logged::Delete(key, expect) => tx.delete(&key, expect)?,
                    }
                    tx.commit()
                };
                let (unconditional, guarded): (Vec<Logged>, Vec<Logged>) =
                    this.log.into_iter().partition(|l| match l {
                        Logged::Save(_, expect) | Logged::Delete(_, expect) => {
                            *expect == Expectation::Any
                        }
                    });
                let mut tx = store.begin()?;
                for logged in unconditional {
                    match logged {
                        Logged::Save(write, expect) => tx.save(write, expect).map(drop)?,
                        Logged::Delete(key, expect) => tx.delete(&key, expect)?,
                    }
                }
                for entry in this.audit {
                    tx.append_audit(entry)?;
                }
                for message in this.outbox {
                    tx.enqueue(message)?;
                }
                tx.commit()?;
                guarded.into_iter().try_for_each(apply)
            }
        }
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback()
    }
}

fn pending_ids(store: &InMemoryUserEngineStore) -> Result<BTreeSet<EventId>, StoreError> {
    Ok(store
        .outbox_pending(usize::MAX)?
        .into_iter()
        .map(|e| e.id)
        .collect())
}

impl UserEngineStore for Racy {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        Ok(Box::new(RacyTransaction {
            inner: self.inner.begin()?,
            store: self,
            begun: self.begins.fetch_add(1, Ordering::SeqCst),
            log: Vec::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
            armed: None,
        }))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.inner.list_tenant(query)
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.inner.list_user(tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.list_audit(tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        if self.race != Race::OutboxInBeginOrder {
            return self.inner.outbox_pending(limit);
        }
        let begun_at = self.begun_at.lock().unwrap_or_else(|p| p.into_inner());
        let mut events = self.inner.outbox_pending(usize::MAX)?;
        events.sort_by_key(|e| (begun_at.get(&e.id).copied(), e.id));
        events.truncate(limit);
        Ok(events)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.inner.acknowledge(ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.inner.migrate()
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        self.inner.diagnostics()
    }
}
