//! `delete-job-role`: removes a job execution role and its inline policies (row 101).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, Service};
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
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let role = input.name.as_str();
        Ok(vec![
            PlannedCall::new(Service::Iam, "ListRolePolicies", json!({"roleName": role}))
                .note("NoSuchEntity: already gone, which is success"),
            PlannedCall::new(
                Service::Iam,
                "DeleteRolePolicy",
                json!({"roleName": role, "policyName": "<each inline policy>"}),
            )
            .when("for each inline policy (IAM deletes no role that has any)"),
            PlannedCall::new(
                Service::Iam,
                "ListAttachedRolePolicies",
                json!({"roleName": role}),
            ),
            PlannedCall::new(
                Service::Iam,
                "DetachRolePolicy",
                json!({"roleName": role, "policyArn": "<each attached policy>"}),
            )
            .when("for each attached managed policy"),
            PlannedCall::new(
                Service::Iam,
                "ListInstanceProfilesForRole",
                json!({"roleName": role}),
            ),
            PlannedCall::new(
                Service::Iam,
                "RemoveRoleFromInstanceProfile",
                json!({"roleName": role, "instanceProfileName": "<each instance profile>"}),
            )
            .when("for each instance profile it is in"),
            PlannedCall::new(Service::Iam, "DeleteRole", json!({"roleName": role})),
        ])
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
