//! One scenario file's text and names, and the excerpts cut from it: positions to [`Location`]s,
//! a step's `-` item, a step's own lines.

use crate::Location;
use crate::spans::{Pos, Spans, YamlPath};

/// A scenario file as read: how to show it, where it sits under the spec root, and its text.
#[derive(Clone, Debug)]
pub(crate) struct SourceFile<'t> {
    /// How messages name the file.
    pub(crate) display: String,
    /// `scenarios/<area>/<name>.yaml`, always with `/`.
    pub(crate) relative: String,
    pub(crate) text: &'t str,
}

impl SourceFile<'_> {
    pub(crate) fn location(&self, pos: Pos) -> Location {
        Location {
            file: self.display.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn line(&self, line: usize) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)?)
    }

    /// The id this file must declare (`area/name`), from its path.
    pub(crate) fn expected_id(&self) -> Option<&str> {
        self.relative
            .strip_prefix("scenarios/")?
            .strip_suffix(".yaml")
    }

    /// Where the sequence item at `path` starts: its `-` when that is on the same line just before
    /// the node (the usual block style), else the node itself.
    pub(crate) fn item_start(&self, spans: &Spans, path: &YamlPath) -> Pos {
        let start = spans.value(path);
        let Some(line) = self.line(start.line) else {
            return start;
        };
        let before: Vec<char> = line.chars().take(start.column - 1).collect();
        let trimmed = before
            .iter()
            .rposition(|c| *c != ' ')
            .filter(|&i| before[i] == '-');
        match trimmed {
            Some(dash) => Pos {
                line: start.line,
                column: dash + 1,
            },
            None => start,
        }
    }

    /// The item at `path` as written: its lines from `item_start` to its last content line,
    /// dedented so the first line starts at the `-`, with trailing blank and comment-only lines
    /// dropped.
    pub(crate) fn item_text(&self, spans: &Spans, path: &YamlPath) -> String {
        let start = self.item_start(spans, path);
        let last = spans
            .node(path)
            .map_or(start.line, |node| node.last_line.max(start.line));
        let indent = start.column - 1;
        let mut lines: Vec<String> = (start.line..=last)
            .filter_map(|n| self.line(n))
            .enumerate()
            .map(|(i, line)| {
                if i == 0 {
                    line.chars().skip(indent).collect()
                } else {
                    let spaces = line.chars().take(indent).take_while(|c| *c == ' ').count();
                    line.chars().skip(spaces).collect()
                }
            })
            .collect();
        while lines.len() > 1 && lines.last().is_some_and(|l| is_blank_or_comment(l)) {
            lines.pop();
        }
        lines
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
steps:
  - migrate: {}
    expect: {applied: [1]}

  # the write
  - save:
      tenant: acme   # trailing comment
      data: |
        line one
        line two

  - get: {tenant: acme,
      kind: profile}
";

    fn file() -> SourceFile<'static> {
        SourceFile {
            display: "spec/scenarios/a/b.yaml".to_owned(),
            relative: "scenarios/a/b.yaml".to_owned(),
            text: TEXT,
        }
    }

    #[test]
    fn items_start_at_their_dash() {
        let spans = Spans::parse(TEXT).unwrap();
        let step = YamlPath::root().key("steps").index(1);
        assert_eq!(file().item_start(&spans, &step), Pos { line: 6, column: 3 });
        assert_eq!(file().expected_id(), Some("a/b"));
    }

    #[test]
    fn item_text_is_the_steps_own_lines_dedented() {
        let spans = Spans::parse(TEXT).unwrap();
        let steps = YamlPath::root().key("steps");
        assert_eq!(
            file().item_text(&spans, &steps.index(0)),
            "- migrate: {}\n  expect: {applied: [1]}"
        );
        assert_eq!(
            file().item_text(&spans, &steps.index(1)),
            "- save:\n    tenant: acme   # trailing comment\n    data: |\n      line one\n      line two"
        );
        assert_eq!(
            file().item_text(&spans, &steps.index(2)),
            "- get: {tenant: acme,\n    kind: profile}"
        );
    }
}
