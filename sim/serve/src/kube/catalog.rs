//! What exists of each served kind in one cluster, and what the world's event log says
//! changed: the source of lists, gets and watches alike.

use runbook_sim::{Cluster, Event, EventKind, Pod, PodRef, StoredKind, World};

use super::karpenter_controller::{self, Controller};
use super::object::Object;
use super::resources::Resource;
use super::selector::Selector;
use super::stored_objects;
use super::{events, namespaces, node_pools, nodes, pods, priority_classes, write};
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

/// The world's resource version: a position in its history (its event log and its
/// log of stored objects' writes, see `runbook_sim::resource_version`). An object
/// changed by an event has that event's version; a list is at the history's length.
pub(crate) fn resource_version(world: &World) -> u64 {
    world.resource_version()
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

    /// Whether the query wants `pod` as it is at `now`, read from the world's record
    /// without rendering it (the same labels and fields its [`Object`] has).
    fn wants_pod(&self, pod: &Pod, now: u64) -> bool {
        self.namespace.is_none_or(|ns| pod.namespace == ns)
            && self.labels.matches(&pod.labels)
            && (self.fields.is_empty() || self.fields.matches(&pods::fields(pod, now)))
    }

    /// Whether the query wants the cluster's Karpenter controller pod.
    fn wants_controller(&self, controller: &Controller<'_>) -> bool {
        self.namespace
            .is_none_or(|ns| ns == karpenter_controller::NAMESPACE)
            && self.labels.matches(&Controller::labels())
            && self.fields.matches(&controller.fields())
    }

    /// The pods of `cluster` the query wants, from its position on and as far as its
    /// page goes: the positions of the world's pods, whether the Karpenter controller
    /// pod (which comes after them) is on the page, and where the next page starts
    /// (the next pod it wants, if there is one). Pods are chosen from the world's
    /// records alone.
    fn pods<'w>(&self, world: &'w World, cluster: &Cluster) -> ChosenPods<'w> {
        let now = world.now();
        let limit = self.limit.unwrap_or(usize::MAX).max(1);
        let mut wanted = world
            .all_pods()
            .iter()
            .enumerate()
            .skip(self.from)
            .filter(|(_, p)| {
                p.cluster.as_ref() == cluster.name && !p.is_deleted() && self.wants_pod(p, now)
            })
            .map(|(position, _)| position);
        let positions: Vec<usize> = wanted.by_ref().take(limit).collect();
        let controller = Controller::of(world, cluster);
        let next = wanted.next();
        let with_controller = self.wants_controller(&controller);
        let (controller, next) = match next {
            Some(next) => (None, Some(next)),
            None if !with_controller => (None, None),
            None if positions.len() < limit => (Some(controller), None),
            None => (None, Some(karpenter_controller::POSITION)),
        };
        ChosenPods {
            positions,
            controller,
            next,
        }
    }
}

/// The pods of a page of a list (see [`Query::pods`]).
struct ChosenPods<'w> {
    positions: Vec<usize>,
    controller: Option<Controller<'w>>,
    next: Option<usize>,
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
            let chosen = query.pods(world, cluster);
            let all = world.all_pods();
            objects = chosen
                .positions
                .into_iter()
                .map(|i| pods::pod(&all[i], now, instants, query.whole).at_version(version))
                .chain(
                    chosen
                        .controller
                        .map(|c| c.object(instants).at_version(version)),
                )
                .collect();
            next = chosen.next;
        }
        "Event" => {
            for (position, e) in world.events().iter().enumerate().skip(query.from) {
                if !in_cluster(e, cluster) {
                    continue;
                }
                let Some(object) = events::event(world, e, instants) else {
                    continue;
                };
                if query.wants(&object)
                    && !take(position, object.at_version(world.event_version(e.index)))
                {
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
                // The NodePools clients wrote, and the one an autoscaler configured
                // otherwise stands for.
                "NodePool" => {
                    let mut all =
                        stored_objects::objects(world, cluster, StoredKind::NodePool, instants);
                    all.extend(
                        node_pools::node_pools(world, cluster, instants)
                            .into_iter()
                            .map(|o| o.at_version(version)),
                    );
                    all
                }
                _ => match stored_objects::kind_of(resource) {
                    Some(kind) => stored_objects::objects(world, cluster, kind, instants),
                    None => Vec::new(),
                },
            };
            // Stored objects are at the version of their last write.
            let own_version = stored_objects::kind_of(resource).is_some();
            for (position, object) in all.into_iter().enumerate().skip(query.from) {
                let object = if own_version {
                    object
                } else {
                    object.at_version(version)
                };
                if query.wants(&object) && !take(position, object) {
                    break;
                }
            }
        }
    }
    Page { objects, next }
}

