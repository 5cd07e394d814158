//! Why the ratios are what they are: the adapters' extra work, measured piece by piece in the same
//! run — SQLite's per-call readiness check taken apart, PostgreSQL's round trips counted at the
//! wire — and set against the gap the ratio table measured.

use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};
use user_engine::migration::checksum;
use user_engine_postgres::testing::IsolatedSchema;

use crate::raw_postgres::{self, RawPostgres};
use crate::raw_sqlite;
use crate::report::{Row, duration};
use crate::timing::median_duration;
use crate::wire::CountingProxy;
use crate::workload::{Adapter, DRAIN_BATCH, OUTBOX_EVENTS, Operation, Subject, prepare};

/// The median time of one call of `f`, over five samples of `calls` calls each.
pub fn per_call(calls: u32, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    for _ in 0..calls.min(100) {
        f()?;
    }
    let mut samples = Vec::with_capacity(5);
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..calls {
            f()?;
        }
        samples.push(start.elapsed() / calls);
    }
    Ok(median_duration(&samples))
}

pub fn measured<'a>(rows: &'a [Row], backend: &str, operation: Operation) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.backend == backend && r.operation == operation)
}

const SCHEMA_PROBE: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'user_engine_schema_versions')";
const APPLIED: &str = "SELECT version, checksum FROM user_engine_schema_versions ORDER BY version";
const VERSION: &str =
    "SELECT version FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3";
const EVENT_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM user_engine_outbox_events WHERE id = ?1)";
/// A get that also returns the recorded migrations, so readiness costs no statement of its own
/// (a missing record returns no row; only then would a separate versions read be needed).
const FOLDED_GET: &str = "SELECT (SELECT group_concat(version || ':' || checksum, ',') FROM user_engine_schema_versions),
            tenant_id, kind, record_id, user_id, payload, version
     FROM user_engine_records WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3";
const GET: &str =
    "SELECT tenant_id, kind, record_id, user_id, payload, version FROM user_engine_records
     WHERE tenant_id = ?1 AND kind = ?2 AND record_id = ?3";

/// The in-memory store: what its per-call readiness check costs (no target; for the record).
pub fn memory() -> Result<Vec<String>> {
    let store = user_engine::InMemoryUserEngineStore::migrated();
    let readiness = per_call(20_000, || {
        std::hint::black_box(user_engine::UserEngineStore::readiness(&store));
        Ok(())
    })?;
    let manifest = per_call(20_000, || {
        for migration in user_engine::MIGRATIONS {
            std::hint::black_box(migration.manifest_checksum());
        }
        Ok(())
    })?;
    Ok(vec![format!(
        "memory: one readiness check (every call makes one) = {} — of which re-deriving the \
         manifest checksums (format! + FNV) {}",
        duration(readiness),
        duration(manifest)
    )])
}

