//! Step expectations: reads `expect:` into an [`Expect`] and rejects shapes that make no sense for
//! the step's operation (`snapshot` on a `get`, `{outcomes}` on anything but `concurrently`).

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::check::{Checker, describe};
use crate::grammar::{Expects, Form, all_forms_text, step_rule};
use crate::spans::YamlPath;
use crate::vocabulary::{
    COUNTER_NAMES, ERROR_KINDS, NOT_READY_REASONS, is_counter, one_of, suggestion,
};
use crate::{Expect, Operation};

const RECORD_KEYS: &[&str] = &["version", "user", "data"];

/// The bare words an expectation may be (`ok`, `absent`, ...).
fn scalars() -> Vec<&'static str> {
    Form::ALL
        .iter()
        .filter(|f| f.is_scalar())
        .filter_map(|f| f.word())
        .collect()
}

/// The keys that make a mapping a single-key form (`error`, `one_of`, ...).
fn single_key_forms() -> Vec<&'static str> {
    Form::ALL
        .iter()
        .filter(|f| !f.is_scalar())
        .filter_map(|f| f.word())
        .collect()
}

impl Checker<'_, '_> {
    /// The `expect` value at `path` for a step doing `operation`.
    pub(crate) fn expect(
        &mut self,
        value: &Value,
        path: &YamlPath,
        operation: &Operation,
    ) -> Option<Expect> {
        let expect = self.expect_shape(value, path)?;
        if applies(&expect, operation) {
            if let (Expect::Outcomes(outcomes), Operation::Concurrently { times, .. }) =
                (&expect, operation)
            {
                let total: u64 = outcomes.values().sum();
                if usize::try_from(total).ok() != Some(*times) {
                    self.at_value(
                        &path.key("outcomes"),
                        format!("outcomes add up to {total}, but \"concurrently\" runs {times} copies; count every copy (kinds not listed must not occur)"),
                    );
                    return None;
                }
            }
            return Some(expect);
        }
        let keyword = operation.keyword();
        self.at_value(
            path,
            format!(
                "expectation {} does not apply to \"{keyword}\"; \"{keyword}\" can expect: {}",
                name(&expect),
                accepted(operation).join(", ")
            ),
        );
        None
    }

