//! Step operations: checks one operation's arguments against its row of the step table
//! ([`STEPS`](crate::STEPS)) — unknown keys, missing keys, values of the wrong type, "exactly one
//! of" groups — then builds the [`Operation`] from what passed.

use serde_json::Value as Json;
use serde_yaml::Value;

use crate::check::{Checker, describe, quoted_list};
use crate::grammar::{ArgType, Arguments, StepRule, step_rule};
use crate::limits::MAX_CONCURRENT_TIMES;
use crate::spans::YamlPath;
use crate::vocabulary::{CONCURRENT_OPERATIONS, STEP_KEYWORDS, one_of, suggestion};
use crate::{FaultSpec, KeySpec, Operation, VersionCondition};

/// One argument's value, as its [`ArgType`] reads it.
#[derive(Debug)]
enum ArgValue {
    Text(String),
    Json(Json),
    Condition(VersionCondition),
    Number(u64),
    Flag(bool),
    Events(Vec<String>),
    Operation(Operation),
}

/// The arguments of one step that passed every check, by name. The builder takes each value
/// out; a name it asks for that is not here was optional and left out.
#[derive(Debug, Default)]
struct Parsed {
    values: Vec<(&'static str, ArgValue)>,
}

impl Parsed {
    fn take(&mut self, name: &str) -> Option<ArgValue> {
        let at = self.values.iter().position(|(n, _)| *n == name)?;
        Some(self.values.remove(at).1)
    }

    fn text(&mut self, name: &str) -> Option<String> {
        match self.take(name)? {
            ArgValue::Text(text) => Some(text),
            _ => None,
        }
    }

    fn number(&mut self, name: &str) -> Option<u64> {
        match self.take(name)? {
            ArgValue::Number(n) => Some(n),
            _ => None,
        }
    }

    fn count(&mut self, name: &str) -> Option<usize> {
        self.number(name).and_then(|n| usize::try_from(n).ok())
    }

    fn version(&mut self, name: &str) -> Option<u32> {
        self.number(name).and_then(|n| u32::try_from(n).ok())
    }

    fn flag(&mut self, name: &str) -> Option<bool> {
        match self.take(name)? {
            ArgValue::Flag(b) => Some(b),
            _ => None,
        }
    }

    fn payload(&mut self, name: &str) -> Json {
        match self.take(name) {
            Some(ArgValue::Json(json)) => json,
            _ => Json::Object(serde_json::Map::new()),
        }
    }

    fn condition(&mut self, name: &str) -> VersionCondition {
        match self.take(name) {
            Some(ArgValue::Condition(condition)) => condition,
            _ => VersionCondition::Any,
        }
    }

    fn events(&mut self, name: &str) -> Vec<String> {
        match self.take(name) {
            Some(ArgValue::Events(events)) => events,
            _ => Vec::new(),
        }
    }

