//! Argument readers the operations share: no arguments, conditions, event names, audit targets,
//! and `required` lookups in an argument mapping.

use serde_yaml::Value;

use crate::VersionCondition;
use crate::check::{Args, Checker, describe};
use crate::spans::YamlPath;
use crate::vocabulary::{RECORD_KINDS, identifier_problem};

impl Checker<'_, '_> {
    pub(crate) fn no_arguments(
        &mut self,
        keyword: &str,
        value: &Value,
        path: &YamlPath,
    ) -> Option<()> {
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

    /// `tenant/topic/key`.
    pub(crate) fn event_name(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
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
            if let Some(problem) = identifier_problem(part) {
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
    pub(crate) fn target(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
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
        if let Some(problem) = identifier_problem(id) {
            self.at_value(path, format!("target \"{text}\": id \"{id}\" {problem}"));
            return None;
        }
        Some(text)
    }

    /// `if: absent`, `if: any` or `if: {version: N}`.
    pub(crate) fn condition(&mut self, value: &Value, path: &YamlPath) -> Option<VersionCondition> {
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

    /// `None` when the key is missing (already reported) or its value is rejected.
    pub(crate) fn required<T>(
        &mut self,
        args: &Args<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Value, &YamlPath) -> Option<T>,
    ) -> Option<T> {
        let (value, path) = args.get(key)?;
        read(self, value, &path)
    }
}
