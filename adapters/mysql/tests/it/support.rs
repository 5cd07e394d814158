//! Helpers the test modules share: a fresh database per test, raw rows, and (from
//! `user_engine::conformance::checks`) keys, writes and one-write transactions.

use mysql::prelude::Queryable;
use user_engine::UserEngineStore;
use user_engine_mysql::testing::IsolatedDatabase;

/// A fresh, unmigrated store in a database of its own (dropped with it).
pub fn database() -> IsolatedDatabase {
    match IsolatedDatabase::from_env() {
        Ok(Some(db)) => db,
        Ok(None) => panic!("USER_ENGINE_MYSQL_URL is not set (this test was built with it set)"),
        Err(err) => panic!("no test database: {err}"),
    }
}

/// A fresh store, migrated.
pub fn migrated() -> IsolatedDatabase {
    let db = database();
    db.migrate().expect("migrate a fresh database");
    db
}

// The builders every adapter's tests share.
pub use user_engine::conformance::checks::{key, save, tenant, write};

/// Runs one query on a raw connection to the test database and returns its rows as text.
pub fn raw_rows(db: &IsolatedDatabase, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut conn = db.raw_connection().unwrap();
    let rows: Vec<mysql::Row> = conn.query(sql).unwrap();
    rows.into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql::Value::NULL) | None => None,
                    Some(mysql::Value::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into()),
                    Some(other) => Some(other.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

/// Runs SQL text (several statements allowed) on a raw connection, checking every statement.
pub fn raw_batch(db: &IsolatedDatabase, sql: &str) -> Result<(), mysql::Error> {
    let mut conn = db.raw_connection().unwrap();
    let mut result = conn.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            row?;
        }
    }
    Ok(())
}
