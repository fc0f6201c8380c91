//! SIGINT/SIGTERM: the first one stops launching steps, lets cloud calls in flight
//! return and marks the run `interrupted` (exit 130); a second one exits at once, but
//! not before the state DB says `interrupted` and the programs of `exec` steps are
//! ended (an impatient second Ctrl-C must not leave a run that looks `running`, nor
//! orphans that keep working).

use std::sync::{Arc, Mutex, PoisonError};

use runbook_state::{RunStatus, StateError, Store};
use tokio::sync::watch;

use crate::progress::Reporter;

/// The run a second signal records as interrupted before the process exits.
pub struct RunToRecord {
    pub store: Arc<Mutex<Store>>,
    pub run_id: String,
    pub lock_key: String,
}

impl RunToRecord {
    /// What the end of a run records for an interruption: status `interrupted` (no
    /// finish time: it is resumable) and the lock's holder row removed (the `flock`
    /// itself ends with the process). Waits for a step that is
    /// writing its checkpoint (the store's lock), so that write is not torn either.
    fn record_interrupted(&self) -> Result<(), StateError> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.set_run_status(&self.run_id, RunStatus::Interrupted, None, None)?;
        store.forget_lock_holder(&self.lock_key, &self.run_id)
    }
}

/// Starts listening; the returned receiver turns `true` on the first signal.
pub fn install(
    reporter: Arc<dyn Reporter>,
    run: RunToRecord,
) -> std::io::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(false);
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            count += 1;
            if count == 1 {
                reporter.notice(&format!(
                    "{name}: stopping; steps in flight finish or are left to resume (send again to exit now)"
                ));
                let _ = tx.send(true);
            } else {
                // "Now" for the programs too: no grace period.
                runbook_actions::process_group::end_all(false);
                let recorded = run.record_interrupted();
                match recorded {
                    Ok(()) => reporter.notice(&format!(
                        "{name} again: exiting now; the run is recorded as interrupted and `runbook resume {}` continues it",
                        run.run_id
                    )),
                    Err(e) => reporter.notice(&format!(
                        "{name} again: exiting now, but recording the run as interrupted failed ({e}); `runbook resume {}` continues it",
                        run.run_id
                    )),
                }
                std::process::exit(130);
            }
        }
    });
    Ok(rx)
}
