//! Turning the node watch into the run's node events, the interface's [`EventKind`]s
//! the simulator records too (`NodeLaunched`, `NodeAdded`, `NodeReady`,
//! `NodeRemoved`), so `assert-autoscaling` and the report see what Karpenter (or a
//! node group) did on a real cluster.
//!
//! Nodes that exist when the watch starts are the cluster as the run found it: they
//! are remembered but not reported as added. A real node is seen only once it
//! registers, so `NodeLaunched` and `NodeAdded` come together, at its creation time.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Node;

use super::pod_events::quantity;
use runbook_backend::ObservedEvent;
use runbook_backend::events::{CapacityType, EventKind, Resources, SharedStr};

/// What is remembered about a node.
struct Tracked {
    ready: bool,
    removed: bool,
}

/// The nodes of one cluster as far as the watch told.
pub(super) struct NodeTracker {
    cluster: String,
    nodes: HashMap<String, Tracked>,
    /// Whether the first list is done: nodes seen before that were already there.
    listed: bool,
    /// Names seen during a re-list, to find nodes removed while the watch was down.
    relisted: Option<HashSet<String>>,
}

impl NodeTracker {
    pub(super) fn new(cluster: &str) -> NodeTracker {
        NodeTracker {
            cluster: cluster.to_string(),
            nodes: HashMap::new(),
            listed: false,
            relisted: None,
        }
    }

    /// A (re-)list starts.
    pub(super) fn relist_started(&mut self) {
        self.relisted = Some(HashSet::new());
    }

    /// A (re-)list ended: nodes it did not list were removed while nobody watched.
    pub(super) fn relist_done(&mut self, now_ms: i64) -> Vec<ObservedEvent> {
        self.listed = true;
        let Some(listed) = self.relisted.take() else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(name, t)| !t.removed && !listed.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        let mut out = Vec::new();
        for name in gone {
            self.removed(&name, now_ms, &mut out);
        }
        out
    }

    /// A node registered or changed.
    pub(super) fn apply_node(&mut self, node: &Node, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        let Some(name) = node.metadata.name.clone() else {
            return out;
        };
        if let Some(listed) = &mut self.relisted {
            listed.insert(name.clone());
        }
        let ready_condition = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "Ready");
        let ready = ready_condition.is_some_and(|c| c.status == "True");
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let instance_type = SharedStr::from(
            labels
                .get("node.kubernetes.io/instance-type")
                .map_or("", String::as_str),
        );
        let capacity_type = capacity_type(&labels);
        if !self.nodes.contains_key(&name) {
            self.nodes.insert(
                name.clone(),
                Tracked {
                    ready,
                    removed: false,
                },
            );
            if !self.listed {
                return out;
            }
            let at = node
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(now_ms, |t| t.0.timestamp_millis());
            let cluster = SharedStr::from(self.cluster.as_str());
            let node_name = SharedStr::from(name.as_str());
            out.push(ObservedEvent {
                at_ms: at,
                kind: EventKind::NodeLaunched {
                    cluster: cluster.clone(),
                    node: node_name.clone(),
                    instance_type: instance_type.clone(),
                    capacity_type,
                    nodegroup: labels
                        .get("eks.amazonaws.com/nodegroup")
                        .map(SharedStr::from),
                    provisioner: labels
                        .get("karpenter.sh/nodepool")
                        .or_else(|| labels.get("karpenter.sh/provisioner-name"))
                        .map(SharedStr::from),
                    pending_pods: 0,
                },
            });
            out.push(ObservedEvent {
                at_ms: at,
                kind: EventKind::NodeAdded {
                    cluster,
                    node: node_name,
                    instance_type,
                    capacity_type,
                    allocatable: allocatable(node),
                },
            });
            if ready {
                let at = ready_condition
                    .and_then(|c| c.last_transition_time.as_ref())
                    .map_or(at, |t| t.0.timestamp_millis());
                out.push(self.ready(at, &name));
            }
            return out;
        }
        let Some(tracked) = self.nodes.get_mut(&name) else {
            return out;
        };
        if ready && !tracked.ready {
            let at = ready_condition
                .and_then(|c| c.last_transition_time.as_ref())
                .map_or(now_ms, |t| t.0.timestamp_millis());
            tracked.ready = ready;
            out.push(self.ready(at, &name));
            return out;
        }
        tracked.ready = ready;
        out
    }

    /// A node object was deleted (Karpenter removing an empty node, a node group
    /// scaling in, the cluster going away).
    pub(super) fn delete_node(&mut self, node: &Node, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        if let Some(name) = &node.metadata.name {
            self.nodes.entry(name.clone()).or_insert(Tracked {
                ready: false,
                removed: false,
            });
            self.removed(name, now_ms, &mut out);
        }
        out
    }

    fn removed(&mut self, name: &str, now_ms: i64, out: &mut Vec<ObservedEvent>) {
        let Some(tracked) = self.nodes.get_mut(name) else {
            return;
        };
        if tracked.removed {
            return;
        }
        tracked.removed = true;
        out.push(ObservedEvent {
            at_ms: now_ms,
            kind: EventKind::NodeRemoved {
                cluster: self.cluster.as_str().into(),
                node: name.into(),
                reason: "the Node object was deleted".into(),
            },
        });
    }

    fn ready(&self, at_ms: i64, name: &str) -> ObservedEvent {
        ObservedEvent {
            at_ms,
            kind: EventKind::NodeReady {
                cluster: self.cluster.as_str().into(),
                node: name.into(),
            },
        }
    }
}

