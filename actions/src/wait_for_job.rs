//! `wait-for-job`: waits for an EMR job run to end.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::duration::{Humane, HumaneDuration};
use crate::error::ActionError;
use crate::job_lookup;
use crate::target::WaitOutcome;

/// Waits until a job run is COMPLETED, FAILED or CANCELLED (virtual time on `sim`), and
/// fails unless it ended in one of the `expect`ed states.
pub(crate) struct WaitForJob;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitForJobInput {
    /// The job run id, e.g. `{{ steps.low_job.outputs.job_id }}`.
    job: String,
    /// The virtual cluster id (looked up from the job when absent).
    #[serde(default)]
    virtual_cluster_id: Option<String>,
    /// Give up after this long.
    #[serde(default = "default_timeout")]
    timeout: HumaneDuration,
    /// End states that count as success (default: `[COMPLETED]`).
    #[serde(default = "default_expect")]
    expect: Vec<String>,
}

fn default_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(3600))
}
fn default_expect() -> Vec<String> {
    vec!["COMPLETED".into()]
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WaitForJobOutput {
    /// The job run id.
    job_id: String,
    /// The state it ended in.
    state: String,
    /// EMR's details of the state.
    state_details: Option<String>,
    /// The failure reason of a FAILED job.
    failure_reason: Option<String>,
    /// Milliseconds waited (target time).
    waited_ms: i64,
    /// When the job was created (ms; virtual time on sim).
    created_at_ms: Option<i64>,
    /// When the job ended (ms; virtual time on sim).
    finished_at_ms: Option<i64>,
}

impl Action for WaitForJob {
    type Input = WaitForJobInput;
    type Output = WaitForJobOutput;
    const NAME: &'static str = "wait-for-job";
    const SUMMARY: &'static str = "Wait for an EMR job run to end; fail on FAILED/CANCELLED unless expected.";
    const EFFECTS: Effects = Effects::Observes;

    async fn run(&self, input: WaitForJobInput, ctx: &StepContext) -> Result<WaitForJobOutput, ActionError> {
        const KNOWN: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];
        if let Some(bad) = input.expect.iter().find(|s| !KNOWN.contains(&s.as_str())) {
            return Err(ActionError::InvalidInput(format!(
                "`expect` lists `{bad}`, which is not an end state (COMPLETED, FAILED, CANCELLED)"
            )));
        }
        let started = ctx.clock.now_ms();
        let deadline = started + i64::try_from(input.timeout.0.as_millis()).unwrap_or(i64::MAX);
        let mut job = job_lookup::job_run(ctx, &input.job, input.virtual_cluster_id.as_deref()).await?;
        let vc = job.virtual_cluster_id.clone();
        while !job.is_terminal() {
            let left = deadline - ctx.clock.now_ms();
            if left <= 0 {
                return Err(ActionError::Failed(format!(
                    "job {} ({}) is still {} after {}",
                    job.id,
                    job.name,
                    job.state,
                    Humane(input.timeout.0)
                )));
            }
            let outcome = ctx.wait_for_change(Some(Duration::from_millis(left.unsigned_abs()))).await?;
            job = ctx.target.emr.describe_job_run(&vc, &job.id).await?;
            if outcome == WaitOutcome::Idle && !job.is_terminal() {
                return Err(ActionError::Failed(format!(
                    "job {} ({}) is {} and nothing more will happen in the simulated world",
                    job.id, job.name, job.state
                )));
            }
        }
        let waited_ms = ctx.clock.now_ms() - started;
        if !input.expect.contains(&job.state) {
            let mut why = format!("job {} ({}) ended {}", job.id, job.name, job.state);
            if let Some(reason) = &job.failure_reason {
                why.push_str(&format!(" ({reason})"));
            }
            if let Some(details) = &job.state_details {
                why.push_str(&format!(": {details}"));
            }
            why.push_str(&format!("; expected {}", input.expect.join(" or ")));
            return Err(ActionError::Failed(why));
        }
        Ok(WaitForJobOutput {
            job_id: job.id,
            state: job.state,
            state_details: job.state_details,
            failure_reason: job.failure_reason,
            waited_ms,
            created_at_ms: job.created_at_ms,
            finished_at_ms: job.finished_at_ms,
        })
    }
}
