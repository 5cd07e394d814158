//! The committed JSON Schemas against real documents: every scenario of the spec must validate
//! against `scenario.schema.json`, and mistakes the loader rejects must be rejected by it too; the
//! JSON reports of real runs must validate against `report.schema.json`.
//!
//! The validator below implements exactly the keywords `spec schema` uses (and panics on any
//! other, so the schema cannot outgrow this test unnoticed). It does not evaluate `pattern`: there
//! is no regex engine in this workspace, and the loader checks the same rules.

use std::path::Path;

use serde_json::Value;
use user_engine::conformance::spec;
use user_engine_conformance_spec_embedded::embedded;

use crate::{fixtures, workspace_root};

fn schema() -> Value {
    committed("scenario.schema.json")
}

/// A committed schema of `conformance-spec/`.
pub fn committed(name: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("conformance-spec").join(name))
        .expect("read the committed schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn yaml_to_json(text: &str) -> Value {
    serde_yaml::from_str(text).expect("the scenario is YAML")
}

/// Problems of `value` against the root schema (empty: valid).
pub fn problems(root: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(root, root, value, "$", &mut found);
    found
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        panic!("schema at {at} is not an object: {schema}");
    };
    for (keyword, arg) in schema {
        match keyword.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" | "pattern" => {}
            "$ref" => {
                let name = arg
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .expect("only local $defs references");
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "dangling $ref {name}");
                check(root, target, value, at, found);
            }
            "type" => {
                let ok = match arg.as_str().unwrap() {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    other => panic!("type {other} is not implemented"),
                };
                if !ok {
                    found.push(format!("{at}: {value} is not of type {arg}"));
                }
            }
            "enum" => {
                if !arg.as_array().unwrap().contains(value) {
                    found.push(format!("{at}: {value} is not one of {arg}"));
                }
            }
            "const" => {
                if arg != value {
                    found.push(format!("{at}: {value} is not {arg}"));
                }
            }
            "minimum" => {
                if value.as_f64().is_some_and(|n| n < arg.as_f64().unwrap()) {
                    found.push(format!("{at}: {value} is below {arg}"));
                }
            }
            "maximum" => {
                if value.as_f64().is_some_and(|n| n > arg.as_f64().unwrap()) {
                    found.push(format!("{at}: {value} is above {arg}"));
                }
            }
            "properties"
            | "required"
            | "additionalProperties"
            | "propertyNames"
            | "minProperties"
            | "maxProperties" => {
                if let Some(object) = value.as_object() {
                    object_keyword(root, schema, keyword, arg, object, at, found);
                }
            }
            "items" | "minItems" | "uniqueItems" => {
                if let Some(items) = value.as_array() {
                    match keyword.as_str() {
                        "items" => {
                            for (i, item) in items.iter().enumerate() {
                                check(root, arg, item, &format!("{at}[{i}]"), found);
                            }
                        }
                        "minItems" if (items.len() as u64) < arg.as_u64().unwrap() => {
                            found.push(format!("{at}: too few items"))
                        }
                        "uniqueItems"
                            if arg == true
                                && items
                                    .iter()
                                    .enumerate()
                                    .any(|(i, a)| items[..i].contains(a)) =>
                        {
                            found.push(format!("{at}: items are not unique"))
                        }
                        _ => {}
                    }
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let branches = arg.as_array().unwrap();
                let passing = branches
                    .iter()
                    .filter(|b| problems_under(root, b, value, at).is_empty())
                    .count();
                let ok = match keyword.as_str() {
                    "anyOf" => passing >= 1,
                    "oneOf" => passing == 1,
                    _ => passing == branches.len(),
                };
                if !ok {
                    found.push(format!(
                        "{at}: {passing} of {} branches of {keyword} match {value}",
                        branches.len()
                    ));
                }
            }
            other => panic!("keyword {other} is not implemented by this test's validator"),
        }
    }
}

fn problems_under(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut found = Vec::new();
    check(root, schema, value, at, &mut found);
    found
}

fn object_keyword(
    root: &Value,
    schema: &serde_json::Map<String, Value>,
    keyword: &str,
    arg: &Value,
    object: &serde_json::Map<String, Value>,
    at: &str,
    found: &mut Vec<String>,
) {
    match keyword {
        "properties" => {
            for (name, sub) in arg.as_object().unwrap() {
                if let Some(v) = object.get(name) {
                    check(root, sub, v, &format!("{at}.{name}"), found);
                }
            }
        }
        "required" => {
            for name in arg.as_array().unwrap() {
                if !object.contains_key(name.as_str().unwrap()) {
                    found.push(format!("{at}: missing {name}"));
                }
            }
        }
        "additionalProperties" => {
            let declared = schema.get("properties").and_then(Value::as_object);
            for (name, v) in object {
                if declared.is_some_and(|d| d.contains_key(name)) {
                    continue;
                }
                match arg {
                    Value::Bool(false) => found.push(format!("{at}: unknown key {name:?}")),
                    Value::Bool(true) => {}
                    sub => check(root, sub, v, &format!("{at}.{name}"), found),
                }
            }
        }
        "propertyNames" => {
            for name in object.keys() {
                check(
                    root,
                    arg,
                    &Value::String(name.clone()),
                    &format!("{at} key {name:?}"),
                    found,
                );
            }
        }
        "minProperties" if (object.len() as u64) < arg.as_u64().unwrap() => {
            found.push(format!("{at}: too few keys"))
        }
        "maxProperties" if (object.len() as u64) > arg.as_u64().unwrap() => {
            found.push(format!("{at}: too many keys"))
        }
        _ => {}
    }
}

