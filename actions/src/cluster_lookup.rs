//! Which EKS cluster a step means: the one it names, or else the only one there is.

use crate::context::StepContext;
use crate::planned_call::{PlannedCall, PlannedCalls};
use runbook_backend::{ActionError, Target};

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

/// The cluster a plan shows for a step, and the calls that find it when the step names
/// none (the placeholder stands for the only cluster the account has).
pub(crate) fn planned(target: &Target, given: Option<&str>) -> (String, Vec<PlannedCall>) {
    match given {
        Some(name) => (name.to_string(), Vec::new()),
        None => (
            "<the only cluster>".to_string(),
            target
                .kube
                .planned_default_cluster()
                .under("without --kube-context (with it, the context's cluster is meant)"),
        ),
    }
}

/// The calls [`is_live`] makes before a delete inside a cluster.
pub(crate) fn planned_is_live(target: &Target, name: &str) -> Vec<PlannedCall> {
    target
        .eks
        .planned_describe_cluster(name)
        .note("if the cluster is gone or being deleted, nothing else is called")
}

/// The calls that delete a cluster-scoped Kubernetes object (the deletes of namespaces
/// and PriorityClasses): which cluster, whether it is live, then `delete`'s calls for
/// the cluster.
pub(crate) fn planned_delete(
    target: &Target,
    given: Option<&str>,
    delete: impl FnOnce(&str) -> Vec<PlannedCall>,
) -> Vec<PlannedCall> {
    let (cluster, mut calls) = planned(target, given);
    calls.extend(planned_is_live(target, &cluster));
    calls.extend(delete(&cluster).under("if the cluster is live"));
    calls
}
