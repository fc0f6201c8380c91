//! The errors a command on the simulated world can return.
//!
//! Each variant mirrors the error the real service returns for the same mistake (the
//! AWS error code is available from [`SimError::aws_code`]), so the action catalog can
//! treat "already exists" and "not found" the same way on both targets: create actions
//! adopt what exists, delete actions succeed when the thing is already gone.

use thiserror::Error;

/// An error from a command or query on the [`World`](crate::World).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SimError {
    /// EKS: no cluster with this name.
    #[error("failed to find EKS cluster `{name}`: no cluster with that name")]
    ClusterNotFound {
        /// The cluster name asked for.
        name: String,
    },
    /// EKS `ResourceInUseException`: a cluster with this name exists (or is deleting).
    #[error("failed to create EKS cluster `{name}`: a cluster with that name already exists")]
    ClusterAlreadyExists {
        /// The cluster name.
        name: String,
    },
    /// EKS `ResourceInUseException`: the cluster has a node group of that name.
    #[error("NodeGroup already exists with name {name} and cluster name {cluster}")]
    NodeGroupAlreadyExists {
        /// The cluster name.
        cluster: String,
        /// The node group name.
        name: String,
    },
    /// EKS `ResourceNotFoundException`: the cluster has no node group of that name.
    #[error("No node group found for name: {name}.")]
    NodeGroupNotFound {
        /// The cluster name.
        cluster: String,
        /// The node group name.
        name: String,
    },
    /// The cluster exists but is not `ACTIVE` (still creating, or deleting).
    #[error("EKS cluster `{name}` is {status}, not ACTIVE")]
    ClusterNotActive {
        /// The cluster name.
        name: String,
        /// Its current status.
        status: String,
    },
    /// EKS `InvalidParameterException`: a Kubernetes version EKS does not offer (any
    /// more, or yet).
    #[error("unsupported Kubernetes version {version} (EKS offers {offered} as of {as_of})")]
    UnsupportedVersion {
        /// The version asked for.
        version: String,
        /// The versions EKS offers.
        offered: String,
        /// The date of the simulator's version table.
        as_of: &'static str,
    },
    /// A node group specification that EKS would reject.
    #[error("invalid node group `{name}`: {reason}")]
    InvalidNodeGroup {
        /// The node group name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An instance type the simulator has no data for.
    #[error("unknown instance type `{name}` (known: {known})")]
    UnknownInstanceType {
        /// The instance type asked for.
        name: String,
        /// The instance types the simulator models, comma separated.
        known: String,
    },
    /// Kubernetes `NotFound` for a namespace.
    #[error("namespaces \"{name}\" not found in cluster `{cluster}`")]
    NamespaceNotFound {
        /// The cluster.
        cluster: String,
        /// The namespace.
        name: String,
    },
    /// Kubernetes `AlreadyExists` for a namespace.
    #[error("namespaces \"{name}\" already exists in cluster `{cluster}`")]
    NamespaceAlreadyExists {
        /// The cluster.
        cluster: String,
        /// The namespace.
        name: String,
    },
    /// Kubernetes refuses to delete its own namespaces.
    #[error("namespace \"{name}\" is a system namespace and cannot be deleted")]
    NamespaceProtected {
        /// The namespace.
        name: String,
    },
    /// Kubernetes `AlreadyExists` for a stored object (ConfigMap, Role, RoleBinding).
    #[error("{resource} \"{name}\" already exists")]
    ObjectAlreadyExists {
        /// The resource as the API names it (`configmaps`).
        resource: &'static str,
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// Kubernetes `NotFound` for a stored object.
    #[error("{resource} \"{name}\" not found")]
    ObjectNotFound {
        /// The resource as the API names it (`configmaps`).
        resource: &'static str,
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// Kubernetes `Conflict`: an update of a stored object that expected another
    /// resource version (someone wrote it since it was read).
    #[error(
        "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    ObjectConflict {
        /// The resource as the API names it (`configmaps`).
        resource: &'static str,
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },
    /// Kubernetes `NotFound` for a PriorityClass.
    #[error("priorityclasses.scheduling.k8s.io \"{name}\" not found in cluster `{cluster}`")]
    PriorityClassNotFound {
        /// The cluster.
        cluster: String,
        /// The class name.
        name: String,
    },
    /// Kubernetes `AlreadyExists` for a PriorityClass.
    #[error("priorityclasses.scheduling.k8s.io \"{name}\" already exists in cluster `{cluster}`")]
    PriorityClassAlreadyExists {
        /// The cluster.
        cluster: String,
        /// The class name.
        name: String,
    },
    /// The PriorityClass admission plugin allows only one `globalDefault: true` class.
    #[error(
        "PriorityClass \"{name}\" is invalid: globalDefault: \"{existing}\" is already marked as default; only one PriorityClass can be marked as globalDefault"
    )]
    GlobalDefaultConflict {
        /// The class being created.
        name: String,
        /// The class that is already the global default.
        existing: String,
    },
    /// User PriorityClass values are limited to 1,000,000,000; higher values are
    /// reserved for `system-` classes.
    #[error(
        "PriorityClass \"{name}\" is invalid: value: {value} must not be greater than 1000000000 (reserved for system classes)"
    )]
    InvalidPriorityValue {
        /// The class name.
        name: String,
        /// The rejected value.
        value: i64,
    },
    /// Built-in classes (`system-cluster-critical`, `system-node-critical`) cannot be
    /// changed or deleted.
    #[error("PriorityClass \"{name}\" is a built-in class and cannot be modified")]
    PriorityClassProtected {
        /// The class name.
        name: String,
    },
    /// A pod template names a PriorityClass that does not exist: the API server's
    /// Priority admission plugin would reject the pod, so the job is rejected up front.
    #[error(
        "pod template for the {role} refers to PriorityClass \"{name}\", which does not exist in cluster `{cluster}`; pods using it would be rejected with: no PriorityClass with name {name} was found"
    )]
    UnknownPriorityClass {
        /// The cluster the job would run on.
        cluster: String,
        /// `driver` or `executor`.
        role: String,
        /// The missing class.
        name: String,
    },
    /// A pod template that does not parse or has the wrong shape.
    #[error("invalid pod template {source_name}: {reason}")]
    InvalidPodTemplate {
        /// Where the template came from (S3 URI or `inline`).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A CPU or memory quantity that does not parse.
    #[error("invalid quantity `{value}`: {reason}")]
    InvalidQuantity {
        /// The text given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// EMR `ResourceNotFoundException` for a virtual cluster.
    #[error("virtual cluster {id} doesn't exist")]
    VirtualClusterNotFound {
        /// The id asked for.
        id: String,
    },
    /// EMR `ValidationException`: the virtual cluster is not RUNNING.
    #[error("virtual cluster {id} state {state} is not valid to create resource JobRun")]
    VirtualClusterNotRunning {
        /// The virtual cluster id.
        id: String,
        /// Its state.
        state: String,
    },
    /// EMR `ValidationException`: a RUNNING virtual cluster already uses this namespace.
    #[error(
        "a virtual cluster ({existing}) is already registered for namespace `{namespace}` of EKS cluster `{cluster}`"
    )]
    NamespaceAlreadyRegistered {
        /// The cluster.
        cluster: String,
        /// The namespace.
        namespace: String,
        /// The id of the virtual cluster that owns it.
        existing: String,
    },
    /// EMR `ResourceNotFoundException` for a job run.
    #[error("job run {id} doesn't exist in virtual cluster {virtual_cluster_id}")]
    JobRunNotFound {
        /// The virtual cluster id given.
        virtual_cluster_id: String,
        /// The job run id asked for.
        id: String,
    },
    /// EMR `ValidationException` when cancelling a job that already ended.
    #[error("job run {id} is in state {state} and cannot be cancelled")]
    JobRunNotCancellable {
        /// The job run id.
        id: String,
        /// Its terminal state.
        state: String,
    },
    /// EMR `ValidationException` for a StartJobRun request.
    #[error("invalid job run request: {reason}")]
    InvalidJobRun {
        /// What is wrong.
        reason: String,
    },
    /// IAM `NoSuchEntity`.
    #[error("the role with name {name} cannot be found")]
    RoleNotFound {
        /// The role name.
        name: String,
    },
    /// IAM `EntityAlreadyExists`.
    #[error("role with name {name} already exists")]
    RoleAlreadyExists {
        /// The role name.
        name: String,
    },
    /// CloudWatch Logs `ResourceNotFoundException`.
    #[error("the specified log group does not exist: {name}")]
    LogGroupNotFound {
        /// The log group name.
        name: String,
    },
    /// CloudWatch Logs `ResourceAlreadyExistsException`.
    #[error("the specified log group already exists: {name}")]
    LogGroupAlreadyExists {
        /// The log group name.
        name: String,
    },
    /// S3 `NoSuchBucket`.
    #[error("the specified bucket does not exist: {name}")]
    NoSuchBucket {
        /// The bucket name.
        name: String,
    },
    /// S3 `BucketAlreadyOwnedByYou`.
    #[error("the bucket you tried to create already exists, and you own it: {name}")]
    BucketAlreadyOwnedByYou {
        /// The bucket name.
        name: String,
    },
    /// S3 `BucketNotEmpty`.
    #[error("the bucket you tried to delete is not empty: {name} ({objects} objects)")]
    BucketNotEmpty {
        /// The bucket name.
        name: String,
        /// How many objects it holds.
        objects: usize,
    },
    /// S3 `NoSuchKey`.
    #[error("the specified key does not exist: s3://{bucket}/{key}")]
    NoSuchKey {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// A string that is not an `s3://bucket/key` URI.
    #[error("invalid S3 URI `{uri}`: expected s3://bucket/key")]
    InvalidS3Uri {
        /// The text given.
        uri: String,
    },
    /// An autoscaler (Karpenter provisioner) specification that would be rejected.
    #[error("invalid autoscaler configuration: {reason}")]
    InvalidAutoscaler {
        /// What is wrong.
        reason: String,
    },
    /// A manifest the simulator cannot read.
    #[error("invalid manifest: {reason}")]
    InvalidManifest {
        /// What is wrong.
        reason: String,
    },
    /// `advance_to` was asked to go back in time.
    #[error("cannot advance to {requested_ms} ms: the world is already at {now_ms} ms")]
    TimeInPast {
        /// The current virtual time.
        now_ms: u64,
        /// The time asked for.
        requested_ms: u64,
    },
}

