//! `delete-vc`: deletes an EMR virtual cluster, by name or id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;

/// The action; [`DeleteVcInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteVc;

/// Deletes a virtual cluster, looked up by name (as the walkthrough's clean-up does) or
/// given by id. Succeeds when it is already gone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteVcInput {
    /// The virtual cluster's name or id.
    virtual_cluster: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteVcOutput {
    /// The id of the deleted virtual cluster, if one was found.
    virtual_cluster_id: Option<String>,
    /// False when there was nothing to delete.
    deleted: bool,
}

impl Action for DeleteVc {
    type Input = DeleteVcInput;
    type Output = DeleteVcOutput;
    const NAME: &'static str = "delete-vc";
    const SUMMARY: &'static str =
        "Delete an EMR virtual cluster by name or id (gone already is fine).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteVcInput,
        ctx: &StepContext,
    ) -> Result<DeleteVcOutput, ActionError> {
        let wanted = input.virtual_cluster;
        let found = ctx
            .target
            .emr
            .list_virtual_clusters()
            .await?
            .into_iter()
            .filter(|vc| vc.state == "RUNNING")
            .find(|vc| vc.id == wanted || vc.name == wanted);
        let Some(vc) = found else {
            return Ok(DeleteVcOutput {
                virtual_cluster_id: None,
                deleted: false,
            });
        };
        let deleted = ctx.target.emr.delete_virtual_cluster(&vc.id).await?;
        Ok(DeleteVcOutput {
            virtual_cluster_id: Some(vc.id),
            deleted,
        })
    }

    fn planned_calls(
        input: &DeleteVcInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let wanted = input.virtual_cluster.as_str();
        let target = &plan.target;
        let mut calls = crate::job_lookup::planned_virtual_cluster(target, wanted);
        calls.extend(
            target
                .emr
                .planned_delete_virtual_cluster(&format!("<id of virtual cluster {wanted}>"))
                .under("if a RUNNING virtual cluster has that name or id"),
        );
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use runbook_sim::virtual_cluster::VirtualClusterState;
    use serde_json::json;

    use crate::test_support::SimWorld;

    async fn world_with_vcs() -> (SimWorld, String, String) {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let mut ids = Vec::new();
        for ns in ["monthly-batch", "intra-day-batch"] {
            let out = world
                .run("register-vc", json!({"namespace": ns}))
                .await
                .expect("registered");
            ids.push(out["virtual_cluster_id"].as_str().expect("id").to_string());
        }
        let intra = ids.pop().expect("two");
        let monthly = ids.pop().expect("two");
        (world, monthly, intra)
    }

    fn state(world: &SimWorld, id: &str) -> VirtualClusterState {
        world.sim.world().virtual_cluster(id).expect("vc").state
    }

    #[tokio::test]
    async fn deletes_by_name_and_by_id() {
        let (world, monthly, intra) = world_with_vcs().await;
        let out = world
            .run(
                "delete-vc",
                json!({"virtual_cluster": "monthly-batch-emr-cluster"}),
            )
            .await
            .expect("deleted by name");
        assert_eq!(out, json!({"virtual_cluster_id": monthly, "deleted": true}));
        assert_eq!(state(&world, &monthly), VirtualClusterState::Terminated);
        assert_eq!(
            state(&world, &intra),
            VirtualClusterState::Running,
            "only the named one"
        );

        let out = world
            .run("delete-vc", json!({"virtual_cluster": intra}))
            .await
            .expect("deleted by id");
        assert_eq!(out, json!({"virtual_cluster_id": intra, "deleted": true}));
        assert_eq!(state(&world, &intra), VirtualClusterState::Terminated);
    }

    #[tokio::test]
    async fn deleting_a_missing_one_succeeds_without_deleting() {
        let (world, monthly, _) = world_with_vcs().await;
        let out = world
            .run("delete-vc", json!({"virtual_cluster": "no-such-vc"}))
            .await
            .expect("nothing to delete is fine");
        assert_eq!(out, json!({"virtual_cluster_id": null, "deleted": false}));

        world
            .run("delete-vc", json!({"virtual_cluster": monthly}))
            .await
            .expect("deleted");
        for again in [monthly.as_str(), "monthly-batch-emr-cluster"] {
            let out = world
                .run("delete-vc", json!({"virtual_cluster": again}))
                .await
                .expect("already gone is fine");
            assert_eq!(out["deleted"], false, "{again}");
        }
        let running = world
            .sim
            .world()
            .virtual_clusters()
            .filter(|vc| vc.state == VirtualClusterState::Running)
            .count();
        assert_eq!(running, 1, "the other one is untouched");
    }

    #[tokio::test]
    async fn unknown_fields_are_rejected() {
        let (world, _, _) = world_with_vcs().await;
        let err = world
            .run("delete-vc", json!({"name": "monthly-batch-emr-cluster"}))
            .await
            .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `name`"), "{err}");
    }
}
