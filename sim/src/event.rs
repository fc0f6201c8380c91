//! The append-only log of everything observable that happened in the world.
//!
//! Each [`Event`] has a virtual timestamp, a position in the log and a self-describing
//! [`EventKind`] (the event vocabulary of the target interface, `runbook_backend::events`,
//! which the `aws` observer produces too): pod events carry the pod's cluster, namespace, name, EMR role, job id
//! and executor id, so a report or an assertion (`assert-eviction`) can work from the
//! log alone, after the pods are long gone. Events serialize to JSON with a `type` tag
//! for storage in the state database.

use serde::{Deserialize, Serialize};

pub use runbook_backend::events::{EventKind, PodRef, Preemption, TerminationReason};

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
