//! A second transaction design for the gallery: a store whose transactions lock each record they
//! write, so a second writer waits for the first (the way a SQL store with `SELECT … FOR UPDATE`
//! behaves), instead of the reference's optimistic check at commit.
//!
//! [`LockingStore`] keeps its data in a reference store and lends each transaction one of the
//! reference's own transactions for the writes (so versions, reads-own-writes and the atomic
//! commit are the reference's), adding only the locks and the guard checks made under them. The
//! fault-free [`LockingStore<Correct>`] passes every scenario its capabilities select; each
//! [`Mutation`] gets one locking rule wrong. They prove that the concurrency scenarios hold a store
//! of this design to the contract too, and catch its typical mistakes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use user_engine::conformance::ScenarioOutcome;
use user_engine::conformance::spec::Spec;
use user_engine::{
    AuditEntry, AuditRecord, ConformanceHooks, Diagnostics, EventId, Expectation,
    InMemoryUserEngineStore, MigrationReport, OutboxEvent, OutboxMessage, Page, Readiness, Record,
    RecordKey, RecordWrite, StoreError, StoreTransaction, TenantId, TenantQuery, UserEngineStore,
    UserId,
};

/// What a locking store claims: no `commit_time_conflicts` (its writers wait), and the hooks the
/// reference inside it answers.
pub(crate) const LOCKING_CAPABILITIES: &[&str] =
    &["migration_tamper", "fault_injection", "stepwise_migration"];

/// How long a writer waits for a record's lock before giving up with `conflict` (a deadlock).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// One way of getting row locking wrong. The defaults are the correct rules.
pub(crate) trait Mutation: Default + Send + Sync + 'static {
    /// The `docs/store-contract.md` anchor this mutation breaks.
    const BREAKS: &'static str;
    /// Whether a writer takes the record's lock before writing it.
    const LOCKS: bool = true;
    /// Whether a guard is checked once the lock is held (after any wait), rather than before.
    const CHECKS_AFTER_WAITING: bool = true;
    /// Whether a delete asks whether the record exists before it checks the guard (C3:
    /// `not_found` wins over `conflict`).
    const PRESENCE_BEFORE_GUARD: bool = true;
}

/// The correct locking rules: the fault-free base the mutations are compared with.
#[derive(Default)]
pub(crate) struct Correct;

impl Mutation for Correct {
    const BREAKS: &'static str = "isolation-anomalies";
}

/// Breaks `store-contract#isolation-anomalies`: writers never take the lock, and nothing checks
/// guards at commit either, so two writers guarded on one version both commit (a lost update).
#[derive(Default)]
pub(crate) struct LockingWriterSkipsTheLock;

impl Mutation for LockingWriterSkipsTheLock {
    const BREAKS: &'static str = "isolation-anomalies";
    const LOCKS: bool = false;
}

/// Breaks `store-contract#isolation-anomalies`: the guard is checked before waiting for the lock,
/// so a writer that waited writes over what the lock holder committed meanwhile.
#[derive(Default)]
pub(crate) struct LockingGuardCheckedBeforeWaiting;

impl Mutation for LockingGuardCheckedBeforeWaiting {
    const BREAKS: &'static str = "isolation-anomalies";
    const CHECKS_AFTER_WAITING: bool = false;
}

/// Breaks `store-contract#records-expectation`: a guarded delete of a missing record checks the
/// guard first and answers `conflict`, where C3 says `not_found` wins.
#[derive(Default)]
pub(crate) struct LockingGuardBeforePresence;

impl Mutation for LockingGuardBeforePresence {
    const BREAKS: &'static str = "records-expectation";
    const PRESENCE_BEFORE_GUARD: bool = false;
}

/// Runs the spec against a locking store with mutation `M`.
pub(crate) fn run_locking<M: Mutation>(
    spec: &Spec,
    capabilities: &'static [&'static str],
) -> Vec<ScenarioOutcome> {
    super::run_gallery_spec(
        spec,
        &LockingStore::<M>::new,
        capabilities,
        super::Races::Skip,
    )
}

/// A store whose writers lock records; see the module docs.
pub(crate) struct LockingStore<M: Mutation> {
    data: InMemoryUserEngineStore,
    /// Which transaction holds each locked record.
    locks: Mutex<BTreeMap<RecordKey, u64>>,
    released: Condvar,
    next_transaction: AtomicU64,
    _mutation: M,
}

impl<M: Mutation> LockingStore<M> {
    pub(crate) fn new() -> Self {
        Self {
            data: InMemoryUserEngineStore::new(),
            locks: Mutex::new(BTreeMap::new()),
            released: Condvar::new(),
            next_transaction: AtomicU64::new(1),
            _mutation: M::default(),
        }
    }

