//! A YAML tree that remembers where every node came from.
//!
//! `serde_yaml`'s `Value` carries no positions, and runbook errors must point at
//! `file:line:col`. We build our own small tree from `yaml-rust2`'s marked event stream:
//! every scalar, sequence and mapping (and every mapping key) knows its line and column.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A YAML node with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `quoted` tells that the author wrote it in quotes or as a block scalar,
    /// which matters for "did you mean a number?" style checks.
    Str {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

impl Node {
    /// A short name of the node's type for error messages ("a string", "a mapping").
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The key node and value of `key` in a mapping node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The number of characters an error caret should underline: the scalar's text,
    /// or one character for collections.
    pub fn width(&self) -> usize {
        match &self.kind {
            NodeKind::Str { value, quoted } => {
                let first_line = value.lines().next().unwrap_or("");
                first_line.chars().count().max(1) + if *quoted { 2 } else { 0 }
            }
            NodeKind::Int(i) => i.to_string().len(),
            NodeKind::Float(f) => f.to_string().len(),
            NodeKind::Bool(b) => b.to_string().len(),
            NodeKind::Null | NodeKind::Seq(_) | NodeKind::Map(_) => 1,
        }
    }

    /// Converts to JSON (positions dropped). Mapping keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str { value, .. } => Value::String(value.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The text of a node used as a mapping key.
    pub fn key_text(&self) -> String {
        match &self.kind {
            NodeKind::Str { value, .. } => value.clone(),
            NodeKind::Null => "null".into(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Seq(_) | NodeKind::Map(_) => "<complex key>".into(),
        }
    }
}

/// Parses one YAML document. An empty document is `Null` at 1:1.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| {
        let m = e.marker();
        SyntaxError {
            message: e.info().to_string(),
            pos: to_pos(m),
        }
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node {
        kind: NodeKind::Null,
        pos: Pos { line: 1, col: 1 },
    }))
}

fn to_pos(m: &Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

/// Collections under construction.
enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: std::collections::BTreeMap<usize, Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if self.error.is_none() {
                        if let Some((first, _)) = entries
                            .iter()
                            .find(|(existing, _)| existing.key_text() == k.key_text())
                        {
                            self.error = Some(SyntaxError {
                                message: format!(
                                    "duplicate key `{}` (first defined at line {})",
                                    k.key_text(),
                                    first.pos.line
                                ),
                                pos: k.pos,
                            });
                        }
                    }
                    entries.push((k, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = to_pos(&mark);
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let kind = scalar_kind(value, style);
                self.push_value(Node { kind, pos }, anchor);
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(n) => Node {
                        kind: n.kind.clone(),
                        pos,
                    },
                    None => Node {
                        kind: NodeKind::Null,
                        pos,
                    },
                };
                self.push_value(node, 0);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                pos,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                pos,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => {
                    self.push_value(
                        Node {
                            kind: NodeKind::Seq(items),
                            pos,
                        },
                        anchor,
                    );
                }
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => {
                    // yaml-rust2 marks a block mapping after its first key; the first key
                    // is where a reader sees the mapping start.
                    let pos = entries.first().map_or(pos, |(k, _)| k.pos.min(pos));
                    self.push_value(
                        Node {
                            kind: NodeKind::Map(entries),
                            pos,
                        },
                        anchor,
                    );
                }
                None => {}
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a plain scalar as YAML 1.2's core schema does; quoted scalars stay strings.
fn scalar_kind(value: String, style: TScalarStyle) -> NodeKind {
    if style != TScalarStyle::Plain {
        return NodeKind::Str {
            value,
            quoted: true,
        };
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return NodeKind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        return NodeKind::Int(i);
    }
    if let Some(hex) = value.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeKind::Int(i);
        }
    }
    let looks_numeric = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric {
        if let Ok(f) = value.parse::<f64>() {
            if f.is_finite() {
                return NodeKind::Float(f);
            }
        }
    }
    NodeKind::Str {
        value,
        quoted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let node = parse("name: demo\nsteps:\n  - id: a\n    action: log\n").expect("valid");
        let steps = node.get("steps").expect("steps");
        let NodeKind::Seq(items) = &steps.kind else {
            panic!("steps is a list")
        };
        let action = items[0].get("action").expect("action");
        assert_eq!(action.pos, Pos { line: 4, col: 13 });
        let key = &items[0].as_map().expect("map")[1].0;
        assert_eq!(key.pos, Pos { line: 4, col: 5 });
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2_and_quoted_stay_strings() {
        let node = parse("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\nf: hello\n").expect("valid");
        assert_eq!(node.get("a").map(|n| &n.kind), Some(&NodeKind::Int(1)));
        assert_eq!(node.get("b").and_then(Node::as_str), Some("1"));
        assert_eq!(node.get("c").map(|n| &n.kind), Some(&NodeKind::Bool(true)));
        assert_eq!(node.get("d").map(|n| &n.kind), Some(&NodeKind::Float(1.5)));
        assert_eq!(node.get("e").map(|n| &n.kind), Some(&NodeKind::Null));
        assert_eq!(node.get("f").and_then(Node::as_str), Some("hello"));
    }

    #[test]
    fn duplicate_keys_are_errors_with_the_second_position() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(err.pos, Pos { line: 3, col: 1 });
        assert!(err.message.contains("duplicate key `a`"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").expect_err("unclosed");
        assert!(err.pos.line >= 1);
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let node = parse("a: &x {k: v}\nb: *x\n").expect("valid");
        assert_eq!(
            node.get("b")
                .and_then(|b| b.get("k"))
                .and_then(Node::as_str),
            Some("v")
        );
    }
}
