//! What `runbook run` does with the runs of the same runbook and params that came
//! before it: the run lifecycle that makes cron operation safe to leave alone.
//!
//! - An **interrupted** run (SIGINT/SIGTERM, `kill -9`, a crash, a dead lock holder:
//!   status `interrupted`, or `running` with nobody holding its lock) is continued by
//!   `run --resume-incomplete`, the cron mode.
//! - A **failed** run is left for a person (`runbook status`, `resume`, `abandon`): the
//!   next scheduled run starts fresh and names it in its first log line, so one bad
//!   night never blocks the following ones.
//! - An **abandoned** run (`runbook abandon`) is never resumed.
//! - Runs older than the latest **succeeded** run are superseded by it and never
//!   resumed automatically.
//! - An interrupted run whose runbook file changed is not resumed silently: exit 3,
//!   unless `--allow-changed` says to continue it with the new file.
//!
//! Where starting fresh could submit a job a second time (an earlier run's job may
//! still be running on `aws`), `run` refuses with exit 4 (see `cli::run`); where it
//! would take a named simulated world from a run that may still continue it, exit 5.

use std::collections::BTreeSet;
use std::fmt;

use runbook_state::{RunRecord, RunStatus};

use crate::inflight_jobs::LiveJob;
use crate::runbook::LoadedRunbook;

/// What the command line asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    /// `--resume-incomplete`: continue an interrupted run instead of starting anew.
    pub resume_incomplete: bool,
    /// `--allow-changed`: continue it even if the runbook file changed.
    pub allow_changed: bool,
}

/// The decision.
#[derive(Debug)]
pub enum Decision<'a> {
    /// Continue this interrupted run.
    Resume(&'a RunRecord),
    /// Start a new run; the notes go first in its log.
    Fresh { notes: Vec<String> },
    /// Do nothing, saying why.
    Refuse(Refusal),
}

/// Why `run` started nothing although nothing is broken: going on could do harm, and
/// a person decides (each has its own exit code, for scripts).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// `--resume-incomplete` found an interrupted run whose runbook file changed
    /// since it started (exit 3).
    #[error(
        "run {id} of {path} was interrupted, and {path} changed since it started, so it was not resumed (exit 3).\n  = help: to continue it with the new version, add --allow-changed (or `runbook resume {id} --allow-changed`); to drop it, `runbook abandon {id}`, and the next run starts fresh"
    )]
    RunbookChanged { id: String, path: String },
    /// An earlier run submitted jobs that may still be running on `aws`; a fresh run
    /// would submit them again (exit 4).
    #[error("{}", JobsMayBeRunning(.live))]
    JobsMayBeRunning { live: Vec<LiveJob> },
    /// `--world NAME` names a simulated world that an earlier run still holds: it is
    /// neither succeeded nor abandoned, so it may still continue the world from its
    /// own state, and a second run would fork it (exit 5).
    #[error("{}", WorldInUse { world, holder, runbook, status: *status })]
    WorldInUse {
        world: String,
        holder: String,
        runbook: String,
        status: RunStatus,
    },
}

/// The words of [`Refusal::WorldInUse`]: who holds the world, then how to go on.
struct WorldInUse<'a> {
    world: &'a str,
    holder: &'a str,
    runbook: &'a str,
    status: RunStatus,
}

impl fmt::Display for WorldInUse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WorldInUse {
            world,
            holder,
            runbook,
            status,
        } = self;
        let state = match status {
            RunStatus::Running => "running, or its process was killed",
            RunStatus::Failed => "failed",
            _ => "interrupted",
        };
        write!(
            f,
            "world `{world}` is held by run {holder} ({runbook}: {state}), which may still continue it; a second run would fork the world, so no new run was started (exit 5).\n  = help: "
        )?;
        if *status == RunStatus::Running {
            write!(f, "if it is still running, wait for it to end; otherwise ")?;
        }
        write!(
            f,
            "continue it with `runbook resume {holder}`, or retire it with `runbook abandon {holder}` (the world keeps what it made); then run again"
        )
    }
}

/// The words of [`Refusal::JobsMayBeRunning`]: each job, then how to go on.
struct JobsMayBeRunning<'a>(&'a [LiveJob]);

impl fmt::Display for JobsMayBeRunning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "an earlier run of this runbook and params submitted jobs that may still be running; a new run would submit them again, so it was not started (exit 4):"
        )?;
        for job in self.0 {
            writeln!(f, "  - {job}")?;
        }
        let runs: BTreeSet<&str> = self.0.iter().map(|j| j.submitted.run_id.as_str()).collect();
        let runs: Vec<&str> = runs.into_iter().collect();
        write!(
            f,
            "  = help: continue it with `runbook resume {}`, or retire it with `runbook abandon {} --cancel-jobs` (or without --cancel-jobs to leave its jobs running); the next run then starts",
            runs.first().copied().unwrap_or_default(),
            runs.join(" ")
        )
    }
}

/// Decides from `history`: the runs of the same runbook and params since their latest
/// success, newest first (`Store::runs_since_last_success`). Only the newest counts:
/// any older one was followed by a newer run and is superseded by it.
pub fn decide<'a>(history: &'a [RunRecord], loaded: &LoadedRunbook, ask: Ask) -> Decision<'a> {
    let Some(newest) = history.first() else {
        return Decision::Fresh { notes: Vec::new() };
    };
    let id = &newest.id;
    match newest.status {
        RunStatus::Interrupted | RunStatus::Running if ask.resume_incomplete => {
            if newest.content_hash != loaded.content_hash && !ask.allow_changed {
                return Decision::Refuse(Refusal::RunbookChanged {
                    id: id.clone(),
                    path: loaded.display_path.clone(),
                });
            }
            Decision::Resume(newest)
        }
        RunStatus::Interrupted | RunStatus::Running => Decision::Fresh {
            notes: vec![format!(
                "run {id} of this runbook was interrupted and is left as it is (`runbook resume {id}` continues it); starting a new run"
            )],
        },
        RunStatus::Failed => Decision::Fresh {
            notes: vec![format!(
                "the previous run {id} failed and is left for a person (`runbook status {id}`): {}; starting a new run",
                newest.error.as_deref().unwrap_or("no error recorded")
            )],
        },
        RunStatus::Abandoned => Decision::Fresh {
            notes: vec![format!(
                "the previous run {id} was abandoned; starting a new run"
            )],
        },
        RunStatus::Succeeded => Decision::Fresh { notes: Vec::new() },
    }
}
