//! Every class of validation error, located at the exact key or value, and collected together.

use user_engine_conformance_spec::{
    STEP_KEYWORDS, SpecErrors, parse_scenario, parse_scenario_with_seeds,
};

pub(crate) const HEAD: &str = "id: area/name\nsummary: s\nclause: store-contract#tx-rollback\n";

/// `line:col: message` for each error in a file at `scenarios/area/name.yaml`.
pub(crate) fn errors(yaml: &str) -> Vec<String> {
    errors_at("scenarios/area/name.yaml", yaml)
}

fn errors_at(relative: &str, yaml: &str) -> Vec<String> {
    let seed = "seed: two_tenants\nsummary: s\nrecords: [{tenant: a, kind: user, id: u1}]\n";
    let seeds = [("seeds/two_tenants.yaml", seed)];
    let errors: SpecErrors = match parse_scenario_with_seeds("f.yaml", relative, yaml, &seeds) {
        Ok(scenario) => panic!("expected errors, got {scenario:#?}"),
        Err(errors) => errors,
    };
    errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.location.line, e.location.column, e.message))
        .collect()
}

/// Errors of a scenario whose steps (starting on line 5) are `steps`.
pub(crate) fn step_errors(steps: &str) -> Vec<String> {
    errors(&format!("{HEAD}steps:\n{steps}"))
}

#[test]
fn yaml_syntax_errors_name_the_position() {
    assert_eq!(
        errors("id: a: b\n"),
        ["1:6: invalid yaml: mapping values are not allowed in this context"]
    );
    assert_eq!(
        errors(&format!("{HEAD}steps:\n  - migrate: {{\n")),
        ["6:1: invalid yaml: while parsing a node, did not find expected node content"]
    );
    assert_eq!(
        errors("id: a\nid: b\n"),
        ["2:1: duplicate key \"id\"; a key may appear once per mapping"]
    );
}

#[test]
fn the_whole_error_line_names_file_position_and_scenario() {
    let errors = parse_scenario(
        "spec/scenarios/area/name.yaml",
        "scenarios/area/name.yaml",
        &format!("{HEAD}steps:\n  - sav: {{}}\n"),
    )
    .unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!(
            "spec/scenarios/area/name.yaml:5:5: unknown step \"sav\" (did you mean \"save\"?); expected one of: {} (scenario area/name)",
            STEP_KEYWORDS.join(", ")
        )
    );
}

#[test]
fn top_level_keys_are_checked() {
    assert_eq!(
        errors(
            "id: area/name\nsumary: s\nclause: store-contract#tx-rollback\nsteps: [migrate: {}]\n"
        ),
        [
            "1:1: scenario is missing \"summary\"; a scenario is a mapping with keys id, summary, clause, requires?, excludes?, given?, steps",
            "2:1: unknown key \"sumary\" (did you mean \"summary\"?); a scenario is a mapping with keys id, summary, clause, requires?, excludes?, given?, steps",
        ]
    );
    assert_eq!(
        errors(""),
        [
            "1:1: the file is empty; a scenario is a mapping with keys id, summary, clause, requires?, excludes?, given?, steps"
        ]
    );
    assert_eq!(
        errors("- a\n"),
        [
            "1:1: found a list; a scenario is a mapping with keys id, summary, clause, requires?, excludes?, given?, steps"
        ]
    );
    assert_eq!(
        errors(
            "id: area/name\nsummary: \"two\\nlines\"\nclause: store-contract#tx-rollback\nsteps: [migrate: {}]\n"
        ),
        ["2:10: summary must fit on one line"]
    );
}

