//! Hostile files and folders: each limit is a located error that names it, and what is not a
//! regular file, or a folder reached twice, is refused by name instead of read or walked.

use std::fs;
use std::path::Path;

use user_engine_conformance_spec::{
    MAX_CONCURRENT_TIMES, MAX_FILE_BYTES, MAX_NESTING_DEPTH, MAX_STEPS, load_dir, parse_scenario,
};

const HEAD: &str = "id: a/b\nsummary: s\nclause: store-contract#tx-rollback\n";

fn parse(text: &str) -> Result<user_engine_conformance_spec::Scenario, String> {
    parse_scenario("b.yaml", "scenarios/a/b.yaml", text).map_err(|e| e.to_string())
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_where_it_goes_too_deep() {
    let deep = format!("{}x\n", "- ".repeat(8_000));
    let error = parse(&deep).unwrap_err();
    let column = 2 * MAX_NESTING_DEPTH + 1;
    assert_eq!(
        error,
        format!(
            "b.yaml:1:{column}: nesting deeper than {MAX_NESTING_DEPTH} levels; a scenario file may nest lists and mappings at most {MAX_NESTING_DEPTH} deep"
        )
    );
    let flow = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // The scanner refuses deep flow brackets itself, before they become events.
    let error = parse(&flow).unwrap_err();
    assert!(
        error.contains("nesting deeper than") || error.contains("recursion limit exceeded"),
        "{error}"
    );
    // Exactly at the limit is only a shape problem.
    let at_limit = format!("{}x\n", "- ".repeat(MAX_NESTING_DEPTH));
    assert!(!parse(&at_limit).unwrap_err().contains("nesting"));
}

#[test]
fn files_steps_and_copies_over_their_limits_are_located_errors_naming_them() {
    let big = format!(
        "{HEAD}steps:\n  - migrate: {{}}\n#{}\n",
        "x".repeat(MAX_FILE_BYTES)
    );
    assert_eq!(
        parse(&big).unwrap_err(),
        format!(
            "b.yaml:1:1: the file is {} bytes; a scenario file may hold at most {MAX_FILE_BYTES} bytes (1 MiB)",
            big.len()
        )
    );

    let steps = "  - migrate: {}\n".repeat(MAX_STEPS + 1);
    let error = parse(&format!("{HEAD}steps:\n{steps}")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "b.yaml:{}:5: \"steps\" holds {} steps; a scenario may hold at most {MAX_STEPS} (scenario a/b)",
            5 + MAX_STEPS,
            MAX_STEPS + 1
        )
    );
    let steps = "  - migrate: {}\n".repeat(MAX_STEPS);
    parse(&format!("{HEAD}steps:\n{steps}")).unwrap();

    let copies = |n: usize| {
        format!(
            "{HEAD}steps:\n  - migrate: {{}}\n  - concurrently: {{times: {n}, step: {{save: {{tenant: t, kind: profile, id: p}}}}}}\n"
        )
    };
    assert_eq!(
        parse(&copies(3_000)).unwrap_err(),
        format!(
            "b.yaml:6:27: \"times\" is 3000; \"concurrently\" runs at most {MAX_CONCURRENT_TIMES} copies (scenario a/b)"
        )
    );
    parse(&copies(MAX_CONCURRENT_TIMES)).unwrap();
    let huge = parse(&copies(0).replace("times: 0", "times: 99999999999999999999999")).unwrap_err();
    assert!(huge.starts_with("b.yaml:6:27: "), "{huge}");
}

#[test]
fn a_flow_list_of_steps_keeps_each_steps_own_text() {
    let text = format!("{HEAD}steps: [{{migrate: {{}}}}, {{readiness: {{}}, expect: ready}}]\n");
    let scenario = parse(&text).unwrap();
    assert_eq!(scenario.steps[0].text, "{migrate: {}}");
    assert_eq!(scenario.steps[1].text, "{readiness: {}, expect: ready}");
    assert_eq!(scenario.steps[1].location.column, 24);
}

#[cfg(unix)]
#[test]
fn fifos_devices_and_symlink_loops_are_refused_by_name() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    write(
        &root,
        "scenarios/a/b.yaml",
        &format!("{HEAD}steps:\n  - migrate: {{}}\n"),
    );
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("scenarios/a/fifo.yaml"))
        .status()
        .unwrap();
    assert!(status.success());
    symlink("/dev/zero", root.join("scenarios/a/zero.yaml")).unwrap();
    symlink("..", root.join("scenarios/a/up")).unwrap();
    fs::create_dir_all(root.join("snapshots")).unwrap();
    symlink("/dev/zero", root.join("snapshots/z.snap")).unwrap();

    let errors = load_dir(&root).unwrap_err().to_string();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 4, "{errors}");
    assert!(errors.contains(
        "spec/scenarios/a/fifo.yaml:1:1: not a regular file (a FIFO); spec files must be regular files"
    ), "{errors}");
    assert!(errors.contains(
        "spec/scenarios/a/zero.yaml:1:1: not a regular file (a device); spec files must be regular files"
    ), "{errors}");
    assert!(errors.contains(
        "spec/snapshots/z.snap:1:1: not a regular file (a device); spec files must be regular files"
    ), "{errors}");
    assert!(
        errors.contains("is reached twice (a symlink loop"),
        "{errors}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    let big = format!(
        "{HEAD}steps:\n  - migrate: {{}}\n#{}\n",
        "x".repeat(2 * MAX_FILE_BYTES)
    );
    write(&root, "scenarios/a/b.yaml", &big);
    write(
        &root,
        "scenarios/a/c.yaml",
        "\u{0}\u{ff}".repeat(3).as_str(),
    );
    fs::write(root.join("scenarios/a/d.yaml"), [b'a', 0xff, b'\n']).unwrap();
    let errors = load_dir(&root).unwrap_err().to_string();
    assert!(errors.contains(&format!(
        "spec/scenarios/a/b.yaml:1:1: the file is larger than {MAX_FILE_BYTES} bytes; a spec file may hold at most {MAX_FILE_BYTES} bytes (1 MiB)"
    )), "{errors}");
    assert!(
        errors.contains(
            "spec/scenarios/a/d.yaml:1:1: the file is not UTF-8 (invalid byte at offset 1)"
        ),
        "{errors}"
    );
}
