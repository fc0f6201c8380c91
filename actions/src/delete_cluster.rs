//! `delete-cluster`: deletes an EKS cluster with its node groups (walkthrough row 101).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::deadline::Deadline;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;
use runbook_backend::WaitOutcome;
use runbook_backend::duration::{Humane, HumaneDuration};

/// The action; [`DeleteClusterInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteCluster;

/// Deletes an EKS cluster and its node groups; succeeds when it is already gone, so a
/// teardown can run twice. The Karpenter NodePools `enable-autoscaling` applied are
/// removed first, and the nodes they launched waited for, within `wait_timeout`. By
/// default waits until it is gone, so that a following `create-cluster` of the same
/// name does not find it half-deleted; then, on `aws`, deletes the VPC and IAM roles
/// `create-cluster` made for it (not ones the runbook gave).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteClusterInput {
    /// Cluster name.
    name: String,
    /// Wait until the cluster is gone (a few minutes on AWS; virtual time on `sim`).
    #[serde(default = "yes")]
    wait: bool,
    /// How long to wait for it to be gone, when `wait`.
    #[serde(default = "default_wait_timeout")]
    wait_timeout: HumaneDuration,
}

fn yes() -> bool {
    true
}

fn default_wait_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(30 * 60))
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteClusterOutput {
    /// Cluster name.
    name: String,
    /// Whether this step deleted it (false: it was already gone or being deleted).
    deleted: bool,
    /// What `create-cluster` had made for it and this step deleted once the cluster
    /// was gone (on `aws`, the VPC and IAM roles it made when the runbook gave none);
    /// only when it waited.
    released: Vec<String>,
}

impl Action for DeleteCluster {
    type Input = DeleteClusterInput;
    type Output = DeleteClusterOutput;
    const NAME: &'static str = "delete-cluster";
    const SUMMARY: &'static str =
        "Delete an EKS cluster and its node groups (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteClusterInput,
        ctx: &StepContext,
    ) -> Result<DeleteClusterOutput, ActionError> {
        let eks = &ctx.target.eks;
        let deadline = Deadline::start(ctx, input.wait_timeout.0);
        crate::node_pool_teardown::remove_node_pools(ctx, &input.name, &deadline).await?;
        let deleted = eks.delete_cluster(&input.name).await?;
        if input.wait {
            let look = || {
                crate::patient::read(ctx, deadline.at_ms(), || eks.describe_cluster(&input.name))
            };
            while let Some(cluster) = look().await? {
                let outcome = deadline
                    .wait(ctx, || {
                        format!("cluster `{}` is still {}", cluster.name, cluster.status)
                    })
                    .await?;
                if outcome == WaitOutcome::Idle {
                    if let Some(cluster) = look().await? {
                        return Err(ActionError::Failed(format!(
                            "cluster `{}` is stuck in {}: nothing else is going to happen",
                            cluster.name, cluster.status
                        )));
                    }
                }
            }
        }
        // The network and roles can go only once the cluster no longer uses them.
        let released = if input.wait {
            eks.release_cluster(&input.name).await?
        } else {
            Vec::new()
        };
        Ok(DeleteClusterOutput {
            name: input.name,
            deleted,
            released,
        })
    }

    fn planned_calls(
        input: &DeleteClusterInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let name = input.name.as_str();
        let eks = &plan.target.eks;
        let mut calls = crate::node_pool_teardown::planned(&plan.target, name);
        calls.extend(eks.planned_delete_cluster(name));
        if input.wait {
            calls.extend(eks.planned_describe_cluster(name).note(&format!(
                "repeated until the cluster is gone, for at most {}",
                Humane(input.wait_timeout.0)
            )));
            calls.extend(eks.planned_release_cluster(name));
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn deletes_and_waits_then_succeeds_when_already_gone() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("created");

        let out = world
            .run("delete-cluster", json!({"name": "c"}))
            .await
            .expect("deleted");
        assert_eq!(out, json!({"name": "c", "deleted": true, "released": []}));
        assert!(
            world.sim.world().cluster("c").is_err(),
            "gone once the step ends"
        );

        let again = world
            .run("delete-cluster", json!({"name": "c"}))
            .await
            .expect("already gone");
        assert_eq!(again["deleted"], false);

        // The name can be used again.
        let out = world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("re-created");
        assert_eq!(out["adopted"], false);
    }

    #[tokio::test]
    async fn without_wait_returns_while_deleting() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("created");
        let out = world
            .run("delete-cluster", json!({"name": "c", "wait": false}))
            .await
            .expect("deleting");
        assert_eq!(out["deleted"], true);
        assert!(world.sim.world().cluster("c").is_ok(), "still DELETING");

        let err = world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect_err("half-deleted");
        assert!(err.to_string().contains("is being deleted"), "{err}");
    }
}
