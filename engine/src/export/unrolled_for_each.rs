//! A `for_each` whose instances cannot share one iteration's states: the action's
//! input has a typed field (a PriorityClass's `value`, a flag) that takes the item's
//! value, and states written once for every item can carry it only as a path, which
//! the action's input does not accept in place of a number. When the list is known at
//! export time, each instance is exported on its own, its item rendered in, and the
//! Map's iteration starts with a Choice on its index that goes to that instance's
//! states: the Map keeps the step's `parallel` (MaxConcurrency) and gathers the
//! instances' outputs, in the list's order, as the step's.

use serde_json::{Map, Value, json};

use super::action_mapping::{Mapping, StepToMap, map_step};
use super::refusal::Unexportable;
use super::states::State;
use super::step_input::{self, Scope};
use super::{KeptOutputs, Waiting};
use crate::diagnostic::Diagnostic;
use crate::runbook::StepDef;

/// The iteration's states (a Choice on the index, then each instance's states, each
/// ending its iteration with its outputs) for a step whose `items` are known now.
pub(super) fn unrolled(
    def: &StepDef,
    items: &[Value],
    context: &minijinja::Value,
    exported: &std::collections::BTreeMap<String, KeptOutputs>,
    waiting: Waiting,
) -> Result<Mapping, Diagnostic> {
    let mut instances: Vec<Vec<State>> = Vec::new();
    let mut calls = Vec::new();
    let mut output_names = Vec::new();
    let mut integrations = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let scope = Scope {
            context: minijinja::context! { item => item, index => index, ..context.clone() },
            in_for_each: false,
            item_known: true,
            exported,
        };
        let with = step_input::render(&def.with, &scope)?;
        let id = format!("{}_{index}", def.id);
        let mut mapping = map_step(&StepToMap {
            id: &id,
            action: def.action,
            with: &with,
            in_map: false,
            waited: false,
            waiting,
            job_virtual_cluster: None,
        })
        .map_err(|why: Unexportable| {
            Diagnostic::new(
                format!(
                    "{} cannot be exported: item {index}: {why}",
                    def.action.name()
                ),
                def.with.pos,
                1,
            )
        })?;
        if let Some(last) = mapping.states.last_mut() {
            last.body
                .insert("OutputPath".into(), json!(format!("$.steps.{id}")));
            last.body.insert("End".into(), json!(true));
        }
        instances.push(std::mem::take(&mut mapping.states));
        calls.append(&mut mapping.calls);
        output_names = mapping.output_names;
        if integrations.is_empty() {
            integrations = mapping.integrations;
        }
    }
    let first_of = |i: usize| {
        instances[i]
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let last = instances.len().saturating_sub(1);
    let choices: Vec<Value> = (0..last)
        .map(|i| json!({"Variable": "$.index", "NumericEquals": i, "Next": first_of(i)}))
        .collect();
    let which = State {
        name: format!("{} which item?", def.id),
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), Value::Array(choices)),
            ("Default".to_string(), json!(first_of(last))),
        ]),
    };
    integrations.insert(
        0,
        format!(
            "a Choice on the item's index, then that instance's own states (each of the {} items written in)",
            items.len()
        ),
    );
    let mut states = vec![which];
    states.extend(instances.into_iter().flatten());
    Ok(Mapping {
        states,
        calls,
        output_names,
        integrations,
    })
}
