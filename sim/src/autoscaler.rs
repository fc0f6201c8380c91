//! A Karpenter-like autoscaler (a `Provisioner` / `NodePool` with emptiness-based
//! scale-down), as in walkthrough rows 11 and 21.
//!
//! - **Batching**: when pods become unschedulable a batch window opens; it closes
//!   `BATCH_IDLE_DURATION` (1 s) after the last new unschedulable pod, or
//!   `BATCH_MAX_DURATION` (10 s) after it opened, whichever comes first.
//! - **Which pods**: pods the scheduler marked unschedulable, not nominated for
//!   preemption (the scheduler is already making room for them), and compatible with
//!   the provisioner: the `nodeSelector` and one term of the required node affinity
//!   (the first that can be, in order) must be satisfiable by a node it can launch
//!   (well-known labels such as `karpenter.sh/capacity-type`,
//!   `node.kubernetes.io/instance-type`, the zone, `kubernetes.io/arch` `amd64`, or
//!   the provisioner's own labels). A requirement on a label it cannot set, such as
//!   `eks.amazonaws.com/capacityType` (set only on managed node groups), rules that
//!   term out, as in Karpenter; a pod with no term left is incompatible.
//! - **Packing**: pods (largest first) go onto capacity already in flight, then
//!   first-fit onto new virtual nodes; each new node gets the cheapest instance type
//!   that holds its pods plus one pod of every DaemonSet, and the spot capacity type
//!   when allowed (cheaper). The provisioner's `limits` cap the total capacity.
//! - **Launch**: the node registers after `node_launch_ms` and is Ready after
//!   `node_ready_ms`.
//! - **Emptiness**: a Ready node it launched with no workload pods (DaemonSet pods do
//!   not count) is removed `ttl_seconds_after_empty` after it became empty, unless a
//!   pod lands on it first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::event::{EventKind, TerminationReason};
use crate::instance_types::{INSTANCE_TYPES, InstanceType, instance_type};
use crate::node::{
    CapacityType, LABEL_ARCH, LABEL_INSTANCE_TYPE, LABEL_KARPENTER_CAPACITY_TYPE,
    LABEL_KARPENTER_NODEPOOL, LABEL_KARPENTER_PROVISIONER, LABEL_OS, LABEL_REGION, LABEL_ZONE,
};
use crate::node_affinity::NodeSelectorRequirement;
use crate::resources::Resources;
use crate::timer::{NodeLaunch, TimerKind};
use crate::world::World;

/// The input of [`World::enable_autoscaling`](crate::World::enable_autoscaling): a
/// Karpenter `Provisioner` (v1alpha5) / `NodePool`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscalerSpec {
    /// Provisioner name (`karpenter.sh/provisioner-name` on its nodes).
    pub name: String,
    /// Allowed capacity types (`karpenter.sh/capacity-type` requirement).
    pub capacity_types: Vec<CapacityType>,
    /// Allowed instance types; `None` for every type the simulator knows.
    pub instance_types: Option<Vec<String>>,
    /// Labels put on its nodes (walkthrough: `intent: emr-job`).
    pub labels: BTreeMap<String, String>,
    /// `ttlSecondsAfterEmpty`; `None` never removes nodes.
    pub ttl_seconds_after_empty: Option<u64>,
    /// `limits.resources`: the most CPU and memory all its nodes may have together.
    pub limits: Option<Resources>,
}

