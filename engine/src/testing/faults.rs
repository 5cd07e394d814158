//! Injected commit faults for adapters ([`ConformanceHooks::inject_fault`]): [`ArmedFault`], the
//! fault a store keeps for its next commit, and [`FaultCountdown`], which counts that commit's
//! changes and says when the fault strikes.
//!
//! Changes are counted from 1 in the order a store applies them at commit: records (one per
//! written key, in key order), then audit entries, then outbox events. A fault at position K
//! strikes just before the K-th change; a position past the last change strikes just before the
//! commit completes. Whatever the position, the adapter makes the commit fail inside its database
//! transaction, so the transaction rolls back and nothing of it is left.
//!
//! [`ConformanceHooks::inject_fault`]: crate::ConformanceHooks::inject_fault

use std::sync::{Mutex, PoisonError};

use crate::error::StoreError;
use crate::store::InjectedFault;

/// The position a fault strikes at (1-based).
fn position(fault: InjectedFault) -> usize {
    match fault {
        InjectedFault::CommitFailsAt { change } | InjectedFault::TerminateBackendAt { change } => {
            change
        }
    }
}

/// The fault armed for a store's next commit, if any.
///
/// ```
/// use user_engine::InjectedFault;
/// use user_engine::testing::ArmedFault;
///
/// let armed = ArmedFault::new();
/// // A store without a server connection supports commit failures only.
/// let supported = |fault: &InjectedFault| matches!(fault, InjectedFault::CommitFailsAt { .. });
/// let refused = armed.arm(InjectedFault::TerminateBackendAt { change: 1 }, supported);
/// assert_eq!(refused.unwrap_err().kind(), user_engine::ErrorKind::Unsupported);
/// armed.arm(InjectedFault::CommitFailsAt { change: 2 }, supported)?;
///
/// // The next commit takes the fault (disarming it) and counts its changes.
/// let mut countdown = armed.take();
/// assert_eq!(countdown.before_change(), None);
/// assert_eq!(countdown.before_change(), Some(InjectedFault::CommitFailsAt { change: 2 }));
/// assert_eq!(
///     countdown.failure().to_string(),
///     "store unavailable: injected fault: the commit failed just before its change 2"
/// );
/// assert_eq!(armed.take().before_change(), None, "one commit only");
/// # Ok::<(), user_engine::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct ArmedFault(Mutex<Option<InjectedFault>>);

impl ArmedFault {
    /// Nothing armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `fault` for the next commit, replacing any fault armed before. A fault the store does
    /// not support (`supported` says no) is `unsupported` and arms nothing, whatever its
    /// position; a supported one at position 0 is `invalid`.
    pub fn arm(
        &self,
        fault: InjectedFault,
        supported: impl FnOnce(&InjectedFault) -> bool,
    ) -> Result<(), StoreError> {
        if !supported(&fault) {
            return Err(StoreError::Unsupported {
                operation: "inject_fault",
            });
        }
        if position(fault) == 0 {
            return Err(StoreError::invalid(
                "fault positions count a commit's changes from 1",
            ));
        }
        *self.slot() = Some(fault);
        Ok(())
    }

    /// Disarms the fault and hands it to the commit that is starting: the next commit takes it,
    /// whether or not that commit gets as far as the fault's position (a commit refused earlier,
    /// say with `conflict`, still used it up).
    pub fn take(&self) -> FaultCountdown {
        FaultCountdown {
            fault: self.slot().take(),
            changes: 0,
        }
    }

    /// Disarms any fault, e.g. when the store is closed and opened again.
    pub fn disarm(&self) {
        *self.slot() = None;
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<InjectedFault>> {
        // An Option is never left half-written: a poisoned lock is safe to reuse.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One commit's count of changes, against the fault armed for it (if any).
#[derive(Debug)]
pub struct FaultCountdown {
    fault: Option<InjectedFault>,
    /// Changes announced so far with [`before_change`](Self::before_change).
    changes: usize,
}

impl FaultCountdown {
    /// A commit with no fault armed.
    pub fn none() -> Self {
        Self {
            fault: None,
            changes: 0,
        }
    }

    /// Whether this commit carries a fault at all: an adapter may then apply its changes one by
    /// one, so that the fault strikes exactly where it says, and in bulk otherwise.
    pub fn is_armed(&self) -> bool {
        self.fault.is_some()
    }

    /// Call just before applying each change: the fault, when it strikes before this one.
    pub fn before_change(&mut self) -> Option<InjectedFault> {
        self.changes += 1;
        self.strike(|at| at == self.changes)
    }

    /// Call after the last change, just before completing the commit: the fault, when its
    /// position is past the last change.
    pub fn before_completion(&mut self) -> Option<InjectedFault> {
        let last = self.changes;
        self.strike(|at| at > last)
    }

    /// The `unavailable` error a commit fails with where the fault struck.
    pub fn failure(&self) -> StoreError {
        match self.fault.map(position) {
            Some(at) if at <= self.changes => StoreError::unavailable(format!(
                "injected fault: the commit failed just before its change {at}"
            )),
            _ => StoreError::unavailable(format!(
                "injected fault: the commit failed after its {} change(s), just before completing",
                self.changes
            )),
        }
    }

    fn strike(&self, due: impl FnOnce(usize) -> bool) -> Option<InjectedFault> {
        self.fault.filter(|&fault| due(position(fault)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn all(_: &InjectedFault) -> bool {
        true
    }

    /// Runs a commit of `changes` changes; returns where the fault struck (`changes + 1`: at
    /// completion) and the message.
    fn strike_point(armed: &ArmedFault, changes: usize) -> Option<(usize, String)> {
        let mut countdown = armed.take();
        for n in 1..=changes {
            if countdown.before_change().is_some() {
                return Some((n, countdown.failure().to_string()));
            }
        }
        countdown
            .before_completion()
            .map(|_| (changes + 1, countdown.failure().to_string()))
    }

    #[test]
    fn a_fault_strikes_before_its_change_or_at_completion_once() {
        let armed = ArmedFault::new();
        for k in 1..=4 {
            armed
                .arm(InjectedFault::CommitFailsAt { change: k }, all)
                .unwrap();
            let (at, message) = strike_point(&armed, 4).unwrap();
            assert_eq!(at, k);
            assert!(
                message.ends_with(&format!("just before its change {k}")),
                "{message}"
            );
            assert_eq!(strike_point(&armed, 4), None, "taken by one commit");
        }
        for k in [5, 9] {
            armed
                .arm(InjectedFault::TerminateBackendAt { change: k }, all)
                .unwrap();
            let (at, message) = strike_point(&armed, 4).unwrap();
            assert_eq!(at, 5);
            assert!(message.ends_with("after its 4 change(s), just before completing"));
        }
        armed
            .arm(InjectedFault::CommitFailsAt { change: 1 }, all)
            .unwrap();
        assert_eq!(strike_point(&armed, 0).map(|(at, _)| at), Some(1));
    }

    #[test]
    fn unsupported_and_invalid_faults_arm_nothing() {
        let armed = ArmedFault::new();
        let err = armed
            .arm(InjectedFault::TerminateBackendAt { change: 0 }, |_| false)
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Unsupported,
            "unsupported comes first"
        );
        let err = armed
            .arm(InjectedFault::CommitFailsAt { change: 0 }, all)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(strike_point(&armed, 3), None);
        armed
            .arm(InjectedFault::CommitFailsAt { change: 1 }, all)
            .unwrap();
        armed.disarm();
        assert_eq!(strike_point(&armed, 3), None);
        assert_eq!(FaultCountdown::none().before_completion(), None);
    }
}
