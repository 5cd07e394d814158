//! A failing history written as an ordinary scenario: the clause it most likely breaks, the
//! reference's answers as every step's `expect`, and the check that the text loads with the
//! spec's own loader, passes on the reference and fails on the store under test.

use std::collections::{BTreeMap, BTreeSet};

use user_engine_conformance_spec::{Operation, Scenario, VersionCondition, parse_scenario};

use super::history::{Action, History};
use super::oracle::{Divergence, Observation};
use super::yaml;
use crate::conformance::{RunOptions, SnapshotCheck, run_scenario};
use crate::{ErrorKind, InMemoryUserEngineStore, Record, UserEngineStore};

/// A history that diverged: its steps up to the divergence, the reference's answers before it,
/// and the divergence itself.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) history: History,
    pub(crate) observations: Vec<Observation>,
    pub(crate) divergence: Divergence,
}

/// Where a scenario came from, for its id and its opening comment.
pub(crate) struct Origin {
    pub(crate) seed: u64,
    pub(crate) case: usize,
    pub(crate) steps_before: usize,
}

/// A scenario's text and where it belongs under a spec root.
pub(crate) struct Written {
    pub(crate) id: String,
    pub(crate) path: String,
    pub(crate) text: String,
}

fn failed(o: &Observation) -> Option<ErrorKind> {
    match o {
        Observation::Failed(kind) => Some(*kind),
        _ => None,
    }
}

/// Whether a listing answer holds a record of another tenant than `tenant`.
fn crosses(o: &Observation, tenant: &str) -> bool {
    let records: &[Record] = match o {
        Observation::Page { records, .. } | Observation::Records(records) => records,
        _ => &[],
    };
    records.iter().any(|r| r.key.tenant.as_str() != tenant)
}

/// The `docs/store-contract.md` anchor closest to what diverged.
pub(crate) fn clause(action: &Action, d: &Divergence) -> &'static str {
    let kinds = [failed(&d.reference), failed(&d.store)];
    let either = |kind: ErrorKind| kinds.contains(&Some(kind));
    if either(ErrorKind::NotReady) {
        return "not-ready-refuses";
    }
    let Some(op) = action.operation() else {
        return "outbox-ack";
    };
    match op {
        Operation::Save { condition, .. } | Operation::Delete { condition, .. }
            if *condition != VersionCondition::Any || either(ErrorKind::Conflict) =>
        {
            "records-expectation"
        }
        Operation::Save { .. } => "records-version",
        Operation::Delete { .. } => "records-delete",
        Operation::Get { tx: Some(_), .. } => "tx-read-own-writes",
        Operation::Get { .. } => "records-round-trip",
        Operation::Commit { .. } if kinds.iter().any(Option::is_some) => "tx-atomic-failure",
        Operation::Begin { .. } | Operation::Commit { .. } => "tx-commit",
        Operation::Rollback { .. } => "tx-rollback",
        Operation::Drop { .. } => "tx-drop",
        Operation::PanicIn { .. } => "tx-panic",
        Operation::List { tenant, .. } | Operation::ListUser { tenant, .. }
            if crosses(&d.store, tenant) =>
        {
            "query-tenant-isolation"
        }
        Operation::List { after: Some(_), .. } | Operation::List { limit: Some(_), .. } => {
            "query-pagination"
        }
        Operation::List { .. } => "query-tenant",
        Operation::ListUser { .. } => "query-user",
        Operation::Audit { .. } => "audit-transactional",
        Operation::ListAudit { .. } => "audit-order",
        Operation::Enqueue { .. } => "outbox-transactional",
        Operation::OutboxPending { .. } => "outbox-order",
        Operation::Acknowledge { .. } => "outbox-ack",
        Operation::Migrate => match &d.reference {
            Observation::Migration(report) if report.applied.is_empty() => "migration-idempotent",
            _ => "migration-apply",
        },
        Operation::Readiness => "readiness-states",
        Operation::Diagnostics => "diagnostics-counts",
        _ => "records-round-trip",
    }
}

