//! Broken stores built on the optional buffered strategy (`user_engine::buffered`) itself, below
//! any wrapper: the layer where the strategy meets a store's own storage — what a store reports as
//! committed, and how it applies a commit plan — is where adapters on the strategy go wrong.
//!
//! [`BufferedMapStore`] keeps its records in its own map and hands out the strategy's
//! `BufferedTransaction`; audit entries, outbox events and migrations go to a reference store it
//! owns. Unlike the reference, it keeps a [`ReadinessLatch`]: `begin` and its record reads go by
//! the latest readiness check while that found it ready (store-contract C27 allows both). The
//! fault-free [`Sound`] passes every scenario its capabilities select; each [`Slip`] gets one of
//! the two hooks the strategy asks of a store wrong, or keeps its latch wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use user_engine::buffered::{BufferedStore, BufferedTransaction, WriteBuffer};
use user_engine::conformance::ScenarioOutcome;
use user_engine::conformance::spec::Spec;
use user_engine::kit::KeyVersions;
use user_engine::{
    AuditRecord, ConformanceHooks, Diagnostics, EventId, InMemoryUserEngineStore,
    LATEST_SCHEMA_VERSION, LatchCheck, MigrationReport, OutboxEvent, Page, Readiness,
    ReadinessLatch, Record, RecordKey, StoreError, StoreTransaction, TenantId, TenantQuery,
    UserEngineStore, UserId,
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
    /// Whether commit trusts what the buffer observed whenever something was read since the last
    /// commit, whoever read it.
    const TRUSTS_ANY_READ_SINCE_LAST_COMMIT: bool = false;
    /// Whether commit checks readiness again (or trusts the check `begin` made).
    const READY_AT_COMMIT: bool = true;
    /// Whether a check that refuses is recorded in the latch (or only those that find it ready).
    const LATCHES_REFUSALS: bool = true;
    /// Whether `readiness` is recorded in the latch.
    const LATCHES_REPORTS: bool = true;
    /// Whether `migrate` is recorded in the latch.
    const LATCHES_MIGRATE: bool = true;
    /// Whether the check `acknowledge` makes is recorded in the latch.
    const LATCHES_ACKNOWLEDGE: bool = true;
    /// Whether a store starts out latched ready, before anything was checked.
    const LATCHED_AT_OPEN: bool = false;
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

/// Breaks `store-contract#records-expectation`: commit skips the re-read whenever some key was read
/// since the last commit — as if every transaction's reads came after it. Right for a transaction
/// whose first writes all read after that commit; wrong for one that read before it while a
/// transaction begun after it has read since: the guard that commit broke goes unnoticed.
#[derive(Default)]
pub(crate) struct BufferedTrustsAnyLaterRead;

impl Slip for BufferedTrustsAnyLaterRead {
    const BREAKS: &'static str = "records-expectation";
    const TRUSTS_ANY_READ_SINCE_LAST_COMMIT: bool = true;
}

/// Breaks `store-contract#not-ready-refuses`: commit does not check readiness again, trusting what
/// `begin` found (or the latch it went by), so a transaction left open across a migration's
/// alteration still commits its records.
#[derive(Default)]
pub(crate) struct BufferedReadinessOnlyAtBegin;

impl Slip for BufferedReadinessOnlyAtBegin {
    const BREAKS: &'static str = "not-ready-refuses";
    const READY_AT_COMMIT: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: the latch records only checks that found the store
/// ready, so once it was ready, reads go on after a commit or write refused with `not_ready`.
#[derive(Default)]
pub(crate) struct BufferedLatchIgnoresRefusals;

impl Slip for BufferedLatchIgnoresRefusals {
    const BREAKS: &'static str = "not-ready-refuses";
    const LATCHES_REFUSALS: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: `readiness` is not a check the latch records, so
/// reads go on after the store reported drift.
#[derive(Default)]
pub(crate) struct BufferedLatchIgnoresReports;

impl Slip for BufferedLatchIgnoresReports {
    const BREAKS: &'static str = "not-ready-refuses";
    const LATCHES_REPORTS: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: `migrate` is not a check the latch records, so reads
/// go on after it refused with drift.
#[derive(Default)]
pub(crate) struct BufferedLatchIgnoresMigrate;

impl Slip for BufferedLatchIgnoresMigrate {
    const BREAKS: &'static str = "not-ready-refuses";
    const LATCHES_MIGRATE: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: the check `acknowledge` makes is not recorded in the
/// latch, so reads go on after acknowledging was refused with `not_ready`.
#[derive(Default)]
pub(crate) struct BufferedLatchIgnoresAcknowledge;

impl Slip for BufferedLatchIgnoresAcknowledge {
    const BREAKS: &'static str = "not-ready-refuses";
    const LATCHES_ACKNOWLEDGE: bool = false;
}

/// Breaks `store-contract#not-ready-refuses`: the latch starts out ready, so a store that was
/// never migrated serves reads and `begin`.
#[derive(Default)]
pub(crate) struct BufferedLatchedAtOpen;

impl Slip for BufferedLatchedAtOpen {
    const BREAKS: &'static str = "not-ready-refuses";
    const LATCHED_AT_OPEN: bool = true;
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
    latch: ReadinessLatch,
    /// Whether `committed_versions` was asked since the last commit.
    read_since_commit: AtomicBool,
    _slip: S,
}

impl<S: Slip> BufferedMapStore<S> {
    fn new() -> Self {
        let latch = ReadinessLatch::new();
        if S::LATCHED_AT_OPEN {
            latch.check().found_ready(true);
        }
        Self {
            rows: Mutex::new(BTreeMap::new()),
            rest: InMemoryUserEngineStore::new(),
            latch,
            read_since_commit: AtomicBool::new(false),
            _slip: S::default(),
        }
    }

    fn rows(&self) -> MutexGuard<'_, BTreeMap<RecordKey, Row>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A readiness check, recorded in the latch.
    fn checked(&self) -> Result<(), StoreError> {
        let check = self.latch.check();
        let ready = match self.rest.readiness() {
            Readiness::Ready { .. } => Ok(()),
            Readiness::NotReady { reason } => Err(StoreError::NotReady { reason }),
        };
        self.latch_outcome(check, &ready);
        ready
    }

    fn latch_outcome<T>(&self, check: LatchCheck<'_>, outcome: &Result<T, StoreError>) {
        if S::LATCHES_REFUSALS || outcome.is_ok() {
            check.found(outcome);
        }
    }

    /// The check `begin` and reads make: none while the latch says ready.
    fn serving(&self) -> Result<(), StoreError> {
        if self.latch.is_ready() {
            Ok(())
        } else {
            self.checked()
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
        self.read_since_commit.store(true, Ordering::Relaxed);
        Ok(versions_of(
            self.rows().get(key),
            S::REMEMBERS_DELETED_VERSIONS,
        ))
    }

    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError> {
        if S::READY_AT_COMMIT {
            self.checked()?;
        }
        let mut rows = self.rows();
        let trusts = S::TRUSTS_ANY_READ_SINCE_LAST_COMMIT
            && self.read_since_commit.swap(false, Ordering::Relaxed);
        let observed: BTreeMap<RecordKey, KeyVersions> = buffer
            .writes()
            .map(|(key, write)| (key.clone(), write.observed_versions()))
            .collect();
        let plan = buffer.into_commit_plan(|key| {
            Ok(if S::RECHECKS_AT_COMMIT && !trusts {
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
            let check = self.latch.check();
            let rest = self.rest.begin();
            self.latch_outcome(check, &rest);
            let mut rest = rest?;
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
        self.serving()?;
        Ok(Box::new(BufferedTransaction::new(self)))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.serving()?;
        Ok(match self.rows().get(key) {
            Some(Row::Live(record)) => Some(record.clone()),
            _ => None,
        })
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.serving()?;
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
        self.serving()?;
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
        let check = self.latch.check();
        let acknowledged = self.rest.acknowledge(ids);
        if S::LATCHES_ACKNOWLEDGE {
            self.latch_outcome(check, &acknowledged);
        }
        acknowledged
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        if S::LATCHES_MIGRATE {
            self.latch
                .migrating(LATEST_SCHEMA_VERSION, || self.rest.migrate())
        } else {
            self.rest.migrate()
        }
    }

    fn readiness(&self) -> Readiness {
        if S::LATCHES_REPORTS {
            self.latch.reporting(|| self.rest.readiness())
        } else {
            self.rest.readiness()
        }
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
        self.latch
            .migrating(version, || self.rest.migrate_to(version))
    }
}
