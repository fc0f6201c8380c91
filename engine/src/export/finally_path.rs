//! `finally` as a Catch-all path: the runbook's `finally` steps run after its main steps
//! whatever their outcome, and the run then ends as the main steps did.
//!
//! The main steps run as the one branch of a Parallel state. Inside it, each top-level
//! Task, Map and Parallel catches every error into `$.failure` and ends the branch, so
//! the finally steps still see the outputs of the steps that ran (as a run's `finally`
//! does); a Fail state becomes a Pass state keeping its error there and ending the
//! branch the same way; what no Catch can be put on (a Pass state's own error) fails
//! the branch, which the Parallel catches into `$.failure` in turn, from its input.
//! Both paths go through the finally steps; then a Choice on `$.failure` restores the
//! outcome: a Fail state with the caught Error and Cause, or the Succeed state.

use serde_json::{Map, Value, json};

use super::states::{self, State};

/// Where the main steps' error is kept (`null` until one is caught).
const FAILURE: &str = "$.failure";

const MAIN: &str = "main steps";
const MAIN_DONE: &str = "main steps done";
const MAIN_FAILED: &str = "main steps failed";
const OUTCOME: &str = "outcome of the main steps";
const FAILED: &str = "Failed";

/// The main states, then the finally steps' states (one list per step), then the
/// outcome; `keys` are the execution state's top-level fields, which the Parallel
/// keeps. The Succeed state (`Succeeded`) is the caller's.
pub(crate) fn states(
    mut main: Vec<State>,
    finally: Vec<Vec<State>>,
    keys: &[String],
) -> Vec<State> {
    states::resolve_next_step(&mut main, MAIN_DONE);
    for state in &mut main {
        keep_outputs_on_failing(state);
    }
    for state in &mut main {
        let catches = matches!(
            state.body.get("Type").and_then(Value::as_str),
            Some("Task" | "Map" | "Parallel")
        );
        if catches && !catches_everything(state) {
            state.catch(&["States.ALL"], FAILURE, MAIN_FAILED);
        }
    }
    main.push(State {
        name: MAIN_DONE.into(),
        body: Map::from_iter([
            ("Type".to_string(), json!("Pass")),
            ("End".to_string(), json!(true)),
        ]),
    });
    main.push(State {
        name: MAIN_FAILED.into(),
        body: Map::from_iter([("Type".to_string(), json!("Pass"))]),
    });
    let (start, branch) = states::chain(main, None);
    let selector: Map<String, Value> = keys
        .iter()
        .map(|key| (format!("{key}.$"), json!(format!("$[0].{key}"))))
        .collect();
    let mut wrapper = State {
        name: MAIN.into(),
        body: Map::from_iter([
            ("Type".to_string(), json!("Parallel")),
            (
                "Branches".to_string(),
                json!([{"StartAt": start, "States": branch}]),
            ),
            ("ResultSelector".to_string(), Value::Object(selector)),
        ]),
    };
    let mut chains: Vec<Vec<State>> = finally.into_iter().filter(|s| !s.is_empty()).collect();
    let first_finally = chains
        .first()
        .and_then(|c| c.first())
        .map_or(OUTCOME.to_string(), |s| s.name.clone());
    wrapper.catch(&["States.ALL"], FAILURE, &first_finally);
    for i in 0..chains.len() {
        let next = chains
            .get(i + 1)
            .and_then(|c| c.first())
            .map_or(OUTCOME.to_string(), |s| s.name.clone());
        states::resolve_next_step(&mut chains[i], &next);
    }
    let mut out = vec![wrapper];
    out.extend(chains.into_iter().flatten());
    out.push(State {
        name: OUTCOME.into(),
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            (
                "Choices".to_string(),
                json!([{"Variable": FAILURE, "IsNull": false, "Next": FAILED}]),
            ),
            ("Default".to_string(), json!("Succeeded")),
        ]),
    });
    out.push(State {
        name: FAILED.into(),
        body: Map::from_iter([
            ("Type".to_string(), json!("Fail")),
            ("ErrorPath".to_string(), json!(format!("{FAILURE}.Error"))),
            ("CausePath".to_string(), json!(format!("{FAILURE}.Cause"))),
        ]),
    });
    out
}

/// A Fail state of the main steps (a job that ended FAILED, a wait that timed out)
/// becomes a Pass state keeping its error and cause in `$.failure` and ending the
/// branch as a caught error does: a Fail state would fail the branch, and the
/// Parallel's Catch would go on from its own input, without the outputs of the steps
/// that ran (a finally `when` reading whether the submit-job succeeded would not see
/// it).
fn keep_outputs_on_failing(state: &mut State) {
    if state.body.get("Type") != Some(&json!("Fail")) {
        return;
    }
    let (Some(error), Some(cause)) = (state.body.get("Error"), state.body.get("Cause")) else {
        return;
    };
    state.body = Map::from_iter([
        ("Type".to_string(), json!("Pass")),
        (
            "Result".to_string(),
            json!({"Error": error, "Cause": cause}),
        ),
        ("ResultPath".to_string(), json!(FAILURE)),
        ("Next".to_string(), json!(MAIN_FAILED)),
    ]);
}

/// Whether the state already catches every error (`continue_on_error`): a second
/// `States.ALL` after it would never be reached.
fn catches_everything(state: &State) -> bool {
    state
        .body
        .get("Catch")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["ErrorEquals"] == json!(["States.ALL"])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::states::NEXT_STEP;

    #[test]
    fn both_outcomes_go_through_the_finally_steps_and_the_failure_is_restored() {
        let task = State::task("job run".into(), "arn:aws:states:::r", json!({}));
        let mut kept_going = State::task("other run".into(), "arn:aws:states:::r", json!({}));
        kept_going.catch(&["States.ALL"], "$.scratch.other_error", NEXT_STEP);
        let cleanup = State::pass("cleanup outputs".into(), json!({}));
        let keys = [
            "steps".to_string(),
            "scratch".to_string(),
            "failure".to_string(),
        ];
        let ended = super::super::status_polling::fail(
            "job ended FAILED".into(),
            "JobRunEnded",
            "the job run ended FAILED",
        );
        let out = states(vec![task, kept_going, ended], vec![vec![cleanup]], &keys);
        let names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [MAIN, "cleanup outputs", OUTCOME, FAILED]);
        let wrapper = &out[0].body;
        assert_eq!(
            wrapper["Catch"],
            json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "cleanup outputs"}])
        );
        assert_eq!(wrapper["ResultSelector"]["failure.$"], "$[0].failure");
        let branch = &wrapper["Branches"][0]["States"];
        assert_eq!(
            branch["job run"]["Catch"],
            json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": MAIN_FAILED}])
        );
        // continue_on_error keeps its own catch, to the end of the main steps.
        assert_eq!(
            branch["other run"]["Catch"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(branch["other run"]["Catch"][0]["Next"], MAIN_DONE);
        // A Fail state keeps its error with the outputs so far, as a caught error does.
        assert_eq!(
            branch["job ended FAILED"],
            json!({"Type": "Pass", "Result": {"Error": "JobRunEnded", "Cause": "the job run ended FAILED"}, "ResultPath": "$.failure", "Next": MAIN_FAILED})
        );
        assert_eq!(branch[MAIN_DONE]["End"], true);
        assert_eq!(branch[MAIN_FAILED]["End"], true);
        assert_eq!(out[2].body["Choices"][0]["Next"], FAILED);
        assert_eq!(out[3].body["ErrorPath"], "$.failure.Error");
    }
}
