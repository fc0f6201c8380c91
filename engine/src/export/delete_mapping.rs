//! The deletes of a teardown as Task states: each treats "already gone" as success, as
//! the run does, and what must go first (a bucket's objects, a role's policies and
//! instance profiles, the virtual cluster of a name) is listed and removed by a Map
//! state over the listed items.
//!
//! A list is read once (its first page: up to 1,000 S3 keys per round, which repeats
//! until the bucket is empty; IAM's and EMR's first page of 100 and 50).

use serde_json::{Map, Value, json};

use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;
use super::runtime_value::{marker, parameters};
use super::states::{NEXT_STATE, State, inline_map};

/// A Map state over the list at `items_path` running one Task per item: `integration`
/// with `task_parameters` (read from the iteration's input, which `selector` builds
/// from the item, `$$.Map.Item.Value`, and the step's input).
fn for_each_listed(
    b: &Builder<'_>,
    what: &str,
    items_path: &str,
    selector: Value,
    integration: &str,
    task_parameters: Value,
) -> Result<State, Unexportable> {
    let selector = parameters(&selector)?;
    let task = State::task(
        b.name(what),
        &format!("arn:aws:states:::{integration}"),
        task_parameters,
    )
    .set("ResultPath", Value::Null);
    Ok(inline_map(
        b.name(&format!("{what} each")),
        items_path,
        Some(selector),
        vec![task],
        Value::Null,
    ))
}

/// A Task whose `gone` error means there is nothing to delete: the step goes on to
/// `next` (the state after it, or the step's outputs when nothing else is left to do).
fn tolerating_gone(
    b: &mut Builder<'_>,
    what: &str,
    integration: &str,
    parameters: Value,
    iam: &[(&str, &str, Value)],
    gone: &str,
    next: &str,
) -> Result<(), Unexportable> {
    let path = b.scratch(&format!("{}_gone", what.replace(' ', "_")));
    b.task(what, integration, parameters, iam)?
        .catch(&[gone], &path, next);
    Ok(())
}

pub(super) fn delete_log_group(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let name = field(b.step.with, "name").clone();
    let request = b.planned("DeleteLogGroup")?;
    tolerating_gone(
        b,
        "DeleteLogGroup",
        "aws-sdk:cloudwatchlogs:deleteLogGroup",
        request,
        &[("CloudWatch Logs", "DeleteLogGroup", json!({}))],
        "CloudWatchLogs.ResourceNotFoundException",
        NEXT_STATE,
    )?;
    b.outputs(&["name"], json!({"name": name}))
}

pub(super) fn delete_bucket(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let name = field(b.step.with, "name").clone();
    let outputs = b.name("outputs");
    let gone = "S3.NoSuchBucketException";
    if field(b.step.with, "force") == &json!(true) {
        let listed = b.scratch("objects");
        let list = b.name("ListObjectsV2");
        let delete_bucket = b.name("DeleteBucket");
        let keys = b.name("keys each");
        tolerating_gone(
            b,
            "ListObjectsV2",
            "aws-sdk:s3:listObjectsV2",
            json!({"Bucket": name}),
            &[("S3", "ListObjectsV2", json!({}))],
            gone,
            &outputs,
        )?;
        if let Some(last) = b.mapping.states.last_mut() {
            last.body.insert("ResultPath".into(), json!(listed));
        }
        b.mapping.states.push(State {
            name: b.name("empty?"),
            body: Map::from_iter([
                ("Type".to_string(), json!("Choice")),
                (
                    "Choices".to_string(),
                    json!([{"Variable": format!("{listed}.KeyCount"), "NumericGreaterThan": 0, "Next": keys}]),
                ),
                ("Default".to_string(), json!(delete_bucket)),
            ]),
        });
        // DeleteObjects takes the keys alone: a Map of Pass states picks them out.
        let keys_path = b.scratch("keys");
        b.mapping.states.push(inline_map(
            keys,
            &format!("{listed}.Contents"),
            None,
            vec![State::pass(b.name("key"), json!({"Key.$": "$.Key"}))],
            json!(keys_path),
        ));
        b.task(
            "DeleteObjects",
            "aws-sdk:s3:deleteObjects",
            json!({"Bucket": name, "Delete": {"Objects": marker(&keys_path), "Quiet": true}}),
            &[("S3", "DeleteObjects", json!({}))],
        )?
        .body
        .insert("Next".into(), json!(list));
    }
    let request = b.planned("DeleteBucket")?;
    tolerating_gone(
        b,
        "DeleteBucket",
        "aws-sdk:s3:deleteBucket",
        request,
        &[("S3", "DeleteBucket", json!({}))],
        gone,
        NEXT_STATE,
    )?;
    b.outputs(&["name"], json!({"name": name}))
}

