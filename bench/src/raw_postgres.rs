//! The PostgreSQL baseline: the same statements written by hand with the `postgres` crate, prepared
//! once, on one connection, against the schema of `migrations/postgres/` applied verbatim in a
//! schema of its own (dropped afterwards).
//!
//! It keeps the guarantees the adapter gives for this workload: one transaction per save, the
//! commit-order advisory lock and a `commit_seq` for outbox events. It leaves out what a hand
//! writer would not do: re-reading readiness on every call, reading a record before overwriting it
//! unconditionally, and separate round trips for values one statement can compute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, ensure};
use postgres::{Client, NoTls, Statement};
use serde_json::Value;

use crate::workload::{
    BATCH_TENANT, BATCH_WRITES, DrainSplit, LIST_TENANT, OUTBOX_TENANT, RECORDS, RawRecord,
    SAVE_TENANT, Subject, batch_id, event_payload, list_record, payload, save_id,
};

/// The adapter's schema, as the adapter applies it: every file, so the records table has the
/// tombstone column of the latest version, which every read filters on.
pub const MIGRATION: &str = concat!(
    include_str!("../../migrations/postgres/0001_user_engine_store.sql"),
    "\n",
    include_str!("../../migrations/postgres/0002_versions_survive_delete.sql"),
);

/// The migration files one by one, as the adapter records them (`version:checksum` of each).
const FILES: [&str; 2] = [
    include_str!("../../migrations/postgres/0001_user_engine_store.sql"),
    include_str!("../../migrations/postgres/0002_versions_survive_delete.sql"),
];

/// The adapter's `acknowledge` statement, as `adapters/postgres/src/store.rs` writes it
/// (`ACKNOWLEDGE`): the recorded migrations (C27) checked in the statement that marks the listed
/// ids, and their existence (C21) when it marked fewer than listed. For pricing those checks in place;
/// `copies::the_copied_statements_are_the_adapters` keeps it the adapter's.
pub const CHECKED_ACKNOWLEDGE: &str = "WITH ready AS (
         SELECT string_agg(version::text || ':' || checksum, ',' ORDER BY version) AS signature
         FROM user_engine_schema_versions),
     acknowledged AS (
         UPDATE user_engine_outbox_events AS e SET acknowledged_at = now()
         FROM unnest($1::bigint[]) AS w(id)
         WHERE e.id = w.id AND e.acknowledged_at IS NULL
           AND (SELECT signature FROM ready) = $2::text
         RETURNING 1),
     marked AS (SELECT count(*) AS n FROM acknowledged)
SELECT (SELECT signature FROM ready),
       CASE WHEN (SELECT n FROM marked) = $3::bigint THEN (SELECT n FROM marked)
            WHEN (SELECT count(*) FROM user_engine_outbox_events
                  WHERE id IN (SELECT unnest($1::bigint[]))) = $3::bigint THEN (SELECT n FROM marked)
            ELSE ('user_engine: a listed outbox event does not exist; marked '
                  || (SELECT n FROM marked))::bigint
       END";

/// Any key: this schema has its own lock space in practice (nobody else takes it).
const COMMIT_ORDER_LOCK: i64 = 0x0be4_c0de;

struct Statements {
    upsert: Statement,
    get: Statement,
    list: Statement,
    lock: Statement,
    audit: Statement,
    enqueue: Statement,
    pending: Statement,
    acknowledge: Statement,
}

/// The baseline for `PostgresUserEngineStore`.
pub struct RawPostgres {
    client: Mutex<Client>,
    statements: Statements,
    url: String,
    schema: String,
    /// With [`create_checked`](Self::create_checked): the adapter's acknowledge statement and the
    /// signature it compares, used in place of raw's own.
    checked_acknowledge: Option<(Statement, String)>,
}

/// A new plain connection to `url`.
pub fn connect(url: &str) -> Result<Client> {
    let mut config: postgres::Config = url.parse().context("parsing USER_ENGINE_POSTGRES_URL")?;
    config.notice_callback(|_| {});
    config
        .connect(NoTls)
        .context("connecting to USER_ENGINE_POSTGRES_URL")
}

