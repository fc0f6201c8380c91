//! The scheduler: launches every step whose dependencies are done, concurrently, and
//! decides how the run ends. Steps without `needs` depend on every earlier step, so a
//! runbook without `needs` runs in file order.

use std::sync::Arc;

use runbook_backend::Participant;
use serde_json::Value;
use tokio::task::JoinSet;

use super::Execution;
use super::scope::StepView;
use super::step_runner::{StepEnd, run_step};
use crate::runbook::StepDef;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded,
    /// The first step that failed (without `continue_on_error`), by its key, and why.
    Failed {
        step: String,
        error: String,
    },
    /// SIGINT/SIGTERM: steps in flight were left to be re-entered on resume.
    Interrupted,
}

/// Runs the run's runbook to its end, and records what the target observed.
pub async fn execute(exec: Arc<Execution>) -> Outcome {
    let scheduler = exec.clock.enter();
    let outcome = run_phases(&exec, &scheduler).await;
    drop(scheduler);
    if let Err(e) = record_target(&exec) {
        exec.reporter.notice(&format!("warning: {e}"));
    }
    outcome
}

/// Runs the main steps, then (unless interrupted) the `finally` steps: the whole of
/// a runbook, the run's own or one a step includes. `scheduler` is the runbook's place
/// in the target's time while it waits for its steps; the caller enters it before it
/// waits for this, so that virtual time cannot move before the first step starts.
pub(super) async fn run_phases(exec: &Arc<Execution>, scheduler: &Participant) -> Outcome {
    let main = run_phase(exec, false, scheduler).await;
    if main == Outcome::Interrupted {
        return main;
    }
    let finally = run_phase(exec, true, scheduler).await;
    match (main, finally) {
        (Outcome::Failed { step, error }, _) => Outcome::Failed { step, error },
        (_, other) => other,
    }
}

/// Stores what the target observed after the last step ended, and its final state
/// (which a run on a named simulated world hands back to that world).
fn record_target(exec: &Execution) -> Result<(), runbook_state::StateError> {
    let (events, snapshot) = super::target_record(&exec.target, &exec.clock, &exec.masker);
    let mut store = exec.store();
    store.append_events(&exec.run_id, &events)?;
    store.save_last_snapshot(
        &exec.run_id,
        snapshot.as_ref(),
        runbook_backend::Clock::Real.now_ms(),
    )
}

async fn run_phase(exec: &Arc<Execution>, finally: bool, scheduler: &Participant) -> Outcome {
    let steps: &[StepDef] = if finally {
        &exec.runbook.runbook.finally
    } else {
        &exec.runbook.runbook.steps
    };
    // How many dependencies each step still waits for, and who waits for each step.
    let mut waiting_on: Vec<usize> = steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, step) in steps.iter().enumerate() {
        for &d in &step.deps {
            dependents[d].push(i);
        }
    }
    // Ready steps start in file order.
    let mut ready: std::collections::BTreeSet<usize> =
        (0..steps.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut running: JoinSet<(usize, StepEnd, Value, Arc<Participant>)> = JoinSet::new();
    let mut failure: Option<(String, String)> = None;
    let mut interrupted = false;
    // Participants of finished steps leave the clock only after the steps they
    // unblock have been launched, so virtual time cannot jump past their start.
    let mut finished_participants: Vec<Arc<Participant>> = Vec::new();
    loop {
        if exec.cancel.is_cancelled() {
            interrupted = true;
        }
        if failure.is_none() && !interrupted {
            while let Some(i) = ready.pop_first() {
                // A step that succeeded before a resume is settled here, without a
                // task: resuming a long run must reach its remaining steps at once.
                if let Some(outputs) = already_succeeded(exec, &steps[i]) {
                    exec.scope.set_step(
                        &steps[i].id,
                        StepView {
                            status: "succeeded",
                            outputs,
                        },
                    );
                    for &next in &dependents[i] {
                        waiting_on[next] -= 1;
                        if waiting_on[next] == 0 {
                            ready.insert(next);
                        }
                    }
                    continue;
                }
                let participant = Arc::new(exec.clock.enter());
                let exec = Arc::clone(exec);
                exec.scope.set_step(
                    &steps[i].id,
                    StepView {
                        status: "running",
                        outputs: Value::Null,
                    },
                );
                running.spawn(async move {
                    let def = if finally {
                        &exec.runbook.runbook.finally[i]
                    } else {
                        &exec.runbook.runbook.steps[i]
                    };
                    let (end, outputs) = run_step(&exec, def, &participant).await;
                    (i, end, outputs, participant)
                });
            }
        }
        finished_participants.clear();
        // Nothing left to wait for: waiting would count this scheduler idle and let
        // virtual time run to whatever deadline an including step has.
        if running.is_empty() {
            break;
        }
        let Some(joined) = exec.clock.wait_for(scheduler, running.join_next()).await else {
            break;
        };
        let (i, end, outputs, participant) = match joined {
            Ok(done) => done,
            Err(e) => {
                failure.get_or_insert((
                    "?".into(),
                    format!("internal error (a bug in runbook): a step task failed: {e}"),
                ));
                continue;
            }
        };
        finished_participants.push(participant);
        for &next in &dependents[i] {
            waiting_on[next] -= 1;
            if waiting_on[next] == 0 {
                ready.insert(next);
            }
        }
        let def = &steps[i];
        let status = match &end {
            StepEnd::Succeeded(_) => "succeeded",
            StepEnd::Failed(_) => "failed",
            StepEnd::Skipped => "skipped",
            StepEnd::Interrupted => "running",
        };
        exec.scope.set_step(&def.id, StepView { status, outputs });
        match end {
            StepEnd::Failed(error) if !def.continue_on_error => {
                let key = exec.key(&def.id);
                failure.get_or_insert(innermost_failure(exec, key, error));
            }
            StepEnd::Interrupted => interrupted = true,
            _ => {}
        }
    }
    if interrupted {
        Outcome::Interrupted
    } else if let Some((step, error)) = failure {
        Outcome::Failed { step, error }
    } else {
        Outcome::Succeeded
    }
}

/// The step to blame for the failure of step `key` with `error`: itself, or, for a
/// `runbook` step, the step that failed inside the runbook it includes (or inside one
/// of its `for_each` instances).
fn innermost_failure(exec: &Execution, key: String, error: String) -> (String, String) {
    let inside = exec
        .failed_inside
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let instance = format!("{key}[");
    inside
        .iter()
        .find(|(k, _)| **k == key || k.starts_with(&instance))
        .map_or((key, error), |(_, failure)| failure.clone())
}

/// The outputs of a step (not a `for_each` step, whose instances are only known once
/// its list is rendered) that succeeded before this invocation.
fn already_succeeded(exec: &Execution, def: &StepDef) -> Option<Value> {
    if def.for_each.is_some() || (def.is_finally && exec.rerun_finally) {
        return None;
    }
    let record = exec.prior.get(&exec.key(&def.id))?;
    (record.status == runbook_state::StepStatus::Succeeded)
        .then(|| record.outputs.clone().unwrap_or(Value::Null))
}
