//! Scenario validation: turns one file's text into a [`Scenario`], or into every located problem
//! it has — syntax, duplicate and unknown keys, ids, clauses, capabilities, `given`; the steps
//! themselves are read by the `steps` module.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::check::{Checker, describe};
use crate::flow::Capabilities;
use crate::limits::MAX_FILE_BYTES;
use crate::source::SourceFile;
use crate::spans::{Pos, Spans, YamlPath};
use crate::vocabulary::{
    CLAUSE_PREFIX, KNOWN_CAPABILITIES, SCENARIO_KEYS, contract_clauses, id_segment_problem, one_of,
    suggestion,
};
use crate::{Given, Location, RecordSpec, Scenario, SpecError};

/// One file's verdict, with the id it declares (valid or not) so ids can be compared across files,
/// and the seed it names with where, for the loader to resolve against the spec root's seeds.
pub(crate) struct Checked {
    pub(crate) declared_id: Option<(String, Location)>,
    pub(crate) result: Result<Scenario, Vec<SpecError>>,
    pub(crate) seed: Option<(String, Location)>,
}

/// A file's text read as YAML with the positions of its nodes, or the one problem that stops it:
/// too large, not YAML, a duplicate key. `what` names the file's kind in the size message.
pub(crate) fn parse_document(
    file: &SourceFile<'_>,
    what: &str,
) -> Result<(Spans, Value), Vec<SpecError>> {
    let failed = |pos: Pos, message: String| vec![SpecError::new(file.location(pos), message)];
    if file.text.len() > MAX_FILE_BYTES {
        let message = format!(
            "the file is {} bytes; a {what} file may hold at most {MAX_FILE_BYTES} bytes (1 MiB)",
            file.text.len()
        );
        return Err(failed(Pos::START, message));
    }
    let spans = Spans::parse(file.text).map_err(|error| failed(error.pos, error.message))?;
    if !spans.duplicate_keys.is_empty() {
        return Err(spans
            .duplicate_keys
            .iter()
            .map(|(pos, key)| {
                let message = format!("duplicate key \"{key}\"; a key may appear once per mapping");
                SpecError::new(file.location(*pos), message)
            })
            .collect());
    }
    match serde_yaml::from_str(file.text) {
        Ok(value) => Ok((spans, value)),
        Err(error) => {
            let pos = error.location().map_or(Pos::START, |l| Pos {
                line: l.line(),
                column: l.column(),
            });
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            Err(failed(pos, format!("invalid yaml: {message}")))
        }
    }
}

/// Parses and validates one scenario file, collecting every problem.
pub(crate) fn check_file(file: &SourceFile<'_>) -> Checked {
    let (spans, value) = match parse_document(file, "scenario") {
        Ok(parsed) => parsed,
        Err(errors) => {
            return Checked {
                declared_id: None,
                result: Err(errors),
                seed: None,
            };
        }
    };
    let mut checker = Checker::new(file, &spans);
    let (declared_id, scenario) = checker.scenario(&value);
    let mut errors = checker.errors;
    let declared_id = declared_id.map(|(id, pos)| (id, file.location(pos)));
    if let Some((id, _)) = &declared_id {
        for error in &mut errors {
            error.scenario = Some(id.clone());
        }
    }
    // The seed named, read even when the scenario has other problems, so an unknown name is
    // reported with them.
    let seed_path = YamlPath::root().key("given").key("seed");
    let seed = value
        .get("given")
        .and_then(|given| given.get("seed"))
        .and_then(Value::as_str)
        .filter(|name| id_segment_problem(name).is_none())
        .map(|name| (name.to_owned(), file.location(spans.value(&seed_path))));
    let result = match scenario {
        Some(scenario) if errors.is_empty() => Ok(scenario),
        _ => Err(errors),
    };
    Checked {
        declared_id,
        result,
        seed,
    }
}

