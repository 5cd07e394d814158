//! Backends terminated while writers commit: a commit reported failed left nothing, one reported
//! committed is whole, and one reported `in_doubt` is whole or absent — never partial. Only this
//! test's own sessions are terminated, found by their `application_name` (the schema's name).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use user_engine::{AuditEntry, ErrorKind, Expectation, StoreError, UserEngineStore};
use user_engine_postgres::testing::{self, IsolatedSchema};

use user_engine::conformance::checks::{key, message, tenant, write};

/// Writer threads, and how long they write (each also stops after `MAX_PER_WRITER`).
const WRITERS: usize = 4;
const RUN_FOR: Duration = Duration::from_secs(12);
const MAX_PER_WRITER: usize = 20_000;
/// Records of a multi-record transaction; every fourth transaction is one save instead (the
/// single-statement path).
const RECORDS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reported {
    Committed,
    Failed,
    InDoubt,
}

/// One transaction a writer ran: `tag` names each of its rows.
struct Attempt {
    tag: String,
    single: bool,
    reported: Reported,
    error: Option<StoreError>,
}

fn record_id(tag: &str, r: usize) -> String {
    format!("{tag}r{r}")
}

/// Commits the transaction tagged `tag`: three records (the first guarded), an audit entry and
/// an event — or, when `single`, one unguarded save.
fn commit(db: &IsolatedSchema, tag: &str, single: bool) -> Result<(), StoreError> {
    let mut tx = db.begin()?;
    if single {
        tx.save(
            write(&format!("acme/user/{}", record_id(tag, 0)), None, json!({})),
            Expectation::Any,
        )?;
        return tx.commit();
    }
    for r in 0..RECORDS {
        let expect = if r == 0 {
            Expectation::Absent
        } else {
            Expectation::Any
        };
        tx.save(
            write(
                &format!("acme/user/{}", record_id(tag, r)),
                None,
                json!({"r": r}),
            ),
            expect,
        )?;
    }
    tx.append_audit(AuditEntry {
        tenant: tenant("acme"),
        actor: None,
        action: tag.to_owned(),
        target: Some(key(&format!("acme/user/{}", record_id(tag, 0)))),
    })?;
    tx.enqueue(message("acme", "killed", tag))?;
    tx.commit()
}

fn writer(db: &IsolatedSchema, t: usize, deadline: Instant) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for i in 0..MAX_PER_WRITER {
        if Instant::now() >= deadline {
            break;
        }
        let tag = format!("w{t}n{i}");
        let single = i % 4 == 3;
        let outcome = commit(db, &tag, single);
        let reported = match &outcome {
            Ok(()) => Reported::Committed,
            Err(err) if err.kind() == ErrorKind::InDoubt => Reported::InDoubt,
            Err(_) => Reported::Failed,
        };
        attempts.push(Attempt {
            tag,
            single,
            reported,
            error: outcome.err(),
        });
    }
    attempts
}

/// Which of this store's sessions a round terminates: all of them, the ones running COMMIT, or
/// the ones between two statements of a transaction (often just before its COMMIT).
const VICTIMS: [&str; 3] = [
    "true",
    "state = 'active' AND query = 'COMMIT'",
    "state = 'idle in transaction'",
];

