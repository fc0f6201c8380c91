//! A YAML tree that remembers where every node came from.
//!
//! `serde_yaml`'s `Value` carries no positions, and runbook errors must point at
//! `file:line:col`. We build our own small tree from `yaml-rust2`'s marked event stream:
//! every scalar, sequence and mapping (and every mapping key) knows its line and column.
//!
//! Aliases are resolved while building (an alias is a copy of its anchored node), and so
//! are YAML 1.1 merge keys (`<<: *defaults`, <https://yaml.org/type/merge.html>), which
//! Ansible, GitHub Actions and docker-compose users write to share a mapping. Copied and
//! merged nodes keep the positions they were written at, under the anchor: an error in a
//! shared value points where the author fixes it, once for all its uses.

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
                    let duplicate = entries.iter().find(|(existing, _)| {
                        existing.key_text() == k.key_text()
                            && is_merge_key(existing) == is_merge_key(&k)
                    });
                    if let Some((first, _)) = duplicate {
                        let message = if is_merge_key(&k) {
                            format!(
                                "a second merge key `<<` (the first is at line {}); merge \
                                 several mappings with one list: `<<: [*a, *b]`",
                                first.pos.line
                            )
                        } else {
                            format!(
                                "duplicate key `{}` (first defined at line {})",
                                k.key_text(),
                                first.pos.line
                            )
                        };
                        let pos = k.pos;
                        self.error.get_or_insert(SyntaxError { message, pos });
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
                    mut entries,
                    ..
                }) => {
                    // yaml-rust2 marks a block mapping after its first key; the first key
                    // is where a reader sees the mapping start (taken before merging: a
                    // merged key stands where its anchor is).
                    let pos = entries.first().map_or(pos, |(k, _)| k.pos.min(pos));
                    if let Err(error) = merge(&mut entries) {
                        // The first error is kept: later ones may only follow from it.
                        self.error.get_or_insert(error);
                    }
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

/// Whether a mapping key is YAML 1.1's merge key: a plain `<<`. A quoted `"<<"` (or a
/// block scalar) is an ordinary key, as YAML 1.1 implementations (PyYAML, libyaml-based
/// loaders) read it. Tags are not looked at, as for every scalar of this tree.
fn is_merge_key(key: &Node) -> bool {
    matches!(&key.kind, NodeKind::Str { value, quoted: false } if value == "<<")
}

/// Replaces a mapping's merge entry (`<<: *defaults` or `<<: [*a, *b]`) by the entries of
/// the mappings it names, in its place. Keys written in the mapping win over merged ones
/// wherever they stand (before or after the `<<`), and an earlier mapping of the list wins
/// over a later one. Merged mappings were merged themselves when they were built, so
/// merges nest.
fn merge(entries: &mut Vec<(Node, Node)>) -> Result<(), SyntaxError> {
    let Some(at) = entries.iter().position(|(k, _)| is_merge_key(k)) else {
        return Ok(());
    };
    let (_, value) = entries.remove(at);
    let sources = match value.kind {
        NodeKind::Map(_) => vec![value],
        NodeKind::Seq(items) => items,
        _ => return Err(not_mergeable(&value, "")),
    };
    let mut seen: std::collections::BTreeSet<String> =
        entries.iter().map(|(k, _)| k.key_text()).collect();
    let mut merged = Vec::new();
    for source in sources {
        let NodeKind::Map(source_entries) = source.kind else {
            return Err(not_mergeable(&source, "a list holding "));
        };
        merged.extend(
            source_entries
                .into_iter()
                .filter(|(k, _)| seen.insert(k.key_text())),
        );
    }
    entries.splice(at..at, merged);
    Ok(())
}

fn not_mergeable(value: &Node, context: &str) -> SyntaxError {
    SyntaxError {
        message: format!(
            "the merge key `<<` takes a mapping or a list of mappings (an alias such as \
             `*defaults`), not {context}{}",
            value.type_name()
        ),
        pos: value.pos,
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

    /// The node at `key` of valid `yaml` as compact JSON, whose objects keep the
    /// mapping's key order.
    fn json_at(yaml: &str, key: &str) -> String {
        let node = parse(yaml).expect("valid YAML");
        node.get(key).expect("the key").to_json().to_string()
    }

    #[test]
    fn merging_one_mapping_inserts_its_keys_where_the_merge_key_stands() {
        let yaml = "base: &b {x: 1, y: 2}\nuse:\n  a: 0\n  <<: *b\n  z: 3\n";
        assert_eq!(json_at(yaml, "use"), r#"{"a":0,"x":1,"y":2,"z":3}"#);
    }

    #[test]
    fn merging_a_list_lets_earlier_mappings_win() {
        let yaml =
            "a: &a {k: from-a, only_a: 1}\nb: &b {k: from-b, only_b: 2}\nm: {<<: [*a, *b]}\n";
        assert_eq!(
            json_at(yaml, "m"),
            r#"{"k":"from-a","only_a":1,"only_b":2}"#
        );
    }

    /// An explicit key beside a merged one is no duplicate, and wins.
    #[test]
    fn explicit_keys_win_over_merged_ones_before_and_after_the_merge_key() {
        let yaml =
            "d: &d {k1: merged, k2: merged, k3: merged}\nm:\n  k1: before\n  <<: *d\n  k3: after\n";
        let expected = r#"{"k1":"before","k2":"merged","k3":"after"}"#;
        assert_eq!(json_at(yaml, "m"), expected);
    }

    #[test]
    fn merges_nest_and_merge_inline_mappings() {
        let yaml = "\
base: &base {a: 1, b: 1}
mid: &mid
  <<: *base
  b: 2
  c: 2
top:
  <<: *mid
  c: 3
inline: {<<: {d: 4}, e: 5}
";
        assert_eq!(json_at(yaml, "top"), r#"{"a":1,"b":2,"c":3}"#);
        assert_eq!(json_at(yaml, "inline"), r#"{"d":4,"e":5}"#);
    }

    #[test]
    fn merged_nodes_keep_the_positions_they_were_written_at() {
        let yaml = "\
steps:
  - with: &w
      argv: [a]
      dir: /tmp
  - with:
      <<: *w
      dir: /srv
";
        let node = parse(yaml).expect("valid");
        let NodeKind::Seq(steps) = &node.get("steps").expect("steps").kind else {
            panic!("steps is a list")
        };
        let with = steps[1].get("with").expect("with");
        // The mapping itself starts at its first written key, the `<<`.
        assert_eq!(with.pos, Pos { line: 6, col: 7 });
        let (argv_key, argv) = with.entry("argv").expect("merged argv");
        assert_eq!(argv_key.pos, Pos { line: 3, col: 7 });
        assert_eq!(argv.pos, Pos { line: 3, col: 13 });
        let (dir_key, dir) = with.entry("dir").expect("explicit dir");
        assert_eq!(dir_key.pos, Pos { line: 7, col: 7 });
        assert_eq!(dir.as_str(), Some("/srv"));
    }

    #[test]
    fn a_merge_of_anything_but_mappings_is_an_error_at_the_value() {
        let err = parse("a: &s hello\nm:\n  <<: *s\n").expect_err("a string");
        assert_eq!(
            err.message,
            "the merge key `<<` takes a mapping or a list of mappings (an alias such as \
             `*defaults`), not a string"
        );
        assert_eq!(err.pos, Pos { line: 3, col: 7 });

        let err = parse("m: {<<: [{k: v}, 3]}\n").expect_err("a list holding a number");
        assert!(
            err.message
                .ends_with("(an alias such as `*defaults`), not a list holding an integer"),
            "{}",
            err.message
        );
        assert_eq!(err.pos, Pos { line: 1, col: 18 });

        let err = parse("m:\n  <<:\n  k: v\n").expect_err("null");
        assert!(err.message.ends_with("not null"), "{}", err.message);
    }

    #[test]
    fn a_quoted_merge_key_is_a_plain_key() {
        let node = parse("d: &d {k: v}\nm: {\"<<\": *d, <<: {j: w}}\n").expect("valid");
        let m = node.get("m").expect("m");
        assert_eq!(
            m.get("<<").and_then(|n| n.get("k")).and_then(Node::as_str),
            Some("v")
        );
        assert_eq!(m.get("k"), None);
        assert_eq!(m.get("j").and_then(Node::as_str), Some("w"));
    }

    #[test]
    fn a_second_merge_key_says_how_to_merge_several_mappings() {
        let err = parse("a: &a {x: 1}\nb: &b {y: 2}\nm:\n  <<: *a\n  <<: *b\n")
            .expect_err("two merge keys");
        assert_eq!(err.pos, Pos { line: 5, col: 3 });
        assert!(err.message.contains("`<<: [*a, *b]`"), "{}", err.message);
    }
}
