//! The broken-adapter gallery: adapters that each break one clause of the store contract, run
//! against the whole conformance spec to prove that every adapter is caught and every scenario
//! catches something. The result is the kill matrix in `docs/kill-matrix.md`.

mod base;
mod buffered;
mod checks;
mod durability;
mod explore_sessions;
mod faults;
mod lifecycle;
mod locking;
mod matrix;
mod outbox;
mod queries;
mod records;
mod transactions;
mod unsupported;

use std::sync::OnceLock;

use user_engine::InMemoryUserEngineStore;
use user_engine::UserEngineStore;
use user_engine::conformance::spec::{self, Spec};
use user_engine::conformance::spec::{Operation, Scenario};
use user_engine::conformance::{
    RunOptions, ScenarioOutcome, SnapshotCheck, Status, run_scenario, run_spec,
};
use user_engine_conformance_spec_embedded::embedded;

use base::{Broken, Faithful, Fault, REFERENCE_CAPABILITIES, short_name};
use matrix::{Column, KillMatrix};

/// Broken adapters no scenario catches, each with the reason: what they break lies beyond what a
/// scenario file can hold, and a behaviour check must catch each (the gallery test fails
/// otherwise, and when a listed exhibit is caught by a scenario after all, so the list cannot go
/// stale). Never a way to pass.
const KNOWN_SURVIVORS: &[(&str, &str)] = &[
    (
        "LongTextCutAtOneMiB",
        "a scenario file holds at most 1 MiB, so no scenario can write a longer string; the behaviour check `payloads_beyond_a_scenario_file` catches it",
    ),
    (
        "AuditSequenceWrapsAt128",
        "no scenario writes 128 audit entries for one tenant; the behaviour check `racing_writers_lose_no_commit` (200) catches it",
    ),
];

/// A broken adapter in the gallery.
struct Exhibit {
    name: &'static str,
    breaks: &'static str,
    /// What it claims; it runs the scenarios these capabilities select.
    capabilities: &'static [&'static str],
    run: fn(&Spec, &'static [&'static str]) -> Vec<ScenarioOutcome>,
    /// The fault-free store of the same design, which must pass what the exhibit fails.
    faithful: fn(&Spec, &'static [&'static str]) -> Vec<ScenarioOutcome>,
    /// The layer it breaks, for the kill matrix.
    layer: &'static str,
    /// The behaviour checks on its stores, and on the fault-free store of its design.
    checks: fn(&'static [&'static str]) -> Vec<checks::Verdict>,
    faithful_checks: fn(&'static [&'static str]) -> Vec<checks::Verdict>,
}

fn wrapper_checks<F: Fault>(capabilities: &'static [&'static str]) -> Vec<checks::Verdict> {
    checks::run_checks(move || Broken::<F>::new(capabilities), capabilities, true)
}

fn locking_checks<M: locking::Mutation>(
    capabilities: &'static [&'static str],
) -> Vec<checks::Verdict> {
    let faithful = std::any::TypeId::of::<M>() == std::any::TypeId::of::<locking::Correct>();
    checks::run_checks(locking::LockingStore::<M>::new, capabilities, faithful)
}

/// A fault in a wrapper above the reference store.
fn exhibit<F: Fault>() -> Exhibit {
    Exhibit {
        name: short_name::<F>(),
        breaks: F::BREAKS,
        capabilities: F::CAPABILITIES,
        run: run_broken::<F>,
        faithful: run_broken::<Faithful>,
        layer: "wrapper",
        checks: wrapper_checks::<F>,
        faithful_checks: wrapper_checks::<Faithful>,
    }
}

/// A store on the buffered strategy with one of its store hooks wrong (`buffered.rs`).
fn buffered_exhibit<S: buffered::Slip>() -> Exhibit {
    Exhibit {
        name: short_name::<S>(),
        breaks: S::BREAKS,
        capabilities: buffered::BUFFERED_CAPABILITIES,
        run: buffered::run_buffered::<S>,
        faithful: buffered::run_buffered::<buffered::Sound>,
        layer: "buffered strategy",
        checks: buffered::buffered_checks::<S>,
        faithful_checks: buffered::buffered_checks::<buffered::Sound>,
    }
}

