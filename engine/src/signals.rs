//! SIGINT/SIGTERM: the first one stops launching steps, lets cloud calls in flight
//! return and marks the run `interrupted` (exit 130); a second one exits at once.

use std::sync::Arc;

use tokio::sync::watch;

use crate::progress::Reporter;

/// Starts listening; the returned receiver turns `true` on the first signal.
pub fn install(reporter: Arc<dyn Reporter>) -> std::io::Result<watch::Receiver<bool>> {
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
                reporter.notice(&format!(
                    "{name} again: exiting now; `runbook resume` continues the run"
                ));
                std::process::exit(130);
            }
        }
    });
    Ok(rx)
}
