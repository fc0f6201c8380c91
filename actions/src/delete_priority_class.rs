//! `delete-priority-class`: removes a Kubernetes PriorityClass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;

/// The action; [`DeletePriorityClassInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeletePriorityClass;

/// Deletes a PriorityClass; succeeds when it is already gone, or its cluster is, so a
/// teardown can run twice. Running pods keep the priority they were admitted with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletePriorityClassInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// PriorityClass name.
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeletePriorityClassOutput {
    /// PriorityClass name.
    name: String,
    /// Whether this step deleted it (false: it was already gone).
    deleted: bool,
}

impl Action for DeletePriorityClass {
    type Input = DeletePriorityClassInput;
    type Output = DeletePriorityClassOutput;
    const NAME: &'static str = "delete-priority-class";
    const SUMMARY: &'static str =
        "Delete a Kubernetes PriorityClass (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeletePriorityClassInput,
        ctx: &StepContext,
    ) -> Result<DeletePriorityClassOutput, ActionError> {
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let deleted = if crate::cluster_lookup::is_live(ctx, &cluster).await? {
            ctx.target
                .kube
                .delete_priority_class(&cluster, &input.name)
                .await?
        } else {
            false
        };
        Ok(DeletePriorityClassOutput {
            name: input.name,
            deleted,
        })
    }

    fn planned_calls(
        input: &DeletePriorityClassInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let target = &plan.target;
        Ok(crate::cluster_lookup::planned_delete(
            target,
            input.cluster.as_deref(),
            |cluster| {
                target
                    .kube
                    .planned_delete_priority_class(cluster, &input.name)
            },
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
            .run(
                "create-priority-class",
                json!({"name": "low-priority", "value": 100}),
            )
            .await
            .expect("created");

        let out = world
            .run("delete-priority-class", json!({"name": "low-priority"}))
            .await
            .expect("deleted");
        assert_eq!(out, json!({"name": "low-priority", "deleted": true}));
        assert!(
            world
                .sim
                .world()
                .priority_classes("c")
                .expect("c")
                .iter()
                .all(|p| p.name != "low-priority")
        );

        let again = world
            .run("delete-priority-class", json!({"name": "low-priority"}))
            .await
            .expect("gone");
        assert_eq!(again["deleted"], false);

        world
            .run("delete-cluster", json!({"name": "c"}))
            .await
            .expect("cluster deleted");
        let out = world
            .run(
                "delete-priority-class",
                json!({"cluster": "c", "name": "low-priority"}),
            )
            .await
            .expect("the cluster is gone too");
        assert_eq!(out["deleted"], false);
    }
}
