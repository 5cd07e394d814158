//! The conformance hooks of a broken adapter, and the capability sets exhibits claim. The base
//! answers each hook as a correct store claiming the exhibit's capabilities would, so a fault that
//! gets a hook wrong overrides only that hook.

use user_engine::{ConformanceHooks, InjectedFault, MigrationReport, StoreError};

use super::{Broken, Fault};

/// The capabilities the reference declares in `tests/it/reference.rs`: what an exhibit claims
/// unless it says otherwise. `gallery::every_broken_adapter_is_caught` checks the two agree.
pub(crate) const REFERENCE_CAPABILITIES: &[&str] =
    user_engine::InMemoryUserEngineStore::CAPABILITIES;

/// The reference's capabilities and `durable_reopen`: a store whose data lives on disk.
pub(crate) const DURABLE_CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "fault_injection",
    "durable_reopen",
    "stepwise_migration",
];

/// The reference's capabilities and `backend_termination`: a store with a server connection.
pub(crate) const TERMINABLE_CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "fault_injection",
    "backend_termination",
    "stepwise_migration",
];

/// None of the fault hooks (`fault_injection`, `durable_reopen`, `backend_termination`): a store
/// that must answer `inject_fault` and `reopen` with `unsupported`.
pub(crate) const WITHOUT_FAULT_HOOKS_CAPABILITIES: &[&str] =
    &["migration_tamper", "commit_time_conflicts"];

fn unsupported(operation: &'static str) -> StoreError {
    StoreError::Unsupported { operation }
}

impl<F: Fault> Broken<F> {
    /// `inject_fault` as a correct store with this adapter's capabilities answers it.
    ///
    /// The reference applies a commit in one step under its lock, so a server connection killed
    /// part-way through a commit looks to it exactly like a commit that failed there, and it is
    /// "reconnected" at once: `terminate_backend_at` arms the reference's `commit_fails_at`.
    pub(crate) fn faithful_inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        match fault {
            InjectedFault::CommitFailsAt { .. } if self.claims("fault_injection") => {
                self.inner.inject_fault(fault)
            }
            InjectedFault::TerminateBackendAt { change } if self.claims("backend_termination") => {
                self.inner
                    .inject_fault(InjectedFault::CommitFailsAt { change })
            }
            _ => Err(unsupported("inject_fault")),
        }
    }

    /// `migrate_to` as a correct store with this adapter's capabilities answers it.
    pub(crate) fn faithful_migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        if self.claims("stepwise_migration") {
            self.inner.migrate_to(version)
        } else {
            Err(unsupported("migrate_to"))
        }
    }

    /// `reopen` as a correct store with this adapter's capabilities answers it.
    ///
    /// The reference's state lives as long as the process: closing it and opening it again keeps
    /// exactly what was committed, and the runner has already dropped every open transaction.
    pub(crate) fn faithful_reopen(&self) -> Result<(), StoreError> {
        if self.claims("durable_reopen") {
            Ok(())
        } else {
            Err(unsupported("reopen"))
        }
    }
}

impl<F: Fault> ConformanceHooks for Broken<F> {
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError> {
        if self.claims("migration_tamper") {
            self.inner.tamper_applied_migration(version)
        } else {
            Err(unsupported("tamper_applied_migration"))
        }
    }

    fn inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        self.fault.inject_fault(self, fault)
    }

    fn reopen(&self) -> Result<(), StoreError> {
        self.fault.reopen(self)
    }

    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        self.fault.migrate_to(self, version)
    }
}
