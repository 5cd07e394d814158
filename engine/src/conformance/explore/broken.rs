//! Deliberately broken stores for the explorer's own tests: the reference with one rule broken
//! the way a real adapter might break it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::{
    AuditEntry, AuditRecord, Diagnostics, EventId, Expectation, InMemoryUserEngineStore,
    MigrationReport, OutboxEvent, OutboxMessage, Page, Readiness, Record, RecordKey, RecordWrite,
    StoreError, StoreTransaction, TenantId, TenantQuery, UserEngineStore, UserId,
};

/// Which rule is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Tenant listings ordered and paged by case-folded id, as on a case-insensitive collation
    /// (C13, C15): `B` before `a`'s neighbours, and `a`/`A` treated as one position.
    CaseInsensitiveListing,
    /// The second save of a record (version 1 to 2) loses its owner (C5).
    OwnerLostOnSecondSave,
    /// Deleted records still counted in diagnostics, as a store counting tombstone rows (C28).
    TombstonesCounted,
    /// An acknowledgement naming an unknown id fails, but only after acknowledging the known
    /// ones (C21: all or nothing).
    PartialAcknowledgement,
}

/// The reference with `fault`.
#[derive(Debug)]
pub(crate) struct Broken {
    inner: InMemoryUserEngineStore,
    fault: Fault,
    /// Keys deleted by committed transactions, for `TombstonesCounted`.
    deleted: Mutex<BTreeSet<RecordKey>>,
}

impl Broken {
    pub(crate) fn new(fault: Fault) -> Self {
        Broken {
            inner: InMemoryUserEngineStore::new(),
            fault,
            deleted: Mutex::default(),
        }
    }
}

fn folded(key: &RecordKey) -> (String, String) {
    (key.kind.to_string(), key.id.as_str().to_ascii_lowercase())
}

struct BrokenTransaction<'a> {
    inner: Box<dyn StoreTransaction + 'a>,
    store: &'a Broken,
    deleted: Vec<RecordKey>,
}

impl StoreTransaction for BrokenTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key)
    }

    fn save(&mut self, mut write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        if self.store.fault == Fault::OwnerLostOnSecondSave
            && self.inner.get(&write.key)?.is_some_and(|r| r.version == 1)
        {
            write.user = None;
        }
        self.inner.save(write, expect)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        self.inner.delete(key, expect)?;
        self.deleted.push(key.clone());
        Ok(())
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.inner.append_audit(entry)
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.inner.enqueue(message)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        this.inner.commit()?;
        let mut deleted = this.store.deleted.lock().unwrap_or_else(|p| p.into_inner());
        deleted.extend(this.deleted);
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback()
    }
}

impl UserEngineStore for Broken {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        Ok(Box::new(BrokenTransaction {
            inner: self.inner.begin()?,
            store: self,
            deleted: Vec::new(),
        }))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        if self.fault != Fault::CaseInsensitiveListing {
            return self.inner.list_tenant(query);
        }
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let everything = TenantQuery {
            after: None,
            limit: None,
            ..query.clone()
        };
        let mut records = self.inner.list_tenant(&everything)?.records;
        records.sort_by_key(|r| folded(&r.key));
        if let Some(after) = after {
            records.retain(|r| folded(&r.key) > folded(&after));
        }
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.inner.list_user(tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.list_audit(tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.inner.outbox_pending(limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        if self.fault != Fault::PartialAcknowledgement {
            return self.inner.acknowledge(ids);
        }
        // Still refuses work before migration, like the reference: only all-or-nothing breaks.
        self.inner.acknowledge(&[])?;
        let mut newly = 0;
        let mut unknown = None;
        for id in ids {
            match self.inner.acknowledge(std::slice::from_ref(id)) {
                Ok(n) => newly += n,
                Err(e) => unknown = Some(e),
            }
        }
        unknown.map_or(Ok(newly), Err)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.inner.migrate()
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        let mut diagnostics = self.inner.diagnostics()?;
        if self.fault == Fault::TombstonesCounted {
            let deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner());
            for key in deleted.iter() {
                if self.inner.get(key)?.is_none() {
                    *diagnostics.records.entry(key.kind).or_insert(0) += 1;
                }
            }
        }
        Ok(diagnostics)
    }
}
