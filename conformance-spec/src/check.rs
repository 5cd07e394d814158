//! The validator's tools: a [`Checker`] that collects located errors, and typed readers for YAML
//! values (strings, identifiers, counts, payloads, argument mappings) that report what they reject.

use serde_json::Value as Json;
use serde_yaml::Value;

use crate::SpecError;
use crate::source::SourceFile;
use crate::spans::{Pos, Spans, YamlPath};
use crate::vocabulary::{RECORD_KINDS, identifier_problem, one_of, suggestion};

/// Collects every problem in one file, each located through the file's [`Spans`].
pub(crate) struct Checker<'a, 't> {
    pub(crate) file: &'a SourceFile<'t>,
    pub(crate) spans: &'a Spans,
    pub(crate) errors: Vec<SpecError>,
}

impl<'a, 't> Checker<'a, 't> {
    pub(crate) fn new(file: &'a SourceFile<'t>, spans: &'a Spans) -> Self {
        Self {
            file,
            spans,
            errors: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, pos: Pos, message: impl Into<String>) {
        let location = self.file.location(pos);
        self.errors.push(SpecError::new(location, message));
    }

    /// An error about the value at `path`.
    pub(crate) fn at_value(&mut self, path: &YamlPath, message: impl Into<String>) {
        self.at(self.spans.value(path), message);
    }

    /// An error about the key of the value at `path`.
    pub(crate) fn at_key(&mut self, path: &YamlPath, message: impl Into<String>) {
        self.at(self.spans.key(path), message);
    }

    /// Any string.
    pub(crate) fn string(&mut self, value: &Value, path: &YamlPath, what: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => {
                let text = scalar_text(value);
                self.at_value(
                    path,
                    format!(
                        "{what} must be a string, found {}; quote it: \"{text}\"",
                        describe(value)
                    ),
                );
                None
            }
            other => {
                self.at_value(
                    path,
                    format!("{what} must be a string, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A non-empty, one-line string.
    pub(crate) fn line_text(
        &mut self,
        value: &Value,
        path: &YamlPath,
        what: &str,
    ) -> Option<String> {
        let text = self.string(value, path, what)?;
        if text.trim().is_empty() {
            self.at_value(path, format!("{what} must not be empty"));
            return None;
        }
        if text.trim_end().contains('\n') {
            self.at_value(path, format!("{what} must fit on one line"));
            return None;
        }
        Some(text.trim_end().to_owned())
    }

    /// A tenant, record or user id: `[A-Za-z0-9_.@:-]{1,128}`.
    pub(crate) fn identifier(
        &mut self,
        value: &Value,
        path: &YamlPath,
        what: &str,
    ) -> Option<String> {
        let text = self.string(value, path, what)?;
        if let Some(problem) = identifier_problem(&text) {
            self.at_value(path, format!("{what} \"{text}\" {problem}"));
            return None;
        }
        Some(text)
    }

    /// One of `words`.
    pub(crate) fn word(
        &mut self,
        value: &Value,
        path: &YamlPath,
        what: &str,
        words: &[&str],
    ) -> Option<String> {
        let text = self.string(value, path, what)?;
        if words.contains(&text.as_str()) {
            return Some(text);
        }
        let hint = suggestion(&text, words);
        self.at_value(
            path,
            format!(
                "unknown {what} \"{text}\"{hint}; expected one of: {}",
                one_of(words)
            ),
        );
        None
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self, value: &Value, path: &YamlPath, what: &str) -> Option<bool> {
        if let Value::Bool(b) = value {
            return Some(*b);
        }
        self.at_value(
            path,
            format!("{what} must be true or false, found {}", describe(value)),
        );
        None
    }

    /// A record kind.
    pub(crate) fn kind(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        self.word(value, path, "kind", RECORD_KINDS)
    }

    /// A non-negative integer.
    pub(crate) fn uint(&mut self, value: &Value, path: &YamlPath, what: &str) -> Option<u64> {
        if let Some(n) = value.as_u64() {
            return Some(n);
        }
        self.at_value(
            path,
            format!(
                "{what} must be a non-negative integer, found {}",
                describe(value)
            ),
        );
        None
    }

    /// A positive integer that fits in `T` (a count, limit or version).
    pub(crate) fn positive<T: TryFrom<u64>>(
        &mut self,
        value: &Value,
        path: &YamlPath,
        what: &str,
    ) -> Option<T> {
        let n = self.uint(value, path, what)?;
        if n == 0 {
            self.at_value(path, format!("{what} must be at least 1, found 0"));
            return None;
        }
        let fits = T::try_from(n).ok();
        if fits.is_none() {
            self.at_value(path, format!("{what} {n} is too large"));
        }
        fits
    }

    /// A payload: any YAML value JSON can hold.
    pub(crate) fn json(&mut self, value: &Value, path: &YamlPath) -> Option<Json> {
        Some(match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => {
                let number = if let Some(i) = n.as_i64() {
                    serde_json::Number::from(i)
                } else if let Some(u) = n.as_u64() {
                    serde_json::Number::from(u)
                } else if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                    f
                } else {
                    self.at_value(path, format!("number {n} cannot be held in a JSON payload"));
                    return None;
                };
                Json::Number(number)
            }
            Value::String(s) => Json::String(s.clone()),
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.json(item, &path.index(i))?);
                }
                Json::Array(out)
            }
            Value::Mapping(map) => {
                let mut out = serde_json::Map::new();
                for (key, item) in map {
                    let Value::String(name) = key else {
                        self.at_value(
                            path,
                            format!("payload keys must be strings, found {}", describe(key)),
                        );
                        return None;
                    };
                    out.insert(name.clone(), self.json(item, &path.key(name))?);
                }
                Json::Object(out)
            }
            Value::Tagged(tagged) => {
                self.at_value(
                    path,
                    format!(
                        "tagged value {} cannot be held in a JSON payload",
                        tagged.tag
                    ),
                );
                return None;
            }
        })
    }

