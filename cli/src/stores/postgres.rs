//! The PostgreSQL store behind `postgres:CONNINFO`: for `conformance`, a fresh schema per scenario
//! (the adapter's `IsolatedSchema`), dropped when the scenario ends; for the single-store
//! commands, the tables in one named schema.

use anyhow::{Context, Result};
use user_engine::UserEngineStore;
use user_engine::conformance::spec::Scenario;
use user_engine::conformance::{RunOptions, ScenarioOutcome, SnapshotCheck, run_scenario};
use user_engine_postgres::PostgresUserEngineStore;
use user_engine_postgres::testing::IsolatedSchema;

use crate::store_url::redact_password;

/// The schema the single-store commands use unless `--schema` names another.
pub const DEFAULT_SCHEMA: &str = "user_engine";

/// A server that answered and let us create (and drop) a schema.
pub struct PostgresBackend {
    conninfo: String,
}

impl PostgresBackend {
    /// Creates and drops one schema, so an unreachable server or a missing privilege is one error
    /// before the run rather than a failure in every scenario.
    pub fn connect(conninfo: &str) -> Result<Self> {
        let probe = IsolatedSchema::create(conninfo)
            .with_context(|| format!("cannot use postgres:{}", redact_password(conninfo)))?;
        drop(probe);
        Ok(Self {
            conninfo: conninfo.to_owned(),
        })
    }

    /// Runs one scenario in a schema of its own. The schema outlives the scenario's store (which
    /// the runner drops, even when the scenario panics) and is dropped right after.
    pub fn run(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
        snapshots: &SnapshotCheck<'_>,
    ) -> ScenarioOutcome {
        let schema = match IsolatedSchema::create(&self.conninfo) {
            Ok(schema) => schema,
            Err(e) => {
                let why = format!("cannot create a fresh schema: {e}");
                return run_scenario(
                    scenario,
                    &move || -> PostgresUserEngineStore { panic!("{why}") },
                    options,
                    snapshots,
                );
            }
        };
        let factory = || match schema.connect_another() {
            Ok(store) => store,
            Err(e) => panic!("cannot connect to schema {}: {e}", schema.name()),
        };
        run_scenario(scenario, &factory, options, snapshots)
    }
}

/// Opens the store whose tables live in `schema` (default [`DEFAULT_SCHEMA`]).
pub fn open_single(conninfo: &str, schema: Option<&str>) -> Result<Box<dyn UserEngineStore>> {
    let schema = schema.unwrap_or(DEFAULT_SCHEMA);
    let store = PostgresUserEngineStore::connect(conninfo, schema)?;
    Ok(Box::new(store))
}
