//! The binary against a real MySQL/MariaDB server, named by `USER_ENGINE_MYSQL_URL`. Without it
//! these tests are listed as ignored (`#[user_engine::needs_env]` reads the variable at build time);
//! with `USER_ENGINE_REQUIRE_MYSQL=1` a missing variable or an unreachable server fails them. An
//! unreachable or malformed `mysql://` store needs no server and is among the cases of
//! `bad_input.rs`.

use serde_json::Value;
use user_engine_conformance_spec_embedded::embedded;
use user_engine_mysql::testing::{IsolatedDatabase, REQUIRE_VAR, URL_VAR, mysql_required};

use crate::Sandbox;

/// The server's URL when the tests should run; `None` after saying why they are skipped.
fn server(sandbox: &Sandbox) -> Option<String> {
    let Some(url) = user_engine_mysql::testing::url_from_env() else {
        assert!(
            !mysql_required(),
            "{REQUIRE_VAR}=1 but {URL_VAR} is not set; set it, e.g. {URL_VAR}=mysql://root@127.0.0.1:3306/test"
        );
        println!("skipped: {URL_VAR} is not set");
        return None;
    };
    let probe = sandbox.run(&["diagnostics", "--store", &url]);
    if probe.status == 2 {
        assert!(
            !mysql_required(),
            "{REQUIRE_VAR}=1 but the server is unreachable: {}",
            probe.stderr
        );
        println!(
            "skipped: the server in {URL_VAR} is unreachable: {}",
            probe.stderr.trim_end()
        );
        return None;
    }
    Some(url)
}

/// `url` naming database `name` instead of its own (the query, if any, kept).
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a mysql:// url");
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}"));
    format!("{scheme}://{authority}/{name}{}", query.unwrap_or_default())
}

