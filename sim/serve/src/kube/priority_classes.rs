//! PriorityClasses as the API shows them.

use std::collections::BTreeMap;

use k8s_openapi::api::scheduling::v1::PriorityClass as KubePriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::priority::PreemptionPolicy;
use runbook_sim::{Cluster, PriorityClass};
use serde_json::{Value, json};

use super::object::Object;
use crate::time::Instants;

/// Every PriorityClass of `cluster`.
pub(crate) fn priority_classes(cluster: &Cluster, instants: &Instants) -> Vec<Object> {
    let born = cluster.active_at_ms.unwrap_or(cluster.created_at_ms);
    cluster
        .priority_classes
        .iter()
        .map(|class| priority_class(class, born, instants))
        .collect()
}

fn priority_class(class: &PriorityClass, born: u64, instants: &Instants) -> Object {
    let policy = match class.preemption_policy {
        PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
        PreemptionPolicy::Never => "Never",
    };
    let kube = KubePriorityClass {
        metadata: ObjectMeta {
            name: Some(class.name.to_string()),
            uid: Some(format!("priorityclass-{}", class.name)),
            creation_timestamp: Some(instants.time(born)),
            ..ObjectMeta::default()
        },
        value: class.value,
        global_default: Some(class.global_default),
        preemption_policy: Some(policy.into()),
        description: class.description.clone(),
    };
    let value = serde_json::to_value(&kube).unwrap_or(Value::Null);
    let cells = vec![
        json!(class.name.as_ref()),
        json!(class.value),
        json!(class.global_default),
        json!(instants.age(born)),
        json!(policy),
    ];
    Object::new(None, &class.name, BTreeMap::new(), value, cells)
}
