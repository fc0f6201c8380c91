//! `runbook schema`: the JSON Schema of the runbook format with every action's `with:`,
//! so editors (yaml-language-server) complete and check runbooks as they are typed.

use serde_json::{Map, Value, json};

use crate::exit::Exit;

pub(super) fn print_schema() -> Exit {
    println!(
        "{}",
        serde_json::to_string_pretty(&runbook_schema()).unwrap_or_default()
    );
    Exit::Ok
}

/// Builds the schema from the catalog: one `oneOf` branch per action, keyed by the
/// `action` constant, with the action's input schema as `with`.
pub fn runbook_schema() -> Value {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    for action in runbook_actions::catalog() {
        let prefix = format!("{}.", action.name());
        let mut input = action.input_schema();
        if let Some(Value::Object(own)) = input.as_object_mut().and_then(|o| o.remove("$defs")) {
            for (name, def) in own {
                defs.insert(format!("{prefix}{name}"), rewrite_refs(def, &prefix));
            }
        }
        let mut input = rewrite_refs(input, &prefix);
        if let Some(o) = input.as_object_mut() {
            o.remove("$schema");
            o.remove("title");
        }
        let with_name = format!("with.{}", action.name());
        defs.insert(with_name.clone(), input);
        branches.push(json!({
            "properties": {
                "action": {"const": action.name(), "description": action.summary()},
                "with": {"$ref": format!("#/$defs/{with_name}")}
            }
        }));
    }
    let action_names: Vec<&str> = runbook_actions::catalog()
        .iter()
        .map(|a| a.name())
        .collect();
    let duration = json!({
        "type": ["string", "integer"],
        "description": "A duration such as `90s`, `10m` or `1h30m` (a bare integer is seconds)."
    });
    defs.insert(
        "step".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "action"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "Unique step id; later steps read `steps.<id>.outputs`."},
                "action": {"enum": action_names, "description": "The action to run (`runbook actions` lists them)."},
                "with": {"type": "object", "description": "The action's input; strings may be templates."},
                "when": {"type": ["boolean", "string"], "description": "Run only if this is true (a lone `{{ expression }}`)."},
                "for_each": {"type": ["array", "string"], "description": "Run once per item (a list, or a lone `{{ expression }}` giving one); `item` and `index` are defined."},
                "needs": {"type": ["array", "string"], "items": {"type": "string"}, "description": "Steps to wait for; without `needs` a step waits for every earlier step."},
                "retry": {
                    "type": "object",
                    "additionalProperties": false,
                    "description": "Retry a failed step with exponential backoff and jitter.",
                    "properties": {
                        "attempts": {"type": "integer", "minimum": 1, "description": "Total attempts, including the first."},
                        "delay": {"$ref": "#/$defs/duration", "description": "Delay before the second attempt."},
                        "backoff": {"type": "number", "minimum": 1, "description": "Factor applied to the delay after each attempt."},
                        "max_delay": {"$ref": "#/$defs/duration", "description": "Upper bound of the delay."}
                    }
                },
                "timeout": {"$ref": "#/$defs/duration", "description": "Bound on one attempt (virtual time on sim)."},
                "continue_on_error": {"type": "boolean", "description": "Keep going when this step fails."},
                "parallel": {"type": "integer", "minimum": 1, "maximum": 64, "description": "With `for_each`: how many instances run at once (default 1: in order)."}
            },
            "oneOf": branches
        }),
    );
    defs.insert("duration".into(), duration);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "runbook",
        "description": "A runbook: templated steps that stand up and exercise Amazon EMR on EKS.",
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "steps"],
        "properties": {
            "name": {"type": "string", "description": "The runbook's name."},
            "description": {"type": "string"},
            "params": {
                "type": "object",
                "description": "Parameters, overridable with --set key=value.",
                "additionalProperties": {
                    "type": ["object", "null"],
                    "additionalProperties": false,
                    "properties": {
                        "type": {"enum": ["string", "integer", "number", "boolean", "list", "map"]},
                        "default": {},
                        "required": {"type": "boolean"},
                        "secret": {"type": "boolean", "description": "Masked in output and never stored."},
                        "description": {"type": "string"}
                    }
                }
            },
            "vars": {"type": "object", "description": "Values computed once, in order, from params."},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "finally": {"type": "array", "items": {"$ref": "#/$defs/step"}, "description": "Steps that always run, also after failure."}
        },
        "$defs": defs
    })
}

/// Points `$ref`s of an action's schema at the prefixed copies of its definitions.
fn rewrite_refs(value: Value, prefix: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if k == "$ref" {
                        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix("#/$defs/")) {
                            return (k, Value::String(format!("#/$defs/{prefix}{name}")));
                        }
                    }
                    (k, rewrite_refs(v, prefix))
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rewrite_refs(v, prefix)).collect())
        }
        other => other,
    }
}
