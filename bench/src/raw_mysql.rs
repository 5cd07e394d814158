//! The MySQL/MariaDB baseline: the adapter's statements written by hand with the `mysql` crate,
//! prepared once, on one connection, against the schema of `migrations/mysql/` applied verbatim in
//! a database of its own (dropped afterwards).
//!
//! It follows the adapter's design, so the ratio prices the adapter's overhead rather than a
//! different design: the same session settings (READ COMMITTED, strict mode, utf8mb4_bin, found
//! rows off); every write locks its key first (`SELECT version, deleted … FOR UPDATE`), then
//! `UPDATE`s the row or inserts it (`INSERT … ON DUPLICATE KEY UPDATE version = version`); one
//! transaction per save; audit entries and events are inserted just before `COMMIT` under the
//! commit-order row lock, which draws the `commit_seq`. It leaves out what a hand writer would
//! not do: re-reading readiness at `begin`, at commit and before every read but `get`, and
//! checking that acknowledged ids exist before marking them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, ensure};
use mysql::consts::CapabilityFlags;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Row, Statement, Value};
use serde_json::Value as Json;

use crate::workload::{
    BATCH_TENANT, BATCH_WRITES, DrainSplit, LIST_TENANT, OUTBOX_TENANT, RECORDS, RawRecord,
    RecordRow, SAVE_TENANT, Subject, batch_id, event_payload, list_record, payload, save_id,
};

/// The adapter's schema, as the adapter applies it (both files: the adapter migrates to the
/// latest version, whose records table has the tombstone column every read filters on).
pub const MIGRATIONS: [&str; 2] = [
    include_str!("../../migrations/mysql/0001_user_engine_store.sql"),
    include_str!("../../migrations/mysql/0002_versions_survive_delete.sql"),
];

/// The adapter's session setup (`adapters/mysql/src/pool.rs`).
const SESSION_SETUP: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; \
     SET SESSION innodb_lock_wait_timeout = 10, \
     SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', \
     NAMES utf8mb4 COLLATE utf8mb4_bin";

const RECORD_COLUMNS: &str = "tenant_id, kind, record_id, user_id, payload, version";

struct Statements {
    lock: Statement,
    insert: Statement,
    update: Statement,
    get: Statement,
    list: Statement,
    commit_order: Statement,
    audit: Statement,
    enqueue: Statement,
    pending: Statement,
    applied: Statement,
}

/// Recorded migrations, `(version, checksum)` in version order.
type Recorded = Vec<(u32, String)>;

/// The adapter's relay acknowledgement (`acknowledge_pending_sql` in
/// `adapters/mysql/src/store.rs`), `{listed}` standing for the ids' placeholders and `{counted}`
/// for how the listed rows are counted (`IN ({listed})`, or `BETWEEN ? AND ?` for contiguous
/// ids): one `UPDATE` guarded by that count (C21) and the recorded migrations (C27). For pricing
/// those guards in place; `copies::the_copied_statements_are_the_adapters` keeps it the
/// adapter's.
pub const CHECKED_ACKNOWLEDGE: &str =
    "UPDATE user_engine_outbox_events SET acknowledged_at = CURRENT_TIMESTAMP(6)
         WHERE id IN ({listed}) AND acknowledged_at IS NULL
           AND (SELECT found FROM (SELECT COUNT(*) AS found FROM user_engine_outbox_events
                                   WHERE id {counted}) AS listed) = ?
           AND (SELECT GROUP_CONCAT(version, ':', checksum ORDER BY version SEPARATOR ',')
                FROM user_engine_schema_versions) = ?";

/// Which of the adapter's guarded statements a checked baseline acknowledges with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Counted over `BETWEEN` the first id and the last, as the adapter does for contiguous ids.
    Range,
    /// Counted over the listed ids, as the adapter does for ids with gaps.
    Listed,
}

/// The baseline for `MysqlUserEngineStore`.
pub struct RawMysql {
    conn: Mutex<Conn>,
    statements: Statements,
    /// The migrations recorded at creation, `(version, checksum)`, as a readiness check expects
    /// to read them.
    recorded: Recorded,
    admin: Opts,
    database: String,
    /// With [`create_checked`](Self::create_checked): acknowledge with this one of the adapter's
    /// statements.
    checked_acknowledge: Option<Guard>,
}

/// The server's options from `url`, as the adapter sets them: found rows off, so affected-row
/// counts mean rows changed (the insert relies on it).
pub fn options(url: &str) -> Result<Opts> {
    let opts = Opts::from_url(url).map_err(|_| anyhow!("USER_ENGINE_MYSQL_URL is malformed"))?;
    let capabilities = opts.get_additional_capabilities() - CapabilityFlags::CLIENT_FOUND_ROWS;
    Ok(OptsBuilder::from_opts(opts)
        .additional_capabilities(capabilities)
        .into())
}

