//! Karpenter's objects as the API shows them, with the status its controller would
//! give them: an EC2NodeClass is Ready once it names the nodes' IAM role (or instance
//! profile) — the simulated cluster has no AMIs, subnets or security groups to
//! resolve, so those are Ready at once — and a NodePool is Ready once the
//! EC2NodeClass its `nodeClassRef` names exists and is Ready. The status is worked
//! out each time an object is shown, from what the cluster holds then, as the
//! controller keeps it up to date; what clients write of a status is not kept.
//!
//! What a NodePool says is what the world's autoscaler does (see
//! `runbook_sim::stored_object`): its nodes are the ones a NodePool shows.

use runbook_sim::{Cluster, ObjectKey, StoredKind, StoredObject, World};
use serde_json::{Map, Value, json};

use super::node_pools;
use crate::time::Instants;

/// Karpenter's condition, as its CRDs give it.
fn condition(kind: &str, ready: bool, reason: &str, message: &str, since: &Value) -> Value {
    json!({
        "type": kind,
        "status": if ready { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    })
}

/// Whether an EC2NodeClass stored as `stored` is Ready: it names the role (or the
/// instance profile) of the nodes it launches.
fn node_class_ready(stored: &StoredObject) -> bool {
    ["role", "instanceProfile"].iter().any(|field| {
        stored
            .content
            .get("spec")
            .and_then(|spec| spec.get(*field))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    })
}

/// The EC2NodeClass a NodePool's `nodeClassRef` names.
fn node_class_name(stored: &StoredObject) -> &str {
    stored
        .content
        .get("spec")
        .and_then(|spec| spec.pointer("/template/spec/nodeClassRef/name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `stored` (an EC2NodeClass or a NodePool of `cluster`) as the API shows it, with
/// `metadata`, and its table row.
pub(crate) fn shown(
    stored: &StoredObject,
    metadata: Value,
    world: &World,
    cluster: &Cluster,
    instants: &Instants,
) -> (Value, Vec<Value>) {
    let since = json!(instants.time(stored.created_at_ms));
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!(stored.key.kind.api_version()));
    object.insert("kind".into(), json!(stored.key.kind.name()));
    object.insert("metadata".into(), metadata);
    object.extend(stored.content.clone());
    let age = json!(instants.age(stored.created_at_ms));
    let name = json!(stored.key.name);
    let (status, cells) = if stored.key.kind == StoredKind::NodePool {
        let class = node_class_name(stored);
        let class_ready = cluster
            .objects
            .get(&ObjectKey::new(StoredKind::Ec2NodeClass, "", class))
            .map(node_class_ready);
        let conditions = match class_ready {
            Some(true) => ["ValidationSucceeded", "NodeClassReady", "Ready"]
                .map(|kind| condition(kind, true, kind, "", &since))
                .to_vec(),
            found => {
                let why = match found {
                    None => format!("EC2NodeClass {class} not found"),
                    Some(_) => format!("EC2NodeClass {class} is not Ready"),
                };
                vec![
                    condition("NodeClassReady", false, "NodeClassNotReady", &why, &since),
                    condition(
                        "Ready",
                        false,
                        "UnhealthyDependents",
                        "NodeClassReady=False",
                        &since,
                    ),
                ]
            }
        };
        let launched = node_pools::launched(world, cluster, &stored.key.name);
        let cells = vec![
            name,
            json!(class),
            json!(launched.nodes.to_string()),
            json!(if class_ready == Some(true) {
                "True"
            } else {
                "False"
            }),
            age,
        ];
        (
            json!({"resources": launched.resources(), "conditions": conditions}),
            cells,
        )
    } else {
        let ready = node_class_ready(stored);
        let conditions = if ready {
            [
                "AMIsReady",
                "SubnetsReady",
                "SecurityGroupsReady",
                "InstanceProfileReady",
                "Ready",
            ]
            .map(|kind| condition(kind, true, kind, "", &since))
            .to_vec()
        } else {
            vec![
                condition(
                    "InstanceProfileReady",
                    false,
                    "RoleNotSet",
                    "spec.role is empty: no instance profile can be made for the nodes",
                    &since,
                ),
                condition(
                    "Ready",
                    false,
                    "UnhealthyDependents",
                    "InstanceProfileReady=False",
                    &since,
                ),
            ]
        };
        let cells = vec![name, json!(if ready { "True" } else { "False" }), age];
        (json!({"conditions": conditions}), cells)
    };
    object.insert("status".into(), status);
    (Value::Object(object), cells)
}

/// Why the API server refuses `object` as an EC2NodeClass named `name`: it needs a
/// spec (the CRD's schema requires one).
pub(crate) fn refused_node_class(name: &str, object: &Value) -> Option<String> {
    (!object.get("spec").is_some_and(Value::is_object)).then(|| {
        format!("EC2NodeClass.karpenter.k8s.aws \"{name}\" is invalid: spec: Required value")
    })
}
