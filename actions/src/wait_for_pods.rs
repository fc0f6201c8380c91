//! `wait-for-pods`: waits until pods reach a condition (virtual time on `sim`; a
//! Kubernetes watch on `aws`).

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;
use runbook_backend::duration::{Humane, HumaneDuration};
use runbook_backend::{PodInfo, WaitOutcome};

/// The label EMR on EKS puts on every pod of a job run.
pub(crate) const LABEL_JOB_ID: &str = "emr-containers.amazonaws.com/job.id";
/// The label that says which part of the job a pod is.
pub(crate) const LABEL_COMPONENT: &str = "emr-containers.amazonaws.com/component";

/// The action; [`WaitForPodsInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct WaitForPods;

/// Which pods of a job.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// The job-runner pod (`emr-containers.amazonaws.com/component: controller`).
    Controller,
    /// The Spark driver.
    Driver,
    /// The Spark executors.
    Executor,
}

/// Waits until the pods that match (a namespace and label selector, or a job and a
/// role) reach a condition: at least N running, all succeeded, or none left.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitForPodsInput {
    /// The EKS cluster (default: the only cluster).
    #[serde(default)]
    cluster: Option<String>,
    /// Only pods in this namespace.
    #[serde(default)]
    namespace: Option<String>,
    /// Only pods with these labels.
    #[serde(default)]
    selector: BTreeMap<String, String>,
    /// Only pods of this EMR job run (its `job.id` label).
    #[serde(default)]
    job: Option<String>,
    /// Only the job's pods of this role.
    #[serde(default)]
    role: Option<Role>,
    /// Condition: at least this many matching pods are Running.
    #[serde(default)]
    running: Option<u32>,
    /// Condition: there are matching pods and all of them Succeeded.
    #[serde(default)]
    all_succeeded: bool,
    /// Condition: no matching pod is left.
    #[serde(default)]
    none_left: bool,
    /// Give up after this long.
    #[serde(default = "default_timeout")]
    timeout: HumaneDuration,
}

fn default_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(600))
}

/// A pod, as the outputs list it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PodSummary {
    /// Pod name.
    name: String,
    /// Namespace.
    namespace: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    phase: String,
    /// The node it runs on.
    node: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WaitForPodsOutput {
    /// The matching pods when the condition held.
    pods: Vec<PodSummary>,
    /// How many of them were Running.
    running: usize,
    /// Milliseconds waited (target time).
    waited_ms: i64,
}

enum Condition {
    Running(u32),
    AllSucceeded,
    NoneLeft,
}

impl Condition {
    fn holds(&self, pods: &[PodInfo]) -> bool {
        match self {
            Condition::Running(n) => running(pods) >= *n as usize,
            Condition::AllSucceeded => {
                !pods.is_empty() && pods.iter().all(|p| p.phase == "Succeeded")
            }
            Condition::NoneLeft => pods.is_empty(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Condition::Running(n) => format!("{n} running"),
            Condition::AllSucceeded => "all succeeded".into(),
            Condition::NoneLeft => "none left".into(),
        }
    }
}

fn running(pods: &[PodInfo]) -> usize {
    pods.iter()
        .filter(|p| p.phase == "Running" && !p.terminating)
        .count()
}

/// A job's pods the way a presenter narrates them: `driver Running, executors 1/2
/// running, 1 preempted`.
pub(crate) fn job_pods_summary(pods: &[PodInfo]) -> String {
    fn role(p: &PodInfo) -> &str {
        p.labels.get(LABEL_COMPONENT).map_or("", String::as_str)
    }
    let mut parts = Vec::new();
    if let Some(driver) = pods.iter().find(|p| role(p) == "driver") {
        parts.push(format!("driver {}", driver.phase));
    }
    let executors: Vec<&PodInfo> = pods.iter().filter(|p| role(p) == "executor").collect();
    if !executors.is_empty() {
        let preempted = executors
            .iter()
            .filter(|p| p.conditions.contains_key("DisruptionTarget"))
            .count();
        let live: Vec<&&PodInfo> = executors.iter().filter(|p| !p.terminating).collect();
        let running = live.iter().filter(|p| p.phase == "Running").count();
        let mut text = format!("executors {running}/{} running", live.len());
        if preempted > 0 {
            text.push_str(&format!(", {preempted} preempted"));
        }
        parts.push(text);
    }
    parts.join(", ")
}

/// `2 Running, 1 Pending (1 terminating)`.
fn census(pods: &[PodInfo]) -> String {
    if pods.is_empty() {
        return "no matching pods".into();
    }
    let mut by_phase: BTreeMap<&str, usize> = BTreeMap::new();
    for p in pods {
        *by_phase.entry(p.phase.as_str()).or_default() += 1;
    }
    let mut text = by_phase
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let terminating = pods.iter().filter(|p| p.terminating).count();
    if terminating > 0 {
        text.push_str(&format!(" ({terminating} terminating)"));
    }
    text
}

impl Action for WaitForPods {
    type Input = WaitForPodsInput;
    type Output = WaitForPodsOutput;
    const NAME: &'static str = "wait-for-pods";
    const SUMMARY: &'static str =
        "Wait until matching pods are N running, all succeeded, or none left.";
    const EFFECTS: Effects = Effects::Observes;

