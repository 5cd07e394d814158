//! Two-session histories: two or more sessions, each on a thread of its own, their steps
//! interleaved in a seeded order, and the end checked against what the isolation clause (C33)
//! allows rather than step by step against the reference — an optimistic store refuses a broken
//! guard at commit, a locking one makes the writer wait or refuses it at the write, and both are
//! right. [`plan`] draws a case, [`run`] runs it, [`check`] judges it and [`diagnose`] says why,
//! [`shrink`] makes a failing one small. `docs/explore.md` ("Two sessions") explains the design.

mod check;
mod diagnose;
mod plan;
mod run;
mod shrink;

#[cfg(test)]
mod broken;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use super::{ExploreFailure, ExploreOptions, ExploreReport, Progress, corpus};
use crate::UserEngineStore;
use check::{Verdict, Violation, check};
use plan::Plan;
use run::{Answer, Event, Observed, RunLimits};

/// How long a step may take before the schedule takes it for blocked (a locking store's second
/// writer) and moves on to another session. Only the interleaving depends on it, never a
/// verdict; short enough that a blocked history costs little, long enough that a step of a
/// loaded server rarely passes for blocked.
pub(crate) const BLOCK_AFTER: Duration = Duration::from_millis(50);

fn limits() -> RunLimits {
    RunLimits {
        block_after: BLOCK_AFTER,
    }
}

/// Explores `options.cases` multi-session histories; [`super::explore_with_progress`] comes
/// here when `options.sessions` is 2 or more.
pub(crate) fn explore_sessions<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> ExploreReport {
    let started = Instant::now();
    let mut report = ExploreReport::empty(options);
    for case in options.first_case..options.first_case.saturating_add(options.cases) {
        let plan = case_plan(options, case);
        let (observed, verdict) = run_and_check(factory, &plan);
        report.histories += 1;
        report.steps += plan.step_count();
        report.blocked_steps += observed
            .events
            .iter()
            .filter(|e| matches!(e, Event::Blocked { .. }))
            .count();
        report.digest = super::fnv(report.digest, &plan.text());
        match verdict {
            Verdict::Allowed => progress(&Progress::Agreed {
                case,
                steps: plan.step_count(),
            }),
            // Counted as run, neither agreed nor diverged, and never shrunk: there is nothing
            // it is known to witness. The report counts it and says so.
            Verdict::Inconclusive { tried } => {
                report.inconclusive += 1;
                eprintln!(
                    "explore: seed {} case {case} inconclusive: none of the first {tried} orders \
                     real time allows ends where the store ended, and more are allowed",
                    options.seed
                );
            }
            Verdict::Violated(violation) => {
                progress(&Progress::Diverged {
                    case,
                    step: plan.step_count().saturating_sub(1),
                    keyword: violation.keyword,
                });
                let failure = write_up(factory, options, case, plan, observed, violation, progress);
                report.failure = Some(failure);
                break;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Case `case`'s plan.
pub(crate) fn case_plan(options: &ExploreOptions, case: usize) -> Plan {
    let seed = corpus::case_seed(options.seed, case);
    Plan::draw(seed, options.sessions, options.max_steps)
}

/// Runs `plan` on a fresh store from `factory` and checks it.
fn run_and_check<S: UserEngineStore>(factory: &dyn Fn() -> S, plan: &Plan) -> (Observed, Verdict) {
    let store = factory();
    let observed = run::run(plan, &store, limits());
    let verdict = check(plan, &observed);
    (observed, verdict)
}

/// Shrinks a failing case and reports it. The scenario format has sessions, background steps
/// and `one_of`, but a written scenario would pin one interleaving's outcomes, which a
/// correct store of another design answers differently; the report gives the interleaving as
/// text instead.
fn write_up<S: UserEngineStore>(
    factory: &dyn Fn() -> S,
    options: &ExploreOptions,
    case: usize,
    plan: Plan,
    observed: Observed,
    violation: Violation,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> ExploreFailure {
    let steps_before = plan.step_count();
    let found = shrink::Found {
        plan,
        observed,
        violation,
    };
    let (found, runs) = shrink::shrink(factory, found, options.shrink_budget, &mut |s, r| {
        progress(&Progress::Shrinking { steps: s, runs: r });
    });
    let name = format!("seed_{}_case_{case}", options.seed);
    ExploreFailure {
        case,
        keyword: found.violation.keyword.to_owned(),
        clause: found.violation.clause.to_owned(),
        reference: format!("{} — {}", found.violation.expected, found.violation.summary),
        store: found.violation.found.clone(),
        steps_before,
        steps_after: found.plan.step_count(),
        shrink_runs: runs,
        history: interleaving(&found.plan, &found.observed),
        scenario_id: format!("explore/{name}"),
        scenario_path: format!("scenarios/explore/{name}.yaml"),
        scenario_yaml: None,
        not_written: Some(format!(
            "a {}-session history is reported as its interleaving, not written as a scenario",
            found.plan.sessions.len()
        )),
        passes_on_reference: false,
        fails_on_store: false,
    }
}

/// The run as text: the setup, then each step as it ran, in the order the sessions took them,
/// with its answer; then the schedule as drawn.
pub(crate) fn interleaving(plan: &Plan, observed: &Observed) -> String {
    let mut text = String::new();
    for op in &plan.setup {
        text.push_str(&format!("setup: {} -> ok\n", op.text()));
    }
    let steps: Vec<_> = plan.sessions.iter().map(|s| s.steps()).collect();
    for event in &observed.events {
        match *event {
            Event::Ran {
                session,
                index,
                waited,
            } => {
                let step = plan.sessions[session].step_text(steps[session][index]);
                let answer = match &observed.outcomes[session][index].answer {
                    Answer::Done => "ok".to_owned(),
                    Answer::Failed(kind) => kind.to_string(),
                    Answer::Skipped => "not run (no transaction)".to_owned(),
                    Answer::Panicked(why) => format!("panic: {why}"),
                };
                let waited = if waited {
                    " (returned after waiting)"
                } else {
                    ""
                };
                text.push_str(&format!("s{}: {step} -> {answer}{waited}\n", session + 1));
            }
            Event::Blocked { session, index } => {
                let step = plan.sessions[session].step_text(steps[session][index]);
                text.push_str(&format!(
                    "s{}: {step} ... blocked; the schedule moves on\n",
                    session + 1
                ));
            }
        }
    }
    let order: Vec<String> = plan
        .schedule
        .iter()
        .map(|s| format!("s{}", s + 1))
        .collect();
    text.push_str(&format!("schedule as drawn: {}\n", order.join(" ")));
    text
}
