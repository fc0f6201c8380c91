//! `wait-for-job`: waits for an EMR job run to end.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::job_lookup;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;
use runbook_backend::WaitOutcome;
use runbook_backend::duration::{Humane, HumaneDuration};

/// The action; [`WaitForJobInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct WaitForJob;

/// Waits until a job run is COMPLETED, FAILED or CANCELLED (virtual time on `sim`), and
/// fails unless it ended in one of the `expect`ed states.
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

/// Shows the job's state and its pods next to the step's spinner.
async fn report_progress(ctx: &StepContext, job_id: &str, state: &str) {
    if !ctx.wants_progress() {
        return;
    }
    let selector = std::collections::BTreeMap::from([(
        crate::wait_for_pods::LABEL_JOB_ID.to_string(),
        job_id.to_string(),
    )]);
    let pods = match ctx.target.kube.default_cluster().await {
        Ok(cluster) => ctx
            .target
            .kube
            .pods(&cluster, None, &selector)
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let summary = crate::wait_for_pods::job_pods_summary(&pods);
    if summary.is_empty() {
        ctx.progress(state);
    } else {
        ctx.progress(&format!("{state}; {summary}"));
    }
}

impl Action for WaitForJob {
    type Input = WaitForJobInput;
    type Output = WaitForJobOutput;
    const NAME: &'static str = "wait-for-job";
    const SUMMARY: &'static str =
        "Wait for an EMR job run to end; fail on FAILED/CANCELLED unless expected.";
    const EFFECTS: Effects = Effects::Observes;

    async fn run(
        &self,
        input: WaitForJobInput,
        ctx: &StepContext,
    ) -> Result<WaitForJobOutput, ActionError> {
        check_expect(&input.expect)?;
        let deadline = ctx.deadline_ms(input.timeout.0);
        let mut job = crate::patient::read(ctx, deadline, || {
            job_lookup::job_run(ctx, &input.job, input.virtual_cluster_id.as_deref())
        })
        .await?;
        let vc = job.virtual_cluster_id.clone();
        while !job.is_terminal() {
            report_progress(ctx, &job.id, &job.state).await;
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
            let outcome = ctx
                .wait_for_change(Some(Duration::from_millis(left.unsigned_abs())))
                .await?;
            job = crate::patient::read(ctx, deadline, || {
                ctx.target.emr.describe_job_run(&vc, &job.id)
            })
            .await?;
            if outcome == WaitOutcome::Idle && !job.is_terminal() {
                return Err(ActionError::Failed(format!(
                    "job {} ({}) is {} and nothing more will happen in the simulated world",
                    job.id, job.name, job.state
                )));
            }
        }
        let waited_ms = ctx.clock.now_ms() - ctx.started_at_ms;
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

    fn planned_calls(
        input: &WaitForJobInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check_expect(&input.expect)?;
        let target = &plan.target;
        let (mut calls, vc) =
            job_lookup::planned_job_run(target, &input.job, input.virtual_cluster_id.as_deref());
        let repeated = format!(
            "repeated until COMPLETED, FAILED or CANCELLED, for at most {}; {} counts as success",
            Humane(input.timeout.0),
            input.expect.join(" or ")
        );
        calls.extend(
            target
                .emr
                .planned_describe_job_run(&vc, &input.job)
                .note(&repeated),
        );
        Ok(calls)
    }
}

/// `expect` may only name end states: waiting for RUNNING would never end.
fn check_expect(expect: &[String]) -> Result<(), ActionError> {
    const KNOWN: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];
    match expect.iter().find(|s| !KNOWN.contains(&s.as_str())) {
        Some(bad) => Err(ActionError::InvalidInput(format!(
            "`expect` lists `{bad}`, which is not an end state (COMPLETED, FAILED, CANCELLED)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use runbook_sim::JobState;
    use serde_json::json;

    use crate::test_support::{SimWorld, low_job};
    use runbook_backend::ActionError;

    fn state(world: &SimWorld, job: &str) -> JobState {
        world.sim.world().job_run_by_id(job).expect("job").state
    }

    #[tokio::test]
    async fn waits_to_completed_in_virtual_time() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let vc = world
            .sim
            .world()
            .job_run_by_id(&job)
            .expect("job")
            .virtual_cluster_id
            .to_string();
        let t0 = world.now_ms();
        let wall = Instant::now();
        let out = world
            .run(
                "wait-for-job",
                json!({"job": job, "virtual_cluster_id": vc, "timeout": "30m"}),
            )
            .await
            .expect("completed");
        let wall = wall.elapsed();
        let waited = world.now_ms() - t0;
        assert_eq!(out["state"], "COMPLETED");
        assert_eq!(out["job_id"], job.as_str());
        assert_eq!(out["waited_ms"], waited);
        // Five tasks of 20 to 100 s on two one-core executors: at least 3 minutes.
        assert!(waited >= 180_000, "virtual time moved only {waited} ms");
        assert!(
            wall < Duration::from_secs(5),
            "{waited} virtual ms took {wall:?} of wall time"
        );
        assert_eq!(state(&world, &job), JobState::Completed);
        let (created, finished) = (
            out["created_at_ms"].as_i64().expect("created"),
            out["finished_at_ms"].as_i64().expect("finished"),
        );
        assert!(created <= t0 && finished <= world.now_ms() && finished > t0);

        // An ended job is reported at once, without time passing.
        let out = world
            .run("wait-for-job", json!({"job": job}))
            .await
            .expect("still completed");
        assert_eq!(out["waited_ms"], 0);
    }

    /// Waits for `job` in one step while another step cancels it: the second step holds
    /// virtual time still until it has cancelled, so the cancellation lands while the
    /// first one is waiting, long before the job could end by itself.
    async fn wait_while_another_step_cancels(
        world: &SimWorld,
        job: &str,
        expect: serde_json::Value,
    ) -> Result<serde_json::Value, ActionError> {
        let canceller = world.ctx("cancel", "c");
        let waiter = world.ctx("wait", "w");
        let input = json!({"job": job, "expect": expect});
        let waiting = async move {
            let action = crate::find("wait-for-job").expect("action");
            action.run(input, &waiter).await
        };
        let cancelling = async {
            // Let the waiter start waiting first.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let action = crate::find("cancel-job").expect("action");
            let out = action
                .run(json!({"job": job}), &canceller)
                .await
                .expect("cancelled");
            drop(canceller);
            out
        };
        let (waited, cancelled) = tokio::join!(waiting, cancelling);
        assert_eq!(cancelled["cancelled"], true);
        waited
    }

    #[tokio::test]
    async fn a_job_cancelled_meanwhile_fails_the_step_unless_expected() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "first").await;
        let t0 = world.now_ms();
        let err = wait_while_another_step_cancels(&world, &job, json!(["COMPLETED"]))
            .await
            .expect_err("cancelled is not completed");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "job {job} (monthly-batch-low-priority-job) ended CANCELLED"
            )) && message.ends_with("; expected COMPLETED"),
            "{message}"
        );
        assert!(
            world.now_ms() - t0 < 100_000,
            "the wait ended with the cancellation, not with the job"
        );

        let job = world.submit(low_job(), "second").await;
        let out = wait_while_another_step_cancels(&world, &job, json!(["CANCELLED"]))
            .await
            .expect("cancellation expected");
        assert_eq!(out["state"], "CANCELLED");
        assert_eq!(state(&world, &job), JobState::Cancelled);
    }

    #[tokio::test]
    async fn a_timeout_shorter_than_the_job_names_the_state() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let t0 = world.now_ms();
        let err = world
            .run("wait-for-job", json!({"job": job, "timeout": "90s"}))
            .await
            .expect_err("the job takes minutes");
        assert_eq!(world.now_ms() - t0, 90_000, "gave up at the timeout");
        let now = state(&world, &job);
        assert!(!now.is_terminal());
        assert_eq!(
            err.to_string(),
            format!(
                "job {job} (monthly-batch-low-priority-job) is still {} after 1m30s",
                now.as_str()
            )
        );
    }

    #[tokio::test]
    async fn a_failed_job_fails_the_step_with_emrs_reason_unless_expected() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut input = low_job();
        // A driver bigger than any c5.2xlarge, and no autoscaler to add a bigger node:
        // EMR gives up after its job-start timeout.
        input["driver_memory"] = json!("64G");
        let job = world.submit(input.clone(), "huge").await;
        let err = world
            .run("wait-for-job", json!({"job": job, "timeout": "1h"}))
            .await
            .expect_err("the driver never schedules");
        assert_eq!(
            err.to_string(),
            format!(
                "job {job} (monthly-batch-low-priority-job) ended FAILED (USER_ERROR): Job run timed out in SUBMITTED state after 900 seconds (job-start-timeout); expected COMPLETED"
            )
        );

        let job = world.submit(input, "huge-again").await;
        let out = world
            .run(
                "wait-for-job",
                json!({"job": job, "expect": ["COMPLETED", "FAILED"]}),
            )
            .await
            .expect("FAILED was expected");
        assert_eq!(out["state"], "FAILED");
        assert_eq!(out["failure_reason"], "USER_ERROR");
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let err = world
            .run("wait-for-job", json!({"job": job, "expect": ["RUNNING"]}))
            .await
            .expect_err("not an end state");
        assert!(matches!(err, ActionError::InvalidInput(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid input: `expect` lists `RUNNING`, which is not an end state (COMPLETED, FAILED, CANCELLED)"
        );
        let err = world
            .run("wait-for-job", json!({"job": "0000000000000000000"}))
            .await
            .expect_err("no such job");
        assert_eq!(err.to_string(), "unknown job run `0000000000000000000`");
        let err = world
            .run("wait-for-job", json!({"job_id": job}))
            .await
            .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `job_id`"), "{err}");
        let err = world
            .run("wait-for-job", json!({"job": job, "timeout": "soon"}))
            .await
            .expect_err("not a duration");
        assert!(err.to_string().contains("soon"), "{err}");
    }
}
