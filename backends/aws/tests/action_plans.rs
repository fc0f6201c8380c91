//! What `runbook plan --target aws` lists for each action: the calls of the `aws`
//! target's operations the action uses, as the target declares them (the same
//! declarations its run sends each call under).

use std::sync::Arc;

use runbook_actions::{PlanContext, PlannedCall};
use serde_json::{Value, json};

/// The plan context of step instance `key` on the `aws` target.
fn context(key: &str) -> PlanContext {
    PlanContext::new(
        key,
        Arc::new(runbook_backend_aws::planning_target(Some("us-east-2"))),
    )
}

/// The calls `plan --target aws` lists for `action` with the rendered `input`, as step
/// `key`, through the catalog as the engine asks for them.
fn planned(action: &str, input: Value, key: &str) -> Result<Vec<PlannedCall>, String> {
    runbook_actions::find(action)
        .unwrap_or_else(|| panic!("no action `{action}`"))
        .planned_calls(&input, &context(key))
}

/// Each call as one line, as `plan` prints it.
fn lines(calls: &[PlannedCall]) -> Vec<String> {
    calls.iter().map(ToString::to_string).collect()
}

/// `plan --target aws` lists the calls of every action that makes any: an action
/// added without `planned_calls` would show "calls: none" and hide what it does.
/// Each action needs a sample input here, so a new one cannot be forgotten.
#[test]
fn every_action_that_calls_a_service_plans_its_calls() {
    let samples = [
        ("log", json!({"message": "hi"}), false),
        ("sleep", json!({"duration": "1s"}), false),
        ("assert", json!({"that": true}), false),
        ("exec", json!({"argv": ["helm", "version"]}), true),
        ("register-vc", json!({"namespace": "a"}), true),
        (
            "delete-vc",
            json!({"virtual_cluster": "a-emr-cluster"}),
            true,
        ),
        (
            "submit-job",
            json!({"virtual_cluster": "v", "name": "j", "role": "r"}),
            true,
        ),
        ("wait-for-job", json!({"job": "j"}), true),
        ("cancel-job", json!({"job": "j"}), true),
        (
            "wait-for-pods",
            json!({"namespace": "a", "running": 1}),
            true,
        ),
        ("assert-eviction", json!({"victim_job": "j"}), true),
        ("assert-autoscaling", json!({}), true),
        ("create-cluster", json!({"name": "c"}), true),
        ("delete-cluster", json!({"name": "c"}), true),
        ("create-namespace", json!({"name": "a"}), true),
        ("delete-namespace", json!({"name": "a"}), true),
        (
            "create-priority-class",
            json!({"name": "p", "value": 1}),
            true,
        ),
        ("delete-priority-class", json!({"name": "p"}), true),
        (
            "apply-manifest",
            json!({"manifest": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"}),
            true,
        ),
        ("enable-autoscaling", json!({}), true),
        (
            "create-job-role",
            json!({"name": "r", "namespace": "a"}),
            true,
        ),
        ("delete-job-role", json!({"name": "r"}), true),
        ("create-log-group", json!({"name": "/a"}), true),
        ("delete-log-group", json!({"name": "/a"}), true),
        ("create-bucket", json!({"name": "a-bucket"}), true),
        ("delete-bucket", json!({"name": "a-bucket"}), true),
        (
            "put-object",
            json!({"bucket": "b", "key": "k", "content": "x"}),
            true,
        ),
    ];
    for action in runbook_actions::catalog() {
        let (_, input, calls_something) = samples
            .iter()
            .find(|(name, _, _)| *name == action.name())
            .unwrap_or_else(|| panic!("no sample input for `{}`", action.name()));
        let calls = action
            .planned_calls(input, &context("s"))
            .unwrap_or_else(|e| panic!("`{}`: {e}", action.name()));
        assert_eq!(
            !calls.is_empty(),
            *calls_something,
            "`{}` plans {calls:?}",
            action.name()
        );
    }
}

#[test]
fn create_log_group_sets_retention_only_when_asked() {
    let with_retention = planned(
        "create-log-group",
        json!({"name": "/emr-on-eks/c/a", "retention_days": 7}),
        "logs",
    )
    .expect("calls");
    assert_eq!(
        lines(&with_retention),
        [
            "CloudWatch Logs CreateLogGroup logGroupName=/emr-on-eks/c/a [ResourceAlreadyExistsException: adopted]",
            "CloudWatch Logs DescribeLogGroups logGroupNamePrefix=/emr-on-eks/c/a [its ARN and retention]",
            "CloudWatch Logs PutRetentionPolicy logGroupName=/emr-on-eks/c/a retentionInDays=7 [unless it keeps its events that long already]",
        ]
    );
    let without = planned("create-log-group", json!({"name": "/a"}), "logs").expect("calls");
    assert_eq!(without.len(), 2, "{without:?}");
    let refused = planned(
        "create-log-group",
        json!({"name": "/a", "retention_days": 8}),
        "logs",
    )
    .expect_err("8 days is no retention CloudWatch Logs accepts");
    assert!(refused.contains("retention_days: 8"), "{refused}");
}

#[test]
fn delete_log_group_is_one_call() {
    let calls = planned("delete-log-group", json!({"name": "/a"}), "teardown").expect("calls");
    assert_eq!(
        lines(&calls),
        [
            "CloudWatch Logs DeleteLogGroup logGroupName=/a [ResourceNotFoundException: already gone, which is success]"
        ]
    );
}

#[test]
fn delete_bucket_empties_it_only_when_forced() {
    let operations = |calls: Vec<PlannedCall>| -> Vec<String> {
        calls
            .iter()
            .map(|c| format!("{} {}", c.service, c.operation))
            .collect()
    };
    let forced = planned("delete-bucket", json!({"name": "b", "force": true}), "d").expect("calls");
    assert_eq!(
        operations(forced),
        ["S3 ListObjectsV2", "S3 DeleteObjects", "S3 DeleteBucket"]
    );
    let plain = planned("delete-bucket", json!({"name": "b"}), "d").expect("calls");
    assert_eq!(operations(plain), ["S3 DeleteBucket"]);
}

#[test]
fn create_bucket_names_the_region_s3_needs() {
    let calls = planned("create-bucket", json!({"name": "logs-123"}), "bucket").expect("calls");
    assert_eq!(
        lines(&calls),
        [
            r#"S3 CreateBucket bucket=logs-123 createBucketConfiguration={"locationConstraint":"us-east-2"} [BucketAlreadyOwnedByYou: adopted]"#
        ]
    );
    let in_us_east_1 = PlanContext::new(
        "bucket",
        Arc::new(runbook_backend_aws::planning_target(Some("us-east-1"))),
    );
    let calls = runbook_actions::find("create-bucket")
        .expect("create-bucket")
        .planned_calls(&json!({"name": "logs-123"}), &in_us_east_1)
        .expect("calls");
    assert_eq!(
        calls[0].detail,
        json!({"bucket": "logs-123"}),
        "us-east-1 takes no LocationConstraint"
    );
}

#[test]
fn put_object_says_what_it_uploads() {
    let text = planned(
        "put-object",
        json!({"bucket": "b", "key": "pod-templates/high.yaml", "content": "kind: Pod\n"}),
        "upload",
    )
    .expect("calls");
    assert_eq!(
        lines(&text),
        ["S3 PutObject bucket=b key=pod-templates/high.yaml bytes=10"]
    );
    let file = planned(
        "put-object",
        json!({"bucket": "b", "key": "k", "file": "templates/high.yaml"}),
        "upload",
    )
    .expect("calls");
    assert_eq!(file[0].detail["file"], "templates/high.yaml");
}
