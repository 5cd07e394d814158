//! Bad input of every kind: one `error: ...` line on stderr (or the pretty spec report), exit
//! status 2, nothing on stdout, nothing written, no panic, no backtrace.

use crate::{Sandbox, fixtures};

const UNREACHABLE: &str = "postgres:host=127.0.0.1 port=1 user=root connect_timeout=5";
const UNREACHABLE_MYSQL: &str = "mysql://root@127.0.0.1:1/test";

#[test]
fn bad_input_is_one_error_line_and_exit_2() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.work().join("notes.txt"),
        "not a database, not a directory\n",
    )
    .unwrap();
    let cases: &[&[&str]] = &[
        &["conformance", "--store", "redis://localhost/users"],
        &["conformance", "--store", "redis"],
        &["conformance", "--store", "memory:fast"],
        &["conformance", "--store", "postgres:"],
        &["conformance", "--store", UNREACHABLE],
        &["readiness", "--store", UNREACHABLE],
        &[
            "migrate",
            "--store",
            "postgres:host=127.0.0.1 port=1 user=root password=hunter2",
        ],
        &["conformance", "--store", UNREACHABLE_MYSQL],
        &["readiness", "--store", UNREACHABLE_MYSQL],
        &["diagnostics", "--store", UNREACHABLE_MYSQL],
        &[
            "migrate",
            "--store",
            "mariadb://root:hunter2@127.0.0.1:1/test",
        ],
        &[
            "conformance",
            "--store",
            "mysql://root:hunter2@127.0.0.1:3306",
        ],
        &["readiness", "--store", "mysql://root:hunter2@[::1/test"],
        &["conformance", "--store", "mysql:"],
        &["migrate", "--store", UNREACHABLE_MYSQL, "--schema", "app"],
        &["conformance", "--filter", "no-such-scenario"],
        &["conformance", "--store", "sqlite:missing-dir"],
        &["conformance", "--store", "sqlite:notes.txt"],
        &["conformance", "--spec", "missing-spec"],
        &["readiness", "--store", "sqlite:missing.db"],
        &["diagnostics", "--store", "sqlite:notes.txt"],
        &["diagnostics", "--store", "sqlite:."],
        &["migrate", "--store", "sqlite:missing-dir/users.db"],
        &["migrate", "--store", "sqlite:"],
        &["migrate", "--store", "memory", "--schema", "app"],
        &["spec", "lint", "missing-spec"],
        &["spec", "list", "notes.txt"],
        &["spec", "docs", "."],
    ];
    let before = sandbox.listing();
    let mut transcript = String::new();
    for args in cases {
        let run = sandbox.run(args);
        let shown = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    (*a).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            run.status, 2,
            "user-engine {shown}: exit {}\nstdout:\n{}\nstderr:\n{}",
            run.status, run.stdout, run.stderr
        );
        assert_eq!(run.stdout, "", "user-engine {shown} printed on stdout");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.lines().count() == 1,
            "user-engine {shown}:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("BACKTRACE"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("hunter2"),
            "a password reached the terminal: {}",
            run.stderr
        );
        // The adapters' test support is how the command isolates scenarios, not the user's concern.
        for harness in ["USER_ENGINE_", "IsolatedDatabase", "IsolatedSchema"] {
            assert!(!run.stderr.contains(harness), "{}", run.stderr);
        }
        transcript.push_str(&format!(
            "$ user-engine {shown}\n{}",
            sandbox.normalize(&run.stderr)
        ));
        assert_eq!(
            sandbox.listing(),
            before,
            "user-engine {shown} wrote something"
        );
    }
    insta::assert_snapshot!("bad_input", transcript);
}

#[test]
fn an_invalid_spec_is_the_pretty_report_and_exit_2() {
    let sandbox = Sandbox::new();
    let spec = fixtures::broken_spec(&sandbox);
    for args in [
        vec!["conformance", "--spec", &spec],
        vec!["spec", "list", &spec],
        vec!["spec", "docs", &spec],
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.status, 2, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr
                .starts_with("broken-spec/scenarios/outbox/typos.yaml:1:1: "),
            "{args:?}:\n{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("\n6 |   - enqueu: {tenant: acme, topic: t, key: k}\n  |     ^\n"),
            "{args:?}:\n{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("broken-spec/scenarios/records/bad_yaml.yaml:"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let sandbox = Sandbox::new();
    for (args, says) in [
        (
            &["conformance", "--format", "xml"][..],
            "invalid value 'xml' for '--format <FORMAT>'",
        ),
        (
            &["readiness"],
            "the following required arguments were not provided: --store <STORE>",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["spec"], "`user-engine spec` needs a subcommand"),
        (
            &["conformance", "--stor", "memory"],
            "a similar argument exists: '--store'",
        ),
        (
            &["readiness", "--store"],
            "a value is required for '--store <STORE>'",
        ),
        (&["spec", "lint", "a", "b"], "unexpected argument 'b' found"),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.status, 2, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.lines().count() == 1,
            "{args:?}:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    // Help and version are not errors.
    assert_eq!(sandbox.run(&["--version"]).status, 0);
    assert!(
        sandbox
            .run(&["spec", "--help"])
            .stdout
            .contains("Usage: user-engine spec")
    );
}

#[test]
fn a_spec_root_without_scenarios_is_an_error_not_a_green_run() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.work().join("empty/scenarios/outbox")).unwrap();
    std::fs::write(
        sandbox.work().join("empty/scenarios/README.md"),
        "no yaml here\n",
    )
    .unwrap();
    let passing = fixtures::passing_spec(&sandbox);
    for args in [
        &["conformance", "--store", "memory", "--spec", "empty"][..],
        &["spec", "lint", "empty"],
        &["spec", "list", "empty"],
        &[
            "conformance",
            "--store",
            "memory",
            "--spec",
            &passing,
            "--filter",
            "nothing/*",
        ],
        &["spec", "list", &passing, "--filter", "nothing"],
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.status, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.lines().count() == 1,
            "{args:?}:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        sandbox.run(&["spec", "lint", "empty"]).stderr,
        "error: spec root \"empty\" holds no scenarios; scenarios are files scenarios/<area>/<name>.yaml\n"
    );
}

#[cfg(unix)]
#[test]
fn hostile_spec_folders_are_refused_quickly_by_name() {
    use std::os::unix::fs::symlink;

    let sandbox = Sandbox::new();
    let spec = fixtures::passing_spec(&sandbox);
    let area = sandbox.work().join(&spec).join("scenarios/hostile");
    std::fs::create_dir_all(&area).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(area.join("fifo.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    symlink("/dev/zero", area.join("zero.yaml")).unwrap();
    symlink("..", area.join("loop")).unwrap();
    std::fs::write(area.join("deep.yaml"), format!("{}x\n", "- ".repeat(8_000))).unwrap();
    let run = sandbox.run(&["spec", "lint", &spec]);
    assert_eq!(run.status, 1, "{run:?}");
    for says in [
        "hostile/fifo.yaml:1:1: not a regular file (a FIFO)",
        "hostile/zero.yaml:1:1: not a regular file (a device)",
        "is reached twice (a symlink loop",
        "hostile/deep.yaml:1:129: nesting deeper than 64 levels",
    ] {
        assert!(run.stdout.contains(says), "{says}:\n{}", run.stdout);
    }
}
