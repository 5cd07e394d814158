//! [`delegate_store!`](crate::delegate_store): a type that owns a store and is one, by handing
//! every call to it — the shape of test fixtures such as a store in a temporary file or a
//! throw-away schema.
//!
//! A macro rather than a blanket implementation: a blanket `impl<T: Trait> UserEngineStore for T`
//! would forbid every other generic implementation of the store trait, in this crate and in
//! adapters' crates alike.

/// Implements [`UserEngineStore`](crate::UserEngineStore) for a fixture type by forwarding every
/// call, hooks included, to the store it holds. Every method is forwarded, so a method the trait
/// gains later cannot be forgotten (the fixture stops compiling until the macro forwards it).
///
/// ```
/// use user_engine::{InMemoryUserEngineStore, UserEngineStore};
///
/// /// A store plus a resource released after it.
/// #[derive(Debug)]
/// struct Fixture {
///     store: InMemoryUserEngineStore,
///     _cleanup: (),
/// }
///
/// user_engine::delegate_store!(Fixture => |fixture| &fixture.store);
///
/// let fixture = Fixture { store: InMemoryUserEngineStore::new(), _cleanup: () };
/// fixture.migrate().unwrap();
/// assert!(fixture.readiness().is_ready());
/// ```
#[macro_export]
macro_rules! delegate_store {
    ($fixture:ty => |$this:ident| $delegate:expr) => {
        impl $crate::UserEngineStore for $fixture {
            fn begin(
                &self,
            ) -> ::std::result::Result<
                ::std::boxed::Box<dyn $crate::StoreTransaction + '_>,
                $crate::StoreError,
            > {
                let $this = self;
                $crate::UserEngineStore::begin($delegate)
            }
            fn get(
                &self,
                key: &$crate::RecordKey,
            ) -> ::std::result::Result<::std::option::Option<$crate::Record>, $crate::StoreError>
            {
                let $this = self;
                $crate::UserEngineStore::get($delegate, key)
            }
            fn list_tenant(
                &self,
                query: &$crate::TenantQuery,
            ) -> ::std::result::Result<$crate::Page, $crate::StoreError> {
                let $this = self;
                $crate::UserEngineStore::list_tenant($delegate, query)
            }
            fn list_user(
                &self,
                tenant: &$crate::TenantId,
                user: &$crate::UserId,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Record>, $crate::StoreError> {
                let $this = self;
                $crate::UserEngineStore::list_user($delegate, tenant, user)
            }
            fn list_audit(
                &self,
                tenant: &$crate::TenantId,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::AuditRecord>, $crate::StoreError>
            {
                let $this = self;
                $crate::UserEngineStore::list_audit($delegate, tenant)
            }
            fn outbox_pending(
                &self,
                limit: usize,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::OutboxEvent>, $crate::StoreError>
            {
                let $this = self;
                $crate::UserEngineStore::outbox_pending($delegate, limit)
            }
            fn acknowledge(
                &self,
                ids: &[$crate::EventId],
            ) -> ::std::result::Result<usize, $crate::StoreError> {
                let $this = self;
                $crate::UserEngineStore::acknowledge($delegate, ids)
            }
            fn migrate(
                &self,
            ) -> ::std::result::Result<$crate::MigrationReport, $crate::StoreError> {
                let $this = self;
                $crate::UserEngineStore::migrate($delegate)
            }
            fn readiness(&self) -> $crate::Readiness {
                let $this = self;
                $crate::UserEngineStore::readiness($delegate)
            }
            fn diagnostics(
                &self,
            ) -> ::std::result::Result<$crate::Diagnostics, $crate::StoreError> {
                let $this = self;
                $crate::UserEngineStore::diagnostics($delegate)
            }
            fn conformance_hooks(&self) -> ::std::option::Option<&dyn $crate::ConformanceHooks> {
                let $this = self;
                $crate::UserEngineStore::conformance_hooks($delegate)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{InMemoryUserEngineStore, RecordKey, UserEngineStore};

    #[derive(Debug)]
    struct Wrapper(InMemoryUserEngineStore);

    crate::delegate_store!(Wrapper => |wrapper| &wrapper.0);

    #[test]
    fn every_call_reaches_the_delegate() {
        let wrapper = Wrapper(InMemoryUserEngineStore::new());
        assert!(wrapper.begin().is_err(), "not migrated yet");
        assert_eq!(
            wrapper.migrate().unwrap().applied,
            (1..=crate::LATEST_SCHEMA_VERSION).collect::<Vec<_>>()
        );
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
