//! The delegating base every broken adapter shares: [`Broken<F>`] wraps the reference store and
//! routes each call through a [`Fault`] hook whose default delegates unchanged, so a broken adapter
//! is only the one hook it gets wrong.

mod hooks;
mod tx;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use user_engine::{
    AuditEntry, AuditRecord, ConformanceHooks, Diagnostics, EventId, Expectation,
    InMemoryUserEngineStore, InjectedFault, MigrationReport, OutboxEvent, OutboxMessage, Page,
    Readiness, Record, RecordKey, RecordWrite, StoreError, StoreTransaction, TenantId, TenantQuery,
    UserEngineStore, UserId,
};

pub(crate) use hooks::{
    DURABLE_CAPABILITIES, REFERENCE_CAPABILITIES, TERMINABLE_CAPABILITIES,
    WITHOUT_FAULT_HOOKS_CAPABILITIES,
};
pub(crate) use tx::{BrokenTx, Change, TxLog, replay};

/// One way of breaking the store contract. Every hook defaults to the reference behaviour, so an
/// implementation overrides exactly the behaviour it breaks and nothing else.
///
/// Store hooks receive the whole [`Broken`] store (for the reference store inside it, the tenants
/// seen so far and the writes of open transactions); transaction hooks receive the [`BrokenTx`]
/// (for the reference transaction inside it and the [`TxLog`] of what it did). Hooks have no doc
/// comments of their own: each is the [`UserEngineStore`], [`StoreTransaction`] or
/// [`ConformanceHooks`] method of the same name (`tx_get` is the transaction's `get`; `begin`
/// returns the reference transaction the base then wraps).
pub(crate) trait Fault: Default + Send + Sync + 'static {
    /// The `docs/store-contract.md` anchor this fault breaks.
    const BREAKS: &'static str;

    /// The capabilities the broken adapter claims: the scenarios it is run against, and the
    /// conformance hooks the base answers for it (see [`Broken::claims`]).
    const CAPABILITIES: &'static [&'static str] = REFERENCE_CAPABILITIES;

    /// Whether the events a transaction enqueues are only logged (in `tx.log.events`) and left
    /// for the fault's own `commit` to publish, instead of going to the reference transaction.
    const HOLDS_EVENTS_UNTIL_COMMIT: bool = false;

    /// Checked before every call that reaches the store's data (`begin`, `get`, the listings,
    /// `outbox_pending`, `acknowledge`), which fails with its error instead; by default every
    /// call gets through.
    fn connection(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn begin<'s>(
        &self,
        store: &'s Broken<Self>,
    ) -> Result<Box<dyn StoreTransaction + 's>, StoreError> {
        store.inner.begin()
    }

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

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        store.faithful_inject_fault(fault)
    }

    fn reopen(&self, store: &Broken<Self>) -> Result<(), StoreError> {
        store.faithful_reopen()
    }

    fn migrate_to(
        &self,
        store: &Broken<Self>,
        version: u32,
    ) -> Result<MigrationReport, StoreError> {
        store.faithful_migrate_to(version)
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
        if Self::HOLDS_EVENTS_UNTIL_COMMIT {
            return Ok(());
        }
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
pub(crate) fn short_name<F: ?Sized + 'static>() -> &'static str {
    let full = std::any::type_name::<F>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Locks a fault's own state; a panic inside a scenario must not disable the fault afterwards.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a racing fault waits between checking and acting: the window in which a call started
/// at the same moment (a `concurrently` copy) makes the same check. Without it the race is won or
/// lost by the scheduler, and the kill matrix would change from run to run.
pub(crate) fn race_window() {
    std::thread::sleep(Duration::from_millis(25));
}

/// A broken adapter: the reference store with one [`Fault`].
pub(crate) struct Broken<F> {
    /// The reference store that does the real work.
    pub(crate) inner: InMemoryUserEngineStore,
    /// The fault, with whatever state it keeps.
    pub(crate) fault: F,
    capabilities: &'static [&'static str],
    tenants: Mutex<BTreeSet<TenantId>>,
    uncommitted: Mutex<BTreeMap<RecordKey, Option<Record>>>,
    enqueue_clock: AtomicU64,
}

impl<F: Fault> Broken<F> {
    /// A fresh, unmigrated broken adapter claiming `capabilities` (usually `F::CAPABILITIES`).
    pub(crate) fn new(capabilities: &'static [&'static str]) -> Self {
        Self {
            inner: InMemoryUserEngineStore::new(),
            fault: F::default(),
            capabilities,
            tenants: Mutex::default(),
            uncommitted: Mutex::default(),
            enqueue_clock: AtomicU64::new(0),
        }
    }

    /// Whether the adapter claims `capability`.
    pub(crate) fn claims(&self, capability: &str) -> bool {
        self.capabilities.contains(&capability)
    }

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
        self.fault.connection()?;
        let inner = self.fault.begin(self)?;
        Ok(Box::new(BrokenTx::new(self, inner)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.fault.connection()?;
        self.fault.get(self, key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.fault.connection()?;
        self.fault.list_tenant(self, query)
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.fault.connection()?;
        self.fault.list_user(self, tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.fault.connection()?;
        self.fault.list_audit(self, tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.fault.connection()?;
        self.fault.outbox_pending(self, limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.fault.connection()?;
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
        // Always some: the hooks answer `unsupported` for what the adapter does not claim.
        Some(self)
    }
}

/// No fault at all: proves the delegation itself keeps the contract, under every capability set
/// an exhibit claims, so that a kill in the gallery is the fault's doing and not the base's.
#[derive(Default)]
pub(crate) struct Faithful;

impl Fault for Faithful {
    const BREAKS: &'static str = "";
}
