//! The event vocabulary itself: one variant per kind of thing that happens.

use serde::{Deserialize, Serialize};

use super::{
    CapacityType, FailureReason, JobState, PodRef, Preemption, Resources, SharedStr,
    TerminationReason,
};

/// What happened. The variant name is serialized as the `type` field, beside the
/// variant's fields: `{"type": "PodPreempted", "pod": {...}, "node": ..., ...}`. This
/// is the JSON stored in the state DB's `events.data`; a variant or field may be
/// added (with a default when it is optional), but none renamed, or runs stored
/// before would no longer read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// CreateCluster accepted; the control plane is being built.
    ClusterCreating {
        /// Cluster name.
        cluster: SharedStr,
    },
    /// The cluster is ACTIVE.
    ClusterActive {
        /// Cluster name.
        cluster: SharedStr,
    },
    /// DeleteCluster accepted; nodes are terminated.
    ClusterDeleting {
        /// Cluster name.
        cluster: SharedStr,
    },
    /// The cluster is gone.
    ClusterDeleted {
        /// Cluster name.
        cluster: SharedStr,
    },
    /// An EC2 instance was launched for a node group or by the autoscaler.
    NodeLaunched {
        /// Cluster name.
        cluster: SharedStr,
        /// The node name it will register as.
        node: SharedStr,
        /// EC2 instance type.
        instance_type: SharedStr,
        /// On-demand or spot.
        capacity_type: CapacityType,
        /// Managed node group, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nodegroup: Option<SharedStr>,
        /// Autoscaler provisioner, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provisioner: Option<SharedStr>,
        /// Pending pods this launch is meant for (autoscaler launches; 0 otherwise).
        #[serde(default)]
        pending_pods: u32,
    },
    /// The kubelet registered the node (not yet Ready).
    NodeAdded {
        /// Cluster name.
        cluster: SharedStr,
        /// Node name.
        node: SharedStr,
        /// EC2 instance type.
        instance_type: SharedStr,
        /// On-demand or spot.
        capacity_type: CapacityType,
        /// Capacity the scheduler may hand out.
        allocatable: Resources,
    },
    /// The node is Ready for ordinary pods.
    NodeReady {
        /// Cluster name.
        cluster: SharedStr,
        /// Node name.
        node: SharedStr,
    },
    /// The autoscaler saw the node empty (Karpenter's emptiness timestamp).
    NodeEmpty {
        /// Cluster name.
        cluster: SharedStr,
        /// Node name.
        node: SharedStr,
        /// When it will be removed unless a pod lands on it.
        expires_at_ms: u64,
    },
    /// The node was deleted (autoscaler emptiness, cluster deletion).
    NodeRemoved {
        /// Cluster name.
        cluster: SharedStr,
        /// Node name.
        node: SharedStr,
        /// Why, e.g. `empty for 30s (ttlSecondsAfterEmpty)`.
        reason: SharedStr,
    },
    /// A pod was admitted.
    PodCreated {
        /// The pod.
        pod: PodRef,
        /// Priority resolved by admission.
        priority: i32,
        /// PriorityClass (explicit or the global default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority_class: Option<SharedStr>,
        /// Sum of the containers' requests.
        requests: Resources,
    },
    /// The scheduler found no node for the pod (Kubernetes `FailedScheduling`);
    /// recorded once per pod.
    PodUnschedulable {
        /// The pod.
        pod: PodRef,
        /// The scheduler's message, e.g. `0/1 nodes are available: 1 Insufficient memory.`
        message: SharedStr,
    },
    /// The scheduler preempted for this pod and nominated a node for it; it binds
    /// when the victims are gone.
    PodNominated {
        /// The preemptor.
        pod: PodRef,
        /// The nominated node.
        node: SharedStr,
    },
    /// The pod was bound to a node.
    PodScheduled {
        /// The pod.
        pod: PodRef,
        /// The node.
        node: SharedStr,
    },
    /// The pod's containers are running.
    PodStarted {
        /// The pod.
        pod: PodRef,
        /// The node.
        node: SharedStr,
    },
    /// The pod was chosen as a preemption victim: it got the `DisruptionTarget`
    /// condition (reason `PreemptionByScheduler`) and is being deleted. Mirrors the
    /// Kubernetes event with reason `Preempted` on the victim.
    PodPreempted(Box<Preemption>),
    /// The pod got a deletion timestamp and is terminating (it still holds its
    /// resources until it is deleted).
    PodTerminating {
        /// The pod.
        pod: PodRef,
        /// The node, if it was bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<SharedStr>,
        /// Grace period granted.
        grace_period_seconds: u64,
        /// Why.
        reason: TerminationReason,
    },
    /// The pod's containers exited with success (phase Succeeded).
    PodSucceeded {
        /// The pod.
        pod: PodRef,
        /// The node.
        node: SharedStr,
    },
    /// The pod's containers failed (phase Failed).
    PodFailed {
        /// The pod.
        pod: PodRef,
        /// The node, if it was bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<SharedStr>,
        /// Why.
        reason: SharedStr,
    },
    /// The pod object is gone and its resources are free.
    PodDeleted {
        /// The pod.
        pod: PodRef,
        /// The node it was bound to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<SharedStr>,
        /// Why it was deleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<TerminationReason>,
    },
    /// An EMR job run changed state.
    JobStateChanged {
        /// Job run id.
        job_id: SharedStr,
        /// Job run name.
        job_name: SharedStr,
        /// Virtual cluster id (empty if a stored event lacks it).
        #[serde(default)]
        virtual_cluster_id: SharedStr,
        /// Namespace of the virtual cluster.
        namespace: SharedStr,
        /// Previous state (`None` at submission).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<JobState>,
        /// New state.
        to: JobState,
        /// EMR `stateDetails`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state_details: Option<SharedStr>,
        /// EMR `failureReason`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure_reason: Option<FailureReason>,
    },
    /// The Spark driver created an executor pod.
    ExecutorRequested {
        /// Job run id.
        job_id: SharedStr,
        /// Namespace.
        namespace: SharedStr,
        /// Executor id (increasing, never reused).
        executor_id: u32,
        /// Executor pod name.
        pod: SharedStr,
    },
    /// An executor registered with the driver and can run tasks.
    ExecutorRegistered {
        /// Job run id.
        job_id: SharedStr,
        /// Executor id.
        executor_id: u32,
        /// Executor pod name.
        pod: SharedStr,
        /// Node it runs on.
        node: SharedStr,
    },
    /// The driver lost an executor (its pod was preempted, deleted or failed).
    ExecutorLost {
        /// Job run id.
        job_id: SharedStr,
        /// Executor id.
        executor_id: u32,
        /// Executor pod name.
        pod: SharedStr,
        /// Why.
        reason: SharedStr,
    },
    /// A task attempt started on an executor.
    TaskStarted {
        /// Job run id.
        job_id: SharedStr,
        /// Task index (partition).
        task: u32,
        /// Attempt number (0 first).
        attempt: u32,
        /// Executor id.
        executor_id: u32,
        /// How long the attempt will run.
        duration_ms: u64,
    },
    /// A task attempt finished successfully.
    TaskFinished {
        /// Job run id.
        job_id: SharedStr,
        /// Task index.
        task: u32,
        /// Attempt number.
        attempt: u32,
        /// Executor id.
        executor_id: u32,
    },
    /// A task attempt was lost with its executor; the task will be rerun.
    TaskLost {
        /// Job run id.
        job_id: SharedStr,
        /// Task index.
        task: u32,
        /// Attempt number that was lost.
        attempt: u32,
        /// Executor id.
        executor_id: u32,
    },
}

