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
    // A read-only connection to a WAL database needs SQLite's shared-memory file and cannot remove
    // it (nor the empty log) when it closes; the next read-write open does. Nothing else appears.
    let sidecars = ["work/r.db-shm", "work/r.db-wal"];
    let after: Vec<String> = sandbox
        .listing()
        .into_iter()
        .filter(|path| !sidecars.contains(&path.as_str()))
        .collect();
    assert_eq!(after, listing);
    let wal = sandbox.work().join("r.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

/// The smallest valid SQLite database in rollback-journal mode (as SQLite itself writes a fresh
/// file, but without a table): a 100-byte header and one empty table b-tree page. Written by hand
/// so the test needs no SQLite of its own.
fn rollback_journal_database() -> Vec<u8> {
    let mut page = vec![0u8; 4096];
    page[..16].copy_from_slice(b"SQLite format 3\0");
    page[16..18].copy_from_slice(&4096u16.to_be_bytes());
    page[18] = 1; // write version 1: rollback journal (WAL is 2)
    page[19] = 1; // read version 1
    page[21] = 64; // payload fractions, fixed by the format
    page[22] = 32;
    page[23] = 32;
    page[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    page[28..32].copy_from_slice(&1u32.to_be_bytes()); // size in pages
    page[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    page[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    page[92..96].copy_from_slice(&1u32.to_be_bytes()); // version-valid-for = change counter
    page[96..100].copy_from_slice(&3_045_000u32.to_be_bytes());
    page[100] = 0x0d; // a leaf table b-tree page (the empty schema table)
    page[105..107].copy_from_slice(&4096u16.to_be_bytes()); // cell content starts at the end
    page
}

#[test]
fn readiness_and_diagnostics_leave_a_foreign_database_byte_for_byte() {
    let sandbox = Sandbox::new();
    let foreign = rollback_journal_database();
    std::fs::write(sandbox.work().join("foreign.db"), &foreign).unwrap();
    std::fs::write(sandbox.work().join("empty.db"), b"").unwrap();
    let listing = sandbox.listing();
    for file in ["foreign.db", "empty.db"] {
        let store = format!("sqlite:{file}");
        let run = sandbox.run(&["readiness", "--store", &store]);
        assert_eq!(run.status, 1, "{run:?}");
        assert_eq!(
            run.stdout,
            format!("{store}: not ready: not migrated (latest schema version is 2)\n")
        );
        let run = sandbox.run(&["diagnostics", "--store", &store]);
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.starts_with("schema_version: none"), "{run:?}");
    }
    assert_eq!(
        std::fs::read(sandbox.work().join("foreign.db")).unwrap(),
        foreign
    );
    assert_eq!(std::fs::read(sandbox.work().join("empty.db")).unwrap(), b"");
    assert_eq!(sandbox.listing(), listing);

    // The check can fail: a command that does write (migrate) changes both files.
    assert_eq!(
        sandbox
            .run(&["migrate", "--store", "sqlite:foreign.db"])
            .status,
        0
    );
    assert_ne!(
        std::fs::read(sandbox.work().join("foreign.db")).unwrap(),
        foreign
    );
}

#[test]
fn readiness_on_a_missing_file_creates_nothing() {
    let sandbox = Sandbox::new();
    let listing = sandbox.listing();
    for command in ["readiness", "diagnostics"] {
        let run = sandbox.run(&[command, "--store", "sqlite:absent.db"]);
        assert_eq!(run.status, 2, "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.contains("does not exist"), "{run:?}");
    }
    assert_eq!(sandbox.listing(), listing);
}
