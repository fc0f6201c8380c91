//! How an action fails.

/// The ways a step's action can fail. The engine adds the step and action names.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action ran and the outcome was a failure the user should read.
    #[error("{0}")]
    Failed(String),
    /// The rendered input does not match the action's input struct.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The action cannot run on this target, and says why.
    #[error("`{action}` cannot run on the {target} target: {reason}")]
    Unsupported {
        action: &'static str,
        target: &'static str,
        reason: String,
    },
    /// A cloud (or simulated cloud) call failed: which service, operation and resource,
    /// and the service's own error code.
    #[error("{service} {operation} of `{resource}` failed: {code}: {message}")]
    Service {
        service: &'static str,
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    /// The run is being interrupted (SIGINT/SIGTERM): the step stays `running` and is
    /// re-entered by `runbook resume`.
    #[error("interrupted")]
    Interrupted,
    /// A bug in runbook itself.
    #[error("internal error (a bug in runbook): {0}")]
    Bug(String),
}
