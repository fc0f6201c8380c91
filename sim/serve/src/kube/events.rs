//! Kubernetes Events, from the world's event log: what the scheduler and the kubelet
//! record about pods (`Scheduled`, `FailedScheduling`, `Preempted`, `Started`,
//! `Killing`), which `kubectl describe pod` and `kubectl get events` show.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event as KubeEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::{Event, EventKind, PodRef, TerminationReason, World};
use serde_json::{Value, json};

use super::object::Object;
use crate::time::Instants;

/// The Kubernetes Event the world event `e` is recorded as, if it is one.
pub(crate) fn event(world: &World, e: &Event, instants: &Instants) -> Option<Object> {
    let (pod, reason, kind, message, component) = match &e.kind {
        EventKind::PodScheduled { pod, node } => (
            pod,
            "Scheduled",
            "Normal",
            format!(
                "Successfully assigned {}/{} to {node}",
                pod.namespace, pod.name
            ),
            "default-scheduler",
        ),
        EventKind::PodUnschedulable { pod, message } => (
            pod,
            "FailedScheduling",
            "Warning",
            message.to_string(),
            "default-scheduler",
        ),
        EventKind::PodPreempted(p) => (
            &p.pod,
            "Preempted",
            "Normal",
            if p.message.is_empty() {
                format!("Preempted by pod {} on node {}", p.preemptor_uid, p.node)
            } else {
                p.message.to_string()
            },
            "default-scheduler",
        ),
        EventKind::PodStarted { pod, .. } => (
            pod,
            "Started",
            "Normal",
            format!("Started container {}", first_container(world, pod)),
            "kubelet",
        ),
        EventKind::PodTerminating { pod, reason, .. }
            if *reason != TerminationReason::Preempted =>
        {
            (
                pod,
                "Killing",
                "Normal",
                format!("Stopping container {}", first_container(world, pod)),
                "kubelet",
            )
        }
        _ => return None,
    };
    let uid = world
        .pod(&pod.cluster, &pod.namespace, &pod.name)
        .map(|p| p.uid.to_string());
    let name = format!("{}.{:016x}", pod.name, e.index);
    let at = instants.time(e.time_ms);
    let kube = KubeEvent {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(pod.namespace.to_string()),
            uid: Some(format!("event-{}", e.index)),
            creation_timestamp: Some(at.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(pod.namespace.to_string()),
            name: Some(pod.name.to_string()),
            uid: uid.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(message.clone()),
        type_: Some(kind.into()),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        reporting_component: Some(component.into()),
        reporting_instance: Some(component.into()),
        first_timestamp: Some(at.clone()),
        last_timestamp: Some(at),
        count: Some(1),
        ..KubeEvent::default()
    };
    let value = serde_json::to_value(&kube).unwrap_or(Value::Null);
    let cells = vec![
        json!(instants.age(e.time_ms)),
        json!(kind),
        json!(reason),
        json!(format!("pod/{}", pod.name)),
        json!(message),
    ];
    let object = Object::new(Some(&pod.namespace), &name, BTreeMap::new(), value, cells)
        .field("involvedObject.kind", "Pod")
        .field("involvedObject.name", pod.name.to_string())
        .field("involvedObject.namespace", pod.namespace.to_string())
        .field("reason", reason)
        .field("type", kind);
    Some(match uid {
        Some(uid) => object.field("involvedObject.uid", uid),
        None => object,
    })
}

/// The pod's first container (Spark's `spark-kubernetes-driver` or
/// `spark-kubernetes-executor`).
fn first_container(world: &World, pod: &PodRef) -> String {
    world
        .pod(&pod.cluster, &pod.namespace, &pod.name)
        .and_then(|p| p.containers.first().map(|(name, _)| name.to_string()))
        .unwrap_or_else(|| "main".into())
}
