//! The store's lifecycle rather than its records: the SQL it migrates with
//! (`migrations/sqlite/*.sql`, included verbatim), migrating, readiness and diagnostics. Drift,
//! readiness and the migration plan are the engine's rules (`user_engine::kit::MigrationSource`),
//! shared with every store.

use rusqlite::{Connection, TransactionBehavior};
use user_engine::kit::{self, MigrationSource, require_ready};
use user_engine::migration::MigrationReport;
use user_engine::{Diagnostics, Readiness, RecordKind, StoreError};

use crate::error::map;
use crate::rows;
use crate::store::SqliteUserEngineStore;

/// Every SQL file of `migrations/sqlite/`, by manifest name. The text is what runs and what is
/// checksummed, so the file provider repositories read is exactly the file this adapter applies.
pub(crate) const MIGRATION_SOURCE: MigrationSource = MigrationSource::Sql {
    package: "user-engine-sqlite",
    files: &[
        (
            "0001_user_engine_store",
            include_str!("../migrations/0001_user_engine_store.sql"),
        ),
        (
            "0002_versions_survive_delete",
            include_str!("../migrations/0002_versions_survive_delete.sql"),
        ),
    ],
};

/// Fails with `not_ready` unless the database is at the latest version with intact migrations.
///
/// Re-read on every call (a store can drift or be replaced under a running process), but in one
/// cached statement when the store is ready; the full check, which names the reason, runs only
/// when that statement does not read as a ready store.
pub(crate) fn ensure_ready(conn: &Connection) -> Result<(), StoreError> {
    match MIGRATION_SOURCE.ready_signature() {
        Some(expected) if rows::signature_is(conn, expected) => Ok(()),
        _ => ensure_ready_slowly(conn),
    }
}

/// The full readiness check: every recorded migration read and judged by the kit.
fn ensure_ready_slowly(conn: &Connection) -> Result<(), StoreError> {
    require_ready(MIGRATION_SOURCE.readiness(rows::applied_migrations(conn)?.as_deref()))
}

/// `UserEngineStore::migrate` (`target` = the latest version) and `ConformanceHooks::migrate_to`:
/// applies the missing migrations up to `target` once, under SQLite's write lock.
pub(crate) fn migrate(
    store: &SqliteUserEngineStore,
    target: u32,
) -> Result<MigrationReport, StoreError> {
    let mut conn = store.connection();
    // IMMEDIATE takes the write lock before reading the recorded versions, so two migrators
    // (in this process or another) apply each migration once.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| map("starting the migration", &e))?;
    let applied = rows::applied_migrations(&tx)?.unwrap_or_default();
    let report = MIGRATION_SOURCE
        .plan(&applied)?
        .up_to(target)
        .apply(|step| {
            tx.execute_batch(step.sql)
                .map_err(|e| map("applying a migration", &e))?;
            tx.prepare_cached(
            "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                step.migration.version,
                step.migration.name,
                step.checksum
            ])
        })
        .map_err(|e| map("recording a migration", &e))?;
            Ok(())
        })?;
    tx.commit()
        .map_err(|e| map("committing the migration", &e))?;
    Ok(report)
}

/// `UserEngineStore::readiness`: reads the recorded migrations, never writes.
pub(crate) fn readiness(store: &SqliteUserEngineStore) -> Readiness {
    MIGRATION_SOURCE.readiness_or_unavailable(rows::applied_migrations(&store.connection()))
}

/// `UserEngineStore::diagnostics`: counts from one snapshot; zeros before migration.
pub(crate) fn diagnostics(store: &SqliteUserEngineStore) -> Result<Diagnostics, StoreError> {
    let mut conn = store.connection();
    // One read transaction: every count comes from the same snapshot.
    let tx = conn
        .transaction()
        .map_err(|e| map("reading diagnostics", &e))?;
    let Some(applied) = rows::applied_migrations(&tx)? else {
        return Ok(Diagnostics::default());
    };
    let mut diagnostics = Diagnostics {
        schema_version: kit::schema_version(&applied),
        ..Diagnostics::default()
    };
    // Before migration 2 a delete removed the row, and there is no `deleted` column to read.
    let live = if diagnostics.schema_version.unwrap_or(0) >= 2 {
        "WHERE deleted = 0"
    } else {
        ""
    };
    let count = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = tx
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(|e| map("reading diagnostics", &e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let kinds: Vec<(String, i64)> = tx
        .prepare_cached(&format!(
            "SELECT kind, count(*) FROM user_engine_records {live} GROUP BY kind"
        ))
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| map("reading diagnostics", &e))?;
    for (kind, n) in kinds {
        diagnostics
            .records
            .insert(kind.parse::<RecordKind>()?, u64::try_from(n).unwrap_or(0));
    }
    diagnostics.tenants = count(&format!(
        "SELECT count(DISTINCT tenant_id) FROM user_engine_records {live}"
    ))?;
    diagnostics.audit_entries = count("SELECT count(*) FROM user_engine_audit_records")?;
    diagnostics.outbox_pending =
        count("SELECT count(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NULL")?;
    diagnostics.outbox_acknowledged =
        count("SELECT count(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NOT NULL")?;
    Ok(diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manifest_entry_has_exactly_one_sql_file() {
        assert_eq!(MIGRATION_SOURCE.verify(), Ok(()));
    }
}
