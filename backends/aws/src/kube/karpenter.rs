//! runbook's Karpenter objects on a real cluster: `enable-autoscaling` applies an
//! EC2NodeClass and a NodePool of the same name and waits for both to be Ready;
//! `delete-cluster` removes them first, so that Karpenter terminates the instances it
//! launched while it still can (deleting the cluster under it would leave them
//! running).

use ::kube::Client;
use ::kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

use super::AwsKube;
use super::autoscaler::serves_node_pool;
use super::node_class::{node_class, node_class_kind};
use super::node_pool::{MANAGED_BY, NODE_POOL_LABEL, node_pool, node_pool_kind};
use super::service::FIELD_MANAGER;
use super::status::{is, kube_error};
use runbook_backend::calls::{PlannedCall, PlannedCalls, Service, declared};
use runbook_backend::{ActionError, AutoscalingRequest, ObjectReadiness, TargetResult};

/// The two kinds, with their plurals (discovery is not needed to address them).
fn node_classes() -> ApiResource {
    ApiResource::from_gvk_with_plural(&node_class_kind(), "ec2nodeclasses")
}

fn node_pools() -> ApiResource {
    ApiResource::from_gvk_with_plural(&node_pool_kind(), "nodepools")
}

/// Applies (server-side, forced: runbook owns what it applies, and an existing one of
/// the same name is adopted) the EC2NodeClass, then the NodePool that refers to it.
pub(super) async fn apply(
    kube: &AwsKube,
    cluster: &str,
    request: &AutoscalingRequest,
) -> TargetResult<()> {
    let Some(role) = request.node_role.as_deref() else {
        return Err(ActionError::InvalidInput(format!(
            "Karpenter's EC2NodeClass needs the IAM role of the nodes it launches and cluster `{cluster}` has no managed node group to take it from: give enable-autoscaling's `node_role`"
        )));
    };
    let pool = node_pool(request)?;
    let client = kube.client(cluster).await?;
    let class = node_class(&request.name, cluster, role);
    apply_one(
        &client,
        &node_classes(),
        &class,
        &request.name,
        "apply EC2NodeClass",
    )
    .await?;
    apply_one(
        &client,
        &node_pools(),
        &pool,
        &request.name,
        "apply NodePool",
    )
    .await
}

async fn apply_one(
    client: &Client,
    resource: &ApiResource,
    document: &Value,
    name: &str,
    operation: &'static str,
) -> TargetResult<()> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match declared(
        apply_call(document),
        api.patch(name, &params, &Patch::Apply(document)),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut failure = kube_error(operation, name, &e);
            if is(&e, "NotFound") {
                if let ActionError::Service { message, .. } = &mut failure {
                    message.push_str(&format!(
                        " (the {}/{} {} kind is missing: install Karpenter v1 on the cluster first)",
                        resource.group, resource.version, resource.kind
                    ));
                }
            }
            Err(failure)
        }
    }
}

/// Whether the EC2NodeClass and the NodePool `name` are Ready, by their `Ready`
/// conditions (which Karpenter's controller sets once it resolved the role, AMI,
/// subnets and security groups, and, for the NodePool, its node class).
pub(super) async fn readiness(
    kube: &AwsKube,
    cluster: &str,
    name: &str,
) -> TargetResult<Vec<ObjectReadiness>> {
    let client = kube.client(cluster).await?;
    let mut found = Vec::new();
    for (resource, operation) in [
        (node_classes(), "get EC2NodeClass"),
        (node_pools(), "get NodePool"),
    ] {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let object = declared(get_call(&resource.kind, name), api.get_opt(name))
            .await
            .map_err(|e| kube_error(operation, name, &e))?;
        found.push(object_readiness(&resource.kind, name, object.as_ref()));
    }
    Ok(found)
}

