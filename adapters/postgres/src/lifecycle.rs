//! The store's lifecycle rather than its records: the SQL it migrates with
//! (`migrations/postgres/*.sql`, included verbatim), migrating (under an advisory lock),
//! readiness and diagnostics. Drift, readiness and the migration plan are the engine's rules
//! (`user_engine::kit::MigrationSource`), shared with every store.

use postgres::IsolationLevel;
use user_engine::kit::{self, MigrationSource};
use user_engine::migration::{AppliedMigration, MigrationReport};
use user_engine::{Diagnostics, Readiness, RecordKind, StoreError};

use crate::error::{is_undefined_table, map};
use crate::pool::{self, Connection, Transaction};
use crate::rows;
use crate::store::PostgresUserEngineStore;

/// Every SQL file of `migrations/postgres/`, by manifest name. The text is what runs and what is
/// checksummed, so the file provider repositories read is exactly the file this adapter applies.
pub(crate) const MIGRATION_SOURCE: MigrationSource = MigrationSource::Sql {
    package: "user-engine-postgres",
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

const SELECT_APPLIED: &str =
    "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version";

/// The recorded migrations, or `None` before the versions table exists (outside a transaction,
/// where a failed statement costs nothing, so one round trip answers both questions).
pub(crate) fn applied(conn: &mut Connection) -> Result<Option<Vec<AppliedMigration>>, StoreError> {
    match conn.query(SELECT_APPLIED, &[]) {
        Ok(rows) => rows::applied(&rows).map(Some),
        Err(err) if is_undefined_table(&err) => Ok(None),
        Err(err) => Err(map("reading the schema version", &err)),
    }
}

/// The recorded migrations, inside a transaction (which a failed statement would abort).
pub(crate) fn applied_in(
    tx: &mut Transaction<'_>,
) -> Result<Option<Vec<AppliedMigration>>, StoreError> {
    let what = "reading the schema version";
    let exists: bool = tx
        .query(
            "SELECT to_regclass('user_engine_schema_versions') IS NOT NULL",
            &[],
        )
        .and_then(|rows| rows[0].try_get(0))
        .map_err(|e| map(what, &e))?;
    if !exists {
        return Ok(None);
    }
    rows::applied(&tx.query(SELECT_APPLIED, &[]).map_err(|e| map(what, &e))?).map(Some)
}

/// `UserEngineStore::migrate` (`target` = the latest version) and `ConformanceHooks::migrate_to`:
/// applies the missing migrations up to `target` once, under the migration lock.
pub(crate) fn migrate(
    store: &PostgresUserEngineStore,
    target: u32,
) -> Result<MigrationReport, StoreError> {
    let mut conn = store.connection()?;
    let mut tx = conn
        .transaction()
        .map_err(|e| map("starting the migration", &e))?;
    // Held until this transaction ends: a second migrator waits here, then (READ COMMITTED)
    // reads the versions the first one recorded and applies nothing.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&store.locks().migration],
    )
    .map_err(|e| map("waiting for the migration lock", &e))?;
    let schema_exists: bool = tx
        .query(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&store.schema()],
        )
        .and_then(|rows| rows[0].try_get(0))
        .map_err(|e| map("looking up the schema", &e))?;
    if !schema_exists {
        tx.batch_execute(&format!(
            "CREATE SCHEMA {}",
            pool::quote_identifier(store.schema())
        ))
        .map_err(|e| map("creating the schema", &e))?;
    }
    let applied = applied_in(&mut tx)?.unwrap_or_default();
    let report = MIGRATION_SOURCE
        .plan(&applied)?
        .up_to(target)
        .apply(|step| {
            let migration = step.migration;
            tx.batch_execute(step.sql)
                .map_err(|e| map("applying a migration", &e))?;
            let version = i32::try_from(migration.version).map_err(|_| {
                StoreError::invalid(format!(
                    "migration version {} is out of range",
                    migration.version
                ))
            })?;
            tx.execute(
            "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES ($1, $2, $3)",
            &[&version, &migration.name, &step.checksum],
        )
        .map_err(|e| map("recording a migration", &e))?;
            Ok(())
        })?;
    tx.commit()
        .map_err(|e| map("committing the migration", &e))?;
    Ok(report)
}

/// `UserEngineStore::readiness`: reads the recorded migrations, never writes.
pub(crate) fn readiness(store: &PostgresUserEngineStore) -> Readiness {
    MIGRATION_SOURCE
        .readiness_or_unavailable(store.connection().and_then(|mut conn| applied(&mut conn)))
}

/// `UserEngineStore::diagnostics`: counts from one snapshot; zeros before migration.
pub(crate) fn diagnostics(store: &PostgresUserEngineStore) -> Result<Diagnostics, StoreError> {
    let what = "reading diagnostics";
    let mut conn = store.connection()?;
    // One snapshot for every count.
    let mut tx = conn
        .transaction_with(IsolationLevel::RepeatableRead, true)
        .map_err(|e| map(what, &e))?;
    let Some(applied) = applied_in(&mut tx)? else {
        return Ok(Diagnostics::default());
    };
    let mut diagnostics = Diagnostics {
        schema_version: kit::schema_version(&applied),
        ..Diagnostics::default()
    };
    // Before migration 2 a delete removed the row, and there is no `deleted` column to read.
    let live = if diagnostics.schema_version.unwrap_or(0) >= 2 {
        "WHERE NOT deleted"
    } else {
        ""
    };
    let kinds = tx
        .query(
            &format!("SELECT kind, count(*) FROM user_engine_records {live} GROUP BY kind"),
            &[],
        )
        .map_err(|e| map(what, &e))?;
    for row in kinds {
        let kind: String = row.try_get(0).map_err(|e| map(what, &e))?;
        let n: i64 = row.try_get(1).map_err(|e| map(what, &e))?;
        diagnostics
            .records
            .insert(kind.parse::<RecordKind>()?, u64::try_from(n).unwrap_or(0));
    }
    let counts = tx
        .query(
            &format!(
                "SELECT (SELECT count(DISTINCT tenant_id) FROM user_engine_records {live}),
                    (SELECT count(*) FROM user_engine_audit_records),
                    (SELECT count(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NULL),
                    (SELECT count(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NOT NULL)"
            ),
            &[],
        )
        .map_err(|e| map(what, &e))?;
    let count = |i: usize| -> Result<u64, StoreError> {
        let n: i64 = counts[0].try_get(i).map_err(|e| map(what, &e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    diagnostics.tenants = count(0)?;
    diagnostics.audit_entries = count(1)?;
    diagnostics.outbox_pending = count(2)?;
    diagnostics.outbox_acknowledged = count(3)?;
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
