//! Committing a [`WriteBuffer`]: the [`CommitPlan`] a buffer becomes once its guards held, and
//! [`BufferedTransaction`], the [`StoreTransaction`] a buffered store hands out.
//!
//! A store implements [`BufferedStore`] (read a key's committed versions; apply a buffer all or
//! nothing) and returns `Box::new(BufferedTransaction::new(self))` from `begin`. Reads-own-writes,
//! write-time expectations and rollback-by-dropping then come from this module; only the atomic
//! apply is the adapter's own.

use std::fmt;

use crate::error::StoreError;
use crate::ids::RecordKey;
use crate::record::{AuditEntry, Expectation, OutboxMessage, Record, RecordWrite};
use crate::store::{StoreTransaction, UserEngineStore};

use super::buffer::{PendingWrite, WriteBuffer};
use crate::kit::KeyVersions;

impl WriteBuffer {
    /// Re-checks every guarded key against the versions `committed_versions` reads now, then
    /// decides each key's outcome. Fails with the first `conflict` (in key order) before anything
    /// is decided, so a store that applies the plan only on `Ok` commits all or nothing.
    pub fn into_commit_plan(
        self,
        mut committed_versions: impl FnMut(&RecordKey) -> Result<KeyVersions, StoreError>,
    ) -> Result<CommitPlan, StoreError> {
        self.plan(|key, _| committed_versions(key))
    }

    /// The plan when the store knows that nothing reached committed state since the buffer's
    /// first write read it — say, a change counter that has not moved, read under the commit's
    /// lock. Every key's committed versions are then the ones its first write observed, so no
    /// guard can have broken and nothing needs reading again. A store that cannot know this
    /// calls [`into_commit_plan`](Self::into_commit_plan).
    pub fn into_commit_plan_as_observed(self) -> CommitPlan {
        self.plan(|_, write| Ok(write.observed_versions()))
            .expect("a guard holds against the versions it observed")
    }

    fn plan(
        self,
        mut committed_versions: impl FnMut(&RecordKey, &PendingWrite) -> Result<KeyVersions, StoreError>,
    ) -> Result<CommitPlan, StoreError> {
        let mut checked = Vec::with_capacity(self.writes.len());
        for (key, write) in self.writes {
            let committed = committed_versions(&key, &write)?;
            write.recheck(&key, committed.live)?;
            checked.push((key, write, committed));
        }
        let changes = checked
            .into_iter()
            .map(|(key, write, committed)| {
                let expected = write.expectation();
                let version = write.version_to_store(committed);
                let last = write.last_to_keep(committed);
                let record = write.current.zip(version).map(|(mut record, version)| {
                    record.version = version;
                    record
                });
                RecordChange {
                    key,
                    record,
                    expected,
                    committed: committed.live,
                    last,
                }
            })
            .collect();
        Ok(CommitPlan {
            changes,
            audit: self.audit,
            outbox: self.outbox,
        })
    }
}

/// A buffer whose guards held at commit: what to write, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitPlan {
    /// One change per written key, in key order.
    pub changes: Vec<RecordChange>,
    /// Audit entries to append, in order.
    pub audit: Vec<AuditEntry>,
    /// Outbox messages to enqueue, in order.
    pub outbox: Vec<OutboxMessage>,
}

/// What commit does to one key.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordChange {
    /// The key.
    pub key: RecordKey,
    /// The record to store, its version already rebased; `None`: delete the key (a no-op if it
    /// is absent). A store remembers the version a delete removes (C2: versions never repeat).
    pub record: Option<Record>,
    /// What the transaction required of the committed version.
    pub expected: Expectation,
    /// The committed version the re-check read.
    pub committed: Option<u64>,
    /// The key's last version after the commit: the version of `record`, or for a delete the
    /// version the key's tombstone keeps (C2: a version is never given twice).
    pub last: u64,
}

impl RecordChange {
    /// The `conflict` to report when the backend refuses this change after the re-check (say, a
    /// unique index on a payload field): on this key, with what was expected and found.
    pub fn conflict(&self) -> StoreError {
        StoreError::Conflict {
            key: self.key.clone(),
            expected: self.expected,
            actual: self.committed,
        }
    }
}

