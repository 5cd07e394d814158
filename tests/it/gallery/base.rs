//! The delegating base every broken adapter shares: [`Broken<F>`] wraps the reference store and
//! routes each call through a [`Fault`] hook whose default delegates unchanged, so a broken adapter
//! is only the one hook it gets wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use user_engine::{
    AuditEntry, AuditRecord, ConformanceHooks, Diagnostics, EventId, Expectation,
    InMemoryUserEngineStore, MigrationReport, OutboxEvent, OutboxMessage, Page, Readiness, Record,
    RecordKey, RecordWrite, StoreError, StoreTransaction, TenantId, TenantQuery, UserEngineStore,
    UserId,
};

/// One way of breaking the store contract. Every hook defaults to the reference behaviour, so an
/// implementation overrides exactly the behaviour it breaks and nothing else.
///
/// Store hooks receive the whole [`Broken`] store (for the reference store inside it, the tenants
/// seen so far and the writes of open transactions); transaction hooks receive the [`BrokenTx`]
/// (for the reference transaction inside it and the [`TxLog`] of what it did). Hooks have no doc
/// comments of their own: each is the [`UserEngineStore`] or [`StoreTransaction`] method of the
/// same name (`tx_get` is the transaction's `get`).
pub(crate) trait Fault: Default + Send + Sync + 'static {
    /// The `docs/store-contract.md` anchor this fault breaks.
    const BREAKS: &'static str;

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        store.inner.get(key)
    }

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        store.inner.list_tenant(query)
    }

    fn list_user(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<Record>, StoreError> {
        store.inner.list_user(tenant, user)
    }

    fn list_audit(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        store.inner.list_audit(tenant)
    }

    fn outbox_pending(
        &self,
        store: &Broken<Self>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        store.inner.outbox_pending(limit)
    }

    fn acknowledge(&self, store: &Broken<Self>, ids: &[EventId]) -> Result<usize, StoreError> {
        store.inner.acknowledge(ids)
    }

    fn migrate(&self, store: &Broken<Self>) -> Result<MigrationReport, StoreError> {
        store.inner.migrate()
    }

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        store.inner.readiness()
    }

    fn diagnostics(&self, store: &Broken<Self>) -> Result<Diagnostics, StoreError> {
        store.inner.diagnostics()
    }

    fn debug(&self, store: &Broken<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(short_name::<Self>())
            .field(&store.inner)
            .finish()
    }

    fn tx_get(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
    ) -> Result<Option<Record>, StoreError> {
        tx.inner().get(key)
    }

    fn save(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        write: RecordWrite,
        expect: Expectation,
    ) -> Result<Record, StoreError> {
        tx.inner().save(write, expect)
    }

    fn delete(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
        expect: Expectation,
    ) -> Result<(), StoreError> {
        tx.inner().delete(key, expect)
    }

    fn append_audit(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        entry: AuditEntry,
    ) -> Result<(), StoreError> {
        tx.inner().append_audit(entry)
    }

    fn enqueue(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        message: OutboxMessage,
    ) -> Result<(), StoreError> {
        tx.inner().enqueue(message)
    }

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().commit()
    }

    fn rollback(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().rollback()
    }

    /// Called when the transaction is dropped unfinished (also while unwinding from a panic);
    /// the reference transaction, if still open, is dropped afterwards, which rolls it back.
    fn dropped(&self, _tx: &mut BrokenTx<'_, Self>) {}
}

/// The last segment of a fault's type name: how the gallery and the kill matrix name it.
pub(crate) fn short_name<F: Fault>() -> &'static str {
    let full = std::any::type_name::<F>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Locks a fault's own state; a panic inside a scenario must not disable the fault afterwards.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A broken adapter: the reference store with one [`Fault`].
#[derive(Default)]
pub(crate) struct Broken<F> {
    /// The reference store that does the real work.
    pub(crate) inner: InMemoryUserEngineStore,
    /// The fault, with whatever state it keeps.
    pub(crate) fault: F,
    tenants: Mutex<BTreeSet<TenantId>>,
    uncommitted: Mutex<BTreeMap<RecordKey, Option<Record>>>,
    enqueue_clock: AtomicU64,
}

impl<F: Fault> Broken<F> {
    /// Every tenant a record was ever written for, in order: what a leaking query reaches into.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        lock(&self.tenants).iter().cloned().collect()
    }

    /// What an open transaction wrote to `key` (`Some(None)`: deleted), for faults that let
    /// uncommitted writes be seen.
    pub(crate) fn uncommitted(&self, key: &RecordKey) -> Option<Option<Record>> {
        lock(&self.uncommitted).get(key).cloned()
    }

    fn forget_uncommitted(&self, log: &TxLog) {
        let mut uncommitted = lock(&self.uncommitted);
        for change in &log.changes {
            uncommitted.remove(change.key());
        }
    }
}

impl<F: Fault> fmt::Debug for Broken<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fault.debug(self, f)
    }
}

