//! Where a command's spec comes from — the embedded one, or a spec root on disk — and the
//! `--filter` that picks scenarios from it. Spec problems come back as the spec crate's pretty
//! report (file:line:col, the source line, a caret).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, bail};
use user_engine::conformance::spec::{self, Scenario, Spec, SpecErrors};
use user_engine_conformance_spec_embedded::embedded;

use crate::output::Rendered;

/// A loaded spec, borrowed when embedded.
pub type LoadedSpec = Cow<'static, Spec>;

/// Loads the spec at `dir`, or the embedded one. Problems are an error carrying the pretty report.
pub fn load(dir: Option<&Path>) -> Result<LoadedSpec> {
    match try_load(dir)? {
        Ok(spec) => Ok(spec),
        Err(report) => Err(Rendered(report.text).into()),
    }
}

/// A spec's problems, rendered.
pub struct ProblemReport {
    /// The pretty report: per problem, `file:line:col: message`, the source line and a caret.
    pub text: String,
    /// How many problems.
    pub problems: usize,
    /// In how many files.
    pub files: usize,
}

/// Loads the spec at `dir` (or the embedded one). `Err` is for a spec root that cannot be used at
/// all (missing, not a directory); `Ok(Err(_))` for a spec with problems.
pub fn try_load(dir: Option<&Path>) -> Result<std::result::Result<LoadedSpec, ProblemReport>> {
    let Some(dir) = dir else {
        return Ok(match embedded() {
            Ok(spec) => Ok(Cow::Borrowed(spec)),
            // The embedded files are named `conformance-spec/...`; their text is on disk in a
            // source checkout, and without it the report still names file:line:col.
            Err(errors) => Err(render(
                errors,
                &spec::read_scenario_sources(Path::new(spec::SPEC_ROOT)),
            )),
        });
    };
    if !dir.exists() {
        bail!("spec root {:?} does not exist", dir.display().to_string());
    }
    if !dir.is_dir() {
        bail!(
            "spec root {:?} is not a directory; pass the folder that holds scenarios/",
            dir.display().to_string()
        );
    }
    if !dir.join("scenarios").is_dir() {
        bail!(
            "spec root {:?} has no scenarios/ folder; pass the folder that holds scenarios/<area>/<name>.yaml",
            dir.display().to_string()
        );
    }
    // Files are named from DIR as the user wrote it, so every `file:line:col` opens from here.
    let shown_as = dir.display().to_string();
    let shown_as = match shown_as.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    Ok(match spec::load_dir_as(dir, shown_as) {
        // A CI job pointed at the wrong folder must not pass by running nothing.
        Ok(spec) if spec.scenarios.is_empty() => bail!(
            "spec root {:?} holds no scenarios; scenarios are files scenarios/<area>/<name>.yaml",
            dir.display().to_string()
        ),
        Ok(spec) => Ok(Cow::Owned(spec)),
        Err(errors) => Err(render(&errors, &sources_named_as(dir, shown_as))),
    })
}

/// [`spec::read_scenario_sources`] names files from the root's folder name (as `load_dir` does);
/// re-key them the way [`spec::load_dir_as`] named them.
fn sources_named_as(dir: &Path, shown_as: &str) -> BTreeMap<String, String> {
    let folder = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    spec::read_scenario_sources(dir)
        .into_iter()
        .filter_map(|(name, text)| {
            let relative = name.strip_prefix(&folder)?.strip_prefix('/')?;
            Some((format!("{shown_as}/{relative}"), text))
        })
        .collect()
}

fn render(errors: &SpecErrors, sources: &BTreeMap<String, String>) -> ProblemReport {
    let files: BTreeSet<&str> = errors.iter().map(|e| e.location.file.as_str()).collect();
    ProblemReport {
        text: errors.render_pretty(sources),
        problems: errors.len(),
        files: files.len(),
    }
}

/// `--filter PATTERN`: a substring of the id, or with `*` a pattern the whole id must match.
#[derive(Clone, Debug)]
pub struct Filter(String);

impl Filter {
    /// Wraps a pattern.
    pub fn new(pattern: &str) -> Self {
        Filter(pattern.to_owned())
    }

    /// Whether `id` is selected.
    pub fn matches(&self, id: &str) -> bool {
        if self.0.contains('*') {
            glob(&self.0, id)
        } else {
            id.contains(&self.0)
        }
    }

    /// The scenarios of `spec` this filter (if any) selects; an error when none is.
    pub fn select<'s>(filter: Option<&Self>, spec: &'s Spec) -> Result<Vec<&'s Scenario>> {
        let chosen: Vec<&Scenario> = spec
            .scenarios
            .iter()
            .filter(|s| filter.is_none_or(|f| f.matches(&s.id)))
            .collect();
        match filter {
            Some(f) if chosen.is_empty() => bail!(
                "no scenario matches filter {:?}; a filter is a substring of a scenario id, or a pattern with `*` such as \"outbox/*\" (see `user-engine spec list`)",
                f.0
            ),
            _ => Ok(chosen),
        }
    }
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) {
        return false;
    }
    let mut rest = &text[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_substring_or_pattern() {
        let outbox = Filter::new("outbox/*");
        assert!(outbox.matches("outbox/commit_order"));
        assert!(!outbox.matches("records/outbox"));
        assert!(Filter::new("commit").matches("outbox/commit_order"));
        assert!(Filter::new("*order").matches("outbox/commit_order"));
        assert!(!Filter::new("*order").matches("outbox/order_x"));
        assert!(Filter::new("o*b*x/*").matches("outbox/x"));
        assert!(!Filter::new("ab*ab").matches("ab"));
    }

    #[test]
    fn the_embedded_spec_loads() {
        let spec = load(None).unwrap();
        assert!(!spec.scenarios.is_empty());
        let err = Filter::select(Some(&Filter::new("no-such-thing")), &spec).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no scenario matches filter \"no-such-thing\"")
        );
    }
}