#[test]
fn ids_must_match_the_file_path() {
    let yaml = format!("{HEAD}steps: [migrate: {{}}]\n").replace("area/name", "area/other");
    assert_eq!(
        errors(&yaml),
        [
            "1:5: id \"area/other\" does not match the file's path; scenarios/area/name.yaml must declare id \"area/name\""
        ]
    );
    let yaml = format!("{HEAD}steps: [migrate: {{}}]\n").replace("area/name", "Area/name");
    assert_eq!(
        errors(&yaml),
        [
            "1:5: id \"Area/name\": area \"Area\" starts with 'A'; it must start with a lowercase letter"
        ]
    );
    let yaml = format!("{HEAD}steps: [migrate: {{}}]\n").replace("area/name", "area");
    assert_eq!(
        errors(&yaml),
        ["1:5: id \"area\" must be written <area>/<name>, like \"outbox/commit_order\""]
    );
    assert_eq!(
        errors_at(
            "scenarios/area/deeper/name.yaml",
            &format!("{HEAD}steps: [migrate: {{}}]\n")
        ),
        [
            "1:1: scenario files must be at scenarios/<area>/<name>.yaml with lowercase snake_case names, found \"scenarios/area/deeper/name.yaml\""
        ]
    );
    let yaml = format!("{HEAD}steps: [migrate: {{}}]\n").replace("id: area/name", "id: 7");
    assert_eq!(
        errors(&yaml),
        ["1:5: id must be a string, found number 7; quote it: \"7\""]
    );
}

#[test]
fn clauses_must_name_a_contract_anchor() {
    let yaml = format!("{HEAD}steps: [migrate: {{}}]\n");
    assert_eq!(
        errors(&yaml.replace("#tx-rollback", "#tx-rolback"))[0]
            .split("; known anchors")
            .next()
            .unwrap(),
        "3:9: clause \"store-contract#tx-rolback\" names no anchor of docs/store-contract.md (did you mean \"tx-rollback\"?)"
    );
    assert_eq!(
        errors(&yaml.replace("store-contract#tx-rollback", "tx-rollback")),
        [
            "3:9: clause \"tx-rollback\" must be written store-contract#ANCHOR, naming an anchor of docs/store-contract.md"
        ]
    );
}

#[test]
fn capabilities_must_be_known() {
    let yaml = format!(
        "{HEAD}requires: [commit_time_conflict, migration_tamper, migration_tamper]\nsteps: [migrate: {{}}]\n"
    );
    assert_eq!(
        errors(&yaml),
        [
            "4:12: unknown capability \"commit_time_conflict\" (did you mean \"commit_time_conflicts\"?); expected one of: migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, backend_termination, stepwise_migration",
            "4:52: capability \"migration_tamper\" is listed twice",
        ]
    );
    let yaml = format!("{HEAD}requires: migration_tamper\nsteps: [migrate: {{}}]\n");
    assert_eq!(
        errors(&yaml),
        [
            "4:11: \"requires\" must be a list of capabilities, found string \"migration_tamper\"; known capabilities: migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, backend_termination, stepwise_migration"
        ]
    );
}

#[test]
fn given_is_checked() {
    let yaml = format!(
        "{HEAD}given:\n  migrated: yes\n  seed: three_tenants\n  records:\n    - {{tenant: acme, kind: widget, id: w1, colour: red}}\nsteps: [migrate: {{}}]\n"
    );
    assert_eq!(
        errors(&yaml),
        [
            "5:13: \"migrated\" must be true or false, found string \"yes\"",
            "6:9: unknown seed \"three_tenants\" (did you mean \"two_tenants\"?); the spec root's seeds/ folder holds: two_tenants",
            "8:28: unknown kind \"widget\"; expected one of: user, profile, contact_point, auth_factor, consent, preference",
            "8:44: unknown key \"colour\" in a given record; a given record takes {tenant, kind, id, user?, data?}",
        ]
    );
    let yaml =
        format!("{HEAD}given: {{migrated: false, seed: two_tenants}}\nsteps: [migrate: {{}}]\n");
    assert_eq!(
        errors(&yaml),
        [
            "4:19: \"migrated: false\" contradicts \"seed\" and \"records\", which are written after migrating"
        ]
    );
}