impl AutoscalerSpec {
    /// The walkthrough's provisioner: spot and on-demand, label `intent: emr-job`,
    /// `ttlSecondsAfterEmpty: 30`.
    pub fn walkthrough() -> Self {
        let mut labels = BTreeMap::new();
        labels.insert("intent".to_string(), "emr-job".to_string());
        AutoscalerSpec {
            name: "default".to_string(),
            capacity_types: vec![CapacityType::Spot, CapacityType::OnDemand],
            instance_types: None,
            labels,
            ttl_seconds_after_empty: Some(30),
            limits: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let invalid = |reason: &str| SimError::InvalidAutoscaler {
            reason: reason.to_string(),
        };
        if self.name.is_empty() {
            return Err(invalid("the provisioner needs a name"));
        }
        if self.capacity_types.is_empty() {
            return Err(invalid("at least one capacity type must be allowed"));
        }
        if let Some(types) = &self.instance_types {
            if types.is_empty() {
                return Err(invalid("the instance type list is empty"));
            }
            for t in types {
                instance_type(t)?;
            }
        }
        Ok(())
    }

    /// The labels every node it launches carries, whatever its type, capacity type
    /// and zone: the region, `linux`/`amd64` (the NodePool's requirements), its name
    /// under both Karpenter keys, and its own labels.
    fn fixed_node_labels(&self, region: &str) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert(LABEL_REGION.to_string(), region.to_string());
        labels.insert(LABEL_OS.to_string(), "linux".to_string());
        labels.insert(LABEL_ARCH.to_string(), "amd64".to_string());
        labels.insert(LABEL_KARPENTER_PROVISIONER.to_string(), self.name.clone());
        labels.insert(LABEL_KARPENTER_NODEPOOL.to_string(), self.name.clone());
        labels
    }

    fn candidate_types(&self) -> Vec<&'static InstanceType> {
        match &self.instance_types {
            Some(names) => INSTANCE_TYPES
                .iter()
                .filter(|t| names.iter().any(|n| n == t.name))
                .collect(),
            None => INSTANCE_TYPES.iter().collect(),
        }
    }
}

/// An instance launched and not yet Ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InflightNode {
    /// Node name it will register as.
    pub node: String,
    /// Instance type.
    pub instance_type: String,
    /// Capacity type.
    pub capacity_type: CapacityType,
    /// Zone.
    pub zone: String,
    /// Capacity not yet promised to pending pods.
    pub spare: Resources,
    /// Pod slots not yet promised.
    pub spare_pods: u32,
    pub(crate) pods: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Batch {
    pub(crate) opened_at: u64,
    pub(crate) deadline: u64,
}

/// The autoscaler of one cluster: its configuration and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autoscaler {
    /// Configuration.
    pub spec: AutoscalerSpec,
    /// Instances launched and not yet Ready.
    pub inflight: Vec<InflightNode>,
    /// Nodes launched so far.
    pub launched: u32,
    pub(crate) batch: Option<Batch>,
}

impl Autoscaler {
    pub(crate) fn new(spec: AutoscalerSpec) -> Self {
        Autoscaler {
            spec,
            inflight: Vec::new(),
            launched: 0,
            batch: None,
        }
    }
}

/// What a pod's node selector allows the autoscaler to launch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Constraint {
    capacity_types: Vec<CapacityType>,
    instance_types: Vec<&'static str>,
    zone: Option<String>,
}

struct VirtualNode {
    constraint: Constraint,
    types: Vec<&'static InstanceType>,
    used: Resources,
    pods: Vec<u32>,
}

/// What `requirements` (all of which must hold) let the autoscaler launch: the
/// capacity types, instance types and zones it may choose among are narrowed by the
/// requirements on their labels; every other label must be one its nodes always
/// carry ([`AutoscalerSpec::fixed_node_labels`]). A requirement on a label it cannot
/// set, such as the managed node group's `eks.amazonaws.com/capacityType`, leaves
/// nothing, as in Karpenter.
fn constraint_for(
    spec: &AutoscalerSpec,
    cluster_zones: &[String],
    fixed: &BTreeMap<String, String>,
    requirements: &[NodeSelectorRequirement],
) -> Option<Constraint> {
    let mut capacity_types = spec.capacity_types.clone();
    capacity_types.sort();
    capacity_types.dedup();
    let mut types: Vec<&'static str> = spec.candidate_types().iter().map(|t| t.name).collect();
    let mut zones: Vec<&String> = cluster_zones.iter().collect();
    for r in requirements {
        match r.key.as_str() {
            LABEL_KARPENTER_CAPACITY_TYPE => {
                capacity_types.retain(|t| r.admits(Some(t.karpenter_label())));
            }
            LABEL_INSTANCE_TYPE => types.retain(|t| r.admits(Some(t))),
            LABEL_ZONE => zones.retain(|z| r.admits(Some(z.as_str()))),
            _ => {
                if !r.matches(fixed) {
                    return None;
                }
            }
        }
    }
    if capacity_types.is_empty() || types.is_empty() || zones.is_empty() {
        return None;
    }
    let zone = (zones.len() < cluster_zones.len()).then(|| zones[0].clone());
    Some(Constraint {
        capacity_types,
        instance_types: types,
        zone,
    })
}

