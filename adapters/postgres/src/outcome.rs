//! A commit's outcome when its connection broke after COMMIT was sent: the transaction's id,
//! learnt inside the transaction before COMMIT, looked up with `txid_status` on another
//! connection; and [`CommitResolutions`], the count of commits settled that way. See
//! `docs/adapters/postgres-in-doubt.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use user_engine::StoreError;

use crate::error::{map, reason};
use crate::pool::Connection;
use crate::store::PostgresUserEngineStore;

/// Assigns the transaction its id and returns it (64 bits, epoch included, as `txid_status`
/// takes it). `txid_current` rather than `pg_current_xact_id` (PostgreSQL 13 on), so that every
/// server from 10 on is served the same way; both are in current releases.
pub(crate) const CURRENT_XID: &str = "SELECT txid_current()";

/// The transaction's status, and whether a snapshot taken now sees it ended: a committing
/// backend marks the commit log a moment before it leaves the running set, and a caller told
/// "committed" must be able to read what it wrote.
const STATUS: &str =
    "SELECT txid_status($1), txid_visible_in_snapshot($1, txid_current_snapshot())";

/// The pauses before asking again while the server says "in progress" (the broken session's
/// backend has not finished ending the transaction yet) or cannot be asked: under two seconds
/// in all. A backend that was terminated ends its transaction within milliseconds.
const PAUSES_MS: [u64; 8] = [5, 10, 25, 50, 100, 200, 400, 800];

/// How the commits whose connection broke after COMMIT was sent were settled, since the store
/// was opened ([`PostgresUserEngineStore::commit_resolutions`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitResolutions {
    /// Found committed, and reported as a success.
    pub committed: u64,
    /// Found rolled back, and reported as `unavailable`: they changed nothing.
    pub rolled_back: u64,
    /// Not found out, and reported as `in_doubt`; also every single-statement save whose
    /// connection broke once it was sent (its transaction id is never learnt in time).
    pub in_doubt: u64,
}

/// The counters behind [`CommitResolutions`].
#[derive(Debug, Default)]
pub(crate) struct ResolutionCounts {
    committed: AtomicU64,
    rolled_back: AtomicU64,
    in_doubt: AtomicU64,
}

impl ResolutionCounts {
    /// Back to zero (test support: a store handed to another test).
    pub(crate) fn reset(&self) {
        for count in [&self.committed, &self.rolled_back, &self.in_doubt] {
            count.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> CommitResolutions {
        CommitResolutions {
            committed: self.committed.load(Ordering::Relaxed),
            rolled_back: self.rolled_back.load(Ordering::Relaxed),
            in_doubt: self.in_doubt.load(Ordering::Relaxed),
        }
    }

    /// Counts one settled commit by what it is reported as.
    pub(crate) fn note(&self, reported: &Result<(), StoreError>) {
        let counter = match reported {
            Ok(()) => &self.committed,
            Err(StoreError::InDoubt { .. }) => &self.in_doubt,
            Err(_) => &self.rolled_back,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the server says about a transaction.
enum Answer {
    Committed {
        visible: bool,
    },
    Aborted,
    InProgress,
    /// `NULL`: too old for the commit log the server keeps.
    Forgotten,
}

/// The outcome of transaction `xid`, whose connection broke (`broke`, already mapped) after
/// COMMIT was sent: `Ok` if it committed, `unavailable` if it rolled back, `in_doubt` if the
/// server could not say in time. Counted in the store's [`CommitResolutions`].
pub(crate) fn resolve(
    store: &PostgresUserEngineStore,
    xid: i64,
    broke: StoreError,
) -> Result<(), StoreError> {
    let reported = settle(store, xid, &reason(broke));
    store.resolutions().note(&reported);
    reported
}

fn settle(store: &PostgresUserEngineStore, xid: i64, broke: &str) -> Result<(), StoreError> {
    let started = Instant::now();
    let mut pauses = PAUSES_MS.iter();
    loop {
        let answer = ask(store, xid);
        match &answer {
            Ok(Answer::Committed { visible: true }) => return Ok(()),
            Ok(Answer::Aborted) => {
                return Err(StoreError::unavailable(format!(
                    "{broke}; postgresql reports transaction {xid} rolled back, so the commit had no effect"
                )));
            }
            Ok(Answer::Forgotten) => {
                return Err(StoreError::in_doubt(format!(
                    "{broke}, and postgresql no longer knows transaction {xid}"
                )));
            }
            Ok(Answer::Committed { visible: false } | Answer::InProgress) | Err(_) => {}
        }
        if let Some(&pause) = pauses.next() {
            std::thread::sleep(Duration::from_millis(pause));
            continue;
        }
        let waited = started.elapsed().as_secs_f64();
        return match answer {
            // Committed; a snapshot will see it in a moment.
            Ok(Answer::Committed { .. }) => Ok(()),
            Err(err) => Err(StoreError::in_doubt(format!(
                "{broke}, and the status of transaction {xid} could not be learnt within {waited:.1}s: {}",
                reason(err)
            ))),
            _ => Err(StoreError::in_doubt(format!(
                "{broke}, and postgresql still reported transaction {xid} in progress after {waited:.1}s"
            ))),
        };
    }
}

/// Whether transaction `xid`, whose COMMIT the server answered with an ERROR on a session that
/// lives on, committed all the same: an error raised by the clean-up after the commit record is
/// "too late to abort" in PostgreSQL's words. Asked once, on that session; a lookup that fails
/// leaves the server's own answer standing.
pub(crate) fn committed_despite_error(conn: &mut Connection, xid: i64) -> bool {
    matches!(status_on(conn, xid), Ok(Answer::Committed { .. }))
}

/// Asks the server, on a pooled connection (a broken one is dropped, so asking again connects
/// anew).
fn ask(store: &PostgresUserEngineStore, xid: i64) -> Result<Answer, StoreError> {
    status_on(&mut *store.connection()?, xid)
}

fn status_on(conn: &mut Connection, xid: i64) -> Result<Answer, StoreError> {
    let what = "looking up the outcome of a commit";
    let rows = conn.query(STATUS, &[&xid]).map_err(|e| map(what, &e))?;
    let row = rows.first().ok_or_else(|| {
        StoreError::unavailable("postgresql answered a status lookup with no row")
    })?;
    let status: Option<String> = row.try_get(0).map_err(|e| map(what, &e))?;
    let visible: bool = row.try_get(1).map_err(|e| map(what, &e))?;
    Ok(match status.as_deref() {
        Some("committed") => Answer::Committed { visible },
        Some("aborted") => Answer::Aborted,
        Some("in progress") => Answer::InProgress,
        _ => Answer::Forgotten,
    })
}