#[test]
fn steps_must_be_a_non_empty_list_of_single_operations() {
    assert_eq!(
        errors(&format!("{HEAD}steps: []\n")),
        ["4:8: \"steps\" must not be empty; a scenario needs at least one step"]
    );
    assert_eq!(
        errors(&format!("{HEAD}steps: {{migrate: {{}}}}\n")),
        ["4:8: \"steps\" must be a list of steps, found a mapping"]
    );
    assert_eq!(
        step_errors("  - migrate\n  - migrate: {}\n    readiness: {}\n  - expect: ok\n"),
        [
            "5:5: a step must be a mapping like \"- migrate: {}\", found string \"migrate\"",
            "7:5: a step has one operation, found \"migrate\" and \"readiness\"; give each its own \"-\" item",
            &format!(
                "8:5: step has no operation; expected one of: {}",
                STEP_KEYWORDS.join(", ")
            ),
        ]
    );
    assert_eq!(
        step_errors("  - expct: ok\n    get: {tenant: acme, kind: user, id: u1}\n"),
        [
            "5:5: unknown key \"expct\" in a \"get\" step (did you mean \"expect\"?); besides its operation a step may have \"expect\", \"as\", \"session\" and \"background\""
        ]
    );
}

#[test]
fn arguments_are_checked_key_by_key() {
    assert_eq!(
        step_errors("  - save: {tenat: acme, kind: profile, id: p1, user: 7, if: maybe}\n"),
        [
            "5:11: \"save\" is missing \"tenant\"; it takes {tx?, tenant, kind, id, user?, data?, if?}",
            "5:12: unknown key \"tenat\" in \"save\" (did you mean \"tenant\"?); \"save\" takes {tx?, tenant, kind, id, user?, data?, if?}",
            "5:54: user must be a string, found number 7; quote it: \"7\"",
            "5:61: \"if\" must be \"absent\", \"any\" or {version: N}, found string \"maybe\"",
        ]
    );
    assert_eq!(
        step_errors(
            "  - get: {tenant: \"acme corp\", kind: profile, id: p1}\n  - list: {tenant: acme, limit: two}\n  - migrate: {force: true}\n  - begin: {name: tx}\n"
        ),
        [
            "5:19: tenant \"acme corp\" contains ' '; only ASCII letters, digits and `_ . @ : -` are allowed",
            "6:33: limit must be a non-negative integer, found string \"two\"",
            "7:15: \"migrate\" takes no arguments, found key \"force\"; write \"migrate: {}\"",
            "8:12: the transaction name after \"begin\" must be a string, found a mapping",
        ]
    );
    assert_eq!(
        step_errors(
            "  - save: {tenant: acme, kind: profile, id: p1, if: {version: 0}}\n  - tamper_migration: {}\n  - audit: {tenant: acme, action: x, target: widget/w1}\n"
        ),
        [
            "5:63: version must be at least 1, found 0",
            "6:23: \"tamper_migration\" is missing \"version\"; it takes {version}",
            "7:46: target \"widget/w1\" names unknown kind \"widget\"; expected one of: user, profile, contact_point, auth_factor, consent, preference",
        ]
    );
    assert_eq!(
        step_errors(
            "  - acknowledge: {first: 1, events: []}\n  - acknowledge: {}\n  - acknowledge: {events: [acme/p1]}\n"
        ),
        [
            "5:19: \"acknowledge\" takes exactly one of \"events\", \"first\" and \"again\": {events: [tenant/topic/key, ...]}, {first: N} or {again: true}",
            "6:18: \"acknowledge\" needs {events: [tenant/topic/key, ...]}, {first: N} or {again: true}",
            "7:28: event \"acme/p1\" must be written tenant/topic/key",
        ]
    );
}

#[test]
fn expectations_must_fit_the_operation() {
    assert_eq!(
        step_errors(
            "  - get: {tenant: acme, kind: user, id: u1}\n    expect: snapshot\n\
             \x20 - save: {tenant: acme, kind: user, id: u1}\n    expect: {applied: [1]}\n\
             \x20 - list: {tenant: acme}\n    expect: absent\n\
             \x20 - diagnostics: {}\n    expect: [a]\n\
             \x20 - readiness: {}\n    expect: {count: 1}\n\
             \x20 - migrate: {}\n    expect: ready\n\
             \x20 - list_audit: {tenant: acme}\n    expect: {counts: {records: 1}}\n\
             \x20 - outbox_pending: {}\n    expect: {version: 1}\n"
        ),
        [
            "6:13: expectation \"snapshot\" does not apply to \"get\"; \"get\" can expect: ok, absent, a record {version?, user?, data?}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "8:13: expectation {applied: [N, ...]} does not apply to \"save\"; \"save\" can expect: ok, a record {version?, user?, data?}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "10:13: expectation \"absent\" does not apply to \"list\"; \"list\" can expect: ok, a list [...], {count: N}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "12:13: expectation a list [...] does not apply to \"diagnostics\"; \"diagnostics\" can expect: ok, snapshot, {counts: {NAME: N}}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "14:13: expectation {count: N} does not apply to \"readiness\"; \"readiness\" can expect: ok, ready, {not_ready: REASON}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "16:13: expectation \"ready\" does not apply to \"migrate\"; \"migrate\" can expect: ok, {applied: [N, ...]}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "18:13: expectation {counts: {NAME: N}} does not apply to \"list_audit\"; \"list_audit\" can expect: ok, a list [...], {count: N}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "20:13: expectation a record {version?, user?, data?} does not apply to \"outbox_pending\"; \"outbox_pending\" can expect: ok, a list [...], {count: N}, {error: KIND}, {one_of: [EXPECT, ...]}",
        ]
    );
}

