//! What a running step gets from the engine.

use std::sync::Arc;

use tokio::sync::watch;

use runbook_backend::{Clock, Participant, Target, WaitOutcome};

/// Receives what actions say while they run (`log` messages, `exec` output lines).
pub trait StepReporter: Send + Sync {
    fn message(&self, step_key: &str, text: &str);
    /// A short, changing status of a step that takes time ("executors 1/2 running,
    /// 1 preempted"), shown next to its spinner on a terminal.
    fn progress(&self, _step_key: &str, _text: &str) {}
    /// Whether live status is shown at all (a terminal), so actions skip the queries
    /// that only feed it.
    fn wants_progress(&self) -> bool {
        false
    }
}

/// Tells actions that the run is being interrupted, so long waits return promptly
/// while cloud calls in flight are allowed to finish.
#[derive(Clone, Debug)]
pub struct CancelSignal(watch::Receiver<bool>);

impl CancelSignal {
    pub fn new(rx: watch::Receiver<bool>) -> Self {
        CancelSignal(rx)
    }

    /// A signal that never fires (tests, `plan`).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        CancelSignal(rx)
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when the run is interrupted.
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        // An error means the sender is gone: nobody can interrupt any more.
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Everything a step's action may use.
pub struct StepContext {
    pub run_id: String,
    /// `low_job` or, for a `for_each` instance, `buckets[2]`.
    pub step_key: String,
    pub attempt: u32,
    /// The key the action passes to the cloud (`clientToken`, `clientRequestToken`);
    /// the same on resume of an interrupted attempt, new on a retry after failure.
    pub idempotency_key: String,
    /// True when the idempotency key may have been used before: the attempt was
    /// running when the run stopped and is re-entered, or it retries a call that may
    /// have taken effect (a timeout, a lost connection). Create actions look for what
    /// they would create before creating it either way.
    pub resumed: bool,
    /// When this attempt first started, on the run's clock (virtual on `sim`), ms. Kept
    /// when the attempt is re-entered by `resume`, so sleeps and waits end at their
    /// original deadline instead of starting over.
    pub started_at_ms: i64,
    /// Where the action takes effect (`ctx.target.kind` is `sim` or `aws`).
    pub target: Arc<Target>,
    pub clock: Clock,
    /// This step's place in the target's time (virtual on `sim`).
    pub participant: std::sync::Arc<Participant>,
    /// The step's `with` before rendering, for messages that quote the author.
    pub raw_input: serde_json::Value,
    pub reporter: Arc<dyn StepReporter>,
    pub cancel: CancelSignal,
}

impl StepContext {
    /// Says something on the run's output, attributed to this step.
    pub fn say(&self, text: &str) {
        self.reporter.message(&self.step_key, text);
    }

    /// Whether [`StepContext::progress`] is shown anywhere.
    pub fn wants_progress(&self) -> bool {
        self.reporter.wants_progress()
    }

    /// Updates this step's live status (see [`StepReporter::progress`]).
    pub fn progress(&self, text: &str) {
        self.reporter.progress(&self.step_key, text);
    }

    /// Waits until the target may have changed (the simulated world moved on; a
    /// Kubernetes watch saw an event), `timeout` passed, or nothing can change any
    /// more; returns early with [`runbook_backend::ActionError::Interrupted`] on interruption.
    pub async fn wait_for_change(
        &self,
        timeout: Option<std::time::Duration>,
    ) -> Result<WaitOutcome, runbook_backend::ActionError> {
        tokio::select! {
            outcome = self.target.observer.wait_for_change(&self.clock, &self.participant, timeout) => Ok(outcome),
            () = self.cancel.cancelled() => Err(runbook_backend::ActionError::Interrupted),
        }
    }

    /// The deadline `budget` after this attempt first started, on the run's clock.
    pub fn deadline_ms(&self, budget: std::time::Duration) -> i64 {
        let budget_ms = i64::try_from(budget.as_millis()).unwrap_or(i64::MAX);
        self.started_at_ms.saturating_add(budget_ms)
    }

    /// How long until `deadline_ms` on the run's clock (zero once it has passed).
    pub fn until(&self, deadline_ms: i64) -> std::time::Duration {
        let left = deadline_ms.saturating_sub(self.clock.now_ms());
        std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0))
    }

    /// Sleeps on the target's clock (virtual time on `sim`), returning early with
    /// [`runbook_backend::ActionError::Interrupted`] if the run is interrupted.
    pub async fn sleep(
        &self,
        duration: std::time::Duration,
    ) -> Result<(), runbook_backend::ActionError> {
        tokio::select! {
            () = self.clock.sleep(&self.participant, duration) => Ok(()),
            () = self.cancel.cancelled() => Err(runbook_backend::ActionError::Interrupted),
        }
    }
}
