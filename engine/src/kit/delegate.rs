//! [`DelegatingStore`]: a type that owns a store and is one, by handing every call to it — the
//! shape of test fixtures such as a store in a temporary file or a throw-away schema.

use std::fmt;

use crate::diagnostics::Diagnostics;
use crate::error::StoreError;
use crate::ids::{RecordKey, TenantId, UserId};
use crate::migration::MigrationReport;
use crate::readiness::Readiness;
use crate::record::{AuditRecord, EventId, OutboxEvent, Record};
use crate::store::{ConformanceHooks, Page, StoreTransaction, TenantQuery, UserEngineStore};

/// A store that forwards every [`UserEngineStore`] call, hooks included, to the store it wraps.
///
/// Implementing it is implementing [`UserEngineStore`]: a blanket implementation forwards each
/// method, so a fixture that owns a store plus something to clean up needs no forwarding code,
/// and cannot forget a method the trait gains later.
///
/// ```
/// use user_engine::kit::DelegatingStore;
/// use user_engine::{InMemoryUserEngineStore, UserEngineStore};
///
/// /// A store plus a resource released after it.
/// #[derive(Debug)]
/// struct Fixture {
///     store: InMemoryUserEngineStore,
///     _cleanup: (),
/// }
///
/// impl DelegatingStore for Fixture {
///     type Delegate = InMemoryUserEngineStore;
///     fn delegate(&self) -> &InMemoryUserEngineStore {
///         &self.store
///     }
/// }
///
/// let fixture = Fixture { store: InMemoryUserEngineStore::new(), _cleanup: () };
/// fixture.migrate().unwrap();
/// assert!(fixture.readiness().is_ready());
/// ```
pub trait DelegatingStore: Send + Sync + fmt::Debug {
    /// The store every call goes to.
    type Delegate: UserEngineStore;

    /// The store every call goes to.
    fn delegate(&self) -> &Self::Delegate;
}

impl<T: DelegatingStore> UserEngineStore for T {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        self.delegate().begin()
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.delegate().get(key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.delegate().list_tenant(query)
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.delegate().list_user(tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.delegate().list_audit(tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.delegate().outbox_pending(limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.delegate().acknowledge(ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.delegate().migrate()
    }

    fn readiness(&self) -> Readiness {
        self.delegate().readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        self.delegate().diagnostics()
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        self.delegate().conformance_hooks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryUserEngineStore;

    #[derive(Debug)]
    struct Wrapper(InMemoryUserEngineStore);

    impl DelegatingStore for Wrapper {
        type Delegate = InMemoryUserEngineStore;
        fn delegate(&self) -> &InMemoryUserEngineStore {
            &self.0
        }
    }

    #[test]
    fn every_call_reaches_the_delegate() {
        let wrapper = Wrapper(InMemoryUserEngineStore::new());
        assert!(wrapper.begin().is_err(), "not migrated yet");
        assert_eq!(wrapper.migrate().unwrap().applied, [1]);
        assert!(wrapper.readiness().is_ready());
        let key = RecordKey::parse("acme/profile/p1").unwrap();
        assert_eq!(wrapper.get(&key).unwrap(), None);
        assert!(wrapper.conformance_hooks().is_some());
        wrapper
            .conformance_hooks()
            .unwrap()
            .tamper_applied_migration(1)
            .unwrap();
        assert_eq!(wrapper.0.readiness(), wrapper.readiness());
        assert!(!wrapper.readiness().is_ready());
    }
}
