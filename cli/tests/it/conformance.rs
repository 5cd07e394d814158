//! `user-engine conformance`: the default run, every report format, failures, filters.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use serde_json::Value;
use user_engine_conformance_spec_embedded::embedded;

use crate::{Run, Sandbox, fixtures, json_schema};

fn embedded_count() -> usize {
    embedded()
        .expect("the embedded spec is valid")
        .scenarios
        .len()
}

/// Runs `user-engine conformance --spec <the mixed spec> --store memory ARGS...`, which fails
/// (exit 1) on the mixed spec's one wrong scenario.
fn run_mixed_spec(sandbox: &Sandbox, args: &[&str]) -> Run {
    let spec = fixtures::mixed_spec(sandbox);
    let mut full = vec!["conformance", "--spec", &spec, "--store", "memory"];
    full.extend_from_slice(args);
    let run = sandbox.run(&full);
    assert_eq!(run.status, 1, "{}", run.stderr);
    run
}

#[test]
fn no_arguments_runs_memory_and_sqlite_and_passes() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[]);
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(
        run.stderr, "",
        "nothing on stderr when it is not a terminal"
    );
    let n = embedded_count();
    let out = sandbox.normalize(&run.stdout);
    assert!(
        out.starts_with(&format!(
            "user-engine conformance: {n} scenarios against 2 stores (spec: embedded)\n"
        )),
        "{out}"
    );
    assert!(out.contains("\nmemory: in memory\n"), "{out}");
    assert!(
        out.contains("\nsqlite: a fresh database file per scenario under [SANDBOX]/tmp\n"),
        "{out}"
    );
    assert!(
        out.contains("compliance matrix (scenario × store)"),
        "{out}"
    );
    // Scenarios needing a capability a store does not declare are skipped, never failed.
    let last = out.lines().last().unwrap();
    let counts: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(last.starts_with("result: ok. ") && counts[1] == 0, "{out}");
    assert_eq!(counts[0] + counts[2], 2 * n, "{out}");
    // Every scenario's database file went with its temporary directory.
    assert_eq!(sandbox.listing(), ["tmp", "work"]);
}

#[test]
fn a_failure_is_located_and_exits_1() {
    let sandbox = Sandbox::new();
    let run = run_mixed_spec(&sandbox, &["--store", "sqlite:"]);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!("conformance_failure_human", sandbox.normalize(&run.stdout));
}

#[test]
fn markdown_report() {
    let sandbox = Sandbox::new();
    let run = run_mixed_spec(&sandbox, &["--format", "markdown"]);
    insta::assert_snapshot!(
        "conformance_failure_markdown",
        sandbox.normalize(&run.stdout)
    );
}

#[test]
fn json_report_parses_and_is_pinned() {
    let sandbox = Sandbox::new();
    let run = run_mixed_spec(&sandbox, &["--store", "sqlite:", "--format", "json"]);
    let document: Value = serde_json::from_str(&run.stdout).expect("--format json prints JSON");
    assert_eq!(document["passed"], false);
    assert_eq!(
        document["tally"],
        serde_json::json!({"passed": 2, "failed": 2, "skipped": 0})
    );
    let failure = &document["stores"][1]["scenarios"][1]["failure"];
    assert_eq!(
        failure["location"],
        "mixed-spec/scenarios/records/wrong_version_on_purpose.yaml:8:3"
    );
    assert_eq!(failure["line"], 8);
    insta::assert_snapshot!("conformance_failure_json", sandbox.normalize(&run.stdout));
}

