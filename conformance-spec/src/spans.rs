//! YAML positions: walks saphyr-parser's events to map every node's path (`steps[3].save.tenant`)
//! to where its key and its value start, so validation can point at the exact token. The walk
//! holds at most [`MAX_NESTING_DEPTH`] open collections: deeper nesting is refused on the event
//! that opens one too many, so no later stage ever sees a deep document.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError};

use crate::limits::MAX_NESTING_DEPTH;
use crate::lines::LineIndex;

/// A 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };

    /// saphyr's markers have 1-based lines and 0-based columns.
    fn from_marker(marker: &Marker) -> Self {
        Pos {
            line: marker.line().max(1),
            column: marker.col() + 1,
        }
    }
}

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    /// Shared, so that the paths of a mapping's many children do not each copy a long key.
    Key(Rc<str>),
    Index(usize),
}

/// The path of a node from the document root, e.g. `steps[3].save.tenant`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct YamlPath(Vec<Segment>);

impl YamlPath {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(Rc::from(key)));
        next
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    fn parent(&self) -> Option<Self> {
        let mut parent = self.clone();
        parent.0.pop().map(|_| parent)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Where one node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeSpan {
    /// Its key, when it is a mapping value.
    pub(crate) key: Option<Pos>,
    /// Its first character.
    pub(crate) start: Pos,
    /// The last line holding any of its content.
    pub(crate) last_line: usize,
    /// Inside a flow collection (`[a, {b: c}]`), the character offset just past its end: a flow
    /// item may share its line with its siblings.
    pub(crate) flow_end: Option<usize>,
}

/// Every node's position in one document.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// Only ever looked up, never iterated, so its order cannot show; hashing keeps a large
    /// document's walk from spending its time comparing paths.
    nodes: HashMap<YamlPath, NodeSpan, BuildHasherDefault<Fnv>>,
    /// The document's line index, to cut excerpts without walking the text.
    pub(crate) lines: LineIndex,
    /// Keys that appear twice in one mapping: the second occurrence and the key text.
    pub(crate) duplicate_keys: Vec<(Pos, String)>,
}

/// A YAML syntax error, or nesting deeper than [`MAX_NESTING_DEPTH`].
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    /// The whole message (`invalid yaml: ...`).
    pub(crate) message: String,
}

impl From<ScanError> for SyntaxError {
    fn from(error: ScanError) -> Self {
        SyntaxError {
            pos: Pos::from_marker(error.marker()),
            message: format!("invalid yaml: {}", error.info()),
        }
    }
}

/// FNV-1a: paths are short and not chosen to collide against a secret, so the default SipHash's
/// protection buys nothing here and costs most of a large file's walk.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Spans {
    /// Walks `source`; fails on the first syntax error.
    pub(crate) fn parse(source: &str) -> Result<Spans, SyntaxError> {
        let mut walk = Walk {
            text: source,
            spans: Spans {
                lines: LineIndex::new(source),
                ..Spans::default()
            },
            stack: Vec::new(),
        };
        let mut parser = Parser::new_from_str(source);
        while let Some(next) = parser.next_event() {
            let (event, span) = next?;
            walk.event(
                event,
                Pos::from_marker(&span.start),
                span.start.index(),
                span.end,
            )?;
        }
        Ok(walk.spans)
    }

    /// The node at `path`, if the document has one there.
    pub(crate) fn node(&self, path: &YamlPath) -> Option<&NodeSpan> {
        self.nodes.get(path)
    }

    /// Where the value at `path` starts, or its nearest ancestor's.
    pub(crate) fn value(&self, path: &YamlPath) -> Pos {
        self.nearest(path).map_or(Pos::START, |node| node.start)
    }

    /// Where the key of the value at `path` is (its value, for sequence items), or the nearest
    /// ancestor's position.
    pub(crate) fn key(&self, path: &YamlPath) -> Pos {
        self.nearest(path)
            .map_or(Pos::START, |node| node.key.unwrap_or(node.start))
    }

    fn nearest(&self, path: &YamlPath) -> Option<&NodeSpan> {
        let mut path = Some(path.clone());
        while let Some(p) = path {
            if let Some(node) = self.nodes.get(&p) {
                return Some(node);
            }
            path = p.parent();
        }
        None
    }
}

