//! Why the MySQL ratios are what they are: round trips per operation counted at the wire (a
//! pass-through proxy that counts the client's commands), priced at one measured round trip and
//! set against the gap the ratio table measured.

use std::time::Duration;

use anyhow::Result;
use mysql::prelude::Queryable;
use user_engine_mysql::testing::IsolatedDatabase;

use crate::explain::{count, per_call};
use crate::raw_mysql::{self, Guard, RawMysql};
use crate::report::{Row, duration};
use crate::timing::{Comparison, Plan, Workload, compare};
use crate::wire::CountingProxy;
use crate::workload::{Adapter, LIST_TENANT, Operation, Subject, prepare};

/// MySQL: round trips per operation, counted at the wire, priced at one measured round trip.
pub fn mysql(url: &str, rows: &[Row], plan: &Plan) -> Result<Vec<String>> {
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
    let mut lines = vec![
        format!(
            "mysql: one round trip (prepared SELECT 1, open connection) = {}",
            duration(round_trip)
        ),
        crate::explain::trips_header(),
    ];
    for operation in Operation::ALL {
        let adapter = Adapter::new(IsolatedDatabase::create(&proxied)?)?;
        let raw = RawMysql::create(&proxied)?;
        prepare(operation, &adapter, &raw)?;
        let counted = (
            count(&proxy, operation, &adapter)?,
            count(&proxy, operation, &raw)?,
        );
        lines.push(crate::explain::trips_row(
            "mysql", operation, counted, round_trip, rows,
        ));
    }
    let adapter = Adapter::new(IsolatedDatabase::create(url)?)?;
    let raw = RawMysql::create(url)?;
    lines.push(crate::explain::drain_split("mysql", &adapter, &raw)?);
    lines.push(crate::explain::drain_split_as(
        "mysql drain, raw with the adapter's acknowledge statement for contiguous ids, which the \
         drain's are (existence counted over one range, readiness, in it) against raw",
        &RawMysql::create_checked(url, Guard::Range)?,
        &RawMysql::create(url)?,
    )?);
    lines.push(crate::explain::drain_split_as(
        "mysql drain, raw with the adapter's acknowledge statement for ids with gaps (each id \
         looked up again, readiness, in it) against raw",
        &RawMysql::create_checked(url, Guard::Listed)?,
        &RawMysql::create(url)?,
    )?);
    if let Some(save) = crate::explain::measured(rows, "mysql", Operation::Save) {
        let checked = checked_save(url, plan)?;
        lines.push(format!(
            "  mysql save taken apart: raw with the adapter's commit readiness check written in \
             (one statement inside the transaction, before COMMIT) {:.2}× raw (IQR {:.2}–{:.2}); \
             the adapter {:.2}× raw",
            checked.ratio,
            checked.ratio_quartiles.0,
            checked.ratio_quartiles.1,
            save.comparison.ratio
        ));
    }
    let (parsed, validated) = list_conversion(url)?;
    lines.push(crate::explain::list_line("mysql", parsed, validated));
    Ok(lines)
}

/// Raw's save with the adapter's commit readiness check added, against raw's own save, each on a
/// fresh database, measured as the ratio table measures.
fn checked_save(url: &str, plan: &Plan) -> Result<Comparison> {
    let checked = RawMysql::create(url)?;
    let raw = RawMysql::create(url)?;
    let mut a = Workload::Repeat(Box::new(|n| checked.save_one_checked(n).map(drop)));
    let mut b = Workload::Repeat(Box::new(|n| raw.save_one(n).map(drop)));
    compare(plan, &mut a, &mut b)
}

/// The raw list statement on one open connection, its rows parsed both ways
/// ([`crate::explain::list_conversion`]).
fn list_conversion(url: &str) -> Result<(Duration, Duration)> {
    let raw = RawMysql::create(url)?;
    raw.seed_list_tenant()?;
    let mut conn = raw_mysql::connect(&raw_mysql::options(url)?, Some(raw.database()))?;
    let list = conn.prep(
        "SELECT tenant_id, kind, record_id, user_id, payload, version FROM user_engine_records
         WHERE tenant_id = ? AND deleted = 0 ORDER BY kind, record_id",
    )?;
    crate::explain::list_conversion(|| Ok(conn.exec(&list, (LIST_TENANT,))?))
}
