//! What `runbook preflight` asks a target before anything is created: the answers of
//! read-only calls about the account (which Kubernetes versions EKS offers, whether the
//! caller may call what a runbook calls, in the account and in a cluster, who owns a
//! bucket name, whether a cluster runs the Karpenter autoscaler).

use serde::Serialize;

/// A Kubernetes version EKS offers in the region, as `DescribeClusterVersions` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfferedVersion {
    /// `1.35`.
    pub version: String,
    /// `STANDARD_SUPPORT` or `EXTENDED_SUPPORT` (EKS's `versionStatus`).
    pub status: String,
    /// Whether EKS creates clusters of this version when none is asked for.
    pub default: bool,
}

/// IAM's verdict on one action for the caller (`iam:SimulatePrincipalPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionVerdict {
    /// `eks:CreateCluster`.
    pub action: String,
    pub allowed: bool,
    /// IAM's decision: `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
}

/// Who owns a bucket name, as `HeadBucket` tells: S3 bucket names are global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketOwner {
    /// Nobody: CreateBucket will make it (404).
    Nobody,
    /// The caller's account: create-bucket adopts it (200).
    Caller,
    /// Another account (403): CreateBucket would fail with BucketAlreadyExists.
    Other,
}

/// Whether a cluster can autoscale with Karpenter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoscalerStatus {
    /// The API server serves Karpenter's `NodePool` (`karpenter.sh/v1`).
    pub node_pool_api: bool,
    /// Running pods of the Karpenter controller, by name.
    pub controller_pods: Vec<String>,
}

/// A VPC subnet and the Availability Zone it is in (`DescribeSubnets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    pub id: String,
    /// `us-east-2a`.
    pub zone: String,
}

/// An EC2 vCPU quota of the account in the region (Service Quotas), e.g. "Running
/// On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", `L-1216C47A`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VcpuQuota {
    pub code: String,
    pub name: String,
    /// vCPUs.
    pub value: f64,
    /// Whether this is AWS's default (no quota was applied to the account).
    pub default: bool,
}

/// A Kubernetes permission a run needs in a cluster: what `kubectl auth can-i VERB
/// KIND [-n NAMESPACE]` asks the API server (a SelfSubjectAccessReview).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KubeAccess {
    /// `create`, `get`, `list`, `watch`, `update`, `patch`, `delete`.
    pub verb: String,
    /// `v1`, `scheduling.k8s.io/v1`.
    pub api_version: String,
    /// `PriorityClass`.
    pub kind: String,
    /// `None`: a cluster-scoped kind, or every namespace.
    pub namespace: Option<String>,
}

impl std::fmt::Display for KubeAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.verb, self.kind, self.api_version)?;
        match &self.namespace {
            Some(namespace) => write!(f, " in namespace {namespace}"),
            None => Ok(()),
        }
    }
}

/// The API server's answer to a [`KubeAccess`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "kebab-case")]
pub enum AccessVerdict {
    Allowed,
    /// Denied, with the authorizer's reason if it gave one.
    Denied(String),
    /// The question could not be asked (the cluster does not serve the kind yet).
    Unknown(String),
}
