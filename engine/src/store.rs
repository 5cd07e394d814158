//! The store boundary: [`UserEngineStore`], [`StoreTransaction`], and the query types they use.

use std::fmt;

use crate::diagnostics::Diagnostics;
use crate::error::StoreError;
use crate::ids::{RecordId, RecordKey, RecordKind, TenantId, UserId};
use crate::migration::MigrationReport;
use crate::readiness::Readiness;
use crate::record::{
    AuditEntry, AuditRecord, EventId, Expectation, OutboxEvent, OutboxMessage, Record, RecordWrite,
};

/// A durable home for tenant-scoped user records.
///
/// Blocking and `Send + Sync`, so one store can be driven from several threads. `Debug` is
/// required so the conformance spec can prove it prints no payload value. Every write goes
/// through a [`StoreTransaction`]; reads outside a transaction see committed state only.
/// `docs/store-contract.md` states each rule as a numbered clause; the conformance spec checks them.
pub trait UserEngineStore: Send + Sync + fmt::Debug {
    /// Starts a transaction. Fails with `not_ready` before the store is migrated.
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError>;

    /// A committed record by key.
    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError>;

    /// A tenant's records ordered by (kind name, id), optionally of one kind, one page at a time.
    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError>;

    /// A tenant's records owned by one user, ordered by (kind name, id).
    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError>;

    /// A tenant's audit entries in commit order.
    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError>;

    /// Up to `limit` committed, unacknowledged outbox events in commit order (within one
    /// transaction: enqueue order). Events stay pending until acknowledged, so a relay that
    /// crashes before acknowledging sees them again.
    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Marks events delivered; returns how many were pending. Acknowledging twice is harmless.
    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError>;

    /// Applies every manifest migration not yet applied, in order. Running it again applies nothing.
    fn migrate(&self) -> Result<MigrationReport, StoreError>;

    /// Whether the store can serve, and if not why. Never writes.
    fn readiness(&self) -> Readiness;

    /// Schema version and counts. Works before migration too.
    fn diagnostics(&self) -> Result<Diagnostics, StoreError>;

    /// Test-only controls used by scenarios that need them (see [`ConformanceHooks`]).
    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        None
    }
}

/// An open transaction. Writes become visible to others only on [`commit`](Self::commit).
///
/// Dropping it without committing rolls it back, including during a panic.
pub trait StoreTransaction {
    /// The record as this transaction sees it: its own writes, else committed state.
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError>;

    /// Writes a record if `expect` holds; returns it with its new version.
    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError>;

    /// Deletes a record if `expect` holds (`Absent` is invalid here); `not_found` if missing.
    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError>;

    /// Appends an audit entry, committed or discarded with the rest of the transaction.
    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError>;

    /// Enqueues an outbox event, visible to the relay only once the transaction commits.
    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError>;

    /// Makes every write visible at once, or none (`conflict` if a concurrent commit interfered).
    fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Discards every write.
    fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Controls that exist only so the conformance spec can reach states a healthy store never
/// enters by itself. Adapters that support none return `None` from
/// [`UserEngineStore::conformance_hooks`], and scenarios that need them are skipped with a reason.
pub trait ConformanceHooks {
    /// Alters the recorded checksum of an applied migration, as if its text had been edited.
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError>;

    /// Arms `fault` for the store's next commit (capability `fault_injection`, or
    /// `backend_termination` for [`InjectedFault::TerminateBackendAt`]). The commit must then fail
    /// with `unavailable` and leave nothing behind, and the store must keep serving afterwards.
    /// The next commit always uses the fault up; one that fails earlier (a `conflict` at its
    /// guard re-check) reports that error instead.
    fn inject_fault(&self, fault: InjectedFault) -> Result<(), StoreError> {
        let _ = fault;
        Err(StoreError::Unsupported {
            operation: "inject_fault",
        })
    }

    /// Applies the manifest's migrations up to schema version `version` only (capability
    /// `stepwise_migration`), as an older release of the adapter would have: the store is then
    /// `behind` until `migrate` applies the rest. Upgrade scenarios use it.
    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        let _ = version;
        Err(StoreError::Unsupported {
            operation: "migrate_to",
        })
    }

