//! Checks a step's `with:` against its action's input schema before anything runs,
//! even when some values are templates: the keys always, and every literal value.
//!
//! The JSON Schema of the input struct is the single description of the action's input
//! (it also feeds `runbook actions` and `runbook schema`), so the check walks it rather
//! than a second hand-written description.

use runbook_actions::PathSegment;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::template::{is_template, lone_expression};
use crate::yaml::{Node, NodeKind};

/// Checks `node` against `schema` (whose `$defs` are in `root`), pushing diagnostics.
/// `at` is where missing fields are reported (the `with:` key, or the step).
pub(super) fn check_with(
    action: &str,
    node: &Node,
    at: &Node,
    root: &Value,
    diags: &mut Vec<Diagnostic>,
) {
    let before = diags.len();
    check(action, "with", node, root, root, diags);
    for d in &mut diags[before..] {
        if d.message.starts_with("missing field") && d.pos == node.pos {
            d.pos = at.pos;
            d.width = at.width();
        }
    }
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..16 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return current;
        };
        let Some(name) = reference.strip_prefix("#/$defs/") else {
            return current;
        };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}

fn check(
    action: &str,
    path: &str,
    node: &Node,
    schema: &Value,
    root: &Value,
    diags: &mut Vec<Diagnostic>,
) {
    let schema = resolve(schema, root);
    // A lone `{{ expr }}` can become any type: only the rendered value can be checked.
    if let NodeKind::Str { value, .. } = &node.kind {
        if lone_expression(value).is_some() {
            return;
        }
    }
    if let Some(alternatives) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        // An enum whose values are documented one by one (schemars writes a `const`
        // per variant): named as the list of its values.
        if let Some(allowed) = constants(alternatives, root) {
            check_enum(action, path, node, &allowed, diags);
            return;
        }
        let mut best: Option<Vec<Diagnostic>> = None;
        for alternative in alternatives {
            let mut attempt = Vec::new();
            check(action, path, node, alternative, root, &mut attempt);
            if attempt.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|b| attempt.len() < b.len()) {
                best = Some(attempt);
            }
        }
        if alternatives.len() == 2
            && alternatives
                .iter()
                .any(|a| a.get("type") == Some(&Value::from("null")))
        {
            diags.extend(best.unwrap_or_default());
        } else {
            diags.push(Diagnostic::new(
                format!(
                    "`{path}` of `{action}` is {}, which is not {}",
                    node.type_name(),
                    describe_schema(schema, root)
                ),
                node.pos,
                node.width(),
            ));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        check_enum(action, path, node, allowed, diags);
        return;
    }
    if let Some(constant) = schema.get("const") {
        if &node.to_json() != constant {
            diags.push(Diagnostic::new(
                format!("`{path}` of `{action}` must be `{}`", plain(constant)),
                node.pos,
                node.width(),
            ));
        }
        return;
    }
    if schema.get("x-runbook-duration") == Some(&Value::Bool(true)) {
        let parsed = match &node.kind {
            NodeKind::Str { value, .. } if !is_template(value) => {
                Some(runbook_backend::duration::parse_duration(value))
            }
            NodeKind::Int(secs) => Some(match u64::try_from(*secs) {
                Ok(secs) => runbook_backend::duration::duration_from_secs(secs),
                Err(_) => Err(format!("`{secs}` is negative; a duration is at least 0s")),
            }),
            _ => None,
        };
        if let Some(parsed) = parsed {
            if let Err(e) = parsed {
                diags.push(Diagnostic::new(
                    format!("`{path}` of `{action}`: {e}"),
                    node.pos,
                    node.width(),
                ));
            }
            return;
        }
    }
    let types = schema_types(schema);
    if !types.is_empty() && !types.iter().any(|t| node_is(node, t)) {
        diags.push(Diagnostic::new(
            format!(
                "`{path}` of `{action}` must be {}, not {}",
                describe_types(&types),
                show(node)
            ),
            node.pos,
            node.width(),
        ));
        return;
    }
    match &node.kind {
        NodeKind::Map(entries) => check_object(action, path, node, entries, schema, root, diags),
        NodeKind::Seq(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(
                        action,
                        &format!("{path}[{i}]"),
                        item,
                        item_schema,
                        root,
                        diags,
                    );
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    action: &str,
    path: &str,
    node: &Node,
    entries: &[(Node, Node)],
    schema: &Value,
    root: &Value,
    diags: &mut Vec<Diagnostic>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (key, value) in entries {
        let name = key.key_text();
        match properties.and_then(|p| p.get(&name)) {
            Some(prop) => {
                let child = if path == "with" {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                check(action, &child, value, prop, root, diags);
            }
            None if closed => {
                let expected: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let list = expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                diags.push(
                    Diagnostic::new(
                        format!("unknown field `{name}` in `{path}` of `{action}`, expected one of {list}"),
                        key.pos,
                        name.chars().count(),
                    )
                    .with_help(did_you_mean(&name, expected.iter().copied())),
                );
            }
            None => {
                if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                    check(action, &format!("{path}.{name}"), value, extra, root, diags);
                }
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for field in required.iter().filter_map(Value::as_str) {
            if !entries.iter().any(|(k, _)| k.key_text() == field) {
                diags.push(Diagnostic::new(
                    format!("missing field `{field}` in `{path}` of `{action}`"),
                    node.pos,
                    1,
                ));
            }
        }
    }
}

fn schema_types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a literal node can deserialize as JSON type `ty`. Strings with templates in
/// them render to strings.
fn node_is(node: &Node, ty: &str) -> bool {
    match (&node.kind, ty) {
        (NodeKind::Null, "null")
        | (NodeKind::Bool(_), "boolean")
        | (NodeKind::Int(_), "integer" | "number")
        | (NodeKind::Float(_), "number")
        | (NodeKind::Str { .. }, "string")
        | (NodeKind::Seq(_), "array")
        | (NodeKind::Map(_), "object") => true,
        (NodeKind::Float(f), "integer") => f.fract() == 0.0,
        (NodeKind::Str { value, .. }, _) => is_template(value) && ty == "string",
        _ => false,
    }
}

fn describe_types(types: &[String]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| t.as_str() != "null")
        .map(|t| match t.as_str() {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "a boolean",
            "array" => "a list",
            "object" => "a mapping",
            _ => "a value",
        })
        .collect();
    words.join(" or ")
}

/// The values of alternatives that are each one constant (or an enum), if all are.
fn constants(alternatives: &[Value], root: &Value) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    for alternative in alternatives {
        let alternative = resolve(alternative, root);
        if let Some(constant) = alternative.get("const") {
            values.push(constant.clone());
        } else {
            values.extend(alternative.get("enum")?.as_array()?.iter().cloned());
        }
    }
    (!values.is_empty()).then_some(values)
}

/// `node` must be one of `allowed`; the values are listed, with did-you-mean.
fn check_enum(
    action: &str,
    path: &str,
    node: &Node,
    allowed: &[Value],
    diags: &mut Vec<Diagnostic>,
) {
    if allowed.contains(&node.to_json()) {
        return;
    }
    let names: Vec<String> = allowed.iter().map(|v| format!("`{}`", plain(v))).collect();
    let help = node
        .as_str()
        .and_then(|s| did_you_mean(s, allowed.iter().filter_map(Value::as_str)));
    diags.push(
        Diagnostic::new(
            format!(
                "`{path}` of `{action}` must be one of {}, not {}",
                names.join(", "),
                show(node)
            ),
            node.pos,
            node.width(),
        )
        .with_help(help),
    );
}

fn describe_schema(schema: &Value, root: &Value) -> String {
    let alternatives = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    let mut types: Vec<String> = Vec::new();
    for alternative in alternatives.into_iter().flatten() {
        for t in schema_types(resolve(alternative, root)) {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    if types.is_empty() {
        "valid here".into()
    } else {
        describe_types(&types)
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str { value, .. } => format!("the string `{value}`"),
        NodeKind::Int(i) => format!("the integer {i}"),
        NodeKind::Float(f) => format!("the number {f}"),
        NodeKind::Bool(b) => format!("the boolean {b}"),
        NodeKind::Null => "null".into(),
        NodeKind::Seq(_) => "a list".into(),
        NodeKind::Map(_) => "a mapping".into(),
    }
}

/// The node of `with:` that `path` leads to, as far as the runbook spells it out (a
/// value that a template renders into a structure has no node of its own below it).
pub(crate) fn node_at<'a>(with: &'a Node, path: &[PathSegment]) -> &'a Node {
    let mut node = with;
    for segment in path {
        let next = match (segment, &node.kind) {
            (PathSegment::Key(key), NodeKind::Map(entries)) => entries
                .iter()
                .find(|(k, _)| &k.key_text() == key)
                .map(|(_, v)| v),
            (PathSegment::Index(index), NodeKind::Seq(items)) => items.get(*index),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return node,
        }
    }
    node
}
