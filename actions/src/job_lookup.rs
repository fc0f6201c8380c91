//! Looking up what job steps name: a virtual cluster by name or id, a role by name or
//! ARN, a job run by id. Shared by `submit-job`, `wait-for-job` and `cancel-job`.

use crate::context::StepContext;
use crate::error::ActionError;
use crate::target::{JobRunInfo, VirtualClusterInfo};

/// The RUNNING virtual cluster called `wanted` (a name or an id).
pub(crate) async fn virtual_cluster(ctx: &StepContext, wanted: &str) -> Result<VirtualClusterInfo, ActionError> {
    let all = ctx.target.emr.list_virtual_clusters().await?;
    if let Some(vc) = all.iter().find(|vc| vc.state == "RUNNING" && (vc.id == wanted || vc.name == wanted)) {
        return Ok(vc.clone());
    }
    let known: Vec<&str> = all.iter().filter(|vc| vc.state == "RUNNING").map(|vc| vc.name.as_str()).collect();
    Err(ActionError::Failed(format!(
        "unknown virtual cluster `{wanted}`: no RUNNING virtual cluster has that name or id (known: {}); register it with `register-vc`",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )))
}

/// The ARN of a role given by name or ARN.
pub(crate) async fn role_arn(ctx: &StepContext, role: &str) -> Result<String, ActionError> {
    if role.starts_with("arn:") {
        return Ok(role.to_string());
    }
    match ctx.target.iam.get_role(role).await? {
        Some(r) => Ok(r.arn),
        None => Err(ActionError::Failed(format!(
            "unknown job execution role `{role}`; create it with `create-job-role` or give its ARN"
        ))),
    }
}

/// The job run `job_id`, in `virtual_cluster_id` if given, else wherever it is.
pub(crate) async fn job_run(ctx: &StepContext, job_id: &str, virtual_cluster_id: Option<&str>) -> Result<JobRunInfo, ActionError> {
    match virtual_cluster_id {
        Some(vc) => ctx.target.emr.describe_job_run(vc, job_id).await,
        None => ctx
            .target
            .emr
            .find_job_run_by_id(job_id)
            .await?
            .ok_or_else(|| ActionError::Failed(format!("unknown job run `{job_id}`"))),
    }
}
