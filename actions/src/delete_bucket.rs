//! `delete-bucket`: removes an S3 bucket, optionally emptying it first (row 101).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;

/// The action; [`DeleteBucketInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct DeleteBucket;

/// Deletes an S3 bucket; succeeds when it is already gone, so a teardown can run twice.
/// S3 refuses to delete a bucket with objects in it; `force` deletes them first, as
/// `aws s3 rb --force` does.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteBucketInput {
    /// Bucket name.
    name: String,
    /// Delete every object in it first (otherwise a bucket that is not empty is an
    /// error, which protects data nobody meant to throw away).
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteBucketOutput {
    /// Bucket name.
    name: String,
    /// Whether this step deleted it (false: it was already gone).
    deleted: bool,
}

impl Action for DeleteBucket {
    type Input = DeleteBucketInput;
    type Output = DeleteBucketOutput;
    const NAME: &'static str = "delete-bucket";
    const SUMMARY: &'static str =
        "Delete an S3 bucket, emptying it first with `force` (succeeds if it is already gone).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: DeleteBucketInput,
        ctx: &StepContext,
    ) -> Result<DeleteBucketOutput, ActionError> {
        let deleted = match ctx.target.s3.delete_bucket(&input.name, input.force).await {
            Ok(deleted) => deleted,
            Err(e @ ActionError::Service { .. }) if is_not_empty(&e) => {
                return Err(ActionError::Failed(format!(
                    "{e}; set `force: true` to delete its objects first"
                )));
            }
            Err(e) => return Err(e),
        };
        Ok(DeleteBucketOutput {
            name: input.name,
            deleted,
        })
    }

    fn planned_calls(
        input: &DeleteBucketInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        Ok(plan
            .target
            .s3
            .planned_delete_bucket(&input.name, input.force))
    }
}

fn is_not_empty(e: &ActionError) -> bool {
    matches!(e, ActionError::Service { code, .. } if code == "BucketNotEmpty")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn deletes_then_succeeds_when_already_gone() {
        let world = SimWorld::new();
        world
            .run("create-bucket", json!({"name": "empty-bucket"}))
            .await
            .expect("created");
        let out = world
            .run("delete-bucket", json!({"name": "empty-bucket"}))
            .await
            .expect("deleted");
        assert_eq!(out, json!({"name": "empty-bucket", "deleted": true}));
        assert!(world.sim.world().bucket("empty-bucket").is_err());
        let again = world
            .run("delete-bucket", json!({"name": "empty-bucket"}))
            .await
            .expect("gone");
        assert_eq!(again["deleted"], false);
    }

    #[tokio::test]
    async fn a_bucket_with_objects_needs_force() {
        let world = SimWorld::new();
        world
            .run("create-bucket", json!({"name": "templates"}))
            .await
            .expect("created");
        world
            .run(
                "put-object",
                json!({"bucket": "templates", "key": "driver.yaml", "content": "kind: Pod\n"}),
            )
            .await
            .expect("put");
        let err = world
            .run("delete-bucket", json!({"name": "templates"}))
            .await
            .expect_err("not empty");
        let message = err.to_string();
        assert!(message.contains("BucketNotEmpty"), "{message}");
        assert!(message.contains("set `force: true`"), "{message}");
        assert!(world.sim.world().bucket("templates").is_ok());

        let out = world
            .run("delete-bucket", json!({"name": "templates", "force": true}))
            .await
            .expect("emptied and deleted");
        assert_eq!(out["deleted"], true);
        assert!(world.sim.world().bucket("templates").is_err());
    }
}
