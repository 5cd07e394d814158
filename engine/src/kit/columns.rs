//! Stored columns back into boundary types: an adapter reads a row as plain text and numbers
//! (its driver's step), then validates it here into identifiers and payloads, so a malformed
//! stored value is reported in the engine's words — never in the driver's, which may quote it.

use crate::error::StoreError;
use crate::ids::{RecordId, RecordKey, TenantId, UserId};
use crate::migration::AppliedMigration;
use crate::payload::Payload;
use crate::record::{AuditEntry, AuditRecord, EventId, OutboxEvent, OutboxMessage, Record};

/// A record row as stored: `tenant_id, kind, record_id, user_id, payload` (JSON text), `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordColumns {
    /// `tenant_id`.
    pub tenant: String,
    /// `kind`.
    pub kind: String,
    /// `record_id`.
    pub id: String,
    /// `user_id`.
    pub user: Option<String>,
    /// `payload`, as JSON text.
    pub payload: String,
    /// `version`.
    pub version: i64,
}

impl RecordColumns {
    /// The validated record.
    pub fn into_record(self) -> Result<Record, StoreError> {
        let key = key_from_columns(self.tenant, &self.kind, self.id)?;
        record_at(key, self.user, &self.payload, self.version)
    }
}

/// The validated record at `key` from its other stored columns (`user_id`, `payload` as JSON
/// text, `version`): for a read by key, whose row's key columns are the key it was looked up by.
pub fn record_at(
    key: RecordKey,
    user: Option<String>,
    payload: &str,
    version: i64,
) -> Result<Record, StoreError> {
    let version = u64::try_from(version)
        .map_err(|_| StoreError::invalid(format!("stored record {key} has a negative version")))?;
    Ok(Record {
        user: user.map(UserId::new).transpose()?,
        payload: Payload::from_json_text(payload)?,
        version,
        key,
    })
}

/// An audit row as stored: `sequence, tenant_id, actor_user_id, action` and the optional target
/// `target_tenant_id, target_kind, target_record_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditColumns {
    /// `sequence`.
    pub sequence: i64,
    /// `tenant_id`.
    pub tenant: String,
    /// `actor_user_id`.
    pub actor: Option<String>,
    /// `action`.
    pub action: String,
    /// `target_tenant_id`.
    pub target_tenant: Option<String>,
    /// `target_kind`.
    pub target_kind: Option<String>,
    /// `target_record_id`.
    pub target_id: Option<String>,
}

impl AuditColumns {
    /// The validated audit record; the target is present only when all three columns are.
    pub fn into_audit_record(self) -> Result<AuditRecord, StoreError> {
        let target = match (self.target_tenant, self.target_kind, self.target_id) {
            (Some(tenant), Some(kind), Some(id)) => Some(key_from_columns(tenant, &kind, id)?),
            _ => None,
        };
        Ok(AuditRecord {
            sequence: u64::try_from(self.sequence)
                .map_err(|_| StoreError::invalid("stored audit sequence is negative"))?,
            entry: AuditEntry {
                tenant: TenantId::new(self.tenant)?,
                actor: self.actor.map(UserId::new).transpose()?,
                action: self.action,
                target,
            },
        })
    }
}

/// An outbox row as stored: `id, tenant_id, topic, event_key, payload` (JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventColumns {
    /// `id`.
    pub id: i64,
    /// `tenant_id`.
    pub tenant: String,
    /// `topic`.
    pub topic: String,
    /// `event_key`.
    pub key: String,
    /// `payload`, as JSON text.
    pub payload: String,
}

impl EventColumns {
    /// The validated outbox event.
    pub fn into_event(self) -> Result<OutboxEvent, StoreError> {
        Ok(OutboxEvent {
            id: EventId(
                u64::try_from(self.id)
                    .map_err(|_| StoreError::invalid("stored outbox event id is negative"))?,
            ),
            message: OutboxMessage {
                tenant: TenantId::new(self.tenant)?,
                topic: self.topic,
                key: self.key,
                payload: Payload::from_json_text(&self.payload)?,
            },
        })
    }
}

/// A row of the applied-migrations table: `version, checksum`.
pub fn applied_migration(version: i64, checksum: String) -> Result<AppliedMigration, StoreError> {
    let version = u32::try_from(version).map_err(|_| {
        StoreError::invalid(format!("recorded schema version {version} is out of range"))
    })?;
    Ok(AppliedMigration { version, checksum })
}

/// A record key from its stored `tenant_id, kind, record_id` columns.
pub fn key_from_columns(tenant: String, kind: &str, id: String) -> Result<RecordKey, StoreError> {
    Ok(RecordKey::new(
        TenantId::new(tenant)?,
        kind.parse()?,
        RecordId::new(id)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn record_columns() -> RecordColumns {
        RecordColumns {
            tenant: "acme".into(),
            kind: "profile".into(),
            id: "p1".into(),
            user: Some("u1".into()),
            payload: r#"{"name":"Ada"}"#.into(),
            version: 2,
        }
    }

    #[test]
    fn valid_rows_become_boundary_types() {
        let record = record_columns().into_record().unwrap();
        assert_eq!(record.to_string(), "acme/profile/p1 v2 (user u1)");
        let audit = AuditColumns {
            sequence: 7,
            tenant: "acme".into(),
            actor: None,
            action: "profile.saved".into(),
            target_tenant: Some("acme".into()),
            target_kind: Some("profile".into()),
            target_id: Some("p1".into()),
        };
        let audit = audit.into_audit_record().unwrap();
        assert_eq!(audit.entry.target, Some(record.key));
        let event = EventColumns {
            id: 3,
            tenant: "acme".into(),
            topic: "t".into(),
            key: "k".into(),
            payload: "{}".into(),
        };
        assert_eq!(event.into_event().unwrap().id, EventId(3));
        assert_eq!(applied_migration(1, "c".into()).unwrap().version, 1);
    }

    #[test]
    fn malformed_rows_are_invalid_in_the_engine_words() {
        let negative = RecordColumns {
            version: -1,
            ..record_columns()
        };
        let err = negative.into_record().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: stored record acme/profile/p1 has a negative version"
        );
        let bad_json = RecordColumns {
            payload: "{\"secret\": \"canary".into(),
            ..record_columns()
        };
        let err = bad_json.into_record().unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
        let bad_kind = RecordColumns {
            kind: "planet".into(),
            ..record_columns()
        };
        assert_eq!(
            bad_kind.into_record().unwrap_err().kind(),
            ErrorKind::Invalid
        );
        assert_eq!(
            applied_migration(-1, "c".into()).unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
}
