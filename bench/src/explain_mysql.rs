//! Why the MySQL ratios are what they are: round trips per operation counted at the wire (a
//! pass-through proxy that counts the client's commands), priced at one measured round trip and
//! set against the gap the ratio table measured.

use anyhow::Result;
use mysql::prelude::Queryable;
use user_engine_mysql::testing::IsolatedDatabase;

use crate::explain::{count, measured, per_call};
use crate::raw_mysql::{self, RawMysql};
use crate::report::{Row, duration};
use crate::wire::CountingProxy;
use crate::workload::{Adapter, Operation, prepare};

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
    let mut lines = vec![
        format!(
            "mysql: one round trip (prepared SELECT 1, open connection) = {}",
            duration(round_trip)
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
    let adapter = Adapter::new(IsolatedDatabase::create(url)?)?;
    let raw = RawMysql::create(url)?;
    lines.push(crate::explain::drain_split("mysql", &adapter, &raw)?);
    Ok(lines)
}
