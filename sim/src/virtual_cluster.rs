//! EMR on EKS virtual clusters: a registration of one namespace of one EKS cluster.

use serde::{Deserialize, Serialize};

/// `VirtualCluster.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VirtualClusterState {
    /// Accepting jobs.
    Running,
    /// Deleted.
    Terminated,
    /// The EKS cluster behind it is gone or unreachable.
    Arrested,
}

impl std::fmt::Display for VirtualClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VirtualClusterState::Running => "RUNNING",
            VirtualClusterState::Terminated => "TERMINATED",
            VirtualClusterState::Arrested => "ARRESTED",
        })
    }
}

/// An EMR virtual cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualCluster {
    /// 25-character id.
    pub id: String,
    /// Name (not unique in EMR).
    pub name: String,
    /// `arn:aws:emr-containers:<region>:<account>:/virtualclusters/<id>`.
    pub arn: String,
    /// EKS cluster (`containerProvider.id`).
    pub cluster: String,
    /// Namespace (`containerProvider.info.eksInfo.namespace`).
    pub namespace: String,
    /// State.
    pub state: VirtualClusterState,
    /// Creation time.
    pub created_at_ms: u64,
}
