//! Which EKS cluster a step means: the one it names, or else the only one there is.

use serde_json::json;

use crate::context::StepContext;
use crate::planned_call::{PlannedCall, Service};
use runbook_backend::ActionError;

/// The cluster `given` by the step, or the target's only cluster.
pub(crate) async fn cluster(
    ctx: &StepContext,
    given: Option<String>,
) -> Result<String, ActionError> {
    match given {
        Some(name) => Ok(name),
        None => ctx.target.kube.default_cluster().await,
    }
}

/// Whether the cluster exists and is not being deleted: objects inside a cluster cannot
/// outlive it, and asking the API of a cluster that is gone or going would fail, so
/// deletes of such objects succeed without a call.
pub(crate) async fn is_live(ctx: &StepContext, name: &str) -> Result<bool, ActionError> {
    Ok(ctx
        .target
        .eks
        .describe_cluster(name)
        .await?
        .is_some_and(|c| c.status != "DELETING"))
}

/// The cluster a plan shows for a step, and the call that finds it when the step names
/// none (the placeholder stands for the only cluster the account has).
pub(crate) fn planned(given: Option<&str>) -> (String, Vec<PlannedCall>) {
    match given {
        Some(name) => (name.to_string(), Vec::new()),
        None => (
            "<the only cluster>".to_string(),
            vec![
                PlannedCall::new(Service::Eks, "ListClusters", json!({}))
                    .when("without --kube-context (with it, the context's cluster is meant)")
                    .note("the step names no cluster: the only one is used"),
            ],
        ),
    }
}

/// The look [`is_live`] takes before a delete inside a cluster.
pub(crate) fn planned_is_live(name: &str) -> PlannedCall {
    PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": name}))
        .note("if the cluster is gone or being deleted, nothing else is called")
}

/// The calls that delete a cluster-scoped Kubernetes object of `kind` (the deletes of
/// namespaces and PriorityClasses): which cluster, whether it is live, the delete.
pub(crate) fn planned_delete(given: Option<&str>, kind: &str, name: &str) -> Vec<PlannedCall> {
    let (cluster, mut calls) = planned(given);
    calls.extend([
        planned_is_live(&cluster),
        PlannedCall::new(
            Service::Kubernetes,
            format!("delete {kind}"),
            json!({"name": name}),
        )
        .when("if the cluster is live")
        .note("NotFound: already gone, which is success"),
    ]);
    calls
}
