//! The Rust-coded behaviour checks (`user_engine::conformance::checks`, run by every generated
//! suite as `conformance_checks::<name>`) against the gallery: which broken adapters each one
//! catches, and which of those no scenario catches. The checks hold only what a scenario cannot
//! say; each must catch a broken adapter, and the table in `docs/kill-matrix.md` says which.

use std::fmt::Write as _;
use std::sync::Once;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use user_engine::UserEngineStore;
use user_engine::conformance::checks;
use user_engine::conformance::spec::BEHAVIOUR_CHECKS;

/// How long one check may take on one store before it counts as caught (hung): a broken lock can
/// make a check wait forever.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Names the threads checks run on, so their expected panics stay out of the test output.
const THREAD_PREFIX: &str = "gallery-check-";

/// What one check did on one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    Failed,
    /// It did not finish within [`CHECK_TIMEOUT`].
    Hung,
    /// The store does not declare a capability it needs.
    NotRun,
}

impl Verdict {
    pub(crate) fn caught(self) -> bool {
        matches!(self, Verdict::Failed | Verdict::Hung)
    }
}

/// The checks whose threads race: on a store of another design than the wrappers above the
/// reference (its own locks, its own commit) whether they expose a fault depends on how the
/// threads interleave, so the gallery runs them on the wrappers only — as it does the racing
/// scenarios — and on every fault-free store, which must pass them however the threads run.
const RACING_CHECKS: &[&str] = &["racing_writers_lose_no_commit"];

/// Every behaviour check on stores from `make`, in [`BEHAVIOUR_CHECKS`] order; those needing a
/// capability `capabilities` lacks are not run, nor the racing ones unless `races`.
pub(crate) fn run_checks<S, M>(
    make: M,
    capabilities: &'static [&'static str],
    races: bool,
) -> Vec<Verdict>
where
    S: UserEngineStore + 'static,
    M: Fn() -> S + Clone + Send + 'static,
{
    quiet_check_panics();
    BEHAVIOUR_CHECKS
        .iter()
        .map(|check| {
            if !check.requires.iter().all(|c| capabilities.contains(c))
                || (!races && RACING_CHECKS.contains(&check.name))
            {
                return Verdict::NotRun;
            }
            let (done, finished) = mpsc::channel();
            let make = make.clone();
            let name = check.name;
            let spawned = thread::Builder::new()
                .name(format!("{THREAD_PREFIX}{name}"))
                .spawn(move || {
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        checks::run(name, make());
                    }));
                    let _ = done.send(ran.is_ok());
                });
            if let Err(error) = spawned {
                panic!("cannot start a thread for the behaviour check `{name}`: {error}");
            }
            match finished.recv_timeout(CHECK_TIMEOUT) {
                Ok(true) => Verdict::Passed,
                Ok(false) => Verdict::Failed,
                Err(_) => Verdict::Hung,
            }
        })
        .collect()
}

/// Keeps the panics of check threads (expected: a check fails by panicking) out of the output;
/// every other thread's panic is reported as before.
fn quiet_check_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = thread::current()
                .name()
                .is_some_and(|n| n.starts_with(THREAD_PREFIX));
            if !ours {
                previous(info);
            }
        }));
    });
}

/// One exhibit's row: its name, whether the scenarios catch it, and each check's verdict.
pub(crate) struct Row<'a> {
    pub(crate) name: &'a str,
    pub(crate) caught_by_scenarios: bool,
    pub(crate) verdicts: &'a [Verdict],
}

/// For each check: the exhibits it catches, and those among them no scenario catches.
pub(crate) fn catches<'a>(rows: &[Row<'a>]) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
    (0..BEHAVIOUR_CHECKS.len())
        .map(|i| {
            let caught: Vec<&str> = rows
                .iter()
                .filter(|r| r.verdicts[i].caught())
                .map(|r| r.name)
                .collect();
            let alone: Vec<&str> = rows
                .iter()
                .filter(|r| r.verdicts[i].caught() && !r.caught_by_scenarios)
                .map(|r| r.name)
                .collect();
            (caught, alone)
        })
        .collect()
}

/// The section of `docs/kill-matrix.md` about the behaviour checks.
pub(crate) fn render(rows: &[Row<'_>]) -> String {
    let mut out = String::from(
        "\n## The behaviour checks\n\n\
         Each Rust-coded behaviour check (`conformance_checks::<name>`, run by every generated \
         suite; `user_engine::conformance::checks`) against every exhibit above. The checks are \
         only what a scenario cannot say — many threads committing against one store for a \
         while, payloads past a scenario file's size and nesting limits; what a scenario can say \
         is a scenario, and a check that catches nothing is a failing test. The fault-free store \
         of each design passes every check it can take.\n\n\
         | check | needs | exhibits it catches | of those, caught by no scenario |\n|---|---|---|---|\n",
    );
    for (check, (caught, alone)) in BEHAVIOUR_CHECKS.iter().zip(catches(rows)) {
        let needs = if check.requires.is_empty() {
            "—".to_owned()
        } else {
            check
                .requires
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let alone = if alone.is_empty() {
            "none".to_owned()
        } else {
            alone
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Which of the adapters a scenario also catches a racing check catches depends on how
        // its threads interleave, so the page does not pin them; what no scenario catches does
        // not (it is the same on every run, or the gallery test fails).
        let caught = if RACING_CHECKS.contains(&check.name) {
            "some, varying with how the threads interleave".to_owned()
        } else {
            caught
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "| `{}` | {needs} | {caught} | {alone} |", check.name);
    }
    out
}
