//! Small spec roots written into a sandbox, so that pinned reports do not change whenever the
//! embedded spec gains a scenario: one that passes (with a canonical snapshot), one that fails at a
//! known line, and one full of mistakes for the linter.

use crate::Sandbox;

const PASSES: &str = "\
id: records/first_save_is_version_one
summary: a first save creates version 1
clause: store-contract#records-version
given:
  migrated: true
steps:
  - save: {tenant: acme, kind: profile, id: p1, user: u1, data: {display_name: Ada}}
  - get: {tenant: acme, kind: profile, id: p1}
    expect: {version: 1, user: u1}
  - diagnostics: {}
    expect: snapshot
";

const PASSES_SNAPSHOT: &str = "\
---
source: engine/src/conformance/snapshot.rs
description: \"diagnostics of conformance scenario records/first_save_is_version_one\"
---
schema_version: 2 (latest 2)
tenants: 1
records: 1
  auth_factor: 0
  consent: 0
  contact_point: 0
  preference: 0
  profile: 1
  user: 0
audit_entries: 0
outbox:
  pending: 0
  acknowledged: 0
";

const FAILS: &str = "\
id: records/wrong_version_on_purpose
summary: expects version 2 after one save, to show a located failure
clause: store-contract#records-version
given:
  migrated: true
steps:
  - save: {tenant: acme, kind: profile, id: p1, data: {display_name: Ada}}
  - get: {tenant: acme, kind: profile, id: p1}
    expect: {version: 2}
";

const TYPOS: &str = "\
id: outbox/typos
sumary: a typo in a key
clause: store-contract#outbox-order
steps:
  - migrate: {}
  - enqueu: {tenant: acme, topic: t, key: k}
  - outbox_pending: {}
    expect: {eror: conflict}
";

const BAD_YAML: &str = "\
id: records/bad_yaml
summary: an unclosed flow sequence
clause: [store-contract#records-key
steps:
  - migrate: {}
";

/// `work/<name>/` holding `files` (paths relative to the spec root); returns `<name>`, the path
/// to pass from the sandbox's working directory.
fn write_spec(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) -> String {
    let root = sandbox.work().join(name);
    for (relative, text) in files {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(root.join("scenarios")).unwrap();
    name.to_owned()
}

/// Two scenarios: one passes (and matches its snapshot), one fails at `scenarios/records/wrong_version_on_purpose.yaml:8:3`.
pub fn mixed_spec(sandbox: &Sandbox) -> String {
    write_spec(
        sandbox,
        "mixed-spec",
        &[
            ("scenarios/records/first_save_is_version_one.yaml", PASSES),
            (
                "snapshots/records__first_save_is_version_one.snap",
                PASSES_SNAPSHOT,
            ),
            ("scenarios/records/wrong_version_on_purpose.yaml", FAILS),
        ],
    )
}

/// One scenario, which passes.
pub fn passing_spec(sandbox: &Sandbox) -> String {
    write_spec(
        sandbox,
        "passing-spec",
        &[
            ("scenarios/records/first_save_is_version_one.yaml", PASSES),
            (
                "snapshots/records__first_save_is_version_one.snap",
                PASSES_SNAPSHOT,
            ),
        ],
    )
}

/// A spec with unknown keys, an unknown step, a bad expectation and invalid YAML.
pub fn broken_spec(sandbox: &Sandbox) -> String {
    write_spec(
        sandbox,
        "broken-spec",
        &[
            ("scenarios/outbox/typos.yaml", TYPOS),
            ("scenarios/records/bad_yaml.yaml", BAD_YAML),
            ("scenarios/records/first_save_is_version_one.yaml", PASSES),
        ],
    )
}

/// The texts above, for the schema tests.
pub const SCENARIO_TEXTS: &[(&str, &str)] = &[("passes", PASSES), ("fails", FAILS)];
