//! Spec errors: every problem found while loading and validating, each located at `file:line:col`.

use std::collections::BTreeMap;
use std::fmt;

use crate::Location;
use crate::lines::LineIndex;

/// One problem in a spec file, located at the key or value that causes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}{}", scenario_suffix(scenario))]
pub struct SpecError {
    /// Where the problem is.
    pub location: Location,
    /// The scenario's id, when the file got far enough to declare one.
    pub scenario: Option<String>,
    /// Lowercase, no trailing period; quotes the offending input and says what is required.
    pub message: String,
}

fn scenario_suffix(scenario: &Option<String>) -> String {
    match scenario {
        Some(id) => format!(" (scenario {id})"),
        None => String::new(),
    }
}

impl SpecError {
    /// An error at `location`.
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self {
            location,
            scenario: None,
            message: message.into(),
        }
    }
}

/// Every problem found in a spec, ordered by file and position. Never empty when returned as an
/// error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    /// One `file:line:col: message (scenario ID)` line per error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

impl From<SpecError> for SpecErrors {
    fn from(error: SpecError) -> Self {
        Self(vec![error])
    }
}

impl SpecErrors {
    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, SpecError> {
        self.0.iter()
    }

    /// Orders the errors by file, line and column (stable, so errors at one place keep the order
    /// in which they were found).
    pub(crate) fn sort(&mut self) {
        self.0.sort_by(|a, b| a.location.cmp(&b.location));
    }

    /// A report for a terminal: for each error its `file:line:col: message` line, then the source
    /// line and a caret under the column, like a compiler.
    ///
    /// `sources` maps a [`Location::file`] to that file's text (see
    /// [`read_scenario_sources`](crate::read_scenario_sources)); an error whose file is missing
    /// from it is shown without an excerpt.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use user_engine_conformance_spec::parse_scenario;
    ///
    /// let source = "id: a/b\nsumary: typo\n";
    /// let errors = parse_scenario("a/b.yaml", "scenarios/a/b.yaml", source).unwrap_err();
    /// let sources = BTreeMap::from([("a/b.yaml".to_owned(), source.to_owned())]);
    /// let report = errors.render_pretty(&sources);
    /// assert!(report.contains("a/b.yaml:2:1: unknown key \"sumary\""));
    /// assert!(report.contains("2 | sumary: typo\n  | ^"));
    /// ```
    pub fn render_pretty(&self, sources: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        // One line index per file, built on its first error, not a walk per error.
        let mut indexes: BTreeMap<&str, LineIndex> = BTreeMap::new();
        for error in &self.0 {
            out.push_str(&error.to_string());
            out.push('\n');
            let line = sources.get(&error.location.file).and_then(|text| {
                let index = indexes
                    .entry(error.location.file.as_str())
                    .or_insert_with(|| LineIndex::new(text));
                let line = index.line(text, error.location.line)?;
                let line_start = index.byte_of(text, error.location.line, 1)?;
                let at = index.byte_of(text, error.location.line, error.location.column)?;
                Some(excerpt(line, at - line_start))
            });
            if let Some((line, before)) = line {
                let number = error.location.line.to_string();
                let gutter = " ".repeat(number.len());
                // Keep tabs as tabs so the caret lines up under them.
                let pad: String = before
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!(
                    "{gutter} |\n{number} | {line}\n{gutter} | {pad}^\n"
                ));
            }
        }
        out
    }
}

/// At most this many characters of a source line either side of an error's column.
const EXCERPT_CHARS: usize = 100;

/// The part of `line` shown under an error at byte `at`: the whole line when it is short, else
/// a window around the column marked with `…`. Returns the excerpt and the part before the caret.
fn excerpt(line: &str, at: usize) -> (String, String) {
    let at = (0..=at.min(line.len()))
        .rev()
        .find(|i| line.is_char_boundary(*i))
        .unwrap_or(0);
    let (head, tail) = line.split_at(at);
    let head_chars = head.chars().rev().take(EXCERPT_CHARS + 1).count();
    let before: String = if head_chars > EXCERPT_CHARS {
        let kept: Vec<char> = head.chars().rev().take(EXCERPT_CHARS).collect();
        std::iter::once('…').chain(kept.into_iter().rev()).collect()
    } else {
        head.to_owned()
    };
    let mut after: String = tail.chars().take(EXCERPT_CHARS).collect();
    if after.len() < tail.len() {
        after.push('…');
    }
    (format!("{before}{after}"), before)
}

impl IntoIterator for SpecErrors {
    type Item = SpecError;
    type IntoIter = std::vec::IntoIter<SpecError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a SpecErrors {
    type Item = &'a SpecError;
    type IntoIter = std::slice::Iter<'a, SpecError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, line: usize, column: usize, message: &str) -> SpecError {
        SpecError::new(
            Location {
                file: file.to_owned(),
                line,
                column,
            },
            message,
        )
    }

    #[test]
    fn display_lists_every_error_on_its_own_line() {
        let mut second = at("s/b.yaml", 3, 7, "unknown step \"sav\"");
        second.scenario = Some("a/b".to_owned());
        let errors = SpecErrors(vec![at("s/a.yaml", 1, 1, "bad"), second]);
        assert_eq!(
            errors.to_string(),
            "s/a.yaml:1:1: bad\ns/b.yaml:3:7: unknown step \"sav\" (scenario a/b)"
        );
    }

    #[test]
    fn pretty_report_puts_a_caret_under_the_column() {
        let errors = SpecErrors(vec![
            at("f.yaml", 2, 5, "here"),
            at("gone.yaml", 1, 1, "no source"),
        ]);
        let sources = BTreeMap::from([("f.yaml".to_owned(), "a: 1\n  - x: y\n".to_owned())]);
        assert_eq!(
            errors.render_pretty(&sources),
            "f.yaml:2:5: here\n  |\n2 |   - x: y\n  |     ^\ngone.yaml:1:1: no source\n"
        );
    }
}