/// What `status.conditions` say of an object (`None`: it does not exist).
fn object_readiness(kind: &str, name: &str, object: Option<&DynamicObject>) -> ObjectReadiness {
    let conditions = object
        .and_then(|o| o.data.pointer("/status/conditions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |c: &Value, field: &str| {
        c.get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let ready = conditions
        .iter()
        .any(|c| text(c, "type") == "Ready" && text(c, "status") == "True");
    let mut not_true: Vec<String> = conditions
        .iter()
        .filter(|c| text(c, "status") != "True")
        .map(|c| {
            format!(
                "{}={} ({}: {})",
                text(c, "type"),
                text(c, "status"),
                text(c, "reason"),
                text(c, "message")
            )
        })
        .collect();
    if object.is_none() {
        not_true.push("it does not exist (was it deleted?)".to_string());
    }
    ObjectReadiness {
        kind: kind.to_string(),
        name: name.to_string(),
        ready,
        not_true,
    }
}

/// Deletes the NodePools and EC2NodeClasses labelled as runbook's; returns the
/// NodePools' names. A cluster that serves no NodePool API has none.
pub(super) async fn remove(kube: &AwsKube, cluster: &str) -> TargetResult<Vec<String>> {
    let client = kube.client(cluster).await?;
    if !serves_node_pool(&client).await? {
        return Ok(Vec::new());
    }
    let pools = delete_labelled(&client, &node_pools(), "NodePool").await?;
    delete_labelled(&client, &node_classes(), "EC2NodeClass").await?;
    Ok(pools)
}

/// Deletes every object of `resource` labelled as runbook's; returns their names.
async fn delete_labelled(
    client: &Client,
    resource: &ApiResource,
    kind: &'static str,
) -> TargetResult<Vec<String>> {
    let (list, delete) = match kind {
        "NodePool" => ("list NodePool", "delete NodePool"),
        _ => ("list EC2NodeClass", "delete EC2NodeClass"),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let params = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    let objects = match declared(list_labelled_call(kind), api.list(&params)).await {
        Ok(objects) => objects,
        // The NodePool API without the EC2NodeClass one: a partly removed install.
        Err(e) if is(&e, "NotFound") => return Ok(Vec::new()),
        Err(e) => return Err(kube_error(list, kind, &e)),
    };
    let mut names = Vec::new();
    for object in objects {
        let name = object.metadata.name.unwrap_or_default();
        match declared(
            delete_labelled_call(kind, &name),
            api.delete(&name, &DeleteParams::default()),
        )
        .await
        {
            Ok(_) => {}
            Err(e) if is(&e, "NotFound") => {}
            Err(e) => return Err(kube_error(delete, &name, &e)),
        }
        names.push(name);
    }
    Ok(names)
}

/// The nodes (by name) that NodePools `pools` launched, by Karpenter's
/// `karpenter.sh/nodepool` label; no call when there are no pools.
pub(super) async fn nodes_of(
    kube: &AwsKube,
    cluster: &str,
    pools: &[String],
) -> TargetResult<Vec<String>> {
    if pools.is_empty() {
        return Ok(Vec::new());
    }
    let api: Api<Node> = Api::all(kube.client(cluster).await?);
    let selector = format!("{NODE_POOL_LABEL} in ({})", pools.join(","));
    let nodes = declared(
        pool_nodes_call(&selector),
        api.list(&ListParams::default().labels(&selector)),
    )
    .await
    .map_err(|e| kube_error("list nodes", cluster, &e))?;
    Ok(nodes
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect())
}

/// The calls [`apply`] makes: the EC2NodeClass and the NodePool, server-side applied.
pub(super) fn planned_apply(cluster: &str, request: &AutoscalingRequest) -> Vec<PlannedCall> {
    let role = request.node_role.as_deref().unwrap_or("<the nodes' role>");
    let mut calls = vec![apply_call(&node_class(&request.name, cluster, role))];
    // A request node_pool refuses is refused by the action before its plan.
    calls.extend(node_pool(request).ok().map(|pool| apply_call(&pool)));
    calls
}

/// The calls [`readiness`] makes.
pub(super) fn planned_readiness(name: &str) -> Vec<PlannedCall> {
    vec![
        get_call(&node_classes().kind, name),
        get_call(&node_pools().kind, name),
    ]
}

/// The calls [`remove`] makes.
pub(super) fn planned_remove() -> Vec<PlannedCall> {
    let serving = "if the cluster serves Karpenter's NodePool API";
    let mut calls = vec![super::autoscaler::discover_node_pool_call()];
    calls.extend(
        vec![
            list_labelled_call("NodePool"),
            delete_labelled_call("NodePool", "<each NodePool runbook applied>"),
            list_labelled_call("EC2NodeClass"),
            delete_labelled_call("EC2NodeClass", "<each EC2NodeClass runbook applied>"),
        ]
        .under(serving),
    );
    calls
}

/// The calls [`nodes_of`] makes.
pub(super) fn planned_nodes_of(pools: &[String]) -> Vec<PlannedCall> {
    vec![
        pool_nodes_call(&format!("{NODE_POOL_LABEL} in ({})", pools.join(",")))
            .when("if a NodePool was deleted"),
    ]
}

// The calls, each declared as the run sends it and as the plans above list it.

/// A server-side apply of a Karpenter object: what it is and its spec.
fn apply_call(document: &Value) -> PlannedCall {
    let kind = document["kind"].as_str().unwrap_or_default();
    PlannedCall::new(
        Service::Kubernetes,
        format!("server-side apply {kind}"),
        json!({
            "apiVersion": document["apiVersion"],
            "name": document.pointer("/metadata/name").cloned().unwrap_or_default(),
            "spec": document["spec"],
        }),
    )
}

fn get_call(kind: &str, name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Kubernetes,
        format!("get {kind}"),
        json!({"name": name}),
    )
}

fn list_labelled_call(kind: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Kubernetes,
        format!("list {kind}"),
        json!({"labelSelector": format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)}),
    )
}

