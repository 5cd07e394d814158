//! A real expansion over `tests/ui/specs/valid`, run against the in-memory reference store: the
//! generated tests below are part of this binary (`cargo test -p user-engine-macros conformance`).

use std::process::Command;

user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    capabilities: [commit_time_conflicts],
    skip: { "smoke/skipped_by_invocation": "skipped to show that a skip becomes an ignore" },
    spec: "tests/ui/specs/valid",
    explore: {cases: 40, seed: 3},
}

/// The tests libtest reports for `args`, as `path: test` lines.
fn listed(args: &[&str]) -> Vec<String> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut tests: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("expansion::conformance::"))
        .map(str::to_owned)
        .collect();
    tests.sort();
    tests
}

#[test]
fn one_test_per_scenario_in_a_module_per_area() {
    assert_eq!(
        listed(&[]),
        [
            "expansion::conformance::smoke::migrate_then_ready: test",
            "expansion::conformance::smoke::needs_tampering: test",
            "expansion::conformance::smoke::rollback_leaves_nothing: test",
            "expansion::conformance::smoke::skipped_by_invocation: test",
        ]
    );
}

#[test]
fn the_explore_option_adds_one_test_beside_the_scenarios() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse", "conformance_explore"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let listed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(": test"))
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, ["expansion::conformance_explore::histories: test"]);
}

#[test]
fn skips_and_undeclared_capabilities_are_ignored_not_dropped() {
    assert_eq!(
        listed(&["--ignored"]),
        [
            "expansion::conformance::smoke::needs_tampering: test",
            "expansion::conformance::smoke::skipped_by_invocation: test",
        ]
    );
}
