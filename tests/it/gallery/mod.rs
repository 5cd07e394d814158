//! The broken-adapter gallery: adapters that each break one clause of the store contract, run
//! against the whole conformance spec to prove that every adapter is caught and every scenario
//! catches something. The result is the kill matrix in `docs/kill-matrix.md`.

mod base;
mod lifecycle;
mod matrix;
mod outbox;
mod queries;
mod records;
mod transactions;

use std::sync::OnceLock;

use user_engine::InMemoryUserEngineStore;
use user_engine::conformance::spec::{self, Spec};
use user_engine::conformance::{RunOptions, ScenarioOutcome, Status, run_spec};

use base::{Broken, Faithful, Fault, short_name};
use matrix::{Column, KillMatrix};

/// The capabilities the reference declares in `tests/it/reference.rs`; a broken adapter declares
/// the same, forwarding the reference's hooks.
const CAPABILITIES: [&str; 2] = ["migration_tamper", "concurrent_transactions"];

/// Broken adapters the current spec cannot catch, each with the scenario change that would. Empty:
/// every exhibit is caught. An entry here is a known gap in the spec, never a way to pass; the
/// gallery test fails when a listed exhibit is caught after all, so the list cannot go stale.
const KNOWN_SURVIVORS: &[(&str, &str)] = &[];

/// A broken adapter in the gallery.
struct Exhibit {
    name: &'static str,
    breaks: &'static str,
    run: fn(&Spec, &RunOptions) -> Vec<ScenarioOutcome>,
}

fn exhibit<F: Fault>() -> Exhibit {
    Exhibit {
        name: short_name::<F>(),
        breaks: F::BREAKS,
        run: run_broken::<F>,
    }
}

fn run_broken<F: Fault>(spec: &Spec, options: &RunOptions) -> Vec<ScenarioOutcome> {
    run_spec(spec, &Broken::<F>::default, options)
}

/// Every broken adapter, in the order of the clauses they break.
fn gallery() -> Vec<Exhibit> {
    use {lifecycle::*, outbox::*, queries::*, records::*, transactions::*};
    vec![
        exhibit::<GetIgnoresKind>(),
        exhibit::<VersionNotIncremented>(),
        exhibit::<ExpectationsIgnored>(),
        exhibit::<NoCommitTimeRecheck>(),
        exhibit::<DeleteMissingSucceeds>(),
        exhibit::<DeletedStillListed>(),
        exhibit::<OwnerNeverChanges>(),
        exhibit::<NumbersStoredAsText>(),
        exhibit::<EventsPublishedOneCommitLate>(),
        exhibit::<RollbackKeepsRecords>(),
        exhibit::<DropCommits>(),
        exhibit::<PanicCommits>(),
        exhibit::<PoisonedAfterPanic>(),
        exhibit::<NoReadOwnWrites>(),
        exhibit::<DirtyReads>(),
        exhibit::<DirtyReadsBetweenTransactions>(),
        exhibit::<FailedCommitPublishesEvents>(),
        exhibit::<KindFilterIgnored>(),
        exhibit::<TenantListOrderedById>(),
        exhibit::<LocaleOrderedIds>(),
        exhibit::<TenantListLeaks>(),
        exhibit::<GetFallsBackToOtherTenant>(),
        exhibit::<UserListingCrossesTenants>(),
        exhibit::<CursorCrossesTenants>(),
        exhibit::<PaginationRepeatsLast>(),
        exhibit::<UserListIgnoresUser>(),
        exhibit::<AuditOutsideTransaction>(),
        exhibit::<AuditNewestFirst>(),
        exhibit::<RollbackKeepsEvents>(),
        exhibit::<PendingInEnqueueOrder>(),
        exhibit::<NaiveRelay>(),
        exhibit::<EventsReversedInTransaction>(),
        exhibit::<AcknowledgeForgets>(),
        exhibit::<PendingConsumesEvents>(),
        exhibit::<MigrateReportsNothing>(),
        exhibit::<MigrateNotIdempotent>(),
        exhibit::<MigrateIgnoresDrift>(),
        exhibit::<ReadyBeforeMigrate>(),
        exhibit::<ReadinessHidesDrift>(),
        exhibit::<ReadinessMigrates>(),
        exhibit::<ServesBeforeMigrate>(),
        exhibit::<AuditCountOffByOne>(),
        exhibit::<AcknowledgedCountedAsPending>(),
        exhibit::<PayloadInStoreDebug>(),
        exhibit::<PayloadInInvalidError>(),
    ]
}

