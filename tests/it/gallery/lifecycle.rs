//! Broken adapters that get the store's lifecycle and reporting wrong: migrations (also when
//! several run at once), readiness, diagnostics, redaction (store-contract C22–C29, C32).

use std::fmt;

use user_engine::{
    Diagnostics, Expectation, LATEST_SCHEMA_VERSION, MIGRATIONS, MigrationReport, NotReadyReason,
    Readiness, Record, RecordKey, StoreError, TenantQuery, UserEngineStore,
};

use super::base::{Broken, BrokenTx, Fault, race_window};

/// Breaks `store-contract#migration-apply`: migrate applies the manifest but reports nothing
/// applied.
#[derive(Default)]
pub(crate) struct MigrateReportsNothing;

impl Fault for MigrateReportsNothing {
    const BREAKS: &'static str = "migration-apply";

    fn migrate(&self, store: &Broken<Self>) -> Result<MigrationReport, StoreError> {
        let report = store.inner.migrate()?;
        Ok(MigrationReport {
            applied: Vec::new(),
            ..report
        })
    }
}

/// Breaks `store-contract#migration-idempotent`: a second migrate claims to apply the whole
/// manifest again.
#[derive(Default)]
pub(crate) struct MigrateNotIdempotent;

impl Fault for MigrateNotIdempotent {
    const BREAKS: &'static str = "migration-idempotent";

    fn migrate(&self, store: &Broken<Self>) -> Result<MigrationReport, StoreError> {
        let mut report = store.inner.migrate()?;
        if report.applied.is_empty() {
            report.applied = MIGRATIONS.iter().map(|m| m.version).collect();
        }
        Ok(report)
    }
}

/// Breaks `store-contract#migration-drift`: migrate shrugs off a drifted migration and reports
/// success.
#[derive(Default)]
pub(crate) struct MigrateIgnoresDrift;

impl Fault for MigrateIgnoresDrift {
    const BREAKS: &'static str = "migration-drift";

    fn migrate(&self, store: &Broken<Self>) -> Result<MigrationReport, StoreError> {
        match store.inner.migrate() {
            Err(StoreError::MigrationDrift { .. }) => Ok(MigrationReport {
                applied: Vec::new(),
                schema_version: LATEST_SCHEMA_VERSION,
            }),
            other => other,
        }
    }
}

/// Breaks `store-contract#migration-concurrent`: migrate plans before it takes the migration lock
/// and reports the plan — what was pending when the call began — so every migrator that started
/// before the first one finished claims to have applied the same versions.
#[derive(Default)]
pub(crate) struct ConcurrentMigratorsAllApply;

impl Fault for ConcurrentMigratorsAllApply {
    const BREAKS: &'static str = "migration-concurrent";

    fn migrate(&self, store: &Broken<Self>) -> Result<MigrationReport, StoreError> {
        let current = store.inner.diagnostics()?.schema_version.unwrap_or(0);
        let planned: Vec<u32> = MIGRATIONS
            .iter()
            .map(|m| m.version)
            .filter(|v| *v > current)
            .collect();
        if !planned.is_empty() {
            // Planning takes this long before the lock is taken: a migrator started at the same
            // moment plans the same versions. No barrier: a lone migrator is only delayed.
            race_window();
        }
        let report = store.inner.migrate()?;
        Ok(MigrationReport {
            applied: planned,
            ..report
        })
    }
}

/// Breaks `store-contract#readiness-states`: an unmigrated store says it is ready.
#[derive(Default)]
pub(crate) struct ReadyBeforeMigrate;

impl Fault for ReadyBeforeMigrate {
    const BREAKS: &'static str = "readiness-states";

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        match store.inner.readiness() {
            Readiness::NotReady {
                reason: NotReadyReason::NotMigrated,
            } => Readiness::Ready {
                schema_version: LATEST_SCHEMA_VERSION,
            },
            other => other,
        }
    }
}

