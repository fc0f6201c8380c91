//! `assert-autoscaling`: the walkthrough's Karpenter outcome as an assertion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::error::ActionError;

/// Checks, from the recorded node and pod events, that the autoscaler added nodes for
/// pods that did not fit (instead of the scheduler preempting pods), and optionally
/// that those nodes were removed again once empty.
pub(crate) struct AssertAutoscaling;

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

    async fn run(&self, input: AssertAutoscalingInput, ctx: &StepContext) -> Result<AssertAutoscalingOutput, ActionError> {
        let events = ctx.target.observer.events();
        let text = |e: &Value, key: &str| e.get(key).and_then(Value::as_str).unwrap_or("?").to_string();
        let added: Vec<AddedNode> = events
            .iter()
            .filter(|e| e.kind == "NodeLaunched" && e.data.get("provisioner").is_some_and(|p| !p.is_null()))
            .map(|e| {
                let node = text(&e.data, "node");
                let removed_at_ms = events
                    .iter()
                    .find(|r| r.kind == "NodeRemoved" && r.data.get("node").and_then(Value::as_str) == Some(node.as_str()))
                    .map(|r| r.at_ms);
                AddedNode {
                    instance_type: text(&e.data, "instance_type"),
                    capacity_type: text(&e.data, "capacity_type"),
                    launched_at_ms: e.at_ms,
                    removed_at_ms,
                    node,
                }
            })
            .collect();
        if added.len() < input.min_added {
            return Err(ActionError::Failed(format!(
                "the autoscaler added {} node(s), {} expected{}",
                added.len(),
                input.min_added,
                if events.iter().any(|e| e.kind == "PodPreempted") {
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
            if let Some(p) = events.iter().find(|e| e.kind == "PodPreempted") {
                return Err(ActionError::Failed(format!(
                    "pod {} was preempted although the autoscaler could add capacity",
                    p.subject.as_deref().unwrap_or("?")
                )));
            }
        }
        Ok(AssertAutoscalingOutput { added })
    }
}