/// SQLite: what one readiness check (made by every call) costs, part by part.
pub fn sqlite(rows: &[Row]) -> Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let conn = Connection::open(dir.path().join("explain.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(raw_sqlite::MIGRATION)?;
    conn.execute(
        "INSERT INTO user_engine_schema_versions (version, name, checksum) VALUES (1, '0001_user_engine_store', ?1)",
        [checksum(raw_sqlite::MIGRATION)],
    )?;
    conn.execute(
        "INSERT INTO user_engine_records (tenant_id, kind, record_id, user_id, payload, version)
         VALUES ('acme', 'profile', 'p1', 'u1', '{\"display_name\":\"Ada\"}', 1)",
        [],
    )?;
    conn.execute(
        "INSERT INTO user_engine_outbox_events (tenant_id, topic, event_key, payload)
         VALUES ('acme', 'profile.saved', 'p1', '{}')",
        [],
    )?;
    let hash = per_call(2_000, || {
        std::hint::black_box(checksum(std::hint::black_box(raw_sqlite::MIGRATION)));
        Ok(())
    })?;
    let probe_uncached = per_call(2_000, || {
        let _: bool = conn.query_row(SCHEMA_PROBE, [], |r| r.get(0))?;
        Ok(())
    })?;
    let probe_cached = per_call(2_000, || {
        let _: bool = conn
            .prepare_cached(SCHEMA_PROBE)?
            .query_row([], |r| r.get(0))?;
        Ok(())
    })?;
    let applied = per_call(2_000, || {
        let mut statement = conn.prepare_cached(APPLIED)?;
        let rows: Vec<(i64, String)> = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        std::hint::black_box(rows);
        Ok(())
    })?;
    let get_once = || -> Result<()> {
        let row: Option<(String, String, String, Option<String>, String, i64)> = conn
            .prepare_cached(GET)?
            .query_row(["acme", "profile", "p1"], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()?;
        let body: serde_json::Value = serde_json::from_str(&row.map(|r| r.4).unwrap_or_default())?;
        std::hint::black_box(body);
        Ok(())
    };
    // The adapter re-reads versions and checks event ids inside its IMMEDIATE commit
    // transaction, where the WAL read lock is already held: measure them the same way.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let version_read = per_call(2_000, || {
        let _: Option<i64> = conn
            .prepare_cached(VERSION)?
            .query_row(["acme", "profile", "p1"], |r| r.get(0))
            .optional()?;
        Ok(())
    })?;
    let exists = per_call(2_000, || {
        let _: bool = conn
            .prepare_cached(EVENT_EXISTS)?
            .query_row([1], |r| r.get(0))?;
        Ok(())
    })?;
    conn.execute_batch("COMMIT")?;
    let data_version = per_call(2_000, || {
        let _: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        Ok(())
    })?;
    let folded_once = || -> Result<()> {
        let row: (Option<String>, Option<String>, Option<i64>) =
            conn.prepare_cached(FOLDED_GET)?
                .query_row(["acme", "profile", "p1"], |r| {
                    Ok((r.get(0)?, r.get(5)?, r.get(6)?))
                })?;
        let body: serde_json::Value = serde_json::from_str(row.1.as_deref().unwrap_or("null"))?;
        std::hint::black_box((row.0, body, row.2));
        Ok(())
    };
    // The two gets interleaved (get, folded, folded, get), so a slow spell lands on both.
    let (g1, f1, f2, g2) = (
        per_call(2_000, get_once)?,
        per_call(2_000, folded_once)?,
        per_call(2_000, folded_once)?,
        per_call(2_000, get_once)?,
    );
    let (get, folded) = ((g1 + g2) / 2, (f1 + f2) / 2);
    let readiness = probe_uncached + applied + hash;
    let proposed = applied;
    let mut lines = vec![
        format!(
            "sqlite: one readiness check (every call makes one; begin and commit one each) = {}:",
            duration(readiness)
        ),
        format!(
            "  sqlite_schema probe via query_row, compiled anew each call {} (prepare_cached: {}); \
             versions read {}; FNV checksum of the {}-byte migration text, recomputed each call {}",
            duration(probe_uncached),
            duration(probe_cached),
            duration(applied),
            raw_sqlite::MIGRATION.len(),
            duration(hash)
        ),
        format!(
            "  a raw get is {}: replaying the adapter's get (readiness + get) gives {} = {:.2}× raw",
            duration(get),
            duration(readiness + get),
            (readiness + get).as_secs_f64() / get.as_secs_f64()
        ),
        format!(
            "  with the checksum computed once and the probe dropped (versions read alone, 'no such \
             table' meaning unmigrated): {} = {:.2}× raw",
            duration(proposed + get),
            (proposed + get).as_secs_f64() / get.as_secs_f64()
        ),
        format!(
            "  with the verdict cached until `PRAGMA data_version` ({}) says another connection \
             committed (and dropped by the store's own migrate and tamper): {} = {:.2}× raw",
            duration(data_version),
            duration(data_version + get),
            (data_version + get).as_secs_f64() / get.as_secs_f64()
        ),
        format!(
            "  with the versions read folded into the get itself (one statement returning the \
             applied versions beside the row, compared with a memoized list): {} = {:.2}× raw",
            duration(folded),
            folded.as_secs_f64() / get.as_secs_f64()
        ),
    ];
    lines.push(format!(
        "  {:<34} {:<42} {:>10} {:>13}",
        "extra work per operation", "(R = one readiness check)", "predicted", "measured gap"
    ));
    // What the adapter does beyond the raw statements, read from its code: a readiness check
    // in every call (begin and commit one each), the committed record read at each first save
    // of a key, the version re-read at commit, and an existence check per acknowledged id.
    let extras: [(Operation, &str, Duration); 5] = [
        (
            Operation::Save,
            "2 R + 1 record read + 1 version read",
            readiness * 2 + get + version_read,
        ),
        (Operation::Get, "1 R", readiness),
        (Operation::List, "1 R", readiness),
        (
            Operation::Batch,
            "2 R + 10 record reads + 10 version reads",
            readiness * 2 + (get + version_read) * 10,
        ),
        (
            Operation::Drain,
            "201 R + 10,000 existence checks",
            readiness * 201 + exists * 10_000,
        ),
    ];
    for (operation, what, predicted) in extras {
        let gap = measured(rows, "sqlite", operation).map_or_else(
            || "-".to_owned(),
            |row| duration(row.comparison.adapter.saturating_sub(row.comparison.raw)),
        );
        lines.push(format!(
            "  {:<34} {:<42} {:>10} {:>13}",
            operation.label(),
            what,
            duration(predicted),
            gap
        ));
    }
    Ok(lines)
}

