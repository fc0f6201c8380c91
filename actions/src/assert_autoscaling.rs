//! `assert-autoscaling`: the walkthrough's Karpenter outcome as an assertion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::observed::Observed;
use crate::planned_call::{PlanContext, PlannedCall, Service};
use runbook_backend::events::EventKind;
use runbook_backend::{ActionError, ObservedEvent};

/// The action; [`AssertAutoscalingInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct AssertAutoscaling;

/// Checks, from the recorded node and pod events, that the autoscaler added nodes for
/// pods that did not fit (instead of the scheduler preempting pods), and optionally
/// that those nodes were removed again once empty.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssertAutoscalingInput {
    /// At least this many nodes must have been launched by the autoscaler.
    #[serde(default = "one")]
    min_added: usize,
    /// The added nodes must have been removed again (after `ttlSecondsAfterEmpty`).
    #[serde(default = "yes")]
    removed: bool,
    /// No pod may have been preempted meanwhile.
    #[serde(default = "yes")]
    no_preemption: bool,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

/// A node the autoscaler added.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AddedNode {
    /// Node name.
    node: String,
    /// EC2 instance type the autoscaler chose.
    instance_type: String,
    /// `on-demand` or `spot`.
    capacity_type: String,
    /// When it was launched (ms; virtual time on sim).
    launched_at_ms: i64,
    /// When it was removed, if it was.
    removed_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AssertAutoscalingOutput {
    /// The nodes the autoscaler added.
    added: Vec<AddedNode>,
}

impl Action for AssertAutoscaling {
    type Input = AssertAutoscalingInput;
    type Output = AssertAutoscalingOutput;
    const NAME: &'static str = "assert-autoscaling";
    const SUMMARY: &'static str = "Assert that the autoscaler added nodes instead of preempting, and removed them when empty.";
    const EFFECTS: Effects = Effects::Pure;

    async fn run(
        &self,
        input: AssertAutoscalingInput,
        ctx: &StepContext,
    ) -> Result<AssertAutoscalingOutput, ActionError> {
        let observed = Observed::now(ctx).await;
        observed.explained(judge(input, &observed.events))
    }

    fn planned_calls(
        _input: &AssertAutoscalingInput,
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        Ok(vec![
            PlannedCall::new(Service::Local, "read observed events", json!({}))
                .note("nodes launched and removed and pods preempted, recorded by the run's watch; no call"),
        ])
    }
}

/// The judgment on the recorded `events` (pure: the record is read once, by the
/// caller, with why it may be incomplete).
fn judge(
    input: AssertAutoscalingInput,
    events: &[ObservedEvent],
) -> Result<AssertAutoscalingOutput, ActionError> {
    let removed_at = |name: &str| {
        events
            .iter()
            .find(|r| matches!(&r.kind, EventKind::NodeRemoved { node, .. } if node == name))
            .map(|r| r.at_ms)
    };
    let added: Vec<AddedNode> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NodeLaunched {
                node,
                instance_type,
                capacity_type,
                provisioner: Some(_),
                ..
            } => Some(AddedNode {
                node: node.to_string(),
                instance_type: instance_type.to_string(),
                capacity_type: capacity_type.karpenter_label().to_string(),
                launched_at_ms: e.at_ms,
                removed_at_ms: removed_at(node),
            }),
            _ => None,
        })
        .collect();
    let preempted = events.iter().find_map(|e| match &e.kind {
        EventKind::PodPreempted(p) => Some(&p.pod),
        _ => None,
    });
    if added.len() < input.min_added {
        return Err(ActionError::Failed(format!(
            "the autoscaler added {} node(s), {} expected{}",
            added.len(),
            input.min_added,
            if preempted.is_some() {
                "; pods were preempted instead"
            } else {
                ""
            }
        )));
    }
    if input.removed {
        if let Some(kept) = added.iter().find(|n| n.removed_at_ms.is_none()) {
            return Err(ActionError::Failed(format!(
                "node {} ({}) added by the autoscaler was not removed; is it still running pods, or is ttl_seconds_after_empty unset?",
                kept.node, kept.instance_type
            )));
        }
    }
    if input.no_preemption {
        if let Some(pod) = preempted {
            return Err(ActionError::Failed(format!(
                "pod {pod} was preempted although the autoscaler could add capacity"
            )));
        }
    }
    Ok(AssertAutoscalingOutput { added })
}

#[cfg(test)]
mod tests {
    use runbook_sim::EventKind;
    use serde_json::json;

