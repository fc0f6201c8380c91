//! The runbook format v1 as a document: the one definition of its keys, their types,
//! bounds and descriptions.
//!
//! `runbook schema` derives the editors' JSON Schema from these types (schemars, as the
//! actions' inputs are), and the loader takes its key lists, bounds and type names from
//! the same place, so what an editor flags and what `runbook validate` refuses cannot
//! drift apart. The loader still walks the YAML tree itself rather than deserializing
//! into these types: its diagnostics need every node's position, and templates stay
//! nodes until run time (see `model`).
//!
//! The doc comments of the fields are the schema's descriptions, which editors show
//! while a runbook is typed; they are written for the runbook's author.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use runbook_backend::duration::HumaneDuration;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use super::model::ParamType;

/// The most `for_each` instances of one step that run at once: independent cloud calls go
/// faster side by side, and this keeps AWS from throttling them.
pub const MAX_PARALLEL: i64 = 64;
/// The fewest instances `parallel` may name (1: one after the other, in order).
pub const MIN_PARALLEL: i64 = 1;
/// The fewest attempts a `retry` may name (the first attempt counts).
pub const MIN_ATTEMPTS: i64 = 1;
/// The most attempts a `retry` may name: more is a loop, not a retry.
pub const MAX_ATTEMPTS: i64 = 1000;
/// The smallest `backoff` factor: below 1 the delays would shrink.
pub const MIN_BACKOFF: f64 = 1.0;
/// What a step id, a parameter name and a variable name look like: they are read in
/// templates as `steps.<id>`, `params.<name>` and `vars.<name>`.
pub const IDENTIFIER_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// The keys of the runbook's top-level mapping, in the order messages list them.
pub(crate) static RUNBOOK_KEYS: LazyLock<Vec<String>> =
    LazyLock::new(property_names::<RunbookDocument>);
/// The keys of a parameter's definition.
pub(crate) static PARAM_KEYS: LazyLock<Vec<String>> =
    LazyLock::new(property_names::<ParamDocument>);
/// The keys of a step.
pub(crate) static STEP_KEYS: LazyLock<Vec<String>> = LazyLock::new(property_names::<StepDocument>);
/// The keys of the runbook's `defaults`.
pub(crate) static DEFAULTS_KEYS: LazyLock<Vec<String>> =
    LazyLock::new(property_names::<DefaultsDocument>);
/// The keys of a step's `retry`.
pub(crate) static RETRY_KEYS: LazyLock<Vec<String>> =
    LazyLock::new(property_names::<RetryDocument>);

/// The JSON Schema of a runbook file, without the per-action `with:` branches (the CLI
/// adds those from the catalog).
pub fn runbook_schema() -> Schema {
    schemars::schema_for!(RunbookDocument)
}

/// The property names of a format type's schema, in declaration order: the keys the
/// loader accepts in the mapping that type describes.
fn property_names<T: JsonSchema>() -> Vec<String> {
    schemars::schema_for!(T)
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// A runbook file.
#[derive(JsonSchema)]
#[schemars(
    title = "runbook",
    description = "A runbook: templated steps that stand up and exercise Amazon EMR on EKS.",
    deny_unknown_fields,
    transform = optional_keys_are_never_null
)]
pub struct RunbookDocument {
    /// The runbook's name.
    pub name: String,
    /// What the runbook is for.
    pub description: Option<String>,
    /// Parameters, overridable with --set key=value.
    pub params: Option<BTreeMap<String, Option<ParamDocument>>>,
    /// Values computed once, in order, from params.
    pub vars: Option<Map<String, Value>>,
    /// `retry` and `timeout` for every step that does not give its own.
    pub defaults: Option<DefaultsDocument>,
    /// The steps; without `needs`, each waits for every earlier step.
    pub steps: Vec<StepDocument>,
    /// Steps that always run, also after failure.
    pub finally: Option<Vec<StepDocument>>,
}

/// A parameter's definition; `name:` alone is a string parameter without a default.
#[derive(JsonSchema)]
#[schemars(inline, deny_unknown_fields, transform = optional_keys_are_never_null)]
pub struct ParamDocument {
    /// The type `--set` values are converted to; without it, the default's type, else `string`.
    #[schemars(rename = "type")]
    pub ty: Option<ParamType>,
    /// The value when `--set` does not give one.
    pub default: Option<Value>,
    /// Refuse to run unless `--set` gives a value (a required parameter has no default).
    pub required: Option<bool>,
    /// Masked in output and never stored.
    pub secret: Option<bool>,
    /// What the parameter is for.
    pub description: Option<String>,
}

