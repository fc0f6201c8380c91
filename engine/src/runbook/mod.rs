//! Runbooks: the format's keys, bounds and schema (`format`), the validated runbook
//! (`model`), loading and validation (`loader`), and the check of each step's `with:`
//! against its action's input (`with_check`).

pub mod format;
mod graph;
pub mod include;
mod loader;
pub mod model;
mod with_check;

#[cfg(test)]
pub(crate) use format::{PARAM_KEYS, RETRY_KEYS, RUNBOOK_KEYS, STEP_KEYS};
pub use include::{all_actions, find_action};
pub use loader::{LoadError, LoadedRunbook, load_file, load_str};
pub use model::{ParamDef, ParamType, RetryPolicy, Runbook, StepDef, VarDef};
pub(crate) use with_check::node_at;

#[cfg(test)]
mod tests;