impl SimError {
    /// The error code the real service returns for the same condition (e.g.
    /// `ResourceNotFoundException`, `BucketAlreadyOwnedByYou`), so callers can handle
    /// both targets with one match.
    pub fn aws_code(&self) -> &'static str {
        match self {
            SimError::ClusterNotFound { .. }
            | SimError::VirtualClusterNotFound { .. }
            | SimError::JobRunNotFound { .. }
            | SimError::LogGroupNotFound { .. }
            | SimError::NodeGroupNotFound { .. } => "ResourceNotFoundException",
            SimError::ClusterAlreadyExists { .. } | SimError::NodeGroupAlreadyExists { .. } => {
                "ResourceInUseException"
            }
            SimError::ClusterNotActive { .. } => "ResourceInUseException",
            SimError::UnsupportedVersion { .. }
            | SimError::InvalidNodeGroup { .. }
            | SimError::UnknownInstanceType { .. }
            | SimError::InvalidAutoscaler { .. }
            | SimError::InvalidQuantity { .. } => "InvalidParameterException",
            SimError::InvalidManifest { .. } => "Invalid",
            SimError::NamespaceNotFound { .. }
            | SimError::PriorityClassNotFound { .. }
            | SimError::ObjectNotFound { .. } => "NotFound",
            SimError::NamespaceAlreadyExists { .. }
            | SimError::PriorityClassAlreadyExists { .. }
            | SimError::ObjectAlreadyExists { .. } => "AlreadyExists",
            SimError::ObjectConflict { .. } => "Conflict",
            SimError::NamespaceProtected { .. } | SimError::PriorityClassProtected { .. } => {
                "Forbidden"
            }
            SimError::GlobalDefaultConflict { .. }
            | SimError::InvalidPriorityValue { .. }
            | SimError::UnknownPriorityClass { .. } => "Invalid",
            SimError::InvalidPodTemplate { .. }
            | SimError::VirtualClusterNotRunning { .. }
            | SimError::NamespaceAlreadyRegistered { .. }
            | SimError::JobRunNotCancellable { .. }
            | SimError::InvalidJobRun { .. }
            | SimError::InvalidS3Uri { .. }
            | SimError::TimeInPast { .. } => "ValidationException",
            SimError::RoleNotFound { .. } => "NoSuchEntity",
            SimError::RoleAlreadyExists { .. } => "EntityAlreadyExists",
            SimError::LogGroupAlreadyExists { .. } => "ResourceAlreadyExistsException",
            SimError::NoSuchBucket { .. } => "NoSuchBucket",
            SimError::BucketAlreadyOwnedByYou { .. } => "BucketAlreadyOwnedByYou",
            SimError::BucketNotEmpty { .. } => "BucketNotEmpty",
            SimError::NoSuchKey { .. } => "NoSuchKey",
        }
    }

    /// True for the "it already exists" family, which create actions treat as "adopt".
    pub fn is_already_exists(&self) -> bool {
        matches!(
            self,
            SimError::ClusterAlreadyExists { .. }
                | SimError::NodeGroupAlreadyExists { .. }
                | SimError::NamespaceAlreadyExists { .. }
                | SimError::PriorityClassAlreadyExists { .. }
                | SimError::ObjectAlreadyExists { .. }
                | SimError::NamespaceAlreadyRegistered { .. }
                | SimError::RoleAlreadyExists { .. }
                | SimError::LogGroupAlreadyExists { .. }
                | SimError::BucketAlreadyOwnedByYou { .. }
        )
    }

    /// True for the "it does not exist" family, which delete actions treat as success.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SimError::ClusterNotFound { .. }
                | SimError::NamespaceNotFound { .. }
                | SimError::PriorityClassNotFound { .. }
                | SimError::ObjectNotFound { .. }
                | SimError::VirtualClusterNotFound { .. }
                | SimError::JobRunNotFound { .. }
                | SimError::RoleNotFound { .. }
                | SimError::LogGroupNotFound { .. }
                | SimError::NodeGroupNotFound { .. }
                | SimError::NoSuchBucket { .. }
                | SimError::NoSuchKey { .. }
        )
    }
}