#[test]
fn expectation_values_are_checked() {
    assert_eq!(
        step_errors(
            "  - get: {tenant: acme, kind: user, id: u1}\n    expect: {eror: not_found}\n\
             \x20 - get: {tenant: acme, kind: user, id: u1}\n    expect: {error: notfound}\n\
             \x20 - readiness: {}\n    expect: {not_ready: sleepy}\n\
             \x20 - diagnostics: {}\n    expect: {counts: {records.widget: 1, outbox.pending: x}}\n\
             \x20 - get: {tenant: acme, kind: user, id: u1}\n    expect: {error: conflict, version: 2}\n\
             \x20 - get: {tenant: acme, kind: user, id: u1}\n    expect: absnt\n"
        ),
        [
            "6:14: unknown key \"eror\" in expect (did you mean \"error\"?); expected ok, absent, ready, snapshot, a list [...], {error: KIND}, {not_ready: REASON}, {applied: [N, ...]}, {count: N}, {counts: {NAME: N}}, {outcomes: {ok: N, KIND: N}}, {one_of: [EXPECT, ...]} or a record {version?, user?, data?}",
            "8:21: unknown error kind \"notfound\" (did you mean \"not_found\"?); expected one of: not_found, conflict, not_ready, unsupported, invalid, unavailable, drift, in_doubt",
            "10:25: unknown not-ready reason \"sleepy\"; expected one of: not_migrated, behind, ahead, drift, unavailable",
            "12:23: unknown counter \"records.widget\"; expected one of: records, records.<kind>, tenants, audit_entries, outbox.pending, outbox.acknowledged, schema_version",
            "12:58: counter \"outbox.pending\" must be a non-negative integer, found string \"x\"",
            "14:31: \"version\" cannot be combined with \"error\" in one expectation",
            "16:13: unknown expectation \"absnt\" (did you mean \"absent\"?); expected ok, absent, ready, snapshot, a list [...], {error: KIND}, {not_ready: REASON}, {applied: [N, ...]}, {count: N}, {counts: {NAME: N}}, {outcomes: {ok: N, KIND: N}}, {one_of: [EXPECT, ...]} or a record {version?, user?, data?}",
        ]
    );
}

#[test]
fn transactions_are_used_only_while_open() {
    assert_eq!(
        step_errors(
            "  - save: {tx: t1, tenant: acme, kind: user, id: u1}\n\
             \x20 - begin: t1\n\
             \x20 - begin: t1\n\
             \x20 - commit: t1\n\
             \x20 - get: {tx: t1, tenant: acme, kind: user, id: u1}\n\
             \x20 - rollback: t1\n\
             \x20 - begin: t2\n\
             \x20 - begin: t3\n"
        ),
        [
            "5:16: transaction \"t1\" is not open; begin it first with \"begin: t1\"",
            "7:12: transaction \"t1\" is already open (begun on line 6)",
            "9:15: transaction \"t1\" was already ended by \"commit\" on line 8",
            "10:15: transaction \"t1\" was already ended by \"commit\" on line 8",
            "12:12: transaction \"t3\" is begun while \"t2\" is still open; two open transactions in one session need \"requires: [commit_time_conflicts]\"",
        ]
    );
}