    async fn run(
        &self,
        input: WaitForPodsInput,
        ctx: &StepContext,
    ) -> Result<WaitForPodsOutput, ActionError> {
        let (condition, selector) = criteria(&input)?;
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let deadline = ctx.deadline_ms(input.timeout.0);
        loop {
            let pods = crate::patient::read(ctx, deadline, || {
                ctx.target
                    .kube
                    .pods(&cluster, input.namespace.as_deref(), &selector)
            })
            .await?;
            if ctx.wants_progress() {
                ctx.progress(&census(&pods));
            }
            if condition.holds(&pods) {
                return Ok(WaitForPodsOutput {
                    running: running(&pods),
                    pods: pods
                        .into_iter()
                        .map(|p| PodSummary {
                            name: p.name,
                            namespace: p.namespace,
                            phase: p.phase,
                            node: p.node,
                        })
                        .collect(),
                    waited_ms: ctx.clock.now_ms() - ctx.started_at_ms,
                });
            }
            let left = deadline - ctx.clock.now_ms();
            let give_up = |why: &str| {
                ActionError::Failed(format!(
                    "pods did not reach `{}` {why}: {}",
                    condition.describe(),
                    census(&pods)
                ))
            };
            if left <= 0 {
                return Err(give_up(&format!("within {}", Humane(input.timeout.0))));
            }
            match ctx
                .wait_for_change(Some(Duration::from_millis(left.unsigned_abs())))
                .await?
            {
                WaitOutcome::Idle => {
                    return Err(give_up(
                        "and nothing more will happen in the simulated world",
                    ));
                }
                WaitOutcome::Changed | WaitOutcome::TimedOut => {}
            }
        }
    }

