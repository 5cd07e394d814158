//! Broken stores built on the optional buffered strategy (`user_engine::buffered`) itself, below
//! any wrapper: the layer where the strategy meets a store's own storage — what a store reports as
//! committed, and how it applies a commit plan — is where adapters on the strategy go wrong.
//!
//! [`BufferedMapStore`] keeps its records in its own map and hands out the strategy's
//! `BufferedTransaction`; audit entries, outbox events and migrations go to a reference store it
//! owns. The fault-free [`Sound`] passes every scenario its capabilities select; each [`Slip`]
//! gets one of the two hooks the strategy asks of a store wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use user_engine::buffered::{BufferedStore, BufferedTransaction, WriteBuffer};
use user_engine::conformance::ScenarioOutcome;
use user_engine::conformance::spec::Spec;
use user_engine::kit::KeyVersions;
use user_engine::{
    AuditRecord, ConformanceHooks, Diagnostics, EventId, InMemoryUserEngineStore, MigrationReport,
    OutboxEvent, Page, Readiness, Record, RecordKey, StoreError, StoreTransaction, TenantId,
    TenantQuery, UserEngineStore, UserId,
};

/// What a store on the buffered strategy claims: its writers never wait, and the hooks the
/// reference inside it answers (commit faults are not forwarded: it applies records itself).
pub(crate) const BUFFERED_CAPABILITIES: &[&str] = &[
    "migration_tamper",
    "commit_time_conflicts",
    "stepwise_migration",
];

/// One way of getting the strategy's store hooks wrong. The defaults are right.
pub(crate) trait Slip: Default + Send + Sync + 'static {
    /// The `docs/store-contract.md` anchor this slip breaks.
    const BREAKS: &'static str;
    /// Whether `committed_versions` remembers a deleted key's last version.
    const REMEMBERS_DELETED_VERSIONS: bool = true;
    /// Whether commit re-reads the committed versions (or trusts what the buffer observed).
    const RECHECKS_AT_COMMIT: bool = true;
    /// Whether commit checks readiness again (or trusts the check `begin` made).
    const READY_AT_COMMIT: bool = true;
}

/// The fault-free store on the strategy.
#[derive(Default)]
pub(crate) struct Sound;

impl Slip for Sound {
    const BREAKS: &'static str = "records-version";
}

/// Breaks `store-contract#records-version`: `committed_versions` reports a deleted key as never
/// written, so a record written again after its delete starts over at version 1.
#[derive(Default)]
pub(crate) struct BufferedForgetsDeletedVersions;

impl Slip for BufferedForgetsDeletedVersions {
    const BREAKS: &'static str = "records-version";
    const REMEMBERS_DELETED_VERSIONS: bool = false;
}

/// Breaks `store-contract#records-expectation`: the commit plan is built from the versions each
/// write observed instead of what is committed now, so a guard another transaction broke meanwhile
/// is never noticed.
#[derive(Default)]
pub(crate) struct BufferedTrustsObservedVersions;

impl Slip for BufferedTrustsObservedVersions {
    const BREAKS: &'static str = "records-expectation";
    const RECHECKS_AT_COMMIT: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: readiness is checked at `begin` only, so a
/// transaction left open across a migration's alteration still commits its records.
#[derive(Default)]
pub(crate) struct BufferedReadinessOnlyAtBegin;

impl Slip for BufferedReadinessOnlyAtBegin {
    const BREAKS: &'static str = "not-ready-refuses";
    const READY_AT_COMMIT: bool = false;
}

/// Runs the spec against a store on the buffered strategy with slip `S`.
pub(crate) fn run_buffered<S: Slip>(
    spec: &Spec,
    capabilities: &'static [&'static str],
) -> Vec<ScenarioOutcome> {
    super::run_gallery_spec(
        spec,
        &BufferedMapStore::<S>::new,
        capabilities,
        super::Races::Skip,
    )
}

/// The behaviour checks on stores with slip `S`.
pub(crate) fn buffered_checks<S: Slip>(
    capabilities: &'static [&'static str],
) -> Vec<super::checks::Verdict> {
    let faithful = std::any::TypeId::of::<S>() == std::any::TypeId::of::<Sound>();
    super::checks::run_checks(BufferedMapStore::<S>::new, capabilities, faithful)
}

/// A key's row: the record, or a tombstone holding the last version.
#[derive(Clone)]
enum Row {
    Live(Record),
    Deleted(u64),
}

/// A store on the buffered strategy; see the module docs.
pub(crate) struct BufferedMapStore<S: Slip> {
    rows: Mutex<BTreeMap<RecordKey, Row>>,
    /// Audit entries, outbox events and migrations.
    rest: InMemoryUserEngineStore,
    _slip: S,
}

impl<S: Slip> BufferedMapStore<S> {
    fn new() -> Self {
        Self {
            rows: Mutex::new(BTreeMap::new()),
            rest: InMemoryUserEngineStore::new(),
            _slip: S::default(),
        }
    }

