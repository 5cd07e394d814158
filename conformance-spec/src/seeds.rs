//! Seeds: the data sets in a spec root's `seeds/<name>.yaml`, which a scenario starts from with
//! `given: {seed: <name>}`. Each file is checked like a scenario (size, YAML, duplicate keys, every
//! record), and the loader fills each scenario's [`Given::seed_records`](crate::Given) from it.
//!
//! ```yaml
//! seed: two_tenants
//! summary: two tenants holding the same record ids
//! records:
//!   - {tenant: acme, kind: user, id: u1, user: u1, data: {status: active}}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::check::{Checker, describe};
use crate::limits::MAX_STEPS;
use crate::source::SourceFile;
use crate::spans::YamlPath;
use crate::validate::{Checked, parse_document};
use crate::vocabulary::suggestion;
use crate::{Scenario, SeedSet, SpecError};

/// The keys of a seed file.
pub const SEED_KEYS: &[&str] = &["seed", "summary", "records"];

/// At most this many records in one seed, like [`MAX_STEPS`] for a scenario's steps.
pub const MAX_SEED_RECORDS: usize = MAX_STEPS;

/// Parses and validates one seed file, `seeds/<name>.yaml`.
pub(crate) fn check_seed_file(file: &SourceFile<'_>) -> Result<SeedSet, Vec<SpecError>> {
    let (spans, value) = parse_document(file, "seed")?;
    let mut checker = Checker::new(file, &spans);
    let seed = checker.seed_file(&value);
    match seed {
        Some(seed) if checker.errors.is_empty() => Ok(seed),
        _ => Err(checker.errors),
    }
}

impl Checker<'_, '_> {
    fn seed_file(&mut self, value: &Value) -> Option<SeedSet> {
        let root = YamlPath::root();
        let shape = "a seed is a mapping {seed: NAME, summary: TEXT, records: [{tenant, kind, id, user?, data?}, ...]}";
        let Value::Mapping(map) = value else {
            self.at_value(&root, format!("found {}; {shape}", describe(value)));
            return None;
        };
        self.top_level_keys(map, SEED_KEYS, SEED_KEYS, ("seed", " in a seed"), shape);
        let expected = self
            .file
            .relative
            .strip_prefix("seeds/")
            .and_then(|rest| rest.strip_suffix(".yaml"))
            .map(str::to_owned);
        let name = map.get("seed").and_then(|v| {
            let path = root.key("seed");
            let name = self.seed_name(v, &path)?;
            if let Some(expected) = &expected
                && *expected != name
            {
                self.at_value(
                    &path,
                    format!(
                        "seed \"{name}\" does not match the file's name; seeds/{expected}.yaml must declare seed \"{expected}\""
                    ),
                );
                return None;
            }
            Some(name)
        });
        let summary = map
            .get("summary")
            .and_then(|v| self.line_text(v, &root.key("summary"), "summary"));
        let records = map.get("records").and_then(|v| {
            let path = root.key("records");
            if let Value::Sequence(items) = v {
                if items.is_empty() {
                    self.at_value(&path, "\"records\" must not be empty; a seed holds at least one record");
                    return None;
                }
                if items.len() > MAX_SEED_RECORDS {
                    self.at_value(
                        &path.index(MAX_SEED_RECORDS),
                        format!(
                            "\"records\" holds {} records; a seed may hold at most {MAX_SEED_RECORDS}",
                            items.len()
                        ),
                    );
                    return None;
                }
            }
            let records = self.records(v, &path)?;
            let mut seen = BTreeSet::new();
            for (i, record) in records.iter().enumerate() {
                let key = format!("{}/{}/{}", record.tenant, record.kind, record.id);
                if !seen.insert(key.clone()) {
                    self.at_value(
                        &path.index(i),
                        format!("record {key} is listed twice; a seed writes each record once"),
                    );
                }
            }
            Some(records)
        });
        let location = self.file.location(self.spans.value(&root.key("seed")));
        Some(SeedSet {
            name: name?,
            summary: summary?,
            records: records?,
            location,
        })
    }
}

/// Checks a file's result against the seeds of its spec root: fills the scenario's seed records
/// from the seed it names, or adds an error at the name (also when the scenario has other
/// problems, so they are all reported at once).
pub(crate) fn resolve(
    checked: Checked,
    seeds: &BTreeMap<String, SeedSet>,
    errors: &mut Vec<SpecError>,
) -> Option<Scenario> {
    let id = checked.declared_id.map(|(id, _)| id);
    let mut scenario = match checked.result {
        Ok(scenario) => Some(scenario),
        Err(file_errors) => {
            errors.extend(file_errors);
            None
        }
    };
    let Some((name, at)) = checked.seed else {
        return scenario;
    };
    if let Some(seed) = seeds.get(&name) {
        if let Some(scenario) = &mut scenario {
            scenario.given.seed_records = seed.records.clone();
        }
        return scenario;
    }
    let known: Vec<&str> = seeds.keys().map(String::as_str).collect();
    let hint = suggestion(&name, &known);
    let held = if known.is_empty() {
        "the spec root's seeds/ folder holds none".to_owned()
    } else {
        format!("the spec root's seeds/ folder holds: {}", known.join(", "))
    };
    errors.push(SpecError {
        location: at,
        scenario: id,
        message: format!("unknown seed \"{name}\"{hint}; {held}"),
    });
    None
}

/// The seeds of `docs/spec-format.md`: one row per seed file with its summary and what it holds,
/// rendered from the files themselves; a test keeps the document in sync.
pub fn seed_reference(seeds: &BTreeMap<String, SeedSet>) -> String {
    let mut out = String::from("| seed | records | what it is for |\n|---|---|---|\n");
    for seed in seeds.values() {
        let tenants: BTreeSet<&str> = seed.records.iter().map(|r| r.tenant.as_str()).collect();
        let tenants: Vec<String> = tenants.iter().map(|t| format!("`{t}`")).collect();
        out.push_str(&format!(
            "| [`{}`](../conformance-spec/seeds/{}.yaml) | {} in {} | {} |\n",
            seed.name,
            seed.name,
            seed.records.len(),
            tenants.join(", "),
            seed.summary.replace('|', "\\|")
        ));
    }
    out
}
