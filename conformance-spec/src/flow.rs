//! Step flow: checks each step against the steps before it — transactions used only while open
//! and only by the session that began them, cursors captured before use, background steps awaited
//! exactly once, and operations that need a capability only where the scenario declares it.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Checker;
use crate::spans::YamlPath;
use crate::vocabulary::{one_of, suggestion};
use crate::{Expect, FaultSpec, Operation, Step};

/// A scenario's `requires` and `excludes`, both valid.
pub(crate) struct Capabilities {
    pub(crate) requires: Vec<String>,
    pub(crate) excludes: Vec<String>,
}

impl Capabilities {
    fn requires(&self, capability: &str) -> bool {
        self.requires.iter().any(|c| c == capability)
    }

    fn excludes(&self, capability: &str) -> bool {
        self.excludes.iter().any(|c| c == capability)
    }
}

/// What the steps so far have left behind: open and ended transactions, captured cursors,
/// background steps not yet awaited.
pub(crate) struct Flow<'c> {
    capabilities: Option<&'c Capabilities>,
    /// Open transactions: the session that began them (`None` = default) and the `begin` line.
    open: BTreeMap<String, (Option<String>, usize)>,
    /// Ended transactions: how and on which line.
    ended: BTreeMap<String, (&'static str, usize)>,
    cursors: BTreeSet<String>,
    /// Sessions whose background step is not awaited yet: its line and its path.
    pending: BTreeMap<String, (usize, YamlPath)>,
}

impl<'c> Flow<'c> {
    pub(crate) fn new(capabilities: Option<&'c Capabilities>) -> Self {
        Self {
            capabilities,
            open: BTreeMap::new(),
            ended: BTreeMap::new(),
            cursors: BTreeSet::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Whether one session may hold two open transactions (unknown capabilities: no complaint).
    fn concurrent(&self) -> bool {
        self.capabilities
            .is_none_or(|c| c.requires("commit_time_conflicts"))
    }
}

/// The capability an operation needs, if any: its step row's, or that of the argument it was
/// given (the step table, [`STEPS`](crate::STEPS)).
fn needed_capability(operation: &Operation) -> Option<&'static str> {
    let rule = crate::grammar::step_rule(operation.keyword())?;
    let given: &[&str] = match operation {
        Operation::InjectFault {
            fault: FaultSpec::CommitFailsAt(_),
        } => &["commit_fails_at"],
        Operation::InjectFault {
            fault: FaultSpec::TerminateBackendAt(_),
        } => &["terminate_backend_at"],
        _ => &[],
    };
    rule.capability_for(given.iter().copied())
        .map(crate::Capability::name)
}

/// `session "a"` or `the default session`, for messages.
fn session_name(session: Option<&str>) -> String {
    match session {
        Some(name) => format!("session \"{name}\""),
        None => "the default session".to_owned(),
    }
}

impl Checker<'_, '_> {
    /// Checks `step` (at `path`) against the steps before it and records what it leaves behind.
    pub(crate) fn follow(&mut self, flow: &mut Flow<'_>, step: &Step, path: &YamlPath) {
        let keyword = step.operation.keyword();
        let line = self.file.item_start(self.spans, path).line;
        let session = step.session.as_deref();
        if let Operation::Await { session: awaited } = &step.operation {
            self.awaited(flow, awaited, &path.key(keyword));
            return;
        }
        if let Some((started, _)) = session.and_then(|s| flow.pending.get(s)) {
            let name = session.unwrap_or_default();
            self.at_value(
                &path.key("session"),
                format!("session \"{name}\" is still running its background step from line {started}; add \"await: {name}\" before giving it another step"),
            );
        }
        self.transaction(flow, step, path, line);
        if let Operation::Reopen = step.operation {
            if let Some((waiting, (started, _))) = flow.pending.iter().next() {
                self.at_key(
                    &path.key(keyword),
                    format!("\"reopen\" while session \"{waiting}\" still runs its background step from line {started}; await it first with \"await: {waiting}\""),
                );
            }
            // A reopen drops every open transaction, as a crash would.
            for tx in std::mem::take(&mut flow.open).into_keys() {
                flow.ended.insert(tx, ("reopen", line));
            }
        }
        if let Operation::List {
            after: Some(cursor),
            ..
        } = &step.operation
        {
            if !flow.cursors.contains(cursor) {
                self.at_value(
                    &path.key("list").key("after"),
                    format!("cursor \"{cursor}\" is not captured by an earlier step; add \"as: {cursor}\" to an earlier \"list\" step"),
                );
            }
        }
        if let Some(capture) = &step.capture {
            flow.cursors.insert(capture.clone());
        }
        if let (true, Some(name)) = (step.background, session) {
            flow.pending
                .insert(name.to_owned(), (line, path.key("background")));
        }
        self.capability(flow, step, path);
    }

