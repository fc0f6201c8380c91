//! How an event names a pod: enough to tell its job and role long after it is gone.

use serde::{Deserialize, Serialize};

use super::{PodRole, SharedStr};

/// Identifies a pod in an event, with the EMR facts a reader filters on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    /// EKS cluster.
    pub cluster: SharedStr,
    /// Namespace.
    pub namespace: SharedStr,
    /// Pod name.
    pub name: SharedStr,
    /// EMR component (`controller`, `driver`, `executor`) or `system`.
    pub role: PodRole,
    /// EMR job run id (`emr-containers.amazonaws.com/job.id`), for job pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<SharedStr>,
    /// Spark executor id (`spark-exec-id`), for executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<u32>,
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
