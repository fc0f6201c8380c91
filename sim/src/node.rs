//! Worker nodes: what the scheduler sees of an EC2 instance.
//!
//! A node keeps running totals of what its bound pods request, so that every
//! scheduling decision is a constant-time comparison instead of a sum over pods. The
//! totals include terminating pods: Kubernetes keeps a deleted pod's resources
//! reserved until its containers have exited, which is why a preemptor waits for the
//! grace period.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::node_affinity::NodePlacement;
use crate::resources::Resources;
use crate::shared_str::SharedStr;

/// `eks.amazonaws.com/capacityType`, set on managed node group nodes.
pub const LABEL_EKS_CAPACITY_TYPE: &str = "eks.amazonaws.com/capacityType";
/// `eks.amazonaws.com/nodegroup`, set on managed node group nodes.
pub const LABEL_EKS_NODEGROUP: &str = "eks.amazonaws.com/nodegroup";
/// `karpenter.sh/capacity-type`, set on nodes Karpenter launches.
pub const LABEL_KARPENTER_CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
/// `karpenter.sh/provisioner-name`, set on nodes Karpenter launches.
pub const LABEL_KARPENTER_PROVISIONER: &str = "karpenter.sh/provisioner-name";
/// `karpenter.sh/nodepool`, set on nodes a Karpenter v1 NodePool launches (what
/// `delete-cluster` on `aws` waits to be gone).
pub const LABEL_KARPENTER_NODEPOOL: &str = "karpenter.sh/nodepool";
/// `node.kubernetes.io/instance-type`.
pub const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// `kubernetes.io/hostname` (DaemonSet pods are pinned with it).
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `topology.kubernetes.io/region`.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";
/// `topology.kubernetes.io/zone`.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// `kubernetes.io/os`.
pub const LABEL_OS: &str = "kubernetes.io/os";
/// `kubernetes.io/arch`.
pub const LABEL_ARCH: &str = "kubernetes.io/arch";

pub use runbook_backend::events::CapacityType;

/// Requests of the pods of one priority on a node (for preemption arithmetic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PriorityUsage {
    pub(crate) requests: Resources,
    pub(crate) pods: u32,
}

/// A node of an EKS cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node name (the instance's private DNS name).
    pub name: SharedStr,
    /// EKS cluster.
    pub cluster: SharedStr,
    /// EC2 instance type.
    pub instance_type: SharedStr,
    /// On-demand or spot.
    pub capacity_type: CapacityType,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Nominal capacity (all vCPUs and memory of the instance).
    pub capacity: Resources,
    /// What the scheduler may hand out (capacity minus kube-reserved, eviction
    /// threshold and VM overhead; see [`instance_types`](crate::instance_types)).
    pub allocatable: Resources,
    /// The kubelet's `maxPods`.
    pub max_pods: u32,
    /// Sum of the requests of the non-terminal pods bound here (terminating included).
    pub requested: Resources,
    /// Number of non-terminal pods bound here.
    pub pod_count: u32,
    /// Ready for ordinary pods.
    pub ready: bool,
    /// Managed node group that owns it.
    pub nodegroup: Option<String>,
    /// Autoscaler provisioner that launched it.
    pub provisioner: Option<String>,
    /// When the kubelet registered it.
    pub created_at_ms: u64,
    /// When it became Ready.
    pub ready_at_ms: Option<u64>,
    /// When it was removed.
    pub removed_at_ms: Option<u64>,
    /// Karpenter's emptiness timestamp: when the node last became empty of workload
    /// pods (DaemonSet pods do not count).
    pub empty_since_ms: Option<u64>,
    /// Pods bound here that are not terminal (world pod indices).
    pub(crate) pods: BTreeSet<u32>,
    /// Of those, how many are not DaemonSet pods (for emptiness).
    pub(crate) workload_pods: u32,
    /// `requested` broken down by priority (for preemption candidate filtering).
    pub(crate) by_priority: BTreeMap<i32, PriorityUsage>,
    /// Pending pods nominated to this node by preemption (their requests are reserved
    /// against pods of lower priority).
    pub(crate) nominated: BTreeSet<u32>,
    /// Container images present (or being pulled) and when each is ready.
    pub(crate) images: BTreeMap<String, u64>,
    /// Position among all nodes ever created (for per-node caches).
    pub(crate) index: u32,
    pub(crate) cluster_idx: u32,
    /// Position in the cluster's node list (and scheduler slots).
    pub(crate) slot: u32,
}

impl Node {
    /// Capacity not yet requested by bound pods.
    pub fn free(&self) -> Resources {
        self.allocatable.saturating_minus(&self.requested)
    }

    /// True once the node was removed.
    pub fn is_removed(&self) -> bool {
        self.removed_at_ms.is_some()
    }

    /// True when the node's labels satisfy a pod's `nodeSelector` and required node
    /// affinity.
    pub fn fits_placement(&self, placement: &NodePlacement) -> bool {
        placement.matches(&self.labels)
    }

    /// Requests of bound pods with priority at least `priority` (these cannot be
    /// preempted by a pod of that priority), and how many such pods.
    pub(crate) fn usage_at_or_above(&self, priority: i32) -> PriorityUsage {
        let mut usage = PriorityUsage::default();
        for (_, u) in self.by_priority.range(priority..) {
            usage.requests += u.requests;
            usage.pods += u.pods;
        }
        usage
    }
}