    fn planned_calls(
        input: &WaitForPodsInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let (condition, selector) = criteria(input)?;
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        let again = format!(
            "again whenever the run's watch of the cluster's pods sees a change, until {}, for at most {}",
            condition.describe(),
            Humane(input.timeout.0)
        );
        calls.extend(
            plan.target
                .kube
                .planned_pods(&cluster, input.namespace.as_deref(), &selector)
                .note(&again),
        );
        Ok(calls)
    }
}

/// The condition to wait for and the label selector of the pods, from the input (the
/// job and role become EMR's pod labels).
fn criteria(
    input: &WaitForPodsInput,
) -> Result<(Condition, BTreeMap<String, String>), ActionError> {
    let condition = match (input.running, input.all_succeeded, input.none_left) {
        (Some(n), false, false) => Condition::Running(n),
        (None, true, false) => Condition::AllSucceeded,
        (None, false, true) => Condition::NoneLeft,
        _ => {
            return Err(ActionError::InvalidInput(
                    "give exactly one condition: `running: N`, `all_succeeded: true` or `none_left: true`".into(),
                ));
        }
    };
    let mut selector = input.selector.clone();
    if let Some(job) = &input.job {
        selector.insert(LABEL_JOB_ID.into(), job.clone());
    }
    if let Some(role) = input.role {
        if input.job.is_none() {
            return Err(ActionError::InvalidInput("`role` needs `job`".into()));
        }
        let value = match role {
            Role::Controller => "controller",
            Role::Driver => "driver",
            Role::Executor => "executor",
        };
        selector.insert(LABEL_COMPONENT.into(), value.into());
    }
    Ok((condition, selector))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use runbook_sim::PodPhase;
    use serde_json::json;

    use crate::test_support::{SimWorld, low_job};
    use runbook_backend::ActionError;

    /// (name, phase) of the job's live executor pods in the world.
    fn executors(world: &SimWorld, job: &str) -> Vec<(String, PodPhase)> {
        world
            .sim
            .world()
            .job_pods(job)
            .iter()
            .filter(|p| !p.is_deleted() && p.executor_id.is_some())
            .map(|p| (p.name.to_string(), p.phase))
            .collect()
    }

    #[tokio::test]
    async fn returns_when_the_jobs_executors_run() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        assert!(executors(&world, &job).is_empty(), "none yet");
        let t0 = world.now_ms();
        let out = world
            .run(
                "wait-for-pods",
                json!({"job": job, "role": "executor", "running": 2}),
            )
            .await
            .expect("both executors run");
        assert_eq!(out["running"], 2);
        assert!(out["waited_ms"].as_i64().expect("waited") > 0);
        assert_eq!(out["waited_ms"], world.now_ms() - t0);
        let in_world = executors(&world, &job);
        assert_eq!(in_world.len(), 2);
        assert!(
            in_world
                .iter()
                .all(|(_, phase)| *phase == PodPhase::Running)
        );
        let pods = out["pods"].as_array().expect("pods");
        let names: Vec<&str> = pods.iter().filter_map(|p| p["name"].as_str()).collect();
        let expected: Vec<&str> = in_world.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected);
        for pod in pods {
            assert_eq!(pod["namespace"], "monthly-batch");
            assert_eq!(pod["phase"], "Running");
            assert!(pod["node"].is_string(), "{pod}");
        }
    }

    #[tokio::test]
    async fn namespace_and_selector_pick_the_pods() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let out = world
            .run(
                "wait-for-pods",
                json!({
                    "namespace": "monthly-batch",
                    "selector": {"spark-role": "driver"},
                    "running": 1,
                }),
            )
            .await
            .expect("the driver runs");
        let pods = out["pods"].as_array().expect("pods");
        assert_eq!(pods.len(), 1);
        let w = world.sim.world();
        let driver = w
            .job_run_by_id(&job)
            .and_then(|j| j.driver_pod.clone())
            .expect("driver");
        assert_eq!(pods[0]["name"], driver.as_str());
    }

    #[tokio::test]
    async fn none_left_once_the_work_is_done() {
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
        let t0 = world.now_ms();
        let out = world
            .run(
                "wait-for-pods",
                json!({"job": job, "role": "executor", "none_left": true, "timeout": "30m"}),
            )
            .await
            .expect("executors gone");
        assert_eq!(out["pods"], json!([]));
        assert_eq!(out["running"], 0);
        // The longest task alone takes 100 s.
        assert!(world.now_ms() - t0 >= 100_000);
        assert!(executors(&world, &job).is_empty());
        assert_eq!(
            world
                .sim
                .world()
                .job_run_by_id(&job)
                .expect("job")
                .finished_tasks(),
            5,
            "Spark lets its executors go when all tasks are done"
        );

        world
            .run("wait-for-job", json!({"job": job}))
            .await
            .expect("completed");
        let out = world
            .run(
                "wait-for-pods",
                json!({"job": job, "role": "executor", "none_left": true}),
            )
            .await
            .expect("still none");
        assert_eq!(out["waited_ms"], 0);
        // The job-runner and driver pods stay, Succeeded, as on EKS.
        let out = world
            .run("wait-for-pods", json!({"job": job, "all_succeeded": true}))
            .await
            .expect("all succeeded");
        let phases: Vec<&str> = out["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .filter_map(|p| p["phase"].as_str())
            .collect();
        assert_eq!(phases, ["Succeeded", "Succeeded"]);
    }

    #[tokio::test]
    async fn a_timeout_says_how_the_pods_are() {
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
        let t0 = world.now_ms();
        let err = world
            .run(
                "wait-for-pods",
                json!({"job": job, "role": "executor", "running": 3, "timeout": "10s"}),
            )
            .await
            .expect_err("the job has two executors");
        assert_eq!(world.now_ms() - t0, 10_000);
        assert_eq!(
            err.to_string(),
            "pods did not reach `3 running` within 10s: 2 Running"
        );

        let err = world
            .run(
                "wait-for-pods",
                json!({"namespace": "nightly-batch", "all_succeeded": true, "timeout": "1m"}),
            )
            .await
            .expect_err("nothing runs there");
        let message = err.to_string();
        assert!(
            message.starts_with("pods did not reach `all succeeded`")
                && message.ends_with(": no matching pods"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let one_condition = "invalid input: give exactly one condition: `running: N`, `all_succeeded: true` or `none_left: true`";
        for input in [
            json!({"job": "j"}),
            json!({"job": "j", "running": 1, "none_left": true}),
            json!({"job": "j", "all_succeeded": true, "none_left": true}),
        ] {
            let err = world
                .run("wait-for-pods", input.clone())
                .await
                .expect_err("not exactly one condition");
            assert!(matches!(err, ActionError::InvalidInput(_)), "{input}");
            assert_eq!(err.to_string(), one_condition, "{input}");
        }
        let err = world
            .run("wait-for-pods", json!({"role": "executor", "running": 1}))
            .await
            .expect_err("role without job");
        assert_eq!(err.to_string(), "invalid input: `role` needs `job`");
        let err = world
            .run(
                "wait-for-pods",
                json!({"job": "j", "role": "executors", "running": 1}),
            )
            .await
            .expect_err("no such role");
        assert!(err.to_string().contains("executors"), "{err}");
        let err = world
            .run(
                "wait-for-pods",
                json!({"cluster": "other", "running": 1, "selector": BTreeMap::from([("a", "b")])}),
            )
            .await
            .expect_err("no such cluster");
        assert!(err.to_string().contains("other"), "{err}");
    }
}
