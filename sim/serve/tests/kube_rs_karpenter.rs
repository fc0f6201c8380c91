//! kube-rs against a served world's Karpenter v1, as the `aws` target meets it on EKS:
//! the NodePool and EC2NodeClass APIs are discovered, the controller pod is Running,
//! an EC2NodeClass and a NodePool applied server-side (forced, as runbook applies
//! them) become Ready and make the world autoscale, with its nodes labelled by their
//! NodePool; deleting the NodePool stops the autoscaler and takes its nodes; a NodePool
//! the autoscaler cannot follow is refused as the API server refuses it.

mod common;
mod kube_client;

use std::collections::BTreeMap;

use common::{ServedDemo, served_demo};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::{Client, discovery};
use kube_client::client;
use runbook_backend::AutoscalingRequest;
use runbook_backend::karpenter_node_pool;
use runbook_backend_sim::SimTarget;
use runbook_sim::CapacityType;
use serde_json::{Value, json};

fn node_pool_kind() -> GroupVersionKind {
    GroupVersionKind::gvk("karpenter.sh", "v1", "NodePool")
}

fn node_class_kind() -> GroupVersionKind {
    GroupVersionKind::gvk("karpenter.k8s.aws", "v1", "EC2NodeClass")
}

fn api(client: &Client, kind: &GroupVersionKind, plural: &str) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(kind, plural),
    )
}

/// What runbook's `enable-autoscaling` applies: an EC2NodeClass (with `role`, if
/// given) and a NodePool of the same name.
fn node_class(role: Option<&str>) -> Value {
    let mut spec = json!({
        "amiSelectorTerms": [{"alias": "al2023@latest"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "eks-emr-cluster"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "eks-emr-cluster"}}],
    });
    if let Some(role) = role {
        spec["role"] = json!(role);
    }
    json!({
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "spark", "labels": {"app.kubernetes.io/managed-by": "runbook"}},
        "spec": spec,
    })
}

/// The NodePool `enable-autoscaling` applies for capacity types `capacity_types`.
fn node_pool(capacity_types: &[&str]) -> Value {
    let request = AutoscalingRequest {
        name: "spark".into(),
        capacity_types: capacity_types.iter().map(ToString::to_string).collect(),
        instance_types: Vec::new(),
        labels: BTreeMap::from([("intent".to_string(), "emr-job".to_string())]),
        ttl_seconds_after_empty: Some(30),
        cpu_limit: Some(64),
        node_role: None,
    };
    karpenter_node_pool::node_pool(&request).expect("a NodePool")
}

async fn apply(api: &Api<DynamicObject>, document: &Value) -> Result<DynamicObject, kube::Error> {
    let params = PatchParams::apply("runbook").force();
    api.patch("spark", &params, &Patch::Apply(document)).await
}

/// `type=status (reason)` of each of an object's conditions.
async fn conditions(api: &Api<DynamicObject>) -> Vec<String> {
    let object = api.get("spark").await.expect("the object");
    object
        .data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| format!("{}={} ({})", c["type"], c["status"], c["reason"]).replace('"', ""))
        .collect()
}

fn cluster_name(target: &SimTarget) -> String {
    let world = target.world();
    world.clusters().next().expect("a cluster").name.clone()
}

/// The capacity types the world's autoscaler may launch, if it is configured.
fn autoscaling(target: &SimTarget) -> Option<(String, Vec<CapacityType>)> {
    let cluster = cluster_name(target);
    let world = target.world();
    world
        .cluster(&cluster)
        .expect("the cluster")
        .autoscaler
        .as_ref()
        .map(|a| (a.spec.name.clone(), a.spec.capacity_types.clone()))
}