impl Checker<'_, '_> {
    fn scenario(&mut self, value: &Value) -> (Option<(String, Pos)>, Option<Scenario>) {
        let root = YamlPath::root();
        let shape = "a scenario is a mapping with keys id, summary, clause, requires?, excludes?, given?, steps";
        let map = match value {
            Value::Mapping(map) => map,
            Value::Null => {
                self.at(Pos::START, format!("the file is empty; {shape}"));
                return (None, None);
            }
            other => {
                self.at_value(&root, format!("found {}; {shape}", describe(other)));
                return (None, None);
            }
        };
        let required = ["id", "summary", "clause", "steps"];
        self.top_level_keys(map, SCENARIO_KEYS, &required, ("scenario", ""), shape);
        let expected = self.expected_id();
        let declared = map.get("id").and_then(|v| {
            let path = root.key("id");
            let id = self.string(v, &path, "id")?;
            Some((id, self.spans.value(&path)))
        });
        let parts = declared
            .as_ref()
            .and_then(|(id, pos)| self.id_parts(id, *pos, expected));
        let summary = map
            .get("summary")
            .and_then(|v| self.line_text(v, &root.key("summary"), "summary"));
        let clause = map
            .get("clause")
            .and_then(|v| self.clause(v, &root.key("clause")));
        let mut capability_list = |key: &str| match map.get(key) {
            None => Some(Vec::new()),
            Some(v) => self.capabilities(v, &root.key(key), key),
        };
        let requires = capability_list("requires");
        let excludes = capability_list("excludes");
        let given = match map.get("given") {
            None => Some(Given::default()),
            Some(v) => self.given(v, &root.key("given")),
        };
        // Checks that depend on the capabilities are skipped when a list is invalid (reported).
        let capabilities = match (&requires, &excludes) {
            (Some(requires), Some(excludes)) => {
                self.required_and_excluded(requires, map.get("excludes"), &root.key("excludes"));
                Some(Capabilities {
                    requires: requires.clone(),
                    excludes: excludes.clone(),
                })
            }
            _ => None,
        };
        let steps = map
            .get("steps")
            .and_then(|v| self.steps(v, &root.key("steps"), capabilities.as_ref()));
        let location = declared.as_ref().map(|(_, pos)| self.file.location(*pos));
        let scenario = match (
            parts, summary, clause, requires, excludes, given, steps, location,
        ) {
            (
                Some((area, name)),
                Some(summary),
                Some(clause),
                Some(requires),
                Some(excludes),
                Some(given),
                Some(steps),
                Some(location),
            ) => Some(Scenario {
                id: format!("{area}/{name}"),
                area,
                name,
                summary,
                clause,
                requires,
                excludes,
                given,
                steps,
                location,
            }),
            _ => None,
        };
        (declared, scenario)
    }

    /// The id the file's path asks for, or `None` (reported) when the path is not
    /// `scenarios/<area>/<name>.yaml`.
    fn expected_id(&mut self) -> Option<String> {
        let expected = self.file.expected_id().filter(|id| {
            let segments: Vec<&str> = id.split('/').collect();
            segments.len() == 2 && segments.iter().all(|s| id_segment_problem(s).is_none())
        });
        if expected.is_none() {
            let path = self.file.relative.clone();
            self.at(
                Pos::START,
                format!("scenario files must be at scenarios/<area>/<name>.yaml with lowercase snake_case names, found \"{path}\""),
            );
        }
        expected.map(str::to_owned)
    }

    fn id_parts(
        &mut self,
        id: &str,
        pos: Pos,
        expected: Option<String>,
    ) -> Option<(String, String)> {
        let Some((area, name)) = id.split_once('/') else {
            self.at(
                pos,
                format!("id \"{id}\" must be written <area>/<name>, like \"outbox/commit_order\""),
            );
            return None;
        };
        for (segment, what) in [(area, "area"), (name, "name")] {
            let problem = if segment.contains('/') {
                Some("contains '/'; an id has exactly two parts".to_owned())
            } else {
                id_segment_problem(segment)
            };
            if let Some(problem) = problem {
                self.at(pos, format!("id \"{id}\": {what} \"{segment}\" {problem}"));
                return None;
            }
        }
        let expected = expected?;
        if id != expected {
            let file = &self.file.relative;
            self.at(
                pos,
                format!("id \"{id}\" does not match the file's path; {file} must declare id \"{expected}\""),
            );
            return None;
        }
        Some((area.to_owned(), name.to_owned()))
    }

    fn clause(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        let clause = self.string(value, path, "clause")?;
        let Some(anchor) = clause.strip_prefix(CLAUSE_PREFIX) else {
            self.at_value(
                path,
                format!("clause \"{clause}\" must be written {CLAUSE_PREFIX}ANCHOR, naming an anchor of docs/store-contract.md"),
            );
            return None;
        };
        let anchors = contract_clauses();
        if anchors.iter().any(|a| a == anchor) {
            return Some(anchor.to_owned());
        }
        let known: Vec<&str> = anchors.iter().map(String::as_str).collect();
        let hint = suggestion(anchor, &known);
        self.at_value(
            path,
            format!("clause \"{clause}\" names no anchor of docs/store-contract.md{hint}; known anchors: {}", one_of(&known)),
        );
        None
    }