    /// Waits until `key` is free or held by `owner`, then holds it for `owner`.
    fn lock(&self, owner: u64, key: &RecordKey) -> Result<(), StoreError> {
        let deadline = Instant::now() + LOCK_WAIT;
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match locks.get(key) {
                None => {
                    locks.insert(key.clone(), owner);
                    return Ok(());
                }
                Some(holder) if *holder == owner => return Ok(()),
                Some(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Conflict {
                            key: key.clone(),
                            expected: Expectation::Any,
                            actual: None,
                        });
                    }
                    locks = self
                        .released
                        .wait_timeout(locks, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    fn release(&self, owner: u64) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.retain(|_, holder| *holder != owner);
        self.released.notify_all();
    }
}

impl<M: Mutation> fmt::Debug for LockingStore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockingStore").field(&self.data).finish()
    }
}

/// An open transaction: the reference's own, plus the locks it holds.
struct LockingTx<'a, M: Mutation> {
    store: &'a LockingStore<M>,
    id: u64,
    writes: Option<Box<dyn StoreTransaction + 'a>>,
    held: BTreeSet<RecordKey>,
}

impl<M: Mutation> LockingTx<'_, M> {
    fn writes(&mut self) -> &mut dyn StoreTransaction {
        self.writes
            .as_deref_mut()
            .expect("a finished transaction is not used again")
    }

    /// Locks `key` (per the mutation) and checks `expect` against what the transaction sees.
    fn guard(&mut self, key: &RecordKey, expect: Expectation) -> Result<Option<u64>, StoreError> {
        let check = |sees: Option<u64>| {
            if expect.admits(sees) {
                Ok(sees)
            } else {
                Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: expect,
                    actual: sees,
                })
            }
        };
        if !M::CHECKS_AFTER_WAITING {
            let sees = self.writes().get(key)?.map(|r| r.version);
            check(sees)?;
        }
        if M::LOCKS {
            self.store.lock(self.id, key)?;
            self.held.insert(key.clone());
        }
        let sees = self.writes().get(key)?.map(|r| r.version);
        if M::CHECKS_AFTER_WAITING {
            check(sees)
        } else {
            Ok(sees)
        }
    }
}

impl<M: Mutation> Drop for LockingTx<'_, M> {
    fn drop(&mut self) {
        // Rolls the writes back (the reference's drop) before anyone else may take the locks.
        self.writes = None;
        self.store.release(self.id);
    }
}

impl<M: Mutation> StoreTransaction for LockingTx<'_, M> {
    fn get(&mut self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.writes().get(key)
    }

    fn save(&mut self, write: RecordWrite, expect: Expectation) -> Result<Record, StoreError> {
        self.guard(&write.key, expect)?;
        self.writes().save(write, Expectation::Any)
    }

    fn delete(&mut self, key: &RecordKey, expect: Expectation) -> Result<(), StoreError> {
        if expect == Expectation::Absent {
            return Err(StoreError::invalid(format!(
                "delete of {key} cannot expect the record to be absent"
            )));
        }
        // C3: a missing record is `not_found` whatever the guard says (not_found wins over
        // conflict), so the record's presence is checked before the guard.
        if M::PRESENCE_BEFORE_GUARD && self.guard(key, Expectation::Any)?.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        if self.guard(key, expect)?.is_none() {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        self.writes().delete(key, Expectation::Any)
    }

    fn append_audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.writes().append_audit(entry)
    }

    fn enqueue(&mut self, message: OutboxMessage) -> Result<(), StoreError> {
        self.writes().enqueue(message)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let writes = self.writes.take().expect("committed once");
        // The locks are released (by drop) only after the commit is visible.
        writes.commit()
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<M: Mutation> UserEngineStore for LockingStore<M> {
    fn begin(&self) -> Result<Box<dyn StoreTransaction + '_>, StoreError> {
        let writes = self.data.begin()?;
        Ok(Box::new(LockingTx {
            store: self,
            id: self.next_transaction.fetch_add(1, Ordering::Relaxed),
            writes: Some(writes),
            held: BTreeSet::new(),
        }))
    }

    fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.data.get(key)
    }

    fn list_tenant(&self, query: &TenantQuery) -> Result<Page, StoreError> {
        self.data.list_tenant(query)
    }

    fn list_user(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Record>, StoreError> {
        self.data.list_user(tenant, user)
    }

    fn list_audit(&self, tenant: &TenantId) -> Result<Vec<AuditRecord>, StoreError> {
        self.data.list_audit(tenant)
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.data.outbox_pending(limit)
    }

    fn acknowledge(&self, ids: &[EventId]) -> Result<usize, StoreError> {
        self.data.acknowledge(ids)
    }

    fn migrate(&self) -> Result<MigrationReport, StoreError> {
        self.data.migrate()
    }

    fn readiness(&self) -> Readiness {
        self.data.readiness()
    }

    fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        self.data.diagnostics()
    }

    fn conformance_hooks(&self) -> Option<&dyn ConformanceHooks> {
        self.data.conformance_hooks()
    }
}
