//! [`WriteBuffer`]: a transaction's writes held in memory until commit, and the rules every store
//! applies to them — the reference store and the SQL adapters alike.
//!
//! - **Reads own writes**: [`WriteBuffer::buffered`] answers for every key the transaction wrote.
//! - **Expectations are checked at write time**, against what the transaction sees. A write that
//!   fails leaves the buffer exactly as it was (store-contract C3: it "changes nothing", not even
//!   at commit).
//! - **Guards**: the first successful write of a key remembers the committed version it saw
//!   ([`PendingWrite::observed`]); an `Absent` or `Version` expectation marks the key guarded, and
//!   commit refuses it with `conflict` if the committed version moved since
//!   ([`PendingWrite::recheck`]).
//! - **Rebasing**: an unguarded write over a record that another transaction changed meanwhile
//!   counts on from the committed version, so versions never repeat
//!   ([`PendingWrite::version_to_store`]). A key deleted in the transaction restarts at 1.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::StoreError;
use crate::ids::RecordKey;
use crate::payload::Payload;
use crate::record::{AuditEntry, Expectation, OutboxMessage, Record, RecordWrite};

/// One key a transaction wrote: what it observed first, and what it sees now.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWrite {
    observed: Option<u64>,
    guarded: bool,
    deleted: bool,
    pub(super) current: Option<Record>,
}

impl PendingWrite {
    fn observing(committed: Option<Record>) -> Self {
        PendingWrite {
            observed: committed.as_ref().map(|r| r.version),
            guarded: false,
            deleted: false,
            current: committed,
        }
    }

    /// A first write that knows only the committed version. The stand-in record (empty payload,
    /// no owner) is never seen: the write that follows replaces it (save) or removes it (delete),
    /// and a refused first write is not kept (`WriteBuffer::touch`).
    fn observing_version(key: &RecordKey, committed: Option<u64>) -> Self {
        Self::observing(committed.map(|version| Record {
            key: key.clone(),
            user: None,
            payload: Payload::empty(),
            version,
        }))
    }

    fn current_version(&self) -> Option<u64> {
        self.current.as_ref().map(|r| r.version)
    }

    /// The committed version when the transaction first wrote the key (`None`: absent).
    pub fn observed(&self) -> Option<u64> {
        self.observed
    }

    /// Whether some write relied on [`observed`](Self::observed) (an `Absent` or `Version`
    /// expectation), so commit must find the committed version unchanged.
    pub fn is_guarded(&self) -> bool {
        self.guarded
    }

    /// Whether the transaction deleted the key at some point: a later save restarts at version 1,
    /// whatever is committed.
    pub fn was_deleted(&self) -> bool {
        self.deleted
    }

    /// The record as the transaction sees it; `None`: deleted.
    pub fn current(&self) -> Option<&Record> {
        self.current.as_ref()
    }

    /// What commit requires of the committed version: `Any` when nothing was guarded, otherwise
    /// the observed version (or `Absent`). Also the `expected` of a conflict raised at commit.
    pub fn expectation(&self) -> Expectation {
        if self.guarded {
            self.observed
                .map_or(Expectation::Absent, Expectation::Version)
        } else {
            Expectation::Any
        }
    }

