//! The command line's error: why a command could not do its job. Each layer has its
//! own error type (the loader's diagnostics, `ParamError`, `StateError`, the lock,
//! the lifecycle's refusals, ...); this one wraps them, and is the one place that
//! turns an error into its message on stderr and its exit code (README, "Exit codes").
//!
//! A command that did its job returns its exit code instead: a run whose step failed
//! (1) or that was interrupted (130) ended as a run, and said so as it went.

use std::path::PathBuf;

use runbook_state::StateError;

use crate::cli::{LockError, VarError};
use crate::exit::Exit;
use crate::lifecycle::Refusal;
use crate::params::ParamError;
use crate::report::ReportError;
use crate::runbook::LoadError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The runbook does not load: its diagnostics, each with its own `error:` line.
    #[error("{0}")]
    Runbook(#[from] LoadError),
    /// `validate`: the runbooks that do not load, each with its diagnostics and count.
    #[error("{}", invalid_runbooks(.0))]
    InvalidRunbooks(Vec<LoadError>),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Vars(#[from] VarError),
    /// A command-line value the command cannot use (clap checked its shape).
    #[error("{0}")]
    BadArgument(String),
    #[error("unknown action `{name}`{}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownAction { name: String, help: Option<String> },
    /// `resume RUN`: no such run in the state DB.
    #[error("no run `{id}` in {}; `runbook runs` lists them", state.display())]
    NoSuchRunIn { id: String, state: PathBuf },
    /// `abandon RUN`: no such run.
    #[error("no run `{0}`; `runbook runs` lists them")]
    NoSuchRun(String),
    /// `status [RUN]`: no such run, or no run at all.
    #[error("no such run; `runbook runs` lists them")]
    NoRunToShow,
    /// `report` without a run, on an empty state DB.
    #[error("there are no runs in the state DB yet")]
    NoRuns,
    #[error("there is no incomplete run to resume")]
    NothingToResume,
    #[error("run {id} was abandoned ({reason}); it is never resumed. Start a new run instead")]
    ResumeAbandoned { id: String, reason: String },
    /// `resume` of a run whose runbook file changed, without `--allow-changed`.
    #[error(
        "{path} changed since run {id} started; resuming could mix two versions of the runbook.\n  = help: use `runbook resume {id} --allow-changed` if the change is safe, or start a new run"
    )]
    ResumeChanged { path: String, id: String },
    #[error("run {0} succeeded; there is nothing to abandon")]
    AbandonSucceeded(String),
    /// `worlds --delete NAME`: no such world.
    #[error("no world `{0}`; `runbook worlds` lists them")]
    NoSuchWorld(String),
    /// `worlds --delete NAME` of a world that a run may still continue.
    #[error(
        "world `{world}` is held by run {holder} ({runbook}: {status}), which may still continue it, so it was not deleted (exit 5).\n  = help: `runbook resume {holder}` or `runbook abandon {holder}` first"
    )]
    WorldNotDeleted {
        world: String,
        holder: String,
        runbook: String,
        status: runbook_state::RunStatus,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Locked(#[from] LockError),
    /// `abandon` of a run whose lock another process holds (or that cannot be told).
    #[error(transparent)]
    LockedAgainstAbandon(LockError),
    #[error(transparent)]
    State(#[from] StateError),
    /// The backend could not be set up (to look for an earlier run's jobs).
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The backend of a run could not be set up, so none of its steps ran.
    #[error("run {run_id}: {source}")]
    RunNotStarted {
        run_id: String,
        source: BackendError,
    },
    /// `abandon --cancel-jobs` could not reach the run's backend.
    #[error("run {run_id} was not abandoned: {source}")]
    NotAbandoned {
        run_id: String,
        source: BackendError,
    },
    #[error("failed to open the log file {}: {source}", path.display())]
    LogFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to open the call record {}: {source}", path.display())]
    CallsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to serve the simulated world (kubeconfig {}): {source}", path.display())]
    Serve {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to write the report to {}: {source}", path.display())]
    ReportNotWritten {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Something runbook itself got wrong.
    #[error("internal error (a bug in runbook): {0}")]
    Bug(String),
}

/// Why a run's backend (where its actions take effect) could not be set up: each
/// variant carries the backend's own error type.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    /// AWS could not be reached: no region, no or bad credentials, STS refused.
    #[error(transparent)]
    AwsConnect(#[from] runbook_backend_aws::ConnectError),
    /// The run's simulated world could not be restored from its snapshot.
    #[error(transparent)]
    SimRestore(#[from] runbook_backend_sim::RestoreError),
}

impl Error {
    /// The exit code of a command that failed this way (README, "Exit codes").
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Error::Runbook(_)
            | Error::InvalidRunbooks(_)
            | Error::Params(_)
            | Error::Vars(_)
            | Error::UnknownAction { .. }
            | Error::BadArgument(_)
            | Error::NoSuchRunIn { .. }
            | Error::NoSuchRun(_)
            | Error::NoRunToShow
            | Error::NoRuns
            | Error::NothingToResume
            | Error::ResumeAbandoned { .. }
            | Error::ResumeChanged { .. }
            | Error::AbandonSucceeded(_)
            | Error::NoSuchWorld(_)
            | Error::Report(ReportError::NoSuchRun(_)) => Exit::Usage,
            Error::Refused(Refusal::RunbookChanged { .. }) => Exit::RunbookChanged,
            Error::Refused(Refusal::JobsMayBeRunning { .. }) => Exit::JobsMayBeRunning,
            Error::Refused(Refusal::WorldInUse { .. }) | Error::WorldNotDeleted { .. } => {
                Exit::WorldInUse
            }
            Error::Locked(_) | Error::LockedAgainstAbandon(_) => Exit::Locked,
            Error::Report(_)
            | Error::State(_)
            | Error::Backend(_)
            | Error::RunNotStarted { .. }
            | Error::NotAbandoned { .. }
            | Error::LogFile { .. }
            | Error::CallsFile { .. }
            | Error::ReportNotWritten { .. }
            | Error::Serve { .. }
            | Error::Runtime(_)
            | Error::Bug(_) => Exit::Failed,
        }
    }

    /// What to do about it, on a line of its own after the error.
    fn hint(&self) -> Option<&'static str> {
        match self {
            Error::LockedAgainstAbandon(_) => Some(
                "stop that process first (SIGTERM lets it record the interruption), then abandon the run",
            ),
            _ => None,
        }
    }

    /// The whole text on stderr: `error: ...` (diagnostics of a runbook render their
    /// own `error:` lines), and a hint if there is one.
    pub(crate) fn render(&self) -> String {
        let mut text = match self {
            Error::Runbook(_) | Error::InvalidRunbooks(_) => self.to_string(),
            _ => format!("error: {self}\n"),
        };
        if let Some(hint) = self.hint() {
            text.push_str(&format!("hint: {hint}\n"));
        }
        text
    }
}

/// Prints a command's error to stderr and gives its exit code.
pub(crate) fn report(error: &Error) -> Exit {
    eprint!("{}", error.render());
    error.exit()
}

/// Each runbook's diagnostics, then how many there are in it.
fn invalid_runbooks(errors: &[LoadError]) -> String {
    let mut text = String::new();
    for e in errors {
        let count = e.all().len();
        text.push_str(&format!(
            "{e}{}: {count} error{}\n\n",
            e.file,
            if count == 1 { "" } else { "s" }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_state_errors_1_and_refusals_their_own_codes() {
        assert_eq!(Error::NothingToResume.exit(), Exit::Usage);
        assert_eq!(
            Error::Report(ReportError::NoSuchRun("x".into())).exit(),
            Exit::Usage
        );
        assert_eq!(
            Error::Refused(Refusal::RunbookChanged {
                id: "r".into(),
                path: "p.yaml".into()
            })
            .exit(),
            Exit::RunbookChanged
        );
        assert_eq!(
            Error::Refused(Refusal::JobsMayBeRunning { live: Vec::new() }).exit(),
            Exit::JobsMayBeRunning
        );
        assert_eq!(
            Error::Refused(Refusal::WorldInUse {
                world: "w".into(),
                holder: "r".into(),
                runbook: "demo".into(),
                status: runbook_state::RunStatus::Failed,
            })
            .exit(),
            Exit::WorldInUse
        );
        assert_eq!(Error::NoSuchWorld("w".into()).exit(), Exit::Usage);
        assert_eq!(
            Error::Backend(BackendError::AwsConnect(
                runbook_backend_aws::ConnectError::NoRegion
            ))
            .exit(),
            Exit::Failed
        );
    }

    /// The exit-4 refusal names every job, then how to go on with each run.
    #[test]
    fn jobs_that_may_be_running_are_listed_with_the_runs_to_resume_or_abandon() {
        use crate::inflight_jobs::{JobRef, LiveJob, SubmittedJob};
        let job = |run: &str, step: &str, job: Option<JobRef>| LiveJob {
            submitted: SubmittedJob {
                run_id: run.into(),
                step_key: step.into(),
                client_token: "rb-1".into(),
                job,
            },
            state: "RUNNING".into(),
        };
        let refused = Error::Refused(Refusal::JobsMayBeRunning {
            live: vec![
                job(
                    "r2",
                    "low",
                    Some(JobRef {
                        job_id: "j1".into(),
                        virtual_cluster_id: "vc".into(),
                    }),
                ),
                job("r1", "high", None),
            ],
        });
        assert_eq!(
            refused.render(),
            "error: an earlier run of this runbook and params submitted jobs that may still be running; a new run would submit them again, so it was not started (exit 4):\n  - job run j1 (virtual cluster vc) of step low in run r2: RUNNING\n  - step high in run r1 may have submitted a job (tagged runbook:client-token=rb-1): RUNNING\n  = help: continue it with `runbook resume r1`, or retire it with `runbook abandon r1 r2 --cancel-jobs` (or without --cancel-jobs to leave its jobs running); the next run then starts\n"
        );
    }

    #[test]
    fn errors_print_as_one_error_line_and_a_hint_when_there_is_one() {
        assert_eq!(
            Error::NothingToResume.render(),
            "error: there is no incomplete run to resume\n"
        );
        let abandon = Error::LockedAgainstAbandon(LockError::Held {
            holder: runbook_state::LockHolder {
                run_id: "r1".into(),
                pid: 7,
                host: String::new(),
                since_ms: 0,
            },
            this_host: "h".into(),
        });
        assert_eq!(abandon.exit(), Exit::Locked);
        assert_eq!(
            abandon.render(),
            "error: run r1 (pid 7, started 1970-01-01 00:00:00 UTC) is already running this runbook with these params; exiting with 75 so cron tries again later\nhint: stop that process first (SIGTERM lets it record the interruption), then abandon the run\n"
        );
    }
}