impl World {
    /// A pod just became unschedulable: open or extend the batch window.
    pub(crate) fn autoscaler_notify(&mut self, c: u32) {
        let now = self.now;
        let (idle, max) = (self.params.batch_idle_ms, self.params.batch_max_ms);
        let Some(a) = self.clusters[c as usize].autoscaler.as_mut() else {
            return;
        };
        let batch = a.batch.get_or_insert(Batch {
            opened_at: now,
            deadline: 0,
        });
        let deadline = (now + idle).min(batch.opened_at + max);
        if deadline != batch.deadline {
            batch.deadline = deadline;
            self.schedule(
                deadline,
                TimerKind::AutoscalerBatch {
                    cluster: c,
                    deadline,
                },
            );
        }
    }

    /// After enabling the autoscaler: consider pods that were already unschedulable.
    pub(crate) fn autoscaler_open_batch_if_needed(&mut self, c: u32) {
        if self.clusters[c as usize].autoscaler.is_some() && !self.provisionable_pods(c).is_empty()
        {
            self.autoscaler_notify(c);
        }
    }

    pub(crate) fn on_autoscaler_batch(&mut self, c: u32, deadline: u64) {
        let Some(a) = self.clusters[c as usize].autoscaler.as_mut() else {
            return;
        };
        if a.batch.map(|b| b.deadline) != Some(deadline) {
            return;
        }
        a.batch = None;
        self.provision(c);
    }

    fn provisionable_pods(&self, c: u32) -> Vec<u32> {
        let st = &self.clusters[c as usize].sched;
        let mut pods: Vec<u32> = Vec::new();
        for s in st.failed.keys() {
            if let Some(q) = st.queues.get(s) {
                for &(_, p) in q {
                    let pod = &self.pods[p as usize];
                    if pod.unschedulable
                        && !pod.provisioning
                        && pod.nominated_node_name.is_none()
                        && pod.deletion_timestamp_ms.is_none()
                    {
                        pods.push(p);
                    }
                }
            }
        }
        pods.sort_by(|&a, &b| {
            let (pa, pb) = (&self.pods[a as usize], &self.pods[b as usize]);
            pb.requests
                .cpu_millis
                .cmp(&pa.requests.cpu_millis)
                .then(pb.requests.memory_mib.cmp(&pa.requests.memory_mib))
                .then(pa.seq.cmp(&pb.seq))
        });
        pods
    }

    /// What the pod's `nodeSelector` and required node affinity let the autoscaler
    /// launch for it: the first alternative (the selector plus one term, in the
    /// order of `nodeSelectorTerms`) that a node it can launch satisfies.
    fn pod_constraint(&self, c: u32, pod: u32) -> Option<Constraint> {
        let cluster = &self.clusters[c as usize];
        let spec = &cluster.autoscaler.as_ref()?.spec;
        let fixed = spec.fixed_node_labels(&cluster.region);
        self.pods[pod as usize]
            .node_placement
            .alternatives()
            .iter()
            .find_map(|requirements| constraint_for(spec, &cluster.zones, &fixed, requirements))
    }

    fn hourly_price(&self, t: &InstanceType, capacity: CapacityType) -> u64 {
        match capacity {
            CapacityType::OnDemand => t.on_demand_millidollars_per_hour * 1000,
            CapacityType::Spot => {
                t.on_demand_millidollars_per_hour * self.params.spot_price_permille
            }
        }
    }