enum Container {
    Mapping {
        /// The current key, once read; the next node is its value.
        key: Option<(String, Pos)>,
        seen: BTreeSet<String>,
    },
    Sequence {
        next: usize,
    },
}

struct Frame {
    path: YamlPath,
    container: Container,
    /// Flow containers (`{..}`, `[..]`) end on their closing bracket's line; block ones on
    /// their last content line.
    flow: bool,
    /// A container used as a mapping key (`? [a, b]: c`); kept only so the walk stays in step.
    is_key: bool,
    last_line: usize,
}

struct Walk<'s> {
    text: &'s str,
    spans: Spans,
    stack: Vec<Frame>,
}

/// What the next node is to its parent.
enum Slot {
    Key,
    Value(YamlPath, Option<Pos>),
}

impl Walk<'_> {
    fn event(
        &mut self,
        event: Event<'_>,
        start: Pos,
        start_index: usize,
        end: Marker,
    ) -> Result<(), SyntaxError> {
        let end_line = end.line();
        match event {
            Event::Scalar(text, style, ..) => {
                // A block scalar (`|`, `>`) ends where the next token starts, a line too far.
                let end_line = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => end_line.saturating_sub(1),
                    _ => end_line,
                };
                self.leaf(text, start, end_line, end.index());
            }
            Event::Alias(_) => self.leaf(Cow::Borrowed("*alias"), start, end_line, end.index()),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.stack.len() >= MAX_NESTING_DEPTH {
                    return Err(SyntaxError {
                        pos: start,
                        message: format!(
                            "nesting deeper than {MAX_NESTING_DEPTH} levels; a scenario file may nest lists and mappings at most {MAX_NESTING_DEPTH} deep"
                        ),
                    });
                }
                let mapping = matches!(event, Event::MappingStart(..));
                let (path, is_key) = match self.slot() {
                    Slot::Key => (self.top_path().key("?"), true),
                    Slot::Value(path, key) => {
                        self.record(path.clone(), key, start, start.line, None);
                        (path, false)
                    }
                };
                let container = if mapping {
                    Container::Mapping {
                        key: None,
                        seen: BTreeSet::new(),
                    }
                } else {
                    Container::Sequence { next: 0 }
                };
                self.stack.push(Frame {
                    path,
                    container,
                    flow: self
                        .char_at(start_index)
                        .is_some_and(|c| c == '{' || c == '['),
                    is_key,
                    last_line: start.line,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let last_line = if frame.flow {
                    start.line.max(frame.last_line)
                } else {
                    frame.last_line
                };
                let flow_end = self.in_flow().then_some(end.index());
                if let Some(node) = self.spans.nodes.get_mut(&frame.path) {
                    node.last_line = last_line;
                    node.flow_end = flow_end;
                }
                self.extend_top(last_line);
                if frame.is_key {
                    self.set_key("?".to_owned(), start);
                } else {
                    self.advance();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the innermost open collection is a flow one.
    fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|frame| frame.flow)
    }

    fn leaf(&mut self, text: Cow<'_, str>, start: Pos, end_line: usize, end_index: usize) {
        let end_line = end_line.max(start.line);
        match self.slot() {
            Slot::Key => self.set_key(text.into_owned(), start),
            Slot::Value(path, key) => {
                let flow_end = self.in_flow().then_some(end_index);
                self.record(path, key, start, end_line, flow_end);
                self.advance();
            }
        }
        self.extend_top(end_line);
    }

    fn slot(&self) -> Slot {
        match self.stack.last() {
            None => Slot::Value(YamlPath::root(), None),
            Some(frame) => match &frame.container {
                Container::Mapping { key: None, .. } => Slot::Key,
                Container::Mapping {
                    key: Some((key, pos)),
                    ..
                } => Slot::Value(frame.path.key(key), Some(*pos)),
                Container::Sequence { next } => Slot::Value(frame.path.index(*next), None),
            },
        }
    }

    fn top_path(&self) -> YamlPath {
        self.stack
            .last()
            .map_or_else(YamlPath::root, |f| f.path.clone())
    }

    fn set_key(&mut self, text: String, pos: Pos) {
        if let Some(Frame {
            container: Container::Mapping { key, seen },
            ..
        }) = self.stack.last_mut()
        {
            if !seen.insert(text.clone()) {
                self.spans.duplicate_keys.push((pos, text.clone()));
            }
            *key = Some((text, pos));
        }
    }

    /// A child node is complete: a mapping goes back to expecting a key, a sequence counts it.
    fn advance(&mut self) {
        if let Some(frame) = self.stack.last_mut() {
            match &mut frame.container {
                Container::Mapping { key, .. } => *key = None,
                Container::Sequence { next } => *next += 1,
            }
        }
    }

    fn extend_top(&mut self, line: usize) {
        if let Some(frame) = self.stack.last_mut() {
            frame.last_line = frame.last_line.max(line);
        }
    }

    fn record(
        &mut self,
        path: YamlPath,
        key: Option<Pos>,
        start: Pos,
        last_line: usize,
        flow_end: Option<usize>,
    ) {
        self.spans.nodes.insert(
            path,
            NodeSpan {
                key,
                start,
                last_line,
                flow_end,
            },
        );
    }

    /// The character at parser offset `index` (the parser counts characters, not bytes).
    fn char_at(&self, index: usize) -> Option<char> {
        let byte = self.spans.lines.byte_of_char(self.text, index);
        self.text.get(byte..)?.chars().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    const DOC: &str = "\
id: a/b
steps:
  - migrate: {}
    expect: {applied: [1]}
  - save: {tenant: acme,
           kind: profile}
  -   get:
        tenant: acme
";

    #[test]
    fn keys_and_values_are_located_one_based() {
        let spans = Spans::parse(DOC).unwrap();
        let id = YamlPath::root().key("id");
        assert_eq!(spans.key(&id), pos(1, 1));
        assert_eq!(spans.value(&id), pos(1, 5));
        let step0 = YamlPath::root().key("steps").index(0);
        assert_eq!(spans.value(&step0), pos(3, 5));
        assert_eq!(
            spans.value(&step0.key("expect").key("applied").index(0)),
            pos(4, 24)
        );
        let kind = YamlPath::root()
            .key("steps")
            .index(1)
            .key("save")
            .key("kind");
        assert_eq!(spans.key(&kind), pos(6, 12));
        assert_eq!(spans.value(&kind), pos(6, 18));
        assert_eq!(
            spans.value(&YamlPath::root().key("steps").index(2)),
            pos(7, 7)
        );
    }

    #[test]
    fn last_lines_cover_block_and_flow_content() {
        let spans = Spans::parse(DOC).unwrap();
        let steps = YamlPath::root().key("steps");
        assert_eq!(spans.node(&steps.index(0)).unwrap().last_line, 4);
        assert_eq!(spans.node(&steps.index(1)).unwrap().last_line, 6);
        assert_eq!(spans.node(&steps.index(2)).unwrap().last_line, 8);
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor() {
        let spans = Spans::parse(DOC).unwrap();
        let missing = YamlPath::root().key("steps").index(1).key("save").key("id");
        assert_eq!(spans.value(&missing), pos(5, 11));
        assert_eq!(missing.to_string(), "steps[1].save.id");
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let spans = Spans::parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(spans.duplicate_keys, [(pos(3, 1), "a".to_owned())]);
        let error = Spans::parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.pos.line >= 1, "{error:?}");
        let error = Spans::parse("a: b: c\n").unwrap_err();
        assert_eq!(error.pos, pos(1, 5), "{error:?}");
    }
}