/// A schema name no other run uses.
pub fn unique_schema(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl RawPostgres {
    /// Creates a fresh schema, applies the migration file in it and prepares the statements.
    pub fn create(url: &str) -> Result<Self> {
        let schema = unique_schema("ue_bench_raw");
        let mut client = connect(url)?;
        client.batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\";
             BEGIN; {MIGRATION} COMMIT;"
        ))?;
        let mut prepare = |sql: &str| client.prepare(sql);
        let statements = Statements {
            upsert: prepare(
                "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, 1)
                 ON CONFLICT (tenant_id, kind, record_id)
                 DO UPDATE SET user_id = EXCLUDED.user_id, payload = EXCLUDED.payload,
                               version = user_engine_records.version + 1, deleted = false
                 RETURNING version",
            )?,
            get: prepare(
                "SELECT tenant_id, kind, record_id, user_id, payload::text, version FROM user_engine_records
                 WHERE tenant_id = $1 AND kind = $2 AND record_id = $3 AND NOT deleted",
            )?,
            list: prepare(
                "SELECT tenant_id, kind, record_id, user_id, payload::text, version FROM user_engine_records
                 WHERE tenant_id = $1 AND NOT deleted ORDER BY kind, record_id",
            )?,
            lock: prepare("SELECT pg_advisory_xact_lock($1)")?,
            audit: prepare(
                "INSERT INTO user_engine_audit_records
                     (tenant_id, actor_user_id, action, target_tenant_id, target_kind, target_record_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )?,
            // One event per transaction here, so the commit_seq is drawn in the same statement.
            enqueue: prepare(
                "INSERT INTO user_engine_outbox_events (commit_seq, tenant_id, topic, event_key, payload)
                 VALUES (nextval('user_engine_outbox_commit_seq'), $1, $2, $3, $4::text::jsonb)",
            )?,
            pending: prepare(
                "SELECT id, tenant_id, topic, event_key, payload::text FROM user_engine_outbox_events
                 WHERE acknowledged_at IS NULL ORDER BY commit_seq, id LIMIT $1",
            )?,
            // The ids joined to the primary key, the shape the adapter's statement has. With
            // `WHERE id = ANY($1)` the generic plan of the prepared statement walks the pending
            // index (commit_seq, id) for every batch, which made the baseline ~8× the adapter.
            acknowledge: prepare(
                "UPDATE user_engine_outbox_events e SET acknowledged_at = now()
                 FROM unnest($1::bigint[]) AS w(id)
                 WHERE e.id = w.id AND e.acknowledged_at IS NULL",
            )?,
        };
        Ok(Self {
            client: Mutex::new(client),
            statements,
            url: url.to_owned(),
            schema,
            checked_acknowledge: None,
        })
    }

    /// [`create`](Self::create), with the migrations recorded as the adapter records them and
    /// the adapter's acknowledge statement in place of raw's: what the checks in that statement
    /// cost in place.
    pub fn create_checked(url: &str) -> Result<Self> {
        let mut raw = Self::create(url)?;
        let mut client = raw.client()?;
        let mut signature = Vec::new();
        for (migration, sql) in user_engine::MIGRATIONS.iter().zip(FILES) {
            let checksum = user_engine::migration::checksum(sql);
            let version = i32::try_from(migration.version)?;
            client.execute(
                "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES ($1, $2, $3)",
                &[&version, &migration.name, &checksum],
            )?;
            signature.push(format!("{}:{checksum}", migration.version));
        }
        let statement = client.prepare(CHECKED_ACKNOWLEDGE)?;
        drop(client);
        raw.checked_acknowledge = Some((statement, signature.join(",")));
        Ok(raw)
    }

    fn client(&self) -> Result<MutexGuard<'_, Client>> {
        self.client.lock().map_err(|_| anyhow!("poisoned"))
    }
}

impl Drop for RawPostgres {
    fn drop(&mut self) {
        let dropped = connect(&self.url).and_then(|mut admin| {
            admin
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    self.schema
                ))
                .map_err(Into::into)
        });
        if let Err(err) = dropped {
            eprintln!("could not drop benchmark schema {}: {err:#}", self.schema);
        }
    }
}

/// Reads a record row the way the adapter's columns come back, and parses the body.
fn parse_record(row: &postgres::Row) -> Result<RawRecord> {
    RawRecord::parse((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
    ))
}