    /// A file's top-level keys: each not in `known` is reported at the key (`unknown key "x"
    /// {in_what}`), and those of `required` that are missing at the root (`{what} is missing
    /// ...`); both messages end with `shape`.
    pub(crate) fn top_level_keys(
        &mut self,
        map: &serde_yaml::Mapping,
        known: &[&str],
        required: &[&str],
        (what, in_what): (&str, &str),
        shape: &str,
    ) {
        let root = YamlPath::root();
        for key in map.keys() {
            let name = key.as_str().unwrap_or("?");
            if !known.contains(&name) {
                let hint = suggestion(name, known);
                self.at_key(
                    &root.key(name),
                    format!("unknown key \"{name}\"{in_what}{hint}; {shape}"),
                );
            }
        }
        let missing: Vec<String> = required
            .iter()
            .filter(|k| map.get(**k).is_none())
            .map(|k| format!("\"{k}\""))
            .collect();
        if !missing.is_empty() {
            self.at_value(
                &root,
                format!("{what} is missing {}; {shape}", missing.join(" and ")),
            );
        }
    }

    /// An argument mapping whose keys are `keys` (`"name?"` marks an optional one). Reports
    /// unknown keys at the key and missing ones at the mapping. `null` counts as `{}` when
    /// nothing is required.
    pub(crate) fn mapping<'v>(
        &mut self,
        value: &'v Value,
        path: &YamlPath,
        what: &str,
        keys: &[&str],
    ) -> Option<Args<'v>> {
        let shape = format!("{{{}}}", keys.join(", "));
        let names: Vec<&str> = keys.iter().map(|k| k.trim_end_matches('?')).collect();
        let nothing_required = keys.iter().all(|k| k.ends_with('?'));
        let map = match value {
            Value::Mapping(map) => Some(map),
            Value::Null if nothing_required => None,
            other => {
                self.at_value(
                    path,
                    format!("{what} takes a mapping {shape}, found {}", describe(other)),
                );
                return None;
            }
        };
        let mut args = Args {
            path: path.clone(),
            entries: Vec::new(),
        };
        for (key, item) in map.into_iter().flatten() {
            let Value::String(name) = key else {
                self.at_value(
                    path,
                    format!("keys must be strings, found {}", describe(key)),
                );
                continue;
            };
            if names.contains(&name.as_str()) {
                args.entries.push((name.clone(), item));
            } else {
                let hint = suggestion(name, &names);
                self.at_key(
                    &path.key(name),
                    format!("unknown key \"{name}\" in {what}{hint}; {what} takes {shape}"),
                );
            }
        }
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| !k.ends_with('?') && args.get(k).is_none())
            .map(|k| format!("\"{k}\""))
            .collect();
        if !missing.is_empty() {
            self.at_value(
                path,
                format!(
                    "{what} is missing {}; it takes {shape}",
                    missing.join(" and ")
                ),
            );
        }
        Some(args)
    }
}

/// An argument mapping that passed [`Checker::mapping`]: its known keys.
pub(crate) struct Args<'v> {
    path: YamlPath,
    entries: Vec<(String, &'v Value)>,
}

impl<'v> Args<'v> {
    /// The value under `key` and its path.
    pub(crate) fn get(&self, key: &str) -> Option<(&'v Value, YamlPath)> {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(name, value)| (*value, self.path.key(name)))
    }
}

/// `"a", "b" and "c"`.
pub(crate) fn quoted_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// A short description of a value's type and, for scalars, the value: `string "x"`, `number 3`,
/// `a list`.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string \"{s}\""),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("tagged value {}", tagged.tag),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}