    /// The commit-time re-check: `conflict` if the key is guarded and the committed version is
    /// no longer the observed one.
    pub fn recheck(&self, key: &RecordKey, committed: Option<u64>) -> Result<(), StoreError> {
        if self.guarded && committed != self.observed {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: self.expectation(),
                actual: committed,
            });
        }
        Ok(())
    }

    /// How many versions the transaction adds on top of the observed one. An unguarded write
    /// that was not deleted adds this to whatever version is committed at commit time.
    pub fn versions_added(&self) -> u64 {
        self.current_version().unwrap_or(0) - self.observed.unwrap_or(0)
    }

    /// The version to store when the committed version is `committed` (`None`: the key is to be
    /// deleted). Unguarded writes over a concurrently changed record are rebased onto it.
    pub fn version_to_store(&self, committed: Option<u64>) -> Option<u64> {
        let version = self.current_version()?;
        if self.deleted || committed == self.observed {
            Some(version)
        } else {
            Some(committed.unwrap_or(0) + self.versions_added())
        }
    }

    /// Checks `expect` against the version the transaction sees, marking the key guarded when
    /// the write relies on it; returns that version.
    fn admit(&mut self, key: &RecordKey, expect: Expectation) -> Result<Option<u64>, StoreError> {
        let current = self.current_version();
        if !expect.admits(current) {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: expect,
                actual: current,
            });
        }
        self.guarded |= expect != Expectation::Any;
        Ok(current)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let current = self.admit(&write.key, expect)?;
        let record = Record {
            key: write.key,
            user: write.user,
            payload: write.payload,
            version: current.unwrap_or(0) + 1,
        };
        self.current = Some(record.clone());
        Ok(record)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if self.current.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        self.admit(key, expect)?;
        self.deleted = true;
        self.current = None;
        Ok(())
    }
}

/// Everything a transaction will write at commit: records by key, audit entries and outbox
/// messages in the order they were added.
///
/// `committed` arguments read the committed record of a key (without a readiness check); they are
/// called on a key's first write, and again on the next one if the first was refused.
///
/// ```
/// use user_engine::kit::WriteBuffer;
/// use user_engine::{Expectation, Payload, RecordKey, RecordWrite};
///
/// let key = RecordKey::parse("acme/profile/p1")?;
/// let mut buffer = WriteBuffer::new();
/// let write = RecordWrite { key: key.clone(), user: None, payload: Payload::empty() };
/// let saved = buffer.save(write, Expectation::Absent, |_| Ok(None))?;
/// assert_eq!(saved.version, 1);
/// assert_eq!(buffer.buffered(&key), Some(Some(saved)));
/// // Commit re-reads the committed version: another transaction created the record meanwhile.
/// let err = buffer.into_commit_plan(|_| Ok(Some(1))).unwrap_err();
/// assert_eq!(err.kind(), user_engine::ErrorKind::Conflict);
/// # Ok::<(), user_engine::StoreError>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct WriteBuffer {
    pub(super) writes: BTreeMap<RecordKey, PendingWrite>,
    pub(super) audit: Vec<AuditEntry>,
    pub(super) outbox: Vec<OutboxMessage>,
}