    fn rows(&self) -> MutexGuard<'_, BTreeMap<RecordKey, Row>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ready(&self) -> Result<(), StoreError> {
        match self.rest.readiness() {
            Readiness::Ready { .. } => Ok(()),
            Readiness::NotReady { reason } => Err(StoreError::NotReady { reason }),
        }
    }

    fn live(&self) -> Vec<Record> {
        self.rows()
            .values()
            .filter_map(|row| match row {
                Row::Live(record) => Some(record.clone()),
                Row::Deleted(_) => None,
            })
            .collect()
    }
}

fn versions_of(row: Option<&Row>, remember_deleted: bool) -> KeyVersions {
    match row {
        None => KeyVersions::NEVER_WRITTEN,
        Some(Row::Live(record)) => KeyVersions::live(record.version),
        Some(Row::Deleted(_)) if !remember_deleted => KeyVersions::NEVER_WRITTEN,
        Some(Row::Deleted(last)) => KeyVersions::deleted(*last),
    }
}

impl<S: Slip> fmt::Debug for BufferedMapStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedMapStore")
            .field("rows", &self.rows().len())
            .finish()
    }
}

impl<S: Slip> BufferedStore for BufferedMapStore<S> {
    fn committed_versions(&self, key: &RecordKey) -> Result<KeyVersions, StoreError> {
        Ok(versions_of(
            self.rows().get(key),
            S::REMEMBERS_DELETED_VERSIONS,
        ))
    }

    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        if S::READY_AT_COMMIT {
            self.ready()?;
        }
        let mut rows = self.rows();
        let observed: BTreeMap<RecordKey, KeyVersions> = buffer
            .writes()
            .map(|(key, write)| (key.clone(), write.observed_versions()))
            .collect();
        let plan = buffer.into_commit_plan(|key| {
            Ok(if S::RECHECKS_AT_COMMIT {
                versions_of(rows.get(key), S::REMEMBERS_DELETED_VERSIONS)
            } else {
                observed[key]
            })
        })?;
        // Audit entries and events first, in one transaction of the reference: it is the one
        // step that can fail, and records are applied only once it succeeded.
        // (The reference's `begin` checks readiness too: the slip that trusts `begin` skips it
        // when there is nothing to append.)
        if S::READY_AT_COMMIT || !(plan.audit.is_empty() && plan.outbox.is_empty()) {
            let mut rest = self.rest.begin()?;
            for entry in plan.audit {
                rest.append_audit(entry)?;
            }
            for message in plan.outbox {
                rest.enqueue(message)?;
            }
            rest.commit()?;
        }
        for change in plan.changes {
            let row = match (change.record, rows.get(&change.key)) {
                (Some(record), _) => Row::Live(record),
                (None, Some(Row::Live(record))) => Row::Deleted(record.version.max(change.last)),
                (None, Some(Row::Deleted(last))) => Row::Deleted((*last).max(change.last)),
                (None, None) => Row::Deleted(change.last),
            };
            rows.insert(change.key, row);
        }
        Ok(())
    }
}

impl<S: Slip> UserEngineStore for BufferedMapStore<S> {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        self.ready()?;
        Ok(Box::new(BufferedTransaction::new(self)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.ready()?;
        Ok(match self.rows().get(key) {
            Some(Row::Live(record)) => Some(record.clone()),
            _ => None,
        })
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.ready()?;
        let after = query
            .after
            .as_ref()
            .map(|c| c.position_for(&query.tenant))
            .transpose()?;
        let records = self
            .live()
            .into_iter()
            .filter(|r| r.key.tenant == query.tenant)
            .filter(|r| query.kind.is_none_or(|kind| r.key.kind == kind))
            .filter(|r| after.as_ref().is_none_or(|after| &r.key > after))
            .collect();
        Ok(Page::from_sorted(records, query.limit))
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.ready()?;
        Ok(self
            .live()
            .into_iter()
            .filter(|r| &r.key.tenant == tenant && r.user.as_ref() == Some(user))
            .collect())
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.rest.list_audit(tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.rest.outbox_pending(limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.rest.acknowledge(ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.rest.migrate()
    }

    fn readiness(&self) -> Readiness {
        self.rest.readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        let mut diagnostics = self.rest.diagnostics()?;
        let live = self.live();
        diagnostics.records = BTreeMap::new();
        for record in &live {
            *diagnostics.records.entry(record.key.kind).or_insert(0) += 1;
        }
        diagnostics.tenants = live
            .iter()
            .map(|r| &r.key.tenant)
            .collect::<BTreeSet<_>>()
            .len() as u64;
        Ok(diagnostics)
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        Some(self)
    }
}

impl<S: Slip> ConformanceHooks for BufferedMapStore<S> {
    fn tamper_applied_migration(&self, version: u32) -> Result<(), StoreError> {
        self.rest.tamper_applied_migration(version)
    }

    fn migrate_to(&self, version: u32) -> Result<MigrationReport, StoreError> {
        self.rest.migrate_to(version)
    }
}
