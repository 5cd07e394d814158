//! Loading: finds a spec root's scenario and snapshot files (on disk, or texts already in memory
//! such as the copy `user-engine-conformance-spec-embedded` compiles in), checks every file, and
//! assembles a [`Spec`] or every error of every file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::limits::MAX_FILE_BYTES;

use crate::seeds::{check_seed_file, resolve};
use crate::source::SourceFile;
use crate::validate::check_file;
use crate::{Location, Scenario, SeedSet, Spec, SpecError, SpecErrors};

/// This crate's own spec root: the directory holding `scenarios/`, `seeds/` and `snapshots/`.
pub const SPEC_ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Parses and validates one scenario file.
///
/// `display_file` names the file in messages; `relative_path` is its path under the spec root,
/// `scenarios/<area>/<name>.yaml`, which fixes the id the file must declare. A scenario that
/// names a seed (`given: {seed: NAME}`) needs the seed file: read it with
/// [`parse_scenario_with_seeds`]; here it is an unknown seed.
///
/// ```
/// use user_engine_conformance_spec::{Operation, parse_scenario};
///
/// let yaml = "\
/// id: readiness/fresh_store
/// summary: a fresh store is not ready
/// clause: store-contract#tx-rollback
/// steps:
///   - readiness: {}
///     expect: {not_ready: not_migrated}
/// ";
/// let scenario = parse_scenario("fresh.yaml", "scenarios/readiness/fresh_store.yaml", yaml).unwrap();
/// assert_eq!(scenario.steps[0].operation, Operation::Readiness);
///
/// let errors = parse_scenario("fresh.yaml", "scenarios/readiness/fresh_store.yaml", "id: a: b").unwrap_err();
/// assert_eq!(errors.to_string(), "fresh.yaml:1:6: invalid yaml: mapping values are not allowed in this context");
/// ```
pub fn parse_scenario(
    display_file: &str,
    relative_path: &str,
    source: &str,
) -> Result<Scenario, SpecErrors> {
    parse_scenario_with_seeds(display_file, relative_path, source, &[])
}

/// [`parse_scenario`] for a scenario that may name a seed: `seeds` holds the seed files as
/// `(relative path, text)` pairs (`seeds/<name>.yaml`), checked too, and the scenario's seed
/// records come from the one it names.
pub fn parse_scenario_with_seeds(
    display_file: &str,
    relative_path: &str,
    source: &str,
    seeds: &[(&str, &str)],
) -> Result<Scenario, SpecErrors> {
    let file = SourceFile {
        display: display_file.to_owned(),
        relative: relative_path.replace('\\', "/"),
        text: source,
    };
    let seed_files: Vec<SourceFile<'_>> = seeds
        .iter()
        .map(|(relative, text)| SourceFile {
            display: (*relative).to_owned(),
            relative: relative.replace('\\', "/"),
            text,
        })
        .collect();
    let mut errors = Vec::new();
    let seeds = check_seeds(&seed_files, &mut errors);
    let scenario = resolve(check_file(&file), &seeds, &mut errors);
    if let Some(scenario) = scenario
        && errors.is_empty()
    {
        return Ok(scenario);
    }
    let mut errors = SpecErrors(errors);
    errors.sort();
    Err(errors)
}