/// A mutation of the row-locking design (`locking.rs`), below any wrapper.
fn locking_exhibit<M: locking::Mutation>() -> Exhibit {
    Exhibit {
        name: short_name::<M>(),
        breaks: M::BREAKS,
        capabilities: locking::LOCKING_CAPABILITIES,
        run: locking::run_locking::<M>,
        faithful: locking::run_locking::<locking::Correct>,
        layer: "row-locking store",
        checks: locking_checks::<M>,
        faithful_checks: locking_checks::<locking::Correct>,
    }
}

/// Runs the spec against the adapter with fault `F` claiming `capabilities`: the same set picks
/// the scenarios and decides which conformance hooks the adapter answers.
fn run_broken<F: Fault>(
    spec: &Spec,
    capabilities: &'static [&'static str],
) -> Vec<ScenarioOutcome> {
    run_gallery_spec(
        spec,
        &|| Broken::<F>::new(capabilities),
        capabilities,
        Races::Repeat,
    )
}

/// What the gallery does with scenarios whose steps race (`concurrently`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Races {
    /// Run them up to [`RACE_RUNS`] times: a wrapper above the reference (which applies a commit
    /// in one step under one lock) is caught by them, or not, the same way every time.
    Repeat,
    /// Leave them out: whether copies racing through a store of another design (its own locks,
    /// its own commit) expose its fault depends on how the threads interleave, and the kill
    /// matrix must say the same on every run.
    Skip,
}

/// How often a scenario whose steps race (`concurrently`) is run before a pass counts: copies
/// started together may still happen to run one after the other, and a broken store can then look
/// correct. A fault-free store must pass every run; a broken one is caught if any run fails.
const RACE_RUNS: usize = 24;

/// [`run_spec`] for the gallery: racing scenarios run up to [`RACE_RUNS`] times, so the kill
/// matrix does not depend on how threads happened to interleave.
pub(crate) fn run_gallery_spec<S: UserEngineStore>(
    spec: &Spec,
    factory: &dyn Fn() -> S,
    capabilities: &'static [&'static str],
    racing: Races,
) -> Vec<ScenarioOutcome> {
    let mut options = RunOptions::with_capabilities(capabilities.iter().copied());
    if racing == Races::Skip {
        for scenario in spec.scenarios.iter().filter(|s| races(s)) {
            options.skips.insert(
                scenario.id.clone(),
                "racing scenarios run on the wrappers above the reference only".to_owned(),
            );
        }
    }
    let snapshots = SnapshotCheck::Loaded(&spec.snapshots);
    spec.scenarios
        .iter()
        .map(|scenario| {
            let outcome = run_scenario(scenario, factory, &options, &snapshots);
            if !matches!(outcome.status, Status::Passed) || !races(scenario) {
                return outcome;
            }
            (1..RACE_RUNS)
                .map(|_| run_scenario(scenario, factory, &options, &snapshots))
                .find(|again| matches!(again.status, Status::Failed(_)))
                .unwrap_or(outcome)
        })
        .collect()
}

/// Whether a scenario runs copies of a step at the same moment.
fn races(scenario: &Scenario) -> bool {
    scenario
        .steps
        .iter()
        .any(|step| matches!(step.operation, Operation::Concurrently { .. }))
}

