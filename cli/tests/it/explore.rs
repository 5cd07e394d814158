//! `explore`: a clean run exits 0 and prints its seed, a seed replays the same histories (their
//! digest) on every store, and a store that cannot be used is one error line.

use crate::Sandbox;

/// The report's line, with its wall time taken out.
fn report_line(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("explored "))
        .unwrap_or_else(|| panic!("no report line in:\n{stdout}"));
    crate::replace_number_between(line, " in ", " s")
}

/// The digest the report line names.
fn digest(stdout: &str) -> String {
    let line = report_line(stdout);
    let start = line.find("digest ").expect("the report names a digest") + "digest ".len();
    line[start..start + 16].to_owned()
}

#[test]
fn a_clean_sqlite_run_exits_0_prints_its_seed_and_replays() {
    let sandbox = Sandbox::new();
    let args = [
        "explore", "--store", "sqlite:", "--cases", "200", "--seed", "7",
    ];
    let first = sandbox.run(&args);
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    // Not a terminal: no progress.
    assert_eq!(first.stderr, "");
    let opening = first.stdout.lines().next().unwrap();
    assert_eq!(
        opening,
        "user-engine explore: 200 histories of up to 40 steps against sqlite from seed 7"
    );
    assert!(
        report_line(&first.stdout).starts_with("explored 200 histories ("),
        "{}",
        first.stdout
    );
    assert!(
        report_line(&first.stdout)
            .ends_with("from seed 7 in [TIME] s; every result agreed with the reference"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains(
            "replay: user-engine explore --store sqlite: --seed 7 --cases 200 --max-steps 40\n"
        ),
        "{}",
        first.stdout
    );

    let second = sandbox.run(&args);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(report_line(&first.stdout), report_line(&second.stdout));
    // Every history's database file is gone with its store, and the run's folder with the run.
    assert_eq!(sandbox.listing(), ["tmp", "work"]);

    // The histories are the seed's, not the store's: the reference draws the same ones.
    let memory = sandbox.run(&[
        "explore", "--store", "memory", "--cases", "200", "--seed", "7",
    ]);
    assert_eq!(memory.status, 0, "{}", memory.stderr);
    assert_eq!(digest(&memory.stdout), digest(&first.stdout));
    let other = sandbox.run(&[
        "explore", "--store", "memory", "--cases", "200", "--seed", "8",
    ]);
    assert_ne!(digest(&other.stdout), digest(&first.stdout));
}

#[test]
fn a_run_without_a_seed_prints_one_that_replays_it() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["explore", "--store", "memory", "--cases", "50"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let seed = run
        .stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit_once("from seed "))
        .map(|(_, seed)| seed.to_owned())
        .unwrap_or_else(|| panic!("no seed in:\n{}", run.stdout));
    let replay = format!(
        "replay: user-engine explore --store memory --seed {seed} --cases 50 --max-steps 40"
    );
    assert!(run.stdout.contains(&replay), "{}", run.stdout);
    let again = sandbox.run(&[
        "explore", "--store", "memory", "--cases", "50", "--seed", &seed,
    ]);
    assert_eq!(digest(&again.stdout), digest(&run.stdout));
}

#[test]
fn a_store_that_cannot_be_used_is_one_error_line_and_exit_2() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.work().join("notes.txt"), "not a directory\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["explore", "--store", "redis://localhost"],
            "error: unknown store scheme \"redis\" in \"redis://localhost\"; expected memory, sqlite:PATH, postgres:CONNINFO (a `postgres://` URL works too) or mysql://user@host[:port]/database\n",
        ),
        (
            &["explore", "--store", "sqlite:missing-dir"],
            "error: sqlite directory \"missing-dir\" does not exist; create it, or write `sqlite:` for a temporary one\n",
        ),
        (
            &[
                "explore",
                "--store",
                "postgres:host=127.0.0.1 port=1 user=root connect_timeout=5",
            ],
            "error: cannot use postgres:host=127.0.0.1 port=1 user=root connect_timeout=5: store unavailable: cannot connect to postgresql at 127.0.0.1:1: connection refused\n",
        ),
        (
            &["explore", "--store", "memory", "--out", "notes.txt"],
            "error: --out \"notes.txt\" is not a directory; name a directory to hold `scenarios/explore/`\n",
        ),
        (
            &["explore", "--store", "memory", "--cases", "0"],
            "error: invalid value '0' for '--cases <N>': 0 is not in 1..18446744073709551615; see `user-engine --help`\n",
        ),
        (
            &["explore"],
            "error: the following required arguments were not provided: --store <STORE>; see `user-engine --help`\n",
        ),
    ];
    for (args, expected) in cases {
        let run = sandbox.run(args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(run.stderr, *expected, "{args:?}");
    }
}

