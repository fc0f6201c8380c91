//! `cancel-job` as Task states making the run's calls in the run's order: DescribeJobRun,
//! a Choice on the job's state, CancelJobRun only when the job has not ended, and
//! DescribeJobRun again for the state after the request (the step's `state` output).
//!
//! Why the job is described first rather than CancelJobRun's error caught: the run
//! decides on the described state (an ended job is left alone with `if_running: true`,
//! fails the step otherwise), and the errors EMR on EKS documents for CancelJobRun
//! (ValidationException, ResourceNotFoundException, InternalServerException) do not tell
//! an ended job from a malformed request or a wrong id, so catching one could hide those.
//! An unknown job fails the step either way (DescribeJobRun's error), as the run's lookup
//! does; a job ending between the look and the cancel fails it too, as in the run.

use serde_json::{Map, Value, json};

use super::action_mapping::Builder;
use super::job_polling::{ENDED, job_run};
use super::refusal::Unexportable;
use super::runtime_value::marker;
use super::states::State;
use super::status_polling::fail;

pub(super) fn cancel_job(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let (job, virtual_cluster) = job_run(b)?;
    let if_running = match b.step.with.get("if_running") {
        None => false,
        Some(Value::Bool(known)) => *known,
        Some(_) => return Err(Unexportable::IfRunningAtRunTime),
    };
    let described = b.scratch("job");
    let outputs = b.name("outputs");
    let cancel = b.name("CancelJobRun");
    let job_run = json!({"Id": job, "VirtualClusterId": virtual_cluster});
    // Each look keeps the state and whether a cancellation was requested before it.
    let describe = |cancelled: bool| {
        [
            (
                "ResultSelector".to_string(),
                json!({"state.$": "$.JobRun.State", "cancelled": cancelled}),
            ),
            ("ResultPath".to_string(), json!(described)),
        ]
    };
    b.task(
        "DescribeJobRun",
        "aws-sdk:emrcontainers:describeJobRun",
        job_run.clone(),
        &[("EMR on EKS", "DescribeJobRun", json!({}))],
    )?
    .body
    .extend(describe(false));
    let choices: Vec<Value> = ENDED
        .iter()
        .map(|state| {
            let next = if if_running {
                outputs.clone()
            } else {
                b.name(&format!("ended {state}"))
            };
            json!({"Variable": format!("{described}.state"), "StringEquals": state, "Next": next})
        })
        .collect();
    b.mapping.states.push(State {
        name: b.name("ended?"),
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), Value::Array(choices)),
            ("Default".to_string(), json!(cancel)),
        ]),
    });
    if !if_running {
        for state in ENDED {
            b.mapping.states.push(fail(
                b.name(&format!("ended {state}")),
                "JobRunEnded",
                &format!(
                    "the job run has already ended {state}; use `if_running: true` to allow that"
                ),
            ));
        }
    }
    b.task(
        "CancelJobRun",
        "aws-sdk:emrcontainers:cancelJobRun",
        job_run.clone(),
        &[("EMR on EKS", "CancelJobRun", json!({}))],
    )?;
    b.task(
        "DescribeJobRun after the request",
        "aws-sdk:emrcontainers:describeJobRun",
        job_run,
        &[],
    )?
    .body
    .extend(describe(true));
    b.outputs(
        &["job_id", "cancelled", "state"],
        json!({
            "job_id": job,
            "cancelled": marker(&format!("{described}.cancelled")),
            "state": marker(&format!("{described}.state")),
        }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::action_mapping::{Mapping, map_alone};
    use super::super::runtime_value::marker;

    fn mapped(with: &Value) -> Result<Mapping, super::Unexportable> {
        map_alone("cancel", "cancel-job", with)
    }

    #[test]
    fn a_job_still_running_is_cancelled_and_an_ended_one_left_alone_if_running() {
        let with = json!({
            "job": marker("$.steps.job.job_id"),
            "virtual_cluster_id": marker("$.steps.job.virtual_cluster_id"),
            "if_running": true,
        });
        let mapping = mapped(&with).expect("maps");
        let names: Vec<&str> = mapping.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cancel DescribeJobRun",
                "cancel ended?",
                "cancel CancelJobRun",
                "cancel DescribeJobRun after the request",
                "cancel outputs",
            ]
        );
        let cancel = mapping.state("cancel CancelJobRun");
        assert_eq!(
            cancel["Resource"],
            "arn:aws:states:::aws-sdk:emrcontainers:cancelJobRun"
        );
        assert_eq!(
            cancel["Parameters"],
            json!({"Id.$": "$.steps.job.job_id", "VirtualClusterId.$": "$.steps.job.virtual_cluster_id"})
        );
        let ended = mapping.state("cancel ended?");
        assert_eq!(ended["Default"], "cancel CancelJobRun");
        assert!(
            ended["Choices"]
                .as_array()
                .expect("rules")
                .iter()
                .all(|rule| rule["Next"] == "cancel outputs"),
            "an ended job is left alone: {ended:?}"
        );
        assert_eq!(
            mapping.state("cancel DescribeJobRun")["ResultSelector"]["cancelled"],
            false
        );
        assert_eq!(
            mapping.state("cancel DescribeJobRun after the request")["ResultSelector"]["cancelled"],
            true
        );
        assert_eq!(mapping.output_names, ["job_id", "cancelled", "state"]);
        let operations: Vec<&str> = mapping
            .calls
            .iter()
            .filter_map(|c| c["operation"].as_str())
            .collect();
        assert_eq!(operations, ["DescribeJobRun", "CancelJobRun"]);
    }

    #[test]
    fn without_if_running_an_ended_job_fails_the_step_and_the_virtual_cluster_is_needed() {
        let with = json!({"job": "j-1", "virtual_cluster_id": "vc-1"});
        let mapping = mapped(&with).expect("maps");
        let ended = mapping.state("cancel ended COMPLETED");
        assert_eq!(ended["Type"], "Fail");
        assert_eq!(
            ended["Cause"],
            "the job run has already ended COMPLETED; use `if_running: true` to allow that"
        );
        let refused = mapped(&json!({"job": "j-1", "if_running": true}))
            .expect_err("no virtual cluster")
            .to_string();
        assert_eq!(
            refused,
            "without `virtual_cluster_id`, cancel-job looks for the job in every virtual cluster, which is not exported; give `virtual_cluster_id` (a submit-job step's output)"
        );
    }
}
