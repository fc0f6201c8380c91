//! A step's `with:` (and `for_each:`) rendered for export: what the params and vars
//! decide is rendered now, as `plan` renders it; what only the execution knows (a step's
//! outputs, the `for_each` item and index, the date the run started) becomes a marker
//! of [`runtime_value`](super::runtime_value). A template that computes with a run-time
//! value (a filter, arithmetic, a comparison, a `{% for %}`) has no exact States-language
//! form and is refused where it is written.

use std::collections::BTreeMap;

use serde_json::Value;

use super::runtime_value::{START_DATE, marker};
use crate::diagnostic::Diagnostic;
use crate::template;
use crate::yaml::{Node, NodeKind};

/// The outputs an exported step keeps under `$.steps.<id>`, by name.
#[derive(Debug, Clone)]
pub(crate) struct KeptOutputs {
    pub names: Vec<&'static str>,
    /// A `for_each` step's outputs are the list of its instances' outputs.
    pub list: bool,
}

/// What a step's templates see at export time.
pub(crate) struct Scope<'a> {
    /// `params`, `vars`, `env` and `run` (its account and region as markers).
    pub context: minijinja::Value,
    /// Inside a `for_each` step: `item` and `index` are the iteration's.
    pub in_for_each: bool,
    /// `item` and `index` are in `context`, known now (one instance of a `for_each`
    /// over a list known at export time, exported on its own).
    pub item_known: bool,
    /// The steps exported so far and the outputs each keeps.
    pub exported: &'a BTreeMap<String, KeptOutputs>,
}

