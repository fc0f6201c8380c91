//! kube-scheduler: the scheduling queue, filtering, scoring and binding.
//!
//! # Semantics
//! - The queue is ordered by priority (higher first), then creation order, as the
//!   default `PrioritySort` plugin orders it.
//! - Filtering: a node fits when it is Ready (DaemonSet pods tolerate NotReady), its
//!   labels satisfy the pod's `nodeSelector` and required node affinity
//!   ([`node_affinity`](crate::node_affinity)), it has a free pod slot (`maxPods`), and
//!   its allocatable minus the requests of its non-terminal pods minus the requests of
//!   pods *nominated* to it with priority at least the pod's covers the pod's
//!   requests (kube-scheduler's "add nominated pods" step, which keeps room freed by
//!   preemption for the preemptor).
//! - A pod nominated to a node is first tried on that node.
//! - Search: like kube-scheduler, the search starts where the previous one stopped and
//!   stops after finding `numFeasibleNodesToFind` nodes (all nodes below 100; an
//!   adaptive percentage above).
//! - Scoring: `NodeResourcesFit` (LeastAllocated) plus `NodeResourcesBalancedAllocation`,
//!   integer arithmetic as in kube-scheduler; ties go to the node whose name sorts
//!   first (kube-scheduler picks randomly among ties).
//! - When no node fits, [`preemption`](crate::preemption) runs (PostFilter).
//!
//! # Efficiency
//! Pods with identical scheduling needs (priority, requests, node selector, preemption
//! policy) form a *shape*. If one pod of a shape fits nowhere and cannot preempt, no
//! other pod of that shape can either, until capacity is freed on some node; so a
//! failed shape is parked and only woken when a node it could use frees capacity
//! (a pod ends, a node becomes Ready, a nomination is withdrawn). A scheduling pass
//! therefore costs in proportion to the pods that move, not to the pods waiting.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::node::{LABEL_HOSTNAME, Node};
use crate::node_affinity::NodePlacement;
use crate::pod::Pod;
use crate::priority::PreemptionPolicy;
use crate::resources::Resources;
use crate::shared_str::SharedStr;
use crate::world::World;

/// kube-scheduler's `MaxNodeScore`.
const MAX_NODE_SCORE: u64 = 100;

/// Pods that the scheduler cannot tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ShapeKey {
    pub(crate) priority: i32,
    pub(crate) cpu_millis: u64,
    pub(crate) memory_mib: u64,
    pub(crate) selector: u32,
    pub(crate) tolerates_not_ready: bool,
    pub(crate) can_preempt: bool,
}

impl ShapeKey {
    pub(crate) fn requests(&self) -> Resources {
        Resources::new(self.cpu_millis, self.memory_mib)
    }
}

/// A node's numbers as the scheduler's filter needs them, kept in a dense array in
/// the cluster's node order so that a full scan touches a few kilobytes instead of
/// every node object (the "per-node free resources" index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeSlot {
    pub(crate) node: u32,
    pub(crate) free: Resources,
    pub(crate) allocatable: Resources,
    pub(crate) free_pods: u32,
    pub(crate) ready: bool,
    pub(crate) has_nominations: bool,
}

