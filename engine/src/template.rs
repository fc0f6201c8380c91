//! Templating with minijinja: strict undefined variables, and type-preserving rendering
//! of a scalar that is exactly one `{{ expr }}`.
//!
//! Templates are runbook text, so nothing in one may crash or stall the engine: every
//! call into minijinja is behind a panic boundary (`[1, 2] * 9223372036854775807`
//! overflows inside minijinja), loops are bounded by fuel, and a value with more than
//! [`MAX_ITEMS`] items is refused before it is printed or turned into JSON.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::yaml::{Node, NodeKind, Pos};

/// The template environment every runbook is rendered with, built once: creating one
/// registers every builtin filter, which would dominate the cost of a `log` step.
pub fn environment() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_fuel(Some(FUEL));
        env.set_formatter(|out, state, value| {
            check_size(value).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
            })?;
            minijinja::escape_formatter(out, state, value)
        });
        env
    })
}

/// Instructions one render may execute: far more than any runbook's templates need
/// (a loop over 10,000 items takes about 100,000), few enough that a runaway loop
/// ends in seconds with an error.
const FUEL: u64 = 5_000_000;

/// The most items (list and map entries, nested ones included) a value may have to be
/// printed or used as data: `[1] * 4294967296` is a lazy sequence that would take
/// hours and all memory to write out.
pub const MAX_ITEMS: usize = 1_000_000;

/// Why a template string could not be compiled or rendered. The message says what
/// is wrong with the template; where it is in the runbook is added by its caller
/// ([`TemplateError`], or the loader's diagnostic).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// minijinja refused the template: syntax, an undefined variable, a failed
    /// operation, fuel exhausted. Shown as its kind and detail, without minijinja's
    /// internal template names.
    #[error("{}", describe(.0))]
    Template(#[source] minijinja::Error),
    /// minijinja panicked on the template (an overflow inside it, say).
    #[error("the template engine failed on this template ({0}); simplify the expression")]
    EnginePanicked(String),
    /// A lone expression whose value is undefined (`{{ x.missing }}` under lenient
    /// lookups).
    #[error("`{0}` is undefined")]
    Undefined(String),
    /// A value too big to print or use as data (see [`MAX_ITEMS`]).
    #[error("the value has more than {MAX_ITEMS} items")]
    TooManyItems,
    /// A lone expression's value has no JSON form (a function, say).
    #[error("the expression's value cannot be used as data: {0}")]
    NotData(#[source] serde_json::Error),
}

impl From<minijinja::Error> for RenderError {
    fn from(e: minijinja::Error) -> Self {
        RenderError::Template(e)
    }
}

/// Runs a call into minijinja, turning a panic inside it into an error: a template is
/// input, and input must not crash the engine.
fn guarded<T>(call: impl FnOnce() -> Result<T, RenderError>) -> Result<T, RenderError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(RenderError::EnginePanicked(what))
    })
}

/// Refuses values with more than [`MAX_ITEMS`] items, counting without writing
/// them out (a sequence's length is known without iterating it).
fn check_size(value: &Value) -> Result<(), RenderError> {
    fn walk(value: &Value, budget: &mut usize) -> Result<(), RenderError> {
        let too_big = || RenderError::TooManyItems;
        if value.as_str().is_some() || value.is_number() || value.is_none() {
            return Ok(());
        }
        if let Some(len) = value.len() {
            *budget = budget.checked_sub(len).ok_or_else(too_big)?;
        }
        let Ok(items) = value.try_iter() else {
            return Ok(());
        };
        let is_map = value.kind() == minijinja::value::ValueKind::Map;
        for item in items {
            *budget = budget.checked_sub(1).ok_or_else(too_big)?;
            if is_map {
                if let Ok(inner) = value.get_item(&item) {
                    walk(&inner, budget)?;
                }
            } else {
                walk(&item, budget)?;
            }
        }
        Ok(())
    }
    walk(value, &mut MAX_ITEMS.clone())
}

/// The process environment, as the `env` scope of templates.
pub fn process_env() -> serde_json::Map<String, serde_json::Value> {
    std::env::vars()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// Whether a string contains template syntax at all.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// If `text` is exactly one `{{ expr }}` (surrounding whitespace allowed), the
/// expression; its value keeps its type (an integer stays an integer).
pub fn lone_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

/// A template problem, located in the runbook: the node's position and width, for a
/// caret under it.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct TemplateError {
    #[source]
    pub error: RenderError,
    pub pos: Pos,
    pub width: usize,
}

/// Compiles a template string and lists the variables it reads, as dotted paths
/// (`steps.low_job.outputs.job_id`).
pub fn referenced_variables(
    env: &Environment<'_>,
    text: &str,
) -> Result<BTreeSet<String>, RenderError> {
    guarded(|| referenced_variables_unguarded(env, text))
}

fn referenced_variables_unguarded(
    env: &Environment<'_>,
    text: &str,
) -> Result<BTreeSet<String>, RenderError> {
    if let Some(expr) = lone_expression(text) {
        let compiled = env.compile_expression(expr)?;
        Ok(compiled.undeclared_variables(true).into_iter().collect())
    } else {
        let compiled = env.template_from_str(text)?;
        Ok(compiled.undeclared_variables(true).into_iter().collect())
    }
}

/// Renders one string.
pub fn render_str(
    env: &Environment<'_>,
    text: &str,
    ctx: &Value,
) -> Result<serde_json::Value, RenderError> {
    if !is_template(text) {
        return Ok(serde_json::Value::String(text.to_string()));
    }
    guarded(|| render_template(env, text, ctx))
}

