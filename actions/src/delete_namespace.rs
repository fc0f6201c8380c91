//! `delete-namespace`: removes a Kubernetes namespace and what is in it (row 101).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;

/// The action; [`DeleteNamespaceInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteNamespace;

/// Deletes a Kubernetes namespace with everything in it; succeeds when it is already
/// gone, or its cluster is, so a teardown can run twice (name the `cluster` there: with
/// no cluster left there is no default one).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteNamespaceInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// Namespace name.
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteNamespaceOutput {
    /// Namespace name.
    name: String,
    /// Whether this step deleted it (false: it was already gone).
    deleted: bool,
}

impl Action for DeleteNamespace {
    type Input = DeleteNamespaceInput;
    type Output = DeleteNamespaceOutput;
    const NAME: &'static str = "delete-namespace";
    const SUMMARY: &'static str =
        "Delete a Kubernetes namespace and its contents (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteNamespaceInput,
        ctx: &StepContext,
    ) -> Result<DeleteNamespaceOutput, ActionError> {
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let deleted = if crate::cluster_lookup::is_live(ctx, &cluster).await? {
            ctx.target
                .kube
                .delete_namespace(&cluster, &input.name)
                .await?
        } else {
            false
        };
        Ok(DeleteNamespaceOutput {
            name: input.name,
            deleted,
        })
    }

    fn planned_calls(
        input: &DeleteNamespaceInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let target = &plan.target;
        Ok(crate::cluster_lookup::planned_delete(
            target,
            input.cluster.as_deref(),
            |cluster| target.kube.planned_delete_namespace(cluster, &input.name),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn deletes_then_succeeds_when_already_gone() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        world
            .run("create-namespace", json!({"name": "adhoc-ml-batch"}))
            .await
            .expect("created");

        let out = world
            .run("delete-namespace", json!({"name": "adhoc-ml-batch"}))
            .await
            .expect("deleted");
        assert_eq!(out, json!({"name": "adhoc-ml-batch", "deleted": true}));
        assert!(
            !world
                .sim
                .world()
                .cluster("c")
                .expect("c")
                .namespaces
                .contains("adhoc-ml-batch")
        );

        let again = world
            .run("delete-namespace", json!({"name": "adhoc-ml-batch"}))
            .await
            .expect("gone");
        assert_eq!(again["deleted"], false);

        world
            .run("delete-cluster", json!({"name": "c"}))
            .await
            .expect("cluster deleted");
        let without_cluster = world
            .run(
                "delete-namespace",
                json!({"cluster": "c", "name": "adhoc-ml-batch"}),
            )
            .await
            .expect("the cluster is gone too");
        assert_eq!(without_cluster["deleted"], false);
    }
}