pub(super) fn delete_job_role(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let name = field(b.step.with, "name").clone();
    let outputs = b.name("outputs");
    let gone = "Iam.NoSuchEntityException";
    let lists = [
        (
            "ListRolePolicies",
            "listRolePolicies",
            "PolicyNames",
            "DeleteRolePolicy",
            "deleteRolePolicy",
            json!({"PolicyName.$": "$$.Map.Item.Value"}),
            json!({"RoleName.$": "$.RoleName", "PolicyName.$": "$.PolicyName"}),
        ),
        (
            "ListAttachedRolePolicies",
            "listAttachedRolePolicies",
            "AttachedPolicies",
            "DetachRolePolicy",
            "detachRolePolicy",
            json!({"PolicyArn.$": "$$.Map.Item.Value.PolicyArn"}),
            json!({"RoleName.$": "$.RoleName", "PolicyArn.$": "$.PolicyArn"}),
        ),
        (
            "ListInstanceProfilesForRole",
            "listInstanceProfilesForRole",
            "InstanceProfiles",
            "RemoveRoleFromInstanceProfile",
            "removeRoleFromInstanceProfile",
            json!({"InstanceProfileName.$": "$$.Map.Item.Value.InstanceProfileName"}),
            json!({"RoleName.$": "$.RoleName", "InstanceProfileName.$": "$.InstanceProfileName"}),
        ),
    ];
    for (list, list_api, member, remove, remove_api, selector, remove_parameters) in lists {
        let listed = b.scratch(&list.to_ascii_lowercase());
        tolerating_gone(
            b,
            list,
            &format!("aws-sdk:iam:{list_api}"),
            json!({"RoleName": name}),
            &[("IAM", list, json!({})), ("IAM", remove, json!({}))],
            gone,
            &outputs,
        )?;
        if let Some(last) = b.mapping.states.last_mut() {
            last.body.insert("ResultPath".into(), json!(listed));
        }
        let mut selector = selector;
        selector["RoleName"] = name.clone();
        let each = for_each_listed(
            b,
            remove,
            &format!("{listed}.{member}"),
            selector,
            &format!("aws-sdk:iam:{remove_api}"),
            remove_parameters,
        )?;
        b.mapping
            .integrations
            .push(format!("aws-sdk:iam:{remove_api} (each)"));
        b.mapping.states.push(each);
    }
    let request = b.planned("DeleteRole")?;
    tolerating_gone(
        b,
        "DeleteRole",
        "aws-sdk:iam:deleteRole",
        request,
        &[("IAM", "DeleteRole", json!({}))],
        gone,
        NEXT_STATE,
    )?;
    b.outputs(&["name"], json!({"name": name}))
}

pub(super) fn delete_vc(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let wanted = field(b.step.with, "virtual_cluster").clone();
    let listed = b.scratch("virtual_clusters");
    b.task(
        "ListVirtualClusters",
        "aws-sdk:emrcontainers:listVirtualClusters",
        json!({"States": ["RUNNING"]}),
        &[("EMR on EKS", "ListVirtualClusters", json!({}))],
    )?
    .body
    .insert("ResultPath".into(), json!(listed));
    // The RUNNING virtual cluster with that name or id, as the run looks it up; none
    // left is success (already gone).
    let delete = b.name("DeleteVirtualCluster");
    let not_it = b.name("not this one");
    let choice = State {
        name: b.name("this one?"),
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            (
                "Choices".to_string(),
                json!([{"Or": [
                    {"Variable": "$.virtual_cluster.Name", "StringEqualsPath": "$.wanted"},
                    {"Variable": "$.virtual_cluster.Id", "StringEqualsPath": "$.wanted"},
                ], "Next": delete}]),
            ),
            ("Default".to_string(), json!(not_it)),
        ]),
    };
    let remove = State::task(
        delete,
        "arn:aws:states:::aws-sdk:emrcontainers:deleteVirtualCluster",
        json!({"Id.$": "$.virtual_cluster.Id"}),
    )
    .set("ResultPath", Value::Null)
    .set("End", json!(true));
    let skip = State::pass(not_it, json!({})).set("End", json!(true));
    let selector =
        parameters(&json!({"virtual_cluster.$": "$$.Map.Item.Value", "wanted": wanted}))?;
    b.mapping.states.push(inline_map(
        b.name("DeleteVirtualCluster each"),
        &format!("{listed}.VirtualClusters"),
        Some(selector),
        vec![choice, remove, skip],
        Value::Null,
    ));
    b.mapping
        .integrations
        .push("aws-sdk:emrcontainers:deleteVirtualCluster (the one of that name or id)".into());
    b.mapping
        .calls
        .push(json!({"service": "EMR on EKS", "operation": "DeleteVirtualCluster", "detail": {}}));
    b.outputs(&[], json!({}))
}