impl Subject for RawPostgres {
    fn seed_list_tenant(&self) -> Result<()> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        for i in 0..RECORDS {
            let (kind, id, user) = list_record(i);
            let body = payload(i as u64).to_string();
            tx.execute(
                &self.statements.upsert,
                &[&LIST_TENANT, &kind, &id, &user, &body],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn save_one(&self, n: u64) -> Result<u64> {
        let body = payload(n).to_string();
        let id = save_id(n);
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        let row = tx.query_one(
            &self.statements.upsert,
            &[&SAVE_TENANT, &"profile", &id, &"u1", &body],
        )?;
        tx.commit()?;
        Ok(u64::try_from(row.try_get::<_, i64>(0)?)?)
    }

    fn get(&self, i: u64) -> Result<()> {
        let (kind, id, _) = list_record((i % RECORDS as u64) as usize);
        let row = self
            .client()?
            .query_opt(&self.statements.get, &[&LIST_TENANT, &kind, &id])?;
        let row = row.ok_or_else(|| anyhow!("record {id} is missing"))?;
        parse_record(&row).map(drop)
    }

    fn list_tenant(&self) -> Result<usize> {
        let rows = self
            .client()?
            .query(&self.statements.list, &[&LIST_TENANT])?;
        let records = rows.iter().map(parse_record).collect::<Result<Vec<_>>>()?;
        Ok(records.len())
    }

    fn write_batch(&self, n: u64) -> Result<()> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        for j in 0..BATCH_WRITES {
            let body = payload(n).to_string();
            tx.query_one(
                &self.statements.upsert,
                &[&BATCH_TENANT, &"preference", &batch_id(n, j), &"u1", &body],
            )?;
        }
        tx.execute(&self.statements.lock, &[&COMMIT_ORDER_LOCK])?;
        let first = batch_id(n, 0);
        tx.execute(
            &self.statements.audit,
            &[
                &BATCH_TENANT,
                &"u1",
                &"bench.batch_saved",
                &BATCH_TENANT,
                &"preference",
                &first,
            ],
        )?;
        let body = event_payload(n).to_string();
        tx.execute(
            &self.statements.enqueue,
            &[&BATCH_TENANT, &"bench.batch_saved", &n.to_string(), &body],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn seed_outbox(&self, events: usize) -> Result<()> {
        self.drain(1_000)?;
        let mut client = self.client()?;
        for chunk in 0..events.div_ceil(100) {
            let mut tx = client.transaction()?;
            for i in chunk * 100..(chunk * 100 + 100).min(events) {
                let body = event_payload(i as u64).to_string();
                tx.execute(
                    &self.statements.enqueue,
                    &[&OUTBOX_TENANT, &"bench.event", &i.to_string(), &body],
                )?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    fn drain_batch(&self, batch: usize, split: &mut DrainSplit) -> Result<usize> {
        let mut client = self.client()?;
        let started = Instant::now();
        let rows = client.query(&self.statements.pending, &[&i64::try_from(batch)?])?;
        if rows.is_empty() {
            split.reading += started.elapsed();
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            // Owned, as a relay keeps what it publishes and as the SQLite and MySQL baselines
            // read their events.
            let tenant: String = row.try_get(1)?;
            let topic: String = row.try_get(2)?;
            let key: String = row.try_get(3)?;
            let body: Value = serde_json::from_str(row.try_get::<_, &str>(4)?)?;
            ensure!(!tenant.is_empty() && !topic.is_empty() && !key.is_empty() && !body.is_null());
            ids.push(id);
        }
        split.reading += started.elapsed();
        let started = Instant::now();
        let acknowledged = match &self.checked_acknowledge {
            Some((statement, signature)) => {
                // Pending ids are distinct, as the adapter passes them.
                let listed = i64::try_from(ids.len())?;
                let row = client.query_one(statement, &[&ids, signature, &listed])?;
                let read: Option<&str> = row.try_get(0)?;
                ensure!(
                    read == Some(signature.as_str()),
                    "the migrations read as {read:?}"
                );
                u64::try_from(row.try_get::<_, i64>(1)?)?
            }
            None => client.execute(&self.statements.acknowledge, &[&ids])?,
        };
        split.acknowledging += started.elapsed();
        Ok(usize::try_from(acknowledged)?)
    }
}
