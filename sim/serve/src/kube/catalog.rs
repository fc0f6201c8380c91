//! What exists of each served kind in one cluster, and what the world's event log says
//! changed: the source of lists, gets and watches alike.

use runbook_sim::{Cluster, Event, EventKind, PodRef, World};

use super::object::Object;
use super::resources::Resource;
use super::{events, namespaces, nodes, pods, priority_classes};
use crate::time::Instants;

/// A change a watch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// The world's resource version: a position in its event log. An object changed by the
/// event at index `i` has version `i + 1`; a list is at the log's length.
pub(crate) fn resource_version(world: &World) -> u64 {
    world.events().len() as u64
}

/// Every object of `resource` in `cluster` now, at the world's resource version.
pub(crate) fn list(
    resource: &Resource,
    world: &World,
    cluster: &Cluster,
    instants: &Instants,
) -> Vec<Object> {
    let now = world.now();
    let version = resource_version(world);
    let objects: Vec<Object> = match resource.kind {
        "Pod" => world
            .all_pods()
            .iter()
            .filter(|p| p.cluster.as_ref() == cluster.name && !p.is_deleted())
            .map(|p| pods::pod(p, now, instants))
            .collect(),
        "Node" => world
            .all_nodes()
            .iter()
            .filter(|n| n.cluster.as_ref() == cluster.name && n.removed_at_ms.is_none())
            .map(|n| nodes::node(n, cluster, now, instants))
            .collect(),
        "Namespace" => namespaces::namespaces(cluster, instants),
        "PriorityClass" => priority_classes::priority_classes(cluster, instants),
        "Event" => world
            .events()
            .iter()
            .filter(|e| in_cluster(e, cluster))
            .filter_map(|e| events::event(world, e, instants).map(|o| o.at_version(e.index + 1)))
            .collect(),
        _ => Vec::new(),
    };
    objects
        .into_iter()
        .map(|o| {
            if o.value["metadata"]["resourceVersion"].is_string() {
                o
            } else {
                o.at_version(version)
            }
        })
        .collect()
}

/// The changes to objects of `resource` in `cluster` the world events `log` record,
/// each with the object as it was then, at the version of its event.
pub(crate) fn changes(
    resource: &Resource,
    world: &World,
    cluster: &Cluster,
    log: &[Event],
    instants: &Instants,
) -> Vec<(Change, Object)> {
    log.iter()
        .filter(|e| in_cluster(e, cluster))
        .filter_map(|e| {
            let (change, object) = match resource.kind {
                "Pod" => {
                    let (change, pod) = pod_change(&e.kind)?;
                    let pod = world.pod(&pod.cluster, &pod.namespace, &pod.name)?;
                    (change, pods::pod(pod, e.time_ms, instants))
                }
                "Node" => {
                    let (change, name) = node_change(&e.kind)?;
                    let node = world.node(name)?;
                    (change, nodes::node(node, cluster, e.time_ms, instants))
                }
                "Event" => (Change::Added, events::event(world, e, instants)?),
                _ => return None,
            };
            Some((change, object.at_version(e.index + 1)))
        })
        .collect()
}

fn pod_change(kind: &EventKind) -> Option<(Change, &PodRef)> {
    let pod = kind.pod()?;
    Some(match kind {
        EventKind::PodCreated { .. } => (Change::Added, pod),
        EventKind::PodDeleted { .. } => (Change::Deleted, pod),
        _ => (Change::Modified, pod),
    })
}

fn node_change(kind: &EventKind) -> Option<(Change, &str)> {
    Some(match kind {
        EventKind::NodeAdded { node, .. } => (Change::Added, node.as_ref()),
        EventKind::NodeReady { node, .. } => (Change::Modified, node.as_ref()),
        EventKind::NodeRemoved { node, .. } => (Change::Deleted, node.as_ref()),
        _ => return None,
    })
}

/// Whether a world event is about `cluster` (events without a cluster are not).
fn in_cluster(e: &Event, cluster: &Cluster) -> bool {
    let name = match &e.kind {
        EventKind::NodeAdded { cluster, .. }
        | EventKind::NodeReady { cluster, .. }
        | EventKind::NodeRemoved { cluster, .. } => cluster,
        kind => match kind.pod() {
            Some(pod) => &pod.cluster,
            None => return false,
        },
    };
    name.as_ref() == cluster.name
}
