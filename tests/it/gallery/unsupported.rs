//! Broken adapters that answer a conformance hook they lack with anything but a clean
//! `unsupported` (store-contract C31).

use user_engine::{ConformanceHooks, InjectedFault, StoreError};

use super::base::{Broken, Fault, WITHOUT_FAULT_HOOKS_CAPABILITIES};

/// Breaks `store-contract#hooks-unsupported`: a store that cannot reopen answers `reopen` with
/// success, having done nothing.
#[derive(Default)]
pub(crate) struct UnsupportedReopenSucceeds;

impl Fault for UnsupportedReopenSucceeds {
    const BREAKS: &'static str = "hooks-unsupported";
    const CAPABILITIES: &'static [&'static str] = WITHOUT_FAULT_HOOKS_CAPABILITIES;

    fn reopen(&self, _store: &Broken<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Breaks `store-contract#hooks-unsupported`: a store without fault injection answers
/// `inject_fault` with success and arms nothing.
#[derive(Default)]
pub(crate) struct UnsupportedFaultInjectionSucceeds;

impl Fault for UnsupportedFaultInjectionSucceeds {
    const BREAKS: &'static str = "hooks-unsupported";
    const CAPABILITIES: &'static [&'static str] = WITHOUT_FAULT_HOOKS_CAPABILITIES;

    fn inject_fault(&self, _store: &Broken<Self>, _fault: InjectedFault) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Breaks `store-contract#hooks-unsupported`: a store without fault injection answers
/// `unsupported`, but only after arming the fault, so its next commit fails.
#[derive(Default)]
pub(crate) struct UnsupportedFaultStillArms;

impl Fault for UnsupportedFaultStillArms {
    const BREAKS: &'static str = "hooks-unsupported";
    const CAPABILITIES: &'static [&'static str] = WITHOUT_FAULT_HOOKS_CAPABILITIES;

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        let change = match fault {
            InjectedFault::CommitFailsAt { change }
            | InjectedFault::TerminateBackendAt { change } => change,
            _ => 1,
        };
        // The reference arms any fault; this adapter checks what it supports too late.
        store
            .inner
            .inject_fault(InjectedFault::CommitFailsAt { change })?;
        store.faithful_inject_fault(fault)
    }
}

/// Breaks `store-contract#hooks-unsupported`: a store with no server connection to kill answers
/// `terminate_backend_at` with success and arms nothing.
#[derive(Default)]
pub(crate) struct TerminationAnswersOk;

impl Fault for TerminationAnswersOk {
    const BREAKS: &'static str = "hooks-unsupported";

    fn inject_fault(&self, store: &Broken<Self>, fault: InjectedFault) -> Result<(), StoreError> {
        match fault {
            InjectedFault::TerminateBackendAt { .. } => Ok(()),
            other => store.faithful_inject_fault(other),
        }
    }
}

/// Breaks `store-contract#hooks-unsupported`: a store that cannot stop at an older schema
/// version answers `migrate_to` by migrating all the way, and reports success.
#[derive(Default)]
pub(crate) struct UnsupportedMigrateToMigratesAnyway;

impl Fault for UnsupportedMigrateToMigratesAnyway {
    const BREAKS: &'static str = "hooks-unsupported";
    const CAPABILITIES: &'static [&'static str] = WITHOUT_FAULT_HOOKS_CAPABILITIES;

    fn migrate_to(
        &self,
        store: &Broken<Self>,
        _version: u32,
    ) -> Result<user_engine::MigrationReport, StoreError> {
        user_engine::UserEngineStore::migrate(&store.inner)
    }
}
