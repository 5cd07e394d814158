//! Two relays acknowledging the same events at once: for an adapter's own tests (a scenario's
//! sessions take turns, so they cannot make two acknowledgements wait on each other's locks).

use crate::{EventId, UserEngineStore};

use super::{message, pending};

/// Events enqueued per round of [`racing_relays_count_each_event_once`].
pub const RELAY_EVENTS: usize = 200;

/// Five rounds: [`RELAY_EVENTS`] events committed at once, then two threads acknowledge all of
/// them in one call each — one listing them in order, the other in reverse. The counts the two
/// calls return add up to the events (`acknowledge` returns how many of the listed events were
/// pending; each event was pending for one of the two calls, the one that marked it) and nothing
/// is left pending. A store that counts what it read as pending before waiting for the other's
/// locks fails once the two overlap; one that deadlocks on the reversed order fails with the
/// error.
///
/// # Panics
/// When the counts or the pending events say otherwise, or a call fails. `store` must be migrated
/// and hold no pending event.
pub fn racing_relays_count_each_event_once<S: UserEngineStore + Sync>(store: &S) {
    for round in 0..5 {
        let mut tx = store.begin().unwrap();
        for i in 0..RELAY_EVENTS {
            tx.enqueue(message("acme", "t", &format!("{round}-{i}")))
                .unwrap();
        }
        tx.commit().unwrap();
        let ids: Vec<EventId> = store
            .outbox_pending(usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            ids.len(),
            RELAY_EVENTS,
            "round {round}: the events are pending"
        );
        let counted: usize = std::thread::scope(|s| {
            let relays: Vec<_> = [ids.clone(), ids.iter().rev().copied().collect()]
                .into_iter()
                .map(|listed| s.spawn(move || store.acknowledge(&listed).unwrap()))
                .collect();
            relays.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(
            counted, RELAY_EVENTS,
            "round {round}: every event counted once"
        );
        assert!(
            pending(store).is_empty(),
            "round {round}: nothing left pending"
        );
    }
}
