//! A `wait-for-job` that is not folded into its submit-job's `startJobRun.sync` (it
//! waits for a job started earlier, or elsewhere): DescribeJobRun every
//! [`POLL_INTERVAL`] until the job ends, as the run polls it, with a Choice on its
//! state and a count of polls that bounds the wait by the step's `timeout`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::WAIT_FOR_JOB_DEFAULT_TIMEOUT;
use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;
use super::runtime_value::{is_dynamic, marker};
use super::states::State;

/// How long the state machine waits between two looks at the job.
const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// The states a job run ends in.
pub(super) const ENDED: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];

/// The `job` and `virtual_cluster_id` of a step acting on a job run: the run finds a job
/// without its virtual cluster by looking in every one, which no integration does.
pub(super) fn job_run(b: &Builder<'_>) -> Result<(Value, Value), Unexportable> {
    let with = b.step.with;
    let virtual_cluster = field(with, "virtual_cluster_id").clone();
    if virtual_cluster.is_null() {
        return Err(Unexportable::EveryVirtualClusterSearched {
            action: b.step.action.name(),
        });
    }
    Ok((field(with, "job").clone(), virtual_cluster))
}

pub(super) fn wait_for_job(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let with = b.step.with;
    let (job, virtual_cluster) = job_run(b)?;
    let expected: Vec<String> = match with.get("expect") {
        None => vec!["COMPLETED".to_string()],
        Some(Value::Array(states)) => states
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or(Unexportable::ExpectedStatesAtRunTime)?,
        Some(_) => return Err(Unexportable::ExpectedStatesNotAList),
    };
    let timeout = match with.get("timeout") {
        None => WAIT_FOR_JOB_DEFAULT_TIMEOUT,
        Some(Value::String(text)) if !is_dynamic(text) => {
            runbook_backend::duration::parse_duration(text)
                .map_err(Unexportable::TimeoutUnreadable)?
        }
        Some(_) => return Err(Unexportable::TimeoutAtRunTime),
    };
    let polls = timeout.as_secs().div_ceil(POLL_INTERVAL.as_secs()).max(1);
    let count = b.scratch("polls");
    let described = b.scratch("job");
    let describe = b.name("DescribeJobRun");
    let outputs = b.name("outputs");
    let timed_out = b.name("timed out");
    b.mapping
        .states
        .push(State::pass(b.name("start"), json!({"polls": 0})).set("ResultPath", json!(count)));
    b.task(
        "DescribeJobRun",
        "aws-sdk:emrcontainers:describeJobRun",
        json!({"Id": job, "VirtualClusterId": virtual_cluster}),
        &[("EMR on EKS", "DescribeJobRun", json!({}))],
    )?
    .body
    .extend([
        (
            "ResultSelector".into(),
            json!({"state.$": "$.JobRun.State"}),
        ),
        ("ResultPath".into(), json!(described)),
    ]);
    let mut choices: Vec<Value> = ENDED
        .iter()
        .map(|state| {
            let next = if expected.iter().any(|e| e == state) {
                outputs.clone()
            } else {
                b.name(&format!("ended {state}"))
            };
            json!({"Variable": format!("{described}.state"), "StringEquals": state, "Next": next})
        })
        .collect();
    choices.push(json!({"Variable": format!("{count}.polls"), "NumericGreaterThanEquals": polls, "Next": timed_out}));
    b.mapping.states.push(State {
        name: b.name("ended?"),
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), Value::Array(choices)),
            ("Default".to_string(), json!(b.name("wait"))),
        ]),
    });
    b.mapping.states.push(State {
        name: b.name("wait"),
        body: Map::from_iter([
            ("Type".to_string(), json!("Wait")),
            ("Seconds".to_string(), json!(POLL_INTERVAL.as_secs())),
        ]),
    });
    b.mapping.states.push(
        State::pass(
            b.name("count"),
            json!({"polls.$": format!("States.MathAdd({count}.polls, 1)")}),
        )
        .set("ResultPath", json!(count))
        .set("Next", json!(describe)),
    );
    let wanted = expected.join(" or ");
    for state in ENDED.iter().filter(|s| !expected.iter().any(|e| e == *s)) {
        b.mapping.states.push(fail(
            b.name(&format!("ended {state}")),
            "JobRunEnded",
            &format!("the job run ended {state}, not {wanted}"),
        ));
    }
    b.mapping.states.push(fail(
        timed_out,
        "JobRunTimeout",
        &format!(
            "the job run did not end within the step's timeout ({} polls {} s apart)",
            polls,
            POLL_INTERVAL.as_secs()
        ),
    ));
    b.mapping
        .integrations
        .push("Wait + Choice until it ends".to_string());
    b.outputs(
        &["state", "job_id"],
        json!({"state": marker(&format!("{described}.state")), "job_id": job}),
    )
}

/// A Fail state ending the execution with `error` and `cause`.
pub(super) fn fail(name: String, error: &str, cause: &str) -> State {
    State {
        name,
        body: Map::from_iter([
            ("Type".to_string(), json!("Fail")),
            ("Error".to_string(), json!(error)),
            ("Cause".to_string(), json!(cause)),
        ]),
    }
}
