//! Reading rows back into boundary types: records, audit entries, outbox events, applied migrations.
//!
//! Rows are first read as plain text and numbers (the `rusqlite` step, here), then validated into
//! identifiers and payloads by the engine's kit (`user_engine::kit::RecordColumns` and friends), so
//! a malformed stored value is reported in the engine's words, never in the driver's.

use rusqlite::{Connection, OptionalExtension, Row};
use user_engine::kit::{
    AuditColumns, EventColumns, KeyVersions, RecordColumns, applied_migration, record_at,
};
use user_engine::migration::AppliedMigration;
use user_engine::{AuditRecord, OutboxEvent, Record, RecordKey, StoreError, TenantId};

use crate::error::map;

/// The columns [`record_columns`] reads, in order.
pub(crate) const RECORD_COLUMNS: &str = "tenant_id, kind, record_id, user_id, payload, version";

/// A record row selected with [`RECORD_COLUMNS`].
fn record_columns(row: &Row<'_>) -> rusqlite::Result<RecordColumns> {
    Ok(RecordColumns {
        tenant: row.get(0)?,
        kind: row.get(1)?,
        id: row.get(2)?,
        user: row.get(3)?,
        payload: row.get(4)?,
        version: row.get(5)?,
    })
}

/// Runs a record query and validates every row.
pub(crate) fn query_records(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Record>, StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(|e| map("reading records", &e))?;
    let raw: Vec<RecordColumns> = statement
        .query_map(params, record_columns)
        .and_then(|rows| rows.collect())
        .map_err(|e| map("reading records", &e))?;
    raw.into_iter().map(RecordColumns::into_record).collect()
}