/// Per-cluster scheduler state (part of the serialized world).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SchedulerState {
    pub(crate) shapes: Vec<ShapeKey>,
    #[serde(with = "crate::serde_pairs")]
    shape_ids: BTreeMap<ShapeKey, u32>,
    /// Pending pods per shape, by (admission sequence, pod index).
    pub(crate) queues: BTreeMap<u32, BTreeSet<(u64, u32)>>,
    /// Shapes to try in the next pass.
    active: BTreeSet<u32>,
    /// Parked shapes with the message of their last failure.
    pub(crate) failed: BTreeMap<u32, SharedStr>,
    /// Shapes with pods nominated by preemption and waiting for their victims; they
    /// may also bind elsewhere if another node frees up first.
    waiting: BTreeSet<u32>,
    /// Nodes whose free capacity grew since the last pass.
    dirty_nodes: BTreeSet<u32>,
    /// Each distinct node placement (`nodeSelector` + required node affinity) pods
    /// asked for; older snapshots hold plain selectors here, which still read.
    pub(crate) selectors: Vec<NodePlacement>,
    #[serde(with = "crate::serde_pairs")]
    selector_ids: BTreeMap<NodePlacement, u32>,
    next_start_node_index: u64,
    /// One slot per live node, in `Cluster::nodes` order.
    pub(crate) slots: Vec<NodeSlot>,
    /// Cache: `selector_match[selector][node.index]`, 0 unknown, 1 match, 2 no match.
    /// Node labels never change, so the cache never goes stale; it is rebuilt lazily
    /// after a restore.
    #[serde(skip)]
    selector_match: Vec<Vec<u8>>,
}

/// The result of one scheduling attempt.
pub(crate) enum Outcome {
    Bound,
    Nominated,
    Waiting,
    Unschedulable(SharedStr),
}

impl SchedulerState {
    pub(crate) fn selector_id(&mut self, selector: &NodePlacement) -> u32 {
        if let Some(&id) = self.selector_ids.get(selector) {
            return id;
        }
        let id = self.selectors.len() as u32;
        self.selectors.push(selector.clone());
        self.selector_ids.insert(selector.clone(), id);
        id
    }

    fn shape_id(&mut self, key: ShapeKey) -> u32 {
        if let Some(&id) = self.shape_ids.get(&key) {
            return id;
        }
        let id = self.shapes.len() as u32;
        self.shapes.push(key);
        self.shape_ids.insert(key, id);
        id
    }

    pub(crate) fn matches(&mut self, selector: u32, node: &Node) -> bool {
        let s = selector as usize;
        if self.selector_match.len() <= s {
            self.selector_match.resize(s + 1, Vec::new());
        }
        if self.selectors[s].is_empty() {
            return true;
        }
        let row = &mut self.selector_match[s];
        let n = node.index as usize;
        if row.len() <= n {
            row.resize(n + 1, 0);
        }
        if row[n] == 0 {
            row[n] = if node.fits_placement(&self.selectors[s]) {
                1
            } else {
                2
            };
        }
        row[n] == 1
    }

    pub(crate) fn mark_dirty(&mut self, node: u32) {
        self.dirty_nodes.insert(node);
    }
}

/// Requests (and pod count) of the pods nominated to `node` whose priority is at least
/// `priority` (or strictly above it), except `exclude`.
pub(crate) fn nominated_reservation(
    node: &Node,
    pods: &[Pod],
    priority: i32,
    strictly_higher: bool,
    exclude: Option<u32>,
) -> (Resources, u32) {
    let mut reserved = Resources::ZERO;
    let mut count = 0;
    for &q in &node.nominated {
        if Some(q) == exclude {
            continue;
        }
        let qp = &pods[q as usize];
        let counts = if strictly_higher {
            qp.priority > priority
        } else {
            qp.priority >= priority
        };
        if counts {
            reserved += qp.requests;
            count += 1;
        }
    }
    (reserved, count)
}

/// The `NodeResourcesFit` and `NodeUnschedulable`/readiness filters (the node
/// selector is checked separately, through the cache).
pub(crate) fn fits_on(
    node: &Node,
    pods: &[Pod],
    requests: Resources,
    priority: i32,
    tolerates_not_ready: bool,
    exclude: Option<u32>,
) -> bool {
    if node.is_removed() || !(node.ready || tolerates_not_ready) {
        return false;
    }
    let (reserved, reserved_pods) = if node.nominated.is_empty() {
        (Resources::ZERO, 0)
    } else {
        nominated_reservation(node, pods, priority, false, exclude)
    };
    if node.pod_count + reserved_pods >= node.max_pods {
        return false;
    }
    requests.fits_in(
        &node
            .allocatable
            .saturating_minus(&node.requested)
            .saturating_minus(&reserved),
    )
}

