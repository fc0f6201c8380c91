//! Karpenter's controller pod. Every simulated EKS cluster comes with Karpenter v1
//! installed, as Karpenter's getting-started guide installs it (its Helm chart in
//! `kube-system`): the world's autoscaler is its controller, and the API lists it as
//! the pod a client checks for (`-l app.kubernetes.io/name=karpenter`, as
//! `enable-autoscaling` does on `aws`).
//!
//! The pod is shown, not simulated: it is no pod of the world, so it takes no part in
//! scheduling, in any node's resources or in the story a run tells. It runs on the
//! cluster's first ready node that no NodePool launched (Karpenter does not run on
//! nodes it manages), from when that node was ready; with no such node it is Pending.
//! Lists of pods give it after the world's pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus,
    Pod as KubePod, PodCondition, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::{Cluster, World};
use serde_json::Value;

use super::object::Object;
use super::pods::{Cells, Shown, node_ip};
use crate::time::Instants;

/// Its name: the Helm release's Deployment, its ReplicaSet's hash and the pod's.
pub(crate) const NAME: &str = "karpenter-6c9f8d7b5d-x4k2p";
/// Where the getting-started guide installs it.
pub(crate) const NAMESPACE: &str = "kube-system";
/// Where a list of pods gives it: after every pod of the world (a `continue` token of
/// a page that ends before it).
pub(crate) const POSITION: usize = usize::MAX;
/// Its UID (one controller per cluster, and the API serves one cluster at a path).
const UID: &str = "6b8f3c1e-4d2a-4f7e-9a5b-6b6172706e74";
/// The controller's image.
const IMAGE: &str = "public.ecr.aws/karpenter/controller:1.8.1";

/// The controller pod of one cluster, where it runs now.
pub(crate) struct Controller<'w> {
    /// Its node and when that node was ready; `None`: Pending.
    node: Option<(&'w str, u64)>,
    created_at_ms: u64,
}

impl<'w> Controller<'w> {
    /// The controller of `cluster` as the world is now.
    pub(crate) fn of(world: &'w World, cluster: &Cluster) -> Controller<'w> {
        let now = world.now();
        let node = world
            .all_nodes()
            .iter()
            .filter(|n| {
                n.cluster.as_ref() == cluster.name
                    && n.removed_at_ms.is_none()
                    && n.provisioner.is_none()
            })
            .find_map(|n| {
                let ready = n.ready_at_ms.filter(|t| *t <= now)?;
                Some((n.name.as_ref(), ready))
            });
        Controller {
            node,
            created_at_ms: cluster.active_at_ms.unwrap_or(cluster.created_at_ms),
        }
    }

    /// The labels its Helm chart gives it.
    pub(crate) fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_string(),
                "karpenter".to_string(),
            ),
            (
                "app.kubernetes.io/instance".to_string(),
                "karpenter".to_string(),
            ),
        ])
    }

    fn phase(&self) -> &'static str {
        if self.node.is_some() {
            "Running"
        } else {
            "Pending"
        }
    }

    /// The fields a field selector may name of it.
    pub(crate) fn fields(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("metadata.name", NAME.to_string()),
            ("metadata.namespace", NAMESPACE.to_string()),
            (
                "spec.nodeName",
                self.node.map(|(n, _)| n.to_string()).unwrap_or_default(),
            ),
            ("status.phase", self.phase().to_string()),
            ("spec.schedulerName", "default-scheduler".to_string()),
            ("metadata.uid", UID.to_string()),
        ])
    }

    /// The pod as the API shows it (only its metadata unless `whole`) and its row.
    pub(crate) fn shown(&self, instants: &Instants, whole: bool) -> Shown<'w> {
        let metadata = ObjectMeta {
            name: Some(NAME.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            uid: Some(UID.to_string()),
            labels: Some(Self::labels()),
            creation_timestamp: Some(instants.time(self.created_at_ms)),
            ..ObjectMeta::default()
        };
        let running = self.node.is_some();
        let ip = self.node.and_then(|(n, _)| node_ip(n));
        let cells: Cells<'w> = (
            NAME,
            format!("{}/1", u8::from(running)),
            self.phase(),
            0,
            instants.age(self.created_at_ms),
            ip.clone().unwrap_or_else(|| "<none>".to_string()),
            self.node.map_or("<none>", |(n, _)| n),
            "<none>",
            "<none>",
        );
        let object = if whole {
            self.whole(metadata, ip, instants)
        } else {
            KubePod {
                metadata,
                ..KubePod::default()
            }
        };
        Shown { object, cells }
    }

    /// The whole pod: the controller's container, Running on its node (with the
    /// node's address: it runs on the host network) or Pending without one.
    fn whole(&self, metadata: ObjectMeta, ip: Option<String>, instants: &Instants) -> KubePod {
        let since = self
            .node
            .map(|(_, ready)| instants.time(ready.max(self.created_at_ms)));
        let state = match &since {
            Some(started) => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started.clone()),
                }),
                ..ContainerState::default()
            },
            None => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            },
        };
        let condition = |type_: &str| PodCondition {
            type_: type_.to_string(),
            status: if since.is_some() { "True" } else { "False" }.to_string(),
            last_transition_time: since.clone(),
            ..PodCondition::default()
        };
        KubePod {
            metadata,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "controller".into(),
                    image: Some(IMAGE.into()),
                    ..Container::default()
                }],
                node_name: self.node.map(|(n, _)| n.to_string()),
                priority_class_name: Some("system-cluster-critical".into()),
                priority: Some(2_000_000_000),
                service_account_name: Some("karpenter".into()),
                scheduler_name: Some("default-scheduler".into()),
                host_network: Some(true),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(self.phase().into()),
                conditions: Some(vec![condition("PodScheduled"), condition("Ready")]),
                host_ip: ip.clone(),
                pod_ip: ip,
                start_time: since.clone(),
                container_statuses: Some(vec![ContainerStatus {
                    name: "controller".into(),
                    image: IMAGE.into(),
                    ready: since.is_some(),
                    started: Some(since.is_some()),
                    state: Some(state),
                    ..ContainerStatus::default()
                }]),
                qos_class: Some("Burstable".into()),
                ..PodStatus::default()
            }),
        }
    }

    /// The pod as an [`Object`] (for a get, or a list of objects).
    pub(crate) fn object(&self, instants: &Instants) -> Object {
        let Shown { object, cells } = self.shown(instants, true);
        let value = serde_json::to_value(&object).unwrap_or(Value::Null);
        let cells = match serde_json::to_value(cells) {
            Ok(Value::Array(cells)) => cells,
            _ => Vec::new(),
        };
        self.fields().into_iter().fold(
            Object::new(Some(NAMESPACE), NAME, Self::labels(), value, cells),
            |object, (name, value)| object.field(name, value),
        )
    }
}
