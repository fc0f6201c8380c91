//! Checks a step's rendered `with:` against its action's input before an attempt
//! starts, and words a misfit so it can be fixed: the field, where the field is in the
//! runbook, and where its value came from (which parameter, set how). serde alone says
//! "invalid value: integer `-1`, expected u32".
//!
//! Checking before the attempt also means an input that can never fit is not begun
//! (no idempotency key minted, nothing recorded as running) and not retried.

use std::collections::{BTreeMap, BTreeSet};

use runbook_actions::InputError;

use crate::params::ParamOrigin;
use crate::runbook::{StepDef, VarDef, node_at};
use crate::template::{self, is_template};
use crate::yaml::{Node, NodeKind};

/// A rendered input that does not fit its action, with where its value came from:
/// `input `nodes`: invalid value: integer `-1`, expected u32 (from param `nodes`,
/// set by --set nodes=-1; at nightly.yaml:44:14)`.
#[derive(Debug, thiserror::Error)]
#[error("{source} ({})", notes.join("; "))]
pub(super) struct InputMisfit {
    source: InputError,
    /// The parameters the value came from and the place in the runbook.
    notes: Vec<String>,
}

/// `Err` saying what does not fit and why, when `input` does not fit the action of
/// `def`.
pub(super) fn check(
    def: &StepDef,
    input: &serde_json::Value,
    vars: &[VarDef],
    origins: &BTreeMap<String, ParamOrigin>,
    display_path: &str,
) -> Result<(), InputMisfit> {
    def.action
        .check_input(input)
        .map_err(|e| explain(def, e, vars, origins, display_path))
}

fn explain(
    def: &StepDef,
    err: InputError,
    vars: &[VarDef],
    origins: &BTreeMap<String, ParamOrigin>,
    display_path: &str,
) -> InputMisfit {
    let node = node_at(&def.with, &err.path);
    let mut notes: Vec<String> = Vec::new();
    let mut params = BTreeSet::new();
    params_read_by(node, vars, &mut params, 0);
    for name in &params {
        match origins.get(name) {
            Some(origin) => notes.push(format!("from param `{name}`, {origin}")),
            None => notes.push(format!("from param `{name}`")),
        }
    }
    notes.push(format!(
        "at {display_path}:{}:{}",
        node.pos.line, node.pos.col
    ));
    InputMisfit { source: err, notes }
}

/// The parameters the templates under `node` read, directly or through `vars`
/// (whose definitions are followed a few levels deep).
fn params_read_by(node: &Node, vars: &[VarDef], found: &mut BTreeSet<String>, depth: usize) {
    match &node.kind {
        NodeKind::Str { value, .. } if is_template(value) => {
            let Ok(paths) = template::referenced_variables(template::environment(), value) else {
                return;
            };
            for path in paths {
                let mut parts = path.split('.');
                match (parts.next(), parts.next()) {
                    (Some("params"), Some(name)) => {
                        found.insert(name.to_string());
                    }
                    (Some("vars"), Some(name)) if depth < 8 => {
                        if let Some(var) = vars.iter().find(|v| v.name == name) {
                            params_read_by(&var.value, vars, found, depth + 1);
                        }
                    }
                    _ => {}
                }
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                params_read_by(item, vars, found, depth);
            }
        }
        NodeKind::Map(entries) => {
            for (_, value) in entries {
                params_read_by(value, vars, found, depth);
            }
        }
        _ => {}
    }
}