/// LeastAllocated + BalancedAllocation, as kube-scheduler computes them.
fn score(slot: &NodeSlot, requests: Resources) -> u64 {
    let alloc = slot.allocatable;
    let requested = alloc.saturating_minus(&slot.free);
    let cpu_after = requested.cpu_millis + requests.cpu_millis;
    let mem_after = requested.memory_mib + requests.memory_mib;
    let least = |after: u64, cap: u64| -> u64 {
        if cap == 0 || after > cap {
            0
        } else {
            (cap - after) * MAX_NODE_SCORE / cap
        }
    };
    let least_allocated =
        (least(cpu_after, alloc.cpu_millis) + least(mem_after, alloc.memory_mib)) / 2;
    // Fractions in parts per million; std-dev of two values is |a - b| / 2.
    let frac = |after: u64, cap: u64| -> u64 {
        (after * 1_000_000)
            .checked_div(cap)
            .map_or(1_000_000, |f| f.min(1_000_000))
    };
    let cpu_frac = frac(cpu_after, alloc.cpu_millis);
    let mem_frac = frac(mem_after, alloc.memory_mib);
    let std = cpu_frac.abs_diff(mem_frac) / 2;
    let balanced = (1_000_000 - std) * MAX_NODE_SCORE / 1_000_000;
    least_allocated + balanced
}

impl World {
    /// Queues a newly admitted pod.
    pub(crate) fn enqueue_pod(&mut self, pod: u32) {
        let (c, key_parts) = {
            let p = &self.pods[pod as usize];
            let c = p.cluster_idx;
            (
                c,
                (
                    p.priority,
                    p.requests,
                    p.tolerates_not_ready,
                    p.preemption_policy,
                ),
            )
        };
        let selector = self.pods[pod as usize].node_placement.clone();
        let seq = self.pods[pod as usize].seq;
        let st = &mut self.clusters[c as usize].sched;
        let sel = st.selector_id(&selector);
        let (priority, requests, tolerates, policy) = key_parts;
        let shape = st.shape_id(ShapeKey {
            priority,
            cpu_millis: requests.cpu_millis,
            memory_mib: requests.memory_mib,
            selector: sel,
            tolerates_not_ready: tolerates,
            can_preempt: policy == PreemptionPolicy::PreemptLowerPriority,
        });
        st.queues.entry(shape).or_default().insert((seq, pod));
        self.pods[pod as usize].shape = Some(shape);
        if let Some(message) = self.clusters[c as usize].sched.failed.get(&shape).cloned() {
            // Identical pods already failed and nothing that could help has happened
            // since (it would have woken the shape): this one cannot fit either.
            self.mark_unschedulable(c, pod, &message);
        } else {
            self.clusters[c as usize].sched.active.insert(shape);
            self.dirty_clusters.insert(c);
        }
    }

    /// Removes a pod from the scheduling queue (bound or deleted).
    pub(crate) fn dequeue_pod(&mut self, pod: u32) {
        let p = &self.pods[pod as usize];
        let Some(shape) = p.shape else {
            return;
        };
        let seq = p.seq;
        let c = p.cluster_idx;
        let st = &mut self.clusters[c as usize].sched;
        if let Some(q) = st.queues.get_mut(&shape) {
            q.remove(&(seq, pod));
            if q.is_empty() {
                st.queues.remove(&shape);
                st.failed.remove(&shape);
                st.active.remove(&shape);
                st.waiting.remove(&shape);
            }
        }
        self.pods[pod as usize].shape = None;
    }

    /// Puts a pending pod's shape back in line for the next pass (its nomination was
    /// withdrawn, or the node launched for it is Ready).
    pub(crate) fn requeue_pod(&mut self, pod: u32) {
        let p = &self.pods[pod as usize];
        let Some(shape) = p.shape else {
            return;
        };
        let c = p.cluster_idx;
        let st = &mut self.clusters[c as usize].sched;
        st.failed.remove(&shape);
        st.active.insert(shape);
        self.dirty_clusters.insert(c);
    }

