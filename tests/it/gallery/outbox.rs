//! Broken adapters that get the audit log and the outbox wrong: transactional writes, order,
//! acknowledgement (store-contract C17–C21).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use user_engine::{
    AuditEntry, AuditRecord, EventId, InMemoryUserEngineStore, OutboxEvent, OutboxMessage,
    StoreError, TenantId, UserEngineStore,
};

use super::base::{Broken, BrokenTx, Fault, lock, replay};

/// Breaks `store-contract#audit-transactional`: an audit entry is appended in a transaction of
/// its own and committed at once, so it survives rollback and shows before its change commits.
#[derive(Default)]
pub(crate) struct AuditOutsideTransaction;

impl Fault for AuditOutsideTransaction {
    const BREAKS: &'static str = "audit-transactional";

    fn append_audit(
        &self,
        tx: &mut BrokenTx<'_, Self>,
        entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut own = tx.store.inner.begin()?;
        own.append_audit(entry)?;
        own.commit()
    }
}

/// Breaks `store-contract#audit-order`: a tenant's audit entries are listed newest first.
#[derive(Default)]
pub(crate) struct AuditNewestFirst;

impl Fault for AuditNewestFirst {
    const BREAKS: &'static str = "audit-order";

    fn list_audit(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut entries = store.inner.list_audit(tenant)?;
        entries.reverse();
        Ok(entries)
    }
}

/// Breaks `store-contract#audit-order`: entries are ordered by a sequence kept in one byte (as a
/// `smallint`-sized column might wrap), so past the 128th entry of a tenant the listing starts
/// over among the first. No scenario writes that many entries; the racing behaviour check does.
#[derive(Default)]
pub(crate) struct AuditSequenceWrapsAt128;

impl Fault for AuditSequenceWrapsAt128 {
    const BREAKS: &'static str = "audit-order";

    fn list_audit(
        &self,
        store: &Broken<Self>,
        tenant: &TenantId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut entries = store.inner.list_audit(tenant)?;
        entries.sort_by_key(|e| e.sequence % 128);
        Ok(entries)
    }
}

/// Breaks `store-contract#outbox-transactional`: the events of a rolled-back transaction are
/// published anyway (its records and audit entries are discarded).
#[derive(Default)]
pub(crate) struct RollbackKeepsEvents;

impl Fault for RollbackKeepsEvents {
    const BREAKS: &'static str = "outbox-transactional";

    fn rollback(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        tx.take().rollback()?;
        replay(&tx.store.inner, &[], &[], &tx.log.events)
    }
}

/// Which event was enqueued when: what an adapter that numbers events at insert time (a database
/// sequence) would order by instead of commit order.
#[derive(Default)]
struct EnqueueLedger {
    state: Mutex<LedgerState>,
}

#[derive(Default)]
struct LedgerState {
    /// Events committed so far; the reference numbers them 1, 2, … in commit order.
    committed: u64,
    enqueued_at: BTreeMap<EventId, u64>,
}

impl EnqueueLedger {
    fn commit<F: Fault>(&self, tx: &mut BrokenTx<'_, F>) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        tx.take().commit()?;
        for event in &tx.log.events {
            state.committed += 1;
            let id = EventId(state.committed);
            state.enqueued_at.insert(id, event.at);
        }
        Ok(())
    }

    fn enqueued_at(&self, id: EventId) -> u64 {
        lock(&self.state)
            .enqueued_at
            .get(&id)
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// The first `limit` pending events that `keep` admits (given when each was enqueued),
    /// ordered by when they were enqueued.
    fn pending_in_enqueue_order<F: Fault>(
        &self,
        store: &Broken<F>,
        limit: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut pending = store.inner.outbox_pending(usize::MAX)?;
        pending.sort_by_key(|e| self.enqueued_at(e.id));
        pending.retain(|e| keep(self.enqueued_at(e.id)));
        pending.truncate(limit);
        Ok(pending)
    }
}

/// Breaks `store-contract#outbox-order`: pending events come in the order they were enqueued
/// across transactions, not the order those transactions committed.
#[derive(Default)]
pub(crate) struct PendingInEnqueueOrder {
    ledger: EnqueueLedger,
}

impl Fault for PendingInEnqueueOrder {
    const BREAKS: &'static str = "outbox-order";

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        self.ledger.commit(tx)
    }

    fn outbox_pending(
        &self,
        store: &Broken<Self>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.ledger.pending_in_enqueue_order(store, limit, |_| true)
    }
}

