//! Values an exported state machine only knows when it runs (a step's outputs, the
//! `for_each` item, the account and region of the execution), and how they are
//! written in the States language.
//!
//! A step's input is rendered at export time like `plan` renders it, except that each
//! run-time value renders as a *marker*: `<\u{1}EXPR>`, where EXPR is already the
//! States-language expression that reads it (a JSONPath such as `$.steps.role.role_arn`,
//! or an intrinsic function). Markers travel through the action's own request builders
//! unchanged (no AWS name may contain `<`, so actions treat them as the placeholders a
//! plan shows), and [`parameters`] turns every string that holds one into the
//! `"Key.$"` form: the path alone when the string is exactly one marker (the value keeps
//! its type), else `States.Format` over the text around them.

use std::time::Duration;

use runbook_backend::duration::HumaneDuration;
use serde_json::{Map, Value};

const OPEN: &str = "<\u{1}";
const CLOSE: char = '>';

/// The marker of a run-time value whose States-language expression is `expr`.
pub(crate) fn marker(expr: &str) -> String {
    format!("{OPEN}{expr}{CLOSE}")
}

/// Whether `text` holds a run-time value.
pub(crate) fn is_dynamic(text: &str) -> bool {
    text.contains(OPEN)
}

/// The account of the execution: the fifth field of its ARN
/// (`arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME`).
pub(crate) const ACCOUNT_ID: &str =
    "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 4)";
/// The region of the execution, from its ARN.
pub(crate) const REGION: &str = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)";
/// The ARN partition of the execution (`aws`, `aws-cn`, ...), from its ARN.
pub(crate) const PARTITION: &str =
    "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 1)";
/// `run.started_at[:10]`, the date the run started (UTC): the part of the execution's
/// ISO 8601 start time before its `T`.
pub(crate) const START_DATE: &str =
    "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)";

/// One piece of a string: literal text, or a run-time value's expression.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).unwrap_or(after.len());
        out.push(Piece::Expr(&after[..end]));
        rest = after.get(end + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The expression of a string that is exactly one run-time value (`$.steps.job.job_id`),
/// or `None` for literal text or text around one.
pub(crate) fn lone_expression(text: &str) -> Option<&str> {
    match pieces(text).as_slice() {
        [Piece::Expr(expr)] => Some(expr),
        _ => None,
    }
}

/// The States-language expression of a string holding markers: the marker's own
/// expression when it is alone, else `States.Format` with the text around them.
pub(crate) fn expression(text: &str) -> String {
    let pieces = pieces(text);
    if let [Piece::Expr(expr)] = pieces.as_slice() {
        return (*expr).to_string();
    }
    let mut template = String::new();
    let mut args = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => template.push_str(&escape_literal(text)),
            Piece::Expr(expr) => {
                template.push_str("{}");
                args.push(expr);
            }
        }
    }
    let mut out = format!("States.Format('{template}'");
    for arg in args {
        out.push_str(", ");
        out.push_str(arg);
    }
    out.push(')');
    out
}

/// A string as an intrinsic function's literal argument: `'`, `{`, `}` and `\` are
/// reserved there and escaped with a backslash.
pub(crate) fn escape_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\'' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why a value cannot be written in the States language.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum Untranslatable {
    /// A list whose items are not all strings or numbers holds a run-time value:
    /// `States.Array` builds lists of plain values only.
    #[error(
        "the list at `{0}` mixes values known only when the state machine runs with structured items, which the States language cannot build"
    )]
    StructuredList(String),
}

/// A state's `Parameters` (or a Pass state's): every string holding a run-time value
/// becomes a `"Key.$"` entry; a list holding one becomes `States.Array(...)`.
pub(crate) fn parameters(value: &Value) -> Result<Value, Untranslatable> {
    convert(value, "")
}