/// The node group's or Karpenter's capacity-type label. A node without one, or with
/// a value that is neither (Karpenter's `reserved`), is on-demand: EKS's default, and
/// what reserved capacity is billed at.
pub(super) fn capacity_type(labels: &std::collections::BTreeMap<String, String>) -> CapacityType {
    labels
        .get("eks.amazonaws.com/capacityType")
        .or_else(|| labels.get("karpenter.sh/capacity-type"))
        .and_then(|label| CapacityType::from_label(label))
        .unwrap_or(CapacityType::OnDemand)
}

/// The node's allocatable CPU and memory.
fn allocatable(node: &Node) -> Resources {
    let amount = |key: &str| {
        node.status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(key))
            .and_then(|q| quantity(&q.0))
            .unwrap_or(0.0)
    };
    Resources::new(
        (amount("cpu") * 1000.0).round() as u64,
        (amount("memory") / 1_048_576.0).floor() as u64,
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Node;
    use runbook_backend::ObservedEvent;
    use runbook_backend::events::{CapacityType, EventKind, Resources};
    use serde_json::json;

    use super::NodeTracker;

    fn node(name: &str, ready: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:01:00Z", "labels": {
                "node.kubernetes.io/instance-type": "c5.2xlarge",
                "karpenter.sh/capacity-type": "spot",
                "karpenter.sh/nodepool": "spark",
            }},
            "status": {
                "allocatable": {"cpu": "7910m", "memory": "14162Mi"},
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                                "lastTransitionTime": "2026-01-01T00:01:30Z"}],
            },
        }))
        .expect("node")
    }

    #[test]
    fn nodes_added_after_the_first_list_are_launched_ready_and_removed() {
        let mut tracker = NodeTracker::new("demo");
        tracker.relist_started();
        assert!(tracker.apply_node(&node("old", true), 0).is_empty());
        assert!(tracker.relist_done(0).is_empty());

        let added = tracker.apply_node(&node("new", false), 1);
        let kinds: Vec<&str> = added.iter().map(ObservedEvent::type_name).collect();
        assert_eq!(kinds, ["NodeLaunched", "NodeAdded"]);
        assert_eq!(
            added[0].kind,
            EventKind::NodeLaunched {
                cluster: "demo".into(),
                node: "new".into(),
                instance_type: "c5.2xlarge".into(),
                capacity_type: CapacityType::Spot,
                nodegroup: None,
                provisioner: Some("spark".into()),
                pending_pods: 0,
            }
        );
        assert_eq!(added[0].at_ms, 1_767_225_660_000);
        assert!(
            matches!(
                added[1].kind,
                EventKind::NodeAdded { allocatable, .. } if allocatable == Resources::new(7910, 14162)
            ),
            "{added:?}"
        );

        let ready = tracker.apply_node(&node("new", true), 2);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].type_name(), "NodeReady");
        assert_eq!(ready[0].at_ms, 1_767_225_690_000);
        assert!(tracker.apply_node(&node("new", true), 3).is_empty());

        let removed = tracker.delete_node(&node("new", true), 4);
        assert_eq!(removed.len(), 1);
        assert_eq!(
            (removed[0].type_name(), removed[0].at_ms),
            ("NodeRemoved", 4)
        );
        assert!(tracker.delete_node(&node("new", true), 5).is_empty());
    }
}
