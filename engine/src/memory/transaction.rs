//! The reference store's own transactions: writes kept in the transaction's maps, checked and
//! applied in one step under the store's lock at commit.
//!
//! Deliberately plain. For each key it writes, a transaction remembers what it first saw
//! committed (`Seen`), whether any write of the key relied on that (a guard), and what it will
//! leave there. Commit, under the lock: refuse if a guarded key's live version moved (C3), then
//! write every key — counting on from the key's committed last version when it moved, so no
//! version is given twice (C2) — then audit entries, then outbox events, each numbered in commit
//! order (C18, C20). Nothing reaches the store before that, so rollback, drop and a panic (C7–C9)
//! have nothing to undo.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{InMemoryUserEngineStore, State};
use crate::error::StoreError;
use crate::ids::RecordKey;
use crate::kit::next_version;
use crate::record::{AuditEntry, AuditRecord, Expectation, OutboxMessage, Record, RecordWrite};
use crate::store::StoreTransaction;

/// What a transaction saw committed at a key when it first wrote it.
#[derive(Clone, Copy)]
struct Seen {
    live: Option<u64>,
    last: u64,
}

impl Seen {
    fn of(state: &State, key: &RecordKey) -> Self {
        Seen {
            live: state.live_version(key),
            last: state.last_version(key),
        }
    }
}

/// One key this transaction wrote.
struct Written {
    seen: Seen,
    /// The record the transaction will leave at the key; `None`: it deleted it.
    record: Option<Record>,
    /// The highest version the transaction gave the key (the seen last one if it only deleted).
    last: u64,
}

/// An open transaction of [`InMemoryUserEngineStore`].
pub(super) struct MemoryTransaction<'a> {
    store: &'a InMemoryUserEngineStore,
    written: BTreeMap<RecordKey, Written>,
    guarded: BTreeSet<RecordKey>,
    audit: Vec<AuditEntry>,
    outbox: Vec<OutboxMessage>,
}

impl<'a> MemoryTransaction<'a> {
    pub(super) fn new(store: &'a InMemoryUserEngineStore) -> Self {
        MemoryTransaction {
            store,
            written: BTreeMap::new(),
            guarded: BTreeSet::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// The live version this transaction sees at `key` and the key's last version as it sees
    /// them, and what was committed there when it first wrote it.
    fn view(&self, key: &RecordKey) -> (Option<u64>, u64, Seen) {
        match self.written.get(key) {
            Some(w) => (w.record.as_ref().map(|r| r.version), w.last, w.seen),
            None => {
                let seen = Seen::of(&self.store.lock(), key);
                (seen.live, seen.last, seen)
            }
        }
    }

    /// Keeps a write that succeeded, noting its guard.
    fn keep(&mut self, key: RecordKey, expect: Expectation, written: Written) {
        if expect != Expectation::Any {
            self.guarded.insert(key.clone());
        }
        self.written.insert(key, written);
    }
}

/// `conflict` unless `expect` holds for a record the transaction sees at `sees`.
fn admit(key: &RecordKey, expect: Expectation, sees: Option<u64>) -> Result<(), StoreError> {
    if expect.admits(sees) {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            key: key.clone(),
            expected: expect,
            actual: sees,
        })
    }
}

impl fmt::Debug for MemoryTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: the transaction holds payloads.
        f.debug_struct("MemoryTransaction")
            .field("records", &self.written.len())
            .field("audit_entries", &self.audit.len())
            .field("outbox_messages", &self.outbox.len())
            .finish()
    }
}

impl StoreTransaction for MemoryTransaction<'_> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        match self.written.get(key) {
            Some(w) => Ok(w.record.clone()),
            None => {
                let state = self.store.lock();
                state.ensure_ready()?;
                Ok(state.records.get(key).cloned())
            }
        }
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        let (sees, last, seen) = self.view(&write.key);
        admit(&write.key, expect, sees)?;
        let version = next_version(&write.key, last)?;
        let record = Record {
            key: write.key.clone(),
            user: write.user,
            payload: write.payload,
            version,
        };
        let written = Written {
            seen,
            record: Some(record.clone()),
            last: version,
        };
        self.keep(write.key, expect, written);
        Ok(record)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(StoreError::invalid(format!(
                "delete of {key} cannot expect the record to be absent"
            )));
        }
        let (sees, last, seen) = self.view(key);
        if sees.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        admit(key, expect, sees)?;
        let written = Written {
            seen,
            record: None,
            last,
        };
        self.keep(key.clone(), expect, written);
        Ok(())
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.audit.push(entry);
        Ok(())
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.outbox.push(message);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        let mut state = this.store.lock();
        state.ensure_ready()?;
        // The next commit uses up an armed fault, even one refused by a guard first.
        let fault = state.armed_fault.take();
        for key in &this.guarded {
            let seen = this.written[key].seen;
            let now = state.live_version(key);
            if now != seen.live {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: seen.live.map_or(Expectation::Absent, Expectation::Version),
                    actual: now,
                });
            }
        }
        if let Some(change) = fault {
            return Err(StoreError::unavailable(format!(
                "injected fault: the commit failed before its change {change}"
            )));
        }
        for (key, written) in this.written {
            let committed_last = state.last_version(&key);
            match written.record {
                Some(mut record) => {
                    if committed_last != written.seen.last {
                        // Someone wrote the key since: count on from there.
                        record.version =
                            committed_last.saturating_add(written.last - written.seen.last);
                    }
                    state.last_versions.insert(key.clone(), record.version);
                    state.records.insert(key, record);
                }
                None => {
                    // What the transaction numbered stays used up, even for a record it created
                    // and deleted again itself: versions never repeat (C2).
                    let last = if committed_last == written.seen.last {
                        written.last
                    } else {
                        committed_last.saturating_add(written.last - written.seen.last)
                    };
                    if last > committed_last {
                        state.last_versions.insert(key.clone(), last);
                    }
                    state.records.remove(&key);
                }
            }
        }
        for entry in this.audit {
            state.next_audit_sequence += 1;
            let sequence = state.next_audit_sequence;
            state.audit.push(AuditRecord { sequence, entry });
        }
        for message in this.outbox {
            state.next_event_id += 1;
            let id = state.next_event_id;
            state.outbox.insert(id, (message, false));
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Nothing reached the store.
        Ok(())
    }
}
