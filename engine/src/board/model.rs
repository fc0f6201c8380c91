//! What the board shows, kept up to date from the target's observed events: each node
//! with its allocatable capacity and the pods on it, the pods no node has taken, the
//! latest lines of the story (the narration's), and the time.
//!
//! It is built from the same events the state DB stores and the report reads (on `sim`
//! the simulator's, on `aws` the watches'), so the board shows what the run observed,
//! not a second model of the cluster.

use std::collections::{BTreeMap, VecDeque};

use runbook_backend::events::{
    CapacityType, EventKind, JobState, ObservedEvent, PodRef, PodRole, Resources,
};

/// How many story lines the board keeps (it shows the latest that fit).
const STORY_LINES: usize = 50;

/// How long a preempted pod stays on its node's box, marked, after the preemption:
/// long enough for the audience to see who left and who took its place.
pub const VICTIM_SHOWN_MS: i64 = 20_000;

/// A node as the board draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    pub name: String,
    pub instance_type: String,
    pub capacity_type: CapacityType,
    pub allocatable: Resources,
    /// Launched by the autoscaler (Karpenter) rather than a node group.
    pub autoscaled: bool,
    pub ready: bool,
    /// The pods bound to it, in the order they were bound.
    pub pods: Vec<String>,
}

/// A pod as the board draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodTile {
    /// `namespace/name`: its key on the board.
    pub key: String,
    pub name: String,
    pub namespace: String,
    pub role: PodRole,
    pub job_id: Option<String>,
    pub executor_id: Option<u32>,
    pub priority: i32,
    pub priority_class: Option<String>,
    pub requests: Resources,
    pub node: Option<String>,
    pub running: bool,
    /// Preempted at this time: it leaves its node as the preemptor takes the place.
    pub preempted_at_ms: Option<i64>,
}

impl PodTile {
    /// A short label: `driver`, `exec #2`, or the pod's name for others.
    pub fn label(&self) -> String {
        match (self.role, self.executor_id) {
            (PodRole::Executor, Some(id)) => format!("exec #{id}"),
            (PodRole::Driver, _) => "driver".into(),
            (PodRole::Controller, _) => "job-runner".into(),
            _ => self.name.clone(),
        }
    }
}

/// What `pods` request together.
pub fn requested<'a>(pods: impl IntoIterator<Item = &'a PodTile>) -> Resources {
    let mut sum = Resources::ZERO;
    for pod in pods {
        sum += pod.requests;
    }
    sum
}

/// A job as the legend shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobLine {
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub state: JobState,
}

/// Everything on the board at one instant.
#[derive(Debug, Clone, Default)]
pub struct BoardModel {
    pub nodes: BTreeMap<String, NodeBox>,
    pub pods: BTreeMap<String, PodTile>,
    /// Jobs in the order they were submitted.
    pub jobs: Vec<JobLine>,
    /// The latest story lines, oldest first.
    pub story: VecDeque<String>,
    /// The time of the latest event, ms (virtual time on `sim`).
    pub now_ms: i64,
    /// The time the run's clock started, for `t+` times.
    pub origin_ms: i64,
    /// Shown in the title: `running`, `paused`, the step running...
    pub status: String,
    /// Preempted pods still shown, in the order they were preempted (so that letting
    /// them go does not scan every pod at every event: a board of 100,000 pods).
    victims: VecDeque<(i64, String)>,
}

impl BoardModel {
    /// An empty board whose `t+` times count from `origin_ms`.
    pub fn new(origin_ms: i64) -> Self {
        BoardModel {
            origin_ms,
            now_ms: origin_ms,
            status: "starting".into(),
            ..BoardModel::default()
        }
    }

