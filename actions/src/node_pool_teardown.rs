//! What `delete-cluster` does before it deletes a cluster: removes the Karpenter
//! NodePools runbook applied (and their EC2NodeClasses) and waits until the nodes
//! they launched are gone. Karpenter terminates those instances only while it runs;
//! deleting the cluster (and with it Karpenter's controller) first would leave them
//! running, and paid for, outside any node group.

use crate::context::StepContext;
use crate::deadline::Deadline;
use crate::planned_call::{PlannedCall, PlannedCalls};
use runbook_backend::{ActionError, Target, WaitOutcome};

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

/// The calls [`remove_node_pools`] makes on `target`.
pub(crate) fn planned(target: &Target, name: &str) -> Vec<PlannedCall> {
    let kube = &target.kube;
    let mut calls = target
        .eks
        .planned_describe_cluster(name)
        .note("NodePools are removed first from an ACTIVE cluster only");
    let mut removal = kube.planned_remove_node_pools(name);
    removal.extend(
        kube.planned_node_pool_nodes(name, &["<the NodePools deleted>".to_string()])
            .note("repeated until their nodes are gone, within the step's wait_timeout"),
    );
    calls.extend(removal.under("if the cluster is ACTIVE"));
    calls
}
