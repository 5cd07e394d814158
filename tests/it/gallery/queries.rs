//! Broken adapters that get queries wrong: ordering, kind filters, tenant isolation, pagination,
//! user listing (store-contract C13–C16).

use user_engine::{
    Cursor, Page, Record, RecordKey, StoreError, TenantId, TenantQuery, UserEngineStore, UserId,
};

use super::base::{Broken, Fault};

/// Breaks `store-contract#query-tenant`: the kind filter of a tenant listing is ignored.
#[derive(Default)]
pub(crate) struct KindFilterIgnored;

impl Fault for KindFilterIgnored {
    const BREAKS: &'static str = "query-tenant";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        store.inner.list_tenant(&TenantQuery {
            kind: None,
            ..query.clone()
        })
    }
}

/// Breaks `store-contract#query-tenant`: a page is ordered by id alone instead of kind name, then
/// id.
#[derive(Default)]
pub(crate) struct TenantListOrderedById;

impl Fault for TenantListOrderedById {
    const BREAKS: &'static str = "query-tenant";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut page = store.inner.list_tenant(query)?;
        page.records.sort_by(|a, b| a.key.id.cmp(&b.key.id));
        Ok(page)
    }
}

/// Breaks `store-contract#query-tenant`: ids are compared case-insensitively, as a database column
/// with a locale collation (instead of `COLLATE "C"`) would sort them.
#[derive(Default)]
pub(crate) struct LocaleOrderedIds;

impl Fault for LocaleOrderedIds {
    const BREAKS: &'static str = "query-tenant";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut page = store.inner.list_tenant(query)?;
        page.records
            .sort_by_cached_key(|r| (r.key.kind.as_str(), r.key.id.as_str().to_lowercase()));
        Ok(page)
    }
}

/// Breaks `store-contract#query-tenant-isolation`: a first page forgets the tenant filter and
/// lists every tenant's records of the kind after the requested tenant's.
#[derive(Default)]
pub(crate) struct TenantListLeaks;

impl Fault for TenantListLeaks {
    const BREAKS: &'static str = "query-tenant-isolation";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut page = store.inner.list_tenant(query)?;
        if query.after.is_none() {
            for tenant in store.tenants().into_iter().filter(|t| *t != query.tenant) {
                let other = TenantQuery {
                    tenant,
                    kind: query.kind,
                    after: None,
                    limit: None,
                };
                page.records
                    .extend(store.inner.list_tenant(&other)?.records);
            }
        }
        Ok(page)
    }
}

/// Breaks `store-contract#query-tenant-isolation`: `get` of a key missing in its tenant falls back
/// to the same kind and id in another tenant, as a cache keyed by kind and id would.
#[derive(Default)]
pub(crate) struct GetFallsBackToOtherTenant;

impl Fault for GetFallsBackToOtherTenant {
    const BREAKS: &'static str = "query-tenant-isolation";

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        if let Some(record) = store.inner.get(key)? {
            return Ok(Some(record));
        }
        for tenant in store.tenants() {
            if let Some(record) =
                store
                    .inner
                    .get(&RecordKey::new(tenant, key.kind, key.id.clone()))?
            {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}

/// Breaks `store-contract#query-tenant-isolation`: user listing matches the user id in every
/// tenant.
#[derive(Default)]
pub(crate) struct UserListingCrossesTenants;

impl Fault for UserListingCrossesTenants {
    const BREAKS: &'static str = "query-tenant-isolation";

    fn list_user(
        &self,
        store: &Broken<Self>,
        _tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        for tenant in store.tenants() {
            records.extend(store.inner.list_user(&tenant, user)?);
        }
        Ok(records)
    }
}

/// Breaks `store-contract#query-pagination`: a cursor issued for another tenant is accepted, and
/// the listing resumes at the cursor's kind and id in the requested tenant.
#[derive(Default)]
pub(crate) struct CursorCrossesTenants;

impl Fault for CursorCrossesTenants {
    const BREAKS: &'static str = "query-pagination";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let mut query = query.clone();
        if let Some(cursor) = &query.after {
            let issued_for = store
                .tenants()
                .into_iter()
                .find_map(|tenant| cursor.position_for(&tenant).ok());
            if let Some(position) = issued_for {
                query.after = Some(Cursor::after(&RecordKey::new(
                    query.tenant.clone(),
                    position.kind,
                    position.id,
                )));
            }
        }
        store.inner.list_tenant(&query)
    }
}

/// Breaks `store-contract#query-pagination`: a cursor is inclusive (`>=` instead of `>`), so each
/// page repeats the last record of the page before.
#[derive(Default)]
pub(crate) struct PaginationRepeatsLast;

impl Fault for PaginationRepeatsLast {
    const BREAKS: &'static str = "query-pagination";

    fn list_tenant(&self, store: &Broken<Self>, query: &TenantQuery) -> Result<Page, StoreError> {
        let page = store.inner.list_tenant(query)?;
        let Some(cursor) = &query.after else {
            return Ok(page);
        };
        let mut records: Vec<Record> = store
            .inner
            .get(&cursor.position_for(&query.tenant)?)?
            .into_iter()
            .collect();
        records.retain(|r| query.kind.is_none_or(|kind| r.key.kind == kind));
        records.extend(page.records);
        Ok(Page::from_sorted(records, query.limit))
    }
}

/// Breaks `store-contract#query-user`: user listing returns the whole tenant, whoever owns it.
#[derive(Default)]
pub(crate) struct UserListIgnoresUser;

impl Fault for UserListIgnoresUser {
    const BREAKS: &'static str = "query-user";

    fn list_user(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
        _user: &UserId,
    ) -> Result<Vec<Record>, StoreError> {
        Ok(store
            .inner
            .list_tenant(&TenantQuery::all(tenant.clone()))?
            .records)
    }
}
