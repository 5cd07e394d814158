//! Step operations: reads one operation's arguments (`save: {tenant, kind, id, ...}`) into an
//! [`Operation`], rejecting unknown keys, missing keys and values of the wrong shape.

use serde_yaml::Value;

use crate::check::{Checker, describe};
use crate::limits::MAX_CONCURRENT_TIMES;
use crate::spans::YamlPath;
use crate::vocabulary::{CONCURRENT_OPERATIONS, STEP_KEYWORDS, one_of, suggestion};
use crate::{FaultSpec, Operation};

impl Checker<'_, '_> {
    /// The operation `keyword: value` at `path` (`steps[i].keyword`). `keyword` is known.
    pub(crate) fn operation(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &YamlPath,
    ) -> Option<Operation> {
        let what = format!("\"{keyword}\"");
        match keyword {
            "migrate" | "readiness" | "diagnostics" | "check_redaction" | "delivered"
            | "reopen" => {
                self.no_arguments(keyword, value, path)?;
                Some(match keyword {
                    "migrate" => Operation::Migrate,
                    "readiness" => Operation::Readiness,
                    "diagnostics" => Operation::Diagnostics,
                    "delivered" => Operation::Delivered,
                    "reopen" => Operation::Reopen,
                    _ => Operation::CheckRedaction,
                })
            }
            "begin" | "commit" | "rollback" | "drop" | "panic_in" => {
                let what = format!("the transaction name after {what}");
                let tx = self.identifier(value, path, &what)?;
                Some(match keyword {
                    "begin" => Operation::Begin { tx },
                    "commit" => Operation::Commit { tx },
                    "rollback" => Operation::Rollback { tx },
                    "drop" => Operation::Drop { tx },
                    _ => Operation::PanicIn { tx },
                })
            }
            "save" => {
                let keys = ["tx?", "tenant", "kind", "id", "user?", "data?", "if?"];
                let args = self.mapping(value, path, &what, &keys)?;
                let tx = self.optional(&args, "tx", Self::tx);
                let key = self.key_spec(&args);
                let user = self.optional(&args, "user", |c, v, p| c.identifier(v, p, "user"));
                let data = self.optional(&args, "data", Self::json);
                let condition = self.optional(&args, "if", Self::condition);
                Some(Operation::Save {
                    tx: tx?,
                    key: key?,
                    user: user?,
                    data: data?.unwrap_or_else(empty_object),
                    condition: condition?.unwrap_or_default(),
                })
            }
            "delete" => {
                let keys = ["tx?", "tenant", "kind", "id", "if?"];
                let args = self.mapping(value, path, &what, &keys)?;
                let tx = self.optional(&args, "tx", Self::tx);
                let key = self.key_spec(&args);
                let condition = self.optional(&args, "if", Self::condition);
                Some(Operation::Delete {
                    tx: tx?,
                    key: key?,
                    condition: condition?.unwrap_or_default(),
                })
            }
            "get" => {
                let args = self.mapping(value, path, &what, &["tx?", "tenant", "kind", "id"])?;
                let tx = self.optional(&args, "tx", Self::tx);
                let key = self.key_spec(&args);
                Some(Operation::Get { tx: tx?, key: key? })
            }
            "list" => {
                let keys = ["tenant", "kind?", "limit?", "after?"];
                let args = self.mapping(value, path, &what, &keys)?;
                let tenant = self.required(&args, "tenant", Self::tenant);
                let kind = self.optional(&args, "kind", Self::kind);
                let limit = self.optional(&args, "limit", Self::limit);
                let after =
                    self.optional(&args, "after", |c, v, p| c.identifier(v, p, "cursor name"));
                Some(Operation::List {
                    tenant: tenant?,
                    kind: kind?,
                    limit: limit?,
                    after: after?,
                })
            }
            "list_user" => {
                let args = self.mapping(value, path, &what, &["tenant", "user"])?;
                let tenant = self.required(&args, "tenant", Self::tenant);
                let user = self.required(&args, "user", |c, v, p| c.identifier(v, p, "user"));
                Some(Operation::ListUser {
                    tenant: tenant?,
                    user: user?,
                })
            }
            "audit" => {
                let keys = ["tx?", "tenant", "action", "actor?", "target?"];
                let args = self.mapping(value, path, &what, &keys)?;
                let tx = self.optional(&args, "tx", Self::tx);
                let tenant = self.required(&args, "tenant", Self::tenant);
                let action = self.required(&args, "action", |c, v, p| c.identifier(v, p, "action"));
                let actor = self.optional(&args, "actor", |c, v, p| c.identifier(v, p, "actor"));
                let target = self.optional(&args, "target", Self::target);
                Some(Operation::Audit {
                    tx: tx?,
                    tenant: tenant?,
                    action: action?,
                    actor: actor?,
                    target: target?,
                })
            }
            "list_audit" => {
                let args = self.mapping(value, path, &what, &["tenant"])?;
                let tenant = self.required(&args, "tenant", Self::tenant);
                Some(Operation::ListAudit { tenant: tenant? })
            }
            "enqueue" => {
                let keys = ["tx?", "tenant", "topic", "key", "data?"];
                let args = self.mapping(value, path, &what, &keys)?;
                let tx = self.optional(&args, "tx", Self::tx);
                let tenant = self.required(&args, "tenant", Self::tenant);
                let topic = self.required(&args, "topic", |c, v, p| c.identifier(v, p, "topic"));
                let key = self.required(&args, "key", |c, v, p| c.identifier(v, p, "key"));
                let data = self.optional(&args, "data", Self::json);
                Some(Operation::Enqueue {
                    tx: tx?,
                    tenant: tenant?,
                    topic: topic?,
                    key: key?,
                    data: data?.unwrap_or_else(empty_object),
                })
            }
            "outbox_pending" => {
                let args = self.mapping(value, path, &what, &["limit?"])?;
                let limit = self.optional(&args, "limit", Self::limit);
                Some(Operation::OutboxPending { limit: limit? })
            }
            "acknowledge" => self.acknowledge(value, path),
            "migrate_to" => {
                let args = self.mapping(value, path, &what, &["version"])?;
                let version = self.required(&args, "version", |c, v, p| {
                    c.positive::<u32>(v, p, "schema version")
                });
                Some(Operation::MigrateTo { version: version? })
            }
            "tamper_migration" => {
                let args = self.mapping(value, path, &what, &["version"])?;
                let version = self.required(&args, "version", |c, v, p| {
                    c.positive::<u32>(v, p, "migration version")
                });
                Some(Operation::TamperMigration { version: version? })
            }
            "await" => {
                let what = format!("the session name after {what}");
                let session = self.identifier(value, path, &what)?;
                Some(Operation::Await { session })
            }
            "deliver" => {
                let args = self.mapping(value, path, &what, &["limit?", "acknowledge?"])?;
                let limit = self.optional(&args, "limit", Self::limit);
                let acknowledge = self.optional(&args, "acknowledge", |c, v, p| {
                    c.boolean(v, p, "\"acknowledge\"")
                });
                Some(Operation::Deliver {
                    limit: limit?,
                    acknowledge: acknowledge?.unwrap_or(true),
                })
            }
            "inject_fault" => self.inject_fault(value, path),
            "concurrently" => self.concurrently(value, path),
            other => unreachable!("operation() is only called with known keywords, not {other:?}"),
        }
    }