/// The committed record at `key`, without a readiness check.
pub(crate) fn committed_record(
    conn: &Connection,
    key: &RecordKey,
) -> Result<Option<Record>, StoreError> {
    // The key columns are the key looked up: only the others are read and validated.
    let row: Option<(Option<String>, String, i64)> = conn
        .prepare_cached(
            "SELECT user_id, payload, version FROM user_engine_records
             WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3 AND deleted = 0",
        )
        .and_then(|mut s| {
            s.query_row(key_params(key), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(|e| map("reading records", &e))?;
    row.map(|(user, payload, version)| record_at(key.clone(), user, &payload, version))
        .transpose()
}

/// The committed versions at `key`: a live row's version, or a deleted row's last one.
pub(crate) fn committed_versions(
    conn: &Connection,
    key: &RecordKey,
) -> Result<KeyVersions, StoreError> {
    let row: Option<(i64, bool)> = conn
        .prepare_cached(
            "SELECT version, deleted FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3",
        )
        .and_then(|mut s| {
            s.query_row(key_params(key), |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(|e| map("reading a record version", &e))?;
    key_versions(key, row)
}

/// [`committed_versions`], and SQLite's `data_version` read in the same read transaction: the
/// number that moves when another connection commits to the file (it does not move for this
/// connection's own commits).
pub(crate) fn committed_versions_and_data_version(
    conn: &Connection,
    key: &RecordKey,
) -> Result<(KeyVersions, i64), StoreError> {
    // One statement is one read transaction: the versions are the ones committed when
    // `data_version` was read. An aggregate always gives one row, also for a key with none (its
    // key is the primary key: `max` is the one row's value, or NULL). A join with the pragma's
    // table instead measured about four times the plain read.
    let (data_version, version, deleted): (i64, Option<i64>, Option<bool>) = conn
        .prepare_cached(
            "SELECT (SELECT data_version FROM pragma_data_version), max(version), max(deleted)
             FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3",
        )
        .and_then(|mut s| {
            s.query_row(key_params(key), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
        })
        .map_err(|e| map("reading a record version", &e))?;
    Ok((key_versions(key, version.zip(deleted))?, data_version))
}

/// SQLite's `data_version`, read inside the caller's transaction.
pub(crate) fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("PRAGMA data_version")
        .and_then(|mut s| s.query_row([], |row| row.get(0)))
        .map_err(|e| map("reading the database's data version", &e))
}

/// A key's versions from its row's `(version, deleted)`, or from no row.
fn key_versions(key: &RecordKey, row: Option<(i64, bool)>) -> Result<KeyVersions, StoreError> {
    let Some((version, deleted)) = row else {
        return Ok(KeyVersions::NEVER_WRITTEN);
    };
    let version = u64::try_from(version)
        .map_err(|_| StoreError::invalid(format!("stored record {key} has a negative version")))?;
    Ok(if deleted {
        KeyVersions::deleted(version)
    } else {
        KeyVersions::live(version)
    })
}

/// `(tenant, kind, id)` as statement parameters.
pub(crate) fn key_params(key: &RecordKey) -> [&str; 3] {
    [key.tenant.as_str(), key.kind.as_str(), key.id.as_str()]
}

/// The recorded migrations as one text, `version:checksum` joined by `,` in version order
/// (`user_engine::kit::MigrationSource::ready_signature`).
/// `version` is the table's INTEGER PRIMARY KEY (the rowid), so the scan runs in version order;
/// were it ever not to, the text would not match and the full check would run: slower, not wrong.
const SIGNATURE: &str =
    "SELECT group_concat(version || ':' || checksum, ',') FROM user_engine_schema_versions";

/// Whether the recorded migrations read exactly as `expected`, in one cached statement: the fast
/// readiness check. `false` also when they cannot be read (no versions table yet); the caller
/// then asks properly, so this only ever says "ready" for a ready store.
pub(crate) fn signature_is(conn: &Connection, expected: &str) -> bool {
    let signature: Option<Option<String>> = conn
        .prepare_cached(SIGNATURE)
        .and_then(|mut s| s.query_row([], |row| row.get(0)))
        .ok();
    signature.flatten().as_deref() == Some(expected)
}

/// The recorded migrations, or `None` before the versions table exists.
pub(crate) fn applied_migrations(
    conn: &Connection,
) -> Result<Option<Vec<AppliedMigration>>, StoreError> {
    let exists: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'user_engine_schema_versions')",
        )
        .and_then(|mut s| s.query_row([], |row| row.get(0)))
        .map_err(|e| map("reading the schema version", &e))?;
    if !exists {
        return Ok(None);
    }
    let mut statement = conn
        .prepare_cached(
            "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version",
        )
        .map_err(|e| map("reading the schema version", &e))?;
    let rows: Vec<(i64, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| map("reading the schema version", &e))?;
    rows.into_iter()
        .map(|(version, checksum)| applied_migration(version, checksum))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A tenant's audit entries in sequence order.
pub(crate) fn audit_of(
    conn: &Connection,
    tenant: &TenantId,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT sequence, tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id
             FROM user_engine_audit_records WHERE tenant_id = ?1 ORDER BY sequence",
        )
        .map_err(|e| map("reading audit entries", &e))?;
    let rows: Vec<AuditColumns> = statement
        .query_map([tenant.as_str()], |r| {
            Ok(AuditColumns {
                sequence: r.get(0)?,
                tenant: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target_tenant: r.get(4)?,
                target_kind: r.get(5)?,
                target_id: r.get(6)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| map("reading audit entries", &e))?;
    rows.into_iter()
        .map(AuditColumns::into_audit_record)
        .collect()
}

/// Up to `limit` unacknowledged outbox events in id (= commit) order.
pub(crate) fn pending_events(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT id, tenant_id, topic, event_key, payload FROM user_engine_outbox_events
             WHERE acknowledged_at IS NULL ORDER BY id LIMIT ?1",
        )
        .map_err(|e| map("reading outbox events", &e))?;
    let rows: Vec<EventColumns> = statement
        .query_map([limit], |r| {
            Ok(EventColumns {
                id: r.get(0)?,
                tenant: r.get(1)?,
                topic: r.get(2)?,
                key: r.get(3)?,
                payload: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| map("reading outbox events", &e))?;
    rows.into_iter().map(EventColumns::into_event).collect()
}

/// The listed events that exist (acknowledged or not); `listed` is [`id_list`]'s JSON array.
pub(crate) fn existing_events(
    conn: &Connection,
    listed: &str,
) -> Result<std::collections::BTreeSet<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT id FROM user_engine_outbox_events WHERE id IN (SELECT value FROM json_each(?1))",
    )
    .and_then(|mut s| {
        s.query_map([listed], |r| r.get(0))?
            .collect::<Result<_, _>>()
    })
    .map_err(|e| map("acknowledging outbox events", &e))
}

/// Row ids as a JSON array, one statement parameter for `json_each`.
pub(crate) fn id_list(ids: &[i64]) -> String {
    let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", listed.join(","))
}
