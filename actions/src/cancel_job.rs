//! `cancel-job`: EMR CancelJobRun.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::error::ActionError;
use crate::job_lookup;

/// Cancels a job run. With `if_running: true` (for `finally` clean-up) a job that has
/// already ended is left alone instead of failing the step.
pub(crate) struct CancelJob;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelJobInput {
    /// The job run id.
    job: String,
    /// The virtual cluster id (looked up from the job when absent).
    #[serde(default)]
    virtual_cluster_id: Option<String>,
    /// Succeed without doing anything when the job has already ended.
    #[serde(default)]
    if_running: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CancelJobOutput {
    /// The job run id.
    job_id: String,
    /// Whether a cancellation was requested (false: it had already ended).
    cancelled: bool,
    /// The job's state after the request.
    state: String,
}

impl Action for CancelJob {
    type Input = CancelJobInput;
    type Output = CancelJobOutput;
    const NAME: &'static str = "cancel-job";
    const SUMMARY: &'static str = "Cancel an EMR job run (optionally only if it is still running).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(&self, input: CancelJobInput, ctx: &StepContext) -> Result<CancelJobOutput, ActionError> {
        let job = job_lookup::job_run(ctx, &input.job, input.virtual_cluster_id.as_deref()).await?;
        if job.is_terminal() {
            if input.if_running {
                return Ok(CancelJobOutput {
                    job_id: job.id,
                    cancelled: false,
                    state: job.state,
                });
            }
            return Err(ActionError::Failed(format!(
                "job {} ({}) has already ended {}; use `if_running: true` to allow that",
                job.id, job.name, job.state
            )));
        }
        ctx.target.emr.cancel_job_run(&job.virtual_cluster_id, &job.id).await?;
        let after = ctx.target.emr.describe_job_run(&job.virtual_cluster_id, &job.id).await?;
        Ok(CancelJobOutput {
            job_id: after.id,
            cancelled: true,
            state: after.state,
        })
    }
}
