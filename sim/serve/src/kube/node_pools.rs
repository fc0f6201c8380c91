//! Karpenter NodePools (`karpenter.sh/v1`) as the API shows them: the simulated
//! autoscaler's configuration (`enable-autoscaling`, or a Provisioner/NodePool
//! manifest applied), with the nodes it launched.

use std::collections::BTreeMap;

use runbook_sim::{Cluster, World};
use serde_json::json;

use super::object::Object;
use crate::time::Instants;

/// The cluster's NodePool, if its autoscaler is configured.
pub(crate) fn node_pools(world: &World, cluster: &Cluster, instants: &Instants) -> Vec<Object> {
    let Some(autoscaler) = &cluster.autoscaler else {
        return Vec::new();
    };
    let spec = &autoscaler.spec;
    let nodes: Vec<_> = world
        .all_nodes()
        .iter()
        .filter(|n| {
            n.cluster.as_ref() == cluster.name
                && n.removed_at_ms.is_none()
                && n.provisioner.as_deref() == Some(spec.name.as_str())
        })
        .collect();
    let (cpu, memory) = nodes.iter().fold((0, 0), |(c, m), n| {
        (c + n.capacity.cpu_millis, m + n.capacity.memory_mib)
    });
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
            "resources": {"cpu": format!("{cpu}m"), "memory": format!("{memory}Mi"), "nodes": nodes.len().to_string()},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}],
        },
    });
    if let Some(limits) = spec.limits {
        value["spec"]["limits"] = json!({"cpu": format!("{}m", limits.cpu_millis), "memory": format!("{}Mi", limits.memory_mib)});
    }
    let cells = vec![
        json!(spec.name),
        json!("default"),
        json!(nodes.len().to_string()),
        json!("True"),
        json!(instants.age(born)),
    ];
    let labels: BTreeMap<String, String> = BTreeMap::new();
    vec![Object::new(None, &spec.name, labels, value, cells)]
}
