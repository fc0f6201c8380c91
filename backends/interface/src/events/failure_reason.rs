//! Why EMR says a job run failed.

use serde::{Deserialize, Serialize};

/// `JobRun.failureReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    /// A failure inside EMR.
    InternalError,
    /// The application failed (e.g. the driver was lost).
    UserError,
    /// The request was invalid.
    ValidationError,
    /// The EKS cluster was not available.
    ClusterUnavailable,
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureReason::InternalError => "INTERNAL_ERROR",
            FailureReason::UserError => "USER_ERROR",
            FailureReason::ValidationError => "VALIDATION_ERROR",
            FailureReason::ClusterUnavailable => "CLUSTER_UNAVAILABLE",
        })
    }
}
