//! `runbook schema`: the JSON Schema of the runbook format with every action's `with:`,
//! so editors (yaml-language-server) complete and check runbooks as they are typed.

use serde_json::{Map, Value, json};

use schemars::JsonSchema;

use crate::exit::Exit;
use crate::runbook::format::{self, StepDocument};

pub(super) fn print_schema() -> Exit {
    println!(
        "{}",
        serde_json::to_string_pretty(&runbook_schema()).unwrap_or_default()
    );
    Exit::Ok
}

/// The runbook format's schema, derived from its types (`runbook::format`), with one
/// `oneOf` branch per action in the step: keyed by the `action` constant, with the
/// action's input schema as `with`.
pub fn runbook_schema() -> Value {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    for action in crate::runbook::all_actions() {
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
    let mut schema = format::runbook_schema().to_value();
    if let Some(Value::Object(format_defs)) = schema.get_mut("$defs") {
        if let Some(Value::Object(step)) = format_defs.get_mut(&*StepDocument::schema_name()) {
            step.insert("oneOf".into(), Value::Array(branches));
        }
        // The actions' definitions first, as the file has always listed them.
        defs.extend(std::mem::take(format_defs));
        *format_defs = defs;
    }
    headed(schema)
}

/// `schema` with `$schema`, `title` and `description` first (schemars puts them last),
/// where a reader of `runbook.schema.json` looks for what the file is.
fn headed(schema: Value) -> Value {
    let Value::Object(mut rest) = schema else {
        return schema;
    };
    let mut headed = Map::new();
    for key in ["$schema", "title", "description"] {
        if let Some(value) = rest.shift_remove(key) {
            headed.insert(key.into(), value);
        }
    }
    headed.extend(rest);
    Value::Object(headed)
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

/// The schema editors use and the loader `runbook validate` runs must describe one
/// format: these tests read the printed schema and hold the loader to it.
#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::runbook_schema;
    use crate::runbook::format::{
        MAX_ATTEMPTS, MAX_PARALLEL, MIN_ATTEMPTS, MIN_PARALLEL, PARAM_KEYS, RETRY_KEYS,
        RUNBOOK_KEYS, STEP_KEYS,
    };
    use crate::runbook::{ParamType, load_str};

    /// The places of the format's mappings in the printed schema.
    const RUNBOOK: &str = "";
    const PARAM: &str = "/properties/params/additionalProperties";
    const STEP: &str = "/$defs/step";
    const RETRY: &str = "/$defs/step/properties/retry";

    fn at<'a>(schema: &'a Value, pointer: &str) -> &'a Value {
        schema
            .pointer(pointer)
            .unwrap_or_else(|| panic!("the schema has nothing at {pointer}"))
    }

    fn property_names(schema: &Value, pointer: &str) -> Vec<String> {
        at(schema, &format!("{pointer}/properties"))
            .as_object()
            .unwrap_or_else(|| panic!("{pointer}/properties is not an object"))
            .keys()
            .cloned()
            .collect()
    }

    /// The loader's messages for `text`, or nothing if it loads.
    fn errors(text: &str) -> Vec<String> {
        match load_str(text) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.into_iter().map(|d| d.message).collect(),
        }
    }

    #[test]
    fn the_loaders_keys_are_the_schemas_properties() {
        let schema = runbook_schema();
        for (pointer, keys) in [
            (RUNBOOK, &*RUNBOOK_KEYS),
            (PARAM, &*PARAM_KEYS),
            (STEP, &*STEP_KEYS),
            (RETRY, &*RETRY_KEYS),
        ] {
            assert_eq!(&property_names(&schema, pointer), keys, "at {pointer:?}");
            // Unknown keys are refused by both, not only by the loader.
            assert_eq!(
                at(&schema, &format!("{pointer}/additionalProperties")),
                &Value::Bool(false),
                "at {pointer:?}"
            );
        }
        let types: Vec<&str> = at(&schema, &format!("{PARAM}/properties/type/enum"))
            .as_array()
            .expect("an enum of type names")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(types, ParamType::names().collect::<Vec<_>>());
        // The key lists are not empty by accident (a schema without `properties`).
        assert!(STEP_KEYS.iter().any(|k| k == "parallel"));
    }

    #[test]
    fn a_key_the_schema_does_not_know_is_refused_by_the_loader() {
        let text = "name: x\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n    timout: 5m\n";
        let step_keys = STEP_KEYS
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(
            errors(text),
            [format!(
                "unknown field `timout` in a step, expected one of {step_keys}"
            )]
        );
    }

    /// The bounds of the integer at `pointer` in the schema are `min..=max`, and the
    /// loader refuses just past them with `refused`, naming the bounds.
    fn assert_same_bounds(
        pointer: &str,
        (min, max): (i64, i64),
        runbook: impl Fn(i64) -> String,
        refused: &str,
    ) {
        let schema = runbook_schema();
        let property = at(&schema, pointer);
        assert_eq!(property["minimum"].as_i64(), Some(min), "{pointer}");
        assert_eq!(property["maximum"].as_i64(), Some(max), "{pointer}");
        assert!(
            refused.contains(&format!("from {min} to {max}")),
            "{refused}"
        );
        for outside in [min - 1, max + 1] {
            assert_eq!(
                errors(&runbook(outside)),
                [refused],
                "{pointer} = {outside}"
            );
        }
        for inside in [min, max] {
            assert_eq!(
                errors(&runbook(inside)),
                Vec::<String>::new(),
                "{pointer} = {inside}"
            );
        }
    }

    #[test]
    fn a_parallel_beyond_the_schemas_bounds_is_refused_by_the_loader() {
        assert_same_bounds(
            &format!("{STEP}/properties/parallel"),
            (MIN_PARALLEL, MAX_PARALLEL),
            |n| {
                format!(
                    "name: x\nsteps:\n  - id: a\n    action: log\n    for_each: [1, 2]\n    with: {{ message: hi }}\n    parallel: {n}\n"
                )
            },
            "`parallel` of step `a` must be an integer from 1 to 64",
        );
    }

    #[test]
    fn attempts_beyond_the_schemas_bounds_are_refused_by_the_loader() {
        assert_same_bounds(
            &format!("{RETRY}/properties/attempts"),
            (MIN_ATTEMPTS, MAX_ATTEMPTS),
            |n| {
                format!(
                    "name: x\nsteps:\n  - id: a\n    action: log\n    with: {{ message: hi }}\n    retry: {{ attempts: {n} }}\n"
                )
            },
            "`attempts` in `retry` of step `a` must be an integer from 1 to 1000",
        );
    }

    #[test]
    fn a_step_id_the_schemas_pattern_refuses_is_refused_by_the_loader() {
        let schema = runbook_schema();
        let pattern = at(&schema, &format!("{STEP}/properties/id/pattern"));
        assert_eq!(pattern, "^[a-z][a-z0-9_]*$");
        for id in ["Build", "9lives", "a-b", "_a"] {
            let text = format!(
                "name: x\nsteps:\n  - id: {id}\n    action: log\n    with: {{ message: hi }}\n"
            );
            assert_eq!(
                errors(&text),
                [format!(
                    "step id `{id}` is not a valid identifier ([a-z][a-z0-9_]*)"
                )],
                "{id}"
            );
        }
    }

    /// Each way the schema could let `null` in: a `null` type, or `null` in an `enum`.
    fn allows_null(schema: &Value) -> bool {
        match schema.get("type") {
            Some(Value::String(t)) if t == "null" => return true,
            Some(Value::Array(types)) if types.iter().any(|t| t == "null") => return true,
            _ => {}
        }
        schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| values.iter().any(Value::is_null))
            || ["anyOf", "oneOf"].iter().any(|k| {
                schema
                    .get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|branches| branches.iter().any(allows_null))
            })
    }

    #[test]
    fn an_optional_key_is_left_out_never_null() {
        let schema = runbook_schema();
        for pointer in [RUNBOOK, PARAM, STEP, RETRY] {
            for key in property_names(&schema, pointer) {
                let property = at(&schema, &format!("{pointer}/properties/{key}"));
                // `default` may be anything, `null` included.
                if key != "default" {
                    assert!(
                        !allows_null(property),
                        "{pointer}/properties/{key}: {property}"
                    );
                }
            }
        }
        // `name:` alone declares a string parameter.
        assert!(allows_null(at(&schema, PARAM)));
        assert_eq!(
            errors("name: x\nparams:\n  n:\nsteps: []\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            errors("name: x\ndescription: ~\nsteps: []\n"),
            ["`description` must be a string, not null"]
        );
    }

    #[test]
    fn every_action_is_a_branch_of_the_step() {
        let schema = runbook_schema();
        let branches = at(&schema, &format!("{STEP}/oneOf"))
            .as_array()
            .expect("oneOf is a list");
        let actions: Vec<&str> = branches
            .iter()
            .filter_map(|b| {
                b.pointer("/properties/action/const")
                    .and_then(Value::as_str)
            })
            .collect();
        let catalog: Vec<&str> = crate::runbook::all_actions()
            .iter()
            .map(|a| a.name())
            .collect();
        assert_eq!(actions, catalog);
        for action in catalog {
            at(&schema, &format!("/$defs/with.{action}"));
        }
    }
}