    fn key(&mut self) -> Option<KeySpec> {
        Some(KeySpec {
            tenant: self.text("tenant")?,
            kind: self.text("kind")?,
            id: self.text("id")?,
        })
    }
}

/// The [`Operation`] of a step doing `keyword` with these arguments; `None` only when a required
/// argument is missing, which the checks before it have reported.
fn build(keyword: &str, a: &mut Parsed) -> Option<Operation> {
    Some(match keyword {
        "migrate" => Operation::Migrate,
        "readiness" => Operation::Readiness,
        "diagnostics" => Operation::Diagnostics,
        "check_redaction" => Operation::CheckRedaction,
        "delivered" => Operation::Delivered,
        "reopen" => Operation::Reopen,
        "begin" => Operation::Begin { tx: a.text("tx")? },
        "commit" => Operation::Commit { tx: a.text("tx")? },
        "rollback" => Operation::Rollback { tx: a.text("tx")? },
        "drop" => Operation::Drop { tx: a.text("tx")? },
        "panic_in" => Operation::PanicIn { tx: a.text("tx")? },
        "await" => Operation::Await {
            session: a.text("session")?,
        },
        "save" => Operation::Save {
            tx: a.text("tx"),
            key: a.key()?,
            user: a.text("user"),
            data: a.payload("data"),
            condition: a.condition("if"),
        },
        "delete" => Operation::Delete {
            tx: a.text("tx"),
            key: a.key()?,
            condition: a.condition("if"),
        },
        "get" => Operation::Get {
            tx: a.text("tx"),
            key: a.key()?,
        },
        "list" => Operation::List {
            tenant: a.text("tenant")?,
            kind: a.text("kind"),
            limit: a.count("limit"),
            after: a.text("after"),
        },
        "list_user" => Operation::ListUser {
            tenant: a.text("tenant")?,
            user: a.text("user")?,
        },
        "audit" => Operation::Audit {
            tx: a.text("tx"),
            tenant: a.text("tenant")?,
            action: a.text("action")?,
            actor: a.text("actor"),
            target: a.text("target"),
        },
        "list_audit" => Operation::ListAudit {
            tenant: a.text("tenant")?,
        },
        "enqueue" => Operation::Enqueue {
            tx: a.text("tx"),
            tenant: a.text("tenant")?,
            topic: a.text("topic")?,
            key: a.text("key")?,
            data: a.payload("data"),
        },
        "outbox_pending" => Operation::OutboxPending {
            limit: a.count("limit"),
        },
        "acknowledge" => Operation::Acknowledge {
            events: a.events("events"),
            first: a.count("first"),
            again: a.flag("again").unwrap_or(false),
            twice: a.flag("twice").unwrap_or(false),
            unknown: a.flag("unknown").unwrap_or(false),
            unissued: a.flag("unissued").unwrap_or(false),
        },
        "migrate_to" => Operation::MigrateTo {
            version: a.version("version")?,
        },
        "tamper_migration" => Operation::TamperMigration {
            version: a.version("version")?,
        },
        "deliver" => Operation::Deliver {
            limit: a.count("limit"),
            acknowledge: a.flag("acknowledge").unwrap_or(true),
        },
        "inject_fault" => Operation::InjectFault {
            fault: match a.count("commit_fails_at") {
                Some(k) => FaultSpec::CommitFailsAt(k),
                None => FaultSpec::TerminateBackendAt(a.count("terminate_backend_at")?),
            },
        },
        "concurrently" => Operation::Concurrently {
            times: a.count("times")?,
            operation: Box::new(match a.take("step")? {
                ArgValue::Operation(operation) => operation,
                _ => return None,
            }),
        },
        _ => return None,
    })
}

impl Checker<'_, '_> {
    /// The operation `keyword: value` at `path` (`steps[i].keyword`). `keyword` is known.
    pub(crate) fn operation(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &YamlPath,
    ) -> Option<Operation> {
        let rule = step_rule(keyword)?;
        let mut parsed = self.arguments(rule, value, path)?;
        build(keyword, &mut parsed)
    }

