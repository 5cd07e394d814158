//! Seed files: loaded and checked by the loader, named by scenarios, resolved into their records.

use std::path::Path;

use user_engine_conformance_spec::{SPEC_ROOT, load_dir, load_texts};

const SCENARIO: &str = "id: area/one\nsummary: s\nclause: store-contract#tx-rollback\ngiven: {seed: pair}\nsteps:\n  - list: {tenant: acme}\n    expect: [acme/user/u1, acme/user/u2]\n";

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    match load_texts("spec", files, &[]) {
        Ok(spec) => panic!("expected errors, got {spec:#?}"),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn a_named_seed_gives_its_records_in_file_order_before_the_scenarios_own() {
    let seed = "seed: pair\nsummary: two users\nrecords:\n  - {tenant: acme, kind: user, id: u2}\n  - {tenant: acme, kind: user, id: u1, user: u1, data: {n: 1}}\n";
    let scenario = SCENARIO.replace(
        "given: {seed: pair}",
        "given: {seed: pair, records: [{tenant: acme, kind: user, id: u3}]}",
    );
    let spec = load_texts(
        "spec",
        &[
            ("scenarios/area/one.yaml", &scenario),
            ("seeds/pair.yaml", seed),
        ],
        &[],
    )
    .unwrap();
    let given = &spec.scenarios[0].given;
    assert_eq!(given.seed.as_deref(), Some("pair"));
    let ids: Vec<&str> = given.seed_records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["u2", "u1"]);
    assert_eq!(given.seed_records[1].user.as_deref(), Some("u1"));
    assert_eq!(given.records[0].id, "u3");
    assert!(given.migrated);
    assert_eq!(spec.seeds["pair"].summary, "two users");
}

#[test]
fn an_unknown_seed_is_an_error_at_its_name_with_the_seeds_there_are() {
    let seed = "seed: pairs\nsummary: s\nrecords: [{tenant: acme, kind: user, id: u1}]\n";
    assert_eq!(
        errors(&[
            ("scenarios/area/one.yaml", SCENARIO),
            ("seeds/pairs.yaml", seed)
        ]),
        [
            "spec/scenarios/area/one.yaml:4:15: unknown seed \"pair\" (did you mean \"pairs\"?); the spec root's seeds/ folder holds: pairs (scenario area/one)"
        ]
    );
    assert_eq!(
        errors(&[("scenarios/area/one.yaml", SCENARIO)]),
        [
            "spec/scenarios/area/one.yaml:4:15: unknown seed \"pair\"; the spec root's seeds/ folder holds none (scenario area/one)"
        ]
    );
}

#[test]
fn seed_files_are_checked_like_scenarios() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "seeds/pair.yaml",
            "seed: other\nsummary: s\nrecords: [{tenant: acme, kind: user, id: u1}]\n",
            "spec/seeds/pair.yaml:1:7: seed \"other\" does not match the file's name; seeds/pair.yaml must declare seed \"pair\"",
        ),
        (
            "seeds/pair.yaml",
            "seed: pair\nsumary: s\nrecords: [{tenant: acme, kind: user, id: u1}]\n",
            "spec/seeds/pair.yaml:1:1: seed is missing \"summary\"; a seed is a mapping {seed: NAME, summary: TEXT, records: [{tenant, kind, id, user?, data?}, ...]}",
        ),
        (
            "seeds/pair.yaml",
            "seed: pair\nsummary: s\nrecords: []\n",
            "spec/seeds/pair.yaml:3:10: \"records\" must not be empty; a seed holds at least one record",
        ),
        (
            "seeds/pair.yaml",
            "seed: pair\nsummary: s\nrecords:\n  - {tenant: acme, kind: user, id: u1}\n  - {tenant: acme, kind: user, id: u1}\n",
            "spec/seeds/pair.yaml:5:5: record acme/user/u1 is listed twice; a seed writes each record once",
        ),
        (
            "seeds/pair.yaml",
            "seed: pair\nsummary: s\nrecords: [{tenant: acme, kind: widget, id: u1}]\n",
            "spec/seeds/pair.yaml:3:32: unknown kind \"widget\"; expected one of: user, profile, contact_point, auth_factor, consent, preference",
        ),
        (
            "seeds/pair.yaml",
            "seed: pair\nseed: pair\n",
            "spec/seeds/pair.yaml:2:1: duplicate key \"seed\"; a key may appear once per mapping",
        ),
        (
            "seeds/pair.yaml",
            "seed: [pair\n",
            "spec/seeds/pair.yaml:2:1: invalid yaml",
        ),
    ];
    for (path, text, expected) in cases {
        let found = errors(&[(path, text), ("scenarios/area/one.yaml", SCENARIO)]);
        assert!(
            found.iter().any(|e| e.starts_with(expected)),
            "{text:?}: expected {expected:?} among {found:#?}"
        );
    }
}

#[test]
fn the_spec_roots_seed_is_loaded_from_its_file() {
    let spec = load_dir(Path::new(SPEC_ROOT)).unwrap();
    let two = &spec.seeds["two_tenants"];
    assert_eq!(two.location.line, 1);
    assert!(two.location.file.ends_with("seeds/two_tenants.yaml"));
    let users: Vec<String> = two
        .records
        .iter()
        .filter(|r| r.kind == "user")
        .map(|r| format!("{}/{}", r.tenant, r.id))
        .collect();
    assert_eq!(users, ["acme/u1", "acme/u2", "globex/u1", "globex/u2"]);
    let using: Vec<&str> = spec
        .scenarios
        .iter()
        .filter(|s| s.given.seed.as_deref() == Some("two_tenants"))
        .map(|s| s.id.as_str())
        .collect();
    assert!(!using.is_empty(), "some scenario starts from two_tenants");
    for scenario in &spec.scenarios {
        if scenario.given.seed.is_some() {
            assert_eq!(scenario.given.seed_records, two.records, "{}", scenario.id);
        }
    }
}
