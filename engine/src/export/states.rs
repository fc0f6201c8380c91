//! The States-language model the exporter writes: states in a chain, each step's states
//! one after another, and how a chain becomes a definition (`StartAt`, `States`,
//! every state's `Next` or `End`).
//!
//! A state is kept as the JSON it will be, without its `Next`: the chain links states
//! in order, so the per-action mapping never names the state after it. A `Catch` that
//! goes on to the next step (`continue_on_error`) names [`NEXT_STEP`], which the chain
//! replaces with the first state of the step after it.

use serde_json::{Map, Value, json};

use crate::runbook::RetryPolicy;

/// Stands for "the first state of the next step" in a `Catch`'s `Next`.
pub(crate) const NEXT_STEP: &str = "\u{1}next step";

/// One state: its name and its JSON, without `Next`/`End`.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub name: String,
    pub body: Map<String, Value>,
}

impl State {
    /// A Task state calling `resource` with these (already translated) parameters.
    pub(crate) fn task(name: String, resource: &str, parameters: Value) -> State {
        let mut body = Map::new();
        body.insert("Type".into(), json!("Task"));
        body.insert("Resource".into(), json!(resource));
        body.insert("Parameters".into(), parameters);
        State { name, body }
    }

    /// A Pass state whose output is `parameters`.
    pub(crate) fn pass(name: String, parameters: Value) -> State {
        let mut body = Map::new();
        body.insert("Type".into(), json!("Pass"));
        body.insert("Parameters".into(), parameters);
        State { name, body }
    }

    /// Sets a field (`ResultPath`, `ResultSelector`, `TimeoutSeconds`, ...).
    pub(crate) fn set(mut self, field: &str, value: Value) -> State {
        self.body.insert(field.into(), value);
        self
    }

    pub(crate) fn is_task(&self) -> bool {
        self.body.get("Type") == Some(&json!("Task"))
    }

    fn push_to(&mut self, field: &str, value: Value) {
        let list = self.body.entry(field).or_insert_with(|| json!([]));
        if let Value::Array(items) = list {
            items.push(value);
        }
    }

    /// Retries the state on any error as the runbook's `retry` retries its step.
    pub(crate) fn retry(&mut self, retry: &RetryPolicy) {
        self.push_to(
            "Retry",
            json!({
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": retry.delay.as_secs(),
                "BackoffRate": retry.backoff,
                "MaxDelaySeconds": retry.max_delay.as_secs(),
                "MaxAttempts": retry.attempts.saturating_sub(1),
                "JitterStrategy": "FULL",
            }),
        );
    }

    /// Goes on at `next` when one of `errors` ends the state, with the error at
    /// `result_path`.
    pub(crate) fn catch(&mut self, errors: &[&str], result_path: &str, next: &str) {
        self.push_to(
            "Catch",
            json!({"ErrorEquals": errors, "ResultPath": result_path, "Next": next}),
        );
    }
}

/// A `Catch` inside a chain that goes on to the state after the one catching (an
/// error that means "already done"): named by this until the chain links it.
pub(crate) const NEXT_STATE: &str = "\u{1}next state";

/// States to run one after another, ending at `end` (a state name) or, without one,
/// ending the chain (`End: true`).
pub(crate) fn chain(states: Vec<State>, end: Option<&str>) -> (String, Map<String, Value>) {
    let start = states.first().map(|s| s.name.clone()).unwrap_or_default();
    let mut out = Map::new();
    let names: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
    for (i, mut state) in states.into_iter().enumerate() {
        let next = names.get(i + 1).map(String::as_str).or(end);
        if let Some(Value::Array(catches)) = state.body.get_mut("Catch") {
            for catch in catches {
                if catch["Next"] == NEXT_STATE {
                    catch["Next"] = json!(next.unwrap_or_default());
                }
            }
        }
        let is_terminal = matches!(
            state.body.get("Type").and_then(Value::as_str),
            Some("Succeed" | "Fail" | "Choice")
        );
        // A state that names its own `Next` (a branch of a Choice, a loop) or ends its
        // chain keeps it.
        if !is_terminal && !state.body.contains_key("Next") && !state.body.contains_key("End") {
            match next {
                Some(next) => state.body.insert("Next".into(), json!(next)),
                None => state.body.insert("End".into(), json!(true)),
            };
        }
        out.insert(state.name, Value::Object(state.body));
    }
    (start, out)
}

