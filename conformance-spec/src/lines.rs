//! A line index built once per file: where every line starts (in bytes and in characters) and a
//! sparse character → byte table, so turning a `line:col` or a parser's character offset into text
//! costs a lookup instead of a walk over the file (walking once per node was quadratic).

/// One checkpoint every this many characters: a lookup walks at most this many.
const STRIDE: usize = 32;

/// Line starts and character checkpoints of one text; holds no borrow of it.
#[derive(Debug, Default)]
pub(crate) struct LineIndex {
    /// Byte offset where each line starts; line `n` (1-based) is entry `n - 1`.
    line_bytes: Vec<usize>,
    /// Character offset where each line starts.
    line_chars: Vec<usize>,
    /// Byte offset of character `k * STRIDE`.
    checkpoints: Vec<usize>,
    /// The text's length in bytes.
    len: usize,
}

impl LineIndex {
    /// Indexes `text` in one pass. Lines end at `\n` (a `\r` before it belongs to no line), as
    /// [`str::lines`] reads them.
    pub(crate) fn new(text: &str) -> Self {
        let mut index = LineIndex {
            line_bytes: vec![0],
            line_chars: vec![0],
            checkpoints: Vec::with_capacity(text.len() / STRIDE + 1),
            len: text.len(),
        };
        for (chars, (byte, c)) in text.char_indices().enumerate() {
            if chars % STRIDE == 0 {
                index.checkpoints.push(byte);
            }
            if c == '\n' {
                index.line_bytes.push(byte + 1);
                index.line_chars.push(chars + 1);
            }
        }
        index
    }

    /// Line `line` (1-based) without its line break, if the text has it.
    pub(crate) fn line<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let start = *self.line_bytes.get(line.checked_sub(1)?)?;
        let end = self.line_bytes.get(line).map_or(self.len, |next| next - 1);
        if start > end || (start == self.len && (line > 1 || self.len == 0)) {
            return None;
        }
        let line = text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// The byte offset of character offset `chars` (clamped to the end of the text).
    pub(crate) fn byte_of_char(&self, text: &str, chars: usize) -> usize {
        let Some(&from) = self.checkpoints.get(chars / STRIDE) else {
            return self.len;
        };
        let rest = chars % STRIDE;
        text.get(from..)
            .and_then(|tail| tail.char_indices().nth(rest))
            .map_or(self.len, |(offset, _)| from + offset)
    }

    /// The byte offset of 1-based `line` and `column` (columns count characters), clamped to the
    /// end of that line.
    pub(crate) fn byte_of(&self, text: &str, line: usize, column: usize) -> Option<usize> {
        let first = *self.line_chars.get(line.checked_sub(1)?)?;
        let line_end = self.line_bytes.get(line).map_or(self.len, |next| next - 1);
        let byte = self.byte_of_char(text, first + column.saturating_sub(1));
        Some(byte.min(line_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\r\nbb\n\nccc\n", "é\nü x\n"] {
            let index = LineIndex::new(text);
            let expected: Vec<&str> = text.lines().collect();
            let found: Vec<&str> = (1..=expected.len() + 2)
                .map_while(|n| index.line(text, n))
                .collect();
            assert_eq!(found, expected, "{text:?}");
        }
    }

    #[test]
    fn positions_convert_to_bytes_across_checkpoints() {
        let text = format!("{}\n{}x", "é".repeat(70), "ü".repeat(40));
        let index = LineIndex::new(&text);
        assert_eq!(index.byte_of(&text, 1, 1), Some(0));
        assert_eq!(index.byte_of(&text, 1, 40), Some(78));
        assert_eq!(index.byte_of(&text, 2, 41), Some(141 + 80));
        assert_eq!(&text[index.byte_of(&text, 2, 41).unwrap()..], "x");
        // Past the end of a line: its end.
        assert_eq!(index.byte_of(&text, 1, 500), Some(140));
        assert_eq!(index.byte_of(&text, 3, 1), None);
        assert_eq!(index.byte_of_char(&text, 10_000), text.len());
    }
}