impl WriteBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record as the transaction sees it, if it wrote the key: `Some(None)` when it deleted
    /// it, `None` when it never wrote it (read committed state then).
    pub fn buffered(&self, key: &RecordKey) -> Option<Option<Record>> {
        self.writes.get(key).map(|w| w.current.clone())
    }

    /// Saves a record if `expect` holds against what the transaction sees; returns it with its
    /// new version (one more than the version the transaction sees, 1 if none).
    pub fn save(
        &mut self,
        write: RecordWrite,
        expect: Expectation,
        committed: impl FnOnce(&RecordKey) -> Result<Option<Record>, StoreError>,
    ) -> Result<Record, StoreError> {
        let key = write.key.clone();
        self.touch(&key, committed, |pending| pending.save(write, expect))
    }

    /// [`save`](Self::save), reading only the committed version of the key on its first write:
    /// all a save needs of what is committed, so a store need not fetch and parse the payload.
    pub fn save_over_version(
        &mut self,
        write: RecordWrite,
        expect: Expectation,
        committed_version: impl FnOnce(&RecordKey) -> Result<Option<u64>, StoreError>,
    ) -> Result<Record, StoreError> {
        let key = write.key.clone();
        let committed = |key: &RecordKey| {
            committed_version(key).map(|version| PendingWrite::observing_version(key, version))
        };
        self.touch_observing(&key, committed, |pending| pending.save(write, expect))
    }

    /// [`delete`](Self::delete), reading only the committed version of the key on its first
    /// write.
    pub fn delete_over_version(
        &mut self,
        key: &RecordKey,
        expect: Expectation,
        committed_version: impl FnOnce(&RecordKey) -> Result<Option<u64>, StoreError>,
    ) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(absent_delete(key));
        }
        let committed = |key: &RecordKey| {
            committed_version(key).map(|version| PendingWrite::observing_version(key, version))
        };
        self.touch_observing(key, committed, |pending| pending.delete(key, expect))
    }

    /// Deletes a record if `expect` holds (`Absent` is `invalid` here); `not_found` if the
    /// transaction sees no record.
    pub fn delete(
        &mut self,
        key: &RecordKey,
        expect: Expectation,
        committed: impl FnOnce(&RecordKey) -> Result<Option<Record>, StoreError>,
    ) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(absent_delete(key));
        }
        self.touch(key, committed, |pending| pending.delete(key, expect))
    }

    /// Runs `change` on the key's pending write, keeping a first write only if it succeeded:
    /// a refused write must not leave a stale snapshot behind for commit to write back.
    fn touch<T>(
        &mut self,
        key: &RecordKey,
        committed: impl FnOnce(&RecordKey) -> Result<Option<Record>, StoreError>,
        change: impl FnOnce(&mut PendingWrite) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let committed = |key: &RecordKey| committed(key).map(PendingWrite::observing);
        self.touch_observing(key, committed, change)
    }

    /// [`touch`](Self::touch), with the first write's starting point built by `observe`.
    fn touch_observing<T>(
        &mut self,
        key: &RecordKey,
        observe: impl FnOnce(&RecordKey) -> Result<PendingWrite, StoreError>,
        change: impl FnOnce(&mut PendingWrite) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(pending) = self.writes.get_mut(key) {
            // A refused change leaves an existing pending write as it was.
            return change(pending);
        }
        let mut pending = observe(key)?;
        let outcome = change(&mut pending)?;
        self.writes.insert(key.clone(), pending);
        Ok(outcome)
    }

    /// Adds an audit entry, committed with the records.
    pub fn append_audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Adds an outbox message, committed with the records.
    pub fn enqueue(&mut self, message: OutboxMessage) {
        self.outbox.push(message);
    }

    /// Every written key in key order (one lock order for adapters that lock rows at commit).
    pub fn writes(&self) -> impl Iterator<Item = (&RecordKey, &PendingWrite)> {
        self.writes.iter()
    }

    /// The audit entries, in append order.
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    /// The outbox messages, in enqueue order.
    pub fn outbox(&self) -> &[OutboxMessage] {
        &self.outbox
    }
}

/// The `invalid` error of a delete that expects the record to be absent.
fn absent_delete(key: &RecordKey) -> StoreError {
    StoreError::invalid(format!(
        "delete of {key} cannot expect the record to be absent"
    ))
}

