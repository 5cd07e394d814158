//! [`ReadinessLatch`]: what a store's latest readiness check found, so that `begin` and reads may
//! answer from it as store-contract C27 allows. Optional: the reference store checks at every
//! call and does not use it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;
use crate::migration::{LATEST_SCHEMA_VERSION, MigrationReport};
use crate::readiness::Readiness;

/// The finding of a store's latest readiness check (store-contract C27).
///
/// Every check a store makes — at commit, at a write outside a transaction, at `migrate`, when
/// readiness is asked, or at a read that found no finding to rely on — starts with [`check`](Self::check) and
/// ends by recording what it found. `begin` and reads may skip their own check while
/// [`is_ready`](Self::is_ready) holds; once any check finds the store not ready, every one of them
/// checks again until a check finds it ready.
///
/// Checks that overlap are ordered by when they started: the finding of a check that started
/// earlier never replaces that of one that started later, so a slow check that saw the store
/// ready before an alteration cannot undo the refusal of a later one.
///
/// ```
/// use user_engine::{NotReadyReason, ReadinessLatch, StoreError};
///
/// let latch = ReadinessLatch::new();
/// assert!(!latch.is_ready()); // nothing checked yet: a read must check
/// let early = latch.check();
/// let late = latch.check();
/// late.found(&Err::<(), _>(StoreError::NotReady { reason: NotReadyReason::NotMigrated }));
/// early.found(&Ok(())); // started before the refusal: ignored
/// assert!(!latch.is_ready());
/// latch.check().found(&Ok(()));
/// assert!(latch.is_ready());
/// latch.forget(); // a store that reopens its connections starts over
/// assert!(!latch.is_ready());
/// ```
pub struct ReadinessLatch {
    /// The latest recorded check's ticket, shifted left by one, with the low bit set when it
    /// found the store ready.
    state: AtomicU64,
    /// The next ticket to hand out; tickets start at 1 so that 0 means "nothing recorded".
    tickets: AtomicU64,
}

/// A readiness check in progress on a [`ReadinessLatch`]: record what it found with
/// [`found`](Self::found). Dropped without a finding, it leaves the latch as it was.
#[must_use = "a check records its finding with `found`"]
pub struct LatchCheck<'a> {
    latch: &'a ReadinessLatch,
    ticket: u64,
}

impl ReadinessLatch {
    /// A latch with nothing recorded: not ready until a check says otherwise.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            tickets: AtomicU64::new(1),
        }
    }

    /// Whether the latest recorded check found the store ready.
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) & 1 == 1
    }

    /// Starts a check; call it before the check reads anything.
    pub fn check(&self) -> LatchCheck<'_> {
        LatchCheck {
            latch: self,
            ticket: self.tickets.fetch_add(1, Ordering::AcqRel),
        }
    }

    /// Runs `call`, a call that checks readiness as it goes (a commit, a write outside a
    /// transaction, `migrate`), and records its [outcome](LatchCheck::found).
    pub fn checking<T>(
        &self,
        call: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let check = self.check();
        let outcome = call();
        check.found(&outcome);
        outcome
    }

    /// Runs `call`, a migration up to schema `version`, and records what it leaves: ready only
    /// when it succeeded and `version` is the latest (a store stopped at an earlier version is
    /// behind).
    pub fn migrating(
        &self,
        version: u32,
        call: impl FnOnce() -> Result<MigrationReport, StoreError>,
    ) -> Result<MigrationReport, StoreError> {
        let check = self.check();
        let outcome = call();
        match &outcome {
            Ok(_) => check.found_ready(version >= LATEST_SCHEMA_VERSION),
            Err(_) => check.found(&outcome),
        }
        outcome
    }

    /// Runs `call`, a readiness report, and records it.
    pub fn reporting(&self, call: impl FnOnce() -> Readiness) -> Readiness {
        let check = self.check();
        let readiness = call();
        check.found_ready(readiness.is_ready());
        readiness
    }

    /// Forgets every finding: the next read checks again (a store that reopened its connections,
    /// or cannot tell what happened to the database).
    pub fn forget(&self) {
        let ticket = self.tickets.fetch_add(1, Ordering::AcqRel);
        self.record(ticket, false);
    }

    fn record(&self, ticket: u64, ready: bool) {
        let word = (ticket << 1) | u64::from(ready);
        // Only a later check replaces a finding; `fetch_max` on the shifted ticket does exactly
        // that, since the ready bit is below every ticket bit.
        self.state.fetch_max(word, Ordering::AcqRel);
    }
}

impl Default for ReadinessLatch {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ReadinessLatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessLatch")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl LatchCheck<'_> {
    /// Records the outcome of the call the check belongs to: `Ok` (the store read as ready),
    /// `not_ready` and `drift` are findings; any other error says nothing of readiness and
    /// records nothing.
    pub fn found<T>(self, outcome: &Result<T, StoreError>) {
        match outcome {
            Ok(_) => self.latch.record(self.ticket, true),
            Err(StoreError::NotReady { .. } | StoreError::MigrationDrift { .. }) => {
                self.latch.record(self.ticket, false)
            }
            Err(_) => {}
        }
    }

    /// Records a finding given as a flag.
    pub fn found_ready(self, ready: bool) {
        self.latch.record(self.ticket, ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NotReadyReason;

    fn refused() -> Result<(), StoreError> {
        Err(StoreError::NotReady {
            reason: NotReadyReason::NotMigrated,
        })
    }

    #[test]
    fn other_errors_record_nothing() {
        let latch = ReadinessLatch::new();
        latch.check().found(&Ok(()));
        latch
            .check()
            .found(&Err::<(), _>(StoreError::unavailable("gone")));
        assert!(latch.is_ready());
        latch.check().found(&refused());
        latch
            .check()
            .found(&Err::<(), _>(StoreError::invalid("bad id")));
        assert!(!latch.is_ready());
    }

    #[test]
    fn a_later_check_wins_whatever_order_they_finish_in() {
        let latch = ReadinessLatch::new();
        let first = latch.check();
        let second = latch.check();
        second.found_ready(true);
        first.found(&refused());
        assert!(latch.is_ready(), "the earlier refusal came in late");
        let stale = latch.check();
        latch.forget();
        stale.found_ready(true);
        assert!(
            !latch.is_ready(),
            "forget is later than the check before it"
        );
    }
}