    /// `requires` or `excludes` (`key`): a list of distinct known capabilities, sorted.
    fn capabilities(&mut self, value: &Value, path: &YamlPath, key: &str) -> Option<Vec<String>> {
        let Value::Sequence(items) = value else {
            self.at_value(
                path,
                format!(
                    "\"{key}\" must be a list of capabilities, found {}; known capabilities: {}",
                    describe(value),
                    one_of(KNOWN_CAPABILITIES)
                ),
            );
            return None;
        };
        let mut seen = BTreeSet::new();
        let mut valid = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            match self.word(item, &item_path, "capability", KNOWN_CAPABILITIES) {
                Some(capability) if !seen.insert(capability.clone()) => {
                    self.at_value(
                        &item_path,
                        format!("capability \"{capability}\" is listed twice"),
                    );
                    valid = false;
                }
                Some(_) => {}
                None => valid = false,
            }
        }
        valid.then(|| seen.into_iter().collect())
    }

    /// A scenario runs either on stores that have a capability or on stores that lack it.
    fn required_and_excluded(
        &mut self,
        requires: &[String],
        excludes: Option<&Value>,
        path: &YamlPath,
    ) {
        let Some(Value::Sequence(items)) = excludes else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(capability) = item.as_str().filter(|c| requires.iter().any(|r| r == c)) else {
                continue;
            };
            self.at_value(
                &path.index(i),
                format!("capability \"{capability}\" is both required and excluded; a scenario runs on stores that have it or on stores that lack it, not both"),
            );
        }
    }

    fn given(&mut self, value: &Value, path: &YamlPath) -> Option<Given> {
        let args = self.mapping(
            value,
            path,
            "\"given\"",
            &["migrated?", "seed?", "records?"],
        )?;
        let migrated = match args.get("migrated") {
            None => Some(None),
            Some((v, p)) => self.boolean(v, &p, "\"migrated\"").map(Some),
        };
        let seed = match args.get("seed") {
            None => Some(None),
            Some((v, p)) => self.seed_name(v, &p).map(Some),
        };
        let records = match args.get("records") {
            None => Some(Vec::new()),
            Some((v, p)) => self.records(v, &p),
        };
        let (migrated, seed, records) = (migrated?, seed?, records?);
        let writes = seed.is_some() || !records.is_empty();
        if migrated == Some(false) && writes {
            let (_, p) = args.get("migrated")?;
            self.at_value(&p, "\"migrated: false\" contradicts \"seed\" and \"records\", which are written after migrating");
            return None;
        }
        Some(Given {
            migrated: migrated.unwrap_or(writes),
            seed,
            seed_records: Vec::new(),
            records,
        })
    }

    /// A list of records `{tenant, kind, id, user?, data?}`.
    pub(crate) fn records(&mut self, value: &Value, path: &YamlPath) -> Option<Vec<RecordSpec>> {
        let Value::Sequence(items) = value else {
            self.at_value(
                path,
                format!(
                    "\"records\" must be a list of {{tenant, kind, id, user?, data?}}, found {}",
                    describe(value)
                ),
            );
            return None;
        };
        let read: Vec<Option<RecordSpec>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.record_spec(item, &path.index(i)))
            .collect();
        read.into_iter().collect()
    }

    /// A seed's name: the stem of a file `seeds/NAME.yaml` (lowercase letters, digits, `_`).
    pub(crate) fn seed_name(&mut self, value: &Value, path: &YamlPath) -> Option<String> {
        let name = self.string(value, path, "seed")?;
        if let Some(problem) = id_segment_problem(&name) {
            self.at_value(path, format!("seed name \"{name}\" {problem}"));
            return None;
        }
        Some(name)
    }

    pub(crate) fn record_spec(&mut self, value: &Value, path: &YamlPath) -> Option<RecordSpec> {
        let keys = ["tenant", "kind", "id", "user?", "data?"];
        let args = self.mapping(value, path, "a given record", &keys)?;
        let field = |c: &mut Self, key: &str, what: &str| {
            let (v, p) = args.get(key)?;
            c.identifier(v, &p, what)
        };
        let tenant = field(self, "tenant", "tenant");
        let kind = args.get("kind").and_then(|(v, p)| self.kind(v, &p));
        let id = field(self, "id", "id");
        let user = match args.get("user") {
            None => Some(None),
            Some((v, p)) => self.identifier(v, &p, "user").map(Some),
        };
        let data = match args.get("data") {
            None => Some(serde_json::Value::Object(serde_json::Map::new())),
            Some((v, p)) => self.json(v, &p),
        };
        Some(RecordSpec {
            tenant: tenant?,
            kind: kind?,
            id: id?,
            user: user?,
            data: data?,
        })
    }
}
