//! The EMR job runs a run submitted and that may still be running: what must not be
//! submitted a second time by a fresh run, and what `runbook abandon --cancel-jobs`
//! cancels.

use runbook_backend::Target;
use runbook_state::{StepRecord, StepStatus};

/// A job a `submit-job` step of a run started, or may have started.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmittedJob {
    pub run_id: String,
    pub step_key: String,
    /// The step's idempotency key: the job's `clientToken` and its tag
    /// `runbook:client-token` on `aws`, to find it by when its id is unknown.
    pub client_token: String,
    /// Known once the step succeeded; `None` when the run stopped during the
    /// submission or after a failure that may have reached EMR (the job may exist).
    pub job: Option<JobRef>,
}

/// Where a job run is.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRef {
    pub job_id: String,
    pub virtual_cluster_id: String,
}

/// A submitted job that is not known to have ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveJob {
    pub submitted: SubmittedJob,
    /// EMR's state (`RUNNING`, ...), or why it could not be told.
    pub state: String,
}

impl std::fmt::Display for LiveJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.submitted;
        match &s.job {
            Some(job) => write!(
                f,
                "job run {} (virtual cluster {}) of step {} in run {}: {}",
                job.job_id, job.virtual_cluster_id, s.step_key, s.run_id, self.state
            ),
            None => write!(
                f,
                "step {} in run {} may have submitted a job (tagged runbook:client-token={}): {}",
                s.step_key, s.run_id, s.client_token, self.state
            ),
        }
    }
}

/// The jobs the `submit-job` steps of a run submitted, from its latest attempts.
pub fn submitted_jobs(run_id: &str, attempts: &[StepRecord]) -> Vec<SubmittedJob> {
    attempts
        .iter()
        .filter(|a| a.input.get("action").and_then(|v| v.as_str()) == Some("submit-job"))
        .filter_map(|a| {
            let job = match a.status {
                StepStatus::Succeeded => {
                    let outputs = a.outputs.as_ref()?;
                    let field = |name: &str| {
                        outputs
                            .get(name)
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    };
                    Some(JobRef {
                        job_id: field("job_id")?,
                        virtual_cluster_id: field("virtual_cluster_id")?,
                    })
                }
                StepStatus::Running => None,
                StepStatus::Failed if a.failure == Some(runbook_state::FailureClass::Uncertain) => {
                    None
                }
                StepStatus::Failed | StepStatus::Skipped => return None,
            };
            Some(SubmittedJob {
                run_id: run_id.to_string(),
                step_key: a.step_key.clone(),
                client_token: a.idempotency_key.clone(),
                job,
            })
        })
        .collect()
}

/// Those of `jobs` that are not known to have ended, asking the target. A job whose
/// id is unknown (the run stopped mid-submission) counts as live: nothing can rule
/// it out without the run's own key, which only `resume` uses.
pub async fn live_jobs(target: &Target, jobs: Vec<SubmittedJob>) -> Vec<LiveJob> {
    let mut live = Vec::new();
    for submitted in jobs {
        let state = match &submitted.job {
            None => "the run stopped before it knew the job's id".to_string(),
            Some(job) => match target
                .emr
                .describe_job_run(&job.virtual_cluster_id, &job.job_id)
                .await
            {
                Ok(info) if info.is_terminal() => continue,
                Ok(info) => info.state,
                Err(e) => format!("its state could not be read: {e}"),
            },
        };
        live.push(LiveJob { submitted, state });
    }
    live
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn attempt(
        key: &str,
        action: &str,
        status: StepStatus,
        outputs: Option<serde_json::Value>,
    ) -> StepRecord {
        StepRecord {
            run_id: "r".into(),
            step_key: key.into(),
            step_id: key.into(),
            item_index: None,
            is_finally: false,
            attempt: 1,
            idempotency_key: "k".into(),
            input: json!({"action": action}),
            status,
            outputs,
            error: None,
            failure: None,
            started_at_ms: 0,
            clock_started_at_ms: None,
            finished_at_ms: None,
        }
    }

    #[test]
    fn submitted_jobs_are_read_from_submit_steps_only() {
        let attempts = [
            attempt(
                "low_job",
                "submit-job",
                StepStatus::Succeeded,
                Some(json!({"job_id": "j1", "virtual_cluster_id": "vc1"})),
            ),
            attempt("high_job", "submit-job", StepStatus::Running, None),
            attempt("bad_job", "submit-job", StepStatus::Failed, None),
            attempt(
                "wait",
                "wait-for-job",
                StepStatus::Succeeded,
                Some(json!({})),
            ),
        ];
        let jobs = submitted_jobs("r", &attempts);
        assert_eq!(
            jobs,
            [
                SubmittedJob {
                    run_id: "r".into(),
                    step_key: "low_job".into(),
                    client_token: "k".into(),
                    job: Some(JobRef {
                        job_id: "j1".into(),
                        virtual_cluster_id: "vc1".into()
                    }),
                },
                SubmittedJob {
                    run_id: "r".into(),
                    step_key: "high_job".into(),
                    client_token: "k".into(),
                    job: None,
                },
            ]
        );
    }
}