/// Checks every seed file; the valid ones by name. A name declared twice is an error at each.
fn check_seeds(files: &[SourceFile<'_>], errors: &mut Vec<SpecError>) -> BTreeMap<String, SeedSet> {
    let mut seeds: BTreeMap<String, SeedSet> = BTreeMap::new();
    for file in files {
        match check_seed_file(file) {
            Ok(seed) => {
                if let Some(first) = seeds.get(&seed.name) {
                    errors.push(SpecError::new(
                        seed.location.clone(),
                        format!(
                            "duplicate seed \"{}\"; also declared at {}",
                            seed.name, first.location
                        ),
                    ));
                } else {
                    seeds.insert(seed.name.clone(), seed);
                }
            }
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    seeds
}

/// Loads and validates every scenario under `root/scenarios/`, the seeds in `root/seeds/` and the
/// snapshots in `root/snapshots/`, collecting the errors of all files. Files are named in messages relative to
/// `root`'s parent (`conformance-spec/scenarios/outbox/commit_order.yaml`).
pub fn load_dir(root: &Path) -> Result<Spec, SpecErrors> {
    load_dir_as(root, &shown_root(root))
}

/// [`load_dir`], naming files in messages as `<shown_as>/scenarios/...` (pass the absolute root
/// for clickable paths).
pub fn load_dir_as(root: &Path, shown_as: &str) -> Result<Spec, SpecErrors> {
    let mut errors = Vec::new();
    let scenarios_dir = root.join("scenarios");
    if !scenarios_dir.is_dir() {
        let shown = shown_path(shown_as, "scenarios");
        errors.push(SpecError::new(
            at_start(&shown),
            format!("no scenarios directory at \"{}\"; a spec root holds scenarios/<area>/<name>.yaml files", scenarios_dir.display()),
        ));
        return Err(SpecErrors(errors));
    }
    let mut texts = Vec::new();
    for (relative, path) in files_under(root, "scenarios", &mut errors) {
        let shown = shown_path(shown_as, &relative);
        if relative.ends_with(".yml") {
            errors.push(SpecError::new(
                at_start(&shown),
                "scenario files must end in \".yaml\", not \".yml\"",
            ));
            continue;
        }
        if !relative.ends_with(".yaml") {
            continue;
        }
        match read_spec_file(&path) {
            Ok(text) => texts.push((shown, relative, text)),
            Err(problem) => errors.push(SpecError::new(at_start(&shown), problem)),
        }
    }
    let mut seed_texts = Vec::new();
    if root.join("seeds").is_dir() {
        for (relative, path) in files_under(root, "seeds", &mut errors) {
            let shown = shown_path(shown_as, &relative);
            if relative.ends_with(".yml") {
                errors.push(SpecError::new(
                    at_start(&shown),
                    "seed files must end in \".yaml\", not \".yml\"",
                ));
                continue;
            }
            if !relative.ends_with(".yaml") {
                continue;
            }
            match read_spec_file(&path) {
                Ok(text) => seed_texts.push((shown, relative, text)),
                Err(problem) => errors.push(SpecError::new(at_start(&shown), problem)),
            }
        }
    }
    let mut snapshots = BTreeMap::new();
    if root.join("snapshots").is_dir() {
        for (relative, path) in files_under(root, "snapshots", &mut errors) {
            let Some(stem) = snapshot_stem(&relative) else {
                continue;
            };
            match read_spec_file(&path) {
                Ok(text) => {
                    snapshots.insert(stem.to_owned(), text);
                }
                Err(problem) => errors.push(SpecError::new(
                    at_start(&shown_path(shown_as, &relative)),
                    problem,
                )),
            }
        }
    }
    let files = texts.iter().map(owned_source).collect();
    let seed_files = seed_texts.iter().map(owned_source).collect();
    assemble(files, seed_files, snapshots, errors)
}

/// The text of every scenario and seed file under `root`, keyed the way [`load_dir`] names files
/// in messages: the `sources` argument of [`SpecErrors::render_pretty`].
pub fn read_scenario_sources(root: &Path) -> BTreeMap<String, String> {
    let shown_as = shown_root(root);
    let mut files = files_under(root, "scenarios", &mut Vec::new());
    if root.join("seeds").is_dir() {
        files.extend(files_under(root, "seeds", &mut Vec::new()));
    }
    files
        .into_iter()
        .filter_map(|(relative, path)| {
            let text = read_spec_file(&path).ok()?;
            Some((shown_path(&shown_as, &relative), text))
        })
        .collect()
}

/// Loads and validates a spec from texts already in memory: `scenarios` and `snapshots` are
/// `(relative path, text)` pairs, the paths as under a spec root (`scenarios/<area>/<name>.yaml`,
/// `snapshots/<name>.snap`), named in messages as `<shown_as>/<relative path>`. Seed files go in
/// `scenarios` too, as `seeds/<name>.yaml`. Paths not ending in `.yaml` among the scenarios and
/// not ending in `.snap` among the snapshots are ignored, as [`load_dir`] does.
///
/// This is how `user-engine-conformance-spec-embedded` turns its compiled-in copy of this crate's
/// files into a [`Spec`]; the data lives there so that editing a scenario rebuilds only that
/// small crate, not this one (nor the macro and the engine that depend on it).
///
/// ```
/// use user_engine_conformance_spec::load_texts;
///
/// let yaml = "\
/// id: readiness/fresh_store
/// summary: a fresh store is not ready
/// clause: store-contract#tx-rollback
/// steps:
///   - readiness: {}
///     expect: {not_ready: not_migrated}
/// ";
/// let spec = load_texts("spec", &[("scenarios/readiness/fresh_store.yaml", yaml)], &[]).unwrap();
/// assert_eq!(spec.scenarios[0].id, "readiness/fresh_store");
/// ```
pub fn load_texts(
    shown_as: &str,
    scenarios: &[(&str, &str)],
    snapshots: &[(&str, &str)],
) -> Result<Spec, SpecErrors> {
    let (seed_files, files): (Vec<SourceFile<'_>>, Vec<SourceFile<'_>>) = scenarios
        .iter()
        .filter(|(relative, _)| relative.ends_with(".yaml"))
        .map(|(relative, text)| SourceFile {
            display: shown_path(shown_as, relative),
            relative: relative.replace('\\', "/"),
            text,
        })
        .partition(|file| file.relative.starts_with("seeds/"));
    let snapshots = snapshots
        .iter()
        .filter_map(|(relative, text)| {
            Some((snapshot_stem(relative)?.to_owned(), (*text).to_owned()))
        })
        .collect();
    assemble(files, seed_files, snapshots, Vec::new())
}

fn owned_source((shown, relative, text): &(String, String, String)) -> SourceFile<'_> {
    SourceFile {
        display: shown.clone(),
        relative: relative.clone(),
        text,
    }
}

/// Checks every file, then compares ids across files.
fn assemble(
    files: Vec<SourceFile<'_>>,
    seed_files: Vec<SourceFile<'_>>,
    snapshots: BTreeMap<String, String>,
    mut errors: Vec<SpecError>,
) -> Result<Spec, SpecErrors> {
    let seeds = check_seeds(&seed_files, &mut errors);
    let mut scenarios = Vec::new();
    let mut declared: BTreeMap<String, Vec<Location>> = BTreeMap::new();
    for file in &files {
        let checked = check_file(file);
        if let Some((id, location)) = &checked.declared_id {
            declared
                .entry(id.clone())
                .or_default()
                .push(location.clone());
        }
        scenarios.extend(resolve(checked, &seeds, &mut errors));
    }
    for (id, locations) in declared.iter().filter(|(_, l)| l.len() > 1) {
        for (i, location) in locations.iter().enumerate() {
            let others: Vec<String> = locations
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| l.to_string())
                .collect();
            errors.push(SpecError {
                location: location.clone(),
                scenario: Some(id.clone()),
                message: format!(
                    "duplicate scenario id \"{id}\"; also declared at {}",
                    others.join(", ")
                ),
            });
        }
    }
    if !errors.is_empty() {
        let mut errors = SpecErrors(errors);
        errors.sort();
        return Err(errors);
    }
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Spec {
        scenarios,
        snapshots,
        seeds,
    })
}

