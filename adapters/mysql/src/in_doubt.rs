//! Resolving a commit whose answer was lost (store-contract C34): COMMIT was sent, the connection
//! broke, and the transaction may or may not have committed.
//!
//! MySQL cannot be asked about a transaction after the fact (there is no `txid_status`), so the
//! adapter looks for what the transaction left: a transaction that appended audit entries or
//! outbox events inserted rows whose AUTO_INCREMENT numbers it knows. InnoDB never hands a number
//! out twice (its counter survives rollbacks and, since MySQL 8 and MariaDB 10.2.4, restarts), so
//! the row exists exactly when the transaction committed. The answer is final only once the lost
//! session has ended on the server (until then the server may still commit or roll it back), so
//! the adapter first waits, a bounded time, for the session to leave the process list. A
//! transaction of records alone leaves nothing to tell its rows from a later writer's: that one
//! stays `in_doubt`, as does any commit the server cannot be asked about in time.

use std::thread;
use std::time::{Duration, Instant};

use user_engine::StoreError;

use crate::pool::Connection;
use crate::rows::column;
use crate::store::MysqlUserEngineStore;

/// How long a lost session may take to end before the outcome is given up as unknown.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// How often the process list is asked again while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A row that exists once a transaction committed, and never otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// The transaction's first audit entry (`user_engine_audit_records.sequence`).
    Audit(u64),
    /// The transaction's first outbox event (`user_engine_outbox_events.id`).
    Event(u64),
}

impl Marker {
    fn lookup(self) -> (&'static str, u64) {
        match self {
            Marker::Audit(sequence) => (
                "SELECT COUNT(*) FROM user_engine_audit_records WHERE sequence = ?",
                sequence,
            ),
            Marker::Event(id) => (
                "SELECT COUNT(*) FROM user_engine_outbox_events WHERE id = ?",
                id,
            ),
        }
    }
}

/// The outcome of a commit whose answer was lost on session `session`: `Ok` if it committed,
/// `unavailable` if it certainly did not, `in_doubt` if that cannot be told (within `patience`).
pub(crate) fn resolve(
    store: &MysqlUserEngineStore,
    session: u32,
    marker: Option<Marker>,
    patience: Duration,
) -> Result<(), StoreError> {
    let unknown = |why: &str| {
        StoreError::in_doubt(format!(
            "the connection to mysql was lost while committing, and {why}"
        ))
    };
    let Some(marker) = marker else {
        return Err(unknown(
            "a transaction of records alone leaves no row to look its outcome up by",
        ));
    };
    // A session of its own: the pooled ones may be as broken as the one just lost.
    let Ok(mut conn) = store.pool().open() else {
        return Err(unknown("the server could not be reached to find out"));
    };
    match wait_until_ended(&mut conn, session, patience) {
        Ok(true) => {}
        Ok(false) => return Err(unknown("its session is still running on the server")),
        Err(_) => return Err(unknown("the server could not be asked about it")),
    }
    let (sql, id) = marker.lookup();
    let found = conn
        .rows(sql, (id,))
        .map_err(|_| unknown("its rows could not be looked up"))?
        .into_iter()
        .next()
        .map(|mut row| column::<u64>(&mut row, 0, "looking up a commit"))
        .transpose()
        .map_err(|_| unknown("its rows could not be looked up"))?;
    match found {
        Some(1) => Ok(()),
        Some(0) => Err(StoreError::unavailable(
            "the connection to mysql was lost while committing; the commit did not take effect",
        )),
        _ => Err(unknown("its rows could not be looked up")),
    }
}

/// Waits until `session` is no longer in the server's process list (a session always sees its
/// own user's sessions there); `false` if it is still there after `patience`.
fn wait_until_ended(
    conn: &mut Connection,
    session: u32,
    patience: Duration,
) -> Result<bool, mysql::Error> {
    let deadline = Instant::now() + patience;
    loop {
        let rows = conn.rows(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE id = ?",
            (session,),
        )?;
        let running = rows
            .into_iter()
            .next()
            .and_then(|mut row| column::<u64>(&mut row, 0, "asking about a session").ok())
            .unwrap_or(1);
        if running == 0 {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use user_engine::testing::FaultCountdown;
    use user_engine::{ErrorKind, OutboxMessage, Payload, TenantId, UserEngineStore};

    use super::*;
    use crate::commit::append;
    use crate::testing::IsolatedDatabase;
    use crate::transaction::MysqlTransaction;

    fn migrated() -> IsolatedDatabase {
        let db = IsolatedDatabase::from_env()
            .expect("a test database")
            .expect("USER_ENGINE_MYSQL_URL is set (the test was built with it)");
        db.migrate().unwrap();
        db
    }

    /// A transaction with one event appended under the commit-order lock, not yet committed.
    fn appended(db: &IsolatedDatabase) -> (MysqlTransaction<'_>, Marker) {
        let mut tx = MysqlTransaction::begin(db.store()).unwrap();
        tx.outbox.push(OutboxMessage {
            tenant: TenantId::new("acme").unwrap(),
            topic: "t".to_owned(),
            key: "k".to_owned(),
            payload: Payload::new(json!({})),
        });
        let marker = append(&mut tx, &mut FaultCountdown::none()).unwrap();
        (tx, marker.expect("an event leaves a marker"))
    }

    fn kill(db: &IsolatedDatabase, session: u32) {
        let mut other = db.store().pool().get().unwrap();
        other.batch(&format!("KILL CONNECTION {session}")).unwrap();
    }

    #[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
    #[test]
    fn a_lost_commit_that_took_effect_is_reported_as_committed() {
        let db = migrated();
        let (mut tx, marker) = appended(&db);
        let session = tx.conn.id();
        tx.conn.commit().unwrap();
        // As if the answer to COMMIT had been lost with the session.
        kill(&db, session);
        tx.conn.discard();
        assert_eq!(resolve(db.store(), session, Some(marker), PATIENCE), Ok(()));
        assert_eq!(db.outbox_pending(10).unwrap().len(), 1);
    }

    #[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
    #[test]
    fn a_lost_commit_that_did_not_take_effect_is_unavailable() {
        let db = migrated();
        let (mut tx, marker) = appended(&db);
        let session = tx.conn.id();
        kill(&db, session);
        tx.conn.discard();
        tx.conn.transaction_ended_by_server();
        let err = resolve(db.store(), session, Some(marker), PATIENCE).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(db.outbox_pending(10).unwrap().is_empty());
    }

    #[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
    #[test]
    fn an_outcome_that_cannot_be_told_stays_in_doubt() {
        let db = migrated();
        let unmarked = resolve(db.store(), 1, None, PATIENCE).unwrap_err();
        assert_eq!(unmarked.kind(), ErrorKind::InDoubt, "{unmarked}");
        // A session still alive on the server: its outcome is not final yet.
        let (tx, marker) = appended(&db);
        let still_running = resolve(db.store(), tx.conn.id(), Some(marker), POLL).unwrap_err();
        assert_eq!(still_running.kind(), ErrorKind::InDoubt, "{still_running}");
        assert!(
            still_running.to_string().contains("still running"),
            "{still_running}"
        );
    }
}
