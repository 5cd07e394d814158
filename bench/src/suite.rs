//! The conformance suite's own cost: the whole embedded spec through `run_spec` per adapter, the
//! median scenario, and for PostgreSQL and MySQL what one isolated test costs to set up and tear
//! down.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use user_engine::UserEngineStore;
use user_engine::conformance::spec::Spec;
use user_engine::conformance::{
    RunOptions, SnapshotCheck, Status, Stores, run_scenario_with, run_spec_with,
};
use user_engine_conformance_spec_embedded::embedded;
use user_engine_mysql::testing::IsolatedDatabase;
use user_engine_postgres::testing::IsolatedSchema;

use crate::raw_postgres::{self, MIGRATION};
use crate::timing::{median_duration, time};

/// What running the spec cost one adapter.
#[derive(Debug)]
pub struct SuiteCost {
    pub adapter: &'static str,
    pub scenarios: usize,
    pub passed: usize,
    pub skipped: usize,
    /// Ids of failed scenarios: a failing suite's timing is not the suite's cost.
    pub failed: Vec<String>,
    /// Median wall time of one `run_spec` over the whole spec.
    pub wall: Duration,
    pub wall_runs: usize,
    /// Median over scenarios of each scenario's median time (one `run_scenario`, store included).
    pub per_scenario: Duration,
    /// The slowest scenario and its median time.
    pub slowest: (String, Duration),
}

/// The embedded spec, loaded once.
pub fn embedded_spec() -> Result<&'static Spec> {
    embedded().map_err(|errors| anyhow!("the embedded conformance spec is invalid:\n{errors}"))
}

/// Runs the spec `runs` times through `run_spec` and every scenario `runs` times on its own,
/// declaring `capabilities` as the adapter's own suite does: the caller passes the list the
/// adapter publishes (`InMemoryUserEngineStore::CAPABILITIES`, `user_engine_sqlite::CAPABILITIES`,
/// …), never a copy that could drift from it.
pub fn measure<S: UserEngineStore>(
    adapter: &'static str,
    capabilities: &[&str],
    stores: &Stores<'_, S>,
    runs: usize,
) -> Result<SuiteCost> {
    let spec = embedded_spec()?;
    let options = RunOptions::with_capabilities(capabilities.iter().copied());
    let mut walls = Vec::with_capacity(runs);
    let mut last = Vec::new();
    for _ in 0..runs {
        let (outcomes, elapsed) = time(|| Ok(run_spec_with(spec, stores, &options)))?;
        walls.push(elapsed);
        last = outcomes;
    }
    let snapshots = SnapshotCheck::Loaded(&spec.snapshots);
    let mut per_scenario: Vec<(String, Vec<Duration>)> = spec
        .scenarios
        .iter()
        .map(|s| (s.id.clone(), Vec::with_capacity(runs)))
        .collect();
    for _ in 0..runs {
        for (scenario, (_, times)) in spec.scenarios.iter().zip(&mut per_scenario) {
            let (_, elapsed) =
                time(|| Ok(run_scenario_with(scenario, stores, &options, &snapshots)))?;
            times.push(elapsed);
        }
    }
    let medians: Vec<(String, Duration)> = per_scenario
        .into_iter()
        .map(|(id, times)| (id, median_duration(&times)))
        .collect();
    let slowest = medians
        .iter()
        .max_by_key(|(_, t)| *t)
        .cloned()
        .unwrap_or_default();
    let all: Vec<Duration> = medians.iter().map(|(_, t)| *t).collect();
    Ok(SuiteCost {
        adapter,
        scenarios: last.len(),
        passed: last.iter().filter(|o| o.passed()).count(),
        skipped: last
            .iter()
            .filter(|o| matches!(o.status, Status::Skipped { .. }))
            .count(),
        failed: last
            .iter()
            .filter(|o| o.failure().is_some())
            .map(|o| o.id.clone())
            .collect(),
        wall: median_duration(&walls),
        wall_runs: runs,
        per_scenario: median_duration(&all),
        slowest,
    })
}

/// What one isolated PostgreSQL test costs, and what its parts cost, as medians.
#[derive(Debug)]
pub struct IsolatedSetup {
    pub samples: usize,
    /// `IsolatedSchema::create`: an admin connection, `CREATE SCHEMA`, the store's first connection.
    pub create: Duration,
    /// The store's `migrate` on that fresh schema.
    pub migrate: Duration,
    /// Both together, per sample: the target's "one isolated test".
    pub setup: Duration,
    /// Dropping the `IsolatedSchema` (another admin connection, `DROP SCHEMA … CASCADE`).
    pub teardown: Duration,
    /// The drop itself, which runs after the test on the teardown thread (`scratch::later`).
    pub teardown_job: Duration,
    /// A bare `postgres` connection to the server.
    pub connect: Duration,
    /// Raw floor on one open connection: `CREATE SCHEMA` and the migration file in one
    /// transaction, sent as one batch (one round trip, one commit).
    pub one_batch: Duration,
    /// The same with `SET LOCAL synchronous_commit = off` (test data need not survive a crash).
    pub one_batch_async: Duration,
    /// Recycling a pre-migrated schema instead: `TRUNCATE … RESTART IDENTITY` of every table and
    /// a sequence restart, on one open connection.
    pub truncate: Duration,
    /// Recycling with `DELETE` and sequence restarts, `synchronous_commit = off`.
    pub delete: Duration,
    /// `IsolatedSchema::migrated` from the pool (a schema an earlier sample returned): the
    /// setup of a test that starts migrated.
    pub pooled: Duration,
    /// Dropping a pooled `IsolatedSchema`: emptying it and putting it back.
    pub pooled_teardown: Duration,
    /// The emptying and pooling, after the test on the teardown thread.
    pub pooled_teardown_job: Duration,
}

