//! YAML positions: walks saphyr-parser's events to map every node's path (`steps[3].save.tenant`)
//! to where its key and its value start, so validation can point at the exact token. The walk
//! holds at most [`MAX_NESTING_DEPTH`] open collections: deeper nesting is refused on the event
//! that opens one too many, so no later stage ever sees a deep document.
//!
//! Nodes are kept in one vector in document order, and each collection lists its children in
//! order: a node costs one fixed-size entry whatever its depth, and the walk only ever appends
//! near where it last wrote, so it is linear in the document. A mapping with many keys also gets
//! a hashed index (the standard library's keyed hasher: keys come from untrusted files), so
//! neither finding a duplicate key nor a lookup ever scans a long mapping.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
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

/// A node's index in [`Spans::nodes`].
type NodeId = u32;

/// No collection: the node is a scalar or an alias.
const NONE: u32 = u32::MAX;

/// A mapping with more keys than this gets a hashed index of them.
const INDEX_KEYS_FROM: usize = 16;

/// The children of one collection, in document order.
#[derive(Debug)]
enum Children {
    Sequence(Vec<NodeId>),
    Mapping {
        entries: Vec<(Rc<str>, NodeId)>,
        /// Key → its last value, once the mapping has more than [`INDEX_KEYS_FROM`] keys.
        index: Option<HashMap<Rc<str>, NodeId>>,
    },
}

impl Children {
    /// The value of `key` (the last one, for a duplicate key).
    fn value_of(&self, key: &str) -> Option<NodeId> {
        match self {
            Children::Sequence(_) => None,
            Children::Mapping {
                index: Some(index), ..
            } => index.get(key).copied(),
            Children::Mapping { entries, .. } => entries
                .iter()
                .rev()
                .find(|(k, _)| &**k == key)
                .map(|(_, id)| *id),
        }
    }

    fn add(&mut self, key: Option<Rc<str>>, id: NodeId) {
        match (self, key) {
            (Children::Sequence(items), _) => items.push(id),
            (Children::Mapping { entries, index }, Some(key)) => {
                if let Some(index) = index {
                    index.insert(Rc::clone(&key), id);
                } else if entries.len() >= INDEX_KEYS_FROM {
                    let mut built: HashMap<Rc<str>, NodeId> =
                        entries.iter().map(|(k, v)| (Rc::clone(k), *v)).collect();
                    built.insert(Rc::clone(&key), id);
                    *index = Some(built);
                }
                entries.push((key, id));
            }
            (Children::Mapping { .. }, None) => {}
        }
    }
}

/// Every node's position in one document.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// Every node, in document order; the root (when the document has one) first.
    nodes: Vec<NodeSpan>,
    /// For each node, the index of its children in `collections` (scalars: [`NONE`]).
    children_of: Vec<u32>,
    /// The children of every collection node.
    collections: Vec<Children>,
    /// The root node, once the document has one.
    root: Option<NodeId>,
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
        let (found, depth) = self.deepest(path)?;
        (depth == path.0.len()).then(|| &self.nodes[found as usize])
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
        self.deepest(path).map(|(id, _)| &self.nodes[id as usize])
    }

    /// The deepest node on `path` the document has, and how many segments of `path` lead to it.
    fn deepest(&self, path: &YamlPath) -> Option<(NodeId, usize)> {
        let mut at = self.root?;
        for (depth, segment) in path.0.iter().enumerate() {
            let children = self
                .children_of
                .get(at as usize)
                .and_then(|c| self.collections.get(*c as usize));
            let child = match (children, segment) {
                (Some(Children::Sequence(items)), Segment::Index(i)) => items.get(*i).copied(),
                (Some(children), Segment::Key(key)) => children.value_of(key),
                _ => None,
            };
            match child {
                Some(child) => at = child,
                None => return Some((at, depth)),
            }
        }
        Some((at, path.0.len()))
    }
}

enum Container {
    Mapping {
        /// The current key, once read; the next node is its value.
        key: Option<(Rc<str>, Pos)>,
    },
    /// Items need no state here: each is linked in order, so its index is its position.
    Sequence,
}

