//! Manifest text → documents whose every value remembers where it was written.
//!
//! A manifest file holds many YAML documents (or one JSON value). The text is
//! split at document markers (`---` / `...` at the start of a line, which YAML
//! forbids inside any scalar, so the split is exact) and each document is
//! parsed on its own: a broken document yields an error with its location and
//! the documents after it are still read. Each document is parsed by
//! serde-saphyr under a [`serde_saphyr::Budget`], so alias bombs, deep nesting
//! and huge documents are refused with an error instead of exhausting memory.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::path::{FieldPath, Segment};

/// Largest document accepted (bytes). The Kubernetes API server refuses
/// objects above ~1.5 MiB; 8 MiB leaves room for generated manifests.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Most YAML nodes (scalars, sequences, mappings) in one document, aliases
/// expanded: bounds the memory a document can take.
pub const MAX_NODES: usize = 200_000;

/// A place in a source text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Position {
    fn from_location(location: serde_saphyr::Location, line_offset: u32) -> Option<Self> {
        let line = u32::try_from(location.line()).ok()?;
        let column = u32::try_from(location.column()).ok()?;
        if line == 0 {
            return None;
        }
        Some(Self {
            line: line.saturating_add(line_offset),
            column,
        })
    }
}

/// A parsed YAML/JSON value with the position of every node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub position: Option<Position>,
    pub value: NodeValue,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Sequence(Vec<Node>),
    /// Keys in document order; YAML scalar keys are turned into strings.
    Mapping(Vec<(String, Node)>),
}

