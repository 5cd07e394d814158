//! A history: the steps of one explored case, written in the spec's own [`Operation`]s so that
//! running it and writing it out as a scenario cannot disagree, and the rules a history keeps to
//! stay runnable on one thread.

use std::collections::BTreeSet;

use user_engine_conformance_spec::Operation;

/// One step of a history.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// A step the spec can write: an operation and, for `list`, the name its next cursor is
    /// captured under (`as:`).
    Spec {
        operation: Operation,
        capture: Option<String>,
    },
}

impl Action {
    /// An operation with no cursor to capture.
    pub(crate) fn op(operation: Operation) -> Self {
        Action::Spec {
            operation,
            capture: None,
        }
    }

    /// The step keyword, as a scenario would write it.
    pub(crate) fn keyword(&self) -> &'static str {
        let Action::Spec { operation, .. } = self;
        operation.keyword()
    }

    pub(crate) fn operation(&self) -> Option<&Operation> {
        let Action::Spec { operation, .. } = self;
        Some(operation)
    }

    /// The named transaction the step uses, begins or ends.
    pub(crate) fn tx(&self) -> Option<&str> {
        match self.operation()? {
            Operation::Begin { tx }
            | Operation::Commit { tx }
            | Operation::Rollback { tx }
            | Operation::Drop { tx }
            | Operation::PanicIn { tx } => Some(tx),
            Operation::Save { tx, .. }
            | Operation::Delete { tx, .. }
            | Operation::Get { tx, .. }
            | Operation::Audit { tx, .. }
            | Operation::Enqueue { tx, .. } => tx.as_deref(),
            _ => None,
        }
    }

    /// Whether it writes outside any named transaction: an auto-commit write, an
    /// acknowledgement, a migration. A store that locks rows could wait on its own open
    /// transaction for these.
    pub(crate) fn writes_outside(&self) -> bool {
        let Action::Spec { operation, .. } = self;
        match operation {
            Operation::Save { tx, .. }
            | Operation::Delete { tx, .. }
            | Operation::Audit { tx, .. }
            | Operation::Enqueue { tx, .. } => tx.is_none(),
            Operation::Acknowledge { .. } | Operation::Migrate => true,
            _ => false,
        }
    }
}

/// The steps of one case, in order. A history that starts migrated begins with `migrate: {}`;
/// written out, that step becomes `given: {migrated: true}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct History {
    pub(crate) steps: Vec<Action>,
}

impl History {
    /// Whether the history can run on one thread against a store of this kind: every
    /// transaction used only while open; with `concurrent` (the store declares
    /// `commit_time_conflicts`) any number open, otherwise at most one, and then nothing that
    /// writes outside it, which a store that locks rows would wait on forever.
    pub(crate) fn well_formed(&self, concurrent: bool) -> bool {
        let mut open: BTreeSet<&str> = BTreeSet::new();
        let mut captured: BTreeSet<&str> = BTreeSet::new();
        for action in &self.steps {
            if !concurrent && !open.is_empty() && action.writes_outside() {
                return false;
            }
            if let Some(Operation::List {
                after: Some(name), ..
            }) = action.operation()
            {
                if !captured.contains(name.as_str()) {
                    return false;
                }
            }
            if let Action::Spec {
                capture: Some(name),
                ..
            } = action
            {
                captured.insert(name);
            }
            let Some(tx) = action.tx() else { continue };
            match action.operation() {
                Some(Operation::Begin { .. }) => {
                    if !open.insert(tx) || (!concurrent && open.len() > 1) {
                        return false;
                    }
                }
                Some(
                    Operation::Commit { .. }
                    | Operation::Rollback { .. }
                    | Operation::Drop { .. }
                    | Operation::PanicIn { .. },
                ) => {
                    if !open.remove(tx) {
                        return false;
                    }
                }
                _ => {
                    if !open.contains(tx) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Whether two transactions are ever open at once (the scenario then requires
    /// `commit_time_conflicts`).
    pub(crate) fn overlapping_transactions(&self) -> bool {
        let mut open = 0usize;
        for action in &self.steps {
            match action.operation() {
                Some(Operation::Begin { .. }) => {
                    open += 1;
                    if open > 1 {
                        return true;
                    }
                }
                Some(
                    Operation::Commit { .. }
                    | Operation::Rollback { .. }
                    | Operation::Drop { .. }
                    | Operation::PanicIn { .. },
                ) => open = open.saturating_sub(1),
                _ => {}
            }
        }
        false
    }

    /// The names of the transactions the history begins, in order.
    pub(crate) fn transactions(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|a| match a.operation() {
                Some(Operation::Begin { tx }) => Some(tx.clone()),
                _ => None,
            })
            .collect()
    }

    /// The history without transaction `tx` and every step inside it.
    pub(crate) fn without_transaction(&self, tx: &str) -> History {
        History {
            steps: self
                .steps
                .iter()
                .filter(|a| a.tx() != Some(tx))
                .cloned()
                .collect(),
        }
    }

    /// The history with transaction `tx`'s steps each run in a transaction of its own: its
    /// `begin` and its end left out, its writes and reads outside any transaction.
    pub(crate) fn inlined(&self, tx: &str) -> History {
        let mut steps = Vec::new();
        for action in &self.steps {
            if action.tx() != Some(tx) {
                steps.push(action.clone());
                continue;
            }
            let Action::Spec { operation, capture } = action;
            let mut operation = operation.clone();
            match &mut operation {
                Operation::Save { tx, .. }
                | Operation::Delete { tx, .. }
                | Operation::Get { tx, .. }
                | Operation::Audit { tx, .. }
                | Operation::Enqueue { tx, .. } => *tx = None,
                _ => continue,
            }
            steps.push(Action::Spec {
                operation,
                capture: capture.clone(),
            });
        }
        History { steps }
    }

    /// The history without the steps in `range`.
    pub(crate) fn without(&self, range: std::ops::Range<usize>) -> History {
        let mut steps = self.steps.clone();
        steps.drain(range);
        History { steps }
    }

    /// The history up to and including step `last`.
    pub(crate) fn truncated(&self, last: usize) -> History {
        History {
            steps: self.steps[..=last.min(self.steps.len().saturating_sub(1))].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(tx: &str) -> Action {
        Action::op(Operation::Begin { tx: tx.into() })
    }

    fn commit(tx: &str) -> Action {
        Action::op(Operation::Commit { tx: tx.into() })
    }

    #[test]
    fn one_thread_rules_follow_the_capability() {
        let overlapping = History {
            steps: vec![begin("t1"), begin("t2"), commit("t2"), commit("t1")],
        };
        assert!(overlapping.well_formed(true));
        assert!(!overlapping.well_formed(false));
        assert!(overlapping.overlapping_transactions());
        let write_while_open = History {
            steps: vec![begin("t1"), Action::op(Operation::Migrate), commit("t1")],
        };
        assert!(write_while_open.well_formed(true));
        assert!(!write_while_open.well_formed(false));
        let unopened = History {
            steps: vec![commit("t1")],
        };
        assert!(!unopened.well_formed(true));
        let without = overlapping.without_transaction("t2");
        assert_eq!(without.steps, vec![begin("t1"), commit("t1")]);
        assert!(without.well_formed(false) && !without.overlapping_transactions());
    }
}
