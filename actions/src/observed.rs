//! What the target's watches recorded, as the assertions judge it, with why the record
//! may be incomplete.
//!
//! On `aws` the record comes from Kubernetes watches. A watch that is refused (401,
//! 403) or cut keeps retrying and records nothing meanwhile, so a preemption it missed
//! would read as "no executor was preempted". A failed judgment therefore names the
//! failing watches: the reader learns that the record, not the cluster, is the problem.

use crate::context::StepContext;
use runbook_backend::{ActionError, ObservedEvent};

/// The record of what happened, once it has caught up with the target.
pub(crate) struct Observed {
    pub(crate) events: Vec<ObservedEvent>,
    /// The watches failing now, each `cluster: pods watch: error`.
    failing: Vec<String>,
}

impl Observed {
    /// The record as it stands once the watches have caught up (see
    /// [`runbook_backend::Observer::settle`]).
    pub(crate) async fn now(ctx: &StepContext) -> Observed {
        ctx.target.observer.settle().await;
        Observed {
            events: ctx.target.observer.events(),
            failing: ctx.target.observer.watch_errors(),
        }
    }

    /// `judgment`, with a failure extended by the watches that are failing.
    pub(crate) fn explained<T>(&self, judgment: Result<T, ActionError>) -> Result<T, ActionError> {
        match judgment {
            Err(ActionError::Failed(why)) if !self.failing.is_empty() => {
                Err(ActionError::Failed(format!(
                    "{why}; but the Kubernetes watches are failing, so what happened may not have been seen ({})",
                    self.failing.join("; ")
                )))
            }
            other => other,
        }
    }
}
