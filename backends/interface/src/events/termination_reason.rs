//! Why a pod was deleted.

use serde::{Deserialize, Serialize};

/// Why a pod was deleted. Serialized as the variant name (`Preempted`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminationReason {
    /// Evicted by the scheduler for a higher-priority pod.
    Preempted,
    /// Spark deleted its executors at the end of the application.
    ApplicationFinished,
    /// The job run was cancelled.
    JobCancelled,
    /// The job run failed and EMR cleaned up its pods.
    JobFailed,
    /// The namespace was deleted.
    NamespaceDeleted,
    /// The node the pod ran on was removed.
    NodeRemoved,
    /// The cluster was deleted.
    ClusterDeleted,
}

impl TerminationReason {
    /// The variant name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Preempted => "Preempted",
            TerminationReason::ApplicationFinished => "ApplicationFinished",
            TerminationReason::JobCancelled => "JobCancelled",
            TerminationReason::JobFailed => "JobFailed",
            TerminationReason::NamespaceDeleted => "NamespaceDeleted",
            TerminationReason::NodeRemoved => "NodeRemoved",
            TerminationReason::ClusterDeleted => "ClusterDeleted",
        }
    }

    /// Whether Spark lost an executor it still needed when its pod went this way
    /// (as opposed to the application or the job ending).
    pub fn loses_executor(self) -> bool {
        matches!(
            self,
            TerminationReason::Preempted | TerminationReason::NodeRemoved
        )
    }
}

impl std::fmt::Display for TerminationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