    fn provision(&mut self, c: u32) {
        let pods = self.provisionable_pods(c);
        if pods.is_empty() {
            return;
        }
        let overhead = self.clusters[c as usize].daemonset_overhead();
        let ds_pods = self.clusters[c as usize].daemonsets.len() as u32;
        let (vm_overhead, eviction) = (
            self.params.vm_memory_overhead_permille,
            self.params.eviction_hard_memory_mib,
        );
        let fits_type = |t: &InstanceType, used: Resources, count: usize| -> bool {
            used.fits_in(&t.allocatable(vm_overhead, eviction))
                && count as u32 + ds_pods <= t.max_pods()
        };
        let mut vnodes: Vec<VirtualNode> = Vec::new();
        for pod in pods {
            let Some(constraint) = self.pod_constraint(c, pod) else {
                continue;
            };
            let req = self.pods[pod as usize].requests;
            // 1. Capacity already in flight.
            let placed_inflight = {
                let a = self.clusters[c as usize]
                    .autoscaler
                    .as_mut()
                    .expect("provision runs only with an autoscaler");
                let slot = a.inflight.iter_mut().find(|f| {
                    req.fits_in(&f.spare)
                        && f.spare_pods > 0
                        && constraint.capacity_types.contains(&f.capacity_type)
                        && constraint
                            .instance_types
                            .contains(&f.instance_type.as_str())
                        && constraint.zone.as_ref().is_none_or(|z| *z == f.zone)
                });
                match slot {
                    Some(f) => {
                        f.spare = f.spare.saturating_minus(&req);
                        f.spare_pods -= 1;
                        f.pods.push(pod);
                        true
                    }
                    None => false,
                }
            };
            if placed_inflight {
                self.pods[pod as usize].provisioning = true;
                continue;
            }
            // 2. First fit onto a new virtual node with the same constraints.
            let mut placed = false;
            for v in vnodes.iter_mut().filter(|v| v.constraint == constraint) {
                let used = v.used.plus(&req);
                let count = v.pods.len() + 1;
                let still: Vec<&'static InstanceType> = v
                    .types
                    .iter()
                    .copied()
                    .filter(|t| fits_type(t, used, count))
                    .collect();
                if !still.is_empty() {
                    v.types = still;
                    v.used = used;
                    v.pods.push(pod);
                    placed = true;
                    break;
                }
            }
            if placed {
                continue;
            }
            let used = overhead.plus(&req);
            let types: Vec<&'static InstanceType> = constraint
                .instance_types
                .iter()
                .filter_map(|n| instance_type(n).ok())
                .filter(|t| fits_type(t, used, 1))
                .collect();
            if types.is_empty() {
                // Bigger than any allowed instance type: Karpenter cannot help.
                continue;
            }
            vnodes.push(VirtualNode {
                constraint,
                types,
                used,
                pods: vec![pod],
            });
        }
        for v in vnodes {
            self.launch_for(c, v);
        }
    }

