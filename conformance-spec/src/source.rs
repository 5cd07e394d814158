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
        let (Some(line), Some(byte)) = (
            spans.lines.line(self.text, start.line),
            spans.lines.byte_of(self.text, start.line, start.column),
        ) else {
            return start;
        };
        let line_start = spans
            .lines
            .byte_of(self.text, start.line, 1)
            .unwrap_or(byte);
        // Only spaces may stand between the dash and the node; look back over them alone, so a
        // long line costs nothing here.
        let before = line.get(..byte - line_start).unwrap_or("");
        let trimmed = before.trim_end_matches(' ');
        if !trimmed.ends_with('-') {
            return start;
        }
        let spaces = before.len() - trimmed.len();
        Pos {
            line: start.line,
            column: start.column - spaces - 1,
        }
    }

    /// The item at `path` as written: its lines from `item_start` to its last content line,
    /// dedented so the first line starts at the `-`, with trailing blank and comment-only lines
    /// dropped. An item of a flow list (`[a, b]`) ends where it ends, not at the end of its line.
    pub(crate) fn item_text(&self, spans: &Spans, path: &YamlPath) -> String {
        let start = self.item_start(spans, path);
        let node = spans.node(path);
        let last = node.map_or(start.line, |node| node.last_line.max(start.line));
        let from = spans
            .lines
            .byte_of(self.text, start.line, start.column)
            .unwrap_or(self.text.len());
        let to = node
            .and_then(|node| node.flow_end)
            .map_or(usize::MAX, |end| spans.lines.byte_of_char(self.text, end));
        let indent = start.column - 1;
        let mut lines: Vec<&str> = Vec::new();
        for n in start.line..=last {
            let Some(line) = spans.lines.line(self.text, n) else {
                break;
            };
            let line_start = spans.lines.byte_of(self.text, n, 1).unwrap_or(0);
            let cut_from = if n == start.line { from } else { line_start };
            let cut_to = (line_start + line.len()).min(to.max(cut_from));
            let mut text = self.text.get(cut_from..cut_to).unwrap_or("");
            if n != start.line {
                let spaces = text.bytes().take(indent).take_while(|b| *b == b' ').count();
                text = &text[spaces..];
            }
            lines.push(text);
        }
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
