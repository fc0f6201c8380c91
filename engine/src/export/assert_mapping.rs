//! `assert` as Choice states: each condition that reads values known only when the
//! execution runs is a Choice whose rule (written as a `when` is, see [`when_choice`])
//! goes on to the next condition, and whose default is a Fail state with the run's
//! words (`message`, or "assertion failed", and the condition that was false); a
//! condition known at export time is checked now (a false one is the Fail state alone,
//! as the run would fail there). The step keeps `checked`, as the run's output.
//!
//! [`when_choice`]: super::when_choice

use serde_json::{Map, Value, json};

use super::action_mapping::Mapping;
use super::states::State;
use super::step_input::{self, Scope};
use super::when_choice::condition;
use crate::diagnostic::Diagnostic;
use crate::runbook::StepDef;
use crate::yaml::{Node, NodeKind};

/// The error a false condition fails the execution with.
const ASSERTION_FAILED: &str = "AssertionFailed";

/// The states of assert step `def`.
pub(super) fn assert_states(def: &StepDef, scope: &Scope<'_>) -> Result<Mapping, Diagnostic> {
    let that = def
        .with
        .get("that")
        .ok_or_else(|| Diagnostic::new("assert needs `that`", def.with.pos, def.with.width()))?;
    let conditions: Vec<&Node> = match &that.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![that],
    };
    let message = match def.with.get("message") {
        None => "assertion failed".to_string(),
        Some(node) => match step_input::render(node, scope)? {
            Value::String(text) if !super::runtime_value::is_dynamic(&text) => text,
            _ => {
                return Err(Diagnostic::new(
                    "assert's `message` must be known at export time (a Fail state's cause is written into the definition)",
                    node.pos,
                    node.width(),
                ));
            }
        },
    };
    let name = |what: String| format!("{} {what}", def.id);
    let outputs = name("outputs".into());
    // Each condition still to check at run time (its rule), or known false now (None).
    let mut checks: Vec<(usize, Option<Value>, String)> = Vec::new();
    for (i, node) in conditions.iter().enumerate() {
        let text = node
            .as_str()
            .map_or_else(|| node.to_json().to_string(), str::to_string);
        let runtime = node.as_str().is_some_and(step_input::reads_run_time_values);
        let rule = if runtime {
            Some(condition(node, scope, "this condition")?)
        } else {
            match step_input::render(node, scope)? {
                Value::Bool(true) => continue,
                Value::Bool(false) => None,
                other => {
                    return Err(Diagnostic::new(
                        format!(
                            "an assert condition must be true or false, not {}",
                            crate::template::json_type_name(&other)
                        ),
                        node.pos,
                        node.width(),
                    ));
                }
            }
        };
        checks.push((i + 1, rule, text));
    }
    let mut states = Vec::new();
    for (at, (number, rule, text)) in checks.iter().enumerate() {
        let failed = name(format!("condition {number} false"));
        let next = checks
            .get(at + 1)
            .map_or(outputs.clone(), |(n, rule, _)| match rule {
                Some(_) => name(format!("condition {n}?")),
                None => name(format!("condition {n} false")),
            });
        if let Some(rule) = rule {
            let mut rule = rule.clone();
            rule["Next"] = json!(next);
            states.push(State {
                name: name(format!("condition {number}?")),
                body: Map::from_iter([
                    ("Type".to_string(), json!("Choice")),
                    ("Choices".to_string(), json!([rule])),
                    ("Default".to_string(), json!(failed)),
                ]),
            });
        }
        states.push(super::status_polling::fail(
            failed,
            ASSERTION_FAILED,
            &format!("{message} (false: {text})"),
        ));
    }
    states.push(
        State::pass(outputs, json!({"checked": conditions.len()}))
            .set("ResultPath", json!(format!("$.steps.{}", def.id))),
    );
    Ok(Mapping {
        states,
        calls: Vec::new(),
        output_names: vec!["checked"],
        integrations: vec!["a Choice per condition, a Fail state when one is false".into()],
    })
}