    /// Refreshes the scheduler's slot for a node after its requests, readiness or
    /// nominations changed.
    pub(crate) fn sync_slot(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        if node.is_removed() {
            return;
        }
        let slot = NodeSlot {
            node: n,
            free: node.free(),
            allocatable: node.allocatable,
            free_pods: node.max_pods.saturating_sub(node.pod_count),
            ready: node.ready,
            has_nominations: !node.nominated.is_empty(),
        };
        let pos = node.slot as usize;
        let st = &mut self.clusters[node.cluster_idx as usize].sched;
        if pos < st.slots.len() {
            st.slots[pos] = slot;
        } else {
            st.slots.push(slot);
        }
    }

    /// Rebuilds a cluster's slots after a node left (positions shift).
    pub(crate) fn rebuild_slots(&mut self, c: u32) {
        let nodes = self.clusters[c as usize].nodes.clone();
        self.clusters[c as usize].sched.slots.clear();
        for (pos, n) in nodes.into_iter().enumerate() {
            self.nodes[n as usize].slot = pos as u32;
            self.sync_slot(n);
        }
    }

    /// Records that capacity grew on a node, so parked shapes that could use it wake.
    pub(crate) fn mark_node_dirty(&mut self, node: u32) {
        let c = self.nodes[node as usize].cluster_idx;
        self.clusters[c as usize].sched.mark_dirty(node);
        self.dirty_clusters.insert(c);
    }

    /// Wakes every parked shape of the cluster (after a command that may change what
    /// fits, such as enabling the autoscaler).
    pub(crate) fn retry_all_shapes(&mut self, cluster: u32) {
        let st = &mut self.clusters[cluster as usize].sched;
        let failed = std::mem::take(&mut st.failed);
        st.active.extend(failed.into_keys());
        self.dirty_clusters.insert(cluster);
    }

    /// Runs scheduling passes on every cluster that has work.
    pub(crate) fn run_scheduling(&mut self) {
        while let Some(c) = self.dirty_clusters.pop_first() {
            self.scheduling_pass(c);
        }
    }

    fn scheduling_pass(&mut self, c: u32) {
        loop {
            self.wake_shapes_for_dirty_nodes(c);
            let st = &mut self.clusters[c as usize].sched;
            if st.active.is_empty() {
                break;
            }
            // (−priority, head sequence, shape): the queue order of kube-scheduler.
            let mut heap: BTreeSet<(i64, u64, u32)> = BTreeSet::new();
            for &s in &st.active {
                if let Some(&(seq, _)) = st.queues.get(&s).and_then(|q| q.first()) {
                    heap.insert((-i64::from(st.shapes[s as usize].priority), seq, s));
                }
            }
            st.active.clear();
            while let Some((neg_prio, seq, s)) = heap.pop_first() {
                let candidate = self.clusters[c as usize]
                    .sched
                    .queues
                    .get(&s)
                    .and_then(|q| q.range((seq, 0)..).next().copied());
                let Some((pod_seq, pod)) = candidate else {
                    continue;
                };
                let outcome = self.try_schedule(c, pod);
                if matches!(outcome, Outcome::Nominated | Outcome::Waiting) {
                    self.clusters[c as usize].sched.waiting.insert(s);
                }
                match outcome {
                    Outcome::Bound | Outcome::Nominated | Outcome::Waiting => {
                        let next = self.clusters[c as usize]
                            .sched
                            .queues
                            .get(&s)
                            .and_then(|q| q.range((pod_seq + 1, 0)..).next().copied());
                        if let Some((next_seq, _)) = next {
                            heap.insert((neg_prio, next_seq, s));
                        }
                    }
                    Outcome::Unschedulable(message) => {
                        self.park_shape(c, s, pod_seq, message);
                        self.retry_nominated_in_shape(c, s, pod_seq);
                    }
                }
            }
        }
    }

