//! The adapter author's kit: the rules every store shares, implemented once, so that the reference
//! store and every database adapter agree by construction rather than by copy.
//!
//! | piece | what it decides | who uses it |
//! |---|---|---|
//! | [`WriteBuffer`], [`PendingWrite`] | reads-own-writes, expectations at write time, the observed version and guard of each key, version rebasing for unguarded writes | every store's transactions |
//! | [`BufferedStore`], [`BufferedTransaction`] | the one [`StoreTransaction`](crate::StoreTransaction) implementation; a store supplies "read committed" and "apply atomically" | `begin` of every store |
//! | [`CommitPlan`], [`RecordChange`] | the commit-time re-check of every guard, then each key's record to store (or delete) | stores that check all guards, then write |
//! | [`MigrationSource`], [`MigrationPlan`] | drift, readiness from the recorded migrations, what `migrate` applies | `migrate` and `readiness` |
//! | [`acknowledgement`] | `acknowledge` is all or nothing: every id must exist | `acknowledge` |
//! | [`RecordColumns`], [`AuditColumns`], [`EventColumns`] | stored columns validated into boundary types, in the engine's words | SQL adapters' row readers |
//! | [`DelegatingStore`] | a store that wraps a store (test fixtures) | test support |
//! | [`ArmedFault`], [`FaultCountdown`] | which change of the next commit an injected fault strikes before | adapters' `ConformanceHooks::inject_fault` |
//!
//! The kit holds no driver and no SQL dialect: what differs between backends — how to lock, how
//! to write a row, how to number outbox events in commit order — stays in the adapter.

mod buffer;
mod columns;
mod commit;
mod delegate;
mod faults;
mod migrations;

pub use buffer::{PendingWrite, WriteBuffer};
pub use columns::{AuditColumns, EventColumns, RecordColumns, applied_migration, key_from_columns};
pub use commit::{BufferedStore, BufferedTransaction, CommitPlan, RecordChange};
pub use delegate::DelegatingStore;
pub use faults::{ArmedFault, FaultCountdown};
pub use migrations::{
    MigrationPlan, MigrationSource, MigrationStep, schema_version, tampered_checksum,
};

use std::collections::BTreeSet;

use crate::error::StoreError;
use crate::readiness::Readiness;
use crate::record::EventId;

/// `Ok` when ready, otherwise the `not_ready` error carrying the reason: the check every store
/// call but `readiness`, `migrate` and `diagnostics` makes first.
pub fn require_ready(readiness: Readiness) -> Result<(), StoreError> {
    match readiness {
        Readiness::Ready { .. } => Ok(()),
        Readiness::NotReady { reason } => Err(StoreError::NotReady { reason }),
    }
}

/// The events one `acknowledge` call names, each once and in ascending order, after checking
/// that every one `exists`: otherwise `invalid`, naming the smallest unknown id, and the caller
/// acknowledges nothing. Run it and the update in one atomic step (events are never deleted, so
/// a store may also check first and update after).
///
/// ```
/// use user_engine::EventId;
/// use user_engine::kit::acknowledgement;
///
/// let known = |id: EventId| Ok(id.0 <= 3);
/// assert_eq!(acknowledgement(&[EventId(2), EventId(1), EventId(2)], known)?, [EventId(1), EventId(2)]);
/// let err = acknowledgement(&[EventId(1), EventId(9), EventId(8)], known).unwrap_err();
/// assert_eq!(err.to_string(), "invalid request: event 8 does not exist");
/// # Ok::<(), user_engine::StoreError>(())
/// ```
pub fn acknowledgement(
    ids: &[EventId],
    mut exists: impl FnMut(EventId) -> Result<bool, StoreError>,
) -> Result<Vec<EventId>, StoreError> {
    let ids: Vec<EventId> = ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for &id in &ids {
        if !exists(id)? {
            return Err(StoreError::invalid(format!("{id} does not exist")));
        }
    }
    Ok(ids)
}

/// What the kit's unit tests share.
#[cfg(test)]
mod fixtures {
    use serde_json::json;

    use crate::error::StoreError;
    use crate::ids::RecordKey;
    use crate::payload::Payload;
    use crate::record::{Record, RecordWrite};

    pub(super) fn key() -> RecordKey {
        RecordKey::parse("acme/profile/p1").unwrap()
    }

    pub(super) fn write(key: &RecordKey) -> RecordWrite {
        RecordWrite {
            key: key.clone(),
            user: None,
            payload: Payload::new(json!({"n": 1})),
        }
    }

    /// A `committed` reader that finds the record at `version` (`None`: absent).
    pub(super) fn committed_at(
        version: Option<u64>,
    ) -> impl FnOnce(&RecordKey) -> Result<Option<Record>, StoreError> {
        move |key| {
            Ok(version.map(|version| Record {
                key: key.clone(),
                user: None,
                payload: Payload::empty(),
                version,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::NotReadyReason;

    #[test]
    fn readiness_becomes_a_typed_not_ready_error() {
        assert_eq!(
            require_ready(Readiness::Ready { schema_version: 1 }),
            Ok(())
        );
        let err = require_ready(Readiness::NotReady {
            reason: NotReadyReason::NotMigrated,
        })
        .unwrap_err();
        assert_eq!(
            err,
            StoreError::NotReady {
                reason: NotReadyReason::NotMigrated
            }
        );
    }

    #[test]
    fn acknowledgement_checks_every_id_before_any_is_acknowledged() {
        let mut asked = Vec::new();
        let err = acknowledgement(&[EventId(5), EventId(1), EventId(3)], |id| {
            asked.push(id.0);
            Ok(id.0 != 3)
        })
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
        assert_eq!(asked, [1, 3], "ascending, stopping at the first unknown id");
        let failing = acknowledgement(&[EventId(1)], |_| Err(StoreError::unavailable("down")));
        assert_eq!(failing.unwrap_err().kind(), crate::ErrorKind::Unavailable);
        assert_eq!(acknowledgement(&[], |_| unreachable!()), Ok(vec![]));
    }
}