/// Every broken adapter, in the order of the clauses they break.
fn gallery() -> Vec<Exhibit> {
    use {
        durability::*, faults::*, lifecycle::*, outbox::*, queries::*, records::*, transactions::*,
        unsupported::*,
    };
    vec![
        exhibit::<GetIgnoresKind>(),
        exhibit::<VersionNotIncremented>(),
        exhibit::<ExpectationsIgnored>(),
        exhibit::<NoCommitTimeRecheck>(),
        exhibit::<DeleteMissingSucceeds>(),
        exhibit::<DeletedStillListed>(),
        exhibit::<OwnerNeverChanges>(),
        exhibit::<NumbersStoredAsText>(),
        exhibit::<LongTextCutAtOneMiB>(),
        exhibit::<EventsPublishedOneCommitLate>(),
        exhibit::<RollbackKeepsRecords>(),
        exhibit::<DropCommits>(),
        exhibit::<PanicCommits>(),
        exhibit::<PoisonedAfterPanic>(),
        exhibit::<NoReadOwnWrites>(),
        exhibit::<DirtyReads>(),
        exhibit::<DirtyReadsBetweenTransactions>(),
        exhibit::<FailedCommitPublishesEvents>(),
        exhibit::<PartialCommitOnFault>(),
        exhibit::<CommitFailsAfterApplying>(),
        exhibit::<TerminationLeavesStoreBroken>(),
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
        exhibit::<AuditSequenceWrapsAt128>(),
        exhibit::<RollbackKeepsEvents>(),
        exhibit::<PendingInEnqueueOrder>(),
        exhibit::<NaiveRelay>(),
        exhibit::<EventsReversedInTransaction>(),
        exhibit::<AcknowledgeForgets>(),
        exhibit::<AcknowledgeChecksOnlyWhenNothingMarked>(),
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
        exhibit::<CommitsOnlyToCache>(),
        exhibit::<ReopenDropsPendingEvents>(),
        exhibit::<ReopenRecoversOpenTransactions>(),
        exhibit::<UnsupportedReopenSucceeds>(),
        exhibit::<UnsupportedFaultInjectionSucceeds>(),
        exhibit::<UnsupportedFaultStillArms>(),
        exhibit::<TerminationAnswersOk>(),
        exhibit::<UnsupportedMigrateToMigratesAnyway>(),
        exhibit::<ConcurrentMigratorsAllApply>(),
        exhibit::<CommittedButReportedUnavailable>(),
        locking_exhibit::<locking::LockingWriterSkipsTheLock>(),
        locking_exhibit::<locking::LockingGuardCheckedBeforeWaiting>(),
        locking_exhibit::<locking::LockingGuardBeforePresence>(),
        buffered_exhibit::<buffered::BufferedForgetsDeletedVersions>(),
        buffered_exhibit::<buffered::BufferedTrustsObservedVersions>(),
        buffered_exhibit::<buffered::BufferedTrustsAnyLaterRead>(),
        buffered_exhibit::<buffered::BufferedReadinessOnlyAtBegin>(),
        buffered_exhibit::<buffered::BufferedLatchIgnoresRefusals>(),
        buffered_exhibit::<buffered::BufferedLatchIgnoresReports>(),
        buffered_exhibit::<buffered::BufferedLatchIgnoresMigrate>(),
        buffered_exhibit::<buffered::BufferedLatchIgnoresAcknowledge>(),
        buffered_exhibit::<buffered::BufferedLatchedAtOpen>(),
    ]
}

/// The whole spec run once against the reference, the fault-free wrapper (under every capability
/// set an exhibit claims) and every exhibit; shared by the tests below so the 2-core CI machine
/// runs it once.
struct GalleryRun {
    spec: &'static Spec,
    reference: Vec<ScenarioOutcome>,
    faithful: Vec<(&'static [&'static str], Vec<ScenarioOutcome>)>,
    exhibits: Vec<(Exhibit, Vec<ScenarioOutcome>)>,
}

fn gallery_run() -> &'static GalleryRun {
    static RUN: OnceLock<GalleryRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let spec = embedded().unwrap_or_else(|errors| {
            panic!("the embedded conformance spec does not load:\n{errors}")
        });
        let options = RunOptions::with_capabilities(REFERENCE_CAPABILITIES.iter().copied());
        let exhibits = gallery();
        type Runner = fn(&Spec, &'static [&'static str]) -> Vec<ScenarioOutcome>;
        let mut claimed: Vec<(&'static [&'static str], Runner)> = Vec::new();
        for exhibit in &exhibits {
            let key = (exhibit.capabilities, exhibit.faithful);
            if !claimed
                .iter()
                .any(|(c, f)| *c == key.0 && std::ptr::fn_addr_eq(*f, key.1))
            {
                claimed.push(key);
            }
        }
        GalleryRun {
            spec,
            reference: run_spec(spec, &InMemoryUserEngineStore::new, &options),
            faithful: claimed
                .into_iter()
                .map(|(capabilities, faithful)| (capabilities, faithful(spec, capabilities)))
                .collect(),
            exhibits: exhibits
                .into_iter()
                .map(|exhibit| {
                    let outcomes = (exhibit.run)(spec, exhibit.capabilities);
                    (exhibit, outcomes)
                })
                .collect(),
        }
    })
}