/// A store whose transactions buffer their writes and apply them in one step at commit.
///
/// The reference store does not use it (it is the independent oracle); the PostgreSQL adapter
/// does. The SQLite adapter uses [`WriteBuffer`] under a transaction type of its own. See [`super`] for the isolation it gives.
pub trait BufferedStore: UserEngineStore {
    /// The committed versions at `key`, without a readiness check: all the first write of a key
    /// in a transaction needs.
    fn committed_versions(&self, key: &RecordKey) -> Result<KeyVersions, StoreError>;

    /// Applies a transaction's buffer, all or nothing: re-checks readiness and every guard against
    /// committed state ([`WriteBuffer::into_commit_plan`], or [`PendingWrite::recheck`] per locked
    /// row), then writes records, audit entries and outbox events in one atomic step.
    ///
    /// [`PendingWrite::recheck`]: super::PendingWrite::recheck
    fn commit_buffer(&self, buffer: WriteBuffer) -> Result<(), StoreError>;
}

/// An open transaction of a [`BufferedStore`]: nothing reaches the store before
/// [`commit`](StoreTransaction::commit), so dropping it (or panicking while it is open) is a
/// rollback that leaves no trace and holds no lock.
pub struct BufferedTransaction<'a, S: BufferedStore> {
    store: &'a S,
    buffer: WriteBuffer,
}

impl<'a, S: BufferedStore> BufferedTransaction<'a, S> {
    /// A transaction with an empty buffer. Check readiness before handing it out (or go by a
    /// [`ReadinessLatch`](crate::ReadinessLatch) that found the store ready: commit checks again).
    pub fn new(store: &'a S) -> Self {
        Self {
            store,
            buffer: WriteBuffer::new(),
        }
    }
}

impl<S: BufferedStore> fmt::Debug for BufferedTransaction<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BufferedTransaction")
            .field(&self.buffer)
            .finish()
    }
}

impl<S: BufferedStore> StoreTransaction for BufferedTransaction<'_, S> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        match self.buffer.buffered(key) {
            Some(buffered) => Ok(buffered),
            None => UserEngineStore::get(self.store, key),
        }
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let store = self.store;
        self.buffer
            .save(write, expect, |key| store.committed_versions(key))
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let store = self.store;
        self.buffer
            .delete(key, expect, |key| store.committed_versions(key))
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.buffer.append_audit(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.buffer.enqueue(message);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        this.store.commit_buffer(this.buffer)
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Nothing reached the store; dropping the buffer is the rollback.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffered::fixtures::{committed_at, key, write};

    #[test]
    fn the_plan_keeps_log_order_and_checks_every_guard_first() {
        let mut buffer = WriteBuffer::new();
        let other = RecordKey::parse("acme/profile/p0").unwrap();
        buffer
            .delete(&other, Expectation::Any, committed_at(Some(3)))
            .unwrap();
        buffer
            .save(write(&key()), Expectation::Absent, committed_at(None))
            .unwrap();
        let log = |action: &str| AuditEntry {
            tenant: key().tenant,
            actor: None,
            action: action.into(),
            target: None,
        };
        buffer.append_audit(log("a"));
        buffer.append_audit(log("b"));
        assert_eq!(
            format!("{buffer:?}"),
            "WriteBuffer { records: 2, audit_entries: 2, outbox_messages: 0 }"
        );
        let plan = buffer
            .clone()
            .into_commit_plan(|k| {
                Ok(if k == &other {
                    KeyVersions::live(3)
                } else {
                    KeyVersions::NEVER_WRITTEN
                })
            })
            .unwrap();
        let keys: Vec<_> = plan
            .changes
            .iter()
            .map(|c| (c.key.to_string(), c.record.is_some()))
            .collect();
        assert_eq!(
            keys,
            [
                ("acme/profile/p0".into(), false),
                ("acme/profile/p1".into(), true)
            ]
        );
        assert_eq!(plan.audit, [log("a"), log("b")]);
        assert_eq!(
            plan.changes[1].conflict().kind(),
            crate::ErrorKind::Conflict
        );
        let observed = buffer.clone().into_commit_plan(|k| {
            Ok(if k == &other {
                KeyVersions::live(3)
            } else {
                KeyVersions::NEVER_WRITTEN
            })
        });
        assert_eq!(
            buffer.clone().into_commit_plan_as_observed(),
            observed.unwrap(),
            "a plan from the observed versions is the plan a re-read finding them gives"
        );
        let err = buffer
            .into_commit_plan(|_| Ok(KeyVersions::live(1)))
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
    }
}
