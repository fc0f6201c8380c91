//! `delete-log-group`: removes a CloudWatch Logs log group (walkthrough row 101).

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The action; [`DeleteLogGroupInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteLogGroup;

/// Deletes a CloudWatch Logs log group and its log events; succeeds when it is already
/// gone, so a teardown can run twice.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteLogGroupInput {
    /// Log group name.
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteLogGroupOutput {
    /// Log group name.
    name: String,
    /// Whether this step deleted it (false: it was already gone).
    deleted: bool,
}

impl Action for DeleteLogGroup {
    type Input = DeleteLogGroupInput;
    type Output = DeleteLogGroupOutput;
    const NAME: &'static str = "delete-log-group";
    const SUMMARY: &'static str =
        "Delete a CloudWatch Logs log group (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteLogGroupInput,
        ctx: &StepContext,
    ) -> Result<DeleteLogGroupOutput, ActionError> {
        let deleted = ctx.target.logs.delete_log_group(&input.name).await?;
        Ok(DeleteLogGroupOutput {
            name: input.name,
            deleted,
        })
    }

    fn planned_calls(
        input: &DeleteLogGroupInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        Ok(plan.target.logs.planned_delete_log_group(&input.name))
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
            .run("create-log-group", json!({"name": "/emr/a"}))
            .await
            .expect("created");
        let out = world
            .run("delete-log-group", json!({"name": "/emr/a"}))
            .await
            .expect("deleted");
        assert_eq!(out, json!({"name": "/emr/a", "deleted": true}));
        assert!(world.sim.world().log_group("/emr/a").is_err());
        let again = world
            .run("delete-log-group", json!({"name": "/emr/a"}))
            .await
            .expect("gone");
        assert_eq!(again["deleted"], false);
    }
}