/// The behaviour checks on every exhibit (in gallery order) and on the fault-free store of each
/// design under each capability set an exhibit claims.
struct ChecksRun {
    exhibits: Vec<Vec<checks::Verdict>>,
    faithful: Vec<(&'static [&'static str], Vec<checks::Verdict>)>,
}

fn checks_run() -> &'static ChecksRun {
    static RUN: OnceLock<ChecksRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = gallery_run();
        type Checker = fn(&'static [&'static str]) -> Vec<checks::Verdict>;
        let mut designs: Vec<(&'static [&'static str], Checker)> = Vec::new();
        for (exhibit, _) in &run.exhibits {
            let key = (exhibit.capabilities, exhibit.faithful_checks);
            if !designs
                .iter()
                .any(|(c, f)| *c == key.0 && std::ptr::fn_addr_eq(*f, key.1))
            {
                designs.push(key);
            }
        }
        ChecksRun {
            exhibits: run
                .exhibits
                .iter()
                .map(|(exhibit, _)| (exhibit.checks)(exhibit.capabilities))
                .collect(),
            faithful: designs
                .into_iter()
                .map(|(capabilities, check)| (capabilities, check(capabilities)))
                .collect(),
        }
    })
}

/// The rows of the behaviour-check table: each exhibit, whether a scenario catches it, and what
/// each check did on it.
fn check_rows<'a>(run: &'a GalleryRun, checks: &'a ChecksRun) -> Vec<checks::Row<'a>> {
    run.exhibits
        .iter()
        .zip(&checks.exhibits)
        .map(|((exhibit, outcomes), verdicts)| checks::Row {
            name: exhibit.name,
            caught_by_scenarios: outcomes.iter().any(|o| o.failure().is_some()),
            verdicts,
        })
        .collect()
}

fn kill_matrix(run: &GalleryRun) -> KillMatrix<'_> {
    let columns = run
        .exhibits
        .iter()
        .map(|(exhibit, outcomes)| Column {
            name: exhibit.name,
            breaks: exhibit.breaks,
            claims: claims_against_reference(exhibit.capabilities),
            layer: exhibit.layer,
            survives_because: KNOWN_SURVIVORS
                .iter()
                .find(|(name, _)| *name == exhibit.name)
                .map(|(_, why)| *why),
            outcomes,
        })
        .collect();
    KillMatrix::new(run.spec, columns)
}

/// `capabilities` as the kill matrix shows them: `+name` for each the reference lacks, `−name`
/// for each of the reference's missing.
fn claims_against_reference(capabilities: &[&str]) -> String {
    let added = capabilities
        .iter()
        .filter(|c| !REFERENCE_CAPABILITIES.contains(c))
        .map(|c| format!("+`{c}`"));
    let missing = REFERENCE_CAPABILITIES
        .iter()
        .filter(|c| !capabilities.contains(c))
        .map(|c| format!("−`{c}`"));
    added.chain(missing).collect::<Vec<_>>().join(" ")
}

/// The scenarios `outcomes` fail, each with its located failure. A skip is no failure: the
/// capabilities a run claims decide which scenarios it runs.
fn failing(who: &str, outcomes: &[ScenarioOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match &o.status {
            Status::Failed(failure) => Some(format!("{who} fails `{}`:\n{failure}", o.id)),
            Status::Passed | Status::Skipped { .. } => None,
        })
        .collect()
}

