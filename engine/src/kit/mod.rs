//! The contract's rules as pure functions, shared by every store: a rule decided here is decided
//! the same way by the reference store and by every adapter, because it is the clause itself and
//! not a way of implementing it.
//!
//! | piece | the rule it decides |
//! |---|---|
//! | [`require_ready`] | every call but `readiness`, `migrate` and `diagnostics` refuses a store that is not ready (C27) |
//! | [`acknowledgement`] | `acknowledge` is all or nothing: every id must exist (C21) |
//! | [`MigrationSource`], [`MigrationPlan`] | drift, readiness from the recorded migrations, what `migrate` applies (C22–C25) |
//! | [`RecordColumns`], [`record_at`], [`AuditColumns`], [`EventColumns`] | stored columns validated into boundary types, in the engine's words (C1, C5) |
//! | [`next_version`] | the version a write gives a key: one more than the key's last, never reused (C2) |
//! | [`Page::from_sorted`](crate::Page::from_sorted), [`Cursor`](crate::Cursor) | paging and tenant-bound cursors (C15) |
//!
//! The kit holds no transaction strategy, no driver and no SQL dialect. How a store isolates its
//! transactions — buffering writes and checking guards at commit, or locking rows as it goes — is
//! the store's own choice; [`crate::buffered`] is one optional way, with its isolation stated.
//! Test-only controls live in [`crate::testing`].

mod columns;
mod migrations;

pub use columns::{
    AuditColumns, EventColumns, RecordColumns, applied_migration, key_from_columns, record_at,
};
pub use migrations::{
    MigrationPlan, MigrationSource, MigrationStep, schema_version, tampered_checksum,
};

use std::collections::BTreeSet;

use crate::error::StoreError;
use crate::ids::RecordKey;
use crate::readiness::Readiness;
use crate::record::EventId;

/// What a store knows of one key's versions (store-contract C2): the version of the live record,
/// if there is one, and the last version the key ever had, live or deleted (0: never written).
///
/// Versions never repeat for a key: a record written again after a delete continues from the
/// version it was deleted at, so a guard `if: {version: N}` can never be satisfied by a
/// different record that happens to be at N.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyVersions {
    /// The live record's version; `None`: absent (never written, or deleted).
    pub live: Option<u64>,
    /// The last version the key had, live or deleted; 0 if it was never written.
    pub last: u64,
}

impl KeyVersions {
    /// A key never written.
    pub const NEVER_WRITTEN: KeyVersions = KeyVersions {
        live: None,
        last: 0,
    };

    /// A key whose live record is at `version`.
    pub fn live(version: u64) -> Self {
        KeyVersions {
            live: Some(version),
            last: version,
        }
    }

    /// A key deleted at `version` (0: never written).
    pub fn deleted(version: u64) -> Self {
        KeyVersions {
            live: None,
            last: version,
        }
    }
}

/// The largest version a store must be able to hold: every backend keeps versions in a signed
/// 64-bit column.
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// The version the next write of `key` gives it: one more than the key's `last` version (live or
/// deleted), or `invalid` past [`MAX_VERSION`].
///
/// ```
/// use user_engine::RecordKey;
/// use user_engine::kit::{MAX_VERSION, next_version};
///
/// let key = RecordKey::parse("acme/profile/p1")?;
/// assert_eq!(next_version(&key, 0)?, 1);
/// assert_eq!(next_version(&key, 7)?, 8);
/// assert!(next_version(&key, MAX_VERSION).is_err());
/// # Ok::<(), user_engine::StoreError>(())
/// ```
pub fn next_version(key: &RecordKey, last: u64) -> Result<u64, StoreError> {
    match last.checked_add(1) {
        Some(next) if next <= MAX_VERSION => Ok(next),
        _ => Err(StoreError::invalid(format!("version of {key} overflows"))),
    }
}

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
