//! The PostgreSQL store behind `postgres:CONNINFO`: for `conformance`, a fresh schema per scenario
//! (the adapter's `IsolatedSchema`), dropped when the scenario ends; for the single-store
//! commands, the tables in one named schema.

use anyhow::{Result, anyhow};
use user_engine::conformance::spec::Scenario;
use user_engine::conformance::{RunOptions, ScenarioOutcome, SnapshotCheck, run_scenario};
use user_engine::{StoreError, UserEngineStore};
use user_engine_postgres::PostgresUserEngineStore;
use user_engine_postgres::testing::{self, IsolatedSchema};

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
        // Schemas that runs killed hard left behind; a live run's are never touched.
        if let Ok(dropped) = testing::drop_abandoned(conninfo) {
            super::report_abandoned(&dropped, "postgresql schema");
        }
        let probe = IsolatedSchema::create(conninfo)
            .map_err(|e| anyhow!("cannot use {}: {}", shown(conninfo), in_the_users_words(&e)))?;
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
                let why = format!("cannot create a fresh schema: {}", in_the_users_words(&e));
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

/// `postgres:CONNINFO`, or the URL as given, password redacted.
fn shown(conninfo: &str) -> String {
    let redacted = redact_password(conninfo);
    if redacted.contains("://") {
        redacted
    } else {
        format!("postgres:{redacted}")
    }
}

/// The adapter's test support words a malformed connection string for test authors (naming
/// itself and its environment variable); a user of the command gets the store's own wording.
fn in_the_users_words(error: &StoreError) -> String {
    let text = error.to_string();
    if text.contains("IsolatedSchema") || text.contains("USER_ENGINE_") {
        "malformed postgresql connection string; expected key=value pairs such as \
         `host=127.0.0.1 user=root dbname=test` or a URL such as `postgres://root@127.0.0.1:5432/test`"
            .to_owned()
    } else {
        text
    }
}

/// Opens the store whose tables live in `schema` (default [`DEFAULT_SCHEMA`]).
pub fn open_single(conninfo: &str, schema: Option<&str>) -> Result<Box<dyn UserEngineStore>> {
    let schema = schema.unwrap_or(DEFAULT_SCHEMA);
    let store = PostgresUserEngineStore::connect(conninfo, schema)?;
    Ok(Box::new(store))
}