/// Breaks `store-contract#readiness-states`: readiness looks at the schema version only and
/// misses a drifted migration.
#[derive(Default)]
pub(crate) struct ReadinessHidesDrift;

impl Fault for ReadinessHidesDrift {
    const BREAKS: &'static str = "readiness-states";

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        match store.inner.readiness() {
            Readiness::NotReady {
                reason: NotReadyReason::Drift { .. },
            } => Readiness::Ready {
                schema_version: LATEST_SCHEMA_VERSION,
            },
            other => other,
        }
    }
}

/// Breaks `store-contract#readiness-read-only`: asking for readiness migrates the store first.
#[derive(Default)]
pub(crate) struct ReadinessMigrates;

impl Fault for ReadinessMigrates {
    const BREAKS: &'static str = "readiness-read-only";

    fn readiness(&self, store: &Broken<Self>) -> Readiness {
        // A readiness probe cannot report a migration error; it falls through to the real answer.
        let _ = store.inner.migrate();
        store.inner.readiness()
    }
}

/// Breaks `store-contract#not-ready-refuses`: before migration, `get` answers "no record" instead
/// of `not_ready`.
#[derive(Default)]
pub(crate) struct ServesBeforeMigrate;

impl Fault for ServesBeforeMigrate {
    const BREAKS: &'static str = "not-ready-refuses";

    fn get(&self, store: &Broken<Self>, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        match store.inner.get(key) {
            Err(StoreError::NotReady { .. }) => Ok(None),
            other => other,
        }
    }
}

/// Breaks `store-contract#diagnostics-counts`: the audit count is off by one.
#[derive(Default)]
pub(crate) struct AuditCountOffByOne;

impl Fault for AuditCountOffByOne {
    const BREAKS: &'static str = "diagnostics-counts";

    fn diagnostics(&self, store: &Broken<Self>) -> Result<Diagnostics, StoreError> {
        let d = store.inner.diagnostics()?;
        Ok(Diagnostics {
            audit_entries: d.audit_entries + 1,
            ..d
        })
    }
}

/// Breaks `store-contract#diagnostics-counts`: acknowledged events are counted as pending.
#[derive(Default)]
pub(crate) struct AcknowledgedCountedAsPending;

impl Fault for AcknowledgedCountedAsPending {
    const BREAKS: &'static str = "diagnostics-counts";

    fn diagnostics(&self, store: &Broken<Self>) -> Result<Diagnostics, StoreError> {
        let d = store.inner.diagnostics()?;
        Ok(Diagnostics {
            outbox_pending: d.outbox_pending + d.outbox_acknowledged,
            outbox_acknowledged: 0,
            ..d
        })
    }
}

/// Breaks `store-contract#redaction`: the store's `Debug` dumps every record's JSON.
#[derive(Default)]
pub(crate) struct PayloadInStoreDebug;

impl Fault for PayloadInStoreDebug {
    const BREAKS: &'static str = "redaction";

    fn debug(&self, store: &Broken<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut records = f.debug_map();
        for tenant in store.tenants() {
            // Debug cannot fail with a store error; an unreadable tenant is simply not shown.
            for record in store
                .inner
                .list_tenant(&TenantQuery::all(tenant))
                .map(|p| p.records)
                .unwrap_or_default()
            {
                records.entry(&record.key.to_string(), record.payload.expose());
            }
        }
        records.finish()
    }
}

/// Breaks `store-contract#redaction`: refusing a delete that expects the record to be absent, the
/// error message quotes the record it would have deleted, payload and all.
#[derive(Default)]
pub(crate) struct PayloadInInvalidError;

impl Fault for PayloadInInvalidError {
    const BREAKS: &'static str = "redaction";

    fn delete(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        key: &RecordKey,
        expect: Expectation,
    ) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            if let Some(current) = tx.inner().get(key)? {
                return Err(StoreError::invalid(format!(
                    "delete of {key} cannot expect the record to be absent: it holds {}",
                    current.payload.expose()
                )));
            }
        }
        tx.inner().delete(key, expect)
    }
}
