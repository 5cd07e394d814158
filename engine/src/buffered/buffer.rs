//! [`WriteBuffer`]: a transaction's writes held in memory until commit — the bookkeeping of the
//! optional buffered strategy ([`super`]).
//!
//! - **Reads own writes**: [`WriteBuffer::buffered`] answers for every key the transaction wrote.
//! - **Expectations are checked at write time**, against what the transaction sees. A write that
//!   fails leaves the buffer exactly as it was (store-contract C3: it "changes nothing", not even
//!   at commit).
//! - **Guards**: the first successful write of a key remembers the committed versions it saw
//!   ([`PendingWrite::observed`]); an `Absent` or `Version` expectation marks the key guarded, and
//!   commit refuses it with `conflict` if the live version moved since
//!   ([`PendingWrite::recheck`]). Versions never repeat for a key (C2), so an unchanged live
//!   version is an unchanged record.
//! - **Rebasing**: an unguarded write over a key that another transaction changed meanwhile
//!   counts on from the key's last committed version ([`PendingWrite::version_to_store`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::error::StoreError;
use crate::ids::RecordKey;
use crate::kit::{KeyVersions, next_version};
use crate::record::{AuditEntry, Expectation, OutboxMessage, Record, RecordWrite};

/// One key a transaction wrote: what it observed first, and what it sees now.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWrite {
    observed: KeyVersions,
    guarded: bool,
    /// The highest version the transaction has seen or given the key.
    last: u64,
    /// Whether a write has been applied: until then the key is as observed.
    written: bool,
    pub(super) current: Option<Record>,
}

impl PendingWrite {
    /// A first write that knows only the committed versions: the key is as observed until the
    /// write that follows applies (a refused first write is not kept, `WriteBuffer::touch`).
    fn observing(observed: KeyVersions) -> Self {
        PendingWrite {
            observed,
            guarded: false,
            last: observed.last,
            written: false,
            current: None,
        }
    }

    fn current_version(&self) -> Option<u64> {
        if self.written {
            self.current.as_ref().map(|r| r.version)
        } else {
            self.observed.live
        }
    }

    /// The committed live version when the transaction first wrote the key (`None`: absent).
    pub fn observed(&self) -> Option<u64> {
        self.observed.live
    }

    /// The committed versions when the transaction first wrote the key.
    pub fn observed_versions(&self) -> KeyVersions {
        self.observed
    }

    /// Whether some write relied on [`observed`](Self::observed) (an `Absent` or `Version`
    /// expectation), so commit must find the committed version unchanged.
    pub fn is_guarded(&self) -> bool {
        self.guarded
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
                .live
                .map_or(Expectation::Absent, Expectation::Version)
        } else {
            Expectation::Any
        }
    }

    /// The commit-time re-check: `conflict` if the key is guarded and the committed live version
    /// is no longer the observed one.
    pub fn recheck(&self, key: &RecordKey, committed: Option<u64>) -> Result<(), StoreError> {
        if self.guarded && committed != self.observed.live {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: self.expectation(),
                actual: committed,
            });
        }
        Ok(())
    }

    /// How many versions the transaction adds on top of the key's last observed version. A write
    /// adds this to whatever last version is committed at commit time.
    pub fn versions_added(&self) -> u64 {
        self.last - self.observed.last
    }

    /// The version to store when the key's committed versions are `committed` (`None`: the key
    /// is to be deleted). Writes over a key that moved meanwhile (possible only for unguarded
    /// writes, or for guarded ones over a key deleted and absent both times) are rebased onto its
    /// last version, so no version is ever given twice.
    pub fn version_to_store(&self, committed: KeyVersions) -> Option<u64> {
        self.current_version()?;
        Some(self.last_to_keep(committed))
    }

    /// The key's last version once this transaction commits over `committed`: the last version
    /// it gave the key, rebased like [`version_to_store`](Self::version_to_store). A key the
    /// transaction deleted keeps it in its tombstone, so a version a committed transaction gave
    /// is never given again — even one it gave a record it then deleted itself.
    pub fn last_to_keep(&self, committed: KeyVersions) -> u64 {
        if committed.last == self.observed.last {
            self.last
        } else {
            committed.last.saturating_add(self.versions_added())
        }
    }

    /// Checks `expect` against the version the transaction sees, marking the key guarded when
    /// the write relies on it.
    fn admit(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        let current = self.current_version();
        if !expect.admits(current) {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: expect,
                actual: current,
            });
        }
        self.guarded |= expect != Expectation::Any;
        Ok(())
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        self.admit(&write.key, expect)?;
        let version = next_version(&write.key, self.last)?;
        let record = Record {
            key: write.key,
            user: write.user,
            payload: write.payload,
            version,
        };
        self.last = version;
        self.written = true;
        self.current = Some(record.clone());
        Ok(record)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if self.current_version().is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        self.admit(key, expect)?;
        self.written = true;
        self.current = None;
        Ok(())
    }
}

