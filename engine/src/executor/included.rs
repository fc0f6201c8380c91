//! Running the runbook a `runbook` step includes, inside the step: its params come
//! from the step's rendered `params`, its steps are scheduled as a run's are and
//! checkpointed under the step's key (`platform/cluster`), so that resuming a run
//! interrupted inside it skips what succeeded there and re-enters what was running.

use std::sync::Arc;

use runbook_actions::StepContext;
use runbook_backend::ActionError;
use serde_json::{Map, Value};

use super::Execution;
use super::scheduler::{Outcome, run_phases};
use crate::params;
use crate::runbook::LoadedRunbook;
use crate::runbook::include::RunbookStepOutput;

/// Runs `included` as the attempt `ctx` of a `runbook` step whose rendered input is
/// `input`; its outputs are the included steps' outputs, params and vars.
pub(super) async fn run_included(
    exec: &Execution,
    included: &Arc<LoadedRunbook>,
    input: Value,
    ctx: &StepContext,
) -> Result<Value, ActionError> {
    let given = match input.get("params") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let params = params::resolve_included(&included.runbook.params, &given, &ctx.step_key)
        .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
    let vars = crate::cli::compute_vars(included, &params, &exec.scope.run_json())
        .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
    let step_ids: Vec<&str> = included
        .runbook
        .steps
        .iter()
        .chain(&included.runbook.finally)
        .map(|s| s.id.as_str())
        .collect();
    let masker = exec.masker.extended(params.masker());
    let nested = Arc::new(Execution {
        run_id: exec.run_id.clone(),
        runbook: Arc::clone(included),
        masker: masker.clone(),
        param_origins: params.origins.clone(),
        scope: exec.scope.nested(&params.values, vars.clone(), &step_ids),
        target: Arc::clone(&exec.target),
        clock: exec.clock.clone(),
        store: Arc::clone(&exec.store),
        reporter: Arc::clone(&exec.reporter),
        cancel: exec.cancel.clone(),
        pace: Arc::clone(&exec.pace),
        prior: Arc::clone(&exec.prior),
        failed_inside: Arc::clone(&exec.failed_inside),
        rerun_finally: exec.rerun_finally,
        key_prefix: format!("{}/", ctx.step_key),
    });
    // This step waits while the included steps work (on `sim`, virtual time moves
    // when they all wait); their scheduler is in the clock before this step leaves it.
    let scheduler = exec.clock.enter();
    let outcome = exec
        .clock
        .wait_for(&ctx.participant, run_phases(&nested, &scheduler))
        .await;
    drop(scheduler);
    match outcome {
        Outcome::Succeeded => {
            let output = RunbookStepOutput {
                steps: nested.scope.step_outputs(),
                params: match params.masked() {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                vars,
            };
            let value = serde_json::to_value(output)
                .map_err(|e| ActionError::Bug(format!("outputs of a `runbook` step: {e}")))?;
            Ok(masker.json(&value))
        }
        Outcome::Failed { step, error } => {
            exec.failed_inside
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(ctx.step_key.clone(), (step.clone(), error.clone()));
            let label = match step.strip_prefix(&nested.key_prefix) {
                Some(inside) => {
                    format!("{}{}", nested.key_prefix, included.runbook.labelled(inside))
                }
                None => step,
            };
            Err(ActionError::Failed(format!(
                "included step {label} failed: {error}"
            )))
        }
        Outcome::Interrupted => Err(ActionError::Interrupted),
    }
}
