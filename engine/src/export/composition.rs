//! `action: runbook` (composition) exported: the included runbook is exported as a
//! state machine of its own, with the params the step gives it rendered at export
//! time, and its definition becomes the one branch of a Parallel state. The branch
//! starts from its own state (its first Pass state sets `$.steps`, `$.scratch` and
//! its `for_each` lists), as the included runbook's steps see only their own scope in
//! a run; the Parallel keeps the branch's `$.steps` under the step's outputs, so a
//! later `steps.<id>.outputs.steps.<inner>.<name>` reads what the run's does. State
//! names are unique in a state machine: the branch's are prefixed with the step id.

use serde_json::{Map, Value, json};

use super::refusal::Unexportable;
use super::runtime_value::contains_dynamic;
use super::states::State;
use super::summary::StepSummary;
use super::{Waiting, export, run_scope};
use crate::runbook::StepDef;

/// Step Functions' limit on a state's name.
const MAX_STATE_NAME: usize = 80;

/// What a `runbook` step exports to.
pub(super) struct Included {
    /// One Parallel state, named after the step.
    pub state: State,
    /// The calls its states make, for the role's policy.
    pub calls: Vec<Value>,
    /// Its steps' mappings, their ids under the step's (`platform/cluster`).
    pub steps: Vec<StepSummary>,
    /// Its steps left out (`--allow-partial platform/summary`, a `when` false for
    /// these params): id under the step's, action, why.
    pub skipped: Vec<(String, String, String)>,
}

/// Exports the runbook `def` includes, with `with` (the step's input rendered for
/// export), leaving out its steps `allow_partial` names under the step's
/// (`platform/summary`); or why it cannot be.
pub(super) fn include(
    def: &StepDef,
    with: &Value,
    waiting: Waiting,
    allow_partial: &[String],
) -> Result<Included, Unexportable> {
    // The loader loads and checks what every `runbook` step includes.
    let Some(included) = def.include.as_ref() else {
        return Err(Unexportable::IncludedRefused {
            each: vec![format!("{}: not loaded", def.id)],
            steps: Vec::new(),
        });
    };
    if def.for_each.is_some() {
        return Err(Unexportable::IncludedForEach);
    }
    if def.retry.attempts > 1 || def.timeout.is_some() {
        return Err(Unexportable::IncludedRetryOrTimeout);
    }
    let given = match with.get("params") {
        Some(Value::Object(params)) => params.clone(),
        _ => Map::new(),
    };
    if let Some((name, _)) = given.iter().find(|(_, value)| contains_dynamic(value)) {
        return Err(Unexportable::IncludedParamAtRunTime(name.clone()));
    }
    let params = crate::params::resolve_included(&included.runbook.params, &given, &def.id)?;
    let vars = crate::cli::compute_vars(included, &params, &run_scope())?;
    let prefix = format!("{}/", def.id);
    let inner_partial: Vec<String> = allow_partial
        .iter()
        .filter_map(|id| id.strip_prefix(&prefix).map(str::to_string))
        .collect();
    let exported = export(included, &params, &vars, &inner_partial, None, waiting);
    if !exported.refusals.is_empty() {
        let each: Vec<String> = exported
            .refusals
            .iter()
            .map(|r| {
                let d = &r.diagnostic;
                format!(
                    "{}:{}:{}: {}",
                    included.display_path, d.pos.line, d.pos.col, d.message
                )
            })
            .collect();
        return Err(Unexportable::IncludedRefused {
            each,
            steps: exported.summary.refused,
        });
    }
    let mut definition = exported
        .template
        .and_then(|mut t| {
            t.pointer_mut("/Resources/StateMachine/Properties/Definition")
                .map(Value::take)
        })
        .ok_or_else(|| Unexportable::IncludedRefused {
            each: vec![format!("{}: no definition", included.display_path)],
            steps: Vec::new(),
        })?;
    if let Value::Object(fields) = &mut definition {
        fields.remove("Comment");
    }
    let prefix = format!("{} ", def.id);
    prefix_names(&mut definition, &prefix)?;
    let state = State {
        name: def.id.clone(),
        body: Map::from_iter([
            ("Type".to_string(), json!("Parallel")),
            ("Branches".to_string(), json!([definition])),
            (
                "ResultSelector".to_string(),
                json!({"steps.$": "$[0].steps"}),
            ),
            (
                "ResultPath".to_string(),
                json!(format!("$.steps.{}", def.id)),
            ),
        ]),
    };
    let skipped = exported
        .summary
        .skipped
        .into_iter()
        .map(|(id, action, why)| (format!("{}/{id}", def.id), action, why))
        .collect();
    let steps = exported
        .summary
        .steps
        .into_iter()
        .map(|step| StepSummary {
            id: format!("{}/{}", def.id, step.id),
            ..step
        })
        .collect();
    Ok(Included {
        state,
        calls: exported.calls,
        steps,
        skipped,
    })
}