/// Waits for the teardown handed to the background thread (`scratch::later`) to finish.
fn settled() -> Result<()> {
    user_engine::testing::scratch::settle();
    Ok(())
}

/// Measures `samples` isolated setups and the alternatives, interleaved.
pub fn isolated_setup(url: &str, samples: usize) -> Result<IsolatedSetup> {
    let mut create = Vec::new();
    let mut migrate = Vec::new();
    let mut setup = Vec::new();
    let mut teardown = Vec::new();
    let mut connect = Vec::new();
    let mut one_batch = Vec::new();
    let mut one_batch_async = Vec::new();
    let mut truncate = Vec::new();
    let mut delete = Vec::new();
    let mut pooled = Vec::new();
    let mut pooled_teardown = Vec::new();
    let (mut teardown_job, mut pooled_teardown_job) = (Vec::new(), Vec::new());
    let mut admin = raw_postgres::connect(url)?;
    let recycled = raw_postgres::unique_schema("ue_bench_recycle");
    admin.batch_execute(&format!(
        "CREATE SCHEMA \"{recycled}\"; SET search_path TO \"{recycled}\"; BEGIN; {MIGRATION} COMMIT;"
    ))?;
    let result = (|| -> Result<()> {
        // One untimed round warms the server's catalog caches.
        for sample in 0..=samples {
            let (schema, t_create) = time(|| Ok(IsolatedSchema::create(url)?))?;
            let (_, t_migrate) = time(|| Ok(schema.migrate()?))?;
            let ((), t_drop) = time(|| {
                drop(schema);
                Ok(())
            })?;
            let ((), t_drop_job) = time(settled)?;
            // The first sample fills the pool; later ones take the schema it returned.
            let (schema, t_pooled) = time(|| Ok(IsolatedSchema::migrated(url)?))?;
            ensure!(
                schema.readiness().is_ready(),
                "a pooled schema is not ready"
            );
            let ((), t_pooled_drop) = time(|| {
                drop(schema);
                Ok(())
            })?;
            let ((), t_pooled_drop_job) = time(settled)?;
            let (client, t_connect) = time(|| raw_postgres::connect(url))?;
            drop(client);
            let name = raw_postgres::unique_schema("ue_bench_batch");
            let ((), t_batch) = time(|| {
                admin.batch_execute(&format!(
                    "CREATE SCHEMA \"{name}\"; SET search_path TO \"{name}\"; BEGIN; {MIGRATION} COMMIT;"
                ))?;
                Ok(())
            })?;
            admin.batch_execute(&format!("DROP SCHEMA \"{name}\" CASCADE"))?;
            let name = raw_postgres::unique_schema("ue_bench_batch");
            let ((), t_batch_async) = time(|| {
                admin.batch_execute(&format!(
                    "BEGIN; SET LOCAL synchronous_commit = off; CREATE SCHEMA \"{name}\";
                     SET LOCAL search_path TO \"{name}\"; {MIGRATION} COMMIT;"
                ))?;
                Ok(())
            })?;
            admin.batch_execute(&format!("DROP SCHEMA \"{name}\" CASCADE"))?;
            let ((), t_delete) = time(|| {
                admin.batch_execute(&format!(
                    "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL search_path TO \"{recycled}\";
                     DELETE FROM user_engine_records; DELETE FROM user_engine_audit_records;
                     DELETE FROM user_engine_outbox_events;
                     ALTER SEQUENCE user_engine_audit_records_sequence_seq RESTART;
                     ALTER SEQUENCE user_engine_outbox_events_id_seq RESTART;
                     ALTER SEQUENCE user_engine_outbox_commit_seq RESTART; COMMIT;"
                ))?;
                Ok(())
            })?;
            let ((), t_truncate) = time(|| {
                admin.batch_execute(&format!(
                    "SET search_path TO \"{recycled}\";
                     TRUNCATE user_engine_records, user_engine_audit_records, user_engine_outbox_events RESTART IDENTITY;
                     ALTER SEQUENCE user_engine_outbox_commit_seq RESTART;"
                ))?;
                Ok(())
            })?;
            if sample == 0 {
                continue;
            }
            create.push(t_create);
            migrate.push(t_migrate);
            setup.push(t_create + t_migrate);
            teardown.push(t_drop);
            teardown_job.push(t_drop_job);
            connect.push(t_connect);
            one_batch.push(t_batch);
            one_batch_async.push(t_batch_async);
            truncate.push(t_truncate);
            delete.push(t_delete);
            pooled.push(t_pooled);
            pooled_teardown.push(t_pooled_drop);
            pooled_teardown_job.push(t_pooled_drop_job);
        }
        Ok(())
    })();
    user_engine_postgres::testing::drop_pooled();
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{recycled}\" CASCADE"))
        .context("dropping the recycled benchmark schema")?;
    result?;
    ensure!(!setup.is_empty(), "no isolated setup was measured");
    Ok(IsolatedSetup {
        samples: setup.len(),
        create: median_duration(&create),
        migrate: median_duration(&migrate),
        setup: median_duration(&setup),
        teardown: median_duration(&teardown),
        teardown_job: median_duration(&teardown_job),
        connect: median_duration(&connect),
        one_batch: median_duration(&one_batch),
        one_batch_async: median_duration(&one_batch_async),
        truncate: median_duration(&truncate),
        delete: median_duration(&delete),
        pooled: median_duration(&pooled),
        pooled_teardown: median_duration(&pooled_teardown),
        pooled_teardown_job: median_duration(&pooled_teardown_job),
    })
}

