//! The action interface: typed input and output, per-target behaviour, and the
//! type-erased form the engine drives.

use std::future::Future;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::StepContext;
use crate::input_error::{InputError, deserialize_input};
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;
use runbook_backend::calls::PlannedCalls;

/// What an action does to the world, which decides how carefully the engine
/// checkpoints it before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effects {
    /// Instantaneous and changes nothing outside the run (`log`, `assert`): checkpointed
    /// once, when it finishes; after a crash it simply runs again.
    Pure,
    /// Takes time but changes nothing outside the run (`sleep`, waits): its start is
    /// recorded (without an fsync) so `status` shows what was running.
    Observes,
    /// Changes something outside the run (cloud calls, local programs): its start and
    /// idempotency key are on disk (fsync) before it runs, so a crash can never lead
    /// to a second, unrecorded submission.
    Mutates,
}

/// An action of the catalog, written once against the target interface.
pub trait Action: Send + Sync + 'static {
    /// The typed `with:` of a step (`#[serde(deny_unknown_fields)]`, documented fields).
    type Input: DeserializeOwned + JsonSchema + Send + 'static;
    /// The typed outputs, available to later steps as `steps.<id>.outputs`.
    type Output: Serialize + JsonSchema + Send + 'static;
    /// The name used in runbooks (`action: submit-job`).
    const NAME: &'static str;
    /// One line for `runbook actions`.
    const SUMMARY: &'static str;
    const EFFECTS: Effects;

    fn run(
        &self,
        input: Self::Input,
        ctx: &StepContext,
    ) -> impl Future<Output = Result<Self::Output, ActionError>> + Send;

    /// The AWS and Kubernetes operations `run` would call on `plan.target` (the `aws`
    /// target), in order, with their conditions, for `runbook plan --target aws`: the
    /// `planned_` twins of the target operations `run` uses, in `run`'s order. Calls
    /// nothing. An error is what `run` would fail with before calling anything (an
    /// invalid name, say). The default, no calls, is right for actions that touch no
    /// service (`log`, `sleep`, `assert`).
    fn planned_calls(
        _input: &Self::Input,
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        Ok(Vec::new())
    }
}

/// A boxed future of an erased action's outputs.
pub type RunFuture<'a> =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, ActionError>> + Send + 'a>>;

/// The object-safe form of [`Action`] that the engine and the CLI work with.
pub trait ErasedAction: Send + Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn effects(&self) -> Effects;
    /// JSON Schema of the input (`with`), with field docs as descriptions.
    fn input_schema(&self) -> serde_json::Value;
    /// JSON Schema of the outputs.
    fn output_schema(&self) -> serde_json::Value;
    /// Checks a fully rendered input against the typed struct, naming the field that
    /// does not fit.
    fn check_input(&self, input: &serde_json::Value) -> Result<(), InputError>;
    fn run<'a>(&'a self, input: serde_json::Value, ctx: &'a StepContext) -> RunFuture<'a>;
    /// [`Action::planned_calls`] of a rendered input. Placeholders of run-time values
    /// deserialize like any other text; an error says why the calls cannot be listed
    /// (a placeholder where a number belongs) or why the step would fail.
    fn planned_calls(
        &self,
        input: &serde_json::Value,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, String>;
}

impl<A: Action> ErasedAction for A {
    fn name(&self) -> &'static str {
        A::NAME
    }
    fn summary(&self) -> &'static str {
        A::SUMMARY
    }
    fn effects(&self) -> Effects {
        A::EFFECTS
    }
    fn input_schema(&self) -> serde_json::Value {
        schemars::schema_for!(A::Input).to_value()
    }
    fn output_schema(&self) -> serde_json::Value {
        schemars::schema_for!(A::Output).to_value()
    }
    fn check_input(&self, input: &serde_json::Value) -> Result<(), InputError> {
        deserialize_input::<_, A::Input>(input).map(|_| ())
    }
    fn run<'a>(&'a self, input: serde_json::Value, ctx: &'a StepContext) -> RunFuture<'a> {
        Box::pin(async move {
            let typed = deserialize_input::<_, A::Input>(input)
                .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
            let output = Action::run(self, typed, ctx).await?;
            serde_json::to_value(output).map_err(|e| {
                ActionError::Bug(format!("outputs of `{}` do not serialize: {e}", A::NAME))
            })
        })
    }
    fn planned_calls(
        &self,
        input: &serde_json::Value,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, String> {
        let typed = deserialize_input::<_, A::Input>(input)
            .map_err(|e| format!("cannot be listed before run time: {e}"))?;
        A::planned_calls(&typed, plan)
            .map(PlannedCalls::listed_once)
            .map_err(|e| format!("the step would fail first: {e}"))
    }
}