    fn wake_shapes_for_dirty_nodes(&mut self, c: u32) {
        let st = &mut self.clusters[c as usize].sched;
        let dirty = std::mem::take(&mut st.dirty_nodes);
        // Pods nominated to a node that freed capacity may now bind there.
        for &n in &dirty {
            let nominated: Vec<u32> = self.nodes[n as usize].nominated.iter().copied().collect();
            for pod in nominated {
                self.requeue_pod(pod);
            }
        }
        let st = &mut self.clusters[c as usize].sched;
        if dirty.is_empty() {
            return;
        }
        let waiting: Vec<u32> = st.waiting.iter().copied().collect();
        for s in waiting {
            let key = self.clusters[c as usize].sched.shapes[s as usize];
            if dirty.iter().any(|&n| self.could_help(c, key, n)) {
                let st = &mut self.clusters[c as usize].sched;
                st.waiting.remove(&s);
                st.active.insert(s);
            }
        }
        let st = &mut self.clusters[c as usize].sched;
        if st.failed.is_empty() {
            return;
        }
        let parked: Vec<u32> = st.failed.keys().copied().collect();
        for s in parked {
            let key = self.clusters[c as usize].sched.shapes[s as usize];
            let helps = dirty.iter().any(|&n| self.could_help(c, key, n));
            if helps {
                let st = &mut self.clusters[c as usize].sched;
                st.failed.remove(&s);
                st.active.insert(s);
            }
        }
    }

    /// Could a pod of this shape fit on, or preempt its way onto, this node? Errs on
    /// the side of yes (it ignores reservations of equal priority): a wrong yes costs
    /// one attempt, a wrong no would leave a pod pending that fits.
    fn could_help(&mut self, c: u32, key: ShapeKey, n: u32) -> bool {
        let node = &self.nodes[n as usize];
        if node.is_removed() || !(node.ready || key.tolerates_not_ready) {
            return false;
        }
        if !self.clusters[c as usize].sched.matches(key.selector, node) {
            return false;
        }
        let (reserved, reserved_pods) =
            nominated_reservation(node, &self.pods, key.priority, true, None);
        let req = key.requests();
        let free = node
            .allocatable
            .saturating_minus(&node.requested)
            .saturating_minus(&reserved);
        if req.fits_in(&free) && node.pod_count + reserved_pods < node.max_pods {
            return true;
        }
        if key.can_preempt {
            let usage = node.usage_at_or_above(key.priority);
            let avail = node
                .allocatable
                .saturating_minus(&usage.requests)
                .saturating_minus(&reserved);
            return req.fits_in(&avail) && usage.pods + reserved_pods < node.max_pods;
        }
        false
    }

    /// Pods of a parked shape that are nominated to a node are not like the pod that
    /// just failed: room is reserved for them there. Each gets its own attempt.
    fn retry_nominated_in_shape(&mut self, c: u32, s: u32, after_seq: u64) {
        let nominated: Vec<u32> = self.clusters[c as usize]
            .sched
            .queues
            .get(&s)
            .map(|q| {
                q.range((after_seq + 1, 0)..)
                    .map(|&(_, p)| p)
                    .filter(|&p| self.pods[p as usize].nominated_node_name.is_some())
                    .collect()
            })
            .unwrap_or_default();
        for pod in nominated {
            match self.try_schedule(c, pod) {
                Outcome::Bound => {}
                Outcome::Nominated | Outcome::Waiting => {
                    self.clusters[c as usize].sched.waiting.insert(s);
                }
                Outcome::Unschedulable(message) => self.mark_unschedulable(c, pod, &message),
            }
        }
    }

    fn park_shape(&mut self, c: u32, s: u32, from_seq: u64, message: SharedStr) {
        let st = &mut self.clusters[c as usize].sched;
        st.failed.insert(s, message.clone());
        let pods: Vec<u32> = st
            .queues
            .get(&s)
            .map(|q| q.range((from_seq, 0)..).map(|&(_, p)| p).collect())
            .unwrap_or_default();
        for pod in pods {
            if self.pods[pod as usize].nominated_node_name.is_none() {
                self.mark_unschedulable(c, pod, &message);
            }
        }
    }

