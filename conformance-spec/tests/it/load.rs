//! Loading spec roots: every file's errors together, ids compared across files, snapshots, and
//! this crate's own spec, and the same spec from texts in memory.

use std::fs;
use std::path::Path;

use user_engine_conformance_spec::{
    KNOWN_CAPABILITIES, SPEC_ROOT, STEP_KEYWORDS, load_dir, load_dir_as, load_texts,
    read_scenario_sources,
};

fn scenario(id: &str) -> String {
    format!("id: {id}\nsummary: s\nclause: store-contract#tx-rollback\nsteps:\n  - migrate: {{}}\n")
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn a_valid_root_loads_sorted_with_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    write(&root, "scenarios/outbox/b.yaml", &scenario("outbox/b"));
    write(&root, "scenarios/audit/z.yaml", &scenario("audit/z"));
    write(&root, "scenarios/outbox/a.yaml", &scenario("outbox/a"));
    write(&root, "scenarios/README.md", "not a scenario");
    write(
        &root,
        "snapshots/outbox__a.snap",
        "---\nsource: x\n---\nbody\n",
    );
    write(&root, "snapshots/outbox__a.snap.new", "pending review");
    let spec = load_dir(&root).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = spec.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["audit/z", "outbox/a", "outbox/b"]);
    assert_eq!(
        spec.scenarios[0].location.file,
        "spec/scenarios/audit/z.yaml"
    );
    assert_eq!(
        spec.snapshots.into_iter().collect::<Vec<_>>(),
        [(
            "outbox__a".to_owned(),
            "---\nsource: x\n---\nbody\n".to_owned()
        )]
    );
}

#[test]
fn errors_of_every_file_are_collected_and_duplicates_point_at_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    write(
        &root,
        "scenarios/area/one.yaml",
        &scenario("area/one").replace("migrate", "migrat"),
    );
    write(&root, "scenarios/area/two.yaml", &scenario("area/one"));
    write(&root, "scenarios/area/three.yml", &scenario("area/three"));
    write(&root, "scenarios/bad.yaml", "id: [");
    let errors = load_dir(&root).unwrap_err();
    let lines: Vec<String> = errors.to_string().lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            "spec/scenarios/area/one.yaml:1:5: duplicate scenario id \"area/one\"; also declared at spec/scenarios/area/two.yaml:1:5 (scenario area/one)",
            &format!(
                "spec/scenarios/area/one.yaml:5:5: unknown step \"migrat\" (did you mean \"migrate\"?); expected one of: {} (scenario area/one)",
                STEP_KEYWORDS.join(", ")
            ),
            "spec/scenarios/area/three.yml:1:1: scenario files must end in \".yaml\", not \".yml\"",
            "spec/scenarios/area/two.yaml:1:5: id \"area/one\" does not match the file's path; scenarios/area/two.yaml must declare id \"area/two\" (scenario area/one)",
            "spec/scenarios/area/two.yaml:1:5: duplicate scenario id \"area/one\"; also declared at spec/scenarios/area/one.yaml:1:5 (scenario area/one)",
            "spec/scenarios/bad.yaml:2:1: invalid yaml: while parsing a node, did not find expected node content",
        ]
    );
}

#[test]
fn a_root_without_scenarios_is_an_error_and_names_can_be_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_dir(dir.path()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors.to_string().contains("no scenarios directory at"),
        "{errors}"
    );

    write(dir.path(), "scenarios/a/b.yaml", "id: a/c\n");
    let shown = dir.path().display().to_string();
    let errors = load_dir_as(dir.path(), &shown).unwrap_err();
    assert!(
        errors.to_string().starts_with(&format!(
            "{shown}/scenarios/a/b.yaml:1:1: scenario is missing"
        )),
        "{errors}"
    );
}

#[test]
fn pretty_reports_show_the_offending_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    write(
        &root,
        "scenarios/area/one.yaml",
        &scenario("area/one").replace("migrate: {}", "get: {tenant: acme, kind: widget, id: p1}"),
    );
    let errors = load_dir(&root).unwrap_err();
    let report = errors.render_pretty(&read_scenario_sources(&root));
    assert_eq!(
        report,
        "spec/scenarios/area/one.yaml:5:31: unknown kind \"widget\"; expected one of: user, profile, contact_point, auth_factor, consent, preference (scenario area/one)\n  \
         |\n5 |   - get: {tenant: acme, kind: widget, id: p1}\n  |                               ^\n"
    );
}

#[test]
fn the_crates_own_spec_is_valid() {
    // Its compiled-in copy is checked against these files in user-engine-conformance-spec-embedded.
    load_dir(Path::new(SPEC_ROOT))
        .unwrap_or_else(|e| panic!("the spec in conformance-spec/ is invalid:\n{e}"));
}

#[test]
fn texts_in_memory_load_like_the_same_files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spec");
    let one = scenario("area/one");
    let two = scenario("area/two");
    write(&root, "scenarios/area/one.yaml", &one);
    write(&root, "scenarios/area/two.yaml", &two);
    write(&root, "snapshots/area__one.snap", "snapshot");
    let on_disk = load_dir(&root).unwrap_or_else(|e| panic!("{e}"));
    let in_memory = load_texts(
        "spec",
        &[
            ("scenarios/area/two.yaml", two.as_str()),
            ("scenarios/area/one.yaml", one.as_str()),
            ("scenarios/area/notes.txt", "not a scenario"),
        ],
        &[("snapshots/area__one.snap", "snapshot")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(in_memory, on_disk);

    let duplicate = load_texts(
        "spec",
        &[
            ("scenarios/area/one.yaml", one.as_str()),
            ("scenarios/area/two.yaml", one.as_str()),
        ],
        &[],
    )
    .unwrap_err();
    assert!(
        duplicate
            .to_string()
            .contains("spec/scenarios/area/two.yaml:1:5:"),
        "{duplicate}"
    );
}

#[test]
fn a_declared_capability_must_be_exercised_by_some_scenario() {
    let spec = load_dir(Path::new(SPEC_ROOT)).unwrap_or_else(|e| panic!("{e}"));
    let unexercised: Vec<&str> = KNOWN_CAPABILITIES
        .iter()
        .copied()
        .filter(|capability| {
            !spec.scenarios.iter().any(|s| {
                s.requires
                    .iter()
                    .chain(&s.excludes)
                    .any(|c| c == capability)
            })
        })
        .collect();
    assert!(
        unexercised.is_empty(),
        "no scenario requires or excludes {unexercised:?}; an adapter declaring it would be checked for nothing"
    );
}
