//! Broken adapters that get transactions wrong: commit, rollback, drop, panic, read-own-writes,
//! isolation, atomic failure (store-contract C6–C12).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use user_engine::{
    NotReadyReason, OutboxMessage, Readiness, Record, RecordKey, StoreError, UserEngineStore,
};

use super::base::{Broken, BrokenTx, Fault, lock, replay};

/// Breaks `store-contract#tx-commit`: a commit publishes the outbox events of the *previous*
/// commit and holds its own back until the next one, so its writes do not appear together.
#[derive(Default)]
pub(crate) struct EventsPublishedOneCommitLate {
    held_back: Mutex<Vec<OutboxMessage>>,
}

impl Fault for EventsPublishedOneCommitLate {
    const BREAKS: &'static str = "tx-commit";
    // Only logged; published by the next commit.
    const HOLDS_EVENTS_UNTIL_COMMIT: bool = true;

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let mut held_back = lock(&self.held_back);
        for message in held_back.drain(..) {
            tx.inner().enqueue(message)?;
        }
        held_back.extend(tx.log.events.iter().map(|e| e.message.clone()));
        tx.take().commit()
    }
}

/// Breaks `store-contract#tx-rollback`: rollback quietly commits the record writes (its audit
/// entries and events are discarded as they should be).
#[derive(Default)]
pub(crate) struct RollbackKeepsRecords;

impl Fault for RollbackKeepsRecords {
    const BREAKS: &'static str = "tx-rollback";

    fn rollback(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().rollback()?;
        replay(&tx.store.inner, &tx.log.changes, &[], &[])
    }
}

/// Breaks `store-contract#tx-drop`: a transaction dropped without `commit` commits (only a panic
/// still rolls it back).
#[derive(Default)]
pub(crate) struct DropCommits;

impl Fault for DropCommits {
    const BREAKS: &'static str = "tx-drop";

    fn dropped(&self, tx: &mut BrokenTx<'_, Self>) {
        if !std::thread::panicking() {
            // Drop cannot report an error; a failed commit is simply lost, as in real code.
            let _ = tx.take().commit();
        }
    }
}

/// Breaks `store-contract#tx-panic`: a transaction dropped while unwinding from a panic commits
/// what it wrote so far (a plain drop still rolls back).
#[derive(Default)]
pub(crate) struct PanicCommits;

impl Fault for PanicCommits {
    const BREAKS: &'static str = "tx-panic";

    fn dropped(&self, tx: &mut BrokenTx<'_, Self>) {
        if std::thread::panicking() {
            let _ = tx.take().commit();
        }
    }
}

/// Breaks `store-contract#tx-panic`: a panic inside a transaction poisons the store, which then
/// refuses every read with `unavailable` and reports itself unavailable.
#[derive(Default)]
pub(crate) struct PoisonedAfterPanic {
    poisoned: AtomicBool,
}

impl PoisonedAfterPanic {
    const DETAIL: &'static str = "a transaction panicked earlier";
}

impl Fault for PoisonedAfterPanic {
    const BREAKS: &'static str = "tx-panic";

    fn dropped(&self, _tx: &mut BrokenTx<'_, Self>) {
        if std::thread::panicking() {
            self.poisoned.store(true, Ordering::SeqCst);
        }
    }

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable(Self::DETAIL));
        }
        store.inner.get(key)
    }

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        if self.poisoned.load(Ordering::SeqCst) {
            return Readiness::NotReady {
                reason: NotReadyReason::Unavailable {
                    detail: Self::DETAIL.to_owned(),
                },
            };
        }
        store.inner.readiness()
    }
}

/// Breaks `store-contract#tx-read-own-writes`: `get` inside a transaction reads committed state
/// only.
#[derive(Default)]
pub(crate) struct NoReadOwnWrites;

impl Fault for NoReadOwnWrites {
    const BREAKS: &'static str = "tx-read-own-writes";

    fn tx_get(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
    ) -> Result<Option<Record>, StoreError> {
        tx.store.inner.get(key)
    }
}

/// Breaks `store-contract#tx-isolation`: `get` outside a transaction sees the writes of open
/// transactions (a dirty read); rollback still discards them.
#[derive(Default)]
pub(crate) struct DirtyReads;

impl Fault for DirtyReads {
    const BREAKS: &'static str = "tx-isolation";

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        store
            .uncommitted(key)
            .map_or_else(|| store.inner.get(key), Ok)
    }
}

/// Breaks `store-contract#tx-isolation`: `get` inside a transaction sees the writes of *other*
/// open transactions; reads outside transactions stay clean.
#[derive(Default)]
pub(crate) struct DirtyReadsBetweenTransactions;

impl Fault for DirtyReadsBetweenTransactions {
    const BREAKS: &'static str = "tx-isolation";

    fn tx_get(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
    ) -> Result<Option<Record>, StoreError> {
        let written_here = tx.log.changes.iter().any(|c| c.key() == key);
        match tx.store.uncommitted(key) {
            Some(dirty) if !written_here => Ok(dirty),
            _ => tx.inner().get(key),
        }
    }
}

/// Breaks `store-contract#tx-atomic-failure`: when a commit fails, its outbox events are
/// published anyway (the records and audit entries are discarded).
#[derive(Default)]
pub(crate) struct FailedCommitPublishesEvents;

impl Fault for FailedCommitPublishesEvents {
    const BREAKS: &'static str = "tx-atomic-failure";

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let failure = tx.take().commit().err();
        match failure {
            Some(e) => {
                replay(&tx.store.inner, &[], &[], &tx.log.events)?;
                Err(e)
            }
            None => Ok(()),
        }
    }
}
