//! The state of an EMR job run, as EMR spells it.

use serde::{Deserialize, Serialize};

/// `JobRun.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted by EMR, not yet submitted to the cluster.
    Pending,
    /// The job-runner pod was created; waiting for the driver to run.
    Submitted,
    /// The Spark driver is running.
    Running,
    /// Cancellation requested; pods are being deleted.
    CancelPending,
    /// Finished successfully.
    Completed,
    /// Failed (see `failure_reason` and `state_details`).
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobState {
    /// COMPLETED, FAILED or CANCELLED.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }

    /// The EMR API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Submitted => "SUBMITTED",
            JobState::Running => "RUNNING",
            JobState::CancelPending => "CANCEL_PENDING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
