//! Why the ratios are what they are: the adapters' extra work, measured piece by piece in the same
//! run — SQLite's statements priced one by one, PostgreSQL's round trips counted at the wire — and
//! set against the gap the ratio table measured.

use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};
use user_engine::Page;
use user_engine::kit::RecordColumns;
use user_engine_postgres::testing::IsolatedSchema;

use crate::raw_postgres::{self, RawPostgres};
use crate::raw_sqlite;
use crate::report::{Row, duration};
use crate::timing::{Plan, Stepper, Workload, compare, interleave, median_duration};
use crate::wire::CountingProxy;
use crate::workload::{
    Adapter, BATCH_TENANT, BATCH_WRITES, DRAIN_BATCH, DrainSplit, OUTBOX_EVENTS, Operation,
    RawRecord, RecordRow, Subject, batch_id, event_payload, payload, prepare,
};

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

/// A listing's rows turned into what each side keeps, timed apart from nothing else: `fetch` runs
/// the raw list statement, and its rows are parsed as the raw baselines parse them (`RawRecord`)
/// or validated as the adapters validate theirs (`kit::RecordColumns`, `Page::from_sorted`).
/// Interleaved (parsed, validated, validated, parsed) so a slow spell lands on both. Returns the
/// two times per listing, the statement included in both.
pub fn list_conversion(
    mut fetch: impl FnMut() -> Result<Vec<RecordRow>>,
) -> Result<(Duration, Duration)> {
    let mut time = |validate: bool| {
        per_call(20, || {
            let rows = fetch()?;
            if validate {
                let records = rows
                    .into_iter()
                    .map(|(tenant, kind, id, user, payload, version)| {
                        RecordColumns {
                            tenant,
                            kind,
                            id,
                            user,
                            payload,
                            version,
                        }
                        .into_record()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                std::hint::black_box(Page::from_sorted(records, None));
            } else {
                let records = rows
                    .into_iter()
                    .map(RawRecord::parse)
                    .collect::<Result<Vec<_>>>()?;
                std::hint::black_box(records);
            }
            Ok(())
        })
    };
    let (p1, v1, v2, p2) = (time(false)?, time(true)?, time(true)?, time(false)?);
    Ok(((p1 + p2) / 2, (v1 + v2) / 2))
}

/// The line that reports [`list_conversion`] for `backend`.
pub fn list_line(backend: &str, parsed: Duration, validated: Duration) -> String {
    format!(
        "  {backend} list taken apart: the list statement with its 1,000 rows parsed as the raw \
         side does {}, turned into validated records as the adapter does (`kit::RecordColumns`, \
         `Page::from_sorted`) {} — {} more",
        duration(parsed),
        duration(validated),
        duration(validated.saturating_sub(parsed))
    )
}

pub fn measured<'a>(rows: &'a [Row], backend: &str, operation: Operation) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.backend == backend && r.operation == operation)
}

/// The adapter's existence check for an `acknowledge` that marked fewer events than it listed:
/// the listed ids that exist (`adapters/sqlite/src/rows.rs`).
const EVENTS_EXISTING: &str =
    "SELECT id FROM user_engine_outbox_events WHERE id IN (SELECT value FROM json_each(?1))";

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

