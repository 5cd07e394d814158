//! Rules across steps: sessions own their transactions, background steps are awaited exactly
//! once, and operations that need a capability run only where the scenario declares it.

use user_engine_conformance_spec::parse_scenario;

use crate::validate::{HEAD, errors, step_errors};

/// Errors of a scenario with `requires` and/or `excludes` lines before its steps (line 6 on).
fn declared_errors(declared: &str, steps: &str) -> Vec<String> {
    errors(&format!("{HEAD}{declared}\nsteps:\n{steps}"))
}

fn is_valid(declared: &str, steps: &str) {
    let yaml = format!("{HEAD}{declared}\nsteps:\n{steps}");
    if let Err(errors) = parse_scenario("f.yaml", "scenarios/area/name.yaml", &yaml) {
        panic!("expected a valid scenario, got:\n{errors}\n---\n{yaml}");
    }
}

#[test]
fn session_and_background_keys_are_checked() {
    assert_eq!(
        step_errors(
            "  - migrate: {}\n    session: \"a b\"\n\
             \x20 - migrate: {}\n    session: a\n    background: yes\n\
             \x20 - migrate: {}\n    background: true\n\
             \x20 - list: {tenant: acme}\n    session: a\n    background: true\n    as: page\n\
             \x20 - await: a\n    expect: ok\n\
             \x20 - await: a\n    session: b\n\
             \x20 - migrate: {}\n    sesion: a\n\
             \x20 - reopen: {}\n    session: a\n\
             \x20 - concurrently: {times: 1, step: {migrate: {}}}\n    background: true\n"
        ),
        [
            "6:14: session name \"a b\" contains ' '; only ASCII letters, digits and `_ . @ : -` are allowed",
            "9:17: \"background\" must be true or false, found string \"yes\"",
            "11:5: \"background: true\" needs a \"session\": the default session stays in the foreground; add \"session: NAME\"",
            "15:5: \"as\" cannot be used on a background step; its cursor is known only once it is awaited",
            "17:5: \"await\" takes no \"expect\"; put the expectation on the background step it waits for",
            "19:5: \"await\" takes no \"session\"; it waits, from the scenario's own thread, for the session it names",
            "21:5: unknown key \"sesion\" in a \"migrate\" step (did you mean \"session\"?); besides its operation a step may have \"expect\", \"as\", \"session\" and \"background\"",
            "23:5: \"reopen\" takes no \"session\"; it runs on the scenario's own thread and drops every session's open transactions",
            "24:27: \"times\" must be at least 2, found 1; a single copy is an ordinary step",
            "25:5: \"concurrently\" takes no \"background\"; each copy runs on a thread of its own",
        ]
    );
}

#[test]
fn background_steps_are_awaited_exactly_once() {
    assert_eq!(
        step_errors(
            "  - begin: t\n    session: a\n\
             \x20 - commit: t\n    session: a\n    background: true\n\
             \x20 - readiness: {}\n    session: a\n\
             \x20 - await: b\n\
             \x20 - await: a\n\
             \x20 - await: a\n\
             \x20 - migrate: {}\n    session: worker\n    background: true\n"
        ),
        [
            "11:14: session \"a\" is still running its background step from line 7; add \"await: a\" before giving it another step",
            "12:12: session \"b\" has no background step to await (did you mean \"a\"?); pending: a",
            "14:12: session \"a\" has no background step to await; no background step is pending",
            "17:5: the background step of session \"worker\" is never awaited; add \"await: worker\" after it",
        ]
    );
}

#[test]
fn transactions_belong_to_the_session_that_began_them() {
    assert_eq!(
        step_errors(
            "  - begin: ta\n    session: a\n\
             \x20 - begin: t\n\
             \x20 - save: {tx: ta, tenant: acme, kind: user, id: u1}\n\
             \x20 - commit: t\n    session: b\n\
             \x20 - begin: ta2\n    session: a\n\
             \x20 - commit: ta\n    session: a\n"
        ),
        [
            "8:16: transaction \"ta\" belongs to session \"a\" (begun on line 5), but this step runs in the default session; a transaction is used only by the session that began it",
            "9:13: transaction \"t\" belongs to the default session (begun on line 7), but this step runs in session \"b\"; a transaction is used only by the session that began it",
            "11:12: transaction \"ta2\" is begun while \"ta\" is still open in session \"a\"; two open transactions in one session need \"requires: [commit_time_conflicts]\"",
        ]
    );
    // One open transaction per session needs no capability: sessions are threads.
    is_valid(
        "",
        "  - begin: ta\n    session: a\n  - begin: tb\n    session: b\n  - begin: t\n\
         \x20 - commit: tb\n    session: b\n  - commit: t\n  - rollback: ta\n    session: a\n",
    );
}

