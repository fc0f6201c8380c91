//! A `wait-for-job` that is not folded into its submit-job's `startJobRun.sync` (it
//! waits for a job started earlier, or elsewhere, or `--integration-style sdk` keeps
//! `.sync` out): DescribeJobRun every `--poll-interval` until the job ends, as the run polls it, with a Choice on its
//! state and a count of polls that bounds the wait by the step's `timeout`.

use serde_json::{Value, json};

use super::WAIT_FOR_JOB_DEFAULT_TIMEOUT;
use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;
use super::runtime_value::{DurationNotKnown, known_duration, marker};
use super::status_polling::{Ending, Poll, poll};

/// The states a job run ends in.
pub(super) const ENDED: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];

/// The `job` and `virtual_cluster_id` of a step acting on a job run: the run finds a job
/// without its virtual cluster by looking in every one, which no integration does, so
/// the virtual cluster is given, or known as the submit-job's that started the job.
pub(super) fn job_run(b: &Builder<'_>) -> Result<(Value, Value), Unexportable> {
    let with = b.step.with;
    let mut virtual_cluster = field(with, "virtual_cluster_id").clone();
    if virtual_cluster.is_null()
        && let Some(found) = &b.step.job_virtual_cluster
    {
        virtual_cluster = Value::String(found.clone());
    }
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
    let timeout = match known_duration(field(with, "timeout")) {
        Ok(given) => given.unwrap_or(WAIT_FOR_JOB_DEFAULT_TIMEOUT),
        Err(DurationNotKnown::AtRunTime) => return Err(Unexportable::TimeoutAtRunTime),
        Err(DurationNotKnown::Unreadable(why)) => return Err(Unexportable::TimeoutUnreadable(why)),
    };
    let wanted = expected.join(" or ");
    let ends = ENDED
        .iter()
        .map(|state| {
            let ending = if expected.iter().any(|e| e == state) {
                Ending::Done
            } else {
                Ending::Fail {
                    error: "JobRunEnded",
                    cause: format!("the job run ended {state}, not {wanted}"),
                }
            };
            (*state, ending)
        })
        .collect();
    let described = poll(
        b,
        Poll {
            label: "",
            question: "ended?",
            operation: "DescribeJobRun",
            integration: "aws-sdk:emrcontainers:describeJobRun",
            parameters: json!({"Id": job, "VirtualClusterId": virtual_cluster}),
            iam: ("EMR on EKS", "DescribeJobRun"),
            status: "$.JobRun.State",
            ends,
            then: b.name("outputs"),
            timeout,
            interval: b.step.waiting.poll_interval,
            timeout_error: "JobRunTimeout",
            timeout_cause: "the job run did not end within the step's timeout",
        },
    )?;
    b.outputs(
        &["state", "job_id"],
        json!({"state": marker(&format!("{described}.status")), "job_id": job}),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_timeout_in_bare_seconds_bounds_the_polls() {
        let with = json!({
            "job": marker("$.steps.job.job_id"),
            "virtual_cluster_id": "vc",
            "timeout": 600,
        });
        let mapping =
            super::super::action_mapping::map_alone("done", "wait-for-job", &with).expect("maps");
        // 600 s of looks 30 s apart.
        assert_eq!(
            mapping.state("done ended?")["Choices"][3]["NumericGreaterThanEquals"],
            20
        );
    }
}
