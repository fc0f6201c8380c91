//! Helpers shared by the simulator's integration tests: a readable rendering of the
//! event log (jobs and nodes by role, not by their random ids) and invariant checks
//! computed from the public API alone.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use runbook_sim::{Event, EventKind, PodPhase, PodRef, PodRole, World};

/// Names jobs and nodes so that expected timelines read like the walkthrough.
pub struct Namer {
    jobs: BTreeMap<String, String>,
    nodes: BTreeMap<String, String>,
}

impl Namer {
    pub fn new(world: &World, cluster: &str, jobs: &[(&str, &str)]) -> Namer {
        let mut nodes = BTreeMap::new();
        for (i, n) in world
            .all_nodes()
            .iter()
            .filter(|n| n.cluster == cluster)
            .enumerate()
        {
            nodes.insert(n.name.to_string(), format!("node-{}", i + 1));
        }
        Namer {
            jobs: jobs
                .iter()
                .map(|(id, label)| (id.to_string(), label.to_string()))
                .collect(),
            nodes,
        }
    }

    /// Learns nodes added since creation (autoscaler nodes get `new-node-N`).
    pub fn learn_nodes(&mut self, world: &World) {
        for n in world.all_nodes() {
            if !self.nodes.contains_key(n.name.as_str()) {
                let label = format!("new-node-{}", self.nodes.len());
                self.nodes.insert(n.name.to_string(), label);
            }
        }
    }

