//! Exit codes (design section 7), for scripts and cron. A command that failed gets
//! its code from its error, in one place (`crate::error`); a run that ended gets the
//! code of its outcome (succeeded, a step failed, interrupted).

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything succeeded.
    Ok = 0,
    /// 1: a step failed (or the state DB could not be used).
    Failed = 1,
    /// 2: the runbook is invalid, or the command line is wrong.
    Usage = 2,
    /// 3: `run --resume-incomplete` found an interrupted run of a runbook file that
    /// changed since; it was not resumed (`--allow-changed` continues it).
    RunbookChanged = 3,
    /// 4: an earlier run's job may still be running; a fresh run would submit it again.
    JobsMayBeRunning = 4,
    /// 5: the named simulated world (`--world`) is held by an earlier run that may
    /// still continue it (running, interrupted or failed).
    WorldInUse = 5,
    /// 75 (EX_TEMPFAIL): another run of the same runbook and params holds the lock.
    Locked = 75,
    /// 130: interrupted by SIGINT/SIGTERM; `runbook resume` continues.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