    /// Takes one observed event into the board.
    pub fn apply(&mut self, event: &ObservedEvent) {
        self.now_ms = self.now_ms.max(event.at_ms);
        self.forget_old_victims();
        match &event.kind {
            EventKind::NodeLaunched {
                node,
                instance_type,
                capacity_type,
                provisioner,
                ..
            } => {
                let entry = self.node_entry(node, instance_type, *capacity_type);
                entry.autoscaled = provisioner.is_some();
            }
            EventKind::NodeAdded {
                node,
                instance_type,
                capacity_type,
                allocatable,
                ..
            } => {
                let entry = self.node_entry(node, instance_type, *capacity_type);
                entry.allocatable = *allocatable;
            }
            EventKind::NodeReady { node, .. } => {
                if let Some(n) = self.nodes.get_mut(node.as_ref()) {
                    n.ready = true;
                }
            }
            EventKind::NodeRemoved { node, .. } => {
                self.nodes.remove(node.as_ref());
            }
            EventKind::PodCreated {
                pod,
                priority,
                priority_class,
                requests,
            } => {
                let tile = PodTile {
                    key: pod.to_string(),
                    name: pod.name.to_string(),
                    namespace: pod.namespace.to_string(),
                    role: pod.role,
                    job_id: pod.job_id.as_ref().map(ToString::to_string),
                    executor_id: pod.executor_id,
                    priority: *priority,
                    priority_class: priority_class.as_ref().map(ToString::to_string),
                    requests: *requests,
                    node: None,
                    running: false,
                    preempted_at_ms: None,
                };
                self.pods.insert(tile.key.clone(), tile);
            }
            EventKind::PodScheduled { pod, node } => self.bind(pod, node),
            EventKind::PodStarted { pod, node } => {
                self.bind(pod, node);
                if let Some(tile) = self.pods.get_mut(&pod.to_string()) {
                    tile.running = true;
                }
            }
            EventKind::PodPreempted(p) => {
                let key = p.pod.to_string();
                if let Some(tile) = self.pods.get_mut(&key) {
                    tile.preempted_at_ms = Some(event.at_ms);
                    self.victims.push_back((event.at_ms, key));
                }
            }
            EventKind::PodSucceeded { pod, .. }
            | EventKind::PodFailed { pod, .. }
            | EventKind::PodDeleted { pod, .. } => self.unbind(pod, event.at_ms),
            EventKind::JobStateChanged {
                job_id,
                job_name,
                namespace,
                to,
                ..
            } => match self.jobs.iter_mut().find(|j| j.id == job_id.as_ref()) {
                Some(job) => job.state = *to,
                None => self.jobs.push(JobLine {
                    id: job_id.to_string(),
                    name: job_name.to_string(),
                    namespace: namespace.to_string(),
                    state: *to,
                }),
            },
            _ => {}
        }
    }

    /// Adds a line of the story (the narration's, see [`crate::story`]) with its `t+`
    /// time.
    pub fn say(&mut self, at_ms: i64, text: &str) {
        let secs = (at_ms - self.origin_ms).max(0) / 1000;
        self.story
            .push_back(format!("t+{}m{:02}s  {text}", secs / 60, secs % 60));
        while self.story.len() > STORY_LINES {
            self.story.pop_front();
        }
    }

    /// The pods no node has taken (pending), by priority, highest first.
    pub fn pending(&self) -> Vec<&PodTile> {
        let mut pending: Vec<&PodTile> = self
            .pods
            .values()
            .filter(|p| p.node.is_none() && p.preempted_at_ms.is_none())
            .collect();
        pending.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.key.cmp(&b.key)));
        pending
    }

    /// What a node's pods request together (a preempted pod no longer counts).
    pub fn used(&self, node: &NodeBox) -> Resources {
        requested(
            node.pods
                .iter()
                .filter_map(|key| self.pods.get(key))
                .filter(|p| p.preempted_at_ms.is_none()),
        )
    }

    fn node_entry(
        &mut self,
        node: &str,
        instance_type: &str,
        capacity_type: CapacityType,
    ) -> &mut NodeBox {
        self.nodes
            .entry(node.to_string())
            .or_insert_with(|| NodeBox {
                name: node.to_string(),
                instance_type: instance_type.to_string(),
                capacity_type,
                allocatable: Resources::ZERO,
                autoscaled: false,
                ready: false,
                pods: Vec::new(),
            })
    }

    fn bind(&mut self, pod: &PodRef, node: &str) {
        let key = pod.to_string();
        let Some(tile) = self.pods.get_mut(&key) else {
            return;
        };
        if tile.node.as_deref() == Some(node) {
            return;
        }
        tile.node = Some(node.to_string());
        if let Some(n) = self.nodes.get_mut(node) {
            n.pods.push(key);
        }
    }

    /// A pod that finished or is gone leaves the board, unless it was preempted: then
    /// it stays marked for [`VICTIM_SHOWN_MS`].
    fn unbind(&mut self, pod: &PodRef, at_ms: i64) {
        let key = pod.to_string();
        let preempted = self
            .pods
            .get(&key)
            .is_some_and(|p| p.preempted_at_ms.is_some());
        if preempted && at_ms - self.pods[&key].preempted_at_ms.unwrap_or(at_ms) < VICTIM_SHOWN_MS {
            return;
        }
        self.remove_pod(&key);
    }

    fn remove_pod(&mut self, key: &str) {
        if let Some(tile) = self.pods.remove(key)
            && let Some(node) = tile.node.and_then(|n| self.nodes.get_mut(&n))
        {
            node.pods.retain(|k| k != key);
        }
    }

    /// Preempted pods shown long enough leave the board.
    fn forget_old_victims(&mut self) {
        while let Some((at, _)) = self.victims.front()
            && self.now_ms - at >= VICTIM_SHOWN_MS
        {
            let Some((at, key)) = self.victims.pop_front() else {
                break;
            };
            if self
                .pods
                .get(&key)
                .is_some_and(|p| p.preempted_at_ms == Some(at))
            {
                self.remove_pod(&key);
            }
        }
    }
}