/// Terminates this store's sessions (never another's, never its own) until `stop`; returns how
/// many backends it terminated.
fn killer(url: &str, application_name: &str, stop: &AtomicBool) -> u64 {
    let mut config: postgres::Config = url.parse().unwrap();
    config.application_name(&format!("{application_name}-killer"));
    let mut client = config.connect(postgres::NoTls).unwrap();
    let kills: Vec<postgres::Statement> = VICTIMS
        .iter()
        .map(|victims| {
            client
                .prepare(&format!(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                     WHERE application_name = $1 AND pid <> pg_backend_pid() AND {victims}"
                ))
                .unwrap()
        })
        .collect();
    let mut killed = 0;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        // Every sort of round often, the ones aimed at a commit mostly.
        let which = if round.is_multiple_of(5) {
            0
        } else {
            1 + round % 2
        };
        let kill = &kills[which];
        let n: i64 = client.query_one(kill, &[&application_name]).unwrap().get(0);
        killed += u64::try_from(n).unwrap();
        let pause = if n > 0 { 4 + round % 9 * 3 } else { 1 };
        std::thread::sleep(Duration::from_millis(pause as u64));
    }
    killed
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn commits_whose_backends_are_killed_are_whole_or_absent_as_reported() {
    let Some(db) = IsolatedSchema::from_env() else {
        return;
    };
    let url = testing::url_from_env().unwrap();
    db.migrate().unwrap();
    let before = db.commit_resolutions();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + RUN_FOR;
    let (attempts, kills) = std::thread::scope(|s| {
        let killing = s.spawn(|| killer(&url, db.name(), &stop));
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let db = &db;
                s.spawn(move || writer(db, t, deadline))
            })
            .collect();
        let attempts: Vec<Attempt> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        stop.store(true, Ordering::Relaxed);
        (attempts, killing.join().unwrap())
    });
    let settled = db.commit_resolutions();

    // What is there, read on a fresh session once nothing is killed any more.
    let mut check = db.raw_client().unwrap();
    let column = |client: &mut postgres::Client, sql: &str| -> std::collections::BTreeSet<String> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let records = column(
        &mut check,
        "SELECT record_id FROM user_engine_records WHERE NOT deleted",
    );
    let audit = column(&mut check, "SELECT action FROM user_engine_audit_records");
    let events = column(
        &mut check,
        "SELECT event_key FROM user_engine_outbox_events",
    );

    let mut wrong = Vec::new();
    let (mut in_doubt_whole, mut in_doubt_absent) = (0, 0);
    for attempt in &attempts {
        let tag = &attempt.tag;
        let mut parts = vec![records.contains(&record_id(tag, 0))];
        if !attempt.single {
            parts.extend((1..RECORDS).map(|r| records.contains(&record_id(tag, r))));
            parts.push(audit.contains(tag));
            parts.push(events.contains(tag));
        }
        let whole = parts.iter().all(|&p| p);
        let absent = parts.iter().all(|&p| !p);
        let right = match attempt.reported {
            Reported::Committed => whole,
            Reported::Failed => {
                absent
                    && matches!(
                        attempt.error.as_ref().map(StoreError::kind),
                        Some(ErrorKind::Unavailable | ErrorKind::Conflict)
                    )
            }
            Reported::InDoubt => {
                in_doubt_whole += usize::from(whole);
                in_doubt_absent += usize::from(absent);
                whole || absent
            }
        };
        if !right {
            wrong.push(format!(
                "{tag} reported {:?} ({}) but {} of its {} rows are there",
                attempt.reported,
                attempt
                    .error
                    .as_ref()
                    .map_or_else(|| "ok".to_owned(), ToString::to_string),
                parts.iter().filter(|&&p| p).count(),
                parts.len()
            ));
        }
    }
    let count = |reported| attempts.iter().filter(|a| a.reported == reported).count();
    let resolved_committed = settled.committed - before.committed;
    let resolved_rolled_back = settled.rolled_back - before.rolled_back;
    println!(
        "kill test: {} transactions ({} single-save), {kills} backends killed; committed {}, failed {}, in_doubt {} ({} single-save; {in_doubt_whole} whole, {in_doubt_absent} absent); resolved after a break {} ({resolved_committed} committed, {resolved_rolled_back} rolled back); wrong {}",
        attempts.len(),
        attempts.iter().filter(|a| a.single).count(),
        count(Reported::Committed),
        count(Reported::Failed),
        count(Reported::InDoubt),
        attempts
            .iter()
            .filter(|a| a.single && a.reported == Reported::InDoubt)
            .count(),
        resolved_committed + resolved_rolled_back,
        wrong.len(),
    );
    for line in wrong.iter().take(10) {
        println!("  wrong: {line}");
    }
    assert_eq!(
        wrong.len(),
        0,
        "commits whose reported outcome is not what is stored"
    );
    assert!(
        kills >= 5,
        "only {kills} backends were terminated: the test proved nothing"
    );
    assert!(
        count(Reported::Committed) > 0,
        "no commit succeeded under the kills"
    );
    // Rounds aimed at COMMIT and at the moment just before it break dozens of commits in flight
    // in a run; none would mean the resolution was never exercised.
    assert!(
        resolved_committed + resolved_rolled_back > 0,
        "no commit was resolved after its connection broke"
    );
}
