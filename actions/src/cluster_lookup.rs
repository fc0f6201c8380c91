//! Which EKS cluster a step means: the one it names, or else the only one there is.

use crate::context::StepContext;
use crate::error::ActionError;

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