fn convert(value: &Value, at: &str) -> Result<Value, Untranslatable> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let here = format!("{at}.{key}");
                match dynamic_expression(item, &here)? {
                    Some(expr) => out.insert(format!("{key}.$"), Value::String(expr)),
                    None => out.insert(key.clone(), convert(item, &here)?),
                };
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let here = format!("{at}[{i}]");
                if contains_dynamic(item) {
                    Err(Untranslatable::StructuredList(here))
                } else {
                    Ok(item.clone())
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// The expression of a value that is run-time as a whole: a string holding markers, or
/// a list of plain values some of which are.
fn dynamic_expression(value: &Value, at: &str) -> Result<Option<String>, Untranslatable> {
    match value {
        Value::String(text) if is_dynamic(text) => Ok(Some(expression(text))),
        Value::Array(items) if items.iter().any(contains_dynamic) => {
            let args = items
                .iter()
                .map(|item| match item {
                    Value::String(text) if is_dynamic(text) => Ok(expression(text)),
                    Value::String(text) => Ok(format!("'{}'", escape_literal(text))),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(Untranslatable::StructuredList(at.to_string())),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(format!("States.Array({})", args.join(", "))))
        }
        _ => Ok(None),
    }
}

/// Why a duration input cannot be written into the definition.
#[derive(Debug)]
pub(crate) enum DurationNotKnown {
    /// It is a value known only when the execution runs.
    AtRunTime,
    /// It is not a duration (the duration parser's words).
    Unreadable(String),
}

/// A duration input as the action reads it (`90s`, `1h30m`, or a bare number of
/// seconds), which must be known at export time; `None` when it is not given.
pub(crate) fn known_duration(value: &Value) -> Result<Option<Duration>, DurationNotKnown> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if is_dynamic(text) => Err(DurationNotKnown::AtRunTime),
        given => serde_json::from_value::<HumaneDuration>(given.clone())
            .map(|HumaneDuration(duration)| Some(duration))
            .map_err(|e| DurationNotKnown::Unreadable(e.to_string())),
    }
}

/// Whether a value holds a run-time value anywhere.
pub(crate) fn contains_dynamic(value: &Value) -> bool {
    match value {
        Value::String(text) => is_dynamic(text),
        Value::Array(items) => items.iter().any(contains_dynamic),
        Value::Object(map) => map.values().any(contains_dynamic),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_duration_input_is_read_as_the_action_reads_it_when_known_now() {
        let known = |value: Value| known_duration(&value).ok().flatten();
        assert_eq!(known(json!("10m")), Some(Duration::from_secs(600)));
        // A bare number is seconds, as HumaneDuration reads it.
        assert_eq!(known(json!(600)), Some(Duration::from_secs(600)));
        assert!(matches!(known_duration(&Value::Null), Ok(None)));
        assert!(matches!(
            known_duration(&json!(marker("$.steps.x.timeout"))),
            Err(DurationNotKnown::AtRunTime)
        ));
        assert!(matches!(
            known_duration(&json!("soon")),
            Err(DurationNotKnown::Unreadable(why)) if why.contains("soon")
        ));
    }

    #[test]
    fn a_lone_marker_is_its_path_and_text_around_markers_is_a_format() {
        let role = marker("$.steps.role.role_arn");
        let item = marker("$.item");
        let value = json!({
            "RoleArn": role,
            "Name": format!("{item}-JobExecutionRole"),
            "Plain": "it's {literal}",
            "Sizes": [1, 2],
        });
        assert_eq!(
            parameters(&value).expect("translates"),
            json!({
                "RoleArn.$": "$.steps.role.role_arn",
                "Name.$": "States.Format('{}-JobExecutionRole', $.item)",
                "Plain": "it's {literal}",
                "Sizes": [1, 2],
            })
        );
    }

    #[test]
    fn reserved_characters_of_format_literals_are_escaped() {
        let text = format!("{{\"a\": 'b'}} \\ {}", marker(ACCOUNT_ID));
        assert_eq!(
            expression(&text),
            format!("States.Format('\\{{\"a\": \\'b\\'\\}} \\\\ {{}}', {ACCOUNT_ID})")
        );
    }

    #[test]
    fn a_list_of_strings_with_markers_is_built_with_states_array() {
        let value = json!({"Items": [format!("a-{}", marker(REGION)), "b", 3]});
        assert_eq!(
            parameters(&value).expect("translates"),
            json!({"Items.$": format!("States.Array(States.Format('a-{{}}', {REGION}), 'b', 3)")})
        );
        let nested = json!({"Items": [{"k": marker("$.item")}]});
        assert_eq!(
            parameters(&nested),
            Err(Untranslatable::StructuredList(".Items".into()))
        );
    }
}
