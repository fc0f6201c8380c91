//! A run's `vars`: computed once, in order, from params, the process environment and
//! the run itself, before any step (by `run` and `resume`, and by `plan` with
//! placeholders for what only a run knows).

use serde_json::{Map, Value, json};

use crate::params::ResolvedParams;
use crate::runbook::LoadedRunbook;
use crate::template::{self, RenderError};
use crate::yaml::Pos;

/// A var whose template does not render (exit 2: the runbook or its params must
/// change).
#[derive(Debug, thiserror::Error)]
#[error("failed to compute var `{name}`: {source} (at {file}:{}:{})", pos.line, pos.col)]
pub(crate) struct VarError {
    name: String,
    source: RenderError,
    file: String,
    pos: Pos,
}

/// Computes `vars` in order from params, env and run.
pub(crate) fn compute_vars(
    loaded: &LoadedRunbook,
    params: &ResolvedParams,
    run: &Value,
) -> Result<Map<String, Value>, VarError> {
    let env = template::environment();
    let environment = template::process_env();
    let mut vars = Map::new();
    for var in &loaded.runbook.vars {
        let ctx = minijinja::Value::from_serialize(json!({
            "params": params.values,
            "vars": vars,
            "env": environment,
            "run": run,
        }));
        let value = template::render_node(env, &var.value, &ctx).map_err(|e| VarError {
            name: var.name.clone(),
            source: e.error,
            file: loaded.display_path.clone(),
            pos: e.pos,
        })?;
        vars.insert(var.name.clone(), value);
    }
    Ok(vars)
}
