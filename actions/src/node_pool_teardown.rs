//! What `delete-cluster` does before it deletes a cluster: removes the Karpenter
//! NodePools runbook applied (and their EC2NodeClasses) and waits until the nodes
//! they launched are gone. Karpenter terminates those instances only while it runs;
//! deleting the cluster (and with it Karpenter's controller) first would leave them
//! running, and paid for, outside any node group.

use serde_json::json;

use crate::context::StepContext;
use crate::deadline::Deadline;
use crate::planned_call::{PlannedCall, Service};
use runbook_backend::{ActionError, WaitOutcome};

/// Removes runbook's NodePools from cluster `name` if it is ACTIVE (a cluster being
/// created or deleted has no API to ask), then waits within `deadline` for their nodes
/// to be gone. A cluster without Karpenter's API has none: nothing to wait for.
pub(crate) async fn remove_node_pools(
    ctx: &StepContext,
    name: &str,
    deadline: &Deadline,
) -> Result<(), ActionError> {
    let active = ctx
        .target
        .eks
        .describe_cluster(name)
        .await?
        .is_some_and(|c| c.status == "ACTIVE");
    if !active {
        return Ok(());
    }
    let kube = &ctx.target.kube;
    let pools = kube.remove_node_pools(name).await?;
    loop {
        let nodes = kube.node_pool_nodes(name, &pools).await?;
        if nodes.is_empty() {
            return Ok(());
        }
        let stuck = || {
            format!(
                "the nodes of NodePool(s) {} are still there ({}): Karpenter has not terminated them",
                pools.join(", "),
                nodes.join(", ")
            )
        };
        if deadline.wait(ctx, stuck).await? == WaitOutcome::Idle {
            return Err(ActionError::Failed(format!(
                "{}; nothing else is going to happen",
                stuck()
            )));
        }
    }
}

/// The calls [`remove_node_pools`] makes on `aws`.
pub(crate) fn planned(name: &str) -> Vec<PlannedCall> {
    let when = "if the cluster is ACTIVE and serves Karpenter's NodePool API";
    let runbooks = "app.kubernetes.io/managed-by=runbook";
    vec![
        PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": name}))
            .note("NodePools are removed first from an ACTIVE cluster only"),
        PlannedCall::new(
            Service::Kubernetes,
            "discover karpenter.sh/v1",
            json!({"kind": "NodePool"}),
        )
        .when("if the cluster is ACTIVE"),
        PlannedCall::new(
            Service::Kubernetes,
            "list NodePool",
            json!({"labelSelector": runbooks}),
        )
        .when(when),
        PlannedCall::new(
            Service::Kubernetes,
            "delete NodePool",
            json!({"name": "<each>"}),
        )
        .when("for each NodePool runbook applied"),
        PlannedCall::new(
            Service::Kubernetes,
            "list EC2NodeClass",
            json!({"labelSelector": runbooks}),
        )
        .when(when),
        PlannedCall::new(
            Service::Kubernetes,
            "delete EC2NodeClass",
            json!({"name": "<each>"}),
        )
        .when("for each EC2NodeClass runbook applied"),
        PlannedCall::new(
            Service::Kubernetes,
            "list Node",
            json!({"labelSelector": "karpenter.sh/nodepool in (<the NodePools deleted>)"}),
        )
        .when("if a NodePool was deleted")
        .note("repeated until their nodes are gone, within the step's wait_timeout"),
    ]
}
