//! What exists of each served kind in one cluster, and what the world's event log says
//! changed: the source of lists, gets and watches alike.

use runbook_sim::{Cluster, Event, EventKind, PodRef, World};

use super::object::Object;
use super::resources::Resource;
use super::selector::Selector;
use super::{events, namespaces, node_pools, nodes, pods, priority_classes};
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

/// Which objects a list wants, and how much of each.
pub(crate) struct Query<'q> {
    pub(crate) namespace: Option<&'q str>,
    pub(crate) labels: &'q Selector,
    pub(crate) fields: &'q Selector,
    /// Whole objects, or only their metadata (all a table's rows carry by default).
    pub(crate) whole: bool,
    /// Where to start: a `continue` token, a position in the kind's stable order (the
    /// world's pods and events are append-only, so a position keeps its meaning).
    pub(crate) from: usize,
    /// At most this many (`limit`; kubectl asks for 500 at a time).
    pub(crate) limit: Option<usize>,
}

impl Query<'_> {
    fn wants(&self, o: &Object) -> bool {
        (self.namespace.is_none() || o.namespace.as_deref() == self.namespace)
            && self.labels.matches(&o.labels)
            && self.fields.matches(&o.fields)
    }
}

/// One page of a list: its objects, and where the next page starts, if there is one.
pub(crate) struct Page {
    pub(crate) objects: Vec<Object>,
    pub(crate) next: Option<usize>,
}

/// The objects of `resource` in `cluster` now that `query` wants, at the world's
/// resource version. Pods and events, which a large world has by the hundred thousand,
/// are visited from the query's position on and rendered only as far as the page goes.
pub(crate) fn page(
    resource: &Resource,
    world: &World,
    cluster: &Cluster,
    instants: &Instants,
    query: &Query<'_>,
) -> Page {
    let now = world.now();
    let version = resource_version(world);
    let limit = query.limit.unwrap_or(usize::MAX).max(1);
    let mut objects = Vec::new();
    let mut next = None;
    let mut take = |position: usize, object: Object| {
        if objects.len() == limit {
            next.get_or_insert(position);
            return false;
        }
        objects.push(object);
        true
    };
    match resource.kind {
        "Pod" => {
            for (position, p) in world.all_pods().iter().enumerate().skip(query.from) {
                if p.cluster.as_ref() != cluster.name || p.is_deleted() {
                    continue;
                }
                let shown = pods::pod(p, now, instants, false);
                if !query.wants(&shown) {
                    continue;
                }
                let object = if query.whole {
                    pods::pod(p, now, instants, true)
                } else {
                    shown
                };
                if !take(position, object.at_version(version)) {
                    break;
                }
            }
        }
        "Event" => {
            for (position, e) in world.events().iter().enumerate().skip(query.from) {
                if !in_cluster(e, cluster) {
                    continue;
                }
                let Some(object) = events::event(world, e, instants) else {
                    continue;
                };
                if query.wants(&object) && !take(position, object.at_version(e.index + 1)) {
                    break;
                }
            }
        }
        _ => {
            let all = match resource.kind {
                "Node" => world
                    .all_nodes()
                    .iter()
                    .filter(|n| n.cluster.as_ref() == cluster.name && n.removed_at_ms.is_none())
                    .map(|n| nodes::node(n, cluster, now, instants))
                    .collect(),
                "Namespace" => namespaces::namespaces(cluster, instants),
                "PriorityClass" => priority_classes::priority_classes(cluster, instants),
                "NodePool" => node_pools::node_pools(world, cluster, instants),
                _ => Vec::new(),
            };
            for (position, object) in all.into_iter().enumerate().skip(query.from) {
                if query.wants(&object) && !take(position, object.at_version(version)) {
                    break;
                }
            }
        }
    }
    Page { objects, next }
}

/// The object of `resource` named `name` (in `namespace`), whole, if it exists.
pub(crate) fn find(
    resource: &Resource,
    world: &World,
    cluster: &Cluster,
    instants: &Instants,
    namespace: Option<&str>,
    name: &str,
) -> Option<Object> {
    let version = resource_version(world);
    if resource.kind == "Pod" {
        let pod = world
            .pod(&cluster.name, namespace.unwrap_or_default(), name)
            .filter(|p| !p.is_deleted())?;
        return Some(pods::pod(pod, world.now(), instants, true).at_version(version));
    }
    let labels = Selector::default();
    let fields = Selector::default();
    let query = Query {
        namespace,
        labels: &labels,
        fields: &fields,
        whole: true,
        from: 0,
        limit: None,
    };
    page(resource, world, cluster, instants, &query)
        .objects
        .into_iter()
        .find(|o| o.name == name)
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
                    (change, pods::pod(pod, e.time_ms, instants, true))
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