    pub fn node(&self, name: &str) -> String {
        self.nodes
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    pub fn job(&self, id: &str) -> String {
        self.jobs.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    pub fn pod(&self, p: &PodRef) -> String {
        match (&p.job_id, p.role) {
            (Some(job), PodRole::Executor) => {
                format!("{}/executor-{}", self.job(job), p.executor_id.unwrap_or(0))
            }
            (Some(job), role) => format!("{}/{}", self.job(job), role),
            // System pods: the DaemonSet or Deployment name, without the random suffix.
            (None, _) => {
                let base = p.name.rsplit_once('-').map_or(p.name.as_str(), |(b, _)| b);
                format!("{}/{}", p.namespace, base)
            }
        }
    }

    /// One line per event, `"<seconds since start> <Kind> <subject>"`, or `None` for
    /// events outside `kinds`.
    pub fn line(&self, e: &Event, start_ms: u64, kinds: &[&str]) -> Option<String> {
        if !kinds.contains(&e.kind.type_name()) {
            return None;
        }
        let t = (e.time_ms - start_ms) as f64 / 1000.0;
        let body = match &e.kind {
            EventKind::JobStateChanged { job_id, to, .. } => format!("{} {to}", self.job(job_id)),
            EventKind::PodScheduled { pod, node } => {
                format!("{} -> {}", self.pod(pod), self.node(node))
            }
            EventKind::PodPreempted(p) => format!(
                "{} by {} on {}",
                self.pod(&p.pod),
                self.pod(&p.preemptor),
                self.node(&p.node)
            ),
            EventKind::PodNominated { pod, node } => {
                format!("{} to {}", self.pod(pod), self.node(node))
            }
            EventKind::PodDeleted { pod, .. } => self.pod(pod),
            EventKind::PodTerminating { pod, reason, .. } => {
                format!("{} {reason:?}", self.pod(pod))
            }
            EventKind::PodUnschedulable { pod, .. } => self.pod(pod),
            EventKind::ExecutorRequested {
                job_id,
                executor_id,
                ..
            } => {
                format!("{}/executor-{executor_id}", self.job(job_id))
            }
            EventKind::ExecutorLost {
                job_id,
                executor_id,
                ..
            } => {
                format!("{}/executor-{executor_id}", self.job(job_id))
            }
            EventKind::NodeLaunched {
                node,
                instance_type,
                capacity_type,
                ..
            } => {
                format!("{} {instance_type} {capacity_type}", self.node(node))
            }
            EventKind::NodeAdded { node, .. }
            | EventKind::NodeReady { node, .. }
            | EventKind::NodeEmpty { node, .. } => self.node(node),
            EventKind::NodeRemoved { node, reason, .. } => {
                format!("{} ({reason})", self.node(node))
            }
            other => other.pod().map(|p| self.pod(p)).unwrap_or_default(),
        };
        Some(format!("{t:>6.1} {} {body}", e.kind.type_name()))
    }

    pub fn timeline(&self, events: &[Event], start_ms: u64, kinds: &[&str]) -> Vec<String> {
        events
            .iter()
            .filter(|e| e.time_ms >= start_ms)
            .filter_map(|e| self.line(e, start_ms, kinds))
            .collect()
    }
}

/// Asserts two timelines are equal, printing both in full when they differ.
pub fn assert_timeline(actual: &[String], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    if actual != expected.as_slice() {
        panic!(
            "timeline differs\n--- actual ---\n{}\n--- expected ---\n{}\n",
            actual.join("\n"),
            expected.join("\n")
        );
    }
}

/// No node has more requested than allocatable, and each node's running total equals
/// the sum over the pods that hold resources on it.
pub fn check_node_capacity(world: &World) {
    for cluster in world.clusters() {
        for node in world.nodes(&cluster.name).expect("cluster exists") {
            let mut cpu = 0;
            let mut mem = 0;
            let mut count = 0;
            for p in world.pods() {
                if p.node_name.as_deref() == Some(node.name.as_str()) && !p.phase.is_terminal() {
                    cpu += p.requests.cpu_millis;
                    mem += p.requests.memory_mib;
                    count += 1;
                }
            }
            assert_eq!(
                (cpu, mem, count),
                (
                    node.requested.cpu_millis,
                    node.requested.memory_mib,
                    node.pod_count
                ),
                "node {} totals disagree with its pods",
                node.name
            );
            assert!(
                cpu <= node.allocatable.cpu_millis && mem <= node.allocatable.memory_mib,
                "node {} over allocatable: {cpu}m/{mem}Mi of {}",
                node.name,
                node.allocatable
            );
            assert!(count <= node.max_pods, "node {} over maxPods", node.name);
        }
    }
}

/// Every preemption made room for a pod of strictly higher priority.
pub fn check_preemptions(world: &World) {
    for e in world.events() {
        if let EventKind::PodPreempted(p) = &e.kind {
            assert!(
                p.preemptor_priority > p.priority,
                "{} (priority {}) preempted for {} (priority {})",
                p.pod,
                p.priority,
                p.preemptor,
                p.preemptor_priority
            );
            let victim = world
                .pod(&p.pod.cluster, &p.pod.namespace, &p.pod.name)
                .expect("victim is recorded");
            let preemptor = world
                .pod_by_uid(&p.preemptor_uid)
                .expect("preemptor exists");
            assert!(preemptor.priority > victim.priority);
            assert_eq!(
                p.message,
                format!("Preempted by pod {} on node {}", preemptor.uid, p.node)
            );
        }
    }
}

/// No pending pod fits on any node as things stand: the scheduler leaves nothing
/// schedulable behind. Room reserved for pods nominated by preemption (of at least
/// the pod's priority) counts as taken, as in kube-scheduler.
pub fn check_nothing_schedulable_left(world: &World) {
    for cluster in world.clusters() {
        let nodes = world.nodes(&cluster.name).expect("cluster exists");
        for p in world.pods().filter(|p| p.cluster == cluster.name) {
            if p.node_name.is_some()
                || p.deletion_timestamp_ms.is_some()
                || p.phase != PodPhase::Pending
            {
                continue;
            }
            for node in &nodes {
                if !(node.ready || p.tolerates_not_ready) || !node.fits_placement(&p.node_placement)
                {
                    continue;
                }
                let mut cpu = node.requested.cpu_millis;
                let mut mem = node.requested.memory_mib;
                let mut count = node.pod_count;
                for q in world.pods() {
                    if q.uid != p.uid
                        && q.nominated_node_name.as_deref() == Some(node.name.as_str())
                        && q.priority >= p.priority
                    {
                        cpu += q.requests.cpu_millis;
                        mem += q.requests.memory_mib;
                        count += 1;
                    }
                }
                let fits = cpu + p.requests.cpu_millis <= node.allocatable.cpu_millis
                    && mem + p.requests.memory_mib <= node.allocatable.memory_mib
                    && count < node.max_pods;
                assert!(
                    !fits,
                    "pending pod {}/{} ({}) fits on {} at {} ms",
                    p.namespace,
                    p.name,
                    p.requests,
                    node.name,
                    world.now()
                );
            }
        }
    }
}

/// All three invariants.
pub fn check_invariants(world: &World) {
    check_node_capacity(world);
    check_preemptions(world);
    check_nothing_schedulable_left(world);
}
