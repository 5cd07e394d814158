//! Reading rows back into boundary types: records, audit entries, outbox events, applied migrations.
//!
//! Every column is read as plain text or a number (payloads as `payload::text`), then validated
//! into identifiers and payloads by the engine's kit (`user_engine::kit::RecordColumns` and
//! friends), so a malformed stored value is reported in the engine's words.

use postgres::Row;
use postgres::types::FromSql;
use user_engine::kit::{AuditColumns, EventColumns, RecordColumns, applied_migration};
use user_engine::migration::AppliedMigration;
use user_engine::{AuditRecord, OutboxEvent, Record, StoreError};

use crate::error::map;

/// The columns [`record`] reads, in order.
pub(crate) const RECORD_COLUMNS: &str =
    "tenant_id, kind, record_id, user_id, payload::text, version";

/// One column, or a fixed-words error naming what was being read.
fn column<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    what: &'static str,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| map(what, &e))
}

/// A record row selected with [`RECORD_COLUMNS`].
pub(crate) fn record(row: &Row) -> Result<Record, StoreError> {
    record_at(row, 0)
}

/// A record selected with [`RECORD_COLUMNS`] from column `first` on.
pub(crate) fn record_at(row: &Row, first: usize) -> Result<Record, StoreError> {
    const WHAT: &str = "reading a record";
    RecordColumns {
        tenant: column(row, first, WHAT)?,
        kind: column(row, first + 1, WHAT)?,
        id: column(row, first + 2, WHAT)?,
        user: column(row, first + 3, WHAT)?,
        payload: column(row, first + 4, WHAT)?,
        version: column(row, first + 5, WHAT)?,
    }
    .into_record()
}

/// Rows of `SELECT version, checksum FROM user_engine_schema_versions`.
pub(crate) fn applied(rows: &[Row]) -> Result<Vec<AppliedMigration>, StoreError> {
    const WHAT: &str = "reading the schema version";
    rows.iter()
        .map(|row| {
            let version: i32 = column(row, 0, WHAT)?;
            applied_migration(i64::from(version), column(row, 1, WHAT)?)
        })
        .collect()
}

/// An audit row: sequence, tenant, actor, action, target tenant, target kind, target id.
pub(crate) fn audit(row: &Row) -> Result<AuditRecord, StoreError> {
    const WHAT: &str = "reading audit entries";
    AuditColumns {
        sequence: column(row, 0, WHAT)?,
        tenant: column(row, 1, WHAT)?,
        actor: column(row, 2, WHAT)?,
        action: column(row, 3, WHAT)?,
        target_tenant: column(row, 4, WHAT)?,
        target_kind: column(row, 5, WHAT)?,
        target_id: column(row, 6, WHAT)?,
    }
    .into_audit_record()
}

/// An outbox row: id, tenant, topic, key, payload text.
pub(crate) fn event(row: &Row) -> Result<OutboxEvent, StoreError> {
    const WHAT: &str = "reading outbox events";
    EventColumns {
        id: column(row, 0, WHAT)?,
        tenant: column(row, 1, WHAT)?,
        topic: column(row, 2, WHAT)?,
        key: column(row, 3, WHAT)?,
        payload: column(row, 4, WHAT)?,
    }
    .into_event()
}
