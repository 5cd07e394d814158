//! Broken adapters that claim `durable_reopen` and lose, or invent, work when the store is closed
//! and opened again (store-contract C30).

use std::sync::Mutex;

use user_engine::{ErrorKind, EventId, Expectation, RecordKey, StoreError, UserEngineStore};

use super::base::{Broken, BrokenTx, Change, DURABLE_CAPABILITIES, Fault, TxLog, lock, replay};

/// Breaks `store-contract#durable-commit`: commits reach a write-back cache that is never flushed,
/// so reopening loses every record saved since the store was opened (audit entries and events,
/// journaled elsewhere, survive).
#[derive(Default)]
pub(crate) struct CommitsOnlyToCache {
    unflushed: Mutex<Vec<RecordKey>>,
}

impl Fault for CommitsOnlyToCache {
    const BREAKS: &'static str = "durable-commit";
    const CAPABILITIES: &'static [&'static str] = DURABLE_CAPABILITIES;

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().commit()?;
        let saved = tx.log.changes.iter().filter_map(|change| match change {
            Change::Saved(write) => Some(write.key.clone()),
            Change::Deleted(_) => None,
        });
        lock(&self.unflushed).extend(saved);
        Ok(())
    }

    fn reopen(&self, store: &Broken<Self>) -> Result<(), StoreError> {
        let lost: Vec<RecordKey> = lock(&self.unflushed).drain(..).collect();
        let mut tx = store.inner.begin()?;
        for key in &lost {
            match tx.delete(key, Expectation::Any) {
                // Saved twice, or deleted since: already gone.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => other?,
            }
        }
        tx.commit()
    }
}

/// Breaks `store-contract#durable-commit`: the outbox queue is kept in memory, so reopening loses
/// every event not yet delivered (the store counts them as acknowledged).
#[derive(Default)]
pub(crate) struct ReopenDropsPendingEvents;

impl Fault for ReopenDropsPendingEvents {
    const BREAKS: &'static str = "durable-commit";
    const CAPABILITIES: &'static [&'static str] = DURABLE_CAPABILITIES;

    fn reopen(&self, store: &Broken<Self>) -> Result<(), StoreError> {
        let pending: Vec<EventId> = store
            .inner
            .outbox_pending(usize::MAX)?
            .iter()
            .map(|e| e.id)
            .collect();
        store.inner.acknowledge(&pending).map(drop)
    }
}

/// Breaks `store-contract#durable-commit`: recovery replays the journal without looking for
/// commit markers, so the writes of transactions still open at the crash come back as committed.
#[derive(Default)]
pub(crate) struct ReopenRecoversOpenTransactions {
    journal: Mutex<Vec<TxLog>>,
}

impl Fault for ReopenRecoversOpenTransactions {
    const BREAKS: &'static str = "durable-commit";
    const CAPABILITIES: &'static [&'static str] = DURABLE_CAPABILITIES;

    fn dropped(&self, tx: &mut BrokenTx<'_, Self>) {
        lock(&self.journal).push(tx.log.clone());
    }

    fn reopen(&self, store: &Broken<Self>) -> Result<(), StoreError> {
        let journal: Vec<TxLog> = lock(&self.journal).drain(..).collect();
        for log in &journal {
            replay(&store.inner, &log.changes, &log.audits, &log.events)?;
        }
        Ok(())
    }
}
