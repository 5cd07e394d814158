//! The MySQL/MariaDB store behind `mysql://…` (or `mariadb://…`): for `conformance`, a fresh
//! database per scenario beside the one the URL names (the adapter's `IsolatedDatabase`), dropped
//! when the scenario ends; for the single-store commands, the tables in the database the URL names.

use anyhow::{Result, anyhow};
use user_engine::UserEngineStore;
use user_engine::conformance::spec::Scenario;
use user_engine::conformance::{RunOptions, ScenarioOutcome, SnapshotCheck, run_scenario};
use user_engine_mysql::MysqlUserEngineStore;
use user_engine_mysql::testing::{self, IsolatedDatabase};

use crate::store_url::{mysql_driver_url, redact_password};

/// A server that answered and let us create (and drop) a database.
pub struct MysqlBackend {
    /// The URL as the driver takes it (`mariadb://` spelled `mysql://`).
    url: String,
}

/// The URL the driver takes; [`StoreUrl::parse`](crate::store_url::StoreUrl::parse) has checked
/// its shape already, so this only fails for a value that did not come through it.
fn driver_url(url: &str) -> Result<String> {
    mysql_driver_url(url).ok_or_else(|| anyhow!("{:?} is not a mysql:// url", redact_password(url)))
}

impl MysqlBackend {
    /// Creates and drops one database, so an unreachable server or a missing privilege is one
    /// error before the run rather than a failure in every scenario.
    pub fn connect(url: &str) -> Result<Self> {
        let driver = driver_url(url)?;
        // Databases that runs killed hard left behind; a live run's are never touched.
        if let Ok(dropped) = testing::drop_abandoned(&driver) {
            super::report_abandoned(&dropped, "mysql database");
        }
        // The URL was checked when it was parsed, so what can fail here is the server: its
        // message names host and port, never the password or where the URL came from.
        let probe = IsolatedDatabase::create(&driver)
            .map_err(|e| anyhow!("cannot use {}: {e}", redact_password(url)))?;
        drop(probe);
        Ok(Self { url: driver })
    }

    /// Runs one scenario in a database of its own. The database outlives the scenario's stores
    /// (which the runner drops, even when the scenario panics) and is dropped right after.
    pub fn run(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
        snapshots: &SnapshotCheck<'_>,
    ) -> ScenarioOutcome {
        let database = match IsolatedDatabase::create(&self.url) {
            Ok(database) => database,
            Err(e) => {
                let why = format!("cannot create a fresh database: {e}");
                return run_scenario(
                    scenario,
                    &move || -> MysqlUserEngineStore { panic!("{why}") },
                    options,
                    snapshots,
                );
            }
        };
        let factory = || match database.connect_another() {
            Ok(store) => store,
            Err(e) => panic!("cannot connect to database {}: {e}", database.name()),
        };
        run_scenario(scenario, &factory, options, snapshots)
    }
}

/// Opens the store whose tables live in the database the URL names.
pub fn open_single(url: &str) -> Result<Box<dyn UserEngineStore>> {
    let store = MysqlUserEngineStore::connect(&driver_url(url)?)?;
    Ok(Box::new(store))
}