#[tokio::test]
async fn every_served_cluster_has_karpenter_installed() {
    let ServedDemo { target, served, .. } = served_demo(false).await;
    let client = client(&served);
    for kind in [node_pool_kind(), node_class_kind()] {
        let (resource, _) = discovery::pinned_kind(&client, &kind)
            .await
            .unwrap_or_else(|e| panic!("{} discovered: {e}", kind.kind));
        assert_eq!(resource.kind, kind.kind);
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let controllers = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=karpenter"))
        .await
        .expect("listed");
    let [controller] = controllers.items.as_slice() else {
        panic!("one controller: {:?}", controllers.items);
    };
    let name = controller.metadata.name.clone().expect("a name");
    assert!(name.starts_with("karpenter-"), "{name}");
    assert_eq!(
        controller.metadata.namespace.as_deref(),
        Some("kube-system")
    );
    let status = controller.status.as_ref().expect("a status");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let by_name: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    assert_eq!(
        by_name.get(&name).await.expect("got").metadata.name,
        Some(name.clone())
    );
    // Shown, not simulated: no pod of the world, so no part in its scheduling.
    let world = target.world();
    assert!(world.all_pods().iter().all(|p| p.name.as_ref() != name));
}

#[tokio::test]
async fn applied_karpenter_objects_become_ready_and_the_world_autoscales_until_the_pool_goes() {
    let ServedDemo {
        target,
        served,
        setup,
    } = served_demo(false).await;
    let client = client(&served);
    let classes = api(&client, &node_class_kind(), "ec2nodeclasses");
    let pools = api(&client, &node_pool_kind(), "nodepools");

    apply(&classes, &node_class(None)).await.expect("applied");
    assert_eq!(
        conditions(&classes).await,
        [
            "InstanceProfileReady=False (RoleNotSet)",
            "Ready=False (UnhealthyDependents)"
        ]
    );
    let created = apply(&pools, &node_pool(&["spot", "on-demand"]))
        .await
        .expect("applied");
    assert_eq!(created.metadata.name.as_deref(), Some("spark"));
    assert!(
        conditions(&pools)
            .await
            .contains(&"Ready=False (UnhealthyDependents)".to_string())
    );
    assert_eq!(
        autoscaling(&target),
        Some((
            "spark".to_string(),
            vec![CapacityType::Spot, CapacityType::OnDemand]
        ))
    );

    apply(
        &classes,
        &node_class(Some("eks-emr-cluster-ng-NodeInstanceRole")),
    )
    .await
    .expect("applied again");
    assert!(
        conditions(&classes)
            .await
            .contains(&"Ready=True (Ready)".to_string())
    );
    assert!(
        conditions(&pools)
            .await
            .contains(&"Ready=True (Ready)".to_string())
    );
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=runbook");
    assert_eq!(pools.list(&managed).await.expect("listed").items.len(), 1);

    // Both jobs at once do not fit on the one node: the NodePool launches another.
    {
        let mut world = target.world();
        let account = world.params().account_id.clone();
        world
            .submit_job_run(setup.low_priority_job(&account))
            .expect("the low job");
        world
            .submit_job_run(setup.high_priority_job(&account))
            .expect("the high job");
        world.advance_by(120_000);
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let launched = nodes
        .list(&ListParams::default().labels("karpenter.sh/nodepool=spark"))
        .await
        .expect("listed");
    assert!(!launched.items.is_empty(), "a node launched");
    for node in &launched.items {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        assert!(
            ["spot", "on-demand"].contains(&labels["karpenter.sh/capacity-type"].as_str()),
            "{labels:?}"
        );
        assert_eq!(labels["intent"], "emr-job");
    }
    let pool = pools.get("spark").await.expect("the pool");
    assert_eq!(
        pool.data["status"]["resources"]["nodes"],
        json!(launched.items.len().to_string())
    );

    // A namespace deleted leaves the cluster-scoped objects alone.
    {
        let cluster = cluster_name(&target);
        let mut world = target.world();
        world
            .delete_namespace(&cluster, "intra-day-batch")
            .expect("deleted");
    }
    assert!(classes.get_opt("spark").await.expect("read").is_some());
    assert!(pools.get_opt("spark").await.expect("read").is_some());

    pools
        .delete("spark", &DeleteParams::default())
        .await
        .expect("deleted");
    assert_eq!(autoscaling(&target), None);
    let left = nodes
        .list(&ListParams::default().labels("karpenter.sh/nodepool=spark"))
        .await
        .expect("listed");
    assert!(left.items.is_empty(), "the pool's nodes go with it");
    assert!(pools.get_opt("spark").await.expect("read").is_none());
}

#[tokio::test]
async fn a_node_pool_with_an_unknown_capacity_type_is_invalid() {
    let ServedDemo { target, served, .. } = served_demo(false).await;
    let client = client(&served);
    let pools = api(&client, &node_pool_kind(), "nodepools");
    // What `enable-autoscaling` refuses before it applies anything, applied anyway.
    let mut invalid = node_pool(&["spot"]);
    let requirements = invalid
        .pointer_mut("/spec/template/spec/requirements")
        .and_then(Value::as_array_mut)
        .expect("requirements");
    for requirement in requirements {
        if requirement["key"] == "karpenter.sh/capacity-type" {
            requirement["values"] = json!(["reserved"]);
        }
    }
    let refused = apply(&pools, &invalid).await.expect_err("refused");
    let kube::Error::Api(status) = &refused else {
        panic!("an API status: {refused}");
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains(
            "NodePool.karpenter.sh \"spark\" is invalid: unknown capacity type `reserved`"
        ),
        "{}",
        status.message
    );
    assert!(pools.get_opt("spark").await.expect("read").is_none());
    assert_eq!(autoscaling(&target), None);
}
