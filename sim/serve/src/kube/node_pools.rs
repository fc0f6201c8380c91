//! Karpenter NodePools (`karpenter.sh/v1`) as the API shows them. A NodePool a client
//! wrote is kept as written (see `karpenter_objects`); an autoscaler configured
//! otherwise (the `sim` target's `enable-autoscaling`, or a Provisioner/NodePool
//! manifest applied by a step) is shown here as the NodePool it stands for, with the
//! nodes it launched.

use std::collections::BTreeMap;

use runbook_sim::{Cluster, ObjectKey, StoredKind, World};
use serde_json::{Value, json};

use super::object::Object;
use crate::time::Instants;

/// What a NodePool's nodes add up to (its `status.resources`).
pub(crate) struct Launched {
    pub(crate) nodes: usize,
    cpu_millis: u64,
    memory_mib: u64,
}

impl Launched {
    /// `status.resources`.
    pub(crate) fn resources(&self) -> Value {
        json!({
            "cpu": format!("{}m", self.cpu_millis),
            "memory": format!("{}Mi", self.memory_mib),
            "nodes": self.nodes.to_string(),
        })
    }
}

/// The nodes of `cluster` that NodePool `name` launched and that are still there.
pub(crate) fn launched(world: &World, cluster: &Cluster, name: &str) -> Launched {
    world
        .all_nodes()
        .iter()
        .filter(|n| {
            n.cluster.as_ref() == cluster.name
                && n.removed_at_ms.is_none()
                && n.provisioner.as_deref() == Some(name)
        })
        .fold(
            Launched {
                nodes: 0,
                cpu_millis: 0,
                memory_mib: 0,
            },
            |sum, n| Launched {
                nodes: sum.nodes + 1,
                cpu_millis: sum.cpu_millis + n.capacity.cpu_millis,
                memory_mib: sum.memory_mib + n.capacity.memory_mib,
            },
        )
}

/// The NodePool the cluster's autoscaler stands for, if it is configured and no
/// NodePool of its name was written by a client (that one is shown as written).
pub(crate) fn node_pools(world: &World, cluster: &Cluster, instants: &Instants) -> Vec<Object> {
    let Some(autoscaler) = &cluster.autoscaler else {
        return Vec::new();
    };
    let spec = &autoscaler.spec;
    let written = ObjectKey::new(StoredKind::NodePool, "", spec.name.as_str());
    if cluster.objects.contains_key(&written) {
        return Vec::new();
    }
    let launched = launched(world, cluster, &spec.name);
    let mut requirements = vec![json!({
        "key": "karpenter.sh/capacity-type",
        "operator": "In",
        "values": spec.capacity_types.iter().map(|c| c.karpenter_label()).collect::<Vec<_>>(),
    })];
    if let Some(types) = &spec.instance_types {
        requirements.push(json!({
            "key": "node.kubernetes.io/instance-type",
            "operator": "In",
            "values": types,
        }));
    }
    let born = cluster.active_at_ms.unwrap_or(cluster.created_at_ms);
    let mut value = json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {
            "name": spec.name,
            "uid": format!("nodepool-{}", spec.name),
            "creationTimestamp": instants.time(born),
        },
        "spec": {
            "template": {
                "metadata": {"labels": spec.labels},
                "spec": {
                    "requirements": requirements,
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                },
            },
            "disruption": match spec.ttl_seconds_after_empty {
                Some(ttl) => json!({"consolidationPolicy": "WhenEmpty", "consolidateAfter": format!("{ttl}s")}),
                None => json!({"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"}),
            },
        },
        "status": {
            "resources": launched.resources(),
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}],
        },
    });
    // A limit the NodePool did not give is the most there is: not shown.
    if let Some(limits) = spec.limits {
        let mut shown = serde_json::Map::new();
        if limits.cpu_millis != u64::MAX {
            shown.insert("cpu".into(), json!(format!("{}m", limits.cpu_millis)));
        }
        if limits.memory_mib != u64::MAX {
            shown.insert("memory".into(), json!(format!("{}Mi", limits.memory_mib)));
        }
        value["spec"]["limits"] = Value::Object(shown);
    }
    let cells = vec![
        json!(spec.name),
        json!("default"),
        json!(launched.nodes.to_string()),
        json!("True"),
        json!(instants.age(born)),
    ];
    let labels: BTreeMap<String, String> = BTreeMap::new();
    vec![Object::new(None, &spec.name, labels, value, cells)]
}