    /// Sets `PodScheduled=False/Unschedulable`, records `PodUnschedulable` once per
    /// pod, and tells the autoscaler about pods that just became unschedulable.
    fn mark_unschedulable(&mut self, c: u32, pod: u32, message: &SharedStr) {
        let p = &mut self.pods[pod as usize];
        if p.unschedulable {
            return;
        }
        p.unschedulable = true;
        let report = !p.unschedulable_reported;
        p.unschedulable_reported = true;
        let pod_ref = p.pod_ref();
        self.set_scheduled_condition(pod, false, Some(message.clone()));
        if report {
            self.emit(crate::event::EventKind::PodUnschedulable {
                pod: pod_ref,
                message: message.clone(),
            });
        }
        self.autoscaler_notify(c);
    }

    fn try_schedule(&mut self, c: u32, pod: u32) -> Outcome {
        let (req, prio, tolerates, shape, nominated) = {
            let p = &self.pods[pod as usize];
            let nominated = p
                .nominated_node_name
                .as_ref()
                .and_then(|n| self.node_ids.get(n.as_str()).copied());
            (
                p.requests,
                p.priority,
                p.tolerates_not_ready,
                p.shape,
                nominated,
            )
        };
        let Some(shape) = shape else {
            return Outcome::Waiting;
        };
        let selector = self.clusters[c as usize].sched.shapes[shape as usize].selector;
        if let Some(n) = nominated {
            let node = &self.nodes[n as usize];
            if fits_on(node, &self.pods, req, prio, tolerates, Some(pod))
                && self.clusters[c as usize].sched.matches(selector, node)
            {
                self.bind_pod(pod, n);
                return Outcome::Bound;
            }
        }
        if let Some(n) = self.find_node(c, pod, req, prio, tolerates, selector) {
            self.bind_pod(pod, n);
            return Outcome::Bound;
        }
        let can_preempt =
            self.pods[pod as usize].preemption_policy == PreemptionPolicy::PreemptLowerPriority;
        if can_preempt {
            if nominated.is_some() && self.nominated_node_has_preemption_victims(pod) {
                return Outcome::Waiting;
            }
            if let Some(candidate) = self.find_preemption(c, pod, selector) {
                return if self.execute_preemption(pod, candidate) {
                    Outcome::Nominated
                } else {
                    Outcome::Waiting
                };
            }
        }
        if nominated.is_some() {
            self.clear_nomination(pod);
        }
        Outcome::Unschedulable(
            self.unschedulable_message(c, pod, selector, can_preempt)
                .into(),
        )
    }

    fn find_node(
        &mut self,
        c: u32,
        pod: u32,
        req: Resources,
        prio: i32,
        tolerates: bool,
        selector: u32,
    ) -> Option<u32> {
        let World {
            clusters,
            nodes,
            pods,
            node_ids,
            params,
            ..
        } = self;
        let cluster = &mut clusters[c as usize];
        let st = &mut cluster.sched;
        // DaemonSet pods are pinned to one node by hostname: look it up directly.
        if let Some(host) = st.selectors[selector as usize].selector.get(LABEL_HOSTNAME) {
            let n = *node_ids.get(host)?;
            let node = &nodes[n as usize];
            return (node.cluster == cluster.name
                && st.matches(selector, node)
                && fits_on(node, pods, req, prio, tolerates, Some(pod)))
            .then_some(n);
        }
        let total = st.slots.len();
        if total == 0 {
            return None;
        }
        let to_find = num_feasible_nodes_to_find(
            total,
            params.min_feasible_nodes_to_find,
            params.min_feasible_nodes_percentage,
        );
        let start = (st.next_start_node_index % total as u64) as usize;
        let mut best: Option<(u64, u32)> = None;
        let mut found = 0usize;
        let mut processed = 0usize;
        for i in 0..total {
            let slot = st.slots[(start + i) % total];
            processed += 1;
            if !(slot.ready || tolerates) || slot.free_pods == 0 || !req.fits_in(&slot.free) {
                continue;
            }
            let node = &nodes[slot.node as usize];
            if slot.has_nominations && !fits_on(node, pods, req, prio, tolerates, Some(pod)) {
                continue;
            }
            if !st.matches(selector, node) {
                continue;
            }
            found += 1;
            let s = score(&slot, req);
            // Ties go to the node found first in the (rotating) search order.
            if best.is_none_or(|(bs, _)| s > bs) {
                best = Some((s, slot.node));
            }
            if found >= to_find {
                break;
            }
        }
        st.next_start_node_index = ((start + processed) % total) as u64;
        best.map(|(_, n)| n)
    }