/// Replaces [`NEXT_STEP`] in every `Catch` (and a Choice's `Default`) of `states`
/// with `next`.
pub(crate) fn resolve_next_step(states: &mut [State], next: &str) {
    for state in states {
        if state.body.get("Default") == Some(&json!(NEXT_STEP)) {
            state.body.insert("Default".into(), json!(next));
        }
        if let Some(Value::Array(catches)) = state.body.get_mut("Catch") {
            for catch in catches {
                if catch["Next"] == NEXT_STEP {
                    catch["Next"] = json!(next);
                }
            }
        }
    }
}

/// The definition of a state machine whose states are `states`, in order, ending in a
/// Succeed state.
pub(crate) fn definition(comment: &str, mut states: Vec<State>) -> Value {
    let mut done = Map::new();
    done.insert("Type".into(), json!("Succeed"));
    states.push(State {
        name: "Succeeded".into(),
        body: done,
    });
    let (start, map) = chain(states, None);
    json!({"Comment": comment, "StartAt": start, "States": map})
}

/// A Map state running `states` for each item at `items_path`, `parallel` at a time
/// (a `for_each` step): each iteration's input is its `item` and `index`, the outputs
/// of the steps before and its own scratch; `extra` adds entries (`key.$` to an
/// expression).
pub(crate) fn map(
    name: String,
    items_path: &str,
    parallel: usize,
    states: Vec<State>,
    result_path: &str,
    extra: &[(String, String)],
) -> State {
    let mut selector = json!({
        "item.$": "$$.Map.Item.Value",
        "index.$": "$$.Map.Item.Index",
        "steps.$": "$.steps",
        "scratch": {},
    });
    for (key, expr) in extra {
        selector[key] = json!(expr);
    }
    inline_map(name, items_path, Some(selector), states, json!(result_path))
        .set("MaxConcurrency", json!(parallel))
}

/// A Map state running `states` inline for each item at `items_path`, the iteration's
/// input built by `selector` (the item itself without one), its results at
/// `result_path` (`null`: dropped).
pub(crate) fn inline_map(
    name: String,
    items_path: &str,
    selector: Option<Value>,
    states: Vec<State>,
    result_path: Value,
) -> State {
    let (start, processor) = chain(states, None);
    let mut body = Map::new();
    body.insert("Type".into(), json!("Map"));
    body.insert("ItemsPath".into(), json!(items_path));
    if let Some(selector) = selector {
        body.insert("ItemSelector".into(), selector);
    }
    body.insert(
        "ItemProcessor".into(),
        json!({
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": start,
            "States": processor,
        }),
    );
    body.insert("ResultPath".into(), result_path);
    State { name, body }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_chain_links_states_in_order_and_catches_go_to_the_next_one() {
        let mut first = State::task("a".into(), "r", json!({}));
        first.catch(&["E"], "$.scratch.a", NEXT_STATE);
        let second = State::pass("b".into(), json!({}));
        let (start, states) = chain(vec![first, second], Some("c"));
        assert_eq!(start, "a");
        assert_eq!(states["a"]["Next"], "b");
        assert_eq!(states["a"]["Catch"][0]["Next"], "b");
        assert_eq!(states["b"]["Next"], "c");
    }

    #[test]
    fn retry_is_the_runbooks_policy_with_full_jitter() {
        let mut state = State::task("a".into(), "r", json!({}));
        state.retry(&RetryPolicy {
            attempts: 3,
            delay: Duration::from_secs(5),
            backoff: 2.0,
            max_delay: Duration::from_secs(60),
        });
        assert_eq!(
            state.body["Retry"],
            json!([{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "BackoffRate": 2.0,
                "MaxDelaySeconds": 60, "MaxAttempts": 2, "JitterStrategy": "FULL"}])
        );
    }
}