/// The whole spec run once against the reference, the fault-free wrapper and every exhibit;
/// shared by the tests below so the 2-core CI machine runs it once.
struct GalleryRun {
    spec: &'static Spec,
    reference: Vec<ScenarioOutcome>,
    faithful: Vec<ScenarioOutcome>,
    exhibits: Vec<(Exhibit, Vec<ScenarioOutcome>)>,
}

fn gallery_run() -> &'static GalleryRun {
    static RUN: OnceLock<GalleryRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let spec = spec::embedded().unwrap_or_else(|errors| {
            panic!("the embedded conformance spec does not load:\n{errors}")
        });
        let options = RunOptions::with_capabilities(CAPABILITIES);
        GalleryRun {
            spec,
            reference: run_spec(spec, &InMemoryUserEngineStore::new, &options),
            faithful: run_broken::<Faithful>(spec, &options),
            exhibits: gallery()
                .into_iter()
                .map(|exhibit| {
                    let outcomes = (exhibit.run)(spec, &options);
                    (exhibit, outcomes)
                })
                .collect(),
        }
    })
}

fn kill_matrix(run: &GalleryRun) -> KillMatrix<'_> {
    let columns = run
        .exhibits
        .iter()
        .map(|(exhibit, outcomes)| Column {
            name: exhibit.name,
            breaks: exhibit.breaks,
            survives_because: KNOWN_SURVIVORS
                .iter()
                .find(|(name, _)| *name == exhibit.name)
                .map(|(_, why)| *why),
            outcomes,
        })
        .collect();
    KillMatrix::new(run.spec, columns)
}

/// Why `outcomes` are not a clean pass, one line (or located failure) per scenario.
fn not_passing(who: &str, outcomes: &[ScenarioOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match &o.status {
            Status::Passed => None,
            Status::Failed(failure) => Some(format!("{who} fails `{}`:\n{failure}", o.id)),
            Status::Skipped { reason } => Some(format!("{who} skips `{}`: {reason}", o.id)),
        })
        .collect()
}

#[test]
fn every_broken_adapter_is_caught() {
    let run = gallery_run();
    // "Caught" means nothing unless the reference, and the wrapper without a fault, pass everything.
    let mut problems = not_passing("the reference store", &run.reference);
    problems.extend(not_passing(
        "the fault-free wrapper (gallery::base::Faithful)",
        &run.faithful,
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    let matrix = kill_matrix(run);
    let survivors = matrix.survivors();
    for name in &survivors {
        if !KNOWN_SURVIVORS.iter().any(|(known, _)| known == name) {
            problems.push(format!("broken adapter `{name}` passes every scenario: no scenario catches the clause it breaks"));
        }
    }
    for (known, _) in KNOWN_SURVIVORS {
        if !survivors.contains(known) {
            problems.push(format!("`{known}` is listed in KNOWN_SURVIVORS but is caught (or no longer exists): remove it from the list"));
        }
    }
    if let Err(stale) = matrix::sync_with_docs(&matrix.render()) {
        problems.push(stale);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_scenario_catches_a_broken_adapter() {
    let run = gallery_run();
    let idle: Vec<String> = kill_matrix(run)
        .idle_scenarios()
        .into_iter()
        .map(|(id, clause)| format!("`{id}` (store-contract#{clause}) catches no broken adapter"))
        .collect();
    assert!(
        idle.is_empty(),
        "{}\nadd a broken adapter to tests/it/gallery that breaks the clause the scenario cites, or merge the scenario into another",
        idle.join("\n")
    );
}

#[test]
fn every_clause_has_a_broken_adapter_and_every_adapter_names_a_clause() {
    let clauses = spec::contract_clauses();
    let exhibits = gallery();
    let mut problems = Vec::new();
    for exhibit in &exhibits {
        if !clauses.iter().any(|c| c == exhibit.breaks) {
            problems.push(format!(
                "`{}` claims to break `{}`, which is not a clause of docs/store-contract.md",
                exhibit.name, exhibit.breaks
            ));
        }
    }
    for clause in &clauses {
        if !exhibits.iter().any(|e| e.breaks == clause) {
            problems.push(format!("no broken adapter breaks store-contract#{clause}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
