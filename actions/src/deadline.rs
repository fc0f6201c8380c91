//! A time budget for the waits of one step, on the target's clock (virtual on `sim`).

use std::time::Duration;

use crate::context::StepContext;
use runbook_backend::ActionError;
use runbook_backend::WaitOutcome;
use runbook_backend::duration::Humane;

/// One time budget shared by the waits of a step, on the target's clock.
pub(crate) struct Deadline {
    at_ms: i64,
    budget: Duration,
}

impl Deadline {
    /// The budget from the attempt's first start (see [`StepContext::started_at_ms`]).
    pub(crate) fn start(ctx: &StepContext, budget: Duration) -> Deadline {
        Deadline {
            at_ms: ctx.deadline_ms(budget),
            budget,
        }
    }

    /// When the budget runs out, on the target's clock.
    pub(crate) fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// Waits for the world to change within what is left of the budget; when the
    /// budget is spent, fails with `stuck()` (which says what we were waiting for).
    pub(crate) async fn wait(
        &self,
        ctx: &StepContext,
        stuck: impl Fn() -> String,
    ) -> Result<WaitOutcome, ActionError> {
        let left = self.at_ms.saturating_sub(ctx.clock.now_ms());
        let timed_out =
            || ActionError::Failed(format!("{} after {}", stuck(), Humane(self.budget)));
        if left <= 0 {
            return Err(timed_out());
        }
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        match ctx.wait_for_change(Some(left)).await? {
            WaitOutcome::TimedOut => Err(timed_out()),
            outcome => Ok(outcome),
        }
    }
}
