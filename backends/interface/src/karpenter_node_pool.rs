//! The Karpenter v1 NodePool that `enable-autoscaling` asks for, as one document both
//! targets read: the `aws` target applies it to the cluster, and the `sim` target
//! hands it to the simulator, which reads it as a served cluster reads the NodePool
//! the `aws` target applied (`runbook_sim`'s reading of a NodePool). One document, so
//! the two targets cannot configure different autoscalers from one request.

use serde_json::{Value, json};

use crate::{ActionError, AutoscalingRequest};

/// The label on every Karpenter object runbook applies: `delete-cluster` removes
/// what carries it (and leaves a NodePool someone else made, such as Karpenter's
/// getting-started `default`).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "runbook");

/// The label Karpenter puts on each node a NodePool launched, naming the NodePool.
pub const NODE_POOL_LABEL: &str = "karpenter.sh/nodepool";

/// A `karpenter.sh/v1` NodePool for `request`: amd64 Linux nodes (Karpenter would
/// otherwise also launch arm64 instances, which the EMR images of the demos may not
/// run on), the capacity types and instance types as requirements, the labels on its
/// nodes, a CPU limit, and empty nodes removed after the TTL (`WhenEmpty` is what the
/// simulator's `ttlSecondsAfterEmpty` models). Its nodes use the EC2NodeClass of the
/// same name, which `enable-autoscaling` applies with it.
pub fn node_pool(request: &AutoscalingRequest) -> Result<Value, ActionError> {
    for capacity in &request.capacity_types {
        if !matches!(capacity.as_str(), "spot" | "on-demand") {
            return Err(ActionError::InvalidInput(format!(
                "unknown capacity type `{capacity}` (use `spot` or `on-demand`)"
            )));
        }
    }
    let capacity_types = if request.capacity_types.is_empty() {
        vec!["on-demand".to_string()]
    } else {
        request.capacity_types.clone()
    };
    let mut requirements = vec![
        json!({"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}),
        json!({"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}),
        json!({
            "key": "karpenter.sh/capacity-type",
            "operator": "In",
            "values": capacity_types,
        }),
    ];
    if !request.instance_types.is_empty() {
        requirements.push(json!({
            "key": "node.kubernetes.io/instance-type",
            "operator": "In",
            "values": request.instance_types,
        }));
    }
    let mut template = json!({
        "spec": {
            "requirements": requirements,
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": request.name},
        }
    });
    if !request.labels.is_empty() {
        template["metadata"] = json!({ "labels": request.labels });
    }
    let consolidate_after = request
        .ttl_seconds_after_empty
        .map_or_else(|| "Never".to_string(), |s| format!("{s}s"));
    let mut spec = json!({
        "template": template,
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": consolidate_after},
    });
    if let Some(cpu) = request.cpu_limit {
        spec["limits"] = json!({ "cpu": cpu.to_string() });
    }
    Ok(json!({
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": request.name, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::node_pool;
    use crate::AutoscalingRequest;

    fn request() -> AutoscalingRequest {
        AutoscalingRequest {
            name: "spark".into(),
            capacity_types: vec!["spot".into(), "on-demand".into()],
            instance_types: vec!["c5.2xlarge".into()],
            labels: BTreeMap::from([("team".to_string(), "data".to_string())]),
            ttl_seconds_after_empty: Some(30),
            cpu_limit: Some(64),
            node_role: None,
        }
    }

    #[test]
    fn node_pool_carries_every_field_of_the_request() {
        let pool = node_pool(&request()).expect("valid");
        assert_eq!(
            pool,
            json!({
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodePool",
                "metadata": {"name": "spark", "labels": {"app.kubernetes.io/managed-by": "runbook"}},
                "spec": {
                    "template": {
                        "metadata": {"labels": {"team": "data"}},
                        "spec": {
                            "requirements": [
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
                                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["c5.2xlarge"]},
                            ],
                            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "spark"},
                        }
                    },
                    "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s"},
                    "limits": {"cpu": "64"},
                }
            })
        );
    }

    #[test]
    fn without_ttl_empty_nodes_stay_and_unknown_capacity_is_refused() {
        let mut r = request();
        r.ttl_seconds_after_empty = None;
        r.instance_types.clear();
        r.cpu_limit = None;
        let pool = node_pool(&r).expect("valid");
        assert_eq!(pool["spec"]["disruption"]["consolidateAfter"], "Never");
        assert_eq!(
            pool["spec"]["template"]["spec"]["requirements"]
                .as_array()
                .map(Vec::len),
            Some(3),
            "arch, os and capacity type"
        );
        assert!(pool["spec"].get("limits").is_none());
        r.capacity_types = vec!["reserved-ish".into()];
        assert!(node_pool(&r).is_err());
    }
}