impl Node {
    /// The node at `path` below this one, or the deepest ancestor that
    /// exists (a missing field is best reported where it should have been).
    pub fn locate(&self, path: &FieldPath) -> Option<Position> {
        let mut node = self;
        let mut best = self.position;
        for segment in path.segments() {
            let next = match (segment, &node.value) {
                (Segment::Key(key), NodeValue::Mapping(entries)) => {
                    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
                }
                (Segment::Index(index), NodeValue::Sequence(items)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(child) => {
                    node = child;
                    best = child.position.or(best);
                }
                None => break,
            }
        }
        best
    }

    /// The mapping entry `key`, if this node is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Mapping(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The same value as plain JSON (positions dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Number(n) => Value::Number(n.clone()),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    fn shift_lines(&mut self, offset: u32) {
        if offset == 0 {
            return;
        }
        if let Some(position) = &mut self.position {
            position.line = position.line.saturating_add(offset);
        }
        match &mut self.value {
            NodeValue::Sequence(items) => items.iter_mut().for_each(|n| n.shift_lines(offset)),
            NodeValue::Mapping(entries) => {
                entries.iter_mut().for_each(|(_, n)| n.shift_lines(offset))
            }
            _ => {}
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
        Ok(Node {
            position: Position::from_location(spanned.referenced, 0),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeValue, E> {
        i64::try_from(v)
            .map(|v| NodeValue::Number(v.into()))
            .map_err(|_| E::custom(format_args!("integer {v} is out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeValue, E> {
        u64::try_from(v)
            .map(|v| NodeValue::Number(v.into()))
            .map_err(|_| E::custom(format_args!("integer {v} is out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
        serde_json::Number::from_f64(v)
            .map(NodeValue::Number)
            .ok_or_else(|| {
                E::custom("non-finite numbers (.nan, .inf) are not valid in Kubernetes objects")
            })
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<NodeValue, E> {
        Err(E::custom(
            "binary values are not valid in Kubernetes objects",
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Sequence(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(MapKey(key)) = map.next_key::<MapKey>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeValue::Mapping(entries))
    }
}

/// A mapping key: any scalar, kept as the string JSON would use.
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MapKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<MapKey, E> {
                Ok(MapKey(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<MapKey, E> {
                Ok(MapKey(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<MapKey, E> {
                Ok(MapKey("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub position: Option<Position>,
}

/// One document of a manifest text: where it starts and its parsed tree.
#[derive(Debug)]
pub struct RawDocument {
    /// 0-based index of the document in its text.
    pub index: usize,
    /// Line (1-based) where the document's text starts.
    pub first_line: u32,
    /// The parsed tree, `None` for an empty document, or why it failed.
    pub node: Result<Option<Node>, ParseError>,
}

fn saphyr_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_nodes: MAX_NODES,
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_depth: 100,
            max_total_scalar_bytes: MAX_DOCUMENT_BYTES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_NODES,
            max_replay_stack_depth: 32,
        },
        with_snippet: false,
    }
}

/// Splits `text` into YAML documents and parses each one.
pub fn parse_documents(text: &str) -> Vec<RawDocument> {
    split_documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, (first_line, chunk))| RawDocument {
            index,
            first_line,
            node: parse_one(chunk, first_line),
        })
        .filter(|doc| !matches!(doc.node, Ok(None)))
        .enumerate()
        .map(|(index, doc)| RawDocument { index, ..doc })
        .collect()
}

fn parse_one(chunk: &str, first_line: u32) -> Result<Option<Node>, ParseError> {
    let offset = first_line.saturating_sub(1);
    if chunk.len() > MAX_DOCUMENT_BYTES {
        return Err(ParseError {
            message: format!(
                "document of {} bytes exceeds the limit of {} bytes",
                chunk.len(),
                MAX_DOCUMENT_BYTES
            ),
            position: Some(Position {
                line: first_line,
                column: 1,
            }),
        });
    }
    if is_blank(chunk) {
        return Ok(None);
    }
    match serde_saphyr::from_str_with_options::<Option<Node>>(chunk, saphyr_options()) {
        Ok(Some(mut node)) => {
            if node.value == NodeValue::Null {
                return Ok(None);
            }
            node.shift_lines(offset);
            Ok(Some(node))
        }
        Ok(None) => Ok(None),
        Err(error) => {
            let position = error
                .location()
                .and_then(|l| Position::from_location(l, offset));
            Err(ParseError {
                message: describe_saphyr_error(&error),
                position,
            })
        }
    }
}

/// The error's text without the location prefix and snippet serde-saphyr may
/// add: the caller prints `file:line:column` itself.
fn describe_saphyr_error(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    // serde-saphyr ends messages with " at line L, column C"; the position is
    // reported separately.
    let message = match first.rfind(" at line ") {
        Some(cut) if first[cut..].contains("column") => &first[..cut],
        _ => first,
    };
    // Drop advice addressed to programmers using the library.
    match message.find(", set DuplicateKeyPolicy") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

fn is_blank(chunk: &str) -> bool {
    chunk.lines().all(|line| {
        let t = line.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with('%')
    })
}

/// Splits at lines that are document markers. The marker line `---` starts
/// the next chunk (it may carry content, `--- {a: 1}`); `...` ends a chunk.
fn split_documents(text: &str) -> Vec<(u32, &str)> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    let mut line_no = 1u32;
    for line in text.split_inclusive('\n') {
        let is_start = is_marker(line, "---");
        let is_end = is_marker(line, "...");
        if is_start && offset > start {
            chunks.push((start_line, &text[start..offset]));
            start = offset;
            start_line = line_no;
        } else if is_start {
            start_line = line_no;
        }
        offset += line.len();
        line_no = line_no.saturating_add(1);
        if is_end {
            // The `...` line itself belongs to the finished document; drop it.
            let end = offset - line.len();
            chunks.push((start_line, &text[start..end]));
            start = offset;
            start_line = line_no;
        }
    }
    if start < text.len() {
        chunks.push((start_line, &text[start..]));
    }
    chunks
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// The positions of values in a JSON document are not tracked; JSON objects
/// handed over as values (admission) use this to build a tree without them.
pub fn node_from_json(value: &serde_json::Value) -> Node {
    use serde_json::Value;
    let value = match value {
        Value::Null => NodeValue::Null,
        Value::Bool(b) => NodeValue::Bool(*b),
        Value::Number(n) => NodeValue::Number(n.clone()),
        Value::String(s) => NodeValue::String(s.clone()),
        Value::Array(items) => NodeValue::Sequence(items.iter().map(node_from_json).collect()),
        Value::Object(map) => NodeValue::Mapping(
            map.iter()
                .map(|(k, v)| (k.clone(), node_from_json(v)))
                .collect(),
        ),
    };
    Node {
        position: None,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_keeps_line_numbers() {
        let text = "a: 1\n---\nb: 2\n--- \n# only a comment\n---\nc:\n  d: [1, 2]\n";
        let docs = parse_documents(text);
        assert_eq!(docs.len(), 3);
        let c = docs[2].node.as_ref().unwrap().as_ref().unwrap();
        let path: FieldPath = "c.d[1]".parse().unwrap();
        assert_eq!(
            c.locate(&path),
            Some(Position {
                line: 8,
                column: 10
            })
        );
        assert_eq!(docs[2].index, 2);
    }

    #[test]
    fn a_broken_document_does_not_hide_the_next_one() {
        let text = "a: [1\n---\nb: 2\n";
        let docs = parse_documents(text);
        assert_eq!(docs.len(), 2);
        let err = docs[0].node.as_ref().unwrap_err();
        assert!(err.position.is_some(), "{err:?}");
        assert!(docs[1].node.is_ok());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let docs = parse_documents(&text);
        assert_eq!(docs.len(), 1);
        assert!(docs[0].node.is_err());
    }

    #[test]
    fn block_scalar_with_dashes_inside_is_not_split() {
        let text = "data:\n  x: |\n    ---\n    y\n";
        let docs = parse_documents(text);
        assert_eq!(docs.len(), 1);
        let node = docs[0].node.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(node.to_json()["data"]["x"], "---\ny\n");
    }
}