/// Scenarios the fault-free wrapper passes under none of the capability sets: a catch by such a
/// scenario would prove nothing.
fn never_passed_faithfully(run: &GalleryRun) -> Vec<String> {
    run.spec
        .scenarios
        .iter()
        .filter(|s| {
            !run.faithful.iter().any(|(_, outcomes)| {
                outcomes
                    .iter()
                    .any(|o| o.id == s.id && matches!(o.status, Status::Passed))
            })
        })
        .map(|s| {
            format!(
                "the fault-free wrapper runs `{}` under no capability set an exhibit claims",
                s.id
            )
        })
        .collect()
}

/// Whether `REFERENCE_CAPABILITIES` still lists what `tests/it/reference.rs` declares (as its
/// generated `conformance::CAPABILITIES`): an exhibit claiming less than the reference would skip
/// the scenarios that could catch it.
fn reference_capability_drift() -> Vec<String> {
    let mut declared = crate::reference::conformance::CAPABILITIES.to_vec();
    let mut claimed = REFERENCE_CAPABILITIES.to_vec();
    declared.sort_unstable();
    claimed.sort_unstable();
    if declared == claimed {
        return Vec::new();
    }
    vec![format!(
        "tests/it/reference.rs declares capabilities {declared:?}, but gallery::base::REFERENCE_CAPABILITIES lists {claimed:?}: make them agree"
    )]
}

#[test]
fn every_broken_adapter_is_caught() {
    let run = gallery_run();
    // "Caught" means nothing unless the reference, and the wrapper without a fault, pass everything.
    let mut problems = reference_capability_drift();
    problems.extend(failing("the reference store", &run.reference));
    problems.extend(never_passed_faithfully(run));
    for (capabilities, outcomes) in &run.faithful {
        problems.extend(failing(
            &format!("the fault-free store of the design (gallery::base::Faithful or gallery::locking::Correct) claiming {capabilities:?}"),
            outcomes,
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    let matrix = kill_matrix(run);
    let survivors = matrix.survivors();
    for name in &survivors {
        if !KNOWN_SURVIVORS.iter().any(|(known, _)| known == name) {
            problems.push(format!("broken adapter `{name}` passes every scenario: no scenario catches the clause it breaks"));
        }
    }
    let checks = checks_run();
    let rows = check_rows(run, checks);
    for (known, _) in KNOWN_SURVIVORS {
        let by_a_check = rows
            .iter()
            .any(|r| r.name == *known && r.verdicts.iter().any(|v| v.caught()));
        if !by_a_check {
            problems.push(format!(
                "`{known}` is caught by no scenario and by no behaviour check"
            ));
        }
        if !survivors.contains(known) {
            problems.push(format!("`{known}` is listed in KNOWN_SURVIVORS but is caught (or no longer exists): remove it from the list"));
        }
    }
    for (capabilities, verdicts) in &checks.faithful {
        for (check, verdict) in spec::BEHAVIOUR_CHECKS.iter().zip(verdicts) {
            if verdict.caught() {
                problems.push(format!(
                    "the fault-free store of a design claiming {capabilities:?} fails the behaviour check `{}` ({verdict:?})",
                    check.name
                ));
            }
        }
    }
    let rendered = matrix.render() + &checks::render(&check_rows(run, checks));
    if let Err(stale) = matrix::sync_with_docs(&rendered) {
        problems.push(stale);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_behaviour_check_catches_a_broken_adapter_no_scenario_catches() {
    let run = gallery_run();
    let rows = check_rows(run, checks_run());
    let idle: Vec<String> = spec::BEHAVIOUR_CHECKS
        .iter()
        .zip(checks::catches(&rows))
        .filter(|(_, (_, alone))| alone.is_empty())
        .map(|(check, _)| {
            format!(
                "the behaviour check `{}` catches no broken adapter that a scenario misses: it repeats the YAML spec",
                check.name
            )
        })
        .collect();
    assert!(
        idle.is_empty(),
        "{}\nadd a broken adapter only it catches to tests/it/gallery, or delete the check",
        idle.join("\n")
    );
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
