//! `migrate`, `readiness` and `diagnostics` against a SQLite file and the in-memory store.

use crate::Sandbox;

#[test]
fn a_sqlite_file_from_creation_to_ready() {
    let sandbox = Sandbox::new();
    let store = "sqlite:users.db";
    let mut transcript = String::new();
    let mut step = |args: &[&str], status: i32| {
        let run = sandbox.run(args);
        assert_eq!(
            run.status,
            status,
            "user-engine {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        transcript.push_str(&format!(
            "$ user-engine {}    # exit {}\n{}{}\n",
            args.join(" "),
            run.status,
            run.stdout,
            run.stderr
        ));
    };
    step(&["readiness", "--store", store], 2);
    step(&["migrate", "--store", store], 0);
    step(&["readiness", "--store", store], 0);
    step(&["migrate", "--store", store], 0);
    step(&["diagnostics", "--store", store], 0);
    insta::assert_snapshot!("sqlite_lifecycle", transcript);

    let run = sandbox.run(&["diagnostics", "--store", store, "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("--format json prints JSON");
    assert_eq!(json["schema_version"], user_engine::LATEST_SCHEMA_VERSION);
    assert_eq!(json["audit_entries"], 0);
}

#[test]
fn diagnostics_render_the_canonical_text_of_the_spec_snapshots() {
    // A migrated, empty store renders like the spec's canonical empty-store snapshot, apart from
    // the schema version line (that snapshot is of an unmigrated store).
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.run(&["migrate", "--store", "sqlite:d.db"]).status,
        0
    );
    let run = sandbox.run(&["diagnostics", "--store", "sqlite:d.db"]);
    let spec = user_engine_conformance_spec_embedded::embedded().unwrap();
    let canonical = spec
        .snapshots
        .get("diagnostics__empty_store")
        .expect("the spec pins an empty store");
    let body = user_engine::conformance::snapshot_body(canonical);
    let rest = |text: &str| text.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(rest(&run.stdout), rest(body));
    assert_eq!(
        run.stdout.lines().next(),
        Some("schema_version: 2 (latest 2)")
    );
}

#[test]
fn the_memory_store_is_never_ready_on_its_own() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["readiness", "--store", "memory"]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stdout,
        "memory: not ready: not migrated (latest schema version is 2)\n"
    );
    let run = sandbox.run(&["migrate", "--store", "memory"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("memory: applied migration 1 (0001_user_engine_store)"),
        "{}",
        run.stdout
    );
}

#[test]
fn readiness_never_writes() {
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.run(&["migrate", "--store", "sqlite:r.db"]).status,
        0
    );
    let before = std::fs::read(sandbox.work().join("r.db")).unwrap();
    let listing = sandbox.listing();
    assert_eq!(
        sandbox.run(&["readiness", "--store", "sqlite:r.db"]).status,
        0
    );
    assert_eq!(
        sandbox
            .run(&["diagnostics", "--store", "sqlite:r.db"])
            .status,
        0
    );
    assert_eq!(std::fs::read(sandbox.work().join("r.db")).unwrap(), before);
    assert_eq!(sandbox.listing(), listing);
}
