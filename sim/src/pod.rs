//! Pods: their labels (exactly those EMR on EKS and Spark set), requests, priority,
//! phase and conditions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{PodRef, TerminationReason};
use crate::node_affinity::NodePlacement;
use crate::priority::PreemptionPolicy;
use crate::resources::Resources;
use crate::shared_str::SharedStr;

/// `emr-containers.amazonaws.com/job.id`.
pub const LABEL_EMR_JOB_ID: &str = "emr-containers.amazonaws.com/job.id";
/// `emr-containers.amazonaws.com/virtual-cluster-id`.
pub const LABEL_EMR_VIRTUAL_CLUSTER_ID: &str = "emr-containers.amazonaws.com/virtual-cluster-id";
/// `emr-containers.amazonaws.com/component`: `controller`, `driver` or `executor`.
pub const LABEL_EMR_COMPONENT: &str = "emr-containers.amazonaws.com/component";
/// `emr-containers.amazonaws.com/resource.type`: `job.run` on every job pod.
pub const LABEL_EMR_RESOURCE_TYPE: &str = "emr-containers.amazonaws.com/resource.type";
/// `spark-role`: `driver` or `executor`.
pub const LABEL_SPARK_ROLE: &str = "spark-role";
/// `spark-exec-id`: the executor id.
pub const LABEL_SPARK_EXEC_ID: &str = "spark-exec-id";
/// `spark-app-selector`: the Spark application id.
pub const LABEL_SPARK_APP_SELECTOR: &str = "spark-app-selector";

pub use runbook_backend::events::PodRole;

/// `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Not yet running (unscheduled, or bound and starting containers).
    Pending,
    /// Containers running.
    Running,
    /// Containers exited successfully.
    Succeeded,
    /// Containers failed or were killed.
    Failed,
}

impl PodPhase {
    /// Succeeded or Failed: the pod no longer holds node resources.
    pub fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// A pod condition type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionType {
    /// `PodScheduled`.
    PodScheduled,
    /// `Ready`.
    Ready,
    /// `DisruptionTarget`: the pod is about to be deleted by a disruption (here,
    /// scheduler preemption).
    DisruptionTarget,
}

/// `status.conditions[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodCondition {
    /// Type.
    #[serde(rename = "type")]
    pub condition_type: ConditionType,
    /// `True` or `False`.
    pub status: bool,
    /// Machine-readable reason, e.g. `Unschedulable`, `PreemptionByScheduler`.
    pub reason: Option<SharedStr>,
    /// Human-readable message.
    pub message: Option<SharedStr>,
    /// When the condition last changed.
    pub last_transition_ms: u64,
}

/// A pod in a cluster. Deleted pods stay queryable (with `deleted_at_ms` set) so that
/// reports can show what happened to them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    /// `metadata.uid`.
    pub uid: SharedStr,
    /// Name.
    pub name: SharedStr,
    /// Namespace.
    pub namespace: SharedStr,
    /// EKS cluster.
    pub cluster: SharedStr,
    /// Labels (EMR and Spark labels for job pods, plus pod template labels).
    pub labels: BTreeMap<SharedStr, SharedStr>,
    /// What the pod is for.
    pub role: PodRole,
    /// EMR job run id, for job pods.
    pub job_id: Option<SharedStr>,
    /// Spark executor id, for executors.
    pub executor_id: Option<u32>,
    /// Container image.
    pub image: SharedStr,
    /// Priority resolved at admission.
    pub priority: i32,
    /// PriorityClass resolved at admission (explicit or global default).
    pub priority_class_name: Option<SharedStr>,
    /// From the PriorityClass.
    pub preemption_policy: PreemptionPolicy,
    /// `spec.nodeSelector` and the required node affinity (`alias`: snapshots stored
    /// before node affinity was modelled name the selector alone `node_selector`).
    #[serde(alias = "node_selector")]
    pub node_placement: NodePlacement,
    /// Sum of the containers' requests.
    pub requests: Resources,
    /// Container names with their requests.
    pub containers: Vec<(SharedStr, Resources)>,
    /// `spec.terminationGracePeriodSeconds`.
    pub termination_grace_period_seconds: u64,
    /// `status.phase`.
    pub phase: PodPhase,
    /// `spec.nodeName` once bound.
    pub node_name: Option<SharedStr>,
    /// `status.nominatedNodeName` while waiting for preemption victims to go.
    pub nominated_node_name: Option<SharedStr>,
    /// `status.conditions`.
    pub conditions: Vec<PodCondition>,
    /// `metadata.creationTimestamp`.
    pub created_at_ms: u64,
    /// When it was bound.
    pub scheduled_at_ms: Option<u64>,
    /// `status.startTime`: when the kubelet accepted the pod (used to order
    /// preemption victims).
    pub start_time_ms: Option<u64>,
    /// When its containers were running.
    pub running_at_ms: Option<u64>,
    /// When it reached Succeeded or Failed.
    pub finished_at_ms: Option<u64>,
    /// `metadata.deletionTimestamp`.
    pub deletion_timestamp_ms: Option<u64>,
    /// Why the pod is being (or was) deleted.
    pub deletion_reason: Option<TerminationReason>,
    /// When the object was removed.
    pub deleted_at_ms: Option<u64>,
    /// DaemonSet pods tolerate `node.kubernetes.io/not-ready`.
    pub tolerates_not_ready: bool,
    /// Admission order: breaks ties between pods created at the same instant.
    pub(crate) seq: u64,
    pub(crate) cluster_idx: u32,
    pub(crate) node_idx: Option<u32>,
    pub(crate) job_idx: Option<u32>,
    pub(crate) shape: Option<u32>,
    pub(crate) unschedulable: bool,
    pub(crate) unschedulable_reported: bool,
    pub(crate) daemonset: bool,
    /// An autoscaler launch is under way for this pod.
    pub(crate) provisioning: bool,
    /// The pod's containers were killed (it will end Failed rather than Succeeded).
    pub(crate) killed: bool,
}