impl fmt::Debug for WriteBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: the buffer holds payloads.
        f.debug_struct("WriteBuffer")
            .field("records", &self.writes.len())
            .field("audit_entries", &self.audit.len())
            .field("outbox_messages", &self.outbox.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::fixtures::{committed_at, key, write};

    #[test]
    fn unguarded_writes_count_on_from_a_concurrently_moved_version() {
        let mut buffer = WriteBuffer::new();
        let saved = buffer
            .save(write(&key()), Expectation::Any, committed_at(Some(2)))
            .unwrap();
        assert_eq!(saved.version, 3);
        let (_, pending) = buffer.writes().next().unwrap();
        assert_eq!(pending.expectation(), Expectation::Any);
        assert_eq!(pending.versions_added(), 1);
        assert_eq!(pending.version_to_store(Some(2)), Some(3));
        assert_eq!(pending.version_to_store(Some(5)), Some(6));
        let plan = buffer.into_commit_plan(|_| Ok(Some(5))).unwrap();
        assert_eq!(plan.changes[0].record.as_ref().map(|r| r.version), Some(6));
    }

    #[test]
    fn a_delete_then_save_restarts_at_one_and_guards_the_observed_version() {
        let mut buffer = WriteBuffer::new();
        buffer
            .delete(&key(), Expectation::Version(4), committed_at(Some(4)))
            .unwrap();
        assert_eq!(buffer.buffered(&key()), Some(None));
        let saved = buffer
            .save(write(&key()), Expectation::Absent, committed_at(None))
            .unwrap();
        assert_eq!(saved.version, 1);
        let (_, pending) = buffer.writes().next().unwrap();
        assert_eq!(pending.expectation(), Expectation::Version(4));
        assert_eq!(pending.version_to_store(Some(4)), Some(1));
        let err = pending.recheck(&key(), Some(5)).unwrap_err();
        assert_eq!(
            err,
            StoreError::Conflict {
                key: key(),
                expected: Expectation::Version(4),
                actual: Some(5)
            }
        );
    }

    #[test]
    fn refused_first_writes_leave_nothing_to_commit() {
        let mut buffer = WriteBuffer::new();
        let err = buffer
            .delete(&key(), Expectation::Any, committed_at(None))
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound { key: key() });
        let err = buffer
            .save(
                write(&key()),
                Expectation::Version(7),
                committed_at(Some(1)),
            )
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        assert_eq!(buffer.buffered(&key()), None);
        assert_eq!(buffer, WriteBuffer::new());
        let invalid = buffer.delete(&key(), Expectation::Absent, |_| unreachable!("not read"));
        assert_eq!(invalid.unwrap_err().kind(), crate::ErrorKind::Invalid);
    }

    #[test]
    fn writes_over_a_committed_version_behave_as_over_the_committed_record() {
        let mut by_record = WriteBuffer::new();
        let mut by_version = WriteBuffer::new();
        let saved = by_record
            .save(
                write(&key()),
                Expectation::Version(2),
                committed_at(Some(2)),
            )
            .unwrap();
        let saved_over = by_version
            .save_over_version(write(&key()), Expectation::Version(2), |_| Ok(Some(2)))
            .unwrap();
        assert_eq!(saved, saved_over);
        assert_eq!(by_record, by_version);
        let other = RecordKey::parse("acme/profile/p0").unwrap();
        by_record
            .delete(&other, Expectation::Any, committed_at(Some(4)))
            .unwrap();
        by_version
            .delete_over_version(&other, Expectation::Any, |_| Ok(Some(4)))
            .unwrap();
        assert_eq!(by_record, by_version);
        let refused = by_version.save_over_version(
            write(&RecordKey::parse("acme/profile/p9").unwrap()),
            Expectation::Absent,
            |_| Ok(Some(1)),
        );
        assert_eq!(refused.unwrap_err().kind(), crate::ErrorKind::Conflict);
        let missing = by_version.delete_over_version(
            &RecordKey::parse("acme/profile/p8").unwrap(),
            Expectation::Any,
            |_| Ok(None),
        );
        assert_eq!(missing.unwrap_err().kind(), crate::ErrorKind::NotFound);
        let absent = by_version
            .delete_over_version(&other, Expectation::Absent, |_| unreachable!("not read"));
        assert_eq!(absent.unwrap_err().kind(), crate::ErrorKind::Invalid);
        assert_eq!(by_record, by_version, "refused writes left nothing");
    }

    #[test]
    fn a_refused_later_write_keeps_the_earlier_one() {
        let mut buffer = WriteBuffer::new();
        buffer
            .save(write(&key()), Expectation::Absent, committed_at(None))
            .unwrap();
        let before = buffer.clone();
        let err = buffer
            .save(write(&key()), Expectation::Absent, |_| {
                unreachable!("read once")
            })
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        assert_eq!(buffer, before);
    }
}
