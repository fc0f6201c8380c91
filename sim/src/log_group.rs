//! CloudWatch Logs log groups (where EMR sends driver and executor logs).

use serde::{Deserialize, Serialize};

/// A CloudWatch Logs log group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGroup {
    /// Log group name, e.g. `/emr-on-eks/eks-emr-cluster/monthly-batch`.
    pub name: String,
    /// `arn:aws:logs:<region>:<account>:log-group:<name>`.
    pub arn: String,
    /// Retention in days, if set.
    pub retention_days: Option<u32>,
    /// Creation time.
    pub created_at_ms: u64,
}