/// SQLite: the adapter's work beyond the raw statements, priced piece by piece.
pub fn sqlite(rows: &[Row], plan: &Plan) -> Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let conn = Connection::open(dir.path().join("explain.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // What the recorded migrations must read as: computed from the shipped files as they were
    // recorded, not read back from this database.
    let expected = Some(raw_sqlite::migrate(&conn)?);
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
    // The adapter checks inside its IMMEDIATE commit transaction, where the WAL read lock is
    // already held: measure its statements the same way.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let readiness = per_call(2_000, || {
        let signature: Option<String> = conn
            .prepare_cached(raw_sqlite::SIGNATURE)?
            .query_row([], |r| r.get(0))?;
        anyhow::ensure!(signature == expected, "the versions read differently");
        Ok(())
    })?;
    let version_read = per_call(2_000, || {
        let _: Option<(i64, bool)> = conn
            .prepare_cached(raw_sqlite::VERSION)?
            .query_row(["acme", "profile", "p1"], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(())
    })?;
    let data_version = per_call(2_000, || {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        std::hint::black_box(version);
        Ok(())
    })?;
    let write_lock = per_call(2_000, || {
        conn.prepare_cached(raw_sqlite::TAKE_WRITE_LOCK)?
            .execute([])?;
        Ok(())
    })?;
    let exists = per_call(2_000, || {
        // A batch's worth of ids (one exists here; the statement's cost is the lookups).
        let listed: Vec<String> = (1..=DRAIN_BATCH).map(|id| id.to_string()).collect();
        let ids: Vec<i64> = conn
            .prepare_cached(EVENTS_EXISTING)?
            .query_map([format!("[{}]", listed.join(","))], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        std::hint::black_box(ids);
        Ok(())
    })?;
    conn.execute_batch("COMMIT")?;
    let mut lines = vec![format!(
        "sqlite: one readiness check (each commit and acknowledge makes one; begin and reads go by \
         the latest) = {}; one version read {}; one data_version read {}; the commit's write-lock \
         statement (W) {}; one acknowledge's existence check ({DRAIN_BATCH} ids, only when it \
         marked fewer than it listed) {}",
        duration(readiness),
        duration(version_read),
        duration(data_version),
        duration(write_lock),
        duration(exists)
    )];
    lines.push(format!(
        "  {:<34} {:<42} {:>10} {:>13}",
        "extra work per operation", "(R = one readiness check)", "predicted", "measured gap"
    ));
    // What the adapter does beyond the raw statements, read from its code: a readiness check at
    // each commit and acknowledge, a key's committed version read at its first write (all of a
    // transaction's in one read transaction, the first with data_version; again at commit only
    // if something reached the file since, not in these runs), the statement that takes the
    // write lock on that read transaction, and an existence check for an acknowledge that marks
    // fewer events than it lists (not a relay's).
    let extras: [(Operation, &str, Duration); 5] = [
        (
            Operation::Save,
            "1 R + 1 version read + 1 data_version + W",
            readiness + version_read + data_version + write_lock,
        ),
        (Operation::Get, "nothing", Duration::ZERO),
        (Operation::List, "nothing", Duration::ZERO),
        (
            Operation::Batch,
            "1 R + 10 version reads + 1 data_version + W",
            readiness + version_read * 10 + data_version + write_lock,
        ),
        (
            Operation::Drain,
            "100 R (an existence check only when short)",
            readiness * 100,
        ),
    ];
    let drain = {
        let adapter = Adapter::new(user_engine_sqlite::SqliteUserEngineStore::open(
            dir.path().join("adapter.db"),
        )?)?;
        let raw = raw_sqlite::RawSqlite::open(&dir.path().join("raw.db"))?;
        drain_split("sqlite", &adapter, &raw)?
    };
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
    lines.push(drain);
    if let Some(batch) = measured(rows, "sqlite", Operation::Batch) {
        // Both kinds of statement, then each kind alone, against the plain baseline.
        let mut parts = Vec::new();
        for (name, first_writes, at_commit) in [
            ("both", true, true),
            ("the first-write reads alone", true, false),
            ("the commit's alone", false, true),
        ] {
            let checked =
                raw_sqlite::RawSqlite::open(&dir.path().join(format!("checked-{name}.db")))?;
            let raw = raw_sqlite::RawSqlite::open(&dir.path().join(format!("raw-{name}.db")))?;
            let mut a = Workload::Repeat(Box::new(|n| {
                checked.write_batch_checked(n, first_writes, at_commit)
            }));
            let mut b = Workload::Repeat(Box::new(|n| raw.write_batch(n)));
            let priced = compare(plan, &mut a, &mut b)?;
            parts.push(format!(
                "{name} {:.2}× (IQR {:.2}–{:.2})",
                priced.ratio, priced.ratio_quartiles.0, priced.ratio_quartiles.1
            ));
        }
        lines.push(format!(
            "  sqlite tx taken apart: raw with the adapter's extra statements written in where it \
             makes them (10 version reads at first write in one read transaction, the first with \
             data_version; W and R at commit), against raw: {}; the adapter {:.2}× raw",
            parts.join(", "),
            batch.comparison.ratio
        ));
        lines.push(tx_phases(dir.path())?);
        let (adapter, raw) = tx_in_memory()?;
        lines.push(format!(
            "  sqlite tx in memory alone (no database; what each side computes for one tx): the \
             adapter {} (its write buffer: 10 saves that return the record, the audit entry, the \
             event, the commit plan, every payload's JSON text), raw {} (every payload's JSON \
             text); the difference {} of the {} gap",
            duration(adapter),
            duration(raw),
            duration(adapter.saturating_sub(raw)),
            duration(
                batch
                    .comparison
                    .adapter
                    .saturating_sub(batch.comparison.raw)
            )
        ));
    }
    if measured(rows, "sqlite", Operation::List).is_some() {
        let raw = raw_sqlite::RawSqlite::open(&dir.path().join("list.db"))?;
        raw.seed_list_tenant()?;
        let (parsed, validated) = list_conversion(|| raw.list_rows())?;
        lines.push(list_line("sqlite", parsed, validated));
    }
    Ok(lines)
}

/// The SQLite tx timed in its two phases on both sides, one transaction at a time in turn: up to
/// the last first write (the adapter: `begin` and ten saves, each reading its key's version; raw
/// with the adapter's statements: `BEGIN` and the ten reads), then the rest (the adapter: the
/// audit entry, the event and `commit`; raw: the write-lock statement, the readiness check, the
/// writes and `COMMIT`). Medians of five rounds of 100 transactions each.
fn tx_phases(dir: &std::path::Path) -> Result<String> {
    let adapter = Adapter::new(user_engine_sqlite::SqliteUserEngineStore::open(
        dir.join("phases-adapter.db"),
    )?)?;
    let raw = raw_sqlite::RawSqlite::open(&dir.join("phases-raw.db"))?;
    for n in 0..200 {
        adapter.write_batch(n)?;
        raw.write_batch_checked(n, true, true)?;
    }
    let (mut firsts, mut rests) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for round in 0..5u64 {
        let (mut a, mut r) = ([Duration::ZERO; 2], [Duration::ZERO; 2]);
        for i in 0..100u64 {
            let n = 200 + round * 100 + i;
            if (round + i) % 2 == 0 {
                adapter.write_batch_phased(n, &mut a)?;
                raw.write_batch_checked_phased(n, true, true, &mut r)?;
            } else {
                raw.write_batch_checked_phased(n, true, true, &mut r)?;
                adapter.write_batch_phased(n, &mut a)?;
            }
        }
        for (side, phases) in [a, r].into_iter().enumerate() {
            firsts[side].push(phases[0] / 100);
            rests[side].push(phases[1] / 100);
        }
    }
    let [a_first, r_first] = firsts.map(|times| median_duration(&times));
    let [a_rest, r_rest] = rests.map(|times| median_duration(&times));
    // Both sides build the ten payloads once: the adapter's caller before each save, raw inside
    // its writes. Priced apart, so the phases can be read with it moved back.
    let mut n = 0u64;
    let payloads = per_call(2_000, || {
        n += 1;
        for _ in 0..BATCH_WRITES {
            std::hint::black_box(user_engine::Payload::new(payload(n)));
        }
        Ok(())
    })?;
    let ratio = |a: Duration, r: Duration| a.as_secs_f64() / r.as_secs_f64().max(1e-9);
    Ok(format!(
        "  sqlite tx by phase (adapter vs raw with the adapter's statements, per tx): up to the \
         last first write {} vs {} = {:.2}× ({} more); the rest, to COMMIT {} vs {} = {:.2}× ({} \
         more); building the ten payloads, which the adapter's caller does in the first phase and \
         raw in the second, {}",
        duration(a_first),
        duration(r_first),
        ratio(a_first, r_first),
        duration(a_first.saturating_sub(r_first)),
        duration(a_rest),
        duration(r_rest),
        ratio(a_rest, r_rest),
        duration(a_rest.saturating_sub(r_rest)),
        duration(payloads),
    ))
}

/// The in-memory part of one benchmark tx on each side, with no database: the adapter's write
/// buffer as its transaction drives it (each first write told the key is live at version 1),
/// and the JSON text both sides hand SQLite. What remains of the tx's gap beyond the statements.
fn tx_in_memory() -> Result<(Duration, Duration)> {
    use user_engine::buffered::WriteBuffer;
    use user_engine::kit::KeyVersions;
    use user_engine::{
        AuditEntry, Expectation, OutboxMessage, Payload, RecordKey, RecordWrite, TenantId, UserId,
    };
    let tenant = TenantId::new(BATCH_TENANT)?;
    let owner = UserId::new("u1")?;
    let keys: Vec<RecordKey> = (0..BATCH_WRITES)
        .map(|j| RecordKey::parse(&format!("{BATCH_TENANT}/preference/{}", batch_id(0, j))))
        .collect::<Result<_, _>>()?;
    let mut n = 0u64;
    let adapter = per_call(2_000, || {
        n += 1;
        let mut buffer = WriteBuffer::new();
        for key in &keys {
            let write = RecordWrite {
                key: key.clone(),
                user: Some(owner.clone()),
                payload: Payload::new(payload(n)),
            };
            let record = buffer.save(write, Expectation::Any, |_| Ok(KeyVersions::live(1)))?;
            std::hint::black_box(record);
        }
        buffer.append_audit(AuditEntry {
            tenant: tenant.clone(),
            actor: Some(owner.clone()),
            action: "bench.batch_saved".to_owned(),
            target: keys.first().cloned(),
        });
        buffer.enqueue(OutboxMessage {
            tenant: tenant.clone(),
            topic: "bench.batch_saved".to_owned(),
            key: n.to_string(),
            payload: Payload::new(event_payload(n)),
        });
        let plan = buffer.into_commit_plan_as_observed();
        for change in &plan.changes {
            if let Some(record) = &change.record {
                std::hint::black_box(record.payload.to_json_text());
            }
        }
        for message in &plan.outbox {
            std::hint::black_box(message.payload.to_json_text());
        }
        Ok(())
    })?;
    let mut n = 0u64;
    let raw = per_call(2_000, || {
        n += 1;
        for j in 0..BATCH_WRITES {
            std::hint::black_box((batch_id(n, j), payload(n).to_string()));
        }
        std::hint::black_box((n.to_string(), event_payload(n).to_string()));
        Ok(())
    })?;
    Ok((adapter, raw))
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
    let mut lines = vec![format!(
        "postgres: one round trip (prepared SELECT 1, open connection) = {}",
        duration(round_trip)
    )];
    lines.push(trips_header());
    for operation in Operation::ALL {
        let adapter = Adapter::new(IsolatedSchema::create(&proxied)?)?;
        let raw = RawPostgres::create(&proxied)?;
        prepare(operation, &adapter, &raw)?;
        let counted = (
            count(&proxy, operation, &adapter)?,
            count(&proxy, operation, &raw)?,
        );
        lines.push(trips_row("postgres", operation, counted, round_trip, rows));
    }
    let adapter = Adapter::new(IsolatedSchema::create(url)?)?;
    lines.push(drain_split(
        "postgres",
        &adapter,
        &RawPostgres::create(url)?,
    )?);
    lines.push(drain_split_as(
        "postgres drain, raw with the adapter's acknowledge statement (existence and readiness \
         checked in it) against raw",
        &RawPostgres::create_checked(url)?,
        &RawPostgres::create(url)?,
    )?);
    Ok(lines)
}

/// The header of the round-trip table.
pub fn trips_header() -> String {
    format!(
        "  {:<34} {:>9} {:>9} {:>16} {:>22} {:>14}",
        "round trips per operation",
        "adapter",
        "raw",
        "extra × 1 trip",
        "server wait adapter/raw",
        "measured gap"
    )
}

/// One operation's row: the trips each side took (counted at the wire), the extra trips priced
/// at one round trip, the time each side waited on the server for its answers, and the gap the
/// ratio table measured. Where the waits differ by less than the gap, the rest is client work.
pub fn trips_row(
    backend: &str,
    operation: Operation,
    ((a, a_wait), (r, r_wait)): ((f64, Duration), (f64, Duration)),
    round_trip: Duration,
    rows: &[Row],
) -> String {
    let extra = round_trip.mul_f64((a - r).max(0.0));
    let gap = measured(rows, backend, operation).map_or_else(
        || "-".to_owned(),
        |row| duration(row.comparison.adapter.saturating_sub(row.comparison.raw)),
    );
    format!(
        "  {:<34} {:>9.1} {:>9.1} {:>16} {:>22} {:>14}",
        operation.label(),
        a,
        r,
        duration(extra),
        format!("{} / {}", duration(a_wait), duration(r_wait)),
        gap
    )
}

/// Both sides' drains taken apart — reading pending events, acknowledging them — each the
/// median of three fresh seedings of 10,000 events, the two sides' batches interleaved.
pub fn drain_split(backend: &str, adapter: &dyn Subject, raw: &dyn Subject) -> Result<String> {
    drain_split_as(
        &format!("{backend} drain taken apart (adapter vs raw)"),
        adapter,
        raw,
    )
}

/// [`drain_split`] of any two subjects, under `label`.
pub fn drain_split_as(label: &str, adapter: &dyn Subject, raw: &dyn Subject) -> Result<String> {
    let (mut reading, mut acknowledging) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for round in 0..3 {
        adapter.seed_outbox(OUTBOX_EVENTS)?;
        raw.seed_outbox(OUTBOX_EVENTS)?;
        let (mut split_a, mut split_r) = (DrainSplit::default(), DrainSplit::default());
        {
            let mut step_a: Stepper<'_> =
                Box::new(|| Ok(adapter.drain_batch(DRAIN_BATCH, &mut split_a)? > 0));
            let mut step_r: Stepper<'_> =
                Box::new(|| Ok(raw.drain_batch(DRAIN_BATCH, &mut split_r)? > 0));
            interleave(round, &mut step_a, &mut step_r)?;
        }
        for (side, split) in [split_a, split_r].into_iter().enumerate() {
            reading[side].push(split.reading);
            acknowledging[side].push(split.acknowledging);
        }
    }
    let [a_read, r_read] = reading.map(|times| median_duration(&times));
    let [a_ack, r_ack] = acknowledging.map(|times| median_duration(&times));
    let ratio = |a: Duration, r: Duration| a.as_secs_f64() / r.as_secs_f64().max(1e-9);
    Ok(format!(
        "  {label}: reading pending events {} vs {} = {:.2}×; acknowledging {} vs {} = {:.2}×",
        duration(a_read),
        duration(r_read),
        ratio(a_read, r_read),
        duration(a_ack),
        duration(r_ack),
        ratio(a_ack, r_ack)
    ))
}

/// Round trips one `operation` takes on `subject`, and the time it waited on the server for
/// them, averaged over a few runs.
pub fn count(
    proxy: &CountingProxy,
    operation: Operation,
    subject: &dyn Subject,
) -> Result<(f64, Duration)> {
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
    let (before, waited) = (proxy.round_trips(), proxy.waited());
    for n in 1..=runs {
        run(n)?;
    }
    Ok((
        (proxy.round_trips() - before) as f64 / runs as f64,
        (proxy.waited() - waited) / u32::try_from(runs)?,
    ))
}