struct Frame {
    /// The collection's own node (for one used as a mapping key, a node no path leads to).
    node: NodeId,
    /// Its children's index in [`Spans::collections`].
    collection: u32,
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
    /// A value of the collection `(index, key)` (a sequence item: no key; no collection: the
    /// root), with its key's position.
    Value(Option<(u32, Option<Rc<str>>)>, Option<Pos>),
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
                let (node, is_key) = match self.slot() {
                    Slot::Key => (self.detached(start), true),
                    Slot::Value(link, key) => {
                        (self.record(link, key, start, start.line, None), false)
                    }
                };
                let container = if mapping {
                    Container::Mapping { key: None }
                } else {
                    Container::Sequence
                };
                let collection = self.open_collection(node, mapping);
                self.stack.push(Frame {
                    node,
                    collection,
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
                let node = &mut self.spans.nodes[frame.node as usize];
                node.last_line = last_line;
                node.flow_end = flow_end;
                self.extend_top(last_line);
                if frame.is_key {
                    self.set_key("?", start);
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
            Slot::Key => self.set_key(&text, start),
            Slot::Value(link, key) => {
                let flow_end = self.in_flow().then_some(end_index);
                self.record(link, key, start, end_line, flow_end);
                self.advance();
            }
        }
        self.extend_top(end_line);
    }

    fn slot(&self) -> Slot {
        match self.stack.last() {
            None => Slot::Value(None, None),
            Some(frame) => match &frame.container {
                Container::Mapping { key: None } => Slot::Key,
                Container::Mapping {
                    key: Some((key, pos)),
                } => Slot::Value(Some((frame.collection, Some(Rc::clone(key)))), Some(*pos)),
                Container::Sequence => Slot::Value(Some((frame.collection, None)), None),
            },
        }
    }

    fn set_key(&mut self, text: &str, pos: Pos) {
        if let Some(Frame {
            collection,
            container: Container::Mapping { key },
            ..
        }) = self.stack.last_mut()
        {
            // A key this mapping already holds was read before: every key gets a value.
            if self.spans.collections[*collection as usize]
                .value_of(text)
                .is_some()
            {
                self.spans.duplicate_keys.push((pos, text.to_owned()));
            }
            *key = Some((Rc::from(text), pos));
        }
    }

    /// A child node is complete: a mapping goes back to expecting a key.
    fn advance(&mut self) {
        if let Some(Frame {
            container: Container::Mapping { key },
            ..
        }) = self.stack.last_mut()
        {
            *key = None;
        }
    }

    fn extend_top(&mut self, line: usize) {
        if let Some(frame) = self.stack.last_mut() {
            frame.last_line = frame.last_line.max(line);
        }
    }

    /// Adds a node and links it under its parent (`None`: it is the root); returns its id. A
    /// duplicate key's value replaces the first one's link, as the YAML library keeps the last.
    fn record(
        &mut self,
        link: Option<(u32, Option<Rc<str>>)>,
        key: Option<Pos>,
        start: Pos,
        last_line: usize,
        flow_end: Option<usize>,
    ) -> NodeId {
        let id = self.push(NodeSpan {
            key,
            start,
            last_line,
            flow_end,
        });
        match link {
            Some((collection, key)) => self.spans.collections[collection as usize].add(key, id),
            None => self.spans.root = self.spans.root.or(Some(id)),
        }
        id
    }

    /// A node no path leads to: a collection used as a mapping key, kept so the walk stays in step.
    fn detached(&mut self, start: Pos) -> NodeId {
        self.push(NodeSpan {
            key: None,
            start,
            last_line: start.line,
            flow_end: None,
        })
    }

    fn push(&mut self, node: NodeSpan) -> NodeId {
        // The file-size limit keeps node counts far below u32::MAX.
        let id = NodeId::try_from(self.spans.nodes.len()).unwrap_or(NodeId::MAX);
        self.spans.nodes.push(node);
        self.spans.children_of.push(NONE);
        id
    }

    /// Gives node `id` an empty list of children; returns its index in `collections`.
    fn open_collection(&mut self, id: NodeId, mapping: bool) -> u32 {
        let collection = u32::try_from(self.spans.collections.len()).unwrap_or(NONE);
        self.spans.collections.push(if mapping {
            Children::Mapping {
                entries: Vec::new(),
                index: None,
            }
        } else {
            Children::Sequence(Vec::new())
        });
        self.spans.children_of[id as usize] = collection;
        collection
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
