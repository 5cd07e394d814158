//! Canonical diagnostics snapshots: compared in-process, and through insta in generated tests.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use user_engine_conformance_spec::Scenario;

use super::actual::Mismatch;

/// Where a run finds the canonical snapshots, and how it reports a difference.
pub enum SnapshotCheck<'a> {
    /// Compare with snapshots already loaded (the spec's `snapshots`); a difference is a failure.
    Loaded(&'a BTreeMap<String, String>),
    /// Compare with `<root>/snapshots/<name>.snap` on disk; on a difference also run insta's
    /// assertion, which prints its diff and (outside CI) writes a `.snap.new` for `cargo insta review`.
    Insta {
        /// The spec root holding `snapshots/`.
        root: PathBuf,
        /// Where insta writes a differing snapshot for review: the spec's `snapshots/` in a
        /// working copy, a folder of the crate under test when the spec is a packaged dependency.
        review: PathBuf,
    },
}

/// The snapshot body of an insta `.snap` file (the text after its `---` header).
pub fn snapshot_body(file_text: &str) -> &str {
    let mut rest = file_text;
    if let Some(after_open) = rest.strip_prefix("---\n") {
        if let Some(end) = after_open.find("\n---\n") {
            rest = &after_open[end + 5..];
        }
    }
    rest
}

fn same(expected_file: &str, rendered: &str) -> bool {
    snapshot_body(expected_file).trim_end() == rendered.trim_end()
}

impl SnapshotCheck<'_> {
    pub(crate) fn compare(
        &self,
        name: &str,
        scenario: &Scenario,
        rendered: &str,
    ) -> Result<(), Mismatch> {
        let canonical: Option<String> = match self {
            SnapshotCheck::Loaded(map) => map.get(name).cloned(),
            SnapshotCheck::Insta { root, .. } => {
                std::fs::read_to_string(root.join("snapshots").join(format!("{name}.snap"))).ok()
            }
        };
        if canonical.as_deref().is_some_and(|c| same(c, rendered)) {
            return Ok(());
        }
        let mut written_to = None;
        if let SnapshotCheck::Insta { root, review } = self {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path(review);
            if *review != root.join("snapshots") {
                written_to = Some(review.clone());
            }
            settings.set_prepend_module_to_snapshot(false);
            settings.set_omit_expression(true);
            settings.set_description(format!(
                "diagnostics of conformance scenario {}: {}",
                scenario.id, scenario.summary
            ));
            // insta prints the diff itself; the located failure below says which step it was.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                settings.bind(|| insta::assert_snapshot!(name, rendered))
            }));
        }
        Err(Mismatch {
            expected: match canonical {
                Some(text) => format!(
                    "the canonical snapshot `{name}`:\n{}",
                    snapshot_body(&text).trim_end()
                ),
                None => format!(
                    "a canonical snapshot `{name}.snap` (none exists yet; review it with `cargo insta review`)"
                ),
            },
            actual: match written_to {
                Some(dir) => format!(
                    "{}\n(the spec is a packaged dependency, so a differing snapshot for review goes to {}, not into it)",
                    rendered.trim_end(),
                    dir.display()
                ),
                None => rendered.trim_end().to_owned(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_skips_the_insta_header() {
        let file = "---\nsource: x.rs\nexpression: y\n---\nschema_version: 1\nrecords: 0\n";
        assert_eq!(snapshot_body(file), "schema_version: 1\nrecords: 0\n");
        assert!(same(file, "schema_version: 1\nrecords: 0"));
        assert!(!same(file, "schema_version: 1\nrecords: 1"));
    }
}