/// The JSON reports of real runs — passes, failures and skips — validate against the committed
/// `report.schema.json`, which names itself as their `$schema` and pins their `format_version`;
/// and the schema is not so loose that it takes anything.
#[test]
fn json_reports_validate_against_the_committed_report_schema() {
    let schema = json_schema::committed("report.schema.json");
    let sandbox = Sandbox::new();
    let failing = run_mixed_spec(&sandbox, &["--store", "sqlite:", "--format", "json"]);
    let embedded_run = sandbox.run(&["conformance", "--format", "json"]);
    assert_eq!(embedded_run.status, 0, "{}", embedded_run.stderr);
    let mut statuses = BTreeMap::new();
    for run in [&failing, &embedded_run] {
        let document: Value = serde_json::from_str(&run.stdout).expect("--format json prints JSON");
        assert_eq!(document["$schema"], schema["$id"]);
        assert_eq!(document["format_version"], 1);
        let found = json_schema::problems(&schema, &document);
        assert!(
            found.is_empty(),
            "the report does not validate:\n{}",
            found.join("\n")
        );
        for store in document["stores"].as_array().unwrap() {
            for scenario in store["scenarios"].as_array().unwrap() {
                *statuses
                    .entry(scenario["status"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        let mut broken = document.clone();
        broken["stores"][0]["scenarios"][0]["status"] = "flaky".into();
        assert!(!json_schema::problems(&schema, &broken).is_empty());
        let mut broken = document.clone();
        broken["stores"][0]["tally"]["passed"] = (-1).into();
        assert!(!json_schema::problems(&schema, &broken).is_empty());
        let mut broken = document;
        broken["stores"][0]["scenarios"][0]
            .as_object_mut()
            .unwrap()
            .remove("line");
        assert!(!json_schema::problems(&schema, &broken).is_empty());
    }
    assert_eq!(
        statuses.keys().collect::<Vec<_>>(),
        ["failed", "passed", "skipped"],
        "the runs cover every status"
    );
}

#[test]
fn json_report_of_the_embedded_spec() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["conformance", "--store", "memory", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).expect("--format json prints JSON");
    assert_eq!(document["passed"], true);
    assert_eq!(document["spec"], "embedded");
    let scenarios = document["stores"][0]["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), embedded_count());
    assert!(
        scenarios
            .iter()
            .all(|s| s["status"] == "passed" || s["status"] == "skipped")
    );
    assert!(scenarios.iter().any(|s| s["status"] == "passed"));
    for skipped in scenarios.iter().filter(|s| s["status"] == "skipped") {
        let reason = skipped["reason"].as_str().unwrap();
        assert!(reason.contains("capabilit"), "{reason}");
    }
}

#[test]
fn junit_report_is_well_formed_xml() {
    let sandbox = Sandbox::new();
    let run = run_mixed_spec(&sandbox, &["--store", "sqlite:", "--format", "junit"]);
    let root = parse_xml(&run.stdout);
    assert_eq!(root.name, "testsuites");
    assert_eq!(
        (
            root.attr("tests"),
            root.attr("failures"),
            root.attr("errors")
        ),
        ("4", "2", "0")
    );
    let suites = root.children_named("testsuite");
    assert_eq!(
        suites.iter().map(|s| s.attr("name")).collect::<Vec<_>>(),
        ["memory", "sqlite"]
    );
    for suite in suites {
        let cases = suite.children_named("testcase");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].attr("name"), "records/wrong_version_on_purpose");
        let failure = &cases[1].children_named("failure")[0];
        assert_eq!(
            failure.attr("message"),
            "mixed-spec/scenarios/records/wrong_version_on_purpose.yaml:8:3 (step 2 of 2): expected a record with version 2"
        );
        assert!(
            failure
                .text
                .starts_with("conformance scenario `records/wrong_version_on_purpose` failed at"),
            "{}",
            failure.text
        );
        assert!(
            failure
                .text
                .contains("\n  actual:   record acme/profile/p1 version 1 (no user)"),
            "{}",
            failure.text
        );
        let names = |case: &Element| {
            case.children
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(cases[0]),
            ["system-out"],
            "a pass has only its location"
        );
        assert_eq!(names(cases[1]), ["failure", "system-out"]);
        for (case, file) in cases.iter().zip([
            "mixed-spec/scenarios/records/first_save_is_version_one.yaml:1",
            "mixed-spec/scenarios/records/wrong_version_on_purpose.yaml:1",
        ]) {
            let location = &case.children_named("system-out")[0].text;
            assert_eq!(location, &format!("scenario: {file}"));
        }
    }
    insta::assert_snapshot!("conformance_failure_junit", sandbox.normalize(&run.stdout));
}

/// Real JUnit reports — passes, a failure, skips — are valid against `conformance-spec/junit.xsd`
/// (which admits only what the common `junit-10.xsd` admits), checked by `xmllint`. Ignored
/// where `xmllint` may be missing; `.ci/run` installs it and runs this test.
#[test]
#[ignore = "needs xmllint (libxml2-utils); .ci/run installs it and runs this test with --ignored"]
fn junit_reports_validate_against_the_junit_xsd() {
    let xsd = crate::workspace_root().join("conformance-spec/junit.xsd");
    let sandbox = Sandbox::new();
    let failing = run_mixed_spec(&sandbox, &["--store", "sqlite:", "--format", "junit"]);
    let embedded_run = sandbox.run(&["conformance", "--format", "junit"]);
    assert_eq!(embedded_run.status, 0, "{}", embedded_run.stderr);
    assert!(
        embedded_run.stdout.contains("<skipped "),
        "the run shows a skip"
    );
    let validate = |report: &str| {
        let file = sandbox.tmp().join("report.xml");
        std::fs::write(&file, report).unwrap();
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&xsd)
            .arg(&file)
            .output()
            .expect("run xmllint (apt-get install libxml2-utils)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for report in [&failing.stdout, &embedded_run.stdout] {
        let (valid, says) = validate(report);
        assert!(valid, "xmllint rejects the report:\n{says}");
    }
    // The schema has teeth: an attribute junit-10.xsd does not know is refused.
    let (valid, says) = validate(&failing.stdout.replacen(
        "<testcase ",
        "<testcase line=\"1\" ",
        1,
    ));
    assert!(!valid && says.contains("line"), "{says}");
}

#[test]
fn junit_report_of_the_embedded_spec_has_every_scenario() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["conformance", "--format", "junit"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let root = parse_xml(&run.stdout);
    let n = embedded_count();
    assert_eq!(root.attr("tests"), (2 * n).to_string());
    for suite in root.children_named("testsuite") {
        assert_eq!(suite.children_named("testcase").len(), n);
    }
}

#[test]
fn filter_selects_by_pattern_or_substring() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "conformance",
        "--store",
        "memory",
        "--filter",
        "outbox/*",
        "--format",
        "json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    let ids: Vec<&str> = document["stores"][0]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = embedded()
        .unwrap()
        .scenarios
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| id.starts_with("outbox/"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ids, expected);

    let run = sandbox.run(&["conformance", "--store", "memory", "--filter", "rollback"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("(spec: embedded, filter \"rollback\")"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_passing_spec_with_a_snapshot_step_passes_on_both_stores() {
    let sandbox = Sandbox::new();
    let spec = fixtures::passing_spec(&sandbox);
    let run = sandbox.run(&["conformance", "--spec", &spec]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!("conformance_pass_human", sandbox.normalize(&run.stdout));
}

/// An XML element, as far as these tests look at one.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attributes.get(name).map_or_else(
            || panic!("<{}> has no attribute {name}", self.name),
            String::as_str,
        )
    }

    fn children_named(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

/// Parses a whole document with quick-xml (which checks that end tags match), panicking on any
/// error, and returns its root element.
fn parse_xml(text: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut saw_declaration = false;
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!(
                "not well-formed XML at {}: {e}\n{text}",
                reader.error_position()
            )
        });
        match event {
            Event::Decl(_) => saw_declaration = true,
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack
                    .last_mut()
                    .expect("an end tag closes an open element")
                    .children
                    .push(done);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("a valid character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::unescape(&format!("&{};", r.xml10_content()))
                        .expect("a predefined entity")
                        .into_owned(),
                };
                stack.last_mut().unwrap().text.push_str(&resolved);
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert!(
        saw_declaration,
        "the document starts with an XML declaration"
    );
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty(), "every element is closed");
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.pop().unwrap()
}

fn element(start: &quick_xml::events::BytesStart<'_>) -> Element {
    let name = start.name().as_ref().to_owned();
    let attributes = start
        .attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            let key = a.key.as_ref().to_owned();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .expect("a valid attribute value")
                .into_owned();
            (key, value)
        })
        .collect();
    Element {
        name,
        attributes,
        ..Element::default()
    }
}

/// A scratch folder of a run that was killed (its process gone, untouched for an hour) is removed
/// by the next run in the same place; one of a live process, a recent one, or any other folder is
/// left alone.
#[cfg(target_os = "linux")]
/// SIGINT and SIGTERM in the middle of a SQLite run: the run's scratch folder is gone, nothing
/// else was printed to stdout, and the status is the shell's 128 + signal.
#[test]
fn an_interrupted_run_removes_its_sqlite_folder_and_exits_128_plus_the_signal() {
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        let sandbox = Sandbox::new();
        let child = sandbox.spawn(&["conformance", "--store", "sqlite:"]);
        let scratch = |sandbox: &Sandbox| {
            std::fs::read_dir(sandbox.tmp())
                .unwrap()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("user-engine-conformance-")
                })
                .count()
        };
        // Interrupt once the folder holds a scenario's database, i.e. mid-run.
        let run = sandbox.interrupt(child, signal, || {
            std::fs::read_dir(sandbox.tmp())
                .unwrap()
                .flatten()
                .any(|dir| {
                    std::fs::read_dir(dir.path()).is_ok_and(|mut files| {
                        files.any(|f| {
                            f.is_ok_and(|f| {
                                let name = f.file_name().to_string_lossy().into_owned();
                                name.ends_with(".db") && name != "probe.db"
                            })
                        })
                    })
                })
        });
        assert_eq!(run.status, status, "SIG{signal}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("interrupted: removed 1 temporary store"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "no report after an interruption");
        assert_eq!(
            scratch(&sandbox),
            0,
            "SIG{signal} left {:?}",
            sandbox.listing()
        );
    }
}

#[test]
fn the_next_run_removes_the_sqlite_scratch_folder_a_killed_run_left() {
    let sandbox = Sandbox::new();
    let spec = crate::fixtures::passing_spec(&sandbox);
    // Beyond the kernel's largest process id, so never a running process.
    let dead = "user-engine-conformance-4294967295-abc123";
    let live = format!("user-engine-conformance-{}-def456", std::process::id());
    let recent = "user-engine-conformance-4294967294-ghi789";
    let unrelated = "user-engine-conformance-old";
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for name in [dead, &live, recent, unrelated] {
        let dir = sandbox.tmp().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("001-a-b.db"), b"").unwrap();
        if name != recent {
            std::fs::File::open(&dir)
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
    }
    let run = sandbox.run(&["conformance", "--store", "sqlite:", "--spec", &spec]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(!sandbox.tmp().join(dead).exists());
    for kept in [&live[..], recent, unrelated] {
        assert!(sandbox.tmp().join(kept).exists(), "{kept} was removed");
    }
    let left: Vec<String> = std::fs::read_dir(sandbox.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
}
