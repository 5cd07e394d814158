//! The buffered, optimistic transaction strategy: one way — not the only way — to meet the
//! transaction clauses of the store contract. Optional: a store may implement
//! [`StoreTransaction`](crate::StoreTransaction) any way it likes (the reference store and the
//! MySQL adapter share none of this).
//!
//! A [`BufferedTransaction`] keeps every write in a [`WriteBuffer`] until commit; nothing reaches
//! the store before, so rollback, drop and panic leave no trace and hold no lock. Expectations
//! are checked when a write is made, against what the transaction sees; at commit the store
//! re-checks every guarded key and applies the buffer in one atomic step ([`BufferedStore`]).
//!
//! **Isolation it gives** (with a store that applies the buffer atomically and re-checks guards
//! under a lock, as `commit_buffer` requires): no dirty writes or reads; no lost updates through a
//! guard (a guarded key that moved fails the commit with `conflict`); reads inside a transaction
//! are *read committed* — two reads of one key may see two committed versions (read skew), and a
//! write guarded on one key does not protect a decision made from reading another (write skew).
//! Unguarded writes are last-writer-wins, rebased onto whatever version is committed. These are
//! exactly the anomalies the contract's isolation clause allows (store-contract C33).
//!
//! A store adopts it in two places: `begin` returns `Box::new(BufferedTransaction::new(self))`,
//! and [`BufferedStore::commit_buffer`] takes its lock (or starts its database transaction),
//! turns the buffer into a [`CommitPlan`] with [`WriteBuffer::into_commit_plan`] — which re-reads
//! each written key's committed versions and refuses a broken guard — and applies the plan's
//! changes, audit entries and events in one atomic step. [`WriteBuffer`] shows the bookkeeping on
//! its own.

mod buffer;
mod commit;

pub use buffer::{PendingWrite, WriteBuffer};
pub use commit::{BufferedStore, BufferedTransaction, CommitPlan, RecordChange};

/// What the strategy's unit tests share.
#[cfg(test)]
mod fixtures {
    use serde_json::json;

    use crate::error::StoreError;
    use crate::ids::RecordKey;
    use crate::kit::KeyVersions;
    use crate::payload::Payload;
    use crate::record::RecordWrite;

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

    /// A `committed` reader that finds the record live at `version` (`None`: never written).
    pub(super) fn committed_at(
        version: Option<u64>,
    ) -> impl FnOnce(&RecordKey) -> Result<KeyVersions, StoreError> {
        move |_| Ok(version.map_or(KeyVersions::NEVER_WRITTEN, KeyVersions::live))
    }

    /// A `committed` reader that finds the key deleted at `version`.
    pub(super) fn deleted_at(
        version: u64,
    ) -> impl FnOnce(&RecordKey) -> Result<KeyVersions, StoreError> {
        move |_| Ok(KeyVersions::deleted(version))
    }
}