fn scenario_files(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            scenario_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            found.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn every_scenario_of_the_spec_validates() {
    let schema = schema();
    let mut files = Vec::new();
    scenario_files(
        &workspace_root().join("conformance-spec/scenarios"),
        &mut files,
    );
    assert_eq!(files.len(), embedded().unwrap().scenarios.len());
    for (name, text) in files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .chain(fixtures::SCENARIO_TEXTS.iter().copied())
    {
        let found = problems(&schema, &yaml_to_json(text));
        assert!(
            found.is_empty(),
            "{name} does not validate against the schema:\n{}",
            found.join("\n")
        );
    }
}

const BASE: &str = "\
id: records/base
summary: a valid scenario the mistakes below start from
clause: store-contract#records-version
requires: [migration_tamper, fault_injection]
given:
  migrated: true
steps:
  - save: {tenant: acme, kind: profile, id: p1, if: absent}
  - list: {tenant: acme, limit: 1}
    as: page
    expect: [acme/profile/p1]
  - acknowledge: {first: 1}
    expect: {count: 0}
  - diagnostics: {}
    expect: {counts: {records.profile: 1}}
  - concurrently: {times: 2, step: {save: {tenant: acme, kind: profile, id: p2, if: absent}}}
    expect: {outcomes: {ok: 1, conflict: 1}}
  - begin: t
    session: s
  - save: {tx: t, tenant: acme, kind: profile, id: p3}
    session: s
    background: true
  - await: s
  - inject_fault: {commit_fails_at: 1}
  - commit: t
    session: s
    expect: {error: unavailable}
";

#[test]
fn mistakes_are_rejected_by_the_schema_and_the_loader_alike() {
    let schema = schema();
    let parse = |text: &str| spec::parse_scenario("base.yaml", "scenarios/records/base.yaml", text);
    assert!(parse(BASE).is_ok(), "{:?}", parse(BASE).err());
    assert_eq!(problems(&schema, &yaml_to_json(BASE)), Vec::<String>::new());
    let mistakes = [
        ("unknown top-level key", "summary:", "sumary:"),
        ("unknown step", "  - save:", "  - sav:"),
        ("unknown capability", "[migration_tamper,", "[time_travel,"),
        (
            "unknown clause",
            "store-contract#records-version",
            "store-contract#nowhere",
        ),
        (
            "unknown kind",
            "kind: profile, id: p1, if",
            "kind: widget, id: p1, if",
        ),
        (
            "unknown argument",
            "{tenant: acme, limit: 1}",
            "{tenant: acme, limit: 1, order: desc}",
        ),
        (
            "an expectation that does not apply",
            "expect: [acme/profile/p1]",
            "expect: snapshot",
        ),
        (
            "`as` on a step other than list",
            "  - acknowledge: {first: 1}\n",
            "  - acknowledge: {first: 1}\n    as: x\n",
        ),
        (
            "acknowledge with events and first",
            "{first: 1}",
            "{first: 1, events: [acme/t/k]}",
        ),
        ("unknown counter", "records.profile: 1", "records.widget: 1"),
        (
            "unknown seed state key",
            "migrated: true",
            "migrated: true\n  seeded: true",
        ),
        (
            "a missing clause",
            "clause: store-contract#records-version\n",
            "",
        ),
        ("a bad condition", "if: absent}", "if: present}"),
        (
            "an unknown step key",
            "    as: page\n",
            "    as: page\n    sesion: s\n",
        ),
        ("concurrently with one copy", "times: 2", "times: 1"),
        ("concurrently with too many copies", "times: 2", "times: 65"),
        (
            "concurrently running a transaction step",
            "step: {save: {tenant: acme, kind: profile, id: p2, if: absent}}",
            "step: {begin: t2}",
        ),
        (
            "a tx inside concurrently",
            "{save: {tenant: acme, kind: profile, id: p2",
            "{save: {tx: t, tenant: acme, kind: profile, id: p2",
        ),
        ("an unknown outcome", "conflict: 1}}", "clash: 1}}"),
        (
            "inject_fault with both faults",
            "{commit_fails_at: 1}",
            "{commit_fails_at: 1, terminate_backend_at: 1}",
        ),
        (
            "a session on await",
            "  - await: s\n",
            "  - await: s\n    session: s\n",
        ),
        (
            "an expectation on await",
            "  - await: s\n",
            "  - await: s\n    expect: ok\n",
        ),
    ];
    for (what, from, to) in mistakes {
        assert!(BASE.contains(from), "{what}: the base has no {from:?}");
        let text = BASE.replacen(from, to, 1);
        assert!(parse(&text).is_err(), "{what}: the loader accepts it");
        assert!(
            !problems(&schema, &yaml_to_json(&text)).is_empty(),
            "{what}: the schema accepts it"
        );
    }
}

/// The editor mapping committed for this repository names the committed schema and the folder the
/// scenarios are in, so completion needs no setup here.
#[test]
fn the_committed_editor_mapping_points_at_the_schema_and_the_scenarios() {
    let text = std::fs::read_to_string(workspace_root().join(".vscode/settings.json"))
        .expect("read .vscode/settings.json");
    let settings: Value = serde_json::from_str(&text).expect("the settings are JSON");
    let mapping = settings["yaml.schemas"]
        .as_object()
        .expect("a yaml.schemas map");
    assert_eq!(mapping.len(), 1, "{mapping:?}");
    let (schema_path, glob) = mapping.iter().next().unwrap();
    assert!(
        workspace_root().join(schema_path).is_file(),
        "{schema_path}"
    );
    let folder = glob
        .as_str()
        .unwrap()
        .strip_suffix("/**/*.yaml")
        .expect("a folder glob");
    assert!(workspace_root().join(folder).is_dir(), "{folder}");
    assert_eq!(
        schema()["$id"],
        committed("report.schema.json")["$id"]
            .as_str()
            .unwrap()
            .replace("report", "scenario")
    );
}
