//! When a `submit-job` and the `wait-for-job` after it become one
//! `emr-containers:startJobRun.sync` task (with `--integration-style optimized`): the
//! wait is on the job the submit started, expects it COMPLETED, and decides nothing of
//! its own; and no other step reads what one task cannot say apart (whether the submit
//! or the wait succeeded, the job's id), as nightly-batch's `finally` cancel-job does.
//! Otherwise the two stay steps of their own: startJobRun, then DescribeJobRun polls.

use serde_json::{Value, json};

use crate::runbook::{Runbook, StepDef};

/// Whether `wait` is a wait-for-job of `submit`'s job that `startJobRun.sync` does
/// exactly: the job named by `submit`'s output, the default expectation (COMPLETED),
/// and nothing of its own to decide (`when`, `for_each`).
pub(super) fn waits_for(wait: &StepDef, submit: &StepDef) -> bool {
    if wait.action.name() != "wait-for-job"
        || submit.action.name() != "submit-job"
        || wait.when.is_some()
        || wait.for_each.is_some()
        || submit.for_each.is_some()
    {
        return false;
    }
    let job = wait
        .with
        .get("job")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    let compact: String = job.chars().filter(|c| !c.is_whitespace()).collect();
    let expected_ok = match wait.with.get("expect").map(crate::yaml::Node::to_json) {
        None => true,
        Some(Value::Array(states)) => states == [json!("COMPLETED")],
        Some(_) => false,
    };
    compact == format!("{{{{steps.{}.outputs.job_id}}}}", submit.id)
        && wait.with.get("virtual_cluster_id").is_none()
        && expected_ok
}

/// Whether a step other than `submit` and `wait` (and those `left_out` by
/// `--allow-partial`) reads what the `.sync` task would not keep: either step's
/// `status`, the wait's outputs, or the job's id and virtual cluster (the submit keeps
/// only `name` when folded).
pub(super) fn read_apart(
    runbook: &Runbook,
    submit: &StepDef,
    wait: &StepDef,
    left_out: &[String],
) -> bool {
    let lost = [
        format!("steps.{}.status", submit.id),
        format!("steps.{}.status", wait.id),
        format!("steps.{}.outputs", wait.id),
        format!("steps.{}.outputs.job_id", submit.id),
        format!("steps.{}.outputs.virtual_cluster_id", submit.id),
    ];
    runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .filter(|s| s.id != submit.id && s.id != wait.id && !left_out.contains(&s.id))
        .any(|step| {
            let mut text = step.with.to_json().to_string();
            if let Some(when) = &step.when {
                text.push_str(&when.to_json().to_string());
            }
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            lost.iter().any(|read| compact.contains(read.as_str()))
        })
}
