//! A valid scenario becomes exactly the model the runner reads.

use std::collections::BTreeMap;

use serde_json::json;
use user_engine_conformance_spec::{
    Expect, FaultSpec, Given, KeySpec, Location, Operation, RecordSpec, Scenario, Step,
    VersionCondition, parse_scenario, parse_scenario_with_seeds,
};

const SEED: &str = "seed: two_tenants\nsummary: one record\nrecords:\n  - {tenant: acme, kind: user, id: u1, data: {n: 1}}\n";

const FULL: &str = "\
# every operation and expectation shape once
id: transactions/rollback_discards_records_and_events
summary: a rolled-back transaction leaves no record, audit entry or outbox event behind
clause: store-contract#tx-rollback
requires: [commit_time_conflicts, migration_tamper]
given:
  seed: two_tenants
  records:
    - {tenant: acme, kind: profile, id: p1, user: u1, data: {display_name: Ada}}
    - tenant: globex
      kind: consent
      id: c1
steps:
  - migrate: {}
    expect: {applied: []}
  - readiness:
    expect: ready
  - begin: tx
  - save: {tx: tx, tenant: acme, kind: profile, id: p2, user: u1, data: {n: 1, s: \"${canary}\"}, if: absent}
  - save: {tenant: acme, kind: profile, id: p1, if: {version: 1}}
    expect: {error: conflict}
  - delete: {tx: tx, tenant: acme, kind: user, id: u2, if: any}
  - get: {tx: tx, tenant: acme, kind: profile, id: p2}
    expect: {version: 1, user: null, data: {n: 1}}
  - get: {tenant: acme, kind: profile, id: p2}
    expect: absent
  - audit: {tx: tx, tenant: acme, action: profile.saved, actor: u1, target: profile/p2}
  - enqueue: {tx: tx, tenant: acme, topic: profile.saved, key: p2}
  - rollback: tx
  - list: {tenant: acme, kind: profile, limit: 2}
    as: page1
  - list: {tenant: globex, after: page1}
    expect: {error: invalid}
  - list_user: {tenant: acme, user: u1}
    expect: [acme/profile/p1]
  - list_audit: {tenant: acme}
    expect: {count: 0}
  - outbox_pending:
    expect: []
  - acknowledge: {first: 2}
    expect: {count: 0}
  - acknowledge: {events: [acme/profile.saved/p2]}
  - begin: a
  - begin: b
  - drop: a
  - panic_in: b
  - tamper_migration: {version: 1}
  - readiness: {}
    expect: {not_ready: drift}
  - check_redaction: {}
  - diagnostics: {}
    expect: {counts: {records: 9, records.profile: 3, outbox.pending: 0}}
  - diagnostics: {}
    expect: snapshot
";

fn at(line: usize, column: usize) -> Location {
    Location {
        file: "spec/scenarios/transactions/rollback_discards_records_and_events.yaml".to_owned(),
        line,
        column,
    }
}

fn key(tenant: &str, kind: &str, id: &str) -> KeySpec {
    KeySpec {
        tenant: tenant.to_owned(),
        kind: kind.to_owned(),
        id: id.to_owned(),
    }
}

fn tx(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[test]
fn a_valid_scenario_round_trips_into_the_exact_model() {
    let scenario = parse_scenario_with_seeds(
        "spec/scenarios/transactions/rollback_discards_records_and_events.yaml",
        "scenarios/transactions/rollback_discards_records_and_events.yaml",
        FULL,
        &[("seeds/two_tenants.yaml", SEED)],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let expected_steps: Vec<(Operation, Expect, Option<&str>)> = vec![
        (Operation::Migrate, Expect::Applied(vec![]), None),
        (Operation::Readiness, Expect::Ready, None),
        (Operation::Begin { tx: "tx".into() }, Expect::Ok, None),
        (
            Operation::Save {
                tx: tx("tx"),
                key: key("acme", "profile", "p2"),
                user: Some("u1".into()),
                data: json!({"n": 1, "s": "${canary}"}),
                condition: VersionCondition::Absent,
            },
            Expect::Ok,
            None,
        ),
        (
            Operation::Save {
                tx: None,
                key: key("acme", "profile", "p1"),
                user: None,
                data: json!({}),
                condition: VersionCondition::Version(1),
            },
            Expect::Error("conflict".into()),
            None,
        ),
        (
            Operation::Delete {
                tx: tx("tx"),
                key: key("acme", "user", "u2"),
                condition: VersionCondition::Any,
            },
            Expect::Ok,
            None,
        ),
        (
            Operation::Get {
                tx: tx("tx"),
                key: key("acme", "profile", "p2"),
            },
            Expect::Record {
                version: Some(1),
                user: Some(None),
                data: Some(json!({"n": 1})),
            },
            None,
        ),
        (
            Operation::Get {
                tx: None,
                key: key("acme", "profile", "p2"),
            },
            Expect::Absent,
            None,
        ),
        (
            Operation::Audit {
                tx: tx("tx"),
                tenant: "acme".into(),
                action: "profile.saved".into(),
                actor: Some("u1".into()),
                target: Some("profile/p2".into()),
            },
            Expect::Ok,
            None,
        ),
        (
            Operation::Enqueue {
                tx: tx("tx"),
                tenant: "acme".into(),
                topic: "profile.saved".into(),
                key: "p2".into(),
                data: json!({}),
            },
            Expect::Ok,
            None,
        ),
        (Operation::Rollback { tx: "tx".into() }, Expect::Ok, None),
        (
            Operation::List {
                tenant: "acme".into(),
                kind: Some("profile".into()),
                limit: Some(2),
                after: None,
            },
            Expect::Ok,
            Some("page1"),
        ),
        (
            Operation::List {
                tenant: "globex".into(),
                kind: None,
                limit: None,
                after: Some("page1".into()),
            },
            Expect::Error("invalid".into()),
            None,
        ),
        (
            Operation::ListUser {
                tenant: "acme".into(),
                user: "u1".into(),
            },
            Expect::List(vec!["acme/profile/p1".into()]),
            None,
        ),
        (
            Operation::ListAudit {
                tenant: "acme".into(),
            },
            Expect::Count(0),
            None,
        ),
        (
            Operation::OutboxPending { limit: None },
            Expect::List(vec![]),
            None,
        ),
        (
            Operation::Acknowledge {
                events: vec![],
                first: Some(2),
                again: false,
                twice: false,
                unknown: false,
                unissued: false,
            },
            Expect::Count(0),
            None,
        ),
        (
            Operation::Acknowledge {
                events: vec!["acme/profile.saved/p2".into()],
                first: None,
                again: false,
                twice: false,
                unknown: false,
                unissued: false,
            },
            Expect::Ok,
            None,
        ),
        (Operation::Begin { tx: "a".into() }, Expect::Ok, None),
        (Operation::Begin { tx: "b".into() }, Expect::Ok, None),
        (Operation::Drop { tx: "a".into() }, Expect::Ok, None),
        (Operation::PanicIn { tx: "b".into() }, Expect::Ok, None),
        (Operation::TamperMigration { version: 1 }, Expect::Ok, None),
        (Operation::Readiness, Expect::NotReady("drift".into()), None),
        (Operation::CheckRedaction, Expect::Ok, None),
        (
            Operation::Diagnostics,
            Expect::Counts(BTreeMap::from([
                ("outbox.pending".to_owned(), 0),
                ("records".to_owned(), 9),
                ("records.profile".to_owned(), 3),
            ])),
            None,
        ),
        (Operation::Diagnostics, Expect::Snapshot, None),
    ];
    // Lines of each step's `-` in FULL.
    let lines = [
        14, 16, 18, 19, 20, 22, 23, 25, 27, 28, 29, 30, 32, 34, 36, 38, 40, 42, 43, 44, 45, 46, 47,
        48, 50, 51, 53,
    ];
    assert_eq!(scenario.steps.len(), expected_steps.len());
    let texts: Vec<String> = FULL
        .lines()
        .skip(13)
        .collect::<Vec<_>>()
        .join("\n")
        .split("\n  - ")
        .map(|s| format!("- {}", s.trim_start_matches("  - ").replace("\n  ", "\n")))
        .collect();
    let steps: Vec<Step> = expected_steps
        .into_iter()
        .zip(lines)
        .zip(texts)
        .enumerate()
        .map(
            |(index, (((operation, expect, capture), line), text))| Step {
                index,
                location: at(line, 3),
                text,
                operation,
                expect,
                capture: capture.map(str::to_owned),
                session: None,
                background: false,
            },
        )
        .collect();
    for (got, want) in scenario.steps.iter().zip(&steps) {
        assert_eq!(got, want);
    }

    let expected = Scenario {
        id: "transactions/rollback_discards_records_and_events".into(),
        area: "transactions".into(),
        name: "rollback_discards_records_and_events".into(),
        summary: "a rolled-back transaction leaves no record, audit entry or outbox event behind"
            .into(),
        clause: "tx-rollback".into(),
        requires: vec!["commit_time_conflicts".into(), "migration_tamper".into()],
        excludes: vec![],
        given: Given {
            migrated: true,
            seed: Some("two_tenants".into()),
            seed_records: vec![RecordSpec {
                tenant: "acme".into(),
                kind: "user".into(),
                id: "u1".into(),
                user: None,
                data: json!({"n": 1}),
            }],
            records: vec![
                RecordSpec {
                    tenant: "acme".into(),
                    kind: "profile".into(),
                    id: "p1".into(),
                    user: Some("u1".into()),
                    data: json!({"display_name": "Ada"}),
                },
                RecordSpec {
                    tenant: "globex".into(),
                    kind: "consent".into(),
                    id: "c1".into(),
                    user: None,
                    data: json!({}),
                },
            ],
        },
        steps,
        location: at(2, 5),
    };
    assert_eq!(scenario, expected);
    assert_eq!(
        scenario.snapshot_name(0),
        "transactions__rollback_discards_records_and_events"
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let yaml = "id: a/b\nsummary: s\nclause: store-contract#tx-rollback\nsteps:\n- migrate:\n";
    let scenario = parse_scenario("b.yaml", "scenarios/a/b.yaml", yaml).unwrap();
    assert_eq!(scenario.given, Given::default());
    assert!(scenario.requires.is_empty());
    assert_eq!(scenario.steps[0].expect, Expect::Ok);
    assert_eq!(scenario.steps[0].text, "- migrate:");
    assert_eq!(scenario.steps[0].location.line, 5);
    assert_eq!(scenario.steps[0].location.column, 1);

    let explicit = yaml.replace("steps:", "given: {migrated: true}\nsteps:");
    let scenario = parse_scenario("b.yaml", "scenarios/a/b.yaml", &explicit).unwrap();
    assert!(scenario.given.migrated && scenario.given.seed.is_none());
}

const SESSIONS: &str = "\
id: concurrency/every_new_shape
summary: sessions, background steps, the relay, faults, reopen and concurrent copies
clause: store-contract#outbox-order
requires: [fault_injection, durable_reopen]
excludes: [backend_termination]
steps:
  - begin: ta
    session: a
  - enqueue: {tx: ta, tenant: acme, topic: t, key: k}
    session: a
  - commit: ta
    session: a
    background: true
    expect: {error: conflict}
  - await: a
  - deliver:
    expect: {count: 1}
  - deliver: {limit: 5, acknowledge: false}
    expect: [acme/t/k]
  - delivered: {}
  - inject_fault: {commit_fails_at: 3}
  - inject_fault: {terminate_backend_at: 1}
    expect: {error: unsupported}
  - reopen: {}
  - concurrently: {times: 3, step: {migrate: {}}}
    expect: {applied: []}
  - concurrently: {times: 2, step: {delete: {tenant: acme, kind: user, id: u1}}}
    expect: {outcomes: {ok: 1, not_found: 1}}
";

#[test]
fn sessions_faults_and_concurrency_become_the_exact_model() {
    let scenario = parse_scenario(
        "f.yaml",
        "scenarios/concurrency/every_new_shape.yaml",
        SESSIONS,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.requires, ["durable_reopen", "fault_injection"]);
    assert_eq!(scenario.excludes, ["backend_termination"]);
    let got: Vec<(Operation, Expect, Option<&str>, bool)> = scenario
        .steps
        .iter()
        .map(|s| {
            let session = s.session.as_deref();
            (s.operation.clone(), s.expect.clone(), session, s.background)
        })
        .collect();
    let a = Some("a");
    let expected = vec![
        (Operation::Begin { tx: "ta".into() }, Expect::Ok, a, false),
        (
            Operation::Enqueue {
                tx: tx("ta"),
                tenant: "acme".into(),
                topic: "t".into(),
                key: "k".into(),
                data: json!({}),
            },
            Expect::Ok,
            a,
            false,
        ),
        (
            Operation::Commit { tx: "ta".into() },
            Expect::Error("conflict".into()),
            a,
            true,
        ),
        (
            Operation::Await {
                session: "a".into(),
            },
            Expect::Ok,
            None,
            false,
        ),
        (
            Operation::Deliver {
                limit: None,
                acknowledge: true,
            },
            Expect::Count(1),
            None,
            false,
        ),
        (
            Operation::Deliver {
                limit: Some(5),
                acknowledge: false,
            },
            Expect::List(vec!["acme/t/k".into()]),
            None,
            false,
        ),
        (Operation::Delivered, Expect::Ok, None, false),
        (
            Operation::InjectFault {
                fault: FaultSpec::CommitFailsAt(3),
            },
            Expect::Ok,
            None,
            false,
        ),
        (
            Operation::InjectFault {
                fault: FaultSpec::TerminateBackendAt(1),
            },
            Expect::Error("unsupported".into()),
            None,
            false,
        ),
        (Operation::Reopen, Expect::Ok, None, false),
        (
            Operation::Concurrently {
                times: 3,
                operation: Box::new(Operation::Migrate),
            },
            Expect::Applied(vec![]),
            None,
            false,
        ),
        (
            Operation::Concurrently {
                times: 2,
                operation: Box::new(Operation::Delete {
                    tx: None,
                    key: key("acme", "user", "u1"),
                    condition: VersionCondition::Any,
                }),
            },
            Expect::Outcomes(BTreeMap::from([
                ("not_found".to_owned(), 1),
                ("ok".to_owned(), 1),
            ])),
            None,
            false,
        ),
    ];
    assert_eq!(got, expected);
    assert_eq!(
        scenario.steps[2].text,
        "- commit: ta\n  session: a\n  background: true\n  expect: {error: conflict}"
    );
    assert_eq!(scenario.steps[3].location.line, 15);
}

#[test]
fn acknowledge_takes_twice_and_unknown_beside_any_form() {
    let text = "\
id: outbox/acks
summary: s
clause: store-contract#outbox-ack
steps:
  - acknowledge: {first: 2, twice: true, unknown: true}
  - acknowledge: {events: [acme/t/k], unknown: true}
  - acknowledge: {again: true, twice: true}
  - acknowledge: {first: 1, unissued: true}
";
    let scenario = parse_scenario("acks.yaml", "scenarios/outbox/acks.yaml", text).unwrap();
    let forms: Vec<(Option<usize>, usize, bool, bool, bool, bool)> = scenario
        .steps
        .iter()
        .map(|step| match &step.operation {
            Operation::Acknowledge {
                events,
                first,
                again,
                twice,
                unknown,
                unissued,
            } => (*first, events.len(), *again, *twice, *unknown, *unissued),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        forms,
        [
            (Some(2), 0, false, true, true, false),
            (None, 1, false, false, true, false),
            (None, 0, true, true, false, false),
            (Some(1), 0, false, false, false, true),
        ]
    );
    let refused = "\
id: outbox/acks
summary: s
clause: store-contract#outbox-ack
steps:
  - acknowledge: {first: 1, unknown: false}
  - acknowledge: {twice: true}
";
    let errors = parse_scenario("acks.yaml", "scenarios/outbox/acks.yaml", refused)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("\"unknown\" can only be true; leave it out otherwise"),
        "{errors}"
    );
    assert!(
        errors.contains(
            "\"acknowledge\" needs {events: [tenant/topic/key, ...]}, {first: N} or {again: true}"
        ),
        "{errors}"
    );
}
