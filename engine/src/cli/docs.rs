//! `runbook actions [NAME]`: the catalog and each action's documentation, generated
//! from the input and output structs' doc comments (through their JSON Schema).

use serde_json::Value;

use crate::error::Error;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct ActionsArgs {
    /// Document this action
    pub name: Option<String>,
}

pub(super) fn actions(args: &ActionsArgs) -> Result<Exit, Error> {
    let Some(name) = &args.name else {
        let width = crate::runbook::all_actions()
            .iter()
            .map(|a| a.name().len())
            .max()
            .unwrap_or(0);
        for action in crate::runbook::all_actions() {
            println!("{:<width$}  {}", action.name(), action.summary());
        }
        println!("\n`runbook actions NAME` documents one.");
        return Ok(Exit::Ok);
    };
    let Some(action) = crate::runbook::find_action(name) else {
        let help = crate::diagnostic::did_you_mean(
            name,
            crate::runbook::all_actions().iter().map(|a| a.name()),
        );
        return Err(Error::UnknownAction {
            name: name.clone(),
            help,
        });
    };
    print!("{}", document(action));
    Ok(Exit::Ok)
}

/// The help text of one action.
pub(crate) fn document(action: &dyn runbook_actions::ErasedAction) -> String {
    let input = action.input_schema();
    let output = action.output_schema();
    let mut out = format!("{}: {}\n", action.name(), action.summary());
    if let Some(desc) = input.get("description").and_then(Value::as_str) {
        out.push_str(&format!("\n{}\n", desc.trim()));
    }
    let effects = match action.effects() {
        runbook_actions::Effects::Pure => "none (checkpointed when it finishes)",
        runbook_actions::Effects::Observes => "none, takes time (its start is recorded)",
        runbook_actions::Effects::Mutates => {
            "changes things outside the run (its idempotency key is fsynced before it runs)"
        }
    };
    out.push_str(&format!("\nside effects: {effects}\n"));
    out.push_str("\ninputs (with:):\n");
    out.push_str(&fields(&input, true));
    out.push_str("\noutputs (steps.<id>.outputs):\n");
    out.push_str(&fields(&output, false));
    out
}

fn fields(schema: &Value, show_required: bool) -> String {
    if schema
        .get("properties")
        .and_then(Value::as_object)
        .is_none()
    {
        return "  (none)\n".into();
    }
    let mut out = String::new();
    fields_at(schema, schema, show_required, 2, &mut out);
    out
}

/// The fields of `object` (resolved against `root`), `indent` spaces in, each with its
/// type, whether it is required (inputs), its description, and the fields of a map (or
/// a list of maps) nested under it: authors read what `nodegroup:` or an output's
/// list entries hold without opening the schema.
fn fields_at(object: &Value, root: &Value, show_required: bool, indent: usize, out: &mut String) {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    let pad = " ".repeat(indent);
    for (name, prop) in props {
        let mut line = format!("{pad}{name}: {}", type_of(prop, root));
        if show_required {
            if required.contains(&name.as_str()) {
                line.push_str(", required");
            } else if let Some(default) = prop.get("default").filter(|d| !d.is_null()) {
                line.push_str(&format!(", default {default}"));
            } else {
                line.push_str(", optional");
            }
        }
        out.push_str(&line);
        out.push('\n');
        if let Some(desc) = prop.get("description").and_then(Value::as_str) {
            for l in desc.lines() {
                out.push_str(&format!("{pad}    {l}\n"));
            }
        }
        if let Some(nested) = nested_object(prop, root).filter(|_| indent < 10) {
            fields_at(nested, root, show_required, indent + 4, out);
        }
    }
}

/// The object schema a property holds, or holds a list of, if it has named fields.
fn nested_object<'a>(prop: &'a Value, root: &'a Value) -> Option<&'a Value> {
    let resolved = resolve(prop, root);
    let object = match resolved.get("type").and_then(Value::as_str) {
        Some("array") => resolve(resolved.get("items")?, root),
        _ => resolved,
    };
    object.get("properties").and_then(Value::as_object)?;
    Some(object)
}

/// `prop` with a `$ref` followed into `root`'s `$defs`.
fn resolve<'a>(prop: &'a Value, root: &'a Value) -> &'a Value {
    prop.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| root.get("$defs")?.get(r.rsplit('/').next()?))
        .unwrap_or(prop)
}

fn type_of(prop: &Value, root: &Value) -> String {
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), String::from))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        if let Some(def) = root.get("$defs").and_then(|d| d.get(name)) {
            return type_of(def, root);
        }
        return name.to_string();
    }
    if let Some(alts) = prop
        .get("anyOf")
        .or_else(|| prop.get("oneOf"))
        .and_then(Value::as_array)
    {
        // An enum documented value by value (a `const` each) reads as its values.
        let names: Vec<String> = alts
            .iter()
            .map(|a| match a.get("const") {
                Some(Value::String(v)) => v.clone(),
                Some(other) => other.to_string(),
                None => type_of(a, root),
            })
            .filter(|t| t != "null")
            .collect();
        return names.join(" | ");
    }
    match prop.get("type") {
        Some(Value::String(t)) => word(t, prop, root),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(|t| word(t, prop, root))
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    }
}

fn word(t: &str, prop: &Value, root: &Value) -> String {
    match t {
        "array" => match prop.get("items") {
            Some(items) => format!("list of {}", type_of(items, root)),
            None => "list".into(),
        },
        "object" => "map".into(),
        other => other.into(),
    }
}