#[test]
fn another_database_replaces_the_one_in_the_url() {
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306/test", "ue_x"),
        "mysql://root@127.0.0.1:3306/ue_x"
    );
    assert_eq!(
        with_database("mysql://root:pw@db/test?prefer_socket=false", "ue_x"),
        "mysql://root:pw@db/ue_x?prefer_socket=false"
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn the_whole_spec_passes_on_mysql() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let run = sandbox.run(&["conformance", "--store", &store]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let n = embedded().unwrap().scenarios.len();
    assert!(
        run.stdout.starts_with(&format!(
            "user-engine conformance: {n} scenarios against 1 store"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nresult: ok. "), "{}", run.stdout);
    // The capabilities it runs with are the adapter's own list.
    let mut declared = user_engine_mysql::CAPABILITIES.to_vec();
    declared.sort_unstable();
    assert!(
        run.stdout
            .contains(&format!("\n  capabilities: {}\n", declared.join(", "))),
        "{}",
        run.stdout
    );
    // What the row-locking design does not hold is skipped with the reason, never passed.
    assert!(
        run.stdout.contains(
            "mysql: transactions/concurrent_writers_one_wins: requires capability `commit_time_conflicts`"
        ),
        "{}",
        run.stdout
    );
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn the_compliance_matrix_has_a_mysql_column() {
    let sandbox = Sandbox::new();
    let Some(store) = server(&sandbox) else {
        return;
    };
    let stores = ["--store", "memory", "--store", &store, "--store", "sqlite:"];
    let mut args = vec!["conformance"];
    args.extend(stores);
    args.extend(["--filter", "outbox/"]);
    let run = sandbox.run(&args);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let matrix = run
        .stdout
        .split("compliance matrix (scenario × store)\n")
        .nth(1)
        .expect("a matrix");
    let header = matrix.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["scenario", "memory", "mysql", "sqlite"]
    );
    let rows: Vec<&str> = matrix
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!rows.is_empty(), "{matrix}");
    assert!(
        rows.iter()
            .all(|l| l.split_whitespace().skip(1).all(|w| w == "pass")),
        "{matrix}"
    );
    assert!(
        run.stdout.contains(&format!(
            "\nmysql ({store}): a fresh database per scenario, dropped afterwards\n"
        )),
        "{}",
        run.stdout
    );

    // The same run as JSON names the store and its capabilities.
    args.extend(["--format", "json"]);
    let run = sandbox.run(&args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).expect("--format json prints JSON");
    let mysql = &document["stores"][1];
    assert_eq!(mysql["label"], "mysql");
    assert_eq!(mysql["store"], store.as_str());
    assert_eq!(document["tally"]["failed"], 0);
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn migrate_readiness_and_diagnostics_on_a_fresh_database() {
    let sandbox = Sandbox::new();
    let Some(url) = server(&sandbox) else {
        return;
    };
    // The adapter's test support makes a fresh database and drops it at the end of the test.
    let database = IsolatedDatabase::create(&url).expect("create a database");
    let store = with_database(&url, database.name());
    let stdout_of = |command: &str, status: i32| {
        let done = sandbox.run(&[command, "--store", &store]);
        assert_eq!(
            done.status, status,
            "{command}: {}{}",
            done.stdout, done.stderr
        );
        done.stdout
    };
    assert_eq!(
        stdout_of("readiness", 1),
        format!("{store}: not ready: not migrated (latest schema version is 2)\n")
    );
    let migrated = stdout_of("migrate", 0);
    assert!(
        migrated.starts_with(&format!(
            "{store}: applied migration 1 (0001_user_engine_store): "
        )),
        "{migrated}"
    );
    assert!(
        migrated.contains(&format!(
            "\n{store}: applied migration 2 (0002_versions_survive_delete): "
        )),
        "{migrated}"
    );
    assert!(
        migrated.ends_with(&format!("\n{store}: schema version 2 (latest 2)\n")),
        "{migrated}"
    );
    assert_eq!(
        stdout_of("migrate", 0),
        format!("{store}: nothing to apply; schema version 2 is the latest\n")
    );
    assert_eq!(
        stdout_of("readiness", 0),
        format!("{store}: ready at schema version 2\n")
    );

    // Same logical state, same canonical rendering as the embedded store.
    let diagnostics = stdout_of("diagnostics", 0);
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
    let json = sandbox.run(&["diagnostics", "--store", &store, "--format", "json"]);
    assert_eq!(json.status, 0, "{}", json.stderr);
    let json: Value = serde_json::from_str(&json.stdout).expect("--format json prints JSON");
    assert_eq!(json["schema_version"], user_engine::LATEST_SCHEMA_VERSION);
}

/// The databases whose name starts with `prefix`.
fn databases_named(conn: &mut mysql::Conn, prefix: &str) -> Vec<String> {
    use mysql::prelude::Queryable;
    conn.exec(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
         WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ? ORDER BY SCHEMA_NAME",
        (prefix, prefix),
    )
    .unwrap()
}

/// A run's databases all carry its process id (`ue_test_<pid>t<time>_<n>`): SIGINT and SIGTERM in
/// the middle of a run leave none of them, and the status is 128 + the signal. Each run first
/// drops the databases of runs that are gone — a new-style name whose owner lock is free and an
/// old-style one — and keeps one whose owner lock is held, as a live run's on another host would be.
#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn an_interrupted_run_leaves_no_database_and_a_run_drops_what_dead_runs_left() {
    use mysql::prelude::Queryable;
    let sandbox = Sandbox::new();
    let Some(url) = server(&sandbox) else {
        return;
    };
    let opts = mysql::Opts::from_url(&url.replacen("mariadb://", "mysql://", 1)).unwrap();
    let mut conn = mysql::Conn::new(opts.clone()).unwrap();
    let mut live_owner = mysql::Conn::new(opts).unwrap();
    let held: Option<i64> = live_owner
        .query_first("SELECT GET_LOCK('ue_owner_2t2', 0)")
        .unwrap();
    assert_eq!(held, Some(1));
    for name in ["ue_test_1t1_0", "ue_test_99_0_00000000", "ue_test_2t2_0"] {
        conn.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        conn.query_drop(format!("CREATE DATABASE {name}")).unwrap();
    }
    crate::interrupted_runs_leave_nothing(&sandbox, &url, |prefix| {
        databases_named(&mut conn, prefix)
    });
    assert_eq!(
        databases_named(&mut conn, "ue_test_1t1_0"),
        Vec::<String>::new()
    );
    assert_eq!(
        databases_named(&mut conn, "ue_test_2t2_0"),
        ["ue_test_2t2_0"],
        "a live run's database is kept"
    );
    live_owner
        .query_drop("DROP DATABASE ue_test_2t2_0")
        .unwrap();
}