/// Renders a node; run-time values become markers.
pub(crate) fn render(node: &Node, scope: &Scope<'_>) -> Result<Value, Diagnostic> {
    match &node.kind {
        NodeKind::Str { value, .. } => render_text(value, node, scope),
        NodeKind::Seq(items) => items
            .iter()
            .map(|item| render(item, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        NodeKind::Map(entries) => {
            let mut out = serde_json::Map::new();
            for (key, value) in entries {
                out.insert(key.key_text(), render(value, scope)?);
            }
            Ok(Value::Object(out))
        }
        _ => Ok(node.to_json()),
    }
}

fn refuse(node: &Node, message: String) -> Diagnostic {
    Diagnostic::new(message, node.pos, node.width())
}

/// Whether a variable path read by a template is known only when the execution runs
/// (`item` and `index` are not when `item_known`).
fn is_run_time(path: &str, item_known: bool) -> bool {
    let of_item = path == "item" || path.starts_with("item.") || path == "index";
    path.starts_with("steps.")
        || path == "steps"
        || (of_item && !item_known)
        || path == "run.started_at"
        || path == "run.id"
}

/// Whether the template `text` reads a value known only when the execution runs.
pub(crate) fn reads_run_time_values(text: &str) -> bool {
    template::referenced_variables(template::environment(), text)
        .is_ok_and(|reads| reads_run_time(&reads, text, false))
}

/// Whether a template reads a run-time value. minijinja lists a variable read through a
/// subscript or slice (`run.started_at[:10]`) only by its root, so the run's own
/// run-time fields are also looked for in the text.
fn reads_run_time(
    reads: &std::collections::BTreeSet<String>,
    text: &str,
    item_known: bool,
) -> bool {
    reads.iter().any(|path| is_run_time(path, item_known))
        || text.contains("run.started_at")
        || text.contains("run.id")
}

fn render_text(text: &str, node: &Node, scope: &Scope<'_>) -> Result<Value, Diagnostic> {
    if !template::is_template(text) {
        return Ok(Value::String(text.to_string()));
    }
    let env = template::environment();
    let reads = template::referenced_variables(env, text)
        .map_err(|e| refuse(node, format!("the template does not compile: {e}")))?;
    if !reads_run_time(&reads, text, scope.item_known) {
        let rendered = template::render_str(env, text, &scope.context)
            .map_err(|e| refuse(node, format!("the template does not render: {e}")))?;
        // `vars` computed from `run.id` or `run.started_at` hold the plan's placeholders.
        if rendered.to_string().contains("<run.") {
            return Err(refuse(
                node,
                "reads `run.id` or `run.started_at` through `vars`, which has no exact equivalent in a Step Functions execution".into(),
            ));
        }
        return Ok(rendered);
    }
    if text.contains("{%") || text.contains("{#") {
        return Err(refuse(
            node,
            "a template block (`{% ... %}`) over values known only when the state machine runs has no States-language equivalent".into(),
        ));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(refuse(node, "an expression is not closed with `}}`".into()));
        };
        let expr = after[..end].trim();
        if expr.starts_with('-') || expr.ends_with('-') {
            return Err(refuse(
                node,
                "whitespace control (`{{-`, `-}}`) around a value known only when the state machine runs is not exported".into(),
            ));
        }
        out.push_str(&expression(expr, node, scope)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// One `{{ expr }}` of a template that reads run-time values: a marker for a plain
/// reference, the rendered text for an expression that reads none.
fn expression(expr: &str, node: &Node, scope: &Scope<'_>) -> Result<String, Diagnostic> {
    let env = template::environment();
    let source = format!("{{{{ {expr} }}}}");
    let reads = template::referenced_variables(env, &source)
        .map_err(|e| refuse(node, format!("`{expr}` does not compile: {e}")))?;
    if !reads_run_time(&reads, expr, scope.item_known) {
        return match template::render_str(env, &source, &scope.context) {
            Ok(Value::String(text)) => Ok(text),
            Ok(other) => Ok(other.to_string()),
            Err(e) => Err(refuse(node, format!("`{expr}` does not render: {e}"))),
        };
    }
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "run.started_at[:10]" {
        return Ok(marker(START_DATE));
    }
    if let Some(path) = plain_path(&compact) {
        return reference(&path, node, scope);
    }
    Err(refuse(
        node,
        format!(
            "`{expr}` computes with a value known only when the state machine runs; only a plain reference (`steps.<id>.outputs.<name>`, `item`, `index`, `run.started_at[:10]`) translates exactly to the States language"
        ),
    ))
}

/// `a.b.c` as its parts, if the expression is nothing but a dotted name.
pub(crate) fn plain_path(expr: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = expr.split('.').collect();
    let identifier = |part: &&str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    parts.iter().all(identifier).then_some(parts)
}

/// The marker of a plain reference to a run-time value.
pub(crate) fn reference(
    path: &[&str],
    node: &Node,
    scope: &Scope<'_>,
) -> Result<String, Diagnostic> {
    match path {
        ["item", rest @ ..] | ["index", rest @ ..] if scope.in_for_each => {
            if path[0] == "index" && !rest.is_empty() {
                return Err(refuse(node, "`index` is a number; it has no fields".into()));
            }
            Ok(marker(&json_path(&["$", path[0]], rest)))
        }
        ["item" | "index", ..] => Err(refuse(
            node,
            format!("`{}` exists only in a `for_each` step", path[0]),
        )),
        ["steps", id, "outputs", fields @ ..] => {
            let Some(kept) = scope.exported.get(*id) else {
                return Err(refuse(
                    node,
                    format!(
                        "reads the outputs of step `{id}`, which is not exported before this step"
                    ),
                ));
            };
            if let Some(name) = fields.first() {
                if kept.list || !kept.names.contains(name) {
                    let kept_names = if kept.list {
                        "a list, one entry per instance".to_string()
                    } else if kept.names.is_empty() {
                        "none".to_string()
                    } else {
                        kept.names.join(", ")
                    };
                    return Err(refuse(
                        node,
                        format!(
                            "`steps.{id}.outputs.{name}` is not kept by the exported state machine (the outputs of `{id}` it keeps: {kept_names})"
                        ),
                    ));
                }
            }
            Ok(marker(&json_path(&["$", "steps", *id], fields)))
        }
        ["steps", id, what, ..] => Err(refuse(
            node,
            format!(
                "`steps.{id}.{what}` is not exported: only a step's outputs are kept in the execution's state"
            ),
        )),
        ["run", what] => Err(refuse(
            node,
            format!("`run.{what}` has no exact equivalent in a Step Functions execution"),
        )),
        _ => Err(refuse(
            node,
            format!(
                "`{}` cannot be read by the exported state machine",
                path.join(".")
            ),
        )),
    }
}

fn json_path(head: &[&str], rest: &[&str]) -> String {
    head.iter()
        .chain(rest)
        .copied()
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// The outputs of one exported step that keeps one output.
    pub(crate) fn kept(id: &str, name: &'static str) -> BTreeMap<String, KeptOutputs> {
        BTreeMap::from([(
            id.to_string(),
            KeptOutputs {
                names: vec![name],
                list: false,
            },
        )])
    }

    fn scope_with(exported: &BTreeMap<String, KeptOutputs>, in_for_each: bool) -> Scope<'_> {
        Scope {
            context: minijinja::Value::from_serialize(json!({
                "params": {"cluster_name": "eks-emr-cluster"},
                "run": {"account_id": marker(super::super::runtime_value::ACCOUNT_ID)},
            })),
            in_for_each,
            item_known: false,
            exported,
        }
    }

    fn node(text: &str) -> Node {
        crate::yaml::parse(&format!("v: {text:?}"))
            .expect("yaml")
            .get("v")
            .expect("v")
            .clone()
    }

    #[test]
    fn params_render_now_and_references_become_markers() {
        let exported = kept("role", "role_arn");
        let scope = scope_with(&exported, true);
        assert_eq!(
            render(&node("{{ params.cluster_name }}-{{ item }}"), &scope).expect("renders"),
            json!(format!("eks-emr-cluster-{}", marker("$.item")))
        );
        assert_eq!(
            render(&node("{{ steps.role.outputs.role_arn }}"), &scope).expect("renders"),
            json!(marker("$.steps.role.role_arn"))
        );
        assert_eq!(
            render(&node("nightly-{{ run.started_at[:10] }}"), &scope).expect("renders"),
            json!(format!("nightly-{}", marker(START_DATE)))
        );
    }

    #[test]
    fn computing_with_run_time_values_is_refused() {
        let exported = kept("done", "state");
        let scope = scope_with(&exported, false);
        let refusal =
            render(&node("{{ steps.done.outputs.state | lower }}"), &scope).expect_err("a filter");
        assert!(
            refusal.message.contains("computes with a value"),
            "{refusal:?}"
        );
        let refusal =
            render(&node("{{ steps.done.outputs.waited_ms }}"), &scope).expect_err("not kept");
        assert_eq!(
            refusal.message,
            "`steps.done.outputs.waited_ms` is not kept by the exported state machine (the outputs of `done` it keeps: state)"
        );
        let refusal = render(&node("{{ item }}"), &scope).expect_err("no item");
        assert_eq!(refusal.message, "`item` exists only in a `for_each` step");
    }
}
