//! The operations actions use, one trait per service. Each target implements them:
//! `sim` on the simulated world, `aws` with aws-sdk-rust and kube-rs. Actions hold the
//! logic that must not differ between targets (adoption, validation, outputs); the
//! targets hold only the calls.
//!
//! Each operation a step's action uses has a `planned_` twin: the calls the operation
//! makes on the target, in order, with their conditions, for `runbook plan --target
//! aws`. The `aws` target builds them with the functions that declare each call as it
//! is sent ([`crate::calls::declared`]); a target that calls no service lists none.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::model::{
    AppliedObject, AutoscalingRequest, ClusterInfo, ClusterRequest, JobRunInfo, JobRunRequest,
    LogGroupInfo, NodeGroupInfo, NodeInfo, ObjectReadiness, PodInfo, PriorityClassRequest,
    RoleInfo, VirtualClusterInfo,
};
use super::readiness::{
    AccessVerdict, ActionVerdict, AutoscalerStatus, BucketOwner, KubeAccess, OfferedVersion,
    SubnetInfo, VcpuQuota,
};
use crate::calls::PlannedCall;
use crate::error::ActionError;

/// Results of target calls; errors say which service call failed and its error code.
pub type TargetResult<T> = Result<T, ActionError>;

/// What an operation answers on a backend that does not implement it: every method has
/// this default, so a backend (or a test double) implements only what it offers.
fn not_offered<T>(service: &'static str, operation: &'static str) -> TargetResult<T> {
    Err(ActionError::NotOffered { service, operation })
}

