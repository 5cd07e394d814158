//! Step operations: reads one operation's arguments (`save: {tenant, kind, id, ...}`) into an
//! [`Operation`], rejecting unknown keys, missing keys and values of the wrong shape.

use serde_yaml::Value;

use crate::check::{Args, Checker, describe};
use crate::spans::YamlPath;
use crate::vocabulary::RECORD_KINDS;
use crate::{KeySpec, Operation, VersionCondition};

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
            "migrate" | "readiness" | "diagnostics" | "check_redaction" => {
                self.no_arguments(keyword, value, path)?;
                Some(match keyword {
                    "migrate" => Operation::Migrate,
                    "readiness" => Operation::Readiness,
                    "diagnostics" => Operation::Diagnostics,
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
            "tamper_migration" => {
                let args = self.mapping(value, path, &what, &["version"])?;
                let version = self.required(&args, "version", |c, v, p| {
                    c.positive::<u32>(v, p, "migration version")
                });
                Some(Operation::TamperMigration { version: version? })
            }
            other => unreachable!("operation() is only called with known keywords, not {other:?}"),
        }
    }

    fn no_arguments(&mut self, keyword: &str, value: &Value, path: &YamlPath) -> Option<()> {
        match value {
            Value::Null => Some(()),
            Value::Mapping(map) if map.is_empty() => Some(()),
            Value::Mapping(map) => {
                for key in map.keys() {
                    let name = key.as_str().unwrap_or("?");
                    self.at_key(
                        &path.key(name),
                        format!("\"{keyword}\" takes no arguments, found key \"{name}\"; write \"{keyword}: {{}}\""),
                    );
                }
                None
            }
            other => {
                self.at_value(
                    path,
                    format!(
                        "\"{keyword}\" takes no arguments, found {}; write \"{keyword}: {{}}\"",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn acknowledge(&mut self, value: &Value, path: &YamlPath) -> Option<Operation> {
        const SHAPE: &str = "{events: [tenant/topic/key, ...]} or {first: N}";
        let args = self.mapping(value, path, "\"acknowledge\"", &["events?", "first?"])?;
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
        match (&events, &first) {
            (Some(Some(_)), Some(Some(_))) => {
                let (_, first_path) = args.get("first")?;
                self.at_key(
                    &first_path,
                    format!(
                        "\"acknowledge\" takes one of \"events\" and \"first\", not both: {SHAPE}"
                    ),
                );
                None
            }
            (Some(None), Some(None)) => {
                self.at_value(path, format!("\"acknowledge\" needs {SHAPE}"));
                None
            }
            _ => Some(Operation::Acknowledge {
                events: events?.unwrap_or_default(),
                first: first?,
            }),
        }
    }

    /// `tenant/topic/key`.
    fn event_name(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        let text = self.string(value, path, "an event")?;
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() != 3 {
            self.at_value(
                path,
                format!("event \"{text}\" must be written tenant/topic/key"),
            );
            return None;
        }
        for (part, what) in parts.iter().zip(["tenant", "topic", "key"]) {
            if let Some(problem) = crate::vocabulary::identifier_problem(part) {
                self.at_value(
                    path,
                    format!("event \"{text}\": {what} \"{part}\" {problem}"),
                );
                return None;
            }
        }
        Some(text)
    }

    /// `kind/id` in the audited tenant.
    fn target(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        let text = self.string(value, path, "target")?;
        let Some((kind, id)) = text.split_once('/') else {
            self.at_value(path, format!("target \"{text}\" must be written kind/id"));
            return None;
        };
        if !RECORD_KINDS.contains(&kind) {
            self.at_value(
                path,
                format!(
                    "target \"{text}\" names unknown kind \"{kind}\"; expected one of: {}",
                    RECORD_KINDS.join(", ")
                ),
            );
            return None;
        }
        if let Some(problem) = crate::vocabulary::identifier_problem(id) {
            self.at_value(path, format!("target \"{text}\": id \"{id}\" {problem}"));
            return None;
        }
        Some(text)
    }

    /// `if: absent`, `if: any` or `if: {version: N}`.
    fn condition(&mut self, value: &Value, path: &YamlPath) -> Option<VersionCondition> {
        match value {
            Value::String(s) if s == "absent" => Some(VersionCondition::Absent),
            Value::String(s) if s == "any" => Some(VersionCondition::Any),
            Value::Mapping(_) => {
                let args = self.mapping(value, path, "\"if\"", &["version"])?;
                let version = self.required(&args, "version", |c, v, p| {
                    c.positive::<u64>(v, p, "version")
                });
                Some(VersionCondition::Version(version?))
            }
            other => {
                self.at_value(
                    path,
                    format!(
                        "\"if\" must be \"absent\", \"any\" or {{version: N}}, found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn key_spec(&mut self, args: &Args<'_>) -> Option<KeySpec> {
        let tenant = self.required(args, "tenant", Self::tenant);
        let kind = self.required(args, "kind", Self::kind);
        let id = self.required(args, "id", |c, v, p| c.identifier(v, p, "id"));
        Some(KeySpec {
            tenant: tenant?,
            kind: kind?,
            id: id?,
        })
    }

    fn tx(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        self.identifier(value, path, "transaction name")
    }

    fn tenant(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        self.identifier(value, path, "tenant")
    }

    fn limit(&mut self, value: &Value, path: &YamlPath) -> Option<usize> {
        let n = self.uint(value, path, "limit")?;
        usize::try_from(n).ok()
    }

    /// `None` when the key is missing (already reported) or its value is rejected.
    fn required<T>(
        &mut self,
        args: &Args<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Value, &YamlPath) -> Option<T>,
    ) -> Option<T> {
        let (value, path) = args.get(key)?;
        read(self, value, &path)
    }

    /// `Some(None)` when the key is absent, `None` when its value is rejected.
    fn optional<T>(
        &mut self,
        args: &Args<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Value, &YamlPath) -> Option<T>,
    ) -> Option<Option<T>> {
        match args.get(key) {
            None => Some(None),
            Some((value, path)) => read(self, value, &path).map(Some),
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}
