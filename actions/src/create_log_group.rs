//! `create-log-group`: a CloudWatch Logs log group for job logs (walkthrough row 4).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, is_placeholder};
use runbook_backend::ActionError;

/// The retention periods CloudWatch Logs accepts (PutRetentionPolicy); any other
/// number is rejected by the service, so it is rejected here first.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The action; [`CreateLogGroupInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreateLogGroup;

/// Creates a CloudWatch Logs log group, or adopts the one of that name, and sets its
/// retention when one is given. EMR on EKS writes the driver's and executors' logs
/// there when a job names it in its monitoring configuration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateLogGroupInput {
    /// Log group name (walkthrough: `/emr-on-eks/CLUSTER/NAMESPACE`): 1-512 letters,
    /// digits and `_ - / . #`.
    name: String,
    /// Days to keep log events (default: forever). One of 1, 3, 5, 7, 14, 30, 60, 90,
    /// 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653.
    #[serde(default)]
    retention_days: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreateLogGroupOutput {
    /// Log group name.
    name: String,
    /// Log group ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`).
    arn: String,
    /// Retention in days, if any.
    retention_days: Option<u32>,
    /// Whether this step created it (false: it existed and was adopted).
    created: bool,
}

impl Action for CreateLogGroup {
    type Input = CreateLogGroupInput;
    type Output = CreateLogGroupOutput;
    const NAME: &'static str = "create-log-group";
    const SUMMARY: &'static str =
        "Create (or adopt) a CloudWatch Logs log group, with optional retention.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreateLogGroupInput,
        ctx: &StepContext,
    ) -> Result<CreateLogGroupOutput, ActionError> {
        check_name(&input.name)?;
        check_retention(input.retention_days)?;
        let group = ctx
            .target
            .logs
            .create_log_group(&input.name, input.retention_days)
            .await?;
        Ok(CreateLogGroupOutput {
            name: group.name,
            arn: group.arn,
            retention_days: group.retention_days,
            created: group.created,
        })
    }

    fn planned_calls(
        input: &CreateLogGroupInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        if !is_placeholder(&input.name) {
            check_name(&input.name)?;
        }
        check_retention(input.retention_days)?;
        Ok(plan
            .target
            .logs
            .planned_create_log_group(&input.name, input.retention_days))
    }
}

/// A retention CloudWatch Logs would refuse, refused before any call.
fn check_retention(days: Option<u32>) -> Result<(), ActionError> {
    match days {
        Some(days) if !RETENTION_DAYS.contains(&days) => {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
            Err(ActionError::InvalidInput(format!(
                "`retention_days: {days}` is not a retention CloudWatch Logs accepts; use one of {}",
                allowed.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

/// CloudWatch Logs' pattern for log group names: `[\.\-_/#A-Za-z0-9]+`, 1-512 long.
fn check_name(name: &str) -> Result<(), ActionError> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if name.is_empty() || name.len() > 512 || !chars_ok {
        return Err(ActionError::InvalidInput(format!(
            "log group name `{name}` is not valid: use 1-512 letters, digits and `_ - / . #`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn creates_then_adopts() {
        let world = SimWorld::new();
        let name = "/emr-on-eks/eks-emr-cluster/monthly-batch";
        let first = world
            .run(
                "create-log-group",
                json!({"name": name, "retention_days": 7}),
            )
            .await
            .expect("created");
        assert_eq!(
            first,
            json!({
                "name": name,
                "arn": format!("arn:aws:logs:us-east-2:123456789012:log-group:{name}"),
                "retention_days": 7,
                "created": true,
            })
        );
        let second = world
            .run(
                "create-log-group",
                json!({"name": name, "retention_days": 7}),
            )
            .await
            .expect("adopted");
        assert_eq!(second["created"], false);
        assert_eq!(second["arn"], first["arn"]);
        {
            let w = world.sim.world();
            assert_eq!(w.log_groups().filter(|g| g.name == name).count(), 1);
            assert_eq!(w.log_group(name).expect("group").retention_days, Some(7));
        }

        // Adopting with another retention sets it; adopting with none keeps it.
        let third = world
            .run(
                "create-log-group",
                json!({"name": name, "retention_days": 30}),
            )
            .await
            .expect("retention changed");
        assert_eq!(
            (&third["retention_days"], &third["created"]),
            (&json!(30), &json!(false))
        );
        let fourth = world
            .run("create-log-group", json!({"name": name}))
            .await
            .expect("kept");
        assert_eq!(fourth["retention_days"], 30);
        assert_eq!(fourth["arn"], first["arn"]);
        let w = world.sim.world();
        assert_eq!(w.log_group(name).expect("group").retention_days, Some(30));
        assert_eq!(w.log_groups().count(), 1);
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run(
                "create-log-group",
                json!({"name": "/a", "retention_days": 10}),
            )
            .await
            .expect_err("10 days is not allowed");
        assert!(
            err.to_string()
                .contains("`retention_days: 10` is not a retention"),
            "{err}"
        );
        assert!(err.to_string().contains("3653"), "{err}");
        let err = world
            .run("create-log-group", json!({"name": "a b"}))
            .await
            .expect_err("space");
        assert!(
            err.to_string()
                .contains("log group name `a b` is not valid"),
            "{err}"
        );
        let err = world
            .run("create-log-group", json!({"name": "/a", "retention": 7}))
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `retention`"),
            "{err}"
        );
        assert_eq!(world.sim.world().log_groups().count(), 0);
    }
}
