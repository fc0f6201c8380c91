//! What `runbook plan --target aws` shows under each step: the AWS and Kubernetes
//! operations the step's action would call, with the parameters rendered from its
//! input, computed without calling anything.
//!
//! An action's plan (`Action::planned_calls`, next to its `run`) is the calls of the
//! target operations its `run` uses, in its order: each operation's `planned_` twin
//! (`plan.target.logs.planned_create_log_group(...)`), whose calls the `aws` target
//! builds with the very functions that declare each call as it is sent
//! (`runbook_backend::calls::declared`), with the action's own conditions put before
//! the operation's. Values only known at run time (a cluster's OIDC issuer, the account
//! of the credentials, the step's idempotency key) are shown as `<...>` placeholders,
//! like the step outputs `plan` already shows that way.

use std::sync::Arc;

use runbook_backend::Target;
pub use runbook_backend::calls::{
    ACCOUNT_PLACEHOLDER, PARTITION_PLACEHOLDER, PlannedCall, PlannedCalls, REGION_PLACEHOLDER,
    Service,
};

/// What a step's plan knows besides its input: which step instance it is, for the
/// placeholders of values the run decides, and the target whose operations say what
/// they call.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The step instance: `cluster`, or `virtual_clusters[3]` for a `for_each` instance.
    pub step_key: String,
    /// The target planned for: its operations' `planned_` twins list their calls.
    pub target: Arc<Target>,
}

impl PlanContext {
    pub fn new(step_key: impl Into<String>, target: Arc<Target>) -> Self {
        PlanContext {
            step_key: step_key.into(),
            target,
        }
    }

    /// The step's idempotency key is made when the step starts (and recorded before
    /// any call), so a plan can only name it.
    pub fn idempotency_key(&self) -> String {
        format!("<idempotency key of step {}>", self.step_key)
    }
}

/// Whether a rendered value still holds a run-time placeholder (`<steps.x.outputs.y>`).
/// No AWS or Kubernetes name may contain `<`, so a `<` can only come from one.
pub(crate) fn is_placeholder(text: &str) -> bool {
    text.contains('<')
}
