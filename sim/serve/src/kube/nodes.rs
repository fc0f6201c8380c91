//! Nodes as the API shows them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node as KubeNode, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::{Cluster, Node};
use serde_json::{Value, json};

use super::object::Object;
use super::pods::{node_ip, quantities};
use crate::time::Instants;

/// `node` of `cluster` as it was at virtual instant `at`.
pub(crate) fn node(node: &Node, cluster: &Cluster, at: u64, instants: &Instants) -> Object {
    let ready = node.ready_at_ms.is_some_and(|t| t <= at);
    let kubelet_version = format!("v{}.0-eks-sim", cluster.version);
    let with_pods = |r| {
        let mut q = quantities(r);
        q.insert("pods".into(), Quantity(node.max_pods.to_string()));
        q
    };
    let labels: BTreeMap<String, String> = node.labels.clone();
    let kube = KubeNode {
        metadata: ObjectMeta {
            name: Some(node.name.to_string()),
            uid: Some(format!("node-{}", node.name)),
            labels: Some(labels.clone()),
            creation_timestamp: Some(instants.time(node.created_at_ms)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some(format!("aws:///{}/{}", cluster.region, node.name)),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(with_pods(node.capacity)),
            allocatable: Some(with_pods(node.allocatable)),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                reason: Some(
                    if ready {
                        "KubeletReady"
                    } else {
                        "KubeletNotReady"
                    }
                    .into(),
                ),
                message: Some(
                    if ready {
                        "kubelet is posting ready status"
                    } else {
                        "container runtime network not ready"
                    }
                    .into(),
                ),
                last_transition_time: Some(
                    instants.time(
                        node.ready_at_ms
                            .filter(|t| *t <= at)
                            .unwrap_or(node.created_at_ms),
                    ),
                ),
                ..NodeCondition::default()
            }]),
            addresses: node_ip(&node.name).map(|ip| {
                vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: ip,
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: node.name.to_string(),
                    },
                ]
            }),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                container_runtime_version: "containerd://1.7.27".into(),
                kubelet_version: kubelet_version.clone(),
                kube_proxy_version: kubelet_version.clone(),
                operating_system: "linux".into(),
                os_image: "Amazon Linux 2023".into(),
                kernel_version: "6.1.0".into(),
                ..NodeSystemInfo::default()
            }),
            ..NodeStatus::default()
        }),
    };
    let value = serde_json::to_value(&kube).unwrap_or(Value::Null);
    let cells = vec![
        json!(node.name.as_ref()),
        json!(if ready { "Ready" } else { "NotReady" }),
        json!("<none>"),
        json!(instants.age(node.created_at_ms)),
        json!(kubelet_version),
        json!(node_ip(&node.name).unwrap_or_else(|| "<none>".into())),
        json!("<none>"),
        json!("Amazon Linux 2023"),
        json!("6.1.0"),
        json!("containerd://1.7.27"),
    ];
    Object::new(None, &node.name, labels, value, cells)
}