    /// Checks `value` against `rule`'s arguments; every problem is reported, and `None` comes
    /// back if there was any.
    fn arguments(&mut self, rule: &StepRule, value: &Value, path: &YamlPath) -> Option<Parsed> {
        let keyword = rule.keyword;
        let what = format!("\"{keyword}\"");
        let before = self.errors.len();
        let mut parsed = Parsed::default();
        // Whether the operation can be built: every required argument given, every given one
        // read, one of each "exactly one of" group. An unknown key is reported but does not
        // stop it, so the step's `expect` and the steps after it are still checked.
        let mut complete = true;
        match rule.arguments {
            Arguments::None => complete = self.no_arguments(keyword, value, path).is_some(),
            Arguments::Name { name, word, .. } => {
                let text = self.identifier(value, path, &format!("the {word} after {what}"))?;
                parsed.values.push((name, ArgValue::Text(text)));
            }
            Arguments::Map {
                args,
                exactly_one_of,
            } => {
                let keys: Vec<String> = args.iter().map(|a| a.shape_key()).collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let given = self.mapping(value, path, &what, &keys)?;
                for argument in args {
                    let Some((item, item_path)) = given.get(argument.name) else {
                        complete &= !argument.required;
                        continue;
                    };
                    match self.argument(argument.ty, argument.name, item, &item_path) {
                        Some(read) => parsed.values.push((argument.name, read)),
                        None => complete = false,
                    }
                }
                if !exactly_one_of.is_empty() {
                    let present: Vec<&str> = exactly_one_of
                        .iter()
                        .copied()
                        .filter(|k| parsed.values.iter().any(|(n, _)| n == k))
                        .collect();
                    let shapes: Vec<String> = exactly_one_of
                        .iter()
                        .filter_map(|k| rule.argument(k))
                        .map(|a| format!("{{{}: {}}}", a.name, a.ty.placeholder()))
                        .collect();
                    let shape = spoken_list(&shapes, "or");
                    complete &= present.len() == 1;
                    match present.as_slice() {
                        [_] => {}
                        [] if self.errors.len() == before => {
                            self.at_value(path, format!("{what} needs {shape}"));
                        }
                        [] => {}
                        [_, second, ..] => {
                            if let Some((_, second_path)) = given.get(second) {
                                self.at_key(
                                    &second_path,
                                    format!(
                                        "{what} takes exactly one of {}: {shape}",
                                        quoted_list(exactly_one_of)
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
        complete.then_some(parsed)
    }

    /// One argument's value as `ty` reads it.
    fn argument(
        &mut self,
        ty: ArgType,
        name: &str,
        value: &Value,
        path: &YamlPath,
    ) -> Option<ArgValue> {
        Some(match ty {
            ArgType::Name(word) => ArgValue::Text(self.identifier(value, path, word)?),
            ArgType::Kind => ArgValue::Text(self.kind(value, path)?),
            ArgType::Payload => ArgValue::Json(self.json(value, path)?),
            ArgType::Condition => ArgValue::Condition(self.condition(value, path)?),
            ArgType::Count(word) => ArgValue::Number(self.uint(value, path, word)?),
            ArgType::Version(word) => {
                ArgValue::Number(self.positive::<u32>(value, path, word)?.into())
            }
            ArgType::Position(word) => {
                let k = self.positive::<usize>(value, path, word)?;
                ArgValue::Number(u64::try_from(k).ok()?)
            }
            ArgType::Flag(word) => ArgValue::Flag(self.boolean(value, path, word)?),
            ArgType::True(_) => {
                let quoted = format!("\"{name}\"");
                if !self.boolean(value, path, &quoted)? {
                    self.at_value(
                        path,
                        format!("{quoted} can only be true; leave it out otherwise"),
                    );
                    return None;
                }
                ArgValue::Flag(true)
            }
            ArgType::Target => ArgValue::Text(self.target(value, path)?),
            ArgType::Events => ArgValue::Events(self.events(value, path)?),
            ArgType::Copies => ArgValue::Number(self.copies(value, path)?),
            ArgType::CopyStep => ArgValue::Operation(self.concurrent_step(value, path)?),
        })
    }

    /// `[tenant/topic/key, ...]`.
    fn events(&mut self, value: &Value, path: &YamlPath) -> Option<Vec<String>> {
        let Value::Sequence(items) = value else {
            self.at_value(
                path,
                format!(
                    "\"events\" must be a list of tenant/topic/key, found {}",
                    describe(value)
                ),
            );
            return None;
        };
        let names: Vec<Option<String>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.event_name(item, &path.index(i)))
            .collect();
        names.into_iter().collect()
    }

    /// The `times` of a `concurrently`: 2 to [`MAX_CONCURRENT_TIMES`].
    fn copies(&mut self, value: &Value, path: &YamlPath) -> Option<u64> {
        let n = self.positive::<usize>(value, path, "\"times\"")?;
        if n < 2 {
            self.at_value(
                path,
                format!(
                    "\"times\" must be at least 2, found {n}; a single copy is an ordinary step"
                ),
            );
            return None;
        }
        if n > MAX_CONCURRENT_TIMES {
            self.at_value(
                path,
                format!(
                    "\"times\" is {n}; \"concurrently\" runs at most {MAX_CONCURRENT_TIMES} copies"
                ),
            );
            return None;
        }
        u64::try_from(n).ok()
    }

    /// The `step: {OPERATION: ARGS}` of a `concurrently`: one of [`CONCURRENT_OPERATIONS`],
    /// naming no transaction.
    fn concurrent_step(&mut self, value: &Value, path: &YamlPath) -> Option<Operation> {
        let allowed = one_of(CONCURRENT_OPERATIONS);
        let map = match value {
            Value::Mapping(map) if !map.is_empty() => map,
            other => {
                self.at_value(
                    path,
                    format!("\"step\" must be a mapping with one operation, like {{save: {{...}}}}, found {}; \"concurrently\" runs one of: {allowed}", describe(other)),
                );
                return None;
            }
        };
        let mut found: Option<(&str, &Value)> = None;
        let mut valid = true;
        for (key, item) in map {
            let name = key.as_str().unwrap_or("?");
            let key_path = path.key(name);
            if let Some((first, _)) = found {
                self.at_key(
                    &key_path,
                    format!("\"step\" has one operation, found \"{first}\" and \"{name}\""),
                );
                valid = false;
            } else if CONCURRENT_OPERATIONS.contains(&name) {
                found = Some((name, item));
            } else if STEP_KEYWORDS.contains(&name) {
                self.at_key(
                    &key_path,
                    format!("\"concurrently\" cannot run \"{name}\"; it runs one of: {allowed}"),
                );
                valid = false;
            } else {
                let hint = suggestion(name, CONCURRENT_OPERATIONS);
                self.at_key(
                    &key_path,
                    format!(
                        "unknown step \"{name}\"{hint}; \"concurrently\" runs one of: {allowed}"
                    ),
                );
                valid = false;
            }
        }
        let (keyword, arguments) = found?;
        let rule = step_rule(keyword)?;
        let mut parsed = self.arguments(rule, arguments, &path.key(keyword))?;
        if parsed.take("tx").is_some() {
            self.at_key(
                &path.key(keyword).key("tx"),
                "each copy of a \"concurrently\" step runs in a transaction of its own; remove \"tx\"",
            );
            return None;
        }
        let operation = build(keyword, &mut parsed)?;
        valid.then_some(operation)
    }
}

/// `a, b or c`.
fn spoken_list(items: &[String], last_word: &str) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{} {last_word} {last}", rest.join(", "))
        }
        _ => items.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::STEPS;

    fn sample(ty: ArgType) -> ArgValue {
        match ty {
            ArgType::Name(_) | ArgType::Kind | ArgType::Target => ArgValue::Text("x".into()),
            ArgType::Payload => ArgValue::Json(Json::Null),
            ArgType::Condition => ArgValue::Condition(VersionCondition::Absent),
            ArgType::Count(_) | ArgType::Version(_) | ArgType::Position(_) | ArgType::Copies => {
                ArgValue::Number(2)
            }
            ArgType::Flag(_) | ArgType::True(_) => ArgValue::Flag(true),
            ArgType::Events => ArgValue::Events(vec!["a/b/c".into()]),
            ArgType::CopyStep => ArgValue::Operation(Operation::Migrate),
        }
    }

    /// The builder reads exactly the arguments the table lists: given every one of a row's
    /// arguments (one of each "exactly one of" group), it builds the operation and leaves none
    /// unread; given only the required ones, it still builds.
    #[test]
    fn the_builder_reads_every_argument_of_its_row_and_no_other() {
        for rule in STEPS {
            let mut full = Parsed::default();
            let mut required = Parsed::default();
            match rule.arguments {
                Arguments::None => {}
                Arguments::Name { name, .. } => {
                    full.values.push((name, ArgValue::Text("x".into())));
                    required.values.push((name, ArgValue::Text("x".into())));
                }
                Arguments::Map {
                    args,
                    exactly_one_of,
                } => {
                    for (i, a) in args.iter().enumerate() {
                        let later_in_group = exactly_one_of.contains(&a.name)
                            && args[..i].iter().any(|b| exactly_one_of.contains(&b.name));
                        if !later_in_group {
                            full.values.push((a.name, sample(a.ty)));
                        }
                        if a.required || exactly_one_of.first() == Some(&a.name) {
                            required.values.push((a.name, sample(a.ty)));
                        }
                    }
                }
            }
            let operation = build(rule.keyword, &mut full)
                .unwrap_or_else(|| panic!("{} did not build", rule.keyword));
            assert_eq!(operation.keyword(), rule.keyword);
            assert!(
                full.values.is_empty(),
                "{}: arguments the builder never reads: {:?}",
                rule.keyword,
                full.values
            );
            assert!(
                build(rule.keyword, &mut required).is_some(),
                "{} needs more than its required arguments",
                rule.keyword
            );
            // Each member of an "exactly one of" group alone (with the required ones) builds,
            // and is read.
            if let Arguments::Map {
                args,
                exactly_one_of,
            } = rule.arguments
            {
                for member in exactly_one_of {
                    let mut alone = Parsed::default();
                    for a in args.iter().filter(|a| a.required || a.name == *member) {
                        alone.values.push((a.name, sample(a.ty)));
                    }
                    assert!(
                        build(rule.keyword, &mut alone).is_some(),
                        "{} with only {member} did not build",
                        rule.keyword
                    );
                    assert!(
                        alone.values.is_empty(),
                        "{}: {member} is never read",
                        rule.keyword
                    );
                }
            }
        }
    }
}