    fn acknowledge(&mut self, value: &Value, path: &YamlPath) -> Option<Operation> {
        const SHAPE: &str = "{events: [tenant/topic/key, ...]}, {first: N} or {again: true}";
        let keys = ["events?", "first?", "again?", "twice?", "unknown?"];
        let args = self.mapping(value, path, "\"acknowledge\"", &keys)?;
        let events = self.optional(&args, "events", |c, v, p| {
            let Value::Sequence(items) = v else {
                c.at_value(
                    p,
                    format!(
                        "\"events\" must be a list of tenant/topic/key, found {}",
                        describe(v)
                    ),
                );
                return None;
            };
            let names: Vec<Option<String>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| c.event_name(item, &p.index(i)))
                .collect();
            names.into_iter().collect::<Option<Vec<String>>>()
        });
        let first = self.optional(&args, "first", |c, v, p| {
            let n = c.uint(v, p, "\"first\"")?;
            usize::try_from(n).ok()
        });
        let only_true = |c: &mut Self, key: &str| {
            c.optional(&args, key, |c, v, p| {
                let set = c.boolean(v, p, &format!("\"{key}\""))?;
                if !set {
                    c.at_value(
                        p,
                        format!("\"{key}\" can only be true; leave it out otherwise"),
                    );
                    return None;
                }
                Some(set)
            })
        };
        let again = only_true(self, "again");
        let twice = only_true(self, "twice");
        let unknown = only_true(self, "unknown");
        let given: Vec<&str> = [
            ("events", matches!(events, Some(Some(_)))),
            ("first", matches!(first, Some(Some(_)))),
            ("again", matches!(again, Some(Some(true)))),
        ]
        .into_iter()
        .filter_map(|(key, present)| present.then_some(key))
        .collect();
        match given.as_slice() {
            [] => {
                if matches!(
                    (&events, &first, &again),
                    (Some(None), Some(None), Some(None))
                ) {
                    self.at_value(path, format!("\"acknowledge\" needs {SHAPE}"));
                }
                None
            }
            [_] => Some(Operation::Acknowledge {
                events: events?.unwrap_or_default(),
                first: first?,
                again: again?.unwrap_or(false),
                twice: twice?.unwrap_or(false),
                unknown: unknown?.unwrap_or(false),
            }),
            [_, second, ..] => {
                let (_, second_path) = args.get(second)?;
                self.at_key(
                    &second_path,
                    format!("\"acknowledge\" takes exactly one of \"events\", \"first\" and \"again\": {SHAPE}"),
                );
                None
            }
        }
    }

    /// `{commit_fails_at: K}` or `{terminate_backend_at: K}`, K ≥ 1.
    fn inject_fault(&mut self, value: &Value, path: &YamlPath) -> Option<Operation> {
        const SHAPE: &str = "{commit_fails_at: K} or {terminate_backend_at: K}";
        let keys = ["commit_fails_at?", "terminate_backend_at?"];
        let args = self.mapping(value, path, "\"inject_fault\"", &keys)?;
        let at = |c: &mut Self, key: &str| {
            c.optional(&args, key, |c, v, p| {
                c.positive::<usize>(v, p, &format!("\"{key}\""))
            })
        };
        let fails = at(self, "commit_fails_at");
        let terminates = at(self, "terminate_backend_at");
        match (fails, terminates) {
            (Some(Some(_)), Some(Some(_))) => {
                let (_, second) = args.get("terminate_backend_at")?;
                self.at_key(
                    &second,
                    format!("\"inject_fault\" takes one of \"commit_fails_at\" and \"terminate_backend_at\", not both: {SHAPE}"),
                );
                None
            }
            (Some(Some(k)), Some(None)) => Some(Operation::InjectFault {
                fault: FaultSpec::CommitFailsAt(k),
            }),
            (Some(None), Some(Some(k))) => Some(Operation::InjectFault {
                fault: FaultSpec::TerminateBackendAt(k),
            }),
            (Some(None), Some(None)) => {
                // Unknown keys are reported already, with the shape.
                let unknown_keys = matches!(value, Value::Mapping(map) if !map.is_empty());
                if !unknown_keys {
                    self.at_value(path, format!("\"inject_fault\" needs {SHAPE}"));
                }
                None
            }
            _ => None,
        }
    }

    /// `{times: N, step: {OPERATION: ARGS}}`, N ≥ 2; the operation is one of
    /// [`CONCURRENT_OPERATIONS`] and names no transaction.
    fn concurrently(&mut self, value: &Value, path: &YamlPath) -> Option<Operation> {
        let args = self.mapping(value, path, "\"concurrently\"", &["times", "step"])?;
        let times = self.required(&args, "times", |c, v, p| {
            let n = c.positive::<usize>(v, p, "\"times\"")?;
            if n < 2 {
                c.at_value(
                    p,
                    format!(
                        "\"times\" must be at least 2, found {n}; a single copy is an ordinary step"
                    ),
                );
                return None;
            }
            if n > MAX_CONCURRENT_TIMES {
                c.at_value(
                    p,
                    format!(
                        "\"times\" is {n}; \"concurrently\" runs at most {MAX_CONCURRENT_TIMES} copies"
                    ),
                );
                return None;
            }
            Some(n)
        });
        let operation = self.required(&args, "step", Self::concurrent_step);
        Some(Operation::Concurrently {
            times: times?,
            operation: Box::new(operation?),
        })
    }

    /// The `step: {OPERATION: ARGS}` of a `concurrently`.
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
        let operation = self.operation(keyword, arguments, &path.key(keyword))?;
        if let Operation::Save { tx: Some(_), .. }
        | Operation::Delete { tx: Some(_), .. }
        | Operation::Audit { tx: Some(_), .. }
        | Operation::Enqueue { tx: Some(_), .. } = operation
        {
            self.at_key(
                &path.key(keyword).key("tx"),
                "each copy of a \"concurrently\" step runs in a transaction of its own; remove \"tx\"",
            );
            return None;
        }
        valid.then_some(operation)
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}
