//! Looking up what job steps name: a virtual cluster by name or id, a role by name or
//! ARN, a job run by id. Shared by `submit-job`, `wait-for-job` and `cancel-job`.

use crate::context::StepContext;
use crate::planned_call::{PlannedCall, PlannedCalls};
use runbook_backend::ActionError;
use runbook_backend::{JobRunInfo, Target, VirtualClusterInfo};

/// The RUNNING virtual cluster called `wanted` (a name or an id).
pub(crate) async fn virtual_cluster(
    ctx: &StepContext,
    wanted: &str,
) -> Result<VirtualClusterInfo, ActionError> {
    let all = ctx.target.emr.list_virtual_clusters().await?;
    if let Some(vc) = all
        .iter()
        .find(|vc| vc.state == "RUNNING" && (vc.id == wanted || vc.name == wanted))
    {
        return Ok(vc.clone());
    }
    let known: Vec<&str> = all
        .iter()
        .filter(|vc| vc.state == "RUNNING")
        .map(|vc| vc.name.as_str())
        .collect();
    Err(ActionError::Failed(format!(
        "unknown virtual cluster `{wanted}`: no RUNNING virtual cluster has that name or id (known: {}); register it with `register-vc`",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
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
pub(crate) async fn job_run(
    ctx: &StepContext,
    job_id: &str,
    virtual_cluster_id: Option<&str>,
) -> Result<JobRunInfo, ActionError> {
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

/// The calls [`virtual_cluster`] makes on `target`.
pub(crate) fn planned_virtual_cluster(target: &Target, wanted: &str) -> Vec<PlannedCall> {
    target.emr.planned_list_virtual_clusters().note(&format!(
        "finds the RUNNING virtual cluster named or with id `{wanted}`"
    ))
}

/// The ARN [`role_arn`] would return as a plan shows it, and the calls it makes for a
/// role given by name.
pub(crate) fn planned_role_arn(target: &Target, role: &str) -> (String, Vec<PlannedCall>) {
    if role.starts_with("arn:") {
        return (role.to_string(), Vec::new());
    }
    let lookup = target.iam.planned_get_role(role).note("for its ARN");
    (format!("<ARN of role {role}>"), lookup)
}

/// The calls [`job_run`] makes, and the virtual cluster id as a plan shows it.
pub(crate) fn planned_job_run(
    target: &Target,
    job_id: &str,
    virtual_cluster_id: Option<&str>,
) -> (Vec<PlannedCall>, String) {
    match virtual_cluster_id {
        Some(vc) => (
            target.emr.planned_describe_job_run(vc, job_id),
            vc.to_string(),
        ),
        None => (
            target.emr.planned_find_job_run_by_id(job_id),
            format!("<virtual cluster of job {job_id}>"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::{SimWorld, low_job};

    #[tokio::test]
    async fn virtual_clusters_by_name_or_id_and_only_running_ones() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        {
            let ctx = world.ctx("k", "t");
            let err = super::virtual_cluster(&ctx, "a-emr-cluster")
                .await
                .expect_err("none yet");
            assert_eq!(
                err.to_string(),
                "unknown virtual cluster `a-emr-cluster`: no RUNNING virtual cluster has that name or id (known: none); register it with `register-vc`"
            );
        }
        let a = world
            .run("register-vc", json!({"namespace": "a"}))
            .await
            .expect("a");
        world
            .run("register-vc", json!({"namespace": "b"}))
            .await
            .expect("b");
        let a_id = a["virtual_cluster_id"].as_str().expect("id");
        {
            let ctx = world.ctx("k", "t");
            let by_name = super::virtual_cluster(&ctx, "a-emr-cluster")
                .await
                .expect("by name");
            assert_eq!(by_name.id, a_id);
            assert_eq!(by_name.namespace, "a");
            let by_id = super::virtual_cluster(&ctx, a_id).await.expect("by id");
            assert_eq!(by_id.name, "a-emr-cluster");
        }
        world
            .run("delete-vc", json!({"virtual_cluster": a_id}))
            .await
            .expect("deleted");
        let ctx = world.ctx("k", "t");
        let err = super::virtual_cluster(&ctx, "a-emr-cluster")
            .await
            .expect_err("a deleted one is not found");
        assert!(err.to_string().contains("(known: b-emr-cluster)"), "{err}");
    }

    #[tokio::test]
    async fn roles_by_name_or_arn() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        world
            .run(
                "create-job-role",
                json!({"name": "a-JobExecutionRole", "namespace": "a"}),
            )
            .await
            .expect("role");
        let ctx = world.ctx("k", "t");
        assert_eq!(
            super::role_arn(&ctx, "a-JobExecutionRole")
                .await
                .expect("by name"),
            "arn:aws:iam::123456789012:role/a-JobExecutionRole"
        );
        // An ARN is the caller's to vouch for (it may be in another account).
        let foreign = "arn:aws:iam::210987654321:role/elsewhere";
        assert_eq!(
            super::role_arn(&ctx, foreign).await.expect("as given"),
            foreign
        );
        let err = super::role_arn(&ctx, "b-JobExecutionRole")
            .await
            .expect_err("unknown");
        assert!(
            err.to_string()
                .starts_with("unknown job execution role `b-JobExecutionRole`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn job_runs_by_id_with_or_without_their_virtual_cluster() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let job = world.submit(low_job(), "low").await;
        let ctx = world.ctx("k", "t");
        let found = super::job_run(&ctx, &job, None).await.expect("anywhere");
        assert_eq!(found.name, "monthly-batch-low-priority-job");
        let in_vc = super::job_run(&ctx, &job, Some(&found.virtual_cluster_id))
            .await
            .expect("in its virtual cluster");
        assert_eq!(in_vc.id, job);
        let err = super::job_run(&ctx, "nope", None)
            .await
            .expect_err("unknown");
        assert_eq!(err.to_string(), "unknown job run `nope`");
        let err = super::job_run(&ctx, &job, Some("other-vc"))
            .await
            .expect_err("not in that virtual cluster");
        assert!(
            err.to_string().starts_with("EMR DescribeJobRun of"),
            "{err}"
        );
    }
}
