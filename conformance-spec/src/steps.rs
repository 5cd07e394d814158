//! Steps: reads each `- operation: ...` item (one operation, optional `expect`, `as`, `session`
//! and `background`) and hands it to the `flow` module, which checks it against the steps before.

use serde_yaml::{Mapping, Value};

use crate::check::{Checker, describe, quoted_list};
use crate::flow::{Capabilities, Flow};
use crate::grammar::{Expects, step_rule};
use crate::limits::MAX_STEPS;
use crate::spans::YamlPath;
use crate::vocabulary::{STEP_KEYS, STEP_KEYWORDS, one_of, suggestion};
use crate::{Expect, Step};

impl Checker<'_, '_> {
    /// The `steps` list. `capabilities` is `None` when `requires` or `excludes` is invalid
    /// (already reported); the checks that depend on them are then skipped.
    pub(crate) fn steps(
        &mut self,
        value: &Value,
        path: &YamlPath,
        capabilities: Option<&Capabilities>,
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
        if items.len() > MAX_STEPS {
            self.at_value(
                &path.index(MAX_STEPS),
                format!(
                    "\"steps\" holds {} steps; a scenario may hold at most {MAX_STEPS}",
                    items.len()
                ),
            );
            return None;
        }
        let mut flow = Flow::new(capabilities);
        let read: Vec<Option<Step>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let step = self.step(index, item, &path.index(index))?;
                self.follow(&mut flow, &step, &path.index(index));
                Some(step)
            })
            .collect();
        self.finish(&flow);
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
            if STEP_KEYS.contains(&name) {
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
                    let hint = suggestion(name, STEP_KEYS);
                    format!(
                        "unknown key \"{name}\" in a \"{op}\" step{hint}; besides its operation a step may have {}",
                        quoted_list(STEP_KEYS)
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
        let session = match map.get("session") {
            None => Some(None),
            Some(v) => self
                .identifier(v, &path.key("session"), "session name")
                .map(Some),
        };
        let background = match map.get("background") {
            None => Some(false),
            Some(v) => self.boolean(v, &path.key("background"), "\"background\""),
        };
        // An invalid operation still lets the step's other keys be checked.
        let operation = self.operation(keyword, arguments, &path.key(keyword));
        let rule = step_rule(keyword);
        let no_expect = match rule.map(|r| r.expects) {
            Some(Expects::Nothing(why)) => Some(why),
            _ => None,
        };
        let expect = match (map.get("expect"), &operation) {
            (None, _) => Some(Expect::Ok),
            (Some(_), _) if no_expect.is_some() => {
                let why = no_expect.unwrap_or_default();
                self.at_key(
                    &path.key("expect"),
                    format!("\"{keyword}\" takes no \"expect\"; {why}"),
                );
                None
            }
            (Some(v), Some(operation)) => self.expect(v, &path.key("expect"), operation),
            (Some(_), None) => None,
        };
        let capture = match map.get("as") {
            None => Some(None),
            Some(_) if !rule.is_some_and(|r| r.captures) => {
                self.at_key(
                    &path.key("as"),
                    format!("\"as\" only applies to \"list\" (it captures the page's next cursor), not to \"{keyword}\""),
                );
                None
            }
            Some(_) if background == Some(true) => {
                self.at_key(
                    &path.key("as"),
                    "\"as\" cannot be used on a background step; its cursor is known only once it is awaited",
                );
                None
            }
            Some(v) => self.identifier(v, &path.key("as"), "cursor name").map(Some),
        };
        // The runner performs these itself, across sessions; a session key would be ignored.
        let across_sessions = rule.and_then(|r| r.no_session);
        if let Some(why) = across_sessions {
            for key in ["session", "background"] {
                if map.contains_key(key) {
                    self.at_key(
                        &path.key(key),
                        format!("\"{keyword}\" takes no \"{key}\"; {why}"),
                    );
                    valid = false;
                }
            }
        }
        if background == Some(true) && session == Some(None) && across_sessions.is_none() {
            self.at_key(
                &path.key("background"),
                "\"background: true\" needs a \"session\": the default session stays in the foreground; add \"session: NAME\"",
            );
            valid = false;
        }
        if !valid {
            return None;
        }
        Some(Step {
            index,
            location: self.file.location(self.file.item_start(self.spans, path)),
            text: self.file.item_text(self.spans, path),
            operation: operation?,
            expect: expect?,
            capture: capture?,
            session: session?,
            background: background?,
        })
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