    fn launch_for(&mut self, c: u32, v: VirtualNode) {
        let capacity_type = if v.constraint.capacity_types.contains(&CapacityType::Spot) {
            CapacityType::Spot
        } else {
            CapacityType::OnDemand
        };
        let Some(&chosen) = v.types.iter().min_by(|a, b| {
            self.hourly_price(a, capacity_type)
                .cmp(&self.hourly_price(b, capacity_type))
                .then(a.name.cmp(b.name))
        }) else {
            return;
        };
        let cluster = &self.clusters[c as usize];
        let Some(a) = cluster.autoscaler.as_ref() else {
            return;
        };
        if let Some(limit) = a.spec.limits {
            let mut total = chosen.capacity();
            for &n in &cluster.nodes {
                let node = &self.nodes[n as usize];
                if node.provisioner.as_deref() == Some(a.spec.name.as_str()) {
                    total += node.capacity;
                }
            }
            for f in &a.inflight {
                if let Ok(t) = instance_type(&f.instance_type) {
                    total += t.capacity();
                }
            }
            if !total.fits_in(&limit) {
                return;
            }
        }
        let provisioner = a.spec.name.clone();
        let labels: Vec<(String, String)> = a.spec.labels.clone().into_iter().collect();
        let zone = v
            .constraint
            .zone
            .clone()
            .or_else(|| cluster.zones.first().cloned())
            .unwrap_or_default();
        let region = cluster.region.clone();
        let name = self.new_node_name(&region);
        let alloc = chosen.allocatable(
            self.params.vm_memory_overhead_permille,
            self.params.eviction_hard_memory_mib,
        );
        let ds_pods = self.clusters[c as usize].daemonsets.len() as u32;
        let spare = alloc.saturating_minus(&v.used);
        let spare_pods = chosen
            .max_pods()
            .saturating_sub(ds_pods + v.pods.len() as u32);
        for &p in &v.pods {
            self.pods[p as usize].provisioning = true;
        }
        let pending_pods = v.pods.len() as u32;
        if let Some(a) = self.clusters[c as usize].autoscaler.as_mut() {
            a.launched += 1;
            a.inflight.push(InflightNode {
                node: name.clone(),
                instance_type: chosen.name.to_string(),
                capacity_type,
                zone: zone.clone(),
                spare,
                spare_pods,
                pods: v.pods,
            });
        }
        self.launch_node(
            NodeLaunch {
                cluster: c,
                name,
                instance_type: chosen.name.to_string(),
                capacity_type,
                nodegroup: None,
                provisioner: Some(provisioner),
                zone,
                extra_labels: labels,
            },
            pending_pods,
        );
    }

    /// A node the autoscaler launched is Ready: the pods it was launched for are
    /// ordinary pending pods again (the scheduler places them), and an unused node
    /// starts its emptiness clock.
    pub(crate) fn on_provisioned_node_ready(&mut self, c: u32, n: u32) {
        let name = self.nodes[n as usize].name.clone();
        let mut pods = Vec::new();
        if let Some(a) = self.clusters[c as usize].autoscaler.as_mut() {
            if let Some(pos) = a.inflight.iter().position(|f| f.node == name) {
                pods = a.inflight.remove(pos).pods;
            }
        }
        for p in pods {
            let pod = &mut self.pods[p as usize];
            pod.provisioning = false;
            pod.unschedulable = false;
            self.requeue_pod(p);
        }
        if self.nodes[n as usize].workload_pods == 0 {
            self.pending_emptiness.insert(n);
        }
    }

    /// Starts the emptiness clock of autoscaler nodes that became empty during this
    /// step (checked after scheduling, so a node that gets a pod in the same instant is
    /// never reported empty).
    pub(crate) fn process_emptiness(&mut self) {
        let candidates = std::mem::take(&mut self.pending_emptiness);
        for n in candidates {
            let node = &self.nodes[n as usize];
            if node.is_removed()
                || !node.ready
                || node.workload_pods > 0
                || node.empty_since_ms.is_some()
            {
                continue;
            }
            let Some(provisioner) = node.provisioner.clone() else {
                continue;
            };
            let c = node.cluster_idx;
            let Some(ttl) = self.clusters[c as usize]
                .autoscaler
                .as_ref()
                .filter(|a| a.spec.name == provisioner)
                .and_then(|a| a.spec.ttl_seconds_after_empty)
            else {
                continue;
            };
            let now = self.now;
            let expires = now + ttl * 1000;
            let node = &mut self.nodes[n as usize];
            node.empty_since_ms = Some(now);
            let event = EventKind::NodeEmpty {
                cluster: node.cluster.clone(),
                node: node.name.clone(),
                expires_at_ms: expires,
            };
            self.emit(event);
            self.schedule(
                expires,
                TimerKind::NodeEmptinessExpired {
                    node: n,
                    since: now,
                },
            );
        }
    }

    pub(crate) fn on_node_emptiness_expired(&mut self, n: u32, since: u64) {
        let node = &self.nodes[n as usize];
        if node.is_removed() || node.empty_since_ms != Some(since) || node.workload_pods > 0 {
            return;
        }
        let ttl = (self.now - since) / 1000;
        self.remove_node(
            n,
            format!("empty for {ttl}s (ttlSecondsAfterEmpty)"),
            TerminationReason::NodeRemoved,
        );
    }
}
