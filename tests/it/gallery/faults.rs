//! Broken adapters whose commits go wrong under an injected fault or a killed server connection:
//! a failed commit that leaves part or all of itself behind, a store that never reconnects
//! (store-contract C12, as the `faults/` scenarios check it).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use user_engine::{
    InjectedFault, NotReadyReason, Readiness, RecordKey, StoreError, UserEngineStore,
};

use super::base::{Broken, BrokenTx, Change, Fault, TERMINABLE_CAPABILITIES, TxLog, lock, replay};

/// A `commit_fails_at` fault a broken adapter keeps for itself instead of arming the reference.
#[derive(Default)]
struct ArmedFault(Mutex<Option<usize>>);

impl ArmedFault {
    /// Keeps a `commit_fails_at` fault; anything else (and an invalid position) is answered as
    /// a correct store would.
    fn arm<F: Fault>(&self, store: &Broken<F>, fault: InjectedFault) -> Result<(), StoreError> {
        match fault {
            InjectedFault::CommitFailsAt { change }
                if change >= 1 && store.claims("fault_injection") =>
            {
                *lock(&self.0) = Some(change);
                Ok(())
            }
            other => store.faithful_inject_fault(other),
        }
    }

    fn take(&self) -> Option<usize> {
        lock(&self.0).take()
    }
}

fn injected(at: usize) -> StoreError {
    StoreError::unavailable(format!(
        "injected fault: the commit failed before its change {at}"
    ))
}

/// The changes of `log` a commit applies before its `at`-th, in the order the reference applies
/// them: one change per record in key order, then audit entries, then events.
fn applied_before(log: &TxLog, at: usize) -> TxLog {
    let records: BTreeMap<&RecordKey, &Change> = log.changes.iter().map(|c| (c.key(), c)).collect();
    let mut left = at.saturating_sub(1);
    let mut first = |len: usize| {
        let n = len.min(left);
        left -= n;
        n
    };
    let changes: Vec<Change> = records.into_values().cloned().collect();
    let changes = changes[..first(changes.len())].to_vec();
    let audits = log.audits[..first(log.audits.len())].to_vec();
    let events = log.events[..first(log.events.len())].to_vec();
    TxLog {
        changes,
        audits,
        events,
    }
}

/// Breaks `store-contract#tx-atomic-failure`: a commit that fails at its `K`-th change keeps the
/// changes it applied before `K` — as a store that applies a commit statement by statement,
/// without a surrounding database transaction, would — and returns `unavailable`.
#[derive(Default)]
pub(crate) struct PartialCommitOnFault {
    armed: ArmedFault,
}

impl Fault for PartialCommitOnFault {
    const BREAKS: &'static str = "tx-atomic-failure";

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        self.armed.arm(store, fault)
    }

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let Some(at) = self.armed.take() else {
            return tx.take().commit();
        };
        tx.take().rollback()?;
        let applied = applied_before(&tx.log, at);
        replay(
            &tx.store.inner,
            &applied.changes,
            &applied.audits,
            &applied.events,
        )?;
        Err(injected(at))
    }
}

/// Breaks `store-contract#tx-atomic-failure`: the fault is noticed only once the transaction has
/// committed, so the commit reports `unavailable` although every change it made is visible.
#[derive(Default)]
pub(crate) struct CommitFailsAfterApplying {
    armed: ArmedFault,
}

impl Fault for CommitFailsAfterApplying {
    const BREAKS: &'static str = "tx-atomic-failure";

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        self.armed.arm(store, fault)
    }

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().commit()?;
        self.armed.take().map_or(Ok(()), |at| Err(injected(at)))
    }
}

/// Breaks `store-contract#tx-atomic-failure`: the commit whose server connection is killed fails
/// cleanly, but the store never reconnects — every later call fails with `unavailable` and
/// readiness reports the store unavailable for good.
#[derive(Default)]
pub(crate) struct TerminationLeavesStoreBroken {
    terminating: AtomicBool,
    disconnected: AtomicBool,
}

impl TerminationLeavesStoreBroken {
    const DETAIL: &'static str = "the server connection was terminated";
}

impl Fault for TerminationLeavesStoreBroken {
    const BREAKS: &'static str = "tx-atomic-failure";
    const CAPABILITIES: &'static [&'static str] = TERMINABLE_CAPABILITIES;

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        store.faithful_inject_fault(fault)?;
        if matches!(fault, InjectedFault::TerminateBackendAt { .. }) {
            self.terminating.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let result = tx.take().commit();
        if self.terminating.swap(false, Ordering::SeqCst) {
            self.disconnected.store(true, Ordering::SeqCst);
        }
        result
    }

    fn connection(&self) -> Result<(), StoreError> {
        if self.disconnected.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable(Self::DETAIL));
        }
        Ok(())
    }

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        match self.connection() {
            Ok(()) => store.inner.readiness(),
            Err(_) => Readiness::NotReady {
                reason: NotReadyReason::Unavailable {
                    detail: Self::DETAIL.to_owned(),
                },
            },
        }
    }
}

/// Breaks `store-contract#commit-in-doubt`: when its server connection dies just before a commit
/// completes, the commit has in fact gone through, yet the store answers `unavailable` — "nothing
/// happened" — so a caller that retries does the work twice.
#[derive(Default)]
pub(crate) struct CommittedButReportedUnavailable {
    terminated: std::sync::atomic::AtomicBool,
}

impl Fault for CommittedButReportedUnavailable {
    const BREAKS: &'static str = "commit-in-doubt";
    const CAPABILITIES: &'static [&'static str] = TERMINABLE_CAPABILITIES;

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        match fault {
            InjectedFault::TerminateBackendAt { change } if change >= 1 => {
                self.terminated
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
            other => store.faithful_inject_fault(other),
        }
    }

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let cut = self
            .terminated
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        tx.take().commit()?;
        if cut {
            return Err(StoreError::unavailable(
                "the server connection was lost while committing",
            ));
        }
        Ok(())
    }
}
