//! The binary against a real PostgreSQL server, named by `USER_ENGINE_POSTGRES_URL`. Without it
//! these tests are listed as ignored (`#[user_engine::needs_env]` reads the variable at build time);
//! with `USER_ENGINE_REQUIRE_POSTGRES=1` a missing variable or an unreachable server fails them.

use serde_json::Value;
use user_engine_conformance_spec_embedded::embedded;
use user_engine_postgres::testing::{IsolatedSchema, postgres_required, url_from_env};

use crate::{Run, Sandbox};

/// `postgres:URL` when the tests should run; `None` after saying why they are skipped.
fn server(sandbox: &Sandbox) -> Option<String> {
    let url = url_from_env()?; // prints the skip, or panics when PostgreSQL is required
    let store = format!("postgres:{url}");
    let probe = sandbox.run(&[
        "readiness",
        "--store",
        &store,
        "--schema",
        "user_engine_cli_probe",
    ]);
    if probe.status == 2 {
        assert!(
            !postgres_required(),
            "USER_ENGINE_REQUIRE_POSTGRES=1 but the server is unreachable: {}",
            probe.stderr
        );
        println!(
            "skipped: the server in USER_ENGINE_POSTGRES_URL is unreachable: {}",
            probe.stderr.trim_end()
        );
        return None;
    }
    Some(store)
}

/// Runs `user-engine conformance --store memory --store STORE ARGS...` and expects it to pass.
fn conformance_beside_memory(sandbox: &Sandbox, store: &str, args: &[&str]) -> Run {
    let mut full = vec!["conformance", "--store", "memory", "--store", store];
    full.extend_from_slice(args);
    let run = sandbox.run(&full);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn the_whole_spec_passes_on_postgres_beside_the_reference() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let run = conformance_beside_memory(&sandbox, &store, &["--format", "json"]);
    let document: Value = serde_json::from_str(&run.stdout).expect("--format json prints JSON");
    let n = embedded().unwrap().scenarios.len();
    let tally = &document["tally"];
    assert_eq!(tally["failed"], 0, "{}", run.stdout);
    let counted = tally["passed"].as_u64().unwrap() + tally["skipped"].as_u64().unwrap();
    assert_eq!(counted, 2 * n as u64);
    assert_eq!(document["stores"][1]["label"], "postgres");
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn the_compliance_matrix_has_a_postgres_column() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let run = conformance_beside_memory(
        &sandbox,
        &store,
        &["--store", "sqlite:", "--filter", "outbox/late"],
    );
    let matrix = run
        .stdout
        .split("compliance matrix (scenario × store)\n")
        .nth(1)
        .expect("a matrix");
    let header = matrix.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["scenario", "memory", "postgres", "sqlite"]
    );
    assert!(
        matrix
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .all(|l| l.split_whitespace().skip(1).all(|w| w == "pass")),
        "{matrix}"
    );
    assert!(
        run.stdout.contains("\npostgres (postgres:"),
        "{}",
        run.stdout
    );
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn migrate_readiness_and_diagnostics_on_a_schema() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let url = store.strip_prefix("postgres:").unwrap();
    // The adapter's test support makes a fresh schema and drops it at the end of the test.
    let schema = IsolatedSchema::create(url).expect("create a schema");
    let name = schema.name();
    let run = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend(["--store", &store, "--schema", name]);
        sandbox.run(&full)
    };
    // Runs ARGS on the schema, expects STATUS, and returns what it printed.
    let stdout_of = |args: &[&str], status: i32| {
        let done = run(args);
        assert_eq!(done.status, status, "{}", done.stderr);
        done.stdout
    };
    let not_ready = stdout_of(&["readiness"], 1);
    assert!(
        not_ready.ends_with(": not ready: not migrated (latest schema version is 2)\n"),
        "{not_ready}"
    );
    let migrated = stdout_of(&["migrate"], 0);
    assert!(
        migrated.contains(": applied migration 1 (0001_user_engine_store)"),
        "{migrated}"
    );
    assert!(
        run(&["migrate"])
            .stdout
            .ends_with(": nothing to apply; schema version 2 is the latest\n")
    );
    let ready = run(&["readiness"]);
    assert_eq!(ready.status, 0, "{}", ready.stdout);
    assert!(ready.stdout.ends_with(": ready at schema version 2\n"));

    // Same logical state, same canonical rendering as the embedded store.
    let diagnostics = stdout_of(&["diagnostics"], 0);
    assert_eq!(
        sandbox
            .run(&["migrate", "--store", "sqlite:same.db"])
            .status,
        0
    );
    assert_eq!(
        diagnostics,
        sandbox
            .run(&["diagnostics", "--store", "sqlite:same.db"])
            .stdout
    );
}

/// The schemas whose name starts with `prefix`.
fn schemas_named(client: &mut postgres::Client, prefix: &str) -> Vec<String> {
    client
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1",
            &[&prefix],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A run's schemas all carry its process id (`ue_test_<pid>t<time>_<n>`): SIGINT and SIGTERM in
/// the middle of a run leave none of them, and the status is 128 + the signal. Each run first
/// drops the schemas of runs that are gone — a new-style name whose owner session is gone and an
/// old-style one — and keeps one whose owner session is open, as a live run's on another host
/// would be.
#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn an_interrupted_run_leaves_no_schema_and_a_run_drops_what_dead_runs_left() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let url = url_from_env().unwrap();
    let mut client: postgres::Client = url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    let mut live_owner = {
        let mut config: postgres::Config = url.parse().unwrap();
        config.application_name("ue_owner_2t2");
        config.connect(postgres::NoTls).unwrap()
    };
    client
        .batch_execute(
            "DROP SCHEMA IF EXISTS ue_test_1t1_0, ue_test_99_0_00000000, ue_test_2t2_0 CASCADE;
             CREATE SCHEMA ue_test_1t1_0; CREATE SCHEMA ue_test_99_0_00000000; CREATE SCHEMA ue_test_2t2_0",
        )
        .unwrap();
    crate::interrupted_runs_leave_nothing(&sandbox, &store, |prefix| {
        schemas_named(&mut client, prefix)
    });
    assert_eq!(
        schemas_named(&mut client, "ue_test_1t1_0"),
        Vec::<String>::new()
    );
    assert_eq!(
        schemas_named(&mut client, "ue_test_2t2_0"),
        ["ue_test_2t2_0"],
        "a live run's schema is kept"
    );
    live_owner
        .batch_execute("DROP SCHEMA ue_test_2t2_0")
        .unwrap();
}