/// Amazon EKS: clusters and their node groups.
#[async_trait]
pub trait Eks: Send + Sync {
    /// The cluster called `name`, if it exists.
    async fn describe_cluster(&self, _name: &str) -> TargetResult<Option<ClusterInfo>> {
        not_offered("EKS", "DescribeCluster")
    }
    /// Starts creating the cluster and its node group (and, on `aws`, its OIDC provider
    /// for IRSA); returns at once, usually `CREATING`. `token` makes a replayed request
    /// idempotent.
    async fn create_cluster(
        &self,
        _request: &ClusterRequest,
        _token: &str,
    ) -> TargetResult<ClusterInfo> {
        not_offered("EKS", "CreateCluster")
    }
    /// Once the control plane is ACTIVE: what EKS only accepts then, adopting what
    /// exists (on `aws`, the managed node group and the IAM OIDC provider for IRSA; the
    /// simulator builds the node group with the cluster).
    async fn complete_cluster(
        &self,
        _cluster: &ClusterInfo,
        _request: &ClusterRequest,
        _token: &str,
    ) -> TargetResult<()> {
        not_offered("EKS", "CompleteCluster")
    }
    /// Deletes the cluster (and its node groups); `false` if it did not exist.
    async fn delete_cluster(&self, _name: &str) -> TargetResult<bool> {
        not_offered("EKS", "DeleteCluster")
    }
    /// The Kubernetes versions EKS offers for new clusters in the region.
    async fn offered_versions(&self) -> TargetResult<Vec<OfferedVersion>> {
        not_offered("EKS", "DescribeClusterVersions")
    }
    /// The managed node group `name` of `cluster`, if it exists.
    async fn describe_node_group(
        &self,
        _cluster: &str,
        _name: &str,
    ) -> TargetResult<Option<NodeGroupInfo>> {
        not_offered("EKS", "DescribeNodegroup")
    }
    /// Once the cluster is gone: deletes what `create-cluster` made for it besides the
    /// cluster (on `aws`, the VPC and IAM roles it made when the runbook gave none),
    /// and says what it deleted.
    async fn release_cluster(&self, _cluster: &str) -> TargetResult<Vec<String>> {
        not_offered("EKS", "ReleaseCluster")
    }
    /// The names of the cluster's managed node groups.
    async fn node_groups(&self, _cluster: &str) -> TargetResult<Vec<String>> {
        not_offered("EKS", "ListNodegroups")
    }
    /// The calls [`Eks::describe_cluster`] makes.
    fn planned_describe_cluster(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::create_cluster`] makes.
    fn planned_create_cluster(&self, _request: &ClusterRequest, _token: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::complete_cluster`] makes.
    fn planned_complete_cluster(
        &self,
        _request: &ClusterRequest,
        _token: &str,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::delete_cluster`] makes.
    fn planned_delete_cluster(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::release_cluster`] makes.
    fn planned_release_cluster(&self, _cluster: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::describe_node_group`] makes.
    fn planned_describe_node_group(&self, _cluster: &str, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Eks::node_groups`] makes.
    fn planned_node_groups(&self, _cluster: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// The cluster's Kubernetes API.
#[async_trait]
pub trait Kube: Send + Sync {
    /// Creates a namespace; `false` if it already existed.
    async fn create_namespace(&self, _cluster: &str, _name: &str) -> TargetResult<bool> {
        not_offered("Kubernetes", "CreateNamespace")
    }
    /// Lets EMR on EKS run jobs in `namespace`: on `aws`, the RBAC Role and RoleBinding
    /// `emr-containers` (eksctl's rules) and the aws-auth identity mapping of the EMR
    /// service-linked role of `account_id`. The simulated EMR needs no access rules.
    async fn grant_emr_access(
        &self,
        _cluster: &str,
        _namespace: &str,
        _account_id: &str,
    ) -> TargetResult<()> {
        not_offered("Kubernetes", "GrantEmrAccess")
    }
    /// Deletes a namespace and what is in it; `false` if it did not exist.
    async fn delete_namespace(&self, _cluster: &str, _name: &str) -> TargetResult<bool> {
        not_offered("Kubernetes", "DeleteNamespace")
    }
    /// Creates a PriorityClass; `false` if one with the same value and default flag
    /// already existed (adopted). A different one of the same name is an error.
    async fn create_priority_class(
        &self,
        _cluster: &str,
        _request: &PriorityClassRequest,
    ) -> TargetResult<bool> {
        not_offered("Kubernetes", "CreatePriorityClass")
    }
    /// Deletes a PriorityClass; `false` if it did not exist.
    async fn delete_priority_class(&self, _cluster: &str, _name: &str) -> TargetResult<bool> {
        not_offered("Kubernetes", "DeletePriorityClass")
    }
    /// Applies Kubernetes objects (server-side apply on `aws`).
    async fn apply_manifest(
        &self,
        _cluster: &str,
        _documents: &[serde_json::Value],
    ) -> TargetResult<Vec<AppliedObject>> {
        not_offered("Kubernetes", "ApplyManifest")
    }
    /// Installs a Karpenter-like autoscaler (NodePool/Provisioner).
    async fn enable_autoscaling(
        &self,
        _cluster: &str,
        _request: &AutoscalingRequest,
    ) -> TargetResult<()> {
        not_offered("Kubernetes", "EnableAutoscaling")
    }
    /// The cluster steps mean when they name none: the only one there is.
    async fn default_cluster(&self) -> TargetResult<String> {
        not_offered("Kubernetes", "DefaultCluster")
    }
    /// The cluster's nodes.
    async fn nodes(&self, _cluster: &str) -> TargetResult<Vec<NodeInfo>> {
        not_offered("Kubernetes", "Nodes")
    }
    /// Pods in `namespace` (all namespaces if `None`) whose labels include `selector`.
    async fn pods(
        &self,
        _cluster: &str,
        _namespace: Option<&str>,
        _selector: &BTreeMap<String, String>,
    ) -> TargetResult<Vec<PodInfo>> {
        not_offered("Kubernetes", "Pods")
    }
    /// Whether the cluster serves Karpenter's NodePool API and runs its controller.
    async fn autoscaler(&self, _cluster: &str) -> TargetResult<AutoscalerStatus> {
        not_offered("Kubernetes", "Autoscaler")
    }
    /// Whether the caller may do each of `asked` in `cluster`, in that order (what
    /// `kubectl auth can-i` asks): preflight's check of the Kubernetes permissions a
    /// run needs.
    async fn access(
        &self,
        _cluster: &str,
        _asked: &[KubeAccess],
    ) -> TargetResult<Vec<AccessVerdict>> {
        not_offered("Kubernetes", "SelfSubjectAccessReview")
    }
    /// Whether what `enable_autoscaling` applied for NodePool `name` is Ready (on
    /// `aws`: the NodePool and its EC2NodeClass).
    async fn autoscaling_readiness(
        &self,
        _cluster: &str,
        _name: &str,
    ) -> TargetResult<Vec<ObjectReadiness>> {
        not_offered("Kubernetes", "AutoscalingReadiness")
    }
    /// Deletes the NodePools runbook applied on the cluster (and their node
    /// classes) and returns their names; none when the cluster has no autoscaler API.
    async fn remove_node_pools(&self, _cluster: &str) -> TargetResult<Vec<String>> {
        not_offered("Kubernetes", "RemoveNodePools")
    }
    /// The nodes that NodePools `pools` launched and that still exist.
    async fn node_pool_nodes(
        &self,
        _cluster: &str,
        _pools: &[String],
    ) -> TargetResult<Vec<String>> {
        not_offered("Kubernetes", "NodePoolNodes")
    }
    /// The calls [`Kube::create_namespace`] makes.
    fn planned_create_namespace(&self, _cluster: &str, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::grant_emr_access`] makes.
    fn planned_grant_emr_access(
        &self,
        _cluster: &str,
        _namespace: &str,
        _account_id: &str,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::delete_namespace`] makes.
    fn planned_delete_namespace(&self, _cluster: &str, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::create_priority_class`] makes.
    fn planned_create_priority_class(
        &self,
        _cluster: &str,
        _request: &PriorityClassRequest,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::delete_priority_class`] makes.
    fn planned_delete_priority_class(&self, _cluster: &str, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::apply_manifest`] makes.
    fn planned_apply_manifest(
        &self,
        _cluster: &str,
        _documents: &[serde_json::Value],
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::nodes`] makes.
    fn planned_nodes(&self, _cluster: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::pods`] makes.
    fn planned_pods(
        &self,
        _cluster: &str,
        _namespace: Option<&str>,
        _selector: &BTreeMap<String, String>,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::enable_autoscaling`] makes.
    fn planned_enable_autoscaling(
        &self,
        _cluster: &str,
        _request: &AutoscalingRequest,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::autoscaling_readiness`] makes.
    fn planned_autoscaling_readiness(&self, _cluster: &str, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::remove_node_pools`] makes.
    fn planned_remove_node_pools(&self, _cluster: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::node_pool_nodes`] makes.
    fn planned_node_pool_nodes(&self, _cluster: &str, _pools: &[String]) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::autoscaler`] makes.
    fn planned_autoscaler(&self, _cluster: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Kube::default_cluster`] makes.
    fn planned_default_cluster(&self) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// Amazon EMR on EKS (emr-containers).
#[async_trait]
pub trait Emr: Send + Sync {
    /// Virtual clusters that are not terminated.
    async fn list_virtual_clusters(&self) -> TargetResult<Vec<VirtualClusterInfo>> {
        not_offered("EMR on EKS", "ListVirtualClusters")
    }
    async fn create_virtual_cluster(
        &self,
        _name: &str,
        _cluster: &str,
        _namespace: &str,
        _token: &str,
    ) -> TargetResult<VirtualClusterInfo> {
        not_offered("EMR on EKS", "CreateVirtualCluster")
    }
    /// Deletes a virtual cluster; `false` if it did not exist or was already deleted.
    async fn delete_virtual_cluster(&self, _id: &str) -> TargetResult<bool> {
        not_offered("EMR on EKS", "DeleteVirtualCluster")
    }
    /// Starts a job run; `request.client_token` makes a replayed request return the
    /// same job.
    async fn start_job_run(&self, _request: &JobRunRequest) -> TargetResult<JobRunInfo> {
        not_offered("EMR on EKS", "StartJobRun")
    }
    /// The job run of `virtual_cluster_id` started with `client_token`, if any
    /// (`aws` finds it by the name and token recorded in its tags).
    async fn find_job_run(
        &self,
        _virtual_cluster_id: &str,
        _client_token: &str,
    ) -> TargetResult<Option<JobRunInfo>> {
        not_offered("EMR on EKS", "FindJobRun")
    }
    async fn describe_job_run(
        &self,
        _virtual_cluster_id: &str,
        _job_id: &str,
    ) -> TargetResult<JobRunInfo> {
        not_offered("EMR on EKS", "DescribeJobRun")
    }
    /// A job run by id alone, in any virtual cluster.
    async fn find_job_run_by_id(&self, _job_id: &str) -> TargetResult<Option<JobRunInfo>> {
        not_offered("EMR on EKS", "FindJobRunById")
    }
    async fn cancel_job_run(&self, _virtual_cluster_id: &str, _job_id: &str) -> TargetResult<()> {
        not_offered("EMR on EKS", "CancelJobRun")
    }
    /// The calls [`Emr::list_virtual_clusters`] makes.
    fn planned_list_virtual_clusters(&self) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::create_virtual_cluster`] makes.
    fn planned_create_virtual_cluster(
        &self,
        _name: &str,
        _cluster: &str,
        _namespace: &str,
        _token: &str,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::delete_virtual_cluster`] makes.
    fn planned_delete_virtual_cluster(&self, _id: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::start_job_run`] makes.
    fn planned_start_job_run(&self, _request: &JobRunRequest) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::find_job_run`] makes.
    fn planned_find_job_run(
        &self,
        _virtual_cluster_id: &str,
        _client_token: &str,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::describe_job_run`] makes.
    fn planned_describe_job_run(
        &self,
        _virtual_cluster_id: &str,
        _job_id: &str,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::find_job_run_by_id`] makes.
    fn planned_find_job_run_by_id(&self, _job_id: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Emr::cancel_job_run`] makes.
    fn planned_cancel_job_run(&self, _virtual_cluster_id: &str, _job_id: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// AWS IAM.
#[async_trait]
pub trait Iam: Send + Sync {
    async fn get_role(&self, _name: &str) -> TargetResult<Option<RoleInfo>> {
        not_offered("IAM", "GetRole")
    }
    /// Creates a role with a trust policy and tags.
    async fn create_role(
        &self,
        _name: &str,
        _trust_policy: &serde_json::Value,
        _tags: &BTreeMap<String, String>,
    ) -> TargetResult<RoleInfo> {
        not_offered("IAM", "CreateRole")
    }
    async fn update_trust_policy(
        &self,
        _name: &str,
        _trust_policy: &serde_json::Value,
    ) -> TargetResult<()> {
        not_offered("IAM", "UpdateTrustPolicy")
    }
    async fn put_role_policy(
        &self,
        _role: &str,
        _policy_name: &str,
        _document: &serde_json::Value,
    ) -> TargetResult<()> {
        not_offered("IAM", "PutRolePolicy")
    }
    /// Deletes a role and its inline policies; `false` if it did not exist.
    async fn delete_role(&self, _name: &str) -> TargetResult<bool> {
        not_offered("IAM", "DeleteRole")
    }
    /// IAM's verdict on each of `actions` (`eks:CreateCluster`) for `principal_arn`
    /// (a user or role ARN), on any resource, without calling them.
    async fn simulate_principal_policy(
        &self,
        _principal_arn: &str,
        _actions: &[String],
    ) -> TargetResult<Vec<ActionVerdict>> {
        not_offered("IAM", "SimulatePrincipalPolicy")
    }
    /// The calls [`Iam::get_role`] makes.
    fn planned_get_role(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Iam::create_role`] makes.
    fn planned_create_role(
        &self,
        _name: &str,
        _trust_policy: &serde_json::Value,
        _tags: &BTreeMap<String, String>,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Iam::update_trust_policy`] makes.
    fn planned_update_trust_policy(
        &self,
        _name: &str,
        _trust_policy: &serde_json::Value,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Iam::put_role_policy`] makes.
    fn planned_put_role_policy(
        &self,
        _role: &str,
        _policy_name: &str,
        _document: &serde_json::Value,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Iam::delete_role`] makes.
    fn planned_delete_role(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// Amazon CloudWatch Logs.
#[async_trait]
pub trait Logs: Send + Sync {
    /// Creates a log group (or adopts an existing one) and sets its retention.
    async fn create_log_group(
        &self,
        _name: &str,
        _retention_days: Option<u32>,
    ) -> TargetResult<LogGroupInfo> {
        not_offered("CloudWatch Logs", "CreateLogGroup")
    }
    /// Deletes a log group; `false` if it did not exist.
    async fn delete_log_group(&self, _name: &str) -> TargetResult<bool> {
        not_offered("CloudWatch Logs", "DeleteLogGroup")
    }
    /// The log group called exactly `name`, if it exists (`created` is false).
    async fn describe_log_group(&self, _name: &str) -> TargetResult<Option<LogGroupInfo>> {
        not_offered("CloudWatch Logs", "DescribeLogGroups")
    }
    /// The calls [`Logs::create_log_group`] makes, in order, with their conditions.
    fn planned_create_log_group(
        &self,
        _name: &str,
        _retention_days: Option<u32>,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`Logs::delete_log_group`] makes.
    fn planned_delete_log_group(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// Amazon S3.
#[async_trait]
pub trait S3: Send + Sync {
    /// Creates a bucket in the target's region; `false` if we already owned it.
    async fn create_bucket(&self, _name: &str) -> TargetResult<bool> {
        not_offered("S3", "CreateBucket")
    }
    /// Deletes a bucket, first emptying it when `force`; `false` if it did not exist.
    async fn delete_bucket(&self, _name: &str, _force: bool) -> TargetResult<bool> {
        not_offered("S3", "DeleteBucket")
    }
    /// Writes an object.
    async fn put_object(&self, _bucket: &str, _key: &str, _content: &[u8]) -> TargetResult<()> {
        not_offered("S3", "PutObject")
    }
    /// Who owns the bucket name (S3 names are global across accounts).
    async fn bucket_owner(&self, _name: &str) -> TargetResult<BucketOwner> {
        not_offered("S3", "HeadBucket")
    }
    /// Reads an object; `None` if the bucket or the key does not exist. No action
    /// reads objects: a served simulator does, for what EMR reads of the account (pod
    /// templates).
    async fn get_object(&self, _bucket: &str, _key: &str) -> TargetResult<Option<Vec<u8>>> {
        not_offered("S3", "GetObject")
    }
    /// The calls [`S3::create_bucket`] makes.
    fn planned_create_bucket(&self, _name: &str) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`S3::delete_bucket`] makes.
    fn planned_delete_bucket(&self, _name: &str, _force: bool) -> Vec<PlannedCall> {
        Vec::new()
    }
    /// The calls [`S3::put_object`] makes; `body` is what the plan knows of the content
    /// (`{"bytes": N}`, or the `file` it will be read from).
    fn planned_put_object(
        &self,
        _bucket: &str,
        _key: &str,
        _body: serde_json::Value,
    ) -> Vec<PlannedCall> {
        Vec::new()
    }
}

/// What the account can run in the region: its subnets, where an instance type is
/// offered, and its EC2 vCPU quotas (Amazon EC2 and Service Quotas). Only
/// `preflight` asks; no action needs it.
#[async_trait]
pub trait Capacity: Send + Sync {
    /// The subnets `ids` names, with their zones; an error (EC2's
    /// `InvalidSubnetID.NotFound`) if one does not exist.
    async fn subnets(&self, _ids: &[String]) -> TargetResult<Vec<SubnetInfo>> {
        not_offered("EC2", "DescribeSubnets")
    }
    /// The Availability Zones of the region that offer `instance_type`.
    async fn instance_type_zones(&self, _instance_type: &str) -> TargetResult<Vec<String>> {
        not_offered("EC2", "DescribeInstanceTypeOfferings")
    }
    /// The vCPUs of one instance of `instance_type`.
    async fn instance_vcpus(&self, _instance_type: &str) -> TargetResult<u32> {
        not_offered("EC2", "DescribeInstanceTypes")
    }
    /// The account's EC2 quota `code` (`L-1216C47A`): the value applied to it, else
    /// AWS's default.
    async fn vcpu_quota(&self, _code: &str) -> TargetResult<VcpuQuota> {
        not_offered("Service Quotas", "GetServiceQuota")
    }
}
