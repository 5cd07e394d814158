//! Reading rows back into boundary types: records, audit entries, outbox events, applied
//! migrations.
//!
//! Every column is taken as plain text or a number, then validated into identifiers and payloads
//! by the engine's kit (`user_engine::kit::RecordColumns` and friends), so a malformed stored
//! value is reported in the engine's words. The driver's own conversion error carries the value,
//! so it is replaced by fixed words here.

use mysql::Row;
use mysql::prelude::FromValue;
use user_engine::kit::{AuditColumns, EventColumns, RecordColumns, applied_migration};
use user_engine::migration::AppliedMigration;
use user_engine::{AuditRecord, OutboxEvent, Record, StoreError};

/// The columns [`record`] reads, in order (of `user_engine_records`, unqualified).
pub(crate) const RECORD_COLUMNS: &str = "tenant_id, kind, record_id, user_id, payload, version";

/// The columns [`audit`] reads, in order.
pub(crate) const AUDIT_COLUMNS: &str = "sequence, tenant_id, actor_user_id, action, \
     target_tenant_id, target_kind, target_record_id";

/// The columns [`event`] reads, in order.
pub(crate) const EVENT_COLUMNS: &str = "id, tenant_id, topic, event_key, payload";

/// Column `index`, or a fixed-words error naming what was being read.
pub(crate) fn column<T: FromValue>(
    row: &mut Row,
    index: usize,
    what: &'static str,
) -> Result<T, StoreError> {
    match row.take_opt::<T, usize>(index) {
        Some(Ok(value)) => Ok(value),
        Some(Err(_)) => Err(StoreError::invalid(format!(
            "mysql returned column {index} with an unexpected type while {what}"
        ))),
        None => Err(StoreError::invalid(format!(
            "mysql returned no column {index} while {what}"
        ))),
    }
}

/// A record selected with [`RECORD_COLUMNS`] from column `first` on.
pub(crate) fn record_at(row: &mut Row, first: usize) -> Result<Record, StoreError> {
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

/// A record row selected with [`RECORD_COLUMNS`].
pub(crate) fn record(mut row: Row) -> Result<Record, StoreError> {
    record_at(&mut row, 0)
}

/// Rows of `SELECT version, checksum FROM user_engine_schema_versions`.
pub(crate) fn applied(rows: Vec<Row>) -> Result<Vec<AppliedMigration>, StoreError> {
    const WHAT: &str = "reading the schema version";
    rows.into_iter()
        .map(|mut row| {
            let version: i64 = column(&mut row, 0, WHAT)?;
            applied_migration(version, column(&mut row, 1, WHAT)?)
        })
        .collect()
}

/// An audit row selected with [`AUDIT_COLUMNS`].
pub(crate) fn audit(mut row: Row) -> Result<AuditRecord, StoreError> {
    const WHAT: &str = "reading audit entries";
    let row = &mut row;
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

/// An outbox row selected with [`EVENT_COLUMNS`].
pub(crate) fn event(mut row: Row) -> Result<OutboxEvent, StoreError> {
    const WHAT: &str = "reading outbox events";
    let row = &mut row;
    EventColumns {
        id: column(row, 0, WHAT)?,
        tenant: column(row, 1, WHAT)?,
        topic: column(row, 2, WHAT)?,
        key: column(row, 3, WHAT)?,
        payload: column(row, 4, WHAT)?,
    }
    .into_event()
}

/// `?, ?, …`: `n` placeholders for an `IN (…)` list.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_comma_separated() {
        assert_eq!(placeholders(3), "?, ?, ?");
        assert_eq!(placeholders(1), "?");
    }
}
