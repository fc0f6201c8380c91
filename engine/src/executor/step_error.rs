//! Why an attempt of a step failed: the engine's own reasons (a template that does not
//! render, an input that does not fit, a checkpoint that cannot be written) beside the
//! action's [`ActionError`].
//!
//! The error stays typed until the attempt is recorded: its class decides the retry,
//! and only then is it turned into text, masked, because the text is what is stored
//! in the state DB and shown, and a secret may be part of it.

use runbook_backend::{ActionError, ErrorClass};
use runbook_state::{StateError, StepStatus};

use super::input_check::InputMisfit;
use crate::template::RenderError;
use crate::yaml::Pos;

/// A failure of one attempt of a step (or one `for_each` instance). State errors are
/// boxed: they are rare and large, and this type is returned on every step's path.
#[derive(Debug, thiserror::Error)]
pub(super) enum StepError {
    /// The action ran and failed, or its `timeout` ran out.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A template of the step (`with`, `when`, `for_each`) does not render.
    #[error("{error} (at {file}:{}:{})", pos.line, pos.col)]
    Template {
        #[source]
        error: RenderError,
        file: String,
        pos: Pos,
    },
    /// `for_each` rendered to something other than a list.
    #[error("`for_each` gave {0}, not a list")]
    ForEachNotList(&'static str),
    /// `when` rendered to something other than a boolean.
    #[error("`when` gave {got}, not true or false (at {file}:{}:{})", pos.line, pos.col)]
    WhenNotBool {
        got: &'static str,
        file: String,
        pos: Pos,
    },
    /// The rendered input does not fit the action's input.
    #[error(transparent)]
    InputMisfit(#[from] InputMisfit),
    /// The start of an attempt with effects could not be made durable, so its action
    /// was not run.
    #[error("failed to record the start of the step, so it was not run: {0}")]
    StartNotRecorded(#[source] Box<StateError>),
    /// The attempt ended but its outcome could not be stored.
    #[error("the step ended ({status}) but its checkpoint could not be written: {source}")]
    CheckpointNotWritten {
        status: StepStatus,
        #[source]
        source: Box<StateError>,
    },
    /// A step skipped by `when` could not be recorded as skipped.
    #[error("failed to record the skipped step: {0}")]
    SkipNotRecorded(#[source] Box<StateError>),
    /// A failure before the action ran (already masked, as it was to be stored) could
    /// not be recorded.
    #[error("{failure}; and failed to record it: {source}")]
    FailureNotRecorded {
        failure: String,
        #[source]
        source: Box<StateError>,
    },
}

impl StepError {
    /// What the failure means for the next attempt. The engine's own failures before
    /// the action runs are the same on every attempt; a failed checkpoint is not
    /// retried either (the state DB is the problem).
    pub(super) fn class(&self) -> ErrorClass {
        match self {
            StepError::Action(e) => e.class(),
            _ => ErrorClass::Permanent,
        }
    }
}
