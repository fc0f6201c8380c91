//! The run lock from the command line's side: one process runs (or resumes, or
//! abandons) a run of a runbook and params at a time, and a second one is told who
//! holds it and exits with 75, so cron tries again later.

use runbook_backend::Clock;
use runbook_state::{LockHolder, LockOutcome, LockRequest, RunLock, RunStatus, StateError, Store};

use super::run::host_name;
use crate::timefmt;

/// Why the run lock was not taken (exit 75 either way: another try later may work).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another live process holds it.
    #[error(
        "run {} ({}, started {} UTC) is already running this runbook with these params; exiting with 75 so cron tries again later",
        holder.run_id,
        process_label(&holder.host, holder.pid, this_host),
        timefmt::short(holder.since_ms)
    )]
    Held {
        holder: LockHolder,
        /// This process's host, to say whether the holder is elsewhere.
        this_host: String,
    },
    /// The state DB could not be asked.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Takes the run lock of `lock_key` for `run_id`, or says who holds it.
pub(super) fn take_lock(
    store: &mut Store,
    lock_key: &str,
    run_id: &str,
) -> Result<RunLock, LockError> {
    let host = host_name();
    let request = LockRequest {
        lock_key,
        run_id,
        pid: std::process::id(),
        host: &host,
        now_ms: Clock::Real.now_ms(),
    };
    match store.acquire_lock(&request)? {
        LockOutcome::Acquired {
            lock,
            taken_over_from,
        } => {
            // A run resumed after its own process died takes over its own lock:
            // nothing to say about that.
            if let Some(stale) = taken_over_from.filter(|h| h.run_id != run_id) {
                eprintln!(
                    "note: took over the lock of run {} ({}; its process no longer holds it)",
                    stale.run_id,
                    process_label(&stale.host, stale.pid, &host)
                );
                // Its process is gone: it is not running any more, but it can still
                // be resumed.
                if let Ok(Some(old)) = store.run(&stale.run_id)
                    && old.status == RunStatus::Running
                {
                    let _ = store.set_run_status(
                        &old.id,
                        RunStatus::Interrupted,
                        None,
                        Some("its process died"),
                    );
                }
            }
            Ok(lock)
        }
        LockOutcome::Held(holder) => Err(LockError::Held {
            holder,
            this_host: host,
        }),
    }
}

/// `pid 123` on this host, `pid 123 on host build-2` on another.
fn process_label(holder_host: &str, pid: u32, this_host: &str) -> String {
    if holder_host.is_empty() || holder_host == this_host {
        format!("pid {pid}")
    } else {
        format!("pid {pid} on host {holder_host}")
    }
}
