//! `delete-job-role`: removes a job execution role and its inline policies (row 101).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;

/// The action; [`DeleteJobRoleInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteJobRole;

/// Deletes an IAM role with its inline policies (IAM refuses to delete a role that
/// still has them, so the target removes them first); succeeds when it is already
/// gone, so a teardown can run twice.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteJobRoleInput {
    /// Role name.
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteJobRoleOutput {
    /// Role name.
    name: String,
    /// Whether this step deleted it (false: it was already gone).
    deleted: bool,
}

impl Action for DeleteJobRole {
    type Input = DeleteJobRoleInput;
    type Output = DeleteJobRoleOutput;
    const NAME: &'static str = "delete-job-role";
    const SUMMARY: &'static str = "Delete an IAM job execution role and its inline policies (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteJobRoleInput,
        ctx: &StepContext,
    ) -> Result<DeleteJobRoleOutput, ActionError> {
        let deleted = ctx.target.iam.delete_role(&input.name).await?;
        Ok(DeleteJobRoleOutput {
            name: input.name,
            deleted,
        })
    }

    fn planned_calls(
        input: &DeleteJobRoleInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        Ok(plan.target.iam.planned_delete_role(&input.name))
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
                "create-job-role",
                json!({"name": "nightly-batch-JobExecutionRole", "namespace": "nightly-batch"}),
            )
            .await
            .expect("created");
        let out = world
            .run(
                "delete-job-role",
                json!({"name": "nightly-batch-JobExecutionRole"}),
            )
            .await
            .expect("deleted");
        assert_eq!(
            out,
            json!({"name": "nightly-batch-JobExecutionRole", "deleted": true})
        );
        assert!(
            world
                .sim
                .world()
                .role("nightly-batch-JobExecutionRole")
                .is_err()
        );
        let again = world
            .run(
                "delete-job-role",
                json!({"name": "nightly-batch-JobExecutionRole"}),
            )
            .await
            .expect("gone");
        assert_eq!(again["deleted"], false);
    }
}
