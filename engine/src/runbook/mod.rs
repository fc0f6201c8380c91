//! Runbooks: the format (`model`), loading and validation (`loader`), and the check of
//! each step's `with:` against its action's input (`with_check`).

mod graph;
mod loader;
pub mod model;
mod with_check;

pub use loader::{LoadError, LoadedRunbook, load_file, load_str};
#[cfg(test)]
pub(crate) use loader::{PARAM_KEYS, RETRY_KEYS, STEP_KEYS, TOP_KEYS};
pub use model::{ParamDef, ParamType, RetryPolicy, Runbook, StepDef, VarDef};
pub(crate) use with_check::node_at;

#[cfg(test)]
mod tests;
