//! Namespaces as the API shows them: the four every cluster has, and those the
//! runbook made.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::Cluster;
use serde_json::{Value, json};

use super::object::Object;
use crate::time::Instants;

/// The namespaces every EKS cluster starts with.
pub(crate) const BUILT_IN: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// Every namespace of `cluster`, by name.
pub(crate) fn namespaces(cluster: &Cluster, instants: &Instants) -> Vec<Object> {
    let mut names: Vec<&str> = BUILT_IN.to_vec();
    names.extend(cluster.namespaces.iter().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    // The simulator does not keep when a namespace was made: the cluster's birth is
    // the earliest it can have been.
    let born = cluster.active_at_ms.unwrap_or(cluster.created_at_ms);
    names
        .into_iter()
        .map(|name| {
            let labels =
                BTreeMap::from([("kubernetes.io/metadata.name".to_string(), name.to_string())]);
            let kube = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    uid: Some(format!("namespace-{name}")),
                    labels: Some(labels.clone()),
                    creation_timestamp: Some(instants.time(born)),
                    ..ObjectMeta::default()
                },
                spec: None,
                status: Some(NamespaceStatus {
                    phase: Some("Active".into()),
                    conditions: None,
                }),
            };
            let value = serde_json::to_value(&kube).unwrap_or(Value::Null);
            let cells = vec![json!(name), json!("Active"), json!(instants.age(born))];
            Object::new(None, name, labels, value, cells).field("status.phase", "Active")
        })
        .collect()
}
