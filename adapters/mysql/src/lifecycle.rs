//! The store's lifecycle rather than its records: the SQL it migrates with
//! (`migrations/mysql/*.sql`, included verbatim), migrating (under a named lock), readiness and
//! diagnostics. Drift, readiness and the migration plan are the engine's rules
//! (`user_engine::kit::MigrationSource`), shared with every store.

use std::collections::BTreeSet;

use mysql::Value;
use user_engine::kit::{self, MigrationSource, applied_migration, require_ready};
use user_engine::migration::{AppliedMigration, MigrationReport, checksum};
use user_engine::{Diagnostics, Readiness, RecordKind, StoreError};

use crate::error::{code, map, server_code};
use crate::pool::Connection;
use crate::rows::{self, column, placeholders};
use crate::store::MysqlUserEngineStore;

/// Every SQL file of `migrations/mysql/`, by manifest name. The text is what runs and what is
/// checksummed, so the file reviewers read is exactly the file this adapter applies.
pub(crate) const MIGRATION_SOURCE: MigrationSource = MigrationSource::Sql {
    package: "user-engine-mysql",
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

/// The first schema version whose records table has the `deleted` (tombstone) column.
pub(crate) const TOMBSTONES_SINCE: u32 = 2;

/// How long a migrator waits for another to finish before giving up.
const MIGRATION_LOCK_TIMEOUT_SECS: u32 = 60;

/// `GET_LOCK` names are at most 64 characters (MySQL); longer database names are hashed.
const MAX_LOCK_NAME: usize = 64;

const SELECT_APPLIED: &str =
    "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version";

/// The recorded migrations, or `None` before the versions table exists. (A failed statement
/// leaves a MySQL transaction open and intact, so this also works inside one.)
pub(crate) fn applied(conn: &mut Connection) -> Result<Option<Vec<AppliedMigration>>, StoreError> {
    match conn.rows(SELECT_APPLIED, ()) {
        Ok(rows) => rows::applied(rows).map(Some),
        Err(err) if server_code(&err) == Some(code::NO_SUCH_TABLE) => Ok(None),
        Err(err) => Err(map("reading the schema version", &err)),
    }
}

/// `Ok` when the store on `conn` is ready, otherwise `not_ready` with the reason.
pub(crate) fn ensure_ready(conn: &mut Connection) -> Result<(), StoreError> {
    require_ready(MIGRATION_SOURCE.readiness(applied(conn)?.as_deref()))
}

/// `Ok` with those of `ids` (event row ids) that exist when the store on `conn` is ready,
/// otherwise `not_ready` with the reason: `acknowledge`'s readiness check and its existence check
/// as one statement, the recorded migrations and the ids' rows in one result. Should that
/// statement meet a missing table or column, the two are asked apart, so the error is what each
/// says on its own: readiness first. Any other error (a lost session, say) is the answer.
pub(crate) fn ready_and_existing(
    conn: &mut Connection,
    ids: &[Value],
) -> Result<BTreeSet<i64>, StoreError> {
    let what = "acknowledging outbox events";
    let sql = format!(
        "SELECT 0, version, checksum FROM user_engine_schema_versions
         UNION ALL
         SELECT 1, id, NULL FROM user_engine_outbox_events WHERE id IN ({})",
        placeholders(ids.len())
    );
    let rows = match conn.rows(&sql, ids.to_vec()) {
        Ok(rows) => rows,
        // A table or column this adapter expects is missing: ask the two apart.
        Err(err)
            if matches!(
                server_code(&err),
                Some(code::NO_SUCH_TABLE | code::BAD_FIELD)
            ) && !conn.is_broken() =>
        {
            ensure_ready(conn)?;
            return existing(conn, ids);
        }
        Err(err) => return Err(map(what, &err)),
    };
    let mut applied = Vec::new();
    let mut found = BTreeSet::new();
    for mut row in rows {
        let part: i64 = column(&mut row, 0, what)?;
        let value: i64 = column(&mut row, 1, what)?;
        if part == 0 {
            let checksum: String = column(&mut row, 2, "reading the schema version")?;
            applied.push(applied_migration(value, checksum)?);
        } else {
            found.insert(value);
        }
    }
    applied.sort_by_key(|migration| migration.version);
    require_ready(MIGRATION_SOURCE.readiness(Some(&applied)))?;
    Ok(found)
}

/// Those of `ids` (event row ids) that exist.
fn existing(conn: &mut Connection, ids: &[Value]) -> Result<BTreeSet<i64>, StoreError> {
    let what = "acknowledging outbox events";
    conn.rows(
        &format!(
            "SELECT id FROM user_engine_outbox_events WHERE id IN ({})",
            placeholders(ids.len())
        ),
        ids.to_vec(),
    )
    .map_err(|e| map(what, &e))?
    .into_iter()
    .map(|mut row| column::<i64>(&mut row, 0, what))
    .collect()
}

/// The name of the migration lock for `database`: one per database, so stores in different
/// databases of one server never wait for each other.
pub(crate) fn migration_lock_name(database: &str) -> String {
    let name = format!("user_engine_migrate:{database}");
    if name.chars().count() <= MAX_LOCK_NAME {
        name
    } else {
        format!("user_engine_migrate:{}", checksum(database))
    }
}

/// `UserEngineStore::migrate` (and `migrate_to`): applies the missing migrations up to `target`
/// once, while holding the migration lock.
///
/// MySQL commits DDL statement by statement, so the migration cannot be one transaction. The
/// named lock serialises migrators instead: a second one waits for it, then reads the versions
/// the first recorded and applies nothing. Each version is recorded right after its file ran;
/// a file interrupted part-way is not recorded and runs again next time, which every file
/// allows (`IF NOT EXISTS`).
pub(crate) fn migrate(
    store: &MysqlUserEngineStore,
    target: u32,
) -> Result<MigrationReport, StoreError> {
    let mut conn = store.connection()?;
    let lock = migration_lock_name(store.database());
    let rows = conn
        .rows(
            "SELECT GET_LOCK(?, ?)",
            (&lock, MIGRATION_LOCK_TIMEOUT_SECS),
        )
        .map_err(|e| map("waiting for the migration lock", &e))?;
    let granted = rows
        .into_iter()
        .next()
        .map(|mut row| column::<Option<i64>>(&mut row, 0, "waiting for the migration lock"))
        .transpose()?
        .flatten();
    if granted != Some(1) {
        return Err(StoreError::unavailable(format!(
            "another migrator held the migration lock for more than {MIGRATION_LOCK_TIMEOUT_SECS} s"
        )));
    }
    let outcome = migrate_locked(&mut conn, target);
    // The lock is the session's: if it cannot be released, end the session, which releases it.
    if conn.rows("SELECT RELEASE_LOCK(?)", (&lock,)).is_err() {
        conn.discard();
    }
    outcome
}

fn migrate_locked(conn: &mut Connection, target: u32) -> Result<MigrationReport, StoreError> {
    let applied = applied(conn)?.unwrap_or_default();
    MIGRATION_SOURCE
        .plan(&applied)?
        .up_to(target)
        .apply(|step| {
            let migration = step.migration;
            conn.batch(step.sql)
                .map_err(|e| map("applying a migration", &e))?;
            conn.execute(
                "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (?, ?, ?)",
                (migration.version, migration.name, &step.checksum),
            )
            .map_err(|e| map("recording a migration", &e))?;
            Ok(())
        })
}

/// `UserEngineStore::readiness`: reads the recorded migrations, never writes.
pub(crate) fn readiness(store: &MysqlUserEngineStore) -> Readiness {
    MIGRATION_SOURCE
        .readiness_or_unavailable(store.connection().and_then(|mut conn| applied(&mut conn)))
}

/// `UserEngineStore::diagnostics`: exact counts of live rows, all from one snapshot (a
/// REPEATABLE READ, read-only transaction); zeros before migration.
pub(crate) fn diagnostics(store: &MysqlUserEngineStore) -> Result<Diagnostics, StoreError> {
    let what = "reading diagnostics";
    let mut conn = store.connection()?;
    if let Err(err) = conn.start_snapshot() {
        // The one-shot isolation level may be left pending on the session: do not reuse it.
        conn.discard();
        return Err(map(what, &err));
    }
    let Some(applied) = applied(&mut conn)? else {
        return Ok(Diagnostics::default());
    };
    let schema_version = kit::schema_version(&applied);
    let mut diagnostics = Diagnostics {
        schema_version,
        ..Diagnostics::default()
    };
    // Before migration 2 there are no tombstones (and no column to filter on).
    let live = if schema_version.unwrap_or(0) >= TOMBSTONES_SINCE {
        " WHERE deleted = 0"
    } else {
        ""
    };
    let kinds = conn
        .rows(
            &format!("SELECT kind, COUNT(*) FROM user_engine_records{live} GROUP BY kind"),
            (),
        )
        .map_err(|e| map(what, &e))?;
    for mut row in kinds {
        let kind: String = column(&mut row, 0, what)?;
        let n: u64 = column(&mut row, 1, what)?;
        diagnostics.records.insert(kind.parse::<RecordKind>()?, n);
    }
    let counts = conn
        .rows(
            &format!(
                "SELECT (SELECT COUNT(DISTINCT tenant_id) FROM user_engine_records{live}),
                        (SELECT COUNT(*) FROM user_engine_audit_records),
                        (SELECT COUNT(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NULL),
                        (SELECT COUNT(*) FROM user_engine_outbox_events WHERE acknowledged_at IS NOT NULL)"
            ),
            (),
        )
        .map_err(|e| map(what, &e))?;
    let mut row = counts
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::unavailable("mysql returned no row of counts"))?;
    diagnostics.tenants = column(&mut row, 0, what)?;
    diagnostics.audit_entries = column(&mut row, 1, what)?;
    diagnostics.outbox_pending = column(&mut row, 2, what)?;
    diagnostics.outbox_acknowledged = column(&mut row, 3, what)?;
    conn.commit().map_err(|e| map(what, &e))?;
    Ok(diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manifest_entry_has_exactly_one_sql_file() {
        assert_eq!(MIGRATION_SOURCE.verify(), Ok(()));
    }

    #[test]
    fn lock_names_fit_mysql_limit() {
        assert_eq!(migration_lock_name("test"), "user_engine_migrate:test");
        let long = migration_lock_name(&"d".repeat(64));
        assert!(long.len() <= MAX_LOCK_NAME, "{long}");
        assert_ne!(long, migration_lock_name(&"e".repeat(64)));
    }
}