fn delete_labelled_call(kind: &str, name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Kubernetes,
        format!("delete {kind}"),
        json!({"name": name}),
    )
    .when(format!("for each {kind} runbook applied"))
    .note("NotFound: already gone, which is success")
}

fn pool_nodes_call(selector: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Kubernetes,
        "list Node",
        json!({"labelSelector": selector}),
    )
}

#[cfg(test)]
mod tests {
    use ::kube::api::{ApiResource, DynamicObject};
    use serde_json::json;

    use super::{node_pool_kind, object_readiness};

    fn object(status: serde_json::Value) -> DynamicObject {
        let resource = ApiResource::from_gvk(&node_pool_kind());
        let mut object = DynamicObject::new("runbook-emr", &resource);
        object.data = json!({"status": status});
        object
    }

    #[test]
    fn ready_is_the_ready_condition_and_the_rest_says_why_not() {
        let ready = object(json!({"conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": ""},
            {"type": "ValidationSucceeded", "status": "True"},
        ]}));
        let r = object_readiness("NodePool", "runbook-emr", Some(&ready));
        assert!(r.ready);
        assert!(r.not_true.is_empty());

        let waiting = object(json!({"conditions": [
            {"type": "InstanceProfileReady", "status": "False", "reason": "NoRole", "message": "spec.role is empty"},
            {"type": "Ready", "status": "False", "reason": "UnhealthyDependents", "message": "InstanceProfileReady=False"},
        ]}));
        let r = object_readiness("EC2NodeClass", "runbook-emr", Some(&waiting));
        assert!(!r.ready);
        assert_eq!(
            r.describe(),
            "EC2NodeClass `runbook-emr` is not Ready: InstanceProfileReady=False (NoRole: spec.role is empty); Ready=False (UnhealthyDependents: InstanceProfileReady=False)"
        );

        let fresh = object_readiness("NodePool", "runbook-emr", Some(&object(json!({}))));
        assert!(!fresh.ready);
        assert!(
            fresh.describe().contains("no Ready condition yet"),
            "{}",
            fresh.describe()
        );
        let gone = object_readiness("NodePool", "runbook-emr", None);
        assert!(
            gone.describe().contains("does not exist"),
            "{}",
            gone.describe()
        );
    }
}