    fn expect_shape(&mut self, value: &Value, path: &YamlPath) -> Option<Expect> {
        match value {
            Value::String(word) => match word.as_str() {
                "ok" => Some(Expect::Ok),
                "absent" => Some(Expect::Absent),
                "ready" => Some(Expect::Ready),
                "snapshot" => Some(Expect::Snapshot),
                other => {
                    let hint = suggestion(other, &scalars());
                    self.at_value(
                        path,
                        format!(
                            "unknown expectation \"{other}\"{hint}; expected {}",
                            all_forms_text()
                        ),
                    );
                    None
                }
            },
            Value::Sequence(items) => {
                let read: Vec<Option<String>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.string(item, &path.index(i), "a list item"))
                    .collect();
                read.into_iter().collect::<Option<_>>().map(Expect::List)
            }
            Value::Mapping(map) => {
                let keys: Vec<&str> = map.keys().map(|k| k.as_str().unwrap_or("?")).collect();
                let single_key = single_key_forms();
                if let Some(form) = keys.iter().find(|k| single_key.contains(k)) {
                    for other in keys.iter().filter(|k| *k != form) {
                        self.at_key(
                            &path.key(other),
                            format!(
                                "\"{other}\" cannot be combined with \"{form}\" in one expectation"
                            ),
                        );
                    }
                    let inner = map.get(*form).unwrap_or(&Value::Null);
                    return self.single_key_form(form, inner, &path.key(form));
                }
                self.record_expectation(value, path)
            }
            other => {
                self.at_value(
                    path,
                    format!(
                        "expect must be one of {}; found {}",
                        all_forms_text(),
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn single_key_form(&mut self, form: &str, value: &Value, path: &YamlPath) -> Option<Expect> {
        match form {
            "error" => self
                .word(value, path, "error kind", ERROR_KINDS)
                .map(Expect::Error),
            "not_ready" => self
                .word(value, path, "not-ready reason", NOT_READY_REASONS)
                .map(Expect::NotReady),
            "count" => self.uint(value, path, "count").map(Expect::Count),
            "applied" => {
                let Value::Sequence(items) = value else {
                    self.at_value(
                        path,
                        format!(
                            "\"applied\" must be a list of migration versions, found {}",
                            describe(value)
                        ),
                    );
                    return None;
                };
                let read: Vec<Option<u32>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.positive::<u32>(v, &path.index(i), "migration version"))
                    .collect();
                read.into_iter().collect::<Option<_>>().map(Expect::Applied)
            }
            "outcomes" => self.outcomes(value, path),
            "one_of" => self.one_of(value, path),
            _ => self.counts(value, path),
        }
    }

    /// `[EXPECT, ...]`: two or more alternatives, none of them itself a `one_of` or a snapshot.
    fn one_of(&mut self, value: &Value, path: &YamlPath) -> Option<Expect> {
        let Value::Sequence(items) = value else {
            self.at_value(
                path,
                format!(
                    "\"one_of\" must be a list of expectations like [ok, {{error: conflict}}], found {}",
                    describe(value)
                ),
            );
            return None;
        };
        if items.len() < 2 {
            self.at_value(path, "\"one_of\" must list at least two expectations");
            return None;
        }
        let mut alternatives = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            let alternative = self.expect_shape(item, &item_path)?;
            if !form_of(&alternative).may_be_alternative() {
                let refused: Vec<&str> = Form::ALL
                    .iter()
                    .filter(|f| !f.may_be_alternative())
                    .map(|f| f.shape())
                    .collect();
                let (last, rest) = refused.split_last().unwrap_or((&"", &[]));
                self.at_value(
                    &item_path,
                    format!("\"one_of\" cannot hold {} or {last}", rest.join(", ")),
                );
                return None;
            }
            alternatives.push(alternative);
        }
        Some(Expect::OneOf(alternatives))
    }

    /// `{ok: N, KIND: M, ...}`: how many copies of a `concurrently` step end each way.
    fn outcomes(&mut self, value: &Value, path: &YamlPath) -> Option<Expect> {
        let Value::Mapping(map) = value else {
            self.at_value(
                path,
                format!(
                    "\"outcomes\" must be a mapping like {{ok: 1, conflict: 1}}, found {}",
                    describe(value)
                ),
            );
            return None;
        };
        if map.is_empty() {
            self.at_value(
                path,
                "\"outcomes\" must name at least one outcome, like {ok: 1, conflict: 1}",
            );
            return None;
        }
        let mut names = vec!["ok"];
        names.extend(ERROR_KINDS);
        let mut outcomes = BTreeMap::new();
        let mut valid = true;
        for (key, count) in map {
            let Some(name) = key.as_str() else {
                self.at_value(
                    path,
                    format!("outcome names must be strings, found {}", describe(key)),
                );
                valid = false;
                continue;
            };
            let item = path.key(name);
            if !names.contains(&name) {
                let hint = suggestion(name, &names);
                self.at_key(
                    &item,
                    format!(
                        "unknown outcome \"{name}\"{hint}; expected \"ok\" or an error kind: {}",
                        one_of(ERROR_KINDS)
                    ),
                );
                valid = false;
                continue;
            }
            match self.uint(count, &item, &format!("outcome \"{name}\"")) {
                Some(n) => {
                    outcomes.insert(name.to_owned(), n);
                }
                None => valid = false,
            }
        }
        valid.then_some(Expect::Outcomes(outcomes))
    }

    fn counts(&mut self, value: &Value, path: &YamlPath) -> Option<Expect> {
        let Value::Mapping(map) = value else {
            self.at_value(
                path,
                format!(
                    "\"counts\" must be a mapping of counter to number, found {}",
                    describe(value)
                ),
            );
            return None;
        };
        if map.is_empty() {
            self.at_value(path, "\"counts\" must name at least one counter");
            return None;
        }
        let mut counts = BTreeMap::new();
        let mut valid = true;
        for (key, count) in map {
            let Some(name) = key.as_str() else {
                self.at_value(
                    path,
                    format!("counter names must be strings, found {}", describe(key)),
                );
                valid = false;
                continue;
            };
            let item = path.key(name);
            if !is_counter(name) {
                let mut known: Vec<&str> = COUNTER_NAMES.to_vec();
                known.insert(1, "records.<kind>");
                let hint = suggestion(name, COUNTER_NAMES);
                self.at_key(
                    &item,
                    format!(
                        "unknown counter \"{name}\"{hint}; expected one of: {}",
                        one_of(&known)
                    ),
                );
                valid = false;
                continue;
            }
            match self.uint(count, &item, &format!("counter \"{name}\"")) {
                Some(n) => {
                    counts.insert(name.to_owned(), n);
                }
                None => valid = false,
            }
        }
        valid.then_some(Expect::Counts(counts))
    }

    fn record_expectation(&mut self, value: &Value, path: &YamlPath) -> Option<Expect> {
        let Value::Mapping(map) = value else {
            return None;
        };
        if map.is_empty() {
            self.at_value(
                path,
                format!(
                    "expect must not be an empty mapping; expected {}",
                    all_forms_text()
                ),
            );
            return None;
        }
        let mut all: Vec<&str> = single_key_forms();
        all.extend(RECORD_KEYS);
        let mut valid = true;
        for key in map.keys() {
            let name = key.as_str().unwrap_or("?");
            if !RECORD_KEYS.contains(&name) {
                let hint = suggestion(name, &all);
                self.at_key(
                    &path.key(name),
                    format!(
                        "unknown key \"{name}\" in expect{hint}; expected {}",
                        all_forms_text()
                    ),
                );
                valid = false;
            }
        }
        let version = match map.get("version") {
            None => Some(None),
            Some(v) => self
                .positive::<u64>(v, &path.key("version"), "version")
                .map(Some),
        };
        let user = match map.get("user") {
            None => Some(None),
            Some(Value::Null) => Some(Some(None)),
            Some(v) => self
                .identifier(v, &path.key("user"), "user")
                .map(|u| Some(Some(u))),
        };
        let data = match map.get("data") {
            None => Some(None),
            Some(v) => self.json(v, &path.key("data")).map(Some),
        };
        if !valid {
            return None;
        }
        Some(Expect::Record {
            version: version?,
            user: user?,
            data: data?,
        })
    }
}

/// The form an expectation takes.
fn form_of(expect: &Expect) -> Form {
    match expect {
        Expect::Ok => Form::Ok,
        Expect::Absent => Form::Absent,
        Expect::Ready => Form::Ready,
        Expect::Snapshot => Form::Snapshot,
        Expect::Error(_) => Form::Error,
        Expect::NotReady(_) => Form::NotReady,
        Expect::Record { .. } => Form::Record,
        Expect::List(_) => Form::List,
        Expect::Count(_) => Form::Count,
        Expect::Applied(_) => Form::Applied,
        Expect::Counts(_) => Form::Counts,
        Expect::Outcomes(_) => Form::Outcomes,
        Expect::OneOf(_) => Form::OneOf,
    }
}

/// The forms a step doing `operation` may expect: its row's, and for `concurrently` also those
/// its copied operation's row allows in copies.
fn forms(operation: &Operation) -> Vec<Form> {
    let mut forms: Vec<Form> = match step_rule(operation.keyword()).map(|r| r.expects) {
        Some(Expects::Forms(forms)) => forms.to_vec(),
        _ => Vec::new(),
    };
    if let Operation::Concurrently { operation, .. } = operation
        && let Some(copied) = step_rule(operation.keyword())
    {
        forms.extend(copied.copy_expects);
    }
    forms
}

fn applies(expect: &Expect, operation: &Operation) -> bool {
    let allowed = forms(operation);
    let form = form_of(expect);
    allowed.contains(&form)
        && match expect {
            Expect::OneOf(alternatives) => alternatives.iter().all(|a| applies(a, operation)),
            _ => true,
        }
}

/// What a step doing `operation` may expect, for messages.
fn accepted(operation: &Operation) -> Vec<&'static str> {
    forms(operation).iter().map(|f| f.shape()).collect()
}

/// An expectation as messages name it: `"absent"`, `{error: KIND}`.
fn name(expect: &Expect) -> String {
    let form = form_of(expect);
    if form.is_scalar() {
        format!("\"{}\"", form.shape())
    } else {
        form.shape().to_owned()
    }
}