/// A plain connection to `database` (or the URL's own when `None`), set up as the adapter's
/// sessions are.
pub fn connect(opts: &Opts, database: Option<&str>) -> Result<Conn> {
    let opts: Opts = match database {
        Some(name) => OptsBuilder::from_opts(opts.clone())
            .db_name(Some(name))
            .into(),
        None => opts.clone(),
    };
    let mut conn = Conn::new(opts).context("connecting to USER_ENGINE_MYSQL_URL")?;
    batch(&mut conn, SESSION_SETUP)?;
    Ok(conn)
}

/// Runs SQL text of several statements, failing if any of them fails.
pub fn batch(conn: &mut Conn, sql: &str) -> Result<()> {
    let mut result = conn.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            row?;
        }
    }
    Ok(())
}

/// A database name no other run uses.
pub fn unique_database(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl RawMysql {
    /// Creates a fresh database, applies the migration files in it and prepares the statements.
    pub fn create(url: &str) -> Result<Self> {
        let admin = options(url)?;
        let database = unique_database("ue_bench_raw");
        connect(&admin, None)?.query_drop(format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))?;
        let raw = (|| -> Result<(Conn, Statements, Recorded)> {
            let mut conn = connect(&admin, Some(&database))?;
            for migration in MIGRATIONS {
                batch(&mut conn, migration)?;
            }
            let mut prep = |sql: &str| conn.prep(sql);
            let statements = Statements {
                lock: prep(
                    "SELECT version, deleted FROM user_engine_records
                     WHERE tenant_id = ? AND kind = ? AND record_id = ? FOR UPDATE",
                )?,
                insert: prep(
                    "INSERT INTO user_engine_records
                     (tenant_id, kind, record_id, user_id, payload, version, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
                     ON DUPLICATE KEY UPDATE version = version",
                )?,
                update: prep(
                    "UPDATE user_engine_records SET user_id = ?, payload = ?, version = ?, deleted = 0
                     WHERE tenant_id = ? AND kind = ? AND record_id = ?",
                )?,
                get: prep(&format!(
                    "SELECT {RECORD_COLUMNS} FROM user_engine_records
                     WHERE tenant_id = ? AND kind = ? AND record_id = ? AND deleted = 0"
                ))?,
                list: prep(&format!(
                    "SELECT {RECORD_COLUMNS} FROM user_engine_records
                     WHERE tenant_id = ? AND deleted = 0 ORDER BY kind, record_id"
                ))?,
                commit_order: prep(
                    "UPDATE user_engine_commit_order SET seq = LAST_INSERT_ID(seq + 1) WHERE id = 1",
                )?,
                audit: prep(
                    "INSERT INTO user_engine_audit_records
                     (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
                     VALUES (?, ?, ?, ?, ?, ?)",
                )?,
                enqueue: prep(
                    "INSERT INTO user_engine_outbox_events
                     (commit_seq, tenant_id, topic, event_key, payload) VALUES (?, ?, ?, ?, ?)",
                )?,
                pending: prep(
                    "SELECT id, tenant_id, topic, event_key, payload FROM user_engine_outbox_events
                     WHERE acknowledged_at IS NULL ORDER BY commit_seq, id LIMIT ?",
                )?,
                applied: prep(
                    "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version",
                )?,
            };
            // The versions the adapter records, so that a hand-written readiness check reads
            // what the adapter's reads.
            let mut recorded = Vec::new();
            for (migration, sql) in user_engine::MIGRATIONS.iter().zip(MIGRATIONS) {
                let checksum = user_engine::migration::checksum(sql);
                conn.exec_drop(
                    "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (?, ?, ?)",
                    (migration.version, migration.name, &checksum),
                )?;
                recorded.push((migration.version, checksum));
            }
            Ok((conn, statements, recorded))
        })();
        let (conn, statements, recorded) = match raw {
            Ok(raw) => raw,
            Err(err) => {
                drop_database(&admin, &database);
                return Err(err);
            }
        };
        Ok(Self {
            conn: Mutex::new(conn),
            statements,
            recorded,
            admin,
            database,
            checked_acknowledge: None,
        })
    }

    /// [`create`](Self::create), acknowledging with one of the adapter's guarded statements
    /// (`adapters/mysql/src/store.rs`, `acknowledge_pending_sql`) in place of raw's, whatever
    /// the ids: what the existence and readiness guards in it cost in place.
    pub fn create_checked(url: &str, guard: Guard) -> Result<Self> {
        let mut raw = Self::create(url)?;
        raw.checked_acknowledge = Some(guard);
        Ok(raw)
    }

    /// The database holding this baseline's tables.
    pub fn database(&self) -> &str {
        &self.database
    }

    fn conn(&self) -> Result<MutexGuard<'_, Conn>> {
        self.conn.lock().map_err(|_| anyhow!("poisoned"))
    }

    /// One record write inside an open transaction, as the adapter makes it: lock the key, then
    /// update the row or insert it. Returns the new version.
    fn write(
        &self,
        conn: &mut Conn,
        key: (&str, &str, &str),
        user: &str,
        body: &str,
    ) -> Result<u64> {
        let s = &self.statements;
        let (tenant, kind, id) = key;
        let locked: Option<(i64, i64)> = conn.exec_first(&s.lock, key)?;
        let version = match locked {
            Some((version, _deleted)) => {
                let version = u64::try_from(version)? + 1;
                conn.exec_drop(&s.update, (user, body, version, tenant, kind, id))?;
                version
            }
            None => {
                conn.exec_drop(&s.insert, (tenant, kind, id, user, body, 1_u64))?;
                ensure!(conn.affected_rows() == 1, "another writer inserted {id}");
                1
            }
        };
        Ok(version)
    }

    /// [`Subject::save_one`] with the one statement the adapter adds to it: the commit's
    /// readiness check (C27), the recorded migrations read inside the transaction just before
    /// `COMMIT` and compared with the expected ones. What that statement alone costs in place.
    pub fn save_one_checked(&self, n: u64) -> Result<u64> {
        self.save(n, true)
    }

    /// One record saved in its own transaction; with `check`, the recorded migrations are read
    /// and compared before `COMMIT`.
    fn save(&self, n: u64, check: bool) -> Result<u64> {
        let body = payload(n).to_string();
        let id = save_id(n);
        let mut conn = self.conn()?;
        conn.query_drop("START TRANSACTION")?;
        let version = self.write(&mut conn, (SAVE_TENANT, "profile", &id), "u1", &body)?;
        if check {
            let applied: Recorded = conn.exec(&self.statements.applied, ())?;
            ensure!(
                applied == self.recorded,
                "the recorded migrations read as {applied:?}"
            );
        }
        conn.query_drop("COMMIT")?;
        Ok(version)
    }

    /// The commit-order lock, drawing the transaction's `commit_seq`.
    fn take_commit_order(&self, conn: &mut Conn) -> Result<u64> {
        conn.exec_drop(&self.statements.commit_order, ())?;
        ensure!(conn.affected_rows() == 1, "the commit-order row is missing");
        Ok(conn.last_insert_id())
    }
}

fn drop_database(admin: &Opts, database: &str) {
    let dropped = connect(admin, None).and_then(|mut conn| {
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{database}`"))
            .map_err(Into::into)
    });
    if let Err(err) = dropped {
        eprintln!("could not drop benchmark database {database}: {err:#}");
    }
}

impl Drop for RawMysql {
    fn drop(&mut self) {
        // A transaction left open by a failed operation would make DROP DATABASE wait for it.
        if let Ok(conn) = self.conn.get_mut() {
            let _ = conn.query_drop("ROLLBACK");
        }
        drop_database(&self.admin, &self.database);
    }
}

/// Reads a record row the way the adapter's columns come back, and parses the body.
fn parse_record(row: Row) -> Result<RawRecord> {
    let columns: RecordRow =
        mysql::from_row_opt(row).map_err(|_| anyhow!("unexpected record row"))?;
    RawRecord::parse(columns)
}

impl Subject for RawMysql {
    fn seed_list_tenant(&self) -> Result<()> {
        let mut conn = self.conn()?;
        conn.query_drop("START TRANSACTION")?;
        for i in 0..RECORDS {
            let (kind, id, user) = list_record(i);
            let body = payload(i as u64).to_string();
            self.write(&mut conn, (LIST_TENANT, kind, &id), &user, &body)?;
        }
        conn.query_drop("COMMIT")?;
        Ok(())
    }

    fn save_one(&self, n: u64) -> Result<u64> {
        self.save(n, false)
    }

    fn get(&self, i: u64) -> Result<()> {
        let (kind, id, _) = list_record((i % RECORDS as u64) as usize);
        let row: Option<Row> = self
            .conn()?
            .exec_first(&self.statements.get, (LIST_TENANT, kind, &id))?;
        parse_record(row.ok_or_else(|| anyhow!("record {id} is missing"))?).map(drop)
    }

    fn list_tenant(&self) -> Result<usize> {
        let rows: Vec<Row> = self.conn()?.exec(&self.statements.list, (LIST_TENANT,))?;
        let records = rows
            .into_iter()
            .map(parse_record)
            .collect::<Result<Vec<_>>>()?;
        Ok(records.len())
    }

    fn write_batch(&self, n: u64) -> Result<()> {
        let mut conn = self.conn()?;
        conn.query_drop("START TRANSACTION")?;
        // The adapter's records are written in the order the transaction makes them.
        for j in 0..BATCH_WRITES {
            let body = payload(n).to_string();
            let id = batch_id(n, j);
            self.write(&mut conn, (BATCH_TENANT, "preference", &id), "u1", &body)?;
        }
        let commit_seq = self.take_commit_order(&mut conn)?;
        let first = batch_id(n, 0);
        conn.exec_drop(
            &self.statements.audit,
            (
                BATCH_TENANT,
                "u1",
                "bench.batch_saved",
                BATCH_TENANT,
                "preference",
                &first,
            ),
        )?;
        let body = event_payload(n).to_string();
        conn.exec_drop(
            &self.statements.enqueue,
            (
                commit_seq,
                BATCH_TENANT,
                "bench.batch_saved",
                n.to_string(),
                body,
            ),
        )?;
        conn.query_drop("COMMIT")?;
        Ok(())
    }

    fn seed_outbox(&self, events: usize) -> Result<()> {
        self.drain(1_000)?;
        let mut conn = self.conn()?;
        for chunk in 0..events.div_ceil(100) {
            conn.query_drop("START TRANSACTION")?;
            let commit_seq = self.take_commit_order(&mut conn)?;
            let rows: Vec<usize> = (chunk * 100..(chunk * 100 + 100).min(events)).collect();
            // One multi-row statement, as the adapter appends a commit's events.
            let sql = format!(
                "INSERT INTO user_engine_outbox_events
                 (commit_seq, tenant_id, topic, event_key, payload) VALUES {}",
                vec!["(?, ?, ?, ?, ?)"; rows.len()].join(", ")
            );
            let params: Vec<Value> = rows
                .iter()
                .flat_map(|&i| {
                    [
                        commit_seq.into(),
                        OUTBOX_TENANT.into(),
                        "bench.event".into(),
                        i.to_string().into(),
                        event_payload(i as u64).to_string().into(),
                    ]
                })
                .collect();
            conn.exec_drop(sql, params)?;
            conn.query_drop("COMMIT")?;
        }
        Ok(())
    }

    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let mut conn = self.conn()?;
        let started = Instant::now();
        let rows: Vec<Row> = conn.exec(&self.statements.pending, (u64::try_from(batch)?,))?;
        if rows.is_empty() {
            split.reading += started.elapsed();
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut numbers = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, tenant, topic, key, body): (i64, String, String, String, String) =
                mysql::from_row_opt(row).map_err(|_| anyhow!("unexpected event row"))?;
            let body: Json = serde_json::from_str(&body)?;
            ensure!(!tenant.is_empty() && !topic.is_empty() && !key.is_empty() && !body.is_null());
            ids.push(Value::from(id));
            numbers.push(id);
        }
        split.reading += started.elapsed();
        let started = Instant::now();
        // The statement's text depends on the batch's size; the driver caches it prepared.
        let listed = vec!["?"; ids.len()].join(", ");
        if let Some(guard) = self.checked_acknowledge {
            let signature: Vec<String> = self
                .recorded
                .iter()
                .map(|(version, checksum)| format!("{version}:{checksum}"))
                .collect();
            let mut params = ids.clone();
            let counted = match guard {
                Guard::Range => {
                    // The drain's ids are contiguous; were they not, the guard would fail.
                    params.push(Value::from(numbers.iter().min()));
                    params.push(Value::from(numbers.iter().max()));
                    "BETWEEN ? AND ?".to_owned()
                }
                Guard::Listed => {
                    params.extend(ids.iter().cloned());
                    format!("IN ({listed})")
                }
            };
            let sql = CHECKED_ACKNOWLEDGE
                .replace("{listed}", &listed)
                .replace("{counted}", &counted);
            params.push(Value::from(ids.len()));
            params.push(Value::from(signature.join(",")));
            conn.exec_drop(sql, params)?;
            // A guard that failed would mark nothing and end the drain early: say so instead.
            ensure!(
                conn.affected_rows() == u64::try_from(ids.len())?,
                "the adapter's guarded acknowledge marked {} of {} events",
                conn.affected_rows(),
                ids.len()
            );
        } else {
            conn.exec_drop(
                format!(
                    "UPDATE user_engine_outbox_events SET acknowledged_at = CURRENT_TIMESTAMP(6)
                 WHERE id IN ({listed}) AND acknowledged_at IS NULL"
                ),
                ids,
            )?;
        }
        let acknowledged = usize::try_from(conn.affected_rows())?;
        split.acknowledging += started.elapsed();
        Ok(acknowledged)
    }
}
