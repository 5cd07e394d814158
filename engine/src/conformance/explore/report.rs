//! What an exploration reports: progress while it runs, and at the end how many histories ran
//! and the first failure, shrunk and written as a scenario.

use std::fmt;
use std::time::Duration;

/// Where an exploration is, for a command that shows progress.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A history ran to its end and the store agreed with the reference at every step.
    Agreed {
        /// The case's index.
        case: usize,
        /// How many steps it had.
        steps: usize,
    },
    /// A history's results parted from the reference's; shrinking starts.
    Diverged {
        /// The case's index.
        case: usize,
        /// The diverging step, 0-based. With two or more sessions, the history's last step: the
        /// check judges where the history ended.
        step: usize,
        /// Its keyword, e.g. `list`; with two or more sessions, the part of the end that
        /// differs (`commit`, `records`, `outbox_pending`, `list_audit`, `panic`).
        keyword: &'a str,
    },
    /// A round of shrinking ended.
    Shrinking {
        /// The history's length now.
        steps: usize,
        /// Replays spent so far.
        runs: usize,
    },
}

/// The outcome of [`explore`](super::explore).
#[derive(Clone, Debug, PartialEq)]
pub struct ExploreReport {
    /// The run's seed.
    pub seed: u64,
    /// Histories run, the failing one included.
    pub histories: usize,
    /// Steps run across them (before shrinking).
    pub steps: usize,
    /// A digest (FNV-1a) of every history run, as written one step per line: equal for two runs
    /// that drew the same histories, whatever the store and however long they took.
    pub digest: u64,
    /// Wall time, shrinking included.
    pub elapsed: Duration,
    /// The first history the store answered differently from the reference, if any.
    pub failure: Option<ExploreFailure>,
    /// Sessions per history ([`ExploreOptions::sessions`](super::ExploreOptions::sessions)).
    pub sessions: usize,
    /// With two or more sessions: steps that had not returned when the schedule moved on to
    /// another session (a writer waiting for a row lock, or a slow step), counted over every
    /// history run. Always 0 with one session.
    pub blocked_steps: usize,
    /// With two or more sessions: histories whose end state matched none of the first
    /// `MAX_ORDERS` commit orders real time allows while more remained, so neither passed nor
    /// failed; they count in `histories`. Always 0 with one session.
    pub inconclusive: usize,
}

impl ExploreReport {
    /// The report of a run of `options` that has run nothing yet.
    pub(crate) fn empty(options: &super::ExploreOptions) -> Self {
        Self {
            seed: options.seed,
            histories: 0,
            steps: 0,
            digest: super::DIGEST_START,
            elapsed: Duration::ZERO,
            failure: None,
            sessions: options.sessions,
            blocked_steps: 0,
            inconclusive: 0,
        }
    }

    /// Whether no history failed: every one agreed with the reference (one session) or ended as
    /// the isolation clause allows (two or more), but the [`inconclusive`](Self::inconclusive)
    /// ones, which are unchecked.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// Histories per second of wall time.
    pub fn histories_per_second(&self) -> f64 {
        self.histories as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for ExploreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "explored {} {} ({} steps, digest {:016x}) from seed {} in {:.2} s",
            self.histories,
            if self.histories == 1 {
                "history"
            } else {
                "histories"
            },
            self.steps,
            self.digest,
            self.seed,
            self.elapsed.as_secs_f64()
        )?;
        match self.blocked_steps {
            0 => {}
            1 => write!(f, " (1 step blocked and was awaited later)")?,
            n => write!(f, " ({n} steps blocked and were awaited later)")?,
        }
        match &self.failure {
            None if self.sessions >= 2 && self.inconclusive > 0 => write!(
                f,
                "; no history of {} sessions ended as the isolation clause forbids, but {} of them \
                 had more commit orders than were tried and are unchecked",
                self.sessions, self.inconclusive
            ),
            None if self.sessions >= 2 => write!(
                f,
                "; every history of {} sessions ended as the isolation clause allows",
                self.sessions
            ),
            None => write!(f, "; every result agreed with the reference"),
            Some(failure) => write!(f, "\n{failure}"),
        }
    }
}

/// The first failing history, shrunk, and the scenario written from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreFailure {
    /// The case's index; `first_case` = this and `cases` = 1 replays it alone.
    pub case: usize,
    /// The diverging step's keyword, e.g. `list`.
    pub keyword: String,
    /// The contract clause closest to what diverged (an anchor of `docs/store-contract.md`).
    pub clause: String,
    /// What the reference answered at that step (payloads by shape only).
    pub reference: String,
    /// What the store under test answered.
    pub store: String,
    /// Steps of the history as generated, up to the divergence.
    pub steps_before: usize,
    /// Steps after shrinking.
    pub steps_after: usize,
    /// Replays shrinking spent.
    pub shrink_runs: usize,
    /// The shrunk history, one step per line.
    pub history: String,
    /// The scenario's id, `explore/seed_<seed>_case_<case>`.
    pub scenario_id: String,
    /// Where the scenario belongs under a spec root: `scenarios/explore/<name>.yaml`.
    pub scenario_path: String,
    /// The scenario, in the ordinary format, whether or not it reproduces the failure (see
    /// [`reproduces`](Self::reproduces)); `None` only in a report made by hand.
    pub scenario_yaml: Option<String>,
    /// Why the scenario does not reproduce the failure: it does not load, or what differs is
    /// something the format cannot express (see the history).
    pub not_written: Option<String>,
    /// The scenario loads and passes on the reference.
    pub passes_on_reference: bool,
    /// The scenario loads and fails on the store under test.
    pub fails_on_store: bool,
}

impl ExploreFailure {
    /// Whether the scenario reproduces the failure: it passes on the reference and fails on
    /// the store.
    pub fn reproduces(&self) -> bool {
        self.passes_on_reference && self.fails_on_store
    }
}

impl fmt::Display for ExploreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "case {} diverged at `{}` (store-contract#{}); shrunk from {} steps to {} in {} replays",
            self.case,
            self.keyword,
            self.clause,
            self.steps_before,
            self.steps_after,
            self.shrink_runs
        )?;
        writeln!(f, "  reference: {}", self.reference)?;
        writeln!(f, "  store:     {}", self.store)?;
        match (&self.scenario_yaml, self.reproduces()) {
            (Some(_), true) => write!(
                f,
                "  scenario {} passes on the reference and fails on the store",
                self.scenario_path
            ),
            _ => {
                let why = self
                    .not_written
                    .as_deref()
                    .unwrap_or("the scenario does not reproduce it");
                writeln!(f, "  no reproducing scenario: {why}")?;
                write!(
                    f,
                    "  history:\n    {}",
                    self.history.trim_end().replace('\n', "\n    ")
                )
            }
        }
    }
}