impl<F: Fault> UserEngineStore for Broken<F> {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        let inner = self.inner.begin()?;
        Ok(Box::new(BrokenTx {
            store: self,
            open: Some(inner),
            done: false,
            log: TxLog::default(),
        }))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.fault.get(self, key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.fault.list_tenant(self, query)
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.fault.list_user(self, tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.fault.list_audit(self, tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.fault.outbox_pending(self, limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.fault.acknowledge(self, ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.fault.migrate(self)
    }

    fn readiness(&self) -> Readiness {
        self.fault.readiness(self)
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        self.fault.diagnostics(self)
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        self.inner.conformance_hooks()
    }
}

/// What a transaction did, in order, so a fault can replay it where the contract forbids.
#[derive(Default)]
pub(crate) struct TxLog {
    /// Record writes that succeeded.
    pub(crate) changes: Vec<Change>,
    /// Events that were enqueued.
    pub(crate) events: Vec<Enqueued>,
}

/// One successful record write.
pub(crate) enum Change {
    Saved(RecordWrite),
    Deleted(RecordKey),
}

impl Change {
    /// The record written.
    pub(crate) fn key(&self) -> &RecordKey {
        match self {
            Change::Saved(write) => &write.key,
            Change::Deleted(key) => key,
        }
    }
}

/// One enqueued event, stamped with the store-wide order in which events were enqueued (the order
/// an id assigned at insert time would have, which the contract says relays must not follow).
pub(crate) struct Enqueued {
    pub(crate) at: u64,
    pub(crate) message: OutboxMessage,
}

/// A broken adapter's transaction: the reference transaction plus a log of what it did.
pub(crate) struct BrokenTx<'a, F: Fault> {
    /// The store it belongs to.
    pub(crate) store: &'a Broken<F>,
    open: Option<Box<dyn StoreTransaction + 'a>>,
    done: bool,
    /// What it did so far.
    pub(crate) log: TxLog,
}

impl<'a, F: Fault> BrokenTx<'a, F> {
    /// The reference transaction.
    pub(crate) fn inner(&mut self) -> &mut (dyn StoreTransaction + 'a) {
        self.open
            .as_deref_mut()
            .expect("a fault used its transaction after committing or rolling it back")
    }

    /// Takes the reference transaction out, to commit or roll it back.
    pub(crate) fn take(&mut self) -> Box<dyn StoreTransaction + 'a> {
        self.open
            .take()
            .expect("a fault finished its transaction twice")
    }

    fn finish(
        &mut self,
        end: impl FnOnce(&F, &mut Self) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let store = self.store;
        let fault = &store.fault;
        self.done = true;
        let result = end(fault, self);
        store.forget_uncommitted(&self.log);
        result
    }
}

impl<F: Fault> StoreTransaction for BrokenTx<'_, F> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let store = self.store;
        store.fault.tx_get(self, key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let store = self.store;
        let logged = write.clone();
        let record = store.fault.save(self, write, expect)?;
        lock(&store.tenants).insert(logged.key.tenant.clone());
        lock(&store.uncommitted).insert(logged.key.clone(), Some(record.clone()));
        self.log.changes.push(Change::Saved(logged));
        Ok(record)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let store = self.store;
        store.fault.delete(self, key, expect)?;
        lock(&store.uncommitted).insert(key.clone(), None);
        self.log.changes.push(Change::Deleted(key.clone()));
        Ok(())
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        let store = self.store;
        store.fault.append_audit(self, entry)
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        let store = self.store;
        let logged = message.clone();
        store.fault.enqueue(self, message)?;
        let at = store.enqueue_clock.fetch_add(1, Ordering::Relaxed);
        self.log.events.push(Enqueued {
            at,
            message: logged,
        });
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.finish(|fault, tx| fault.commit(tx))
    }

    fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        self.finish(|fault, tx| fault.rollback(tx))
    }
}

impl<F: Fault> Drop for BrokenTx<'_, F> {
    fn drop(&mut self) {
        if !self.done {
            let store = self.store;
            store.fault.dropped(self);
            store.forget_uncommitted(&self.log);
        }
    }
}

/// Commits `changes` and `events` once more in a transaction of their own: how a fault makes work
/// survive that the contract says must vanish.
pub(crate) fn replay(
    store: &InMemoryUserEngineStore,
    changes: &[Change],
    events: &[Enqueued],
) -> Result<(), StoreError> {
    let mut again = store.begin()?;
    for change in changes {
        match change {
            Change::Saved(write) => again.save(write.clone(), Expectation::Any).map(drop)?,
            Change::Deleted(key) => again.delete(key, Expectation::Any)?,
        }
    }
    for event in events {
        again.enqueue(event.message.clone())?;
    }
    again.commit()
}

/// No fault at all: proves the delegation itself keeps the contract, so that a kill in the
/// gallery is the fault's doing and not the base's.
#[derive(Default)]
pub(crate) struct Faithful;

impl Fault for Faithful {
    const BREAKS: &'static str = "";
}