    /// Every background step must have been awaited by the end of the scenario.
    pub(crate) fn finish(&mut self, flow: &Flow<'_>) {
        for (session, (_, path)) in &flow.pending {
            self.at_key(
                path,
                format!("the background step of session \"{session}\" is never awaited; add \"await: {session}\" after it"),
            );
        }
    }

    fn awaited(&mut self, flow: &mut Flow<'_>, awaited: &str, path: &YamlPath) {
        if flow.pending.remove(awaited).is_some() {
            return;
        }
        let waiting: Vec<&str> = flow.pending.keys().map(String::as_str).collect();
        let message = if waiting.is_empty() {
            format!(
                "session \"{awaited}\" has no background step to await; no background step is pending"
            )
        } else {
            let hint = suggestion(awaited, &waiting);
            format!(
                "session \"{awaited}\" has no background step to await{hint}; pending: {}",
                one_of(&waiting)
            )
        };
        self.at_value(path, message);
    }

    /// Transactions are used only while open, and only by the session that began them.
    fn transaction(&mut self, flow: &mut Flow<'_>, step: &Step, path: &YamlPath, line: usize) {
        let keyword = step.operation.keyword();
        let session = step.session.as_deref();
        let (tx, tx_path) = match &step.operation {
            Operation::Begin { tx }
            | Operation::Commit { tx }
            | Operation::Rollback { tx }
            | Operation::Drop { tx }
            | Operation::PanicIn { tx } => (tx, path.key(keyword)),
            Operation::Save { tx: Some(tx), .. }
            | Operation::Delete { tx: Some(tx), .. }
            | Operation::Get { tx: Some(tx), .. }
            | Operation::Audit { tx: Some(tx), .. }
            | Operation::Enqueue { tx: Some(tx), .. } => (tx, path.key(keyword).key("tx")),
            _ => return,
        };
        if let Operation::Begin { .. } = step.operation {
            if let Some((_, begun)) = flow.open.get(tx) {
                self.at_value(
                    &tx_path,
                    format!("transaction \"{tx}\" is already open (begun on line {begun})"),
                );
            } else if let Some(other) = flow
                .open
                .iter()
                .find(|(_, (owner, _))| owner.as_deref() == session)
                .map(|(other, _)| other.clone())
                .filter(|_| !flow.concurrent())
            {
                let place = match session {
                    Some(name) => format!(" in session \"{name}\""),
                    None => String::new(),
                };
                self.at_value(
                    &tx_path,
                    format!("transaction \"{tx}\" is begun while \"{other}\" is still open{place}; two open transactions in one session need \"requires: [commit_time_conflicts]\""),
                );
            }
            flow.open
                .insert(tx.clone(), (session.map(str::to_owned), line));
            flow.ended.remove(tx);
            return;
        }
        let Some((owner, begun)) = flow.open.get(tx) else {
            let message = match flow.ended.get(tx) {
                Some((how, ended)) => {
                    format!("transaction \"{tx}\" was already ended by \"{how}\" on line {ended}")
                }
                None => {
                    format!("transaction \"{tx}\" is not open; begin it first with \"begin: {tx}\"")
                }
            };
            self.at_value(&tx_path, message);
            return;
        };
        if owner.as_deref() != session {
            let message = format!(
                "transaction \"{tx}\" belongs to {} (begun on line {begun}), but this step runs in {}; a transaction is used only by the session that began it",
                session_name(owner.as_deref()),
                session_name(session)
            );
            self.at_value(&tx_path, message);
            return;
        }
        if matches!(keyword, "commit" | "rollback" | "drop" | "panic_in") {
            flow.open.remove(tx);
            flow.ended.insert(tx.clone(), (keyword, line));
        }
    }

    /// An operation that needs a capability runs only where the scenario requires it — or
    /// excludes it, to check that a store without it answers `unsupported`.
    fn capability(&mut self, flow: &Flow<'_>, step: &Step, path: &YamlPath) {
        let (Some(capabilities), Some(needed)) =
            (flow.capabilities, needed_capability(&step.operation))
        else {
            return;
        };
        let keyword = step.operation.keyword();
        if capabilities.requires(needed) {
            return;
        }
        if capabilities.excludes(needed) {
            if step.expect != Expect::Error("unsupported".to_owned()) {
                self.at_key(
                    &path.key(keyword),
                    format!("with \"{needed}\" excluded, \"{keyword}\" can only fail; add \"expect: {{error: unsupported}}\""),
                );
            }
            return;
        }
        self.at_key(
            &path.key(keyword),
            format!("\"{keyword}\" needs capability \"{needed}\"; add \"requires: [{needed}]\" (or \"excludes: [{needed}]\" to check that a store without it answers {{error: unsupported}})"),
        );
    }
}
