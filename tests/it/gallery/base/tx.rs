//! The broken adapter's transaction: [`BrokenTx`] wraps the reference transaction, routes each
//! call through the store's [`Fault`] and logs what it did, so a fault can replay that work where
//! the contract forbids.

use std::sync::atomic::Ordering;

use user_engine::{
    AuditEntry, Expectation, InMemoryUserEngineStore, OutboxMessage, Record, RecordKey,
    RecordWrite, StoreError, StoreTransaction, UserEngineStore,
};

use super::{Broken, Fault, lock};

/// What a transaction did, in order, so a fault can replay it where the contract forbids.
#[derive(Clone, Default)]
pub(crate) struct TxLog {
    /// Record writes that succeeded.
    pub(crate) changes: Vec<Change>,
    /// Audit entries that were appended.
    pub(crate) audits: Vec<AuditEntry>,
    /// Events that were enqueued.
    pub(crate) events: Vec<Enqueued>,
}

/// One successful record write.
#[derive(Clone)]
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
#[derive(Clone)]
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
    pub(super) fn new(store: &'a Broken<F>, inner: Box<dyn StoreTransaction + 'a>) -> Self {
        Self {
            store,
            open: Some(inner),
            done: false,
            log: TxLog::default(),
        }
    }

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
        let logged = entry.clone();
        store.fault.append_audit(self, entry)?;
        self.log.audits.push(logged);
        Ok(())
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

/// Commits `changes`, `audits` and `events` once more in a transaction of their own: how a fault
/// makes work survive that the contract says must vanish.
pub(crate) fn replay(
    store: &InMemoryUserEngineStore,
    changes: &[Change],
    audits: &[AuditEntry],
    events: &[Enqueued],
) -> Result<(), StoreError> {
    let mut again = store.begin()?;
    for change in changes {
        match change {
            Change::Saved(write) => again.save(write.clone(), Expectation::Any).map(drop)?,
            Change::Deleted(key) => again.delete(key, Expectation::Any)?,
        }
    }
    for entry in audits {
        again.append_audit(entry.clone())?;
    }
    for event in events {
        again.enqueue(event.message.clone())?;
    }
    again.commit()
}