#[test]
fn cursors_are_captured_before_use_and_only_by_list() {
    assert_eq!(
        step_errors(
            "  - list: {tenant: acme, after: page1}\n\
             \x20 - list_user: {tenant: acme, user: u1}\n    as: page1\n\
             \x20 - list: {tenant: acme, limit: 1}\n    as: page2\n\
             \x20 - list: {tenant: acme, after: page2}\n"
        ),
        [
            "5:33: cursor \"page1\" is not captured by an earlier step; add \"as: page1\" to an earlier \"list\" step",
            "7:5: \"as\" only applies to \"list\" (it captures the page's next cursor), not to \"list_user\"",
        ]
    );
}

#[test]
fn every_error_of_a_file_is_collected_in_order() {
    let yaml = "\
id: area/wrong
summary: s
clause: store-contract#nowhere
requires: [teleport]
steps:
  - migrate: {}
    expect: snapshot
  - sav: {tenant: acme}
  - get: {tenant: acme, kind: widget, id: p1}
  - commit: tx
";
    let found = errors(yaml);
    let lines: Vec<&str> = found
        .iter()
        .map(|e| e.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["1:5", "3:9", "4:12", "7:13", "8:5", "9:31", "10:13"],
        "{found:#?}"
    );
}

#[test]
fn new_operations_check_their_arguments() {
    assert_eq!(
        step_errors(
            "  - await: {session: a}\n\
             \x20 - deliver: {acknowledge: no, limt: 2}\n\
             \x20 - delivered: {limit: 1}\n\
             \x20 - reopen: now\n\
             \x20 - inject_fault: {commit_fails_at: 0}\n\
             \x20 - inject_fault: {commit_fails_at: 1, terminate_backend_at: 2}\n\
             \x20 - inject_fault: {}\n\
             \x20 - inject_fault: {fail_at: 1}\n"
        ),
        [
            "5:12: the session name after \"await\" must be a string, found a mapping",
            "6:28: \"acknowledge\" must be true or false, found string \"no\"",
            "6:32: unknown key \"limt\" in \"deliver\" (did you mean \"limit\"?); \"deliver\" takes {limit?, acknowledge?}",
            "7:17: \"delivered\" takes no arguments, found key \"limit\"; write \"delivered: {}\"",
            "8:13: \"reopen\" takes no arguments, found string \"now\"; write \"reopen: {}\"",
            "9:37: \"commit_fails_at\" must be at least 1, found 0",
            "10:40: \"inject_fault\" takes exactly one of \"commit_fails_at\" and \"terminate_backend_at\": {commit_fails_at: K} or {terminate_backend_at: K}",
            "11:19: \"inject_fault\" needs {commit_fails_at: K} or {terminate_backend_at: K}",
            "12:20: unknown key \"fail_at\" in \"inject_fault\"; \"inject_fault\" takes {commit_fails_at?, terminate_backend_at?}",
        ]
    );
}

#[test]
fn concurrently_runs_copies_of_one_auto_commit_operation() {
    assert_eq!(
        step_errors(
            "  - concurrently: {times: 1, step: {migrate: {}}}\n\
             \x20 - concurrently: {times: 2, step: {get: {tenant: acme, kind: user, id: u1}}}\n\
             \x20 - concurrently: {times: 2, step: {sav: {}}}\n\
             \x20 - concurrently: {times: 2, step: {save: {tx: t, tenant: acme, kind: user, id: u1}}}\n\
             \x20 - concurrently: {times: 2, step: {migrate: {}, readiness: {}}}\n\
             \x20 - concurrently: {times: 2, step: migrate}\n\
             \x20 - concurrently: {step: {migrate: {}}}\n\
             \x20 - concurrently: {times: 2, step: {concurrently: {times: 2, step: {migrate: {}}}}}\n"
        ),
        [
            "5:27: \"times\" must be at least 2, found 1; a single copy is an ordinary step",
            "6:37: \"concurrently\" cannot run \"get\"; it runs one of: migrate, readiness, save, delete, audit, enqueue, deliver",
            "7:37: unknown step \"sav\" (did you mean \"save\"?); \"concurrently\" runs one of: migrate, readiness, save, delete, audit, enqueue, deliver",
            "8:44: each copy of a \"concurrently\" step runs in a transaction of its own; remove \"tx\"",
            "9:50: \"step\" has one operation, found \"migrate\" and \"readiness\"",
            "10:36: \"step\" must be a mapping with one operation, like {save: {...}}, found string \"migrate\"; \"concurrently\" runs one of: migrate, readiness, save, delete, audit, enqueue, deliver",
            "11:19: \"concurrently\" is missing \"times\"; it takes {times, step}",
            "12:37: \"concurrently\" cannot run \"concurrently\"; it runs one of: migrate, readiness, save, delete, audit, enqueue, deliver",
        ]
    );
}

