//! The future-event list of the discrete-event simulation.
//!
//! Timers fire in `(time, sequence)` order: the sequence number is assigned when a
//! timer is scheduled, so timers due at the same instant fire in the order they were
//! created. That order is a total order and part of the serialized state, so a world
//! restored from a snapshot fires the same timers in the same order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::node::CapacityType;

/// A node to register when its EC2 instance has booted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeLaunch {
    pub(crate) cluster: u32,
    pub(crate) name: String,
    pub(crate) instance_type: String,
    pub(crate) capacity_type: CapacityType,
    pub(crate) nodegroup: Option<String>,
    pub(crate) provisioner: Option<String>,
    pub(crate) zone: String,
    pub(crate) extra_labels: Vec<(String, String)>,
}

/// What a timer does when it fires. Indices refer to the world's clusters, nodes,
/// pods and jobs; handlers check that the thing is still in the state the timer
/// expects (a pod deleted meanwhile, a task attempt superseded), which is how timers
/// are cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TimerKind {
    ClusterActive { cluster: u32 },
    ClusterDeleted { cluster: u32 },
    NodeRegistered { launch: Box<NodeLaunch> },
    NodeReady { node: u32 },
    NodeEmptinessExpired { node: u32, since: u64 },
    PodRunning { pod: u32 },
    PodGone { pod: u32 },
    JobSubmitted { job: u32 },
    JobStartTimeout { job: u32 },
    SparkSubmit { job: u32 },
    DriverReady { job: u32 },
    ExecutorAllocation { job: u32 },
    ExecutorRegistered { job: u32, executor: u32 },
    TaskFinished { job: u32, task: u32, attempt: u32 },
    DriverExited { job: u32 },
    ControllerExited { job: u32, success: bool },
    AutoscalerBatch { cluster: u32, deadline: u64 },
    Reconcile { cluster: u32 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Timer {
    pub(crate) at: u64,
    pub(crate) seq: u64,
    pub(crate) kind: TimerKind,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest timer.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The pending timers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Timer>,
    next_seq: u64,
}

impl TimerQueue {
    pub(crate) fn schedule(&mut self, at: u64, kind: TimerKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Timer { at, seq, kind });
    }

    pub(crate) fn next_time(&self) -> Option<u64> {
        self.heap.peek().map(|t| t.at)
    }

    /// Pops the earliest timer if it is due at `at`.
    pub(crate) fn pop_due(&mut self, at: u64) -> Option<Timer> {
        if self.heap.peek().is_some_and(|t| t.at <= at) {
            self.heap.pop()
        } else {
            None
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_time_then_creation_order() {
        let mut q = TimerQueue::default();
        q.schedule(10, TimerKind::Reconcile { cluster: 1 });
        q.schedule(5, TimerKind::Reconcile { cluster: 2 });
        q.schedule(10, TimerKind::Reconcile { cluster: 3 });
        let order: Vec<u32> = std::iter::from_fn(|| q.pop_due(u64::MAX))
            .map(|t| match t.kind {
                TimerKind::Reconcile { cluster } => cluster,
                _ => 0,
            })
            .collect();
        assert_eq!(order, vec![2, 1, 3]);
    }

    #[test]
    fn restored_queue_fires_identically() {
        let mut q = TimerQueue::default();
        for i in 0..50u32 {
            q.schedule(u64::from(i % 7), TimerKind::Reconcile { cluster: i });
        }
        let json = serde_json::to_string(&q).expect("serialize");
        let mut r: TimerQueue = serde_json::from_str(&json).expect("deserialize");
        while let Some(a) = q.pop_due(u64::MAX) {
            let b = r.pop_due(u64::MAX).expect("same length");
            assert_eq!((a.at, a.seq, a.kind), (b.at, b.seq, b.kind));
        }
        assert!(r.pop_due(u64::MAX).is_none());
    }
}
