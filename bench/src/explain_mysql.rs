//! Why the MySQL ratios are what they are: round trips per operation counted at the wire (a
//! pass-through proxy that counts the client's commands), priced at one measured round trip and
//! set against the gap the ratio table measured; and what folding readiness into `get` costs.

use std::time::Duration;

use anyhow::{Result, ensure};
use mysql::prelude::Queryable;
use user_engine_mysql::testing::IsolatedDatabase;

use crate::explain::{count, measured, per_call};
use crate::raw_mysql::{self, RawMysql};
use crate::report::{Row, duration};
use crate::wire::CountingProxy;
use crate::workload::{Adapter, LIST_TENANT, Operation, Subject, list_record, prepare};

/// The adapter's `get` (`adapters/mysql/src/store.rs`): the recorded migrations beside the record,
/// one row even when the record is absent, so readiness rides on the read.
const FOLDED_GET: &str =
    "SELECT (SELECT GROUP_CONCAT(CONCAT(version, ':', checksum) ORDER BY version \
     SEPARATOR ',') FROM user_engine_schema_versions),
            r.tenant_id, r.kind, r.record_id, r.user_id, r.payload, r.version
     FROM (SELECT 1) AS one
     LEFT JOIN user_engine_records AS r
            ON r.tenant_id = ? AND r.kind = ? AND r.record_id = ? AND r.deleted = 0";

/// MySQL: round trips per operation, counted at the wire, priced at one measured round trip.
pub fn mysql(url: &str, rows: &[Row]) -> Result<Vec<String>> {
    let proxy = CountingProxy::start_mysql(url)?;
    let proxied = proxy.mysql_url_for(url)?;
    // One round trip on an open connection, without the proxy in between (and, like the
    // benchmark's own connections, over the server's socket when the driver finds one).
    let mut conn = raw_mysql::connect(&raw_mysql::options(url)?, None)?;
    let select_one = conn.prep("SELECT 1")?;
    let round_trip = per_call(500, || {
        let _: Option<i64> = conn.exec_first(&select_one, ())?;
        Ok(())
    })?;
    let (get, folded) = get_alone_and_folded(url)?;
    let mut lines = vec![
        format!(
            "mysql: one round trip (prepared SELECT 1, open connection) = {}",
            duration(round_trip)
        ),
        format!(
            "  a raw get is {}; the adapter's get, with the recorded migrations read in the same \
             statement (one round trip), replayed by hand {} = {:.2}× raw",
            duration(get),
            duration(folded),
            folded.as_secs_f64() / get.as_secs_f64()
        ),
        format!(
            "  {:<34} {:>9} {:>9} {:>18} {:>14}",
            "round trips per operation", "adapter", "raw", "extra × 1 trip", "measured gap"
        ),
    ];
    for operation in Operation::ALL {
        let adapter = Adapter::new(IsolatedDatabase::create(&proxied)?)?;
        let raw = RawMysql::create(&proxied)?;
        prepare(operation, &adapter, &raw)?;
        let (a, r) = (
            count(&proxy, operation, &adapter)?,
            count(&proxy, operation, &raw)?,
        );
        let extra = round_trip.mul_f64((a - r).max(0.0));
        let gap = measured(rows, "mysql", operation).map_or_else(
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

/// A raw get, and the same get carrying the recorded migrations as the adapter's does, on one
/// open connection to a baseline database.
fn get_alone_and_folded(url: &str) -> Result<(Duration, Duration)> {
    let raw = RawMysql::create(url)?;
    raw.seed_list_tenant()?;
    let mut conn = raw_mysql::connect(&raw_mysql::options(url)?, Some(raw.database()))?;
    conn.query_drop(
        "INSERT INTO user_engine_schema_versions (version, name, checksum)
         VALUES (1, '0001_user_engine_store', 'a'), (2, '0002_versions_survive_delete', 'b')",
    )?;
    let alone = conn.prep(
        "SELECT tenant_id, kind, record_id, user_id, payload, version FROM user_engine_records
         WHERE tenant_id = ? AND kind = ? AND record_id = ? AND deleted = 0",
    )?;
    let folded = conn.prep(FOLDED_GET)?;
    let (kind, id, _) = list_record(7);
    let mut time_of = |statement: &mysql::Statement| {
        per_call(300, || {
            let rows: Vec<mysql::Row> = conn.exec(statement, (LIST_TENANT, kind, &id))?;
            ensure!(rows.len() == 1, "expected one row");
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