/// PostgreSQL: round trips per operation, counted at the wire, priced at one measured round trip.
pub fn postgres(url: &str, rows: &[Row]) -> Result<Vec<String>> {
    let proxy = CountingProxy::start(url)?;
    let proxied = proxy.url_for(url)?;
    // One round trip on an open connection, without the proxy in between.
    let mut client = raw_postgres::connect(url)?;
    let select_one = client.prepare("SELECT 1")?;
    let round_trip = per_call(500, || {
        client.query_one(&select_one, &[])?;
        Ok(())
    })?;
    let hash = per_call(2_000, || {
        std::hint::black_box(checksum(std::hint::black_box(raw_postgres::MIGRATION)));
        Ok(())
    })?;
    let (get, folded) = postgres_get_alone_and_folded(url)?;
    let mut lines = vec![format!(
        "postgres: one round trip (prepared SELECT 1, open connection) = {}; one readiness check's \
         FNV checksum of the {}-byte migration text = {}",
        duration(round_trip),
        raw_postgres::MIGRATION.len(),
        duration(hash)
    )];
    lines.push(format!(
        "  a raw get is {}; the same get with the recorded migrations joined in (one statement, \
         one round trip: readiness without a trip of its own) {} = {:.2}× raw",
        duration(get),
        duration(folded),
        folded.as_secs_f64() / get.as_secs_f64()
    ));
    lines.push(format!(
        "  {:<34} {:>9} {:>9} {:>18} {:>14}",
        "round trips per operation", "adapter", "raw", "extra × 1 trip", "measured gap"
    ));
    for operation in Operation::ALL {
        let adapter = Adapter::new(IsolatedSchema::create(&proxied)?)?;
        let raw = RawPostgres::create(&proxied)?;
        prepare(operation, &adapter, &raw)?;
        let (a, r) = (
            count(&proxy, operation, &adapter)?,
            count(&proxy, operation, &raw)?,
        );
        let extra = round_trip.mul_f64((a - r).max(0.0));
        let gap = measured(rows, "postgres", operation).map_or_else(
            || "-".to_owned(),
            |row| duration(row.comparison.adapter.saturating_sub(row.comparison.raw)),
        );
        lines.push(format!(
            "  {:<34} {:>9.1} {:>9.1} {:>18} {:>14}",
            operation.label(),
            a,
            r,
            duration(extra),
            gap
        ));
    }
    Ok(lines)
}

/// A raw get, and the same get carrying the recorded migrations, on one open connection in a
/// schema of its own.
fn postgres_get_alone_and_folded(url: &str) -> Result<(Duration, Duration)> {
    let raw = RawPostgres::create(url)?;
    raw.seed_list_tenant()?;
    let mut client = raw_postgres::connect(url)?;
    client.batch_execute(&format!(
        "SET search_path TO \"{}\";
         INSERT INTO user_engine_schema_versions (version, name, checksum)
         VALUES (1, '0001_user_engine_store', '{}')",
        raw.schema(),
        checksum(raw_postgres::MIGRATION)
    ))?;
    let alone = client.prepare(
        "SELECT tenant_id, kind, record_id, user_id, payload::text, version FROM user_engine_records
         WHERE tenant_id = $1 AND kind = $2 AND record_id = $3",
    )?;
    let folded = client.prepare(
        "SELECT v.applied, r.tenant_id, r.kind, r.record_id, r.user_id, r.payload::text, r.version
         FROM (SELECT string_agg(version || ':' || checksum, ',' ORDER BY version) AS applied
               FROM user_engine_schema_versions) AS v
         LEFT JOIN user_engine_records AS r
           ON r.tenant_id = $1 AND r.kind = $2 AND r.record_id = $3",
    )?;
    let (kind, id, _) = crate::workload::list_record(7);
    let params: [&(dyn postgres::types::ToSql + Sync); 3] =
        [&crate::workload::LIST_TENANT, &kind, &id];
    let mut time_of = |statement: &postgres::Statement| {
        per_call(300, || {
            let rows = client.query(statement, &params)?;
            anyhow::ensure!(rows.len() == 1, "expected one row");
            Ok(())
        })
    };
    // Interleaved twice, so a slow spell does not land on one of them only.
    let (a1, f1, f2, a2) = (
        time_of(&alone)?,
        time_of(&folded)?,
        time_of(&folded)?,
        time_of(&alone)?,
    );
    Ok(((a1 + a2) / 2, (f1 + f2) / 2))
}

/// Round trips one `operation` takes on `subject`, averaged over a few runs.
pub fn count(proxy: &CountingProxy, operation: Operation, subject: &dyn Subject) -> Result<f64> {
    let runs: u64 = match operation {
        Operation::Save | Operation::Get => 20,
        Operation::List | Operation::Batch => 5,
        Operation::Drain => 1,
    };
    let run = |n: u64| -> Result<()> {
        match operation {
            Operation::Save => subject.save_one(n).map(drop),
            Operation::Get => subject.get(n),
            Operation::List => subject.list_tenant().map(drop),
            Operation::Batch => subject.write_batch(n),
            Operation::Drain => subject.drain(DRAIN_BATCH).map(drop),
        }
    };
    // One uncounted run prepares the statements (a prepare is a round trip of its own, once per
    // connection); seeding the outbox drains it once, which does the same for draining.
    if operation == Operation::Drain {
        subject.seed_outbox(OUTBOX_EVENTS)?;
    } else {
        run(0)?;
    }
    let before = proxy.round_trips();
    for n in 1..=runs {
        run(n)?;
    }
    Ok((proxy.round_trips() - before) as f64 / runs as f64)
}