/// One step of `steps` or `finally`.
#[derive(JsonSchema)]
#[schemars(
    rename = "step",
    deny_unknown_fields,
    transform = optional_keys_are_never_null
)]
pub struct StepDocument {
    /// Unique step id; later steps read `steps.<id>.outputs`.
    #[schemars(regex(pattern = IDENTIFIER_PATTERN))]
    pub id: String,
    /// The action to run (`runbook actions` lists them).
    #[schemars(schema_with = "action_names")]
    pub action: String,
    /// The action's input; strings may be templates.
    pub with: Option<Map<String, Value>>,
    /// Run only if this is true (a lone `{{ expression }}`).
    pub when: Option<Condition>,
    /// Run once per item (a list, or a lone `{{ expression }}` giving one); `item` and `index` are defined.
    pub for_each: Option<Items>,
    /// Steps to wait for; without `needs` a step waits for every earlier step.
    pub needs: Option<Needs>,
    /// Retry a failed step with exponential backoff and jitter.
    pub retry: Option<RetryDocument>,
    /// Bound on one attempt (virtual time on sim).
    pub timeout: Option<HumaneDuration>,
    /// Keep going when this step fails.
    pub continue_on_error: Option<bool>,
    /// With `for_each`: how many instances run at once (default 1: in order).
    #[schemars(range(min = MIN_PARALLEL, max = MAX_PARALLEL))]
    pub parallel: Option<u32>,
}

/// The runbook's `defaults:` for its steps (not for the steps of runbooks it includes,
/// which have their own).
#[derive(JsonSchema)]
#[schemars(inline, deny_unknown_fields, transform = optional_keys_are_never_null)]
pub struct DefaultsDocument {
    /// The `retry` of every step without its own (not of `runbook` steps, which are
    /// not retried as a whole).
    pub retry: Option<RetryDocument>,
    /// The `timeout` of every step without its own.
    pub timeout: Option<HumaneDuration>,
}

/// How a failed step is retried.
#[derive(JsonSchema)]
#[schemars(inline, deny_unknown_fields, transform = optional_keys_are_never_null)]
pub struct RetryDocument {
    /// Total attempts, including the first.
    #[schemars(range(min = MIN_ATTEMPTS, max = MAX_ATTEMPTS))]
    pub attempts: Option<u32>,
    /// Delay before the second attempt.
    pub delay: Option<HumaneDuration>,
    /// Factor applied to the delay after each attempt.
    #[schemars(range(min = MIN_BACKOFF))]
    pub backoff: Option<f64>,
    /// Upper bound of the delay.
    pub max_delay: Option<HumaneDuration>,
}

/// A step's `when`.
#[derive(JsonSchema)]
#[schemars(inline, untagged)]
pub enum Condition {
    Literal(bool),
    /// A lone `{{ expression }}`.
    Expression(String),
}

/// A step's `for_each`.
#[derive(JsonSchema)]
#[schemars(inline, untagged)]
pub enum Items {
    List(Vec<Value>),
    /// A lone `{{ expression }}` giving a list.
    Expression(String),
}

/// A step's `needs`: one step id, or a list of them.
#[derive(JsonSchema)]
#[schemars(inline, untagged)]
pub enum Needs {
    List(Vec<String>),
    One(String),
}

/// The schema of a step's `action`: the catalog's names.
fn action_names(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = crate::runbook::all_actions()
        .iter()
        .map(|a| a.name())
        .collect();
    json_schema!({ "enum": names })
}

impl JsonSchema for ParamType {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ParamType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = ParamType::names().collect();
        json_schema!({ "enum": names })
    }
}

/// schemars lets an `Option` field be `null`, but in a runbook an optional key is left
/// out, never written as `~` (the loader refuses `timeout: ~`); this takes the `null`
/// back out of the properties, so that editors flag what `runbook validate` refuses.
/// (A parameter written as `name:` is a value of the `params` map, not a property, and
/// stays allowed.)
fn optional_keys_are_never_null(schema: &mut Schema) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        if let Value::Object(property) = property {
            reject_null(property);
        }
    }
}

/// Undoes each way schemars allows `null`: in `type`, in `enum`, or as an `anyOf`
/// branch beside a `$ref` or an untagged enum.
fn reject_null(schema: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(branches)) = schema.get_mut("anyOf") {
        branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
        if branches.len() == 1 {
            if let Some(Value::Object(only)) = branches.pop() {
                schema.remove("anyOf");
                for (key, value) in only {
                    schema.entry(key).or_insert(value);
                }
            }
        }
    }
}
