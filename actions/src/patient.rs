//! Reads made inside a wait loop outlast transient errors.
//!
//! A step that waits for minutes polls the same read many times. One throttled or 5xx
//! answer, a reset connection, or DNS that lags just after a cluster turns ACTIVE must
//! not end a 15-minute wait. The SDKs (and kube-rs) already repeat a failed call a few
//! times within seconds; a wait keeps trying, with backoff, until its own deadline, and
//! only then reports the last error with how long it kept failing.

use std::future::Future;
use std::time::Duration;

use crate::context::StepContext;
use runbook_backend::duration::Humane;
use runbook_backend::{ActionError, ErrorClass};

/// The first pause after a transient failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// `call`, repeated while it fails with an error that may go away by itself (throttling,
/// a 5xx, no answer: [`ErrorClass::Uncertain`]) and the step's `deadline_ms` leaves
/// room for a pause; any other error, or success, is returned at once. Each retry
/// shows in the step's live status.
pub(crate) async fn read<T, Fut>(
    ctx: &StepContext,
    deadline_ms: i64,
    mut call: impl FnMut() -> Fut,
) -> Result<T, ActionError>
where
    Fut: Future<Output = Result<T, ActionError>>,
{
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u32;
    let first_failure_ms = ctx.clock.now_ms();
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) if is_transient(&error) => error,
            Err(error) => return Err(error),
        };
        failures += 1;
        let pause_ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
        if ctx.clock.now_ms().saturating_add(pause_ms) >= deadline_ms {
            return Err(gave_up(
                error,
                failures,
                ctx.clock.now_ms() - first_failure_ms,
            ));
        }
        ctx.progress(&format!("{error}; trying again in {}", Humane(pause)));
        ctx.sleep(pause).await?;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Errors a later try may not meet: a service's throttling, 5xx or missing answer.
/// The engine's own uncertain outcomes (a step timeout, an interruption) are not.
fn is_transient(error: &ActionError) -> bool {
    matches!(error, ActionError::Service { .. }) && error.class() == ErrorClass::Uncertain
}

/// The last error, its message extended by how long the failures went on (when there
/// was more than one), so the reader knows it was not a single blip.
fn gave_up(error: ActionError, failures: u32, over_ms: i64) -> ActionError {
    if failures < 2 {
        return error;
    }
    let over = Humane(Duration::from_millis(u64::try_from(over_ms).unwrap_or(0)));
    error.with_note(&format!(
        "failed {failures} times over {over}; transient errors are retried until the step's timeout"
    ))
}