#[test]
fn reopen_ends_every_open_transaction_and_waits_for_background_steps() {
    assert_eq!(
        declared_errors(
            "requires: [durable_reopen]",
            "  - begin: t\n\
             \x20 - migrate: {}\n    session: a\n    background: true\n\
             \x20 - reopen: {}\n\
             \x20 - await: a\n\
             \x20 - commit: t\n"
        ),
        [
            "10:5: \"reopen\" while session \"a\" still runs its background step from line 7; await it first with \"await: a\"",
            "12:13: transaction \"t\" was already ended by \"reopen\" on line 10",
        ]
    );
}

#[test]
fn operations_that_need_a_capability_name_it() {
    assert_eq!(
        declared_errors(
            "requires: [fault_injection]",
            "  - tamper_migration: {version: 1}\n\
             \x20 - inject_fault: {commit_fails_at: 1}\n\
             \x20 - inject_fault: {terminate_backend_at: 1}\n\
             \x20 - reopen: {}\n"
        ),
        [
            "6:5: \"tamper_migration\" needs capability \"migration_tamper\"; add \"requires: [migration_tamper]\" (or \"excludes: [migration_tamper]\" to check that a store without it answers {error: unsupported})",
            "8:5: \"inject_fault\" needs capability \"backend_termination\"; add \"requires: [backend_termination]\" (or \"excludes: [backend_termination]\" to check that a store without it answers {error: unsupported})",
            "9:5: \"reopen\" needs capability \"durable_reopen\"; add \"requires: [durable_reopen]\" (or \"excludes: [durable_reopen]\" to check that a store without it answers {error: unsupported})",
        ]
    );
    assert_eq!(
        declared_errors(
            "excludes: [durable_reopen, fault_injection]",
            "  - reopen: {}\n\
             \x20 - inject_fault: {commit_fails_at: 1}\n    expect: {error: unsupported}\n"
        ),
        [
            "6:5: with \"durable_reopen\" excluded, \"reopen\" can only fail; add \"expect: {error: unsupported}\""
        ]
    );
    is_valid(
        "requires: [backend_termination, durable_reopen, migration_tamper]\nexcludes: [fault_injection]",
        "  - tamper_migration: {version: 1}\n\
         \x20 - inject_fault: {terminate_backend_at: 2}\n\
         \x20 - reopen: {}\n\
         \x20 - inject_fault: {commit_fails_at: 1}\n    expect: {error: unsupported}\n",
    );
}

#[test]
fn excludes_is_checked_like_requires_and_never_overlaps_it() {
    assert_eq!(
        declared_errors(
            "requires: [fault_injection]\nexcludes: [fault_injection, durable_reopn, durable_reopen, durable_reopen]",
            "  - migrate: {}\n"
        ),
        [
            "5:29: unknown capability \"durable_reopn\" (did you mean \"durable_reopen\"?); expected one of: migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, backend_termination, stepwise_migration",
            "5:60: capability \"durable_reopen\" is listed twice",
        ]
    );
    assert_eq!(
        declared_errors(
            "requires: [fault_injection, durable_reopen]\nexcludes: [durable_reopen, fault_injection]",
            "  - migrate: {}\n"
        ),
        [
            "5:12: capability \"durable_reopen\" is both required and excluded; a scenario runs on stores that have it or on stores that lack it, not both",
            "5:28: capability \"fault_injection\" is both required and excluded; a scenario runs on stores that have it or on stores that lack it, not both",
        ]
    );
    assert_eq!(
        declared_errors("excludes: durable_reopen", "  - migrate: {}\n"),
        [
            "4:11: \"excludes\" must be a list of capabilities, found string \"durable_reopen\"; known capabilities: migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, backend_termination, stepwise_migration"
        ]
    );
}