/// A page of a list as its answer writes it (see `list`): the page's pods, each
/// rendered only as it is written, or the page's objects.
pub(crate) enum Items<'w> {
    Pods(Pods<'w>),
    Objects(Vec<Object>),
}

/// Pods of a page, by position in the world's pods (and the Karpenter controller's
/// after them), to be shown as they are now.
pub(crate) struct Pods<'w> {
    all: &'w [Pod],
    positions: Vec<usize>,
    controller: Option<Controller<'w>>,
    now: u64,
    instants: Instants,
    whole: bool,
    version: u64,
}

impl<'w> Pods<'w> {
    /// Each pod, rendered when it is reached.
    pub(crate) fn shown(self) -> impl Iterator<Item = pods::Shown<'w>> {
        let Pods {
            all,
            positions,
            controller,
            now,
            instants,
            whole,
            version,
        } = self;
        let controller = controller.map(|c| c.shown(&instants, whole));
        positions
            .into_iter()
            .map(move |i| pods::shown(&all[i], now, &instants, whole))
            .chain(controller)
            .map(move |mut shown| {
                shown.object.metadata.resource_version = Some(version.to_string());
                shown
            })
    }
}

/// One page of a list, as its answer writes it.
pub(crate) struct Listed<'w> {
    pub(crate) items: Items<'w>,
    pub(crate) next: Option<usize>,
}

/// Whether lists of `resource` are chosen from the world's records and rendered only
/// as their answer is written: pods, which a large world has by the hundred thousand.
/// Pods are never written, so they have none of the annotations kept for written
/// objects (which only [`Object`]s take in).
pub(crate) fn renders_as_written(resource: &Resource) -> bool {
    resource.kind == "Pod" && !write::writable(resource)
}

/// The page of `resource` in `cluster` that `query` wants, as [`page`] gives it,
/// except for kinds that [render as written](renders_as_written).
pub(crate) fn list<'w>(
    resource: &Resource,
    world: &'w World,
    cluster: &Cluster,
    instants: &Instants,
    query: &Query<'_>,
) -> Listed<'w> {
    if renders_as_written(resource) {
        let ChosenPods {
            positions,
            controller,
            next,
        } = query.pods(world, cluster);
        let pods = Pods {
            all: world.all_pods(),
            positions,
            controller,
            now: world.now(),
            instants: *instants,
            whole: query.whole,
            version: resource_version(world),
        };
        return Listed {
            items: Items::Pods(pods),
            next,
        };
    }
    let page = page(resource, world, cluster, instants, query);
    Listed {
        items: Items::Objects(page.objects),
        next: page.next,
    }
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
        let namespace = namespace.unwrap_or_default();
        if (namespace, name) == (karpenter_controller::NAMESPACE, karpenter_controller::NAME) {
            let controller = Controller::of(world, cluster);
            return Some(controller.object(instants).at_version(version));
        }
        let pod = world
            .pod(&cluster.name, namespace, name)
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
            Some((change, object.at_version(world.event_version(e.index))))
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