impl Pod {
    /// A reference for events.
    pub fn pod_ref(&self) -> PodRef {
        PodRef {
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            role: self.role,
            job_id: self.job_id.clone(),
            executor_id: self.executor_id,
        }
    }

    /// The object no longer exists.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at_ms.is_some()
    }

    /// Has a deletion timestamp but still exists.
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp_ms.is_some() && self.deleted_at_ms.is_none()
    }

    /// Waiting for a node (unbound and not being deleted).
    pub fn is_pending_unbound(&self) -> bool {
        self.node_name.is_none() && self.deletion_timestamp_ms.is_none() && !self.is_deleted()
    }

    /// Holds resources on a node: bound, not terminal, not deleted.
    pub fn holds_resources(&self) -> bool {
        self.node_idx.is_some() && !self.phase.is_terminal() && !self.is_deleted()
    }

    /// The condition of the given type, if set.
    pub fn condition(&self, t: ConditionType) -> Option<&PodCondition> {
        self.conditions.iter().find(|c| c.condition_type == t)
    }

    /// True when the scheduler marked the pod as a preemption victim
    /// (`DisruptionTarget` with reason `PreemptionByScheduler`).
    pub fn preempted(&self) -> bool {
        self.condition(ConditionType::DisruptionTarget)
            .is_some_and(|c| c.status && c.reason.as_deref() == Some("PreemptionByScheduler"))
    }

    /// A `kubectl get pods`-style status: `Pending`, `ContainerCreating`, `Running`,
    /// `Terminating`, `Completed`, `Error`, `Deleted`.
    pub fn display_status(&self) -> &'static str {
        if self.is_deleted() {
            "Deleted"
        } else if self.is_terminating() {
            "Terminating"
        } else {
            match self.phase {
                PodPhase::Pending if self.node_name.is_some() => "ContainerCreating",
                PodPhase::Pending => "Pending",
                PodPhase::Running => "Running",
                PodPhase::Succeeded => "Completed",
                PodPhase::Failed => "Error",
            }
        }
    }

    /// True when every `key: value` of `selector` is among the pod's labels.
    pub fn matches_labels(&self, selector: &BTreeMap<String, String>) -> bool {
        selector
            .iter()
            .all(|(k, v)| self.labels.get(k.as_str()).is_some_and(|have| have == v))
    }

    pub(crate) fn set_condition(
        &mut self,
        condition_type: ConditionType,
        status: bool,
        reason: Option<&str>,
        message: Option<SharedStr>,
        now: u64,
    ) {
        let reason = reason.map(SharedStr::from);
        if let Some(c) = self
            .conditions
            .iter_mut()
            .find(|c| c.condition_type == condition_type)
        {
            if c.status != status {
                c.last_transition_ms = now;
            }
            c.status = status;
            c.reason = reason;
            c.message = message;
        } else {
            self.conditions.push(PodCondition {
                condition_type,
                status,
                reason,
                message,
                last_transition_ms: now,
            });
        }
    }
}
