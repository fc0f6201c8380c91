//! The operations actions use, one trait per service. Each target implements them:
//! `sim` on the simulated world, `aws` with aws-sdk-rust and kube-rs. Actions hold the
//! logic that must not differ between targets (adoption, validation, outputs); the
//! targets hold only the calls.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::model::{
    AppliedObject, AutoscalingRequest, ClusterInfo, ClusterRequest, JobRunInfo, JobRunRequest,
    LogGroupInfo, NodeInfo, PodInfo, PriorityClassRequest, RoleInfo, VirtualClusterInfo,
};
use crate::error::ActionError;

/// Results of target calls; errors say which service call failed and its error code.
pub type TargetResult<T> = Result<T, ActionError>;

/// Amazon EKS: clusters and their node groups.
#[async_trait]
pub trait Eks: Send + Sync {
    /// The cluster called `name`, if it exists.
    async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>>;
    /// Starts creating the cluster and its node group (and, on `aws`, its OIDC provider
    /// for IRSA); returns at once, usually `CREATING`. `token` makes a replayed request
    /// idempotent.
    async fn create_cluster(
        &self,
        request: &ClusterRequest,
        token: &str,
    ) -> TargetResult<ClusterInfo>;
    /// Once the control plane is ACTIVE: what EKS only accepts then, adopting what
    /// exists (on `aws`, the managed node group and the IAM OIDC provider for IRSA; the
    /// simulator builds the node group with the cluster).
    async fn complete_cluster(
        &self,
        cluster: &ClusterInfo,
        request: &ClusterRequest,
        token: &str,
    ) -> TargetResult<()>;
    /// Deletes the cluster (and its node groups); `false` if it did not exist.
    async fn delete_cluster(&self, name: &str) -> TargetResult<bool>;
}

/// The cluster's Kubernetes API.
#[async_trait]
pub trait Kube: Send + Sync {
    /// Creates a namespace; `false` if it already existed.
    async fn create_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool>;
    /// Lets EMR on EKS run jobs in `namespace`: on `aws`, the RBAC Role and RoleBinding
    /// `emr-containers` (eksctl's rules) and the aws-auth identity mapping of the EMR
    /// service-linked role of `account_id`. The simulated EMR needs no access rules.
    async fn grant_emr_access(
        &self,
        cluster: &str,
        namespace: &str,
        account_id: &str,
    ) -> TargetResult<()>;
    /// Deletes a namespace and what is in it; `false` if it did not exist.
    async fn delete_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool>;
    /// Creates a PriorityClass; `false` if one with the same value and default flag
    /// already existed (adopted). A different one of the same name is an error.
    async fn create_priority_class(
        &self,
        cluster: &str,
        request: &PriorityClassRequest,
    ) -> TargetResult<bool>;
    /// Deletes a PriorityClass; `false` if it did not exist.
    async fn delete_priority_class(&self, cluster: &str, name: &str) -> TargetResult<bool>;
    /// Applies Kubernetes objects (server-side apply on `aws`).
    async fn apply_manifest(
        &self,
        cluster: &str,
        documents: &[serde_json::Value],
    ) -> TargetResult<Vec<AppliedObject>>;
    /// Installs a Karpenter-like autoscaler (NodePool/Provisioner).
    async fn enable_autoscaling(
        &self,
        cluster: &str,
        request: &AutoscalingRequest,
    ) -> TargetResult<()>;
    /// The cluster steps mean when they name none: the only one there is.
    async fn default_cluster(&self) -> TargetResult<String>;
    /// The cluster's nodes.
    async fn nodes(&self, cluster: &str) -> TargetResult<Vec<NodeInfo>>;
    /// Pods in `namespace` (all namespaces if `None`) whose labels include `selector`.
    async fn pods(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        selector: &BTreeMap<String, String>,
    ) -> TargetResult<Vec<PodInfo>>;
}

/// Amazon EMR on EKS (emr-containers).
#[async_trait]
pub trait Emr: Send + Sync {
    /// Virtual clusters that are not terminated.
    async fn list_virtual_clusters(&self) -> TargetResult<Vec<VirtualClusterInfo>>;
    async fn create_virtual_cluster(
        &self,
        name: &str,
        cluster: &str,
        namespace: &str,
        token: &str,
    ) -> TargetResult<VirtualClusterInfo>;
    /// Deletes a virtual cluster; `false` if it did not exist or was already deleted.
    async fn delete_virtual_cluster(&self, id: &str) -> TargetResult<bool>;
    /// Starts a job run; `request.client_token` makes a replayed request return the
    /// same job.
    async fn start_job_run(&self, request: &JobRunRequest) -> TargetResult<JobRunInfo>;
    /// The job run of `virtual_cluster_id` started with `client_token`, if any
    /// (`aws` finds it by the name and token recorded in its tags).
    async fn find_job_run(
        &self,
        virtual_cluster_id: &str,
        client_token: &str,
    ) -> TargetResult<Option<JobRunInfo>>;
    async fn describe_job_run(
        &self,
        virtual_cluster_id: &str,
        job_id: &str,
    ) -> TargetResult<JobRunInfo>;
    /// A job run by id alone, in any virtual cluster.
    async fn find_job_run_by_id(&self, job_id: &str) -> TargetResult<Option<JobRunInfo>>;
    async fn cancel_job_run(&self, virtual_cluster_id: &str, job_id: &str) -> TargetResult<()>;
}

/// AWS IAM.
#[async_trait]
pub trait Iam: Send + Sync {
    async fn get_role(&self, name: &str) -> TargetResult<Option<RoleInfo>>;
    /// Creates a role with a trust policy and tags.
    async fn create_role(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
        tags: &BTreeMap<String, String>,
    ) -> TargetResult<RoleInfo>;
    async fn update_trust_policy(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
    ) -> TargetResult<()>;
    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &serde_json::Value,
    ) -> TargetResult<()>;
    /// Deletes a role and its inline policies; `false` if it did not exist.
    async fn delete_role(&self, name: &str) -> TargetResult<bool>;
}

/// Amazon CloudWatch Logs.
#[async_trait]
pub trait Logs: Send + Sync {
    /// Creates a log group (or adopts an existing one) and sets its retention.
    async fn create_log_group(
        &self,
        name: &str,
        retention_days: Option<u32>,
    ) -> TargetResult<LogGroupInfo>;
    /// Deletes a log group; `false` if it did not exist.
    async fn delete_log_group(&self, name: &str) -> TargetResult<bool>;
}

/// Amazon S3.
#[async_trait]
pub trait S3: Send + Sync {
    /// Creates a bucket in the target's region; `false` if we already owned it.
    async fn create_bucket(&self, name: &str) -> TargetResult<bool>;
    /// Deletes a bucket, first emptying it when `force`; `false` if it did not exist.
    async fn delete_bucket(&self, name: &str, force: bool) -> TargetResult<bool>;
    /// Writes an object.
    async fn put_object(&self, bucket: &str, key: &str, content: &[u8]) -> TargetResult<()>;
}