/// SIGINT in the middle of a SQLite exploration: the run's folder of database files is gone,
/// nothing but the opening lines is on stdout, and the status is the shell's 130.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_run_removes_its_sqlite_folder_and_exits_130() {
    let sandbox = Sandbox::new();
    let child = sandbox.spawn(&[
        "explore", "--store", "sqlite:", "--cases", "100000", "--seed", "1",
    ]);
    let scratch = |sandbox: &Sandbox| -> Vec<String> {
        std::fs::read_dir(sandbox.tmp())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("user-engine-conformance-"))
            .collect()
    };
    // Interrupt once a history's database file exists, i.e. mid-run.
    let run = sandbox.interrupt(child, "INT", || {
        scratch(&sandbox).iter().any(|dir| {
            dir.contains("-explore-")
                && std::fs::read_dir(sandbox.tmp().join(dir)).is_ok_and(|mut files| {
                    files.any(|f| f.is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".db")))
                })
        })
    });
    assert_eq!(run.status, 130, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "user-engine explore: 100000 histories of up to 40 steps against sqlite from seed 1\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("explored "),
        "no report after an interruption"
    );
    assert_eq!(
        scratch(&sandbox),
        Vec::<String>::new(),
        "{:?}",
        sandbox.listing()
    );
}

/// Runs `explore --sessions 2` on `store` from `seed` and expects every history to end as C33
/// allows; returns the report line.
fn two_sessions_pass(sandbox: &Sandbox, store: &str, cases: &str, seed: &str) -> String {
    let run = sandbox.run(&[
        "explore",
        "--store",
        store,
        "--cases",
        cases,
        "--seed",
        seed,
        "--sessions",
        "2",
    ]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let opening = run.stdout.lines().next().unwrap();
    assert!(
        opening.contains("steps in 2 sessions against "),
        "{opening}"
    );
    let line = report_line(&run.stdout);
    assert!(
        line.ends_with("; every history of 2 sessions ended as the isolation clause allows"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "--seed {seed} --cases {cases} --max-steps 40 --sessions 2\n"
        )),
        "{}",
        run.stdout
    );
    line
}

#[test]
fn two_session_histories_pass_on_sqlite_and_are_the_seeds() {
    let sandbox = Sandbox::new();
    let sqlite = two_sessions_pass(&sandbox, "sqlite:", "150", "5");
    let memory = two_sessions_pass(&sandbox, "memory", "150", "5");
    assert_eq!(digest(&sqlite), digest(&memory));
    let again = two_sessions_pass(&sandbox, "memory", "150", "5");
    assert_eq!(digest(&again), digest(&memory));
    // Not the one-session histories of the same seed.
    let one = sandbox.run(&[
        "explore", "--store", "memory", "--cases", "150", "--seed", "5",
    ]);
    assert_ne!(digest(&one.stdout), digest(&memory));
    assert_eq!(sandbox.listing(), ["tmp", "work"]);
}

#[user_engine::needs_env("USER_ENGINE_POSTGRES_URL")]
#[test]
fn two_session_histories_pass_on_postgres() {
    let Some(url) = user_engine_postgres::testing::url_from_env() else {
        return;
    };
    let sandbox = Sandbox::new();
    let store = format!("postgres:{url}");
    for seed in ["1", "2"] {
        let line = two_sessions_pass(&sandbox, &store, "60", seed);
        let memory = two_sessions_pass(&sandbox, "memory", "60", seed);
        assert_eq!(digest(&line), digest(&memory));
    }
}

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn two_session_histories_pass_on_mysql_whose_writers_wait_on_row_locks() {
    let Some(url) = user_engine_mysql::testing::url_from_env() else {
        return;
    };
    let sandbox = Sandbox::new();
    let mut blocked = false;
    for seed in ["1", "2"] {
        let line = two_sessions_pass(&sandbox, &url, "60", seed);
        blocked |= line.contains(" blocked and w");
        let memory = two_sessions_pass(&sandbox, "memory", "60", seed);
        assert_eq!(digest(&line), digest(&memory));
    }
    // The row locks made some writer wait, so the schedule's way around a blocked step ran.
    assert!(blocked, "no step blocked on MariaDB's row locks");
}