fn render_template(
    env: &Environment<'_>,
    text: &str,
    ctx: &Value,
) -> Result<serde_json::Value, RenderError> {
    if let Some(expr) = lone_expression(text) {
        let compiled = env.compile_expression(expr)?;
        let value = compiled.eval(ctx)?;
        if value.is_undefined() {
            return Err(RenderError::Undefined(expr.to_string()));
        }
        return to_json(&value);
    }
    Ok(serde_json::Value::String(env.render_str(text, ctx)?))
}

/// Renders every string in a node, keeping the structure.
pub fn render_node(
    env: &Environment<'_>,
    node: &Node,
    ctx: &Value,
) -> Result<serde_json::Value, TemplateError> {
    match &node.kind {
        NodeKind::Str { value, .. } => render_str(env, value, ctx).map_err(|error| TemplateError {
            error,
            pos: node.pos,
            width: node.width(),
        }),
        NodeKind::Seq(items) => items
            .iter()
            .map(|n| render_node(env, n, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(serde_json::Value::Array),
        NodeKind::Map(entries) => {
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                out.insert(k.key_text(), render_node(env, v, ctx)?);
            }
            Ok(serde_json::Value::Object(out))
        }
        _ => Ok(node.to_json()),
    }
}

/// Converts a template value to JSON; values that have no JSON form are an error.
fn to_json(value: &Value) -> Result<serde_json::Value, RenderError> {
    check_size(value)?;
    serde_json::to_value(value).map_err(RenderError::NotData)
}

/// One line: what went wrong, without minijinja's internal template names.
fn describe(err: &minijinja::Error) -> String {
    let mut text = match err.kind() {
        minijinja::ErrorKind::UndefinedError => "undefined variable".to_string(),
        minijinja::ErrorKind::SyntaxError => "template syntax error".to_string(),
        _ => err.kind().to_string(),
    };
    if let Some(detail) = err.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

/// A short name of a rendered value's type for messages ("a string", "a list").
pub fn json_type_name(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as Json;
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Value {
        Value::from_serialize(serde_json::json!({
            "params": {"executors": 2, "name": "eks", "flag": true, "ns": ["a", "b"]},
        }))
    }

    #[test]
    fn a_lone_expression_keeps_its_type() {
        let env = environment();
        assert_eq!(
            render_str(env, "{{ params.executors }}", &ctx()).ok(),
            Some(serde_json::json!(2))
        );
        assert_eq!(
            render_str(env, " {{ params.flag }} ", &ctx()).ok(),
            Some(serde_json::json!(true))
        );
        assert_eq!(
            render_str(env, "{{ params.ns }}", &ctx()).ok(),
            Some(serde_json::json!(["a", "b"]))
        );
        assert_eq!(
            render_str(env, "{{ params.executors > 1 }}", &ctx()).ok(),
            Some(serde_json::json!(true))
        );
    }

    #[test]
    fn anything_else_renders_to_a_string() {
        let env = environment();
        assert_eq!(
            render_str(env, "n={{ params.executors }}", &ctx()).ok(),
            Some(serde_json::json!("n=2"))
        );
        assert_eq!(
            render_str(env, "{{ params.name }}-{{ params.executors }}", &ctx()).ok(),
            Some(serde_json::json!("eks-2"))
        );
    }

    #[test]
    fn undefined_variables_are_errors_not_empty_strings() {
        let env = environment();
        let err = render_str(env, "x-{{ params.nope }}", &ctx())
            .expect_err("undefined")
            .to_string();
        assert!(err.contains("undefined"), "{err}");
        assert!(render_str(env, "{{ params.nope }}", &ctx()).is_err());
    }

    #[test]
    fn lists_referenced_variables_as_paths() {
        let env = environment();
        let vars = referenced_variables(env, "{{ steps.low.outputs.job_id }}-{{ params.x }}")
            .expect("valid");
        assert!(vars.contains("steps.low.outputs.job_id"), "{vars:?}");
        assert!(vars.contains("params.x"), "{vars:?}");
    }

    /// Found by the no-panic property test: minijinja multiplies a sequence's length
    /// without checking for overflow, and a lazily repeated sequence is astronomically
    /// long. Both are errors, promptly.
    #[test]
    fn huge_and_overflowing_sequences_are_errors() {
        let env = environment();
        for text in [
            "{{ [1, 2, 3] * 9223372036854775807 }}",
            "x{{ [1, 2, 3] * 9223372036854775807 }}",
            "{{ [1, 2, 3] * 4294967296 }}",
            "x{{ [1, 2, 3] * 4294967296 }}",
            "{{ {'a': [1] * 4294967296} }}",
        ] {
            let err = render_str(env, text, &ctx()).expect_err(text).to_string();
            assert!(
                err.contains("more than 1000000 items") || err.contains("template engine failed"),
                "{text}: {err}"
            );
        }
        assert!(render_str(env, "{{ ([1] * 1000) | length }}", &ctx()).is_ok());
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let env = environment();
        let err = render_str(
            env,
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            &ctx(),
        )
        .expect_err("runaway")
        .to_string();
        assert!(err.contains("fuel"), "{err}");
        assert!(
            render_str(
                env,
                "{% for i in range(10000) %}{{ i }}{% endfor %}",
                &ctx()
            )
            .is_ok()
        );
    }

    #[test]
    fn lone_expression_detection() {
        assert_eq!(lone_expression("{{ a }}"), Some("a"));
        assert_eq!(lone_expression("{{ a }} and {{ b }}"), None);
        assert_eq!(lone_expression("x{{ a }}"), None);
    }
}
