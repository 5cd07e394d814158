//! The outbox on PostgreSQL: a transaction that commits late is never skipped, and event ids
//! grow in commit order even under concurrent commits, so even a high-water-mark relay is safe.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use user_engine::{EventId, UserEngineStore};
use user_engine_postgres::testing::IsolatedSchema;

use user_engine::conformance::checks::{message, pending, racing_relays_count_each_event_once};

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn a_late_committing_transaction_is_delivered_not_skipped() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    let mut a = db.begin().unwrap();
    a.enqueue(message("acme", "t", "from-a")).unwrap();
    let mut b = db.begin().unwrap();
    b.enqueue(message("acme", "t", "from-b")).unwrap();
    b.commit().unwrap();

    // The relay reads and acknowledges what it sees: B only.
    let first = db.outbox_pending(100).unwrap();
    assert_eq!(
        first.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["acme/t/from-b"]
    );
    assert_eq!(db.acknowledge(&[first[0].id]).unwrap(), 1);

    // A, begun first, commits last: the relay's next read still delivers it.
    a.commit().unwrap();
    let second = db.outbox_pending(100).unwrap();
    assert_eq!(
        second.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["acme/t/from-a"]
    );
    assert!(
        second[0].id > first[0].id,
        "ids follow commit order, so a high-water mark would not skip A"
    );
    db.acknowledge(&[second[0].id]).unwrap();
    assert!(pending(&db).is_empty());

    let mut client = db.raw_client().unwrap();
    let seqs: Vec<(String, i64)> = client
        .query(
            "SELECT event_key, commit_seq FROM user_engine_outbox_events ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(seqs.len(), 2);
    assert!(seqs[0].0 == "from-b" && seqs[0].1 < seqs[1].1, "{seqs:?}");
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn under_concurrent_commits_no_event_ever_appears_behind_one_already_seen() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    const WRITERS: usize = 4;
    const COMMITS: usize = 25;
    let done = AtomicBool::new(false);
    let mut seen: BTreeSet<EventId> = BTreeSet::new();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let db = &db;
                s.spawn(move || {
                    for i in 0..COMMITS {
                        let mut tx = db.begin().unwrap();
                        tx.enqueue(message("acme", "t", &format!("{w}-{i}-a")))
                            .unwrap();
                        tx.enqueue(message("acme", "t", &format!("{w}-{i}-b")))
                            .unwrap();
                        tx.commit().unwrap();
                    }
                })
            })
            .collect();
        s.spawn(|| {
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        // The relay: a read never reveals an event older than the newest it has already seen,
        // i.e. a transaction never becomes visible behind one that committed after it.
        loop {
            let finished = done.load(Ordering::SeqCst);
            let events = db.outbox_pending(usize::MAX).unwrap();
            let high_water = seen.last().copied();
            for event in &events {
                if seen.insert(event.id) {
                    assert!(
                        high_water.is_none_or(|h| event.id > h),
                        "{} appeared behind {high_water:?}",
                        event.id
                    );
                }
            }
            let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "pending events come in order"
            );
            if finished {
                break;
            }
        }
    });
    assert_eq!(seen.len(), WRITERS * COMMITS * 2, "every event delivered");
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn two_relays_acknowledging_the_same_events_at_once_count_each_event_once() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    db.migrate().unwrap();
    racing_relays_count_each_event_once(&*db);
}
