//! `sleep`: waits a fixed time (virtual time on `sim`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use runbook_backend::ActionError;
use runbook_backend::duration::HumaneDuration;

/// The action; [`SleepInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct Sleep;

/// Waits for a fixed time, e.g. "submit the high-priority job a minute later". On `sim`
/// the time is virtual and costs no wall time (unless `--sim-speed` is given).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SleepInput {
    /// How long to wait, e.g. `60s`, `5m`, `1h30m`.
    duration: HumaneDuration,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SleepOutput {
    /// Milliseconds waited on the target's clock, from the first start of the step
    /// (including any time before a resume).
    slept_ms: u64,
}

impl Action for Sleep {
    type Input = SleepInput;
    type Output = SleepOutput;
    const NAME: &'static str = "sleep";
    const SUMMARY: &'static str = "Wait a fixed time (virtual time on sim).";
    const EFFECTS: Effects = Effects::Observes;

    async fn run(&self, input: SleepInput, ctx: &StepContext) -> Result<SleepOutput, ActionError> {
        // Until the original deadline: a sleep re-entered by `resume` sleeps only what
        // was left of it when the run stopped.
        ctx.sleep(ctx.until(ctx.deadline_ms(input.duration.0)))
            .await?;
        Ok(SleepOutput {
            slept_ms: u64::try_from(input.duration.0.as_millis()).unwrap_or(u64::MAX),
        })
    }
}
