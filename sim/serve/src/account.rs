//! The AWS account around a served simulator that the `aws` target drives
//! (`runbook sim serve --for-aws`): EKS, EMR on EKS and the clusters are the
//! simulator's, but IAM and S3 are the account's (moto in tests), where the run's
//! steps made the job roles and wrote the pod templates.
//!
//! EMR on EKS reads two things of the account when a job starts: the execution role
//! it runs as and the pod templates Spark applies. The served EMR reads them from the
//! account's IAM and S3 as the real service does, and copies them into the simulated
//! world, whose StartJobRun checks the role and places pods by the templates'
//! priority classes.

use std::sync::Arc;

use runbook_backend::{ActionError, Iam, JobRunRequest, S3};
use runbook_backend_sim::SimTarget;
use runbook_sim::s3::parse_s3_uri;

/// The account's IAM and S3.
pub struct Account {
    pub iam: Arc<dyn Iam>,
    pub s3: Arc<dyn S3>,
}

impl Account {
    /// Copies the job's execution role and pod templates from the account into the
    /// simulated world (what the world has already is kept). What the account lacks
    /// is left out, so the simulator's StartJobRun refuses the job as EMR would.
    pub(crate) async fn bring_in(
        &self,
        target: &SimTarget,
        request: &JobRunRequest,
    ) -> Result<(), ActionError> {
        let role_name = role_name(&request.execution_role_arn);
        if target.world().role(role_name).is_err()
            && let Some(role) = self.iam.get_role(role_name).await?
        {
            let trust = role.trust_policy.to_string();
            target.act("IAM", "GetRole", role_name, |w| {
                w.create_role(role_name, Some(trust)).map(|_| ())
            })?;
        }
        for uri in [&request.driver_pod_template, &request.executor_pod_template]
            .into_iter()
            .flatten()
        {
            let Ok((bucket, key)) = parse_s3_uri(uri) else {
                continue;
            };
            let Some(content) = self.s3.get_object(bucket, key).await? else {
                continue;
            };
            target.act("S3", "GetObject", uri, |w| {
                if w.bucket(bucket).is_err() {
                    w.create_bucket(bucket)?;
                }
                w.put_object(bucket, key, content)
            })?;
        }
        Ok(())
    }
}

/// `NAME` of `arn:aws:iam::ACCOUNT:role/PATH/NAME` (or a bare name).
fn role_name(arn: &str) -> &str {
    let name = arn.rsplit_once(":role/").map_or(arn, |(_, n)| n);
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::role_name;

    #[test]
    fn a_role_is_named_by_the_last_part_of_its_arn() {
        assert_eq!(role_name("arn:aws:iam::123456789012:role/jobs"), "jobs");
        assert_eq!(role_name("arn:aws:iam::123456789012:role/emr/jobs"), "jobs");
        assert_eq!(role_name("jobs"), "jobs");
    }
}
