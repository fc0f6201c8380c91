//! `cancel-job`: EMR CancelJobRun.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::job_lookup;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;

/// The action; [`CancelJobInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CancelJob;

/// Cancels a job run. With `if_running: true` (for `finally` clean-up) a job that has
/// already ended is left alone instead of failing the step.
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

    async fn run(
        &self,
        input: CancelJobInput,
        ctx: &StepContext,
    ) -> Result<CancelJobOutput, ActionError> {
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
        ctx.target
            .emr
            .cancel_job_run(&job.virtual_cluster_id, &job.id)
            .await?;
        let after = ctx
            .target
            .emr
            .describe_job_run(&job.virtual_cluster_id, &job.id)
            .await?;
        Ok(CancelJobOutput {
            job_id: after.id,
            cancelled: true,
            state: after.state,
        })
    }

    fn planned_calls(
        input: &CancelJobInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let target = &plan.target;
        let (mut calls, vc) =
            job_lookup::planned_job_run(target, &input.job, input.virtual_cluster_id.as_deref());
        let when = if input.if_running {
            "if the job has not ended (an ended job is left alone)"
        } else {
            "if the job has not ended (an ended job fails the step)"
        };
        let emr = &target.emr;
        let mut cancel = emr.planned_cancel_job_run(&vc, &input.job);
        cancel.extend(
            emr.planned_describe_job_run(&vc, &input.job)
                .note("its state after the request"),
        );
        calls.extend(cancel.under(when));
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use runbook_sim::JobState;
    use serde_json::json;

    use crate::test_support::{SimWorld, low_job};

    fn state(world: &SimWorld, job: &str) -> JobState {
        world.sim.world().job_run_by_id(job).expect("job").state
    }

    #[tokio::test]
    async fn cancels_a_running_job() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        world
            .run(
                "wait-for-pods",
                json!({"job": job, "role": "executor", "running": 2}),
            )
            .await
            .expect("running");
        assert_eq!(state(&world, &job), JobState::Running);

        let out = world
            .run("cancel-job", json!({"job": job}))
            .await
            .expect("cancelled");
        assert_eq!(out["job_id"], job.as_str());
        assert_eq!(out["cancelled"], true);
        let after = state(&world, &job);
        assert!(
            matches!(after, JobState::CancelPending | JobState::Cancelled),
            "{after}"
        );
        assert_eq!(out["state"], after.as_str());

        let t0 = world.now_ms();
        world
            .run("wait-for-job", json!({"job": job, "expect": ["CANCELLED"]}))
            .await
            .expect("cancelled in the end");
        assert_eq!(state(&world, &job), JobState::Cancelled);
        assert!(
            world.now_ms() - t0 < 120_000,
            "cancelled, not run to its end"
        );
        let left = world
            .sim
            .world()
            .job_pods(&job)
            .iter()
            .filter(|p| !p.is_deleted())
            .count();
        assert_eq!(left, 0, "its pods are gone");
    }

    #[tokio::test]
    async fn a_finished_job_fails_the_step_unless_if_running() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        world
            .run("wait-for-job", json!({"job": job}))
            .await
            .expect("completed");
        let err = world
            .run("cancel-job", json!({"job": job}))
            .await
            .expect_err("already ended");
        assert_eq!(
            err.to_string(),
            format!(
                "job {job} (monthly-batch-low-priority-job) has already ended COMPLETED; use `if_running: true` to allow that"
            )
        );
        let out = world
            .run("cancel-job", json!({"job": job, "if_running": true}))
            .await
            .expect("left alone");
        assert_eq!(
            out,
            json!({"job_id": job, "cancelled": false, "state": "COMPLETED"})
        );
        assert_eq!(state(&world, &job), JobState::Completed);
    }

    #[tokio::test]
    async fn unknown_jobs_are_explained() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let err = world
            .run("cancel-job", json!({"job": "nope", "if_running": true}))
            .await
            .expect_err("no such job, even with if_running");
        assert_eq!(err.to_string(), "unknown job run `nope`");

        let err = world
            .run(
                "cancel-job",
                json!({"job": job, "virtual_cluster_id": "not-its-vc"}),
            )
            .await
            .expect_err("wrong virtual cluster");
        assert!(err.to_string().contains("DescribeJobRun"), "{err}");
        assert_eq!(state(&world, &job), JobState::Pending, "not cancelled");

        let err = world
            .run("cancel-job", json!({"job": job, "force": true}))
            .await
            .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `force`"), "{err}");
    }
}