#[test]
fn outcomes_apply_to_concurrently_and_count_every_copy() {
    assert_eq!(
        step_errors(
            "  - save: {tenant: acme, kind: user, id: u1}\n    expect: {outcomes: {ok: 1}}\n\
             \x20 - concurrently: {times: 3, step: {save: {tenant: acme, kind: user, id: u1}}}\n    expect: {outcomes: {ok: 1, conflit: 2}}\n\
             \x20 - concurrently: {times: 3, step: {save: {tenant: acme, kind: user, id: u1}}}\n    expect: {outcomes: {ok: 1, conflict: 1}}\n\
             \x20 - concurrently: {times: 2, step: {save: {tenant: acme, kind: user, id: u1}}}\n    expect: {applied: [1]}\n\
             \x20 - concurrently: {times: 2, step: {migrate: {}}}\n    expect: ready\n\
             \x20 - concurrently: {times: 2, step: {enqueue: {tenant: acme, topic: t, key: k}}}\n    expect: {outcomes: {}}\n\
             \x20 - deliver: {}\n    expect: {version: 1}\n\
             \x20 - delivered: {}\n    expect: {applied: []}\n"
        ),
        [
            "6:13: expectation {outcomes: {ok: N, KIND: N}} does not apply to \"save\"; \"save\" can expect: ok, a record {version?, user?, data?}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "8:32: unknown outcome \"conflit\" (did you mean \"conflict\"?); expected \"ok\" or an error kind: not_found, conflict, not_ready, unsupported, invalid, unavailable, drift, in_doubt",
            "10:24: outcomes add up to 2, but \"concurrently\" runs 3 copies; count every copy (kinds not listed must not occur)",
            "12:13: expectation {applied: [N, ...]} does not apply to \"concurrently\"; \"concurrently\" can expect: ok, {outcomes: {ok: N, KIND: N}}, {error: KIND}",
            "14:13: expectation \"ready\" does not apply to \"concurrently\"; \"concurrently\" can expect: ok, {outcomes: {ok: N, KIND: N}}, {error: KIND}, {applied: [N, ...]}",
            "16:24: \"outcomes\" must name at least one outcome, like {ok: 1, conflict: 1}",
            "18:13: expectation a record {version?, user?, data?} does not apply to \"deliver\"; \"deliver\" can expect: ok, a list [...], {count: N}, {error: KIND}, {one_of: [EXPECT, ...]}",
            "20:13: expectation {applied: [N, ...]} does not apply to \"delivered\"; \"delivered\" can expect: ok, a list [...], {count: N}, {error: KIND}, {one_of: [EXPECT, ...]}",
        ]
    );
}

/// An unknown argument key is reported, and the step is still read: its `expect` is checked, and
/// a cursor it captures or a background step it starts is known to the steps after it.
#[test]
fn an_unknown_argument_key_does_not_hide_the_rest_of_the_step() {
    assert_eq!(
        step_errors("  - save: {tenant: a, kind: user, id: x, typo: 1}\n    expect: ready\n"),
        [
            "5:42: unknown key \"typo\" in \"save\"; \"save\" takes {tx?, tenant, kind, id, user?, data?, if?}",
            "6:13: expectation \"ready\" does not apply to \"save\"; \"save\" can expect: ok, a record {version?, user?, data?}, {error: KIND}, {one_of: [EXPECT, ...]}",
        ]
    );
    assert_eq!(
        step_errors(
            "  - list: {tenant: acme, lmit: 1}\n    as: page\n  - list: {tenant: acme, after: page}\n"
        ),
        [
            "5:26: unknown key \"lmit\" in \"list\" (did you mean \"limit\"?); \"list\" takes {tenant, kind?, limit?, after?}"
        ]
    );
}
