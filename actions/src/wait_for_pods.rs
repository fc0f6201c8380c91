//! `wait-for-pods`: waits until pods reach a condition (virtual time on `sim`; a
//! Kubernetes watch on `aws`).

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::duration::{Humane, HumaneDuration};
use crate::error::ActionError;
use crate::target::{PodInfo, WaitOutcome};

/// The label EMR on EKS puts on every pod of a job run.
pub(crate) const LABEL_JOB_ID: &str = "emr-containers.amazonaws.com/job.id";
/// The label that says which part of the job a pod is.
pub(crate) const LABEL_COMPONENT: &str = "emr-containers.amazonaws.com/component";

/// Waits until the pods that match (a namespace and label selector, or a job and a
/// role) reach a condition: at least N running, all succeeded, or none left.
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
            Condition::AllSucceeded => !pods.is_empty() && pods.iter().all(|p| p.phase == "Succeeded"),
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
    pods.iter().filter(|p| p.phase == "Running" && !p.terminating).count()
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
    let mut text = by_phase.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
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
    const SUMMARY: &'static str = "Wait until matching pods are N running, all succeeded, or none left.";
    const EFFECTS: Effects = Effects::Observes;

    async fn run(&self, input: WaitForPodsInput, ctx: &StepContext) -> Result<WaitForPodsOutput, ActionError> {
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
        let cluster = match input.cluster {
            Some(c) => c,
            None => ctx.target.kube.default_cluster().await?,
        };
        let started = ctx.clock.now_ms();
        let deadline = started + i64::try_from(input.timeout.0.as_millis()).unwrap_or(i64::MAX);
        loop {
            let pods = ctx.target.kube.pods(&cluster, input.namespace.as_deref(), &selector).await?;
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
                    waited_ms: ctx.clock.now_ms() - started,
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
            match ctx.wait_for_change(Some(Duration::from_millis(left.unsigned_abs()))).await? {
                WaitOutcome::Idle => return Err(give_up("and nothing more will happen in the simulated world")),
                WaitOutcome::Changed | WaitOutcome::TimedOut => {}
            }
        }
    }
}