/// Breaks `store-contract#outbox-order`: the naive relay — events are numbered when enqueued and
/// the relay reads only past the highest number acknowledged so far, so an event whose transaction
/// commits late (with a lower number) is skipped for ever.
#[derive(Default)]
pub(crate) struct NaiveRelay {
    ledger: EnqueueLedger,
    high_water: Mutex<Option<u64>>,
}

impl Fault for NaiveRelay {
    const BREAKS: &'static str = "outbox-order";

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        self.ledger.commit(tx)
    }

    fn outbox_pending(
        &self,
        store: &Broken<Self>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let high_water = *lock(&self.high_water);
        self.ledger
            .pending_in_enqueue_order(store, limit, |at| high_water.is_none_or(|mark| at > mark))
    }

    fn acknowledge(&self, store: &Broken<Self>, ids: &[EventId]) -> Result<usize, StoreError> {
        let newly = store.inner.acknowledge(ids)?;
        let mut high_water = lock(&self.high_water);
        *high_water = ids
            .iter()
            .map(|id| self.ledger.enqueued_at(*id))
            .chain(*high_water)
            .max();
        Ok(newly)
    }
}

/// Breaks `store-contract#outbox-order`: the events of one transaction are published in reverse
/// enqueue order.
#[derive(Default)]
pub(crate) struct EventsReversedInTransaction;

impl Fault for EventsReversedInTransaction {
    const BREAKS: &'static str = "outbox-order";
    // Only logged; published at commit.
    const HOLDS_EVENTS_UNTIL_COMMIT: bool = true;

    fn commit(&self, tx: &mut BrokenTx<'_, Self>) -> Result<(), StoreError> {
        let reversed: Vec<OutboxMessage> = tx
            .log
            .events
            .iter()
            .rev()
            .map(|e| e.message.clone())
            .collect();
        for message in reversed {
            tx.inner().enqueue(message)?;
        }
        tx.take().commit()
    }
}

/// The ids of every event `store` holds pending.
fn pending_ids(store: &InMemoryUserEngineStore) -> Result<BTreeSet<EventId>, StoreError> {
    Ok(store
        .outbox_pending(usize::MAX)?
        .into_iter()
        .map(|e| e.id)
        .collect())
}

/// Breaks `store-contract#outbox-ack`: acknowledging reports the events as delivered but forgets
/// them, so they are delivered again.
#[derive(Default)]
pub(crate) struct AcknowledgeForgets;

impl Fault for AcknowledgeForgets {
    const BREAKS: &'static str = "outbox-ack";

    fn acknowledge(&self, store: &Broken<Self>, ids: &[EventId]) -> Result<usize, StoreError> {
        let pending = pending_ids(&store.inner)?;
        Ok(ids
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|id| pending.contains(id))
            .count())
    }
}

/// Breaks `store-contract#outbox-ack`: like a store with a signed 64-bit id column, it refuses
/// an id past that range outright; the others it marks first and checks only when it marked
/// none, so an id it never issued beside a pending event leaves that event acknowledged.
#[derive(Default)]
pub(crate) struct AcknowledgeChecksOnlyWhenNothingMarked;

impl Fault for AcknowledgeChecksOnlyWhenNothingMarked {
    const BREAKS: &'static str = "outbox-ack";

    fn acknowledge(&self, store: &Broken<Self>, ids: &[EventId]) -> Result<usize, StoreError> {
        if ids.iter().any(|id| i64::try_from(id.0).is_err()) {
            return store.inner.acknowledge(ids);
        }
        let pending = pending_ids(&store.inner)?;
        let marked: Vec<EventId> = ids
            .iter()
            .copied()
            .filter(|id| pending.contains(id))
            .collect();
        if marked.is_empty() {
            // Nothing to mark: the full check, which names an unknown id.
            return store.inner.acknowledge(ids);
        }
        store.inner.acknowledge(&marked)
    }
}

/// Breaks `store-contract#outbox-ack`: reading pending events consumes them, so an event the relay
/// read but did not acknowledge is lost.
#[derive(Default)]
pub(crate) struct PendingConsumesEvents;

impl Fault for PendingConsumesEvents {
    const BREAKS: &'static str = "outbox-ack";

    fn outbox_pending(
        &self,
        store: &Broken<Self>,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let pending = store.inner.outbox_pending(limit)?;
        store
            .inner
            .acknowledge(&pending.iter().map(|e| e.id).collect::<Vec<_>>())?;
        Ok(pending)
    }
}
