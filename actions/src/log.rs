//! `log`: says something on the run's output.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use runbook_backend::ActionError;

/// The action; [`LogInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct Log;

/// Prints a message on the run's output (and records it), e.g. to narrate a demo.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogInput {
    /// The text to print; templates such as `{{ steps.low_job.outputs.job_id }}` are
    /// rendered first.
    message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct LogOutput {
    /// The message as printed.
    message: String,
}

impl Action for Log {
    type Input = LogInput;
    type Output = LogOutput;
    const NAME: &'static str = "log";
    const SUMMARY: &'static str = "Print a message on the run's output.";
    const EFFECTS: Effects = Effects::Pure;

    async fn run(&self, input: LogInput, ctx: &StepContext) -> Result<LogOutput, ActionError> {
        ctx.say(&input.message);
        Ok(LogOutput {
            message: input.message,
        })
    }
}
