//! Records, write expectations, audit entries and outbox messages: what crosses the boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{RecordKey, TenantId, UserId};
use crate::payload::Payload;

/// A stored record. Its payload is a [`Payload`], so `Debug` never prints values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Tenant, kind and id.
    pub key: RecordKey,
    /// The owning user, if any.
    pub user: Option<UserId>,
    /// The JSON body.
    pub payload: Payload,
    /// 1 on first write, one more on every later write.
    pub version: u64,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.key, self.version)?;
        if let Some(user) = &self.user {
            write!(f, " (user {user})")?;
        }
        Ok(())
    }
}

/// What a transaction writes: everything but the version, which the store assigns.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordWrite {
    /// Tenant, kind and id.
    pub key: RecordKey,
    /// The owning user, if any.
    pub user: Option<UserId>,
    /// The JSON body.
    pub payload: Payload,
}

/// What a write expects of the record's current state; a mismatch is [`crate::StoreError::Conflict`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// Write whatever is there (last writer wins).
    #[default]
    Any,
    /// The record must not exist.
    Absent,
    /// The record must exist at exactly this version.
    Version(u64),
}

impl Expectation {
    /// Whether a record currently at `current` (`None`: absent) satisfies this expectation.
    pub fn admits(self, current: Option<u64>) -> bool {
        match self {
            Expectation::Any => true,
            Expectation::Absent => current.is_none(),
            Expectation::Version(v) => current == Some(v),
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Any => f.write_str("any version"),
            Expectation::Absent => f.write_str("no record"),
            Expectation::Version(v) => write!(f, "version {v}"),
        }
    }
}

/// An audit entry, appended inside the transaction whose change it describes.
///
/// It carries names and keys only, no payload, so it can be shown to operators as is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Who acted, if a user did.
    pub actor: Option<UserId>,
    /// What happened, e.g. `profile.updated`.
    pub action: String,
    /// The record acted upon, if any.
    pub target: Option<RecordKey>,
}

/// A committed audit entry with its position in the tenant's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Increases in commit order; gaps are allowed.
    pub sequence: u64,
    /// The entry.
    pub entry: AuditEntry,
}

/// A message enqueued in the transactional outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The topic, e.g. `profile.saved`.
    pub topic: String,
    /// The partition key consumers order by, e.g. a record id.
    pub key: String,
    /// The body.
    pub payload: Payload,
}

/// Identifies an outbox event for acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event {}", self.0)
    }
}

/// A committed outbox event, as the relay sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// Its id, for [`crate::UserEngineStore::acknowledge`].
    pub id: EventId,
    /// The message.
    pub message: OutboxMessage,
}

impl fmt::Display for OutboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.message.tenant, self.message.topic, self.message.key
        )
    }
}
