//! Executing a runbook: the scheduler that runs ready steps (file order, or the DAG
//! that `needs` makes) concurrently, and the step runner that checkpoints every attempt.

mod included;
mod input_check;
mod scheduler;
mod scope;
mod step_error;
mod step_runner;
mod target_record;

pub use scheduler::{Outcome, execute};
pub use scope::{RunScope, StepView};
pub(crate) use target_record::{observed_events, target_record};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use runbook_actions::CancelSignal;
use runbook_backend::{Clock, Target};
use runbook_state::{StepRecord, Store};

use crate::masker::Masker;
use crate::pace::Pace;
use crate::params::ParamOrigin;
use crate::progress::Reporter;
use crate::runbook::LoadedRunbook;

/// Everything a run needs while it executes.
pub struct Execution {
    pub run_id: String,
    pub runbook: Arc<LoadedRunbook>,
    pub masker: Masker,
    /// Where each parameter's value came from, for a step input that does not fit.
    pub param_origins: BTreeMap<String, ParamOrigin>,
    pub scope: RunScope,
    /// Where actions take effect, and what it observed.
    pub target: Arc<Target>,
    pub clock: Clock,
    pub store: Arc<Mutex<Store>>,
    pub reporter: Arc<dyn Reporter>,
    pub cancel: CancelSignal,
    /// The presenter's pace (`--fast-until`, `--pause-before`): one for the run,
    /// shared with the runbooks it includes, whose steps it may name.
    pub pace: Arc<Pace>,
    /// The latest attempt of each step key recorded before this invocation (resume);
    /// shared with the runbooks the run includes, whose keys it also holds.
    pub prior: Arc<BTreeMap<String, StepRecord>>,
    /// Resuming a run that failed: its `finally` steps already ran for that failure
    /// and run again (as new attempts) after this invocation's steps.
    pub rerun_finally: bool,
    /// What this runbook's step keys start with: empty for the run's own runbook,
    /// `platform/` inside the runbook that step `platform` includes.
    pub key_prefix: String,
    /// The step that failed inside each `runbook` step that failed (by the runbook
    /// step's key), and its error: the run's failure names the innermost step.
    pub failed_inside: FailedInside,
}

/// See [`Execution::failed_inside`]; one for the run, shared by the runbooks it
/// includes.
pub type FailedInside = Arc<Mutex<BTreeMap<String, (String, String)>>>;

impl Execution {
    /// The key a step (or an instance of it, `roles[2]`) is recorded under.
    pub(crate) fn key(&self, local: &str) -> String {
        format!("{}{local}", self.key_prefix)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // Every store call is one transaction: a panic elsewhere leaves no half-state.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