    /// Closes the store and opens it again from its durable storage (capability
    /// `durable_reopen`): what was committed is still there, nothing else is. The caller has
    /// dropped every open transaction first, as a crash would have lost them.
    fn reopen(&self) -> Result<(), StoreError> {
        Err(StoreError::Unsupported {
            operation: "reopen",
        })
    }
}

/// A fault for [`ConformanceHooks::inject_fault`]. Changes are counted from 1 in the order the
/// store applies them at commit (records, then audit entries, then outbox events); a position past
/// the last change hits the commit just before it completes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedFault {
    /// The next commit fails with `unavailable` just before applying its `change`-th change.
    CommitFailsAt {
        /// 1-based position.
        change: usize,
    },
    /// The store's server connection is terminated just before the next commit's `change`-th
    /// change, as if the database backend had crashed.
    TerminateBackendAt {
        /// 1-based position.
        change: usize,
    },
}

/// A page request for [`UserEngineStore::list_tenant`].
#[derive(Clone, Debug, PartialEq)]
pub struct TenantQuery {
    /// Whose records.
    pub tenant: TenantId,
    /// Only this kind, if set.
    pub kind: Option<RecordKind>,
    /// Start after this position (from a previous page of the same tenant).
    pub after: Option<Cursor>,
    /// At most this many records (`None`: all).
    pub limit: Option<usize>,
}

impl TenantQuery {
    /// Every record of a tenant.
    pub fn all(tenant: TenantId) -> Self {
        Self {
            tenant,
            kind: None,
            after: None,
            limit: None,
        }
    }
}

/// One page of records and, if more may follow, the cursor to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Where the next page starts, `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page {
    /// Cuts an ordered, already filtered list into a page: the shared paging rule of all adapters.
    pub fn from_sorted(mut records: Vec<Record>, limit: Option<usize>) -> Self {
        match limit {
            Some(limit) if records.len() > limit => {
                records.truncate(limit);
                let next = records.last().map(|r| Cursor::after(&r.key));
                Page { records, next }
            }
            _ => Page {
                records,
                next: None,
            },
        }
    }
}

/// An opaque position in one tenant's record list. A cursor from one tenant is refused for another.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The position just after `key`.
    pub fn after(key: &RecordKey) -> Self {
        Cursor(format!(
            "v1.{}.{}.{}",
            hex(key.tenant.as_str()),
            hex(key.kind.as_str()),
            hex(key.id.as_str())
        ))
    }

    /// Wraps a token received from a caller.
    pub fn from_token(token: impl Into<String>) -> Self {
        Cursor(token.into())
    }

    /// The token to hand to callers.
    pub fn token(&self) -> &str {
        &self.0
    }

    /// The key this cursor points after, checked to belong to `tenant` (`invalid` otherwise).
    pub fn position_for(&self, tenant: &TenantId) -> Result<RecordKey, StoreError> {
        let bad = || StoreError::invalid("malformed pagination cursor");
        let mut parts = self.0.split('.');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let mut field = || parts.next().and_then(unhex).ok_or_else(bad);
        let (t, k, i) = (field()?, field()?, field()?);
        let key = RecordKey::new(TenantId::new(t)?, k.parse()?, RecordId::new(i)?);
        if &key.tenant != tenant {
            return Err(StoreError::invalid(format!(
                "pagination cursor belongs to tenant {}, not {tenant}",
                key.tenant
            )));
        }
        Ok(key)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_tenants() {
        let key = RecordKey::parse("acme/profile/p1").unwrap();
        let cursor = Cursor::after(&key);
        assert_eq!(cursor.position_for(&key.tenant).unwrap(), key);
        let other = TenantId::new("globex").unwrap();
        let err = cursor.position_for(&other).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert!(
            Cursor::from_token("v1.zz")
                .position_for(&key.tenant)
                .is_err()
        );
        assert!(
            Cursor::from_token("garbage")
                .position_for(&key.tenant)
                .is_err()
        );
    }
}