impl EventKind {
    /// The pod this event is about, if it is a pod event.
    pub fn pod(&self) -> Option<&PodRef> {
        match self {
            EventKind::PodCreated { pod, .. }
            | EventKind::PodUnschedulable { pod, .. }
            | EventKind::PodNominated { pod, .. }
            | EventKind::PodScheduled { pod, .. }
            | EventKind::PodStarted { pod, .. }
            | EventKind::PodTerminating { pod, .. }
            | EventKind::PodSucceeded { pod, .. }
            | EventKind::PodFailed { pod, .. }
            | EventKind::PodDeleted { pod, .. } => Some(pod),
            EventKind::PodPreempted(p) => Some(&p.pod),
            _ => None,
        }
    }

    /// The EMR job run this event is about, if any.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            EventKind::JobStateChanged { job_id, .. }
            | EventKind::ExecutorRequested { job_id, .. }
            | EventKind::ExecutorRegistered { job_id, .. }
            | EventKind::ExecutorLost { job_id, .. }
            | EventKind::TaskStarted { job_id, .. }
            | EventKind::TaskFinished { job_id, .. }
            | EventKind::TaskLost { job_id, .. } => Some(job_id),
            other => other.pod().and_then(|p| p.job_id.as_deref()),
        }
    }

    /// The node this event is about, if it is a node event (a pod event's node is
    /// where the pod is, not what the event is about).
    pub fn node(&self) -> Option<&str> {
        match self {
            EventKind::NodeLaunched { node, .. }
            | EventKind::NodeAdded { node, .. }
            | EventKind::NodeReady { node, .. }
            | EventKind::NodeEmpty { node, .. }
            | EventKind::NodeRemoved { node, .. } => Some(node),
            _ => None,
        }
    }

    /// What the event is about, as stored beside it: `namespace/name` of a pod, the
    /// name of a node, or the id of a job run.
    pub fn subject(&self) -> Option<String> {
        self.pod()
            .map(ToString::to_string)
            .or_else(|| self.node().map(str::to_string))
            .or_else(|| self.job_id().map(str::to_string))
    }

    /// Whether `name` is the `type` of one of the variants: a stored event whose
    /// type is not is of a kind this version does not know (a newer one's), and a
    /// reader skips it rather than calling it unreadable.
    pub fn is_type_name(name: &str) -> bool {
        EventKind::TYPE_NAMES.contains(&name)
    }

    /// Every variant's `type`, in declaration order.
    pub const TYPE_NAMES: [&'static str; 26] = [
        "ClusterCreating",
        "ClusterActive",
        "ClusterDeleting",
        "ClusterDeleted",
        "NodeLaunched",
        "NodeAdded",
        "NodeReady",
        "NodeEmpty",
        "NodeRemoved",
        "PodCreated",
        "PodUnschedulable",
        "PodNominated",
        "PodScheduled",
        "PodStarted",
        "PodPreempted",
        "PodTerminating",
        "PodSucceeded",
        "PodFailed",
        "PodDeleted",
        "JobStateChanged",
        "ExecutorRequested",
        "ExecutorRegistered",
        "ExecutorLost",
        "TaskStarted",
        "TaskFinished",
        "TaskLost",
    ];

    /// The variant name, as serialized in the `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ClusterCreating { .. } => "ClusterCreating",
            EventKind::ClusterActive { .. } => "ClusterActive",
            EventKind::ClusterDeleting { .. } => "ClusterDeleting",
            EventKind::ClusterDeleted { .. } => "ClusterDeleted",
            EventKind::NodeLaunched { .. } => "NodeLaunched",
            EventKind::NodeAdded { .. } => "NodeAdded",
            EventKind::NodeReady { .. } => "NodeReady",
            EventKind::NodeEmpty { .. } => "NodeEmpty",
            EventKind::NodeRemoved { .. } => "NodeRemoved",
            EventKind::PodCreated { .. } => "PodCreated",
            EventKind::PodUnschedulable { .. } => "PodUnschedulable",
            EventKind::PodNominated { .. } => "PodNominated",
            EventKind::PodScheduled { .. } => "PodScheduled",
            EventKind::PodStarted { .. } => "PodStarted",
            EventKind::PodPreempted(_) => "PodPreempted",
            EventKind::PodTerminating { .. } => "PodTerminating",
            EventKind::PodSucceeded { .. } => "PodSucceeded",
            EventKind::PodFailed { .. } => "PodFailed",
            EventKind::PodDeleted { .. } => "PodDeleted",
            EventKind::JobStateChanged { .. } => "JobStateChanged",
            EventKind::ExecutorRequested { .. } => "ExecutorRequested",
            EventKind::ExecutorRegistered { .. } => "ExecutorRegistered",
            EventKind::ExecutorLost { .. } => "ExecutorLost",
            EventKind::TaskStarted { .. } => "TaskStarted",
            EventKind::TaskFinished { .. } => "TaskFinished",
            EventKind::TaskLost { .. } => "TaskLost",
        }
    }
}