/// What one isolated MySQL test costs (`IsolatedDatabase`), as medians.
#[derive(Debug)]
pub struct IsolatedDatabaseSetup {
    pub samples: usize,
    /// `IsolatedDatabase::create`: an admin connection, `CREATE DATABASE`, the store's first
    /// connection.
    pub create: Duration,
    /// The store's `migrate` on that fresh database.
    pub migrate: Duration,
    /// Both together, per sample.
    pub setup: Duration,
    /// Dropping the `IsolatedDatabase` (another admin connection, `DROP DATABASE`).
    pub teardown: Duration,
    /// The drop itself, which runs after the test on the teardown thread (`scratch::later`).
    pub teardown_job: Duration,
    /// A bare `mysql` connection to the server, session set up as the adapter's.
    pub connect: Duration,
    /// `IsolatedDatabase::migrated` from the pool: the setup of a test that starts migrated.
    pub pooled: Duration,
    /// Dropping a pooled `IsolatedDatabase`: emptying it and putting it back.
    pub pooled_teardown: Duration,
    /// The emptying and pooling, after the test on the teardown thread.
    pub pooled_teardown_job: Duration,
}

/// Measures `samples` isolated MySQL setups, after one untimed round.
pub fn isolated_database_setup(url: &str, samples: usize) -> Result<IsolatedDatabaseSetup> {
    let opts = crate::raw_mysql::options(url)?;
    let (mut create, mut migrate, mut setup, mut teardown, mut connect) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut pooled, mut pooled_teardown) = (Vec::new(), Vec::new());
    let (mut teardown_job, mut pooled_teardown_job) = (Vec::new(), Vec::new());
    for sample in 0..=samples {
        // The first sample fills the pool; later ones take the database it returned.
        let (database, t_pooled) = time(|| Ok(IsolatedDatabase::migrated(url)?))?;
        ensure!(
            database.readiness().is_ready(),
            "a pooled database is not ready"
        );
        let ((), t_pooled_drop) = time(|| {
            drop(database);
            Ok(())
        })?;
        let ((), t_pooled_drop_job) = time(settled)?;
        let (database, t_create) = time(|| Ok(IsolatedDatabase::create(url)?))?;
        let (_, t_migrate) = time(|| Ok(database.migrate()?))?;
        let ((), t_drop) = time(|| {
            drop(database);
            Ok(())
        })?;
        let ((), t_drop_job) = time(settled)?;
        let (conn, t_connect) = time(|| crate::raw_mysql::connect(&opts, None))?;
        drop(conn);
        if sample == 0 {
            continue;
        }
        create.push(t_create);
        migrate.push(t_migrate);
        setup.push(t_create + t_migrate);
        teardown.push(t_drop);
        teardown_job.push(t_drop_job);
        connect.push(t_connect);
        pooled.push(t_pooled);
        pooled_teardown.push(t_pooled_drop);
        pooled_teardown_job.push(t_pooled_drop_job);
    }
    user_engine_mysql::testing::drop_pooled();
    ensure!(!setup.is_empty(), "no isolated setup was measured");
    Ok(IsolatedDatabaseSetup {
        samples: setup.len(),
        create: median_duration(&create),
        migrate: median_duration(&migrate),
        setup: median_duration(&setup),
        teardown: median_duration(&teardown),
        teardown_job: median_duration(&teardown_job),
        connect: median_duration(&connect),
        pooled: median_duration(&pooled),
        pooled_teardown: median_duration(&pooled_teardown),
        pooled_teardown_job: median_duration(&pooled_teardown_job),
    })
}
