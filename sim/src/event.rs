//! The append-only log of everything observable that happened in the world.
//!
//! Each [`Event`] has a virtual timestamp, a position in the log and a self-describing
//! [`EventKind`]: pod events carry the pod's cluster, namespace, name, EMR role, job id
//! and executor id, so a report or an assertion (`assert-eviction`) can work from the
//! log alone, after the pods are long gone. Events serialize to JSON with a `type` tag
//! for storage in the state database.

use serde::{Deserialize, Serialize};

use crate::job_run::{FailureReason, JobState};
use crate::node::CapacityType;
use crate::pod::PodRole;
use crate::resources::Resources;
use crate::shared_str::SharedStr;

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (0-based); `events_since(index)` resumes from here.
    pub index: u64,
    /// Virtual time in milliseconds since the world was created.
    pub time_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// Identifies a pod in an event, with the EMR facts a reader filters on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    /// EKS cluster.
    pub cluster: SharedStr,
    /// Namespace.
    pub namespace: SharedStr,
    /// Pod name.
    pub name: SharedStr,
    /// EMR component (`controller`, `driver`, `executor`) or `system`.
    pub role: PodRole,
    /// EMR job run id (`emr-containers.amazonaws.com/job.id`), for job pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<SharedStr>,
    /// Spark executor id (`spark-exec-id`), for executors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<u32>,
}

/// The content of a [`EventKind::PodPreempted`] event (boxed: it is the largest
/// event and rare, and keeping it out of line keeps every other event small).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preemption {
    /// The victim.
    pub pod: PodRef,
    /// The victim's node.
    pub node: SharedStr,
    /// The victim's priority.
    pub priority: i32,
    /// The pod it made room for.
    pub preemptor: PodRef,
    /// The preemptor's UID (the Kubernetes event names the preemptor by UID).
    pub preemptor_uid: SharedStr,
    /// The preemptor's priority.
    pub preemptor_priority: i32,
    /// Kubernetes event reason: `Preempted`.
    pub reason: SharedStr,
    /// Kubernetes event message: `Preempted by pod <uid> on node <node>`.
    pub message: SharedStr,
}

/// Why a pod was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminationReason {
    /// Evicted by the scheduler for a higher-priority pod.
    Preempted,
    /// Spark deleted its executors at the end of the application.
    ApplicationFinished,
    /// The job run was cancelled.
    JobCancelled,
    /// The job run failed and EMR cleaned up its pods.
    JobFailed,
    /// The namespace was deleted.
    NamespaceDeleted,
    /// The node the pod ran on was removed.
    NodeRemoved,
    /// The cluster was deleted.
    ClusterDeleted,
}

/// What happened. The variant name is serialized as the `type` field.
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
        /// Pending pods this launch is meant for (autoscaler launches).
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
        /// Virtual cluster id.
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

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for Event {
    /// One line per event, `[   125.000s] PodPreempted ...`, for logs and reports.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:>6}.{:03}s] {} ",
            self.time_ms / 1000,
            self.time_ms % 1000,
            self.kind.type_name()
        )?;
        match &self.kind {
            EventKind::ClusterCreating { cluster }
            | EventKind::ClusterActive { cluster }
            | EventKind::ClusterDeleting { cluster }
            | EventKind::ClusterDeleted { cluster } => write!(f, "{cluster}"),
            EventKind::NodeLaunched {
                node,
                instance_type,
                capacity_type,
                pending_pods,
                ..
            } => write!(
                f,
                "{node} ({instance_type}, {capacity_type}) for {pending_pods} pending pod(s)"
            ),
            EventKind::NodeAdded {
                node,
                instance_type,
                capacity_type,
                allocatable,
                ..
            } => write!(
                f,
                "{node} ({instance_type}, {capacity_type}, allocatable {allocatable})"
            ),
            EventKind::NodeReady { node, .. } => write!(f, "{node}"),
            EventKind::NodeEmpty {
                node,
                expires_at_ms,
                ..
            } => write!(f, "{node} (removal at {expires_at_ms} ms)"),
            EventKind::NodeRemoved { node, reason, .. } => write!(f, "{node}: {reason}"),
            EventKind::PodCreated {
                pod,
                priority,
                priority_class,
                requests,
            } => write!(
                f,
                "{pod} priority {priority} ({}) requests {requests}",
                priority_class.as_deref().unwrap_or("no class")
            ),
            EventKind::PodUnschedulable { pod, message } => write!(f, "{pod}: {message}"),
            EventKind::PodNominated { pod, node } => write!(f, "{pod} nominated to {node}"),
            EventKind::PodScheduled { pod, node } => write!(f, "{pod} -> {node}"),
            EventKind::PodStarted { pod, node } => write!(f, "{pod} on {node}"),
            EventKind::PodPreempted(p) => {
                write!(f, "{} for {}: {}", p.pod, p.preemptor, p.message)
            }
            EventKind::PodTerminating {
                pod,
                grace_period_seconds,
                reason,
                ..
            } => write!(f, "{pod} ({reason:?}, grace {grace_period_seconds}s)"),
            EventKind::PodSucceeded { pod, node } => write!(f, "{pod} on {node}"),
            EventKind::PodFailed { pod, reason, .. } => write!(f, "{pod}: {reason}"),
            EventKind::PodDeleted { pod, reason, .. } => match reason {
                Some(reason) => write!(f, "{pod} ({reason:?})"),
                None => write!(f, "{pod}"),
            },
            EventKind::JobStateChanged {
                job_id,
                job_name,
                from,
                to,
                state_details,
                ..
            } => {
                match from {
                    Some(from) => write!(f, "{job_name} ({job_id}) {from} -> {to}")?,
                    None => write!(f, "{job_name} ({job_id}) {to}")?,
                }
                if let Some(details) = state_details {
                    write!(f, ": {details}")?;
                }
                Ok(())
            }
            EventKind::ExecutorRequested {
                job_id,
                executor_id,
                pod,
                ..
            } => write!(f, "{job_id} executor #{executor_id} ({pod})"),
            EventKind::ExecutorRegistered {
                job_id,
                executor_id,
                node,
                ..
            } => write!(f, "{job_id} executor #{executor_id} on {node}"),
            EventKind::ExecutorLost {
                job_id,
                executor_id,
                reason,
                ..
            } => write!(f, "{job_id} executor #{executor_id}: {reason}"),
            EventKind::TaskStarted {
                job_id,
                task,
                attempt,
                executor_id,
                duration_ms,
            } => write!(
                f,
                "{job_id} task {task}.{attempt} on executor #{executor_id} ({duration_ms} ms)"
            ),
            EventKind::TaskFinished {
                job_id,
                task,
                attempt,
                executor_id,
            }
            | EventKind::TaskLost {
                job_id,
                task,
                attempt,
                executor_id,
            } => write!(
                f,
                "{job_id} task {task}.{attempt} on executor #{executor_id}"
            ),
        }
    }
}
