//! `create-bucket`: an S3 bucket for logs, pod templates or job scripts (walkthrough
//! rows 4, 8 and 9).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, is_placeholder};
use runbook_backend::ActionError;

/// The action; [`CreateBucketInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreateBucket;

/// Creates an S3 bucket in the target's region, or adopts it when we already own it
/// (the walkthrough's scripts failed on re-run with `BucketAlreadyOwnedByYou`). A
/// bucket of that name owned by another account is an error: bucket names are global.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBucketInput {
    /// Bucket name (walkthrough: `NAMESPACE-logs-ACCOUNT-REGION`): 3-63 lowercase
    /// letters, digits, `.` and `-`, starting and ending with a letter or digit. Names
    /// are global across all AWS accounts, hence the account and region in the example.
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreateBucketOutput {
    /// Bucket name.
    name: String,
    /// Bucket ARN (`arn:aws:s3:::NAME`; in China and GovCloud, that partition's).
    arn: String,
    /// `s3://NAME`, for job log locations and object URIs.
    uri: String,
    /// Whether this step created it (false: we already owned it).
    created: bool,
}

impl Action for CreateBucket {
    type Input = CreateBucketInput;
    type Output = CreateBucketOutput;
    const NAME: &'static str = "create-bucket";
    const SUMMARY: &'static str = "Create (or adopt) an S3 bucket in the target's region.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreateBucketInput,
        ctx: &StepContext,
    ) -> Result<CreateBucketOutput, ActionError> {
        check_name(&input.name)?;
        let created = ctx.target.s3.create_bucket(&input.name).await?;
        Ok(CreateBucketOutput {
            arn: format!("arn:{}:s3:::{}", ctx.target.partition(), input.name),
            uri: format!("s3://{}", input.name),
            name: input.name,
            created,
        })
    }

    fn planned_calls(
        input: &CreateBucketInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        if !is_placeholder(&input.name) {
            check_name(&input.name)?;
        }
        Ok(plan.target.s3.planned_create_bucket(&input.name))
    }
}

/// [`check_bucket_name`] as the step's error.
fn check_name(name: &str) -> Result<(), ActionError> {
    check_bucket_name(name).map_err(|why| {
        ActionError::InvalidInput(format!("bucket name `{name}` is not valid: {why}"))
    })
}

/// S3's rules for general purpose bucket names, each with the reason it failed.
fn check_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!("it has {} characters; use 3 to 63", name.len()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "`{bad}` is not allowed; use lowercase letters, digits, `.` and `-` only"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must start and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("it must not contain two adjacent periods".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("it must not look like an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("the prefix `{prefix}` is reserved"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("the suffix `{suffix}` is reserved"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check_bucket_name;
    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn creates_then_adopts() {
        let world = SimWorld::new();
        let name = "monthly-batch-logs-123456789012-us-east-2";
        let first = world
            .run("create-bucket", json!({"name": name}))
            .await
            .expect("created");
        assert_eq!(
            first,
            json!({"name": name, "arn": format!("arn:aws:s3:::{name}"), "uri": format!("s3://{name}"), "created": true})
        );
        let second = world
            .run("create-bucket", json!({"name": name}))
            .await
            .expect("adopted");
        assert_eq!(second["created"], false);
        assert_eq!(
            world
                .sim
                .world()
                .buckets()
                .filter(|b| b.name == name)
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn bad_names_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run("create-bucket", json!({"name": "Monthly-Logs"}))
            .await
            .expect_err("capitals");
        assert_eq!(
            err.to_string(),
            "invalid input: bucket name `Monthly-Logs` is not valid: `M` is not allowed; use lowercase letters, digits, `.` and `-` only"
        );
        let err = world
            .run("create-bucket", json!({"name": "a", "region": "us-east-1"}))
            .await
            .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `region`"), "{err}");
        assert_eq!(world.sim.world().buckets().count(), 0);
    }

    #[test]
    fn naming_rules() {
        for good in [
            "abc",
            "my.bucket-1",
            "a-b-c",
            "192.168.5.4x",
            &"a".repeat(63),
        ] {
            assert_eq!(check_bucket_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("ab", "it has 2 characters"),
            (&*"a".repeat(64), "it has 64 characters"),
            ("my_bucket", "`_` is not allowed"),
            ("-abc", "start and end"),
            ("abc.", "start and end"),
            ("a..b", "adjacent periods"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "prefix `xn--`"),
            ("abc-s3alias", "suffix `-s3alias`"),
        ] {
            let err = check_bucket_name(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
