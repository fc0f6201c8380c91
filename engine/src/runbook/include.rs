//! `action: runbook`: a step that runs another runbook file, so that a scenario can
//! stand on `platform-setup.yaml` instead of restating its steps.
//!
//! The included runbook is loaded and validated with the file that includes it (its
//! errors point into its own file), and runs inside the step: its steps are
//! checkpointed under the step's key (`platform/cluster`), so a resumed run continues
//! inside it. The catalog of actions lives in `runbook-actions`, below the engine; this
//! step kind belongs to the engine, which alone can run a runbook, and joins the
//! catalog here for everything that lists, documents or validates actions.

use std::sync::LazyLock;

use runbook_actions::{Action, Effects, ErasedAction, StepContext};
use runbook_backend::ActionError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The name a runbook writes: `action: runbook`.
pub const RUNBOOK_ACTION: &str = "runbook";

/// The `runbook` step kind, as the catalog sees it: its documented input and outputs.
pub struct RunbookStep;

/// Runs another runbook file as this step, with its own params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookStepInput {
    /// The runbook file to run, relative to the file of this runbook (a literal path,
    /// not a template: it is loaded and checked before anything runs), e.g.
    /// `platform-setup.yaml`.
    pub file: String,
    /// Its parameters, by name; templates here read this runbook's scope (e.g.
    /// `"{{ params.cluster_name }}"`). Its parameters not given here take their
    /// defaults.
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// What later steps read of the included runbook.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookStepOutput {
    /// Each of its steps' outputs, by step id (a list for a `for_each` step), e.g.
    /// `steps.platform.outputs.steps.cluster.endpoint`.
    pub steps: Map<String, Value>,
    /// Its parameters as they were resolved (secret ones shown as `***`).
    pub params: Map<String, Value>,
    /// Its `vars` as they were computed.
    pub vars: Map<String, Value>,
}

impl Action for RunbookStep {
    type Input = RunbookStepInput;
    type Output = RunbookStepOutput;
    const NAME: &'static str = RUNBOOK_ACTION;
    const SUMMARY: &'static str = "Run another runbook file as one step; its steps are checkpointed inside it (resume continues there)";
    /// The step itself touches nothing: each included step checkpoints its own effects.
    const EFFECTS: Effects = Effects::Observes;

    async fn run(
        &self,
        _input: RunbookStepInput,
        _ctx: &StepContext,
    ) -> Result<RunbookStepOutput, ActionError> {
        // The step runner runs the included runbook itself (it needs the engine's
        // scheduler and the state DB); reaching this is a bug in the engine.
        Err(ActionError::Bug(
            "a `runbook` step was handed to the action catalog instead of the engine's step runner"
                .into(),
        ))
    }
}

static RUNBOOK_STEP: RunbookStep = RunbookStep;

/// Every action a step may name: the catalog's, then `runbook`.
static ALL_ACTIONS: LazyLock<Vec<&'static dyn ErasedAction>> = LazyLock::new(|| {
    let mut all = runbook_actions::catalog().to_vec();
    all.push(&RUNBOOK_STEP);
    all
});

/// Every action a step may name, in the order `runbook actions` lists them.
pub fn all_actions() -> &'static [&'static dyn ErasedAction] {
    &ALL_ACTIONS
}

/// The action called `name`.
pub fn find_action(name: &str) -> Option<&'static dyn ErasedAction> {
    all_actions().iter().copied().find(|a| a.name() == name)
}

/// Whether a step's action is `runbook`.
pub fn is_runbook_step(action: &dyn ErasedAction) -> bool {
    action.name() == RUNBOOK_ACTION
}