/// The `--allow-partial` flags that leave out the included steps `why` refuses
/// (`--allow-partial platform/summary`), as a diagnostic's help.
pub(super) fn leave_out_help(step_id: &str, why: &Unexportable) -> Option<String> {
    let Unexportable::IncludedRefused { steps, .. } = why else {
        return None;
    };
    if steps.is_empty() {
        return None;
    }
    let flags: Vec<String> = steps
        .iter()
        .map(|id| format!("--allow-partial {step_id}/{id}"))
        .collect();
    Some(format!(
        "`{}` leaves {} out, with a warning",
        flags.join(" "),
        if steps.len() == 1 { "it" } else { "them" }
    ))
}

/// Prefixes every state name of a definition (or a branch, or a Map's processor) and
/// every reference to one: `StartAt`, `Next`, `Default`, the Choices' and Catches'
/// `Next`, through nested Parallel branches and Map processors.
fn prefix_names(machine: &mut Value, prefix: &str) -> Result<(), Unexportable> {
    let rename = |name: &mut Value| {
        if let Value::String(text) = name {
            *text = format!("{prefix}{text}");
        }
    };
    if let Some(start) = machine.get_mut("StartAt") {
        rename(start);
    }
    let Some(Value::Object(states)) = machine.get_mut("States").map(Value::take) else {
        return Ok(());
    };
    let mut renamed = Map::new();
    for (name, mut state) in states {
        let name = format!("{prefix}{name}");
        if name.chars().count() > MAX_STATE_NAME {
            return Err(Unexportable::StateNameTooLong {
                name,
                max: MAX_STATE_NAME,
            });
        }
        for field in ["Next", "Default"] {
            if let Some(next) = state.get_mut(field) {
                rename(next);
            }
        }
        for list in ["Choices", "Catch"] {
            if let Some(Value::Array(rules)) = state.get_mut(list) {
                for rule in rules {
                    if let Some(next) = rule.get_mut("Next") {
                        rename(next);
                    }
                }
            }
        }
        if let Some(Value::Array(branches)) = state.get_mut("Branches") {
            for branch in branches {
                prefix_names(branch, prefix)?;
            }
        }
        if let Some(processor) = state.get_mut("ItemProcessor") {
            prefix_names(processor, prefix)?;
        }
        renamed.insert(name, state);
    }
    machine["States"] = Value::Object(renamed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_reference_is_prefixed_through_nested_states() {
        let mut machine = json!({
            "StartAt": "Start",
            "States": {
                "Start": {"Type": "Pass", "Next": "when"},
                "when": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "roles"}], "Default": "Succeeded"},
                "roles": {
                    "Type": "Map",
                    "ItemProcessor": {"StartAt": "roles CreateRole", "States": {
                        "roles CreateRole": {"Type": "Task", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "roles outputs"}], "Next": "roles outputs"},
                        "roles outputs": {"Type": "Pass", "End": true},
                    }},
                    "Next": "Succeeded",
                },
                "Succeeded": {"Type": "Succeed"},
            },
        });
        prefix_names(&mut machine, "platform ").expect("renamed");
        assert_eq!(machine["StartAt"], "platform Start");
        let states = &machine["States"];
        assert_eq!(states["platform Start"]["Next"], "platform when");
        assert_eq!(
            states["platform when"]["Choices"][0]["Next"],
            "platform roles"
        );
        assert_eq!(states["platform when"]["Default"], "platform Succeeded");
        let processor = &states["platform roles"]["ItemProcessor"];
        assert_eq!(processor["StartAt"], "platform roles CreateRole");
        assert_eq!(
            processor["States"]["platform roles CreateRole"]["Catch"][0]["Next"],
            "platform roles outputs"
        );
        // A name too long for Step Functions once prefixed is refused.
        let mut states = Map::new();
        states.insert("a".repeat(75), json!({"Type": "Succeed"}));
        let mut long = json!({"StartAt": "a", "States": states});
        assert!(prefix_names(&mut long, "platform ").is_err());
    }
}
