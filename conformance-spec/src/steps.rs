//! Steps: reads each `- operation: ...` item (one operation, optional `expect` and `as`) and
//! checks transaction and cursor names against the steps before it.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use crate::check::{Checker, describe};
use crate::spans::YamlPath;
use crate::vocabulary::{STEP_KEYWORDS, one_of, suggestion};
use crate::{Operation, Step};

impl Checker<'_, '_> {
    pub(crate) fn steps(
        &mut self,
        value: &Value,
        path: &YamlPath,
        concurrent: bool,
    ) -> Option<Vec<Step>> {
        let items = match value {
            Value::Sequence(items) if !items.is_empty() => items,
            Value::Sequence(_) => {
                self.at_value(
                    path,
                    "\"steps\" must not be empty; a scenario needs at least one step",
                );
                return None;
            }
            other => {
                self.at_value(
                    path,
                    format!(
                        "\"steps\" must be a list of steps, found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let mut flow = Flow {
            concurrent,
            ..Flow::default()
        };
        let read: Vec<Option<Step>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let step = self.step(index, item, &path.index(index))?;
                self.follow(&mut flow, &step, &path.index(index));
                Some(step)
            })
            .collect();
        read.into_iter().collect()
    }

    fn step(&mut self, index: usize, value: &Value, path: &YamlPath) -> Option<Step> {
        let map: &Mapping = match value {
            Value::Mapping(map) => map,
            other => {
                self.at_value(
                    path,
                    format!(
                        "a step must be a mapping like \"- migrate: {{}}\", found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let mut operation: Option<(&str, &Value)> = None;
        let mut valid = true;
        for (key, item) in map {
            let name = key.as_str().unwrap_or("?");
            if name == "expect" || name == "as" {
                continue;
            }
            if let Some(keyword) = STEP_KEYWORDS.iter().find(|k| **k == name) {
                if let Some((first, _)) = operation {
                    self.at_key(
                        &path.key(name),
                        format!("a step has one operation, found \"{first}\" and \"{name}\"; give each its own \"-\" item"),
                    );
                    valid = false;
                } else {
                    operation = Some((keyword, item));
                }
                continue;
            }
            valid = false;
            let hint = suggestion(name, STEP_KEYWORDS);
            let message = match operation.or_else(|| known_operation(map)) {
                Some((op, _)) => {
                    let hint = suggestion(name, &["expect", "as"]);
                    format!(
                        "unknown key \"{name}\" in a \"{op}\" step{hint}; besides its operation a step may have \"expect\" and \"as\""
                    )
                }
                None => format!(
                    "unknown step \"{name}\"{hint}; expected one of: {}",
                    one_of(STEP_KEYWORDS)
                ),
            };
            self.at_key(&path.key(name), message);
        }
        let Some((keyword, arguments)) = operation else {
            if valid {
                self.at_value(
                    path,
                    format!(
                        "step has no operation; expected one of: {}",
                        one_of(STEP_KEYWORDS)
                    ),
                );
            }
            return None;
        };
        let operation = self.operation(keyword, arguments, &path.key(keyword))?;
        let expect = match map.get("expect") {
            None => Some(crate::Expect::Ok),
            Some(v) => self.expect(v, &path.key("expect"), &operation),
        };
        let capture = match map.get("as") {
            None => Some(None),
            Some(_) if keyword != "list" => {
                self.at_key(
                    &path.key("as"),
                    format!("\"as\" only applies to \"list\" (it captures the page's next cursor), not to \"{keyword}\""),
                );
                None
            }
            Some(v) => self.identifier(v, &path.key("as"), "cursor name").map(Some),
        };
        if !valid {
            return None;
        }
        Some(Step {
            index,
            location: self.file.location(self.file.item_start(self.spans, path)),
            text: self.file.item_text(self.spans, path),
            operation,
            expect: expect?,
            capture: capture?,
        })
    }

    /// Checks the step's transaction and cursor names against the steps before it.
    fn follow(&mut self, flow: &mut Flow, step: &Step, path: &YamlPath) {
        let keyword = step.operation.keyword();
        let line = self.file.item_start(self.spans, path).line;
        let (tx, tx_path) = match &step.operation {
            Operation::Begin { tx }
            | Operation::Commit { tx }
            | Operation::Rollback { tx }
            | Operation::Drop { tx }
            | Operation::PanicIn { tx } => (Some(tx), path.key(keyword)),
            Operation::Save { tx, .. }
            | Operation::Delete { tx, .. }
            | Operation::Get { tx, .. }
            | Operation::Audit { tx, .. }
            | Operation::Enqueue { tx, .. } => (tx.as_ref(), path.key(keyword).key("tx")),
            _ => (None, path.clone()),
        };
        if let Some(tx) = tx {
            if let Operation::Begin { .. } = step.operation {
                if let Some(begun) = flow.open.get(tx) {
                    self.at_value(
                        &tx_path,
                        format!("transaction \"{tx}\" is already open (begun on line {begun})"),
                    );
                } else if let Some(other) = flow.open.keys().next().filter(|_| !flow.concurrent) {
                    self.at_value(
                        &tx_path,
                        format!("transaction \"{tx}\" is begun while \"{other}\" is still open; two open transactions need \"requires: [concurrent_transactions]\""),
                    );
                }
                flow.open.insert(tx.clone(), line);
                flow.ended.remove(tx);
            } else if !flow.open.contains_key(tx) {
                let message = match flow.ended.get(tx) {
                    Some((how, ended)) => format!(
                        "transaction \"{tx}\" was already ended by \"{how}\" on line {ended}"
                    ),
                    None => format!(
                        "transaction \"{tx}\" is not open; begin it first with \"begin: {tx}\""
                    ),
                };
                self.at_value(&tx_path, message);
            } else if matches!(keyword, "commit" | "rollback" | "drop" | "panic_in") {
                flow.open.remove(tx);
                flow.ended.insert(tx.clone(), (keyword, line));
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
    }
}

fn known_operation(map: &Mapping) -> Option<(&'static str, &Value)> {
    map.iter().find_map(|(k, v)| {
        let name = k.as_str()?;
        STEP_KEYWORDS
            .iter()
            .find(|kw| **kw == name)
            .map(|kw| (*kw, v))
    })
}

/// Transaction and cursor names seen so far in a scenario's steps.
#[derive(Default)]
struct Flow {
    /// Whether the scenario requires `concurrent_transactions`.
    concurrent: bool,
    /// Open transactions and the line of their `begin`.
    open: BTreeMap<String, usize>,
    /// Ended transactions: how and on which line.
    ended: BTreeMap<String, (&'static str, usize)>,
    cursors: BTreeSet<String>,
}