    use crate::test_support::{SimWorld, high_job, low_job};

    /// Both priority jobs submitted at once on the one-node platform, with or without
    /// the walkthrough's Karpenter provisioner, and waited to completion.
    async fn both_jobs_at_once(autoscaling: bool) -> SimWorld {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        if autoscaling {
            world
                .run("enable-autoscaling", json!({}))
                .await
                .expect("autoscaling");
        }
        let low = world.submit(low_job(), "jobs[0]").await;
        let high = world.submit(high_job(), "jobs[1]").await;
        for job in [&low, &high] {
            world
                .run("wait-for-job", json!({"job": job, "timeout": "30m"}))
                .await
                .expect("completed");
        }
        world
    }

    #[tokio::test]
    async fn passes_when_a_node_was_added_and_removed_after_its_ttl() {
        let world = both_jobs_at_once(true).await;
        // As autoscaling-demo.yaml does: give the empty node its 30 s and more.
        world
            .run("sleep", json!({"duration": "2m"}))
            .await
            .expect("slept");
        let out = world
            .run("assert-autoscaling", json!({}))
            .await
            .expect("a node was added and removed");
        let added = out["added"].as_array().expect("added");
        assert!(!added.is_empty(), "{out}");
        let w = world.sim.world();
        for n in added {
            let name = n["node"].as_str().expect("node");
            let node = w.node(name).expect("the node is in the world");
            assert_eq!(node.provisioner.as_deref(), Some("runbook-emr"));
            assert_eq!(n["instance_type"], node.instance_type.as_ref());
            assert_eq!(n["capacity_type"], node.capacity_type.karpenter_label());
            let removed = node.removed_at_ms.expect("removed");
            assert_eq!(n["removed_at_ms"], removed);
            // The last time it became empty, from the world's record.
            let empty = w
                .events()
                .iter()
                .filter(|e| {
                    matches!(&e.kind, EventKind::NodeEmpty { node: n, .. } if n.as_ref() == name)
                })
                .map(|e| e.time_ms)
                .next_back()
                .expect("it was empty before removal");
            assert!(
                removed >= empty + 30_000,
                "removed {removed} ms, empty since {empty} ms"
            );
            assert!(n["launched_at_ms"].as_u64() < Some(empty));
        }
        let preempted = w
            .pods()
            .filter(|p| p.preempted())
            .map(|p| p.name.to_string())
            .collect::<Vec<_>>();
        assert_eq!(preempted, Vec::<String>::new(), "nothing was preempted");
    }

    #[tokio::test]
    async fn fails_while_the_added_node_is_still_there() {
        let world = both_jobs_at_once(true).await;
        let err = world
            .run("assert-autoscaling", json!({}))
            .await
            .expect_err("the empty node's ttl has not passed yet");
        let message = err.to_string();
        assert!(
            message.starts_with("node ")
                && message.contains(") added by the autoscaler was not removed"),
            "{message}"
        );
        let out = world
            .run("assert-autoscaling", json!({"removed": false}))
            .await
            .expect("added, not yet removed");
        assert_eq!(out["added"][0]["removed_at_ms"], json!(null));
    }

    #[tokio::test]
    async fn fails_without_autoscaling() {
        let world = both_jobs_at_once(false).await;
        let err = world
            .run("assert-autoscaling", json!({}))
            .await
            .expect_err("no autoscaler, no node");
        assert_eq!(
            err.to_string(),
            "the autoscaler added 0 node(s), 1 expected"
        );
        assert_eq!(world.sim.world().all_nodes().len(), 1);
    }

    #[tokio::test]
    async fn preemption_fails_it_even_with_autoscaling() {
        // The walkthrough's story, a minute apart, with the provisioner installed: the
        // scheduler preempts before the autoscaler adds anything.
        let world = SimWorld::new();
        world.priority_platform(1).await;
        world
            .run("enable-autoscaling", json!({}))
            .await
            .expect("autoscaling");
        world.priority_story().await;
        let err = world
            .run(
                "assert-autoscaling",
                json!({"min_added": 0, "removed": false}),
            )
            .await
            .expect_err("an executor was preempted");
        let message = err.to_string();
        assert!(
            message.starts_with("pod monthly-batch/monthly-batch-low-priority-job-")
                && message.ends_with(" was preempted although the autoscaler could add capacity"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn unknown_fields_are_rejected() {
        let world = SimWorld::new();
        let err = world
            .run("assert-autoscaling", json!({"min_nodes": 1}))
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `min_nodes`"),
            "{err}"
        );
    }
}