/// Everything a transaction will write at commit: records by key, audit entries and outbox
/// messages in the order they were added.
///
/// `committed` arguments read the committed versions of a key (without a readiness check); they
/// are called on a key's first write, and again on the next one if the first was refused.
///
/// ```
/// use user_engine::buffered::WriteBuffer;
/// use user_engine::kit::KeyVersions;
/// use user_engine::{Expectation, Payload, RecordKey, RecordWrite};
///
/// let key = RecordKey::parse("acme/profile/p1")?;
/// let mut buffer = WriteBuffer::new();
/// let write = RecordWrite { key: key.clone(), user: None, payload: Payload::empty() };
/// // The key was deleted at version 3: the new record continues at 4.
/// let saved = buffer.save(write, Expectation::Absent, |_| Ok(KeyVersions::deleted(3)))?;
/// assert_eq!(saved.version, 4);
/// assert_eq!(buffer.buffered(&key), Some(Some(saved)));
/// // Commit re-reads the committed versions: another transaction created the record meanwhile.
/// let err = buffer.into_commit_plan(|_| Ok(KeyVersions::live(4))).unwrap_err();
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
    /// new version (one more than the key's last version as the transaction sees it).
    pub fn save(
        &mut self,
        write: RecordWrite,
        expect: Expectation,
        committed: impl FnOnce(&RecordKey) -> Result<KeyVersions, StoreError>,
    ) -> Result<Record, StoreError> {
        let key = write.key.clone();
        self.touch(key, committed, |pending| pending.save(write, expect))
    }

    /// Deletes a record if `expect` holds (`Absent` is `invalid` here); `not_found` if the
    /// transaction sees no record.
    pub fn delete(
        &mut self,
        key: &RecordKey,
        expect: Expectation,
        committed: impl FnOnce(&RecordKey) -> Result<KeyVersions, StoreError>,
    ) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(absent_delete(key));
        }
        self.touch(key.clone(), committed, |pending| {
            pending.delete(key, expect)
        })
    }

    /// Runs `change` on the key's pending write, keeping a first write only if it succeeded:
    /// a refused write must not leave a stale snapshot behind for commit to write back.
    fn touch<T>(
        &mut self,
        key: RecordKey,
        committed: impl FnOnce(&RecordKey) -> Result<KeyVersions, StoreError>,
        change: impl FnOnce(&mut PendingWrite) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(pending) = self.writes.get_mut(&key) {
            // A refused change leaves an existing pending write as it was.
            return change(pending);
        }
        let mut pending = PendingWrite::observing(committed(&key)?);
        let outcome = change(&mut pending)?;
        self.writes.insert(key, pending);
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
    use crate::buffered::fixtures::{committed_at, deleted_at, key, write};

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
        assert_eq!(pending.version_to_store(KeyVersions::live(2)), Some(3));
        assert_eq!(pending.version_to_store(KeyVersions::live(5)), Some(6));
        assert_eq!(pending.version_to_store(KeyVersions::deleted(5)), Some(6));
        let plan = buffer
            .into_commit_plan(|_| Ok(KeyVersions::live(5)))
            .unwrap();
        assert_eq!(plan.changes[0].record.as_ref().map(|r| r.version), Some(6));
    }

    #[test]
    fn a_delete_then_save_continues_the_version_and_guards_the_observed_one() {
        let mut buffer = WriteBuffer::new();
        buffer
            .delete(&key(), Expectation::Version(4), committed_at(Some(4)))
            .unwrap();
        assert_eq!(buffer.buffered(&key()), Some(None));
        let saved = buffer
            .save(write(&key()), Expectation::Absent, |_| {
                unreachable!("read once")
            })
            .unwrap();
        assert_eq!(saved.version, 5, "versions never repeat for a key");
        let (_, pending) = buffer.writes().next().unwrap();
        assert_eq!(pending.expectation(), Expectation::Version(4));
        assert_eq!(pending.version_to_store(KeyVersions::live(4)), Some(5));
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
    fn a_record_written_after_a_committed_delete_continues_its_versions() {
        let mut buffer = WriteBuffer::new();
        let saved = buffer
            .save(write(&key()), Expectation::Absent, deleted_at(7))
            .unwrap();
        assert_eq!(saved.version, 8);
        let refused =
            WriteBuffer::new().save(write(&key()), Expectation::Version(1), deleted_at(7));
        assert_eq!(refused.unwrap_err().kind(), crate::ErrorKind::Conflict);
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
