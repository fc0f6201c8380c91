//! `assert`: fails the step unless conditions over earlier outputs hold.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use runbook_backend::ActionError;

/// The action; [`AssertInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct Assert;

/// Checks that one or more template expressions are true, e.g.
/// `that: "{{ steps.count.outputs.stdout | trim | int == 3 }}"`. Fails with `message`
/// (and the expression that was false) otherwise.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssertInput {
    /// A condition, or a list of conditions, that must all be true. Write each as a
    /// lone `{{ expression }}` so it renders to a boolean.
    that: OneOrMany,
    /// What to say when a condition is false.
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(bool),
    Many(Vec<bool>),
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AssertOutput {
    /// How many conditions were checked (all true).
    checked: usize,
}

impl Action for Assert {
    type Input = AssertInput;
    type Output = AssertOutput;
    const NAME: &'static str = "assert";
    const SUMMARY: &'static str = "Fail unless conditions over earlier outputs are true.";
    const EFFECTS: Effects = Effects::Pure;

    async fn run(
        &self,
        input: AssertInput,
        ctx: &StepContext,
    ) -> Result<AssertOutput, ActionError> {
        let values = match input.that {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(vs) => vs,
        };
        let raw = ctx.raw_input.get("that");
        for (i, holds) in values.iter().enumerate() {
            if !holds {
                let expression = match raw {
                    Some(serde_json::Value::Array(items)) => items.get(i).map(render_raw),
                    Some(other) => Some(render_raw(other)),
                    None => None,
                };
                let mut text = input
                    .message
                    .clone()
                    .unwrap_or_else(|| "assertion failed".into());
                if let Some(expr) = expression {
                    text.push_str(&format!(" (false: {expr})"));
                }
                return Err(ActionError::Failed(text));
            }
        }
        Ok(AssertOutput {
            checked: values.len(),
        })
    }
}

fn render_raw(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
