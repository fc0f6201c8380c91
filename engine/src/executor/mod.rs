//! Executing a runbook: the scheduler that runs ready steps (file order, or the DAG
//! that `needs` makes) concurrently, and the step runner that checkpoints every attempt.

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
    /// The latest attempt of each step key recorded before this invocation (resume).
    pub prior: BTreeMap<String, StepRecord>,
    /// Resuming a run that failed: its `finally` steps already ran for that failure
    /// and run again (as new attempts) after this invocation's steps.
    pub rerun_finally: bool,
}

impl Execution {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // Every store call is one transaction: a panic elsewhere leaves no half-state.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