/// A description cut to one short line for a comment.
fn brief(text: String) -> String {
    const MAX: usize = 240;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} …", &text[..cut]),
        None => text,
    }
}

/// Writes `found` as a scenario.
pub(crate) fn write(found: &Found, origin: &Origin) -> Written {
    let steps = &found.history.steps;
    let d = &found.divergence;
    let name = format!("seed_{}_case_{}", origin.seed, origin.case);
    let id = format!("explore/{name}");
    let migrated = d.index > 0
        && matches!(
            steps.first().and_then(Action::operation),
            Some(Operation::Migrate)
        )
        && matches!(found.observations.first(), Some(Observation::Migration(_)));
    let mut body = String::new();
    for (index, action) in steps.iter().enumerate().take(d.index + 1) {
        if index == 0 && migrated {
            continue;
        }
        let Action::Spec { operation, capture } = action;
        let answer = if index == d.index {
            &d.reference
        } else {
            &found.observations[index]
        };
        body.push_str(&format!("  - {}\n", yaml::operation(operation)));
        if let Some(name) = capture {
            body.push_str(&format!("    as: {name}\n"));
        }
        if let Some(expect) = yaml::expectation(operation, answer, index == d.index) {
            body.push_str(&format!("    expect: {expect}\n"));
        }
    }
    for extra in yaml::revealing_steps(&steps[d.index], d) {
        for line in extra.lines() {
            body.push_str(&format!("  {line}\n"));
        }
    }
    let clause = clause(&steps[d.index], d);
    let mut text = format!(
        "# Found by explore: seed {}, case {}; shrunk from {} steps to {}.\n\
         # At step `{}` the reference answered: {}\n\
         # and the store under test answered: {}\n",
        origin.seed,
        origin.case,
        origin.steps_before,
        steps.len(),
        d.keyword,
        brief(d.reference.describe()),
        brief(d.store.describe()),
    );
    text.push_str(&format!("id: {id}\n"));
    text.push_str(&format!(
        "summary: a random history the store under test answers differently from the reference at `{}`\n",
        d.keyword
    ));
    text.push_str(&format!("clause: store-contract#{clause}\n"));
    if found.history.overlapping_transactions() {
        text.push_str("requires: [commit_time_conflicts]\n");
    }
    if migrated {
        text.push_str("given:\n  migrated: true\n");
    }
    text.push_str("steps:\n");
    text.push_str(&body);
    Written {
        path: format!("scenarios/explore/{name}.yaml"),
        id,
        text,
    }
}

/// Loads a written scenario with the spec's ordinary loader.
pub(crate) fn load(written: &Written) -> Result<Scenario, String> {
    parse_scenario(&written.path, &written.path, &written.text).map_err(|e| e.to_string())
}

/// Whether the scenario passes on a fresh reference store.
pub(crate) fn passes_on_reference(scenario: &Scenario) -> bool {
    let options =
        RunOptions::with_capabilities(InMemoryUserEngineStore::CAPABILITIES.iter().copied());
    let snapshots = BTreeMap::new();
    let factory = InMemoryUserEngineStore::new;
    run_scenario(
        scenario,
        &factory,
        &options,
        &SnapshotCheck::Loaded(&snapshots),
    )
    .passed()
}

/// Whether the scenario fails (rather than passes or is skipped) on fresh stores from `factory`.
pub(crate) fn fails_on<S: UserEngineStore>(
    scenario: &Scenario,
    factory: &dyn Fn() -> S,
    capabilities: &BTreeSet<String>,
) -> bool {
    let options = RunOptions::with_capabilities(capabilities.iter().map(String::as_str));
    let snapshots = BTreeMap::new();
    let outcome = run_scenario(
        scenario,
        factory,
        &options,
        &SnapshotCheck::Loaded(&snapshots),
    );
    outcome.failure().is_some()
}
