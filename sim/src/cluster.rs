//! EKS clusters: the control plane, its managed node groups, namespaces, priority
//! classes and system workloads.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::autoscaler::Autoscaler;
use crate::node::CapacityType;
use crate::priority::PriorityClasses;
use crate::resources::Resources;
use crate::scheduler::SchedulerState;
use crate::stored_object::{ObjectKey, StoredObject};

/// Namespaces every cluster starts with.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

/// `Cluster.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    /// Control plane being created.
    Creating,
    /// Ready.
    Active,
    /// Being deleted.
    Deleting,
    /// Gone (kept for history; the name can be reused).
    Deleted,
}

impl std::fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClusterStatus::Creating => "CREATING",
            ClusterStatus::Active => "ACTIVE",
            ClusterStatus::Deleting => "DELETING",
            ClusterStatus::Deleted => "DELETED",
        })
    }
}

/// A managed node group to create with the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroupSpec {
    /// Node group name (walkthrough: `<cluster>-ng`).
    pub name: String,
    /// EC2 instance type.
    pub instance_type: String,
    /// Nodes to run.
    pub desired_size: u32,
    /// Lower bound.
    pub min_size: u32,
    /// Upper bound.
    pub max_size: u32,
    /// On-demand or spot.
    pub capacity_type: CapacityType,
    /// Extra node labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The IAM role of the nodes, as the request gave it (EKS DescribeNodegroup
    /// shows it; Karpenter's EC2NodeClass names it). The simulator checks nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_role_arn: Option<String>,
}

impl NodeGroupSpec {
    /// An on-demand group of `desired` nodes (min 1, max 10 as in the walkthrough, or
    /// `desired` if larger).
    pub fn new(name: impl Into<String>, instance_type: impl Into<String>, desired: u32) -> Self {
        NodeGroupSpec {
            name: name.into(),
            instance_type: instance_type.into(),
            desired_size: desired,
            min_size: desired.min(1),
            max_size: desired.max(10),
            capacity_type: CapacityType::OnDemand,
            labels: BTreeMap::new(),
            node_role_arn: None,
        }
    }
}

/// The input of [`World::create_cluster`](crate::World::create_cluster).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Cluster name.
    pub name: String,
    /// Kubernetes version (one of `eks_versions::OFFERED`; the walkthrough used 1.22).
    pub version: String,
    /// Region for ARNs and node names; `None` for the world's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Account for ARNs; `None` for the world's account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Managed node groups.
    #[serde(default)]
    pub nodegroups: Vec<NodeGroupSpec>,
}

impl ClusterSpec {
    /// A cluster with one node group.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        nodegroup: NodeGroupSpec,
    ) -> Self {
        ClusterSpec {
            name: name.into(),
            version: version.into(),
            region: None,
            account_id: None,
            nodegroups: vec![nodegroup],
        }
    }
}

/// A managed node group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// The specification it was created with.
    pub spec: NodeGroupSpec,
    /// `ACTIVE` once all its nodes are Ready.
    pub active: bool,
}

/// A DaemonSet: one pod per node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSet {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Pod requests.
    pub requests: Resources,
    /// Container image.
    pub image: String,
    /// PriorityClass (`None`: the global default at pod creation, or 0).
    pub priority_class: Option<String>,
}

/// An EKS cluster and the Kubernetes state inside it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cluster {
    /// Name.
    pub name: String,
    /// `arn:aws:eks:<region>:<account>:cluster/<name>`.
    pub arn: String,
    /// Kubernetes version.
    pub version: String,
    /// Region.
    pub region: String,
    /// Account.
    pub account_id: String,
    /// API server endpoint.
    pub endpoint: String,
    /// OIDC issuer URL (for IRSA).
    pub oidc_issuer: String,
    /// Status.
    pub status: ClusterStatus,
    /// When CreateCluster was called.
    pub created_at_ms: u64,
    /// When it became ACTIVE.
    pub active_at_ms: Option<u64>,
    /// Managed node groups by name.
    pub nodegroups: BTreeMap<String, NodeGroup>,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
    /// PriorityClasses.
    pub priority_classes: PriorityClasses,
    /// DaemonSets (system and Container Insights).
    pub daemonsets: Vec<DaemonSet>,
    /// The Karpenter-like autoscaler, when enabled.
    pub autoscaler: Option<Autoscaler>,
    /// Availability zones nodes are spread over.
    pub zones: Vec<String>,
    /// ConfigMaps, Roles and RoleBindings, which the simulator keeps for clients but
    /// does not act on.
    #[serde(default, with = "crate::serde_pairs")]
    pub objects: BTreeMap<ObjectKey, StoredObject>,
    pub(crate) nodes: Vec<u32>,
    pub(crate) pod_names: BTreeMap<String, u32>,
    pub(crate) sched: SchedulerState,
    pub(crate) reconcile_scheduled: bool,
    pub(crate) next_zone: u32,
    pub(crate) coredns_hash: String,
}

impl Cluster {
    /// Sum of the requests of one pod of every DaemonSet: what each node gives away
    /// before any workload runs.
    pub fn daemonset_overhead(&self) -> Resources {
        let mut total = Resources::ZERO;
        for ds in &self.daemonsets {
            total += ds.requests;
        }
        total
    }

    pub(crate) fn pod_key(namespace: &str, name: &str) -> String {
        format!("{namespace}/{name}")
    }
}