/// Every file under `root/dir`, recursively, as (`dir/...` with `/`, path), sorted. Symlinks
/// are followed, but each directory is entered once (by its canonical path), so a symlink back up
/// the tree is reported instead of walked forever.
fn files_under(root: &Path, dir: &str, errors: &mut Vec<SpecError>) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut visited = BTreeSet::new();
    let start = root.join(dir);
    if let Ok(canonical) = fs::canonicalize(&start) {
        visited.insert(canonical);
    }
    let mut pending = vec![(dir.to_owned(), start)];
    while let Some((relative, path)) = pending.pop() {
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(error) => {
                errors.push(SpecError::new(
                    at_start(&path.display().to_string()),
                    format!("cannot read the directory: {error}"),
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child = format!("{relative}/{name}");
            let child_path = entry.path();
            // `metadata` follows symlinks: a link to a directory is walked like one.
            if fs::metadata(&child_path).is_ok_and(|m| m.is_dir()) {
                match fs::canonicalize(&child_path) {
                    Ok(canonical) if !visited.insert(canonical.clone()) => {
                        errors.push(SpecError::new(
                            at_start(&child_path.display().to_string()),
                            format!(
                                "the directory \"{}\" is reached twice (a symlink loop or a second link to it); each spec directory is read once",
                                canonical.display()
                            ),
                        ));
                    }
                    _ => pending.push((child, child_path)),
                }
            } else {
                found.push((child, child_path));
            }
        }
    }
    found.sort();
    found
}

/// Reads one spec file: only a regular file (or a symlink to one), at most [`MAX_FILE_BYTES`],
/// in UTF-8. A FIFO, a device or a socket is refused before it is opened, so none can block or
/// stream forever.
fn read_spec_file(path: &Path) -> Result<String, String> {
    let refuse =
        |what: &str| format!("not a regular file ({what}); spec files must be regular files");
    let metadata = fs::metadata(path).map_err(|error| format!("cannot read the file: {error}"))?;
    if !metadata.is_file() {
        return Err(refuse(file_kind(&metadata)));
    }
    let file = fs::File::open(path).map_err(|error| format!("cannot read the file: {error}"))?;
    // It may have been swapped since: check what was opened, too.
    let opened = file
        .metadata()
        .map_err(|error| format!("cannot read the file: {error}"))?;
    if !opened.is_file() {
        return Err(refuse(file_kind(&opened)));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read the file: {error}"))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is larger than {MAX_FILE_BYTES} bytes; a spec file may hold at most {MAX_FILE_BYTES} bytes (1 MiB)"
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })
}

fn file_kind(metadata: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// `snapshots/NAME.snap` → `NAME`; pending `.snap.new` files and anything else → `None`.
fn snapshot_stem(relative: &str) -> Option<&str> {
    let name = relative.strip_prefix("snapshots/")?;
    name.strip_suffix(".snap")
        .filter(|stem| !stem.contains('/'))
}

fn shown_root(root: &Path) -> String {
    root.file_name().map_or_else(
        || root.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

fn shown_path(shown_as: &str, relative: &str) -> String {
    if shown_as.is_empty() {
        relative.to_owned()
    } else {
        format!("{}/{relative}", shown_as.trim_end_matches('/'))
    }
}

fn at_start(file: &str) -> Location {
    Location {
        file: file.to_owned(),
        line: 1,
        column: 1,
    }
}
