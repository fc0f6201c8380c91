//! A target whose cloud services are missing: every call says so and why.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::model::*;
use super::services::*;
use super::{Clock, ObservedEvent, Observer, Participant, WaitOutcome};
use crate::error::ActionError;

pub(super) struct Unavailable {
    pub(super) target: &'static str,
    pub(super) reason: String,
}

impl Unavailable {
    fn refuse<T>(&self, action: &'static str) -> TargetResult<T> {
        Err(ActionError::Unsupported {
            action,
            target: self.target,
            reason: self.reason.clone(),
        })
    }
}

#[async_trait]
impl Eks for Unavailable {
    async fn describe_cluster(&self, _: &str) -> TargetResult<Option<ClusterInfo>> {
        self.refuse("create-cluster")
    }
    async fn create_cluster(&self, _: &ClusterRequest, _: &str) -> TargetResult<ClusterInfo> {
        self.refuse("create-cluster")
    }
    async fn complete_cluster(
        &self,
        _: &ClusterInfo,
        _: &ClusterRequest,
        _: &str,
    ) -> TargetResult<()> {
        self.refuse("create-cluster")
    }
    async fn delete_cluster(&self, _: &str) -> TargetResult<bool> {
        self.refuse("delete-cluster")
    }
}

#[async_trait]
impl Kube for Unavailable {
    async fn create_namespace(&self, _: &str, _: &str) -> TargetResult<bool> {
        self.refuse("create-namespace")
    }
    async fn grant_emr_access(&self, _: &str, _: &str, _: &str) -> TargetResult<()> {
        self.refuse("register-vc")
    }
    async fn delete_namespace(&self, _: &str, _: &str) -> TargetResult<bool> {
        self.refuse("delete-namespace")
    }
    async fn create_priority_class(&self, _: &str, _: &PriorityClassRequest) -> TargetResult<bool> {
        self.refuse("create-priority-class")
    }
    async fn delete_priority_class(&self, _: &str, _: &str) -> TargetResult<bool> {
        self.refuse("delete-priority-class")
    }
    async fn apply_manifest(
        &self,
        _: &str,
        _: &[serde_json::Value],
    ) -> TargetResult<Vec<AppliedObject>> {
        self.refuse("apply-manifest")
    }
    async fn enable_autoscaling(&self, _: &str, _: &AutoscalingRequest) -> TargetResult<()> {
        self.refuse("enable-autoscaling")
    }
    async fn default_cluster(&self) -> TargetResult<String> {
        self.refuse("wait-for-pods")
    }
    async fn nodes(&self, _: &str) -> TargetResult<Vec<NodeInfo>> {
        self.refuse("wait-for-pods")
    }
    async fn pods(
        &self,
        _: &str,
        _: Option<&str>,
        _: &BTreeMap<String, String>,
    ) -> TargetResult<Vec<PodInfo>> {
        self.refuse("wait-for-pods")
    }
}

#[async_trait]
impl Emr for Unavailable {
    async fn list_virtual_clusters(&self) -> TargetResult<Vec<VirtualClusterInfo>> {
        self.refuse("register-vc")
    }
    async fn create_virtual_cluster(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &str,
    ) -> TargetResult<VirtualClusterInfo> {
        self.refuse("register-vc")
    }
    async fn delete_virtual_cluster(&self, _: &str) -> TargetResult<bool> {
        self.refuse("delete-vc")
    }
    async fn start_job_run(&self, _: &JobRunRequest) -> TargetResult<JobRunInfo> {
        self.refuse("submit-job")
    }
    async fn find_job_run(&self, _: &str, _: &str) -> TargetResult<Option<JobRunInfo>> {
        self.refuse("submit-job")
    }
    async fn describe_job_run(&self, _: &str, _: &str) -> TargetResult<JobRunInfo> {
        self.refuse("wait-for-job")
    }
    async fn find_job_run_by_id(&self, _: &str) -> TargetResult<Option<JobRunInfo>> {
        self.refuse("wait-for-job")
    }
    async fn cancel_job_run(&self, _: &str, _: &str) -> TargetResult<()> {
        self.refuse("cancel-job")
    }
}

#[async_trait]
impl Iam for Unavailable {
    async fn get_role(&self, _: &str) -> TargetResult<Option<RoleInfo>> {
        self.refuse("create-job-role")
    }
    async fn create_role(
        &self,
        _: &str,
        _: &serde_json::Value,
        _: &BTreeMap<String, String>,
    ) -> TargetResult<RoleInfo> {
        self.refuse("create-job-role")
    }
    async fn update_trust_policy(&self, _: &str, _: &serde_json::Value) -> TargetResult<()> {
        self.refuse("create-job-role")
    }
    async fn put_role_policy(&self, _: &str, _: &str, _: &serde_json::Value) -> TargetResult<()> {
        self.refuse("create-job-role")
    }
    async fn delete_role(&self, _: &str) -> TargetResult<bool> {
        self.refuse("delete-job-role")
    }
}

#[async_trait]
impl Logs for Unavailable {
    async fn create_log_group(&self, _: &str, _: Option<u32>) -> TargetResult<LogGroupInfo> {
        self.refuse("create-log-group")
    }
    async fn delete_log_group(&self, _: &str) -> TargetResult<bool> {
        self.refuse("delete-log-group")
    }
}

#[async_trait]
impl S3 for Unavailable {
    async fn create_bucket(&self, _: &str) -> TargetResult<bool> {
        self.refuse("create-bucket")
    }
    async fn delete_bucket(&self, _: &str, _: bool) -> TargetResult<bool> {
        self.refuse("delete-bucket")
    }
    async fn put_object(&self, _: &str, _: &str, _: &[u8]) -> TargetResult<()> {
        self.refuse("put-object")
    }
}

#[async_trait]
impl Observer for Unavailable {
    async fn wait_for_change(
        &self,
        clock: &Clock,
        participant: &Participant,
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        match timeout {
            Some(t) => {
                clock.sleep(participant, t).await;
                WaitOutcome::TimedOut
            }
            None => WaitOutcome::Idle,
        }
    }
    fn events(&self) -> Vec<ObservedEvent> {
        Vec::new()
    }
    fn drain_events(&self) -> Vec<ObservedEvent> {
        Vec::new()
    }
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }
}