    /// The `FailedScheduling` message, in kube-scheduler's format.
    fn unschedulable_message(
        &mut self,
        c: u32,
        pod: u32,
        selector: u32,
        can_preempt: bool,
    ) -> String {
        let (req, prio, tolerates) = {
            let p = &self.pods[pod as usize];
            (p.requests, p.priority, p.tolerates_not_ready)
        };
        let World {
            clusters,
            nodes,
            pods,
            ..
        } = self;
        let cluster = &mut clusters[c as usize];
        let total = cluster.nodes.len();
        let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut not_helpful = 0usize;
        for &n in &cluster.nodes {
            let node = &nodes[n as usize];
            let mut add = |r: &'static str| *reasons.entry(r).or_default() += 1;
            if !(node.ready || tolerates) {
                add("node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
                not_helpful += 1;
                continue;
            }
            if !cluster.sched.matches(selector, node) {
                add("node(s) didn't match Pod's node affinity/selector");
                not_helpful += 1;
                continue;
            }
            let (reserved, reserved_pods) =
                nominated_reservation(node, pods, prio, false, Some(pod));
            let free = node
                .allocatable
                .saturating_minus(&node.requested)
                .saturating_minus(&reserved);
            if node.pod_count + reserved_pods >= node.max_pods {
                add("Too many pods");
            }
            if req.cpu_millis > free.cpu_millis {
                add("Insufficient cpu");
            }
            if req.memory_mib > free.memory_mib {
                add("Insufficient memory");
            }
        }
        let list = reasons
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut message = format!("0/{total} nodes are available: {list}.");
        if can_preempt {
            let no_victims = total - not_helpful;
            let mut parts = Vec::new();
            if no_victims > 0 {
                parts.push(format!(
                    "{no_victims} No preemption victims found for incoming pod"
                ));
            }
            if not_helpful > 0 {
                parts.push(format!(
                    "{not_helpful} Preemption is not helpful for scheduling"
                ));
            }
            message.push_str(&format!(
                " preemption: 0/{total} nodes are available: {}.",
                parts.join(", ")
            ));
        }
        message
    }
}

/// kube-scheduler's `numFeasibleNodesToFind` with the adaptive percentage.
pub(crate) fn num_feasible_nodes_to_find(
    total: usize,
    min_nodes: u32,
    min_percentage: u32,
) -> usize {
    let min_nodes = min_nodes as usize;
    if total < min_nodes {
        return total;
    }
    let adaptive = 50usize
        .saturating_sub(total / 125)
        .max(min_percentage as usize);
    (total * adaptive / 100).max(min_nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_nodes_to_find() {
        assert_eq!(num_feasible_nodes_to_find(1, 100, 5), 1);
        assert_eq!(num_feasible_nodes_to_find(99, 100, 5), 99);
        assert_eq!(num_feasible_nodes_to_find(100, 100, 5), 100);
        // 1000 nodes: 50 - 8 = 42 %
        assert_eq!(num_feasible_nodes_to_find(1000, 100, 5), 420);
        // 6000 nodes: floor at 5 %
        assert_eq!(num_feasible_nodes_to_find(6000, 100, 5), 300);
    }
}
