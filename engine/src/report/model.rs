//! The report's model: what happened in a run, rebuilt from its stored records alone
//! (the run, its step attempts and its events), long after the pods and nodes are gone.
//!
//! World events are read into the targets' own vocabulary
//! ([`runbook_backend::events::EventKind`]), which reads every spelling the targets
//! ever stored. An event of a kind this version does not know (a newer version's) is
//! counted and has nothing to draw; one the report cannot read is counted as
//! unreadable and skipped instead of failing the whole report.
//!
//! Times stay in the record's own clock (virtual ms since the world was created on
//! `sim`, Unix ms on `aws`); [`Clock`] says which and where the run started.

use std::collections::{HashMap, VecDeque};

use runbook_backend::events::{
    CapacityType, EventKind, JobState, PodRef, PodRole, TerminationReason,
};
use runbook_state::{EventRecord, RunRecord, RunStatus, StepRecord, StepStatus};
use serde::Deserialize;
use serde_json::Value;

/// Whether the process of a run recorded as `running` still exists. Only the caller can
/// ask the operating system, so it is an input of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The process is alive: the run is in progress.
    Alive,
    /// The process is gone: it was killed before it could record an end.
    Gone,
    /// Not known (e.g. the report is made on another machine).
    Unknown,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct RunModel {
    /// The run as stored.
    pub run: RunRecord,
    /// Whether the run finished, and if not, why.
    pub completeness: Completeness,
    /// The time base of the records.
    pub clock: Clock,
    /// EMR job runs, in order of submission.
    pub jobs: Vec<Job>,
    /// Every pod seen.
    pub pods: Vec<Pod>,
    /// Pods grouped by namespace and job, job groups first (by submission), then the
    /// rest (system pods) by namespace.
    pub groups: Vec<PodGroup>,
    /// Every node seen, in order of launch.
    pub nodes: Vec<Node>,
    /// Requested vs allocatable resources over time.
    pub usage: Usage,
    /// The steps, in the order they first began, each with all its attempts.
    pub steps: Vec<StepRow>,
    /// Executors that replaced lost ones, in order.
    pub replacements: Vec<usize>,
    /// Preempted pods, in order.
    pub preemptions: Vec<usize>,
    /// Events of the world (not of steps) the report read.
    pub world_events: usize,
    /// Events the report could not read (skipped).
    pub unreadable_events: usize,
}

/// Whether the run is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completeness {
    /// It succeeded: every step ran.
    Complete,
    /// It did not finish (failed, interrupted, killed or still running).
    Incomplete {
        /// One line: what state it is in.
        headline: String,
        /// Why, and what to do.
        detail: String,
    },
}

/// The time base of a run's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Virtual time (the simulator) rather than wall-clock time.
    pub virtual_time: bool,
    /// When the run started, in the records' clock.
    pub origin_ms: i64,
    /// The last recorded instant.
    pub end_ms: i64,
}

impl Clock {
    /// `ms` as an offset from the start of the run.
    pub fn offset(&self, ms: i64) -> i64 {
        ms - self.origin_ms
    }
}

/// An EMR job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Job run id.
    pub id: String,
    /// Job run name (empty if no state change was recorded).
    pub name: String,
    /// Namespace of its virtual cluster.
    pub namespace: String,
    /// Its state changes, in order.
    pub states: Vec<JobStateMark>,
}

impl Job {
    /// When it was first seen (its submission).
    pub fn first_ms(&self) -> Option<i64> {
        self.states.first().map(|s| s.at_ms)
    }

    /// Its terminal state change, if it reached one.
    pub fn terminal(&self) -> Option<&JobStateMark> {
        self.states.iter().rev().find(|s| s.is_terminal())
    }

    /// The name if known, else the id.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// One state change of a job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStateMark {
    /// When.
    pub at_ms: i64,
    /// The new state.
    pub state: JobState,
    /// EMR's `stateDetails` and `failureReason`, if any.
    pub details: Option<String>,
}

impl JobStateMark {
    /// COMPLETED, FAILED or CANCELLED.
    pub fn is_terminal(&self) -> bool {
        self.state.is_terminal()
    }
}

/// What a pod is for, from EMR's `component` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The EMR job-runner (`component: controller`), which runs `spark-submit`.
    JobRunner,
    /// The Spark driver.
    Driver,
    /// A Spark executor.
    Executor,
    /// A cluster pod (CoreDNS, DaemonSets) or anything else.
    System,
}

impl From<PodRole> for Role {
    fn from(role: PodRole) -> Role {
        match role {
            PodRole::Controller => Role::JobRunner,
            PodRole::Driver => Role::Driver,
            PodRole::Executor => Role::Executor,
            PodRole::System => Role::System,
        }
    }
}

impl Role {
    /// The CSS class and legend name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::JobRunner => "job-runner",
            Role::Driver => "driver",
            Role::Executor => "executor",
            Role::System => "system",
        }
    }
}

/// How a pod's life ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEnd {
    /// Its containers succeeded.
    Succeeded,
    /// Its containers failed, with the reason.
    Failed(String),
    /// It was deleted, with the recorded reason.
    Deleted(Option<TerminationReason>),
}

/// One pod and its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// EMR role.
    pub role: Role,
    /// EMR job run id, for job pods.
    pub job_id: Option<String>,
    /// Spark executor id, for executors.
    pub executor_id: Option<u32>,
    /// Scheduling priority.
    pub priority: Option<i64>,
    /// PriorityClass.
    pub priority_class: Option<String>,
    /// CPU request, millicores.
    pub cpu_millis: i64,
    /// Memory request, MiB.
    pub memory_mib: i64,
    /// The node it was bound to.
    pub node: Option<String>,
    /// When it was first seen (created, or its first event).
    pub created_ms: i64,
    /// Bound to a node.
    pub scheduled_ms: Option<i64>,
    /// Containers running.
    pub started_ms: Option<i64>,
    /// Got a deletion timestamp.
    pub terminating_ms: Option<i64>,
    /// Phase Succeeded or Failed.
    pub finished_ms: Option<i64>,
    /// Gone.
    pub deleted_ms: Option<i64>,
    /// How it ended, if it did.
    pub end: Option<PodEnd>,
    /// The scheduler's first "no node fits" message.
    pub unschedulable: Option<String>,
    /// If it was preempted: when, where and for whom.
    pub preempted: Option<Preemption>,
    /// If it is an executor that replaced a lost one: which.
    pub replaces: Option<Replacement>,
}

impl Pod {
    /// `executor #2`, `driver`, `job-runner`, or the name of a system pod.
    pub fn short_label(&self) -> String {
        match (self.role, self.executor_id) {
            (Role::Executor, Some(id)) => format!("executor #{id}"),
            (Role::System, _) => self.name.clone(),
            (role, _) => role.as_str().to_owned(),
        }
    }

    /// When it stopped holding its node's resources (kube-scheduler frees a pod's
    /// requests when it succeeds, fails or is deleted).
    pub fn released_ms(&self) -> Option<i64> {
        match (self.finished_ms, self.deleted_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When it stopped running: finished, terminating or deleted, whichever came first.
    pub fn stopped_ms(&self) -> Option<i64> {
        [self.finished_ms, self.terminating_ms, self.deleted_ms]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A preemption, on its victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    /// When the victim was chosen.
    pub at_ms: i64,
    /// The victim's node.
    pub node: Option<String>,
    /// The preemptor's namespace.
    pub by_namespace: String,
    /// The preemptor's name.
    pub by_pod: String,
    /// The preemptor's job, if a job pod.
    pub by_job: Option<String>,
    /// The preemptor's priority.
    pub by_priority: Option<i64>,
    /// The victim's priority.
    pub victim_priority: Option<i64>,
}

/// An executor that replaced a lost one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The executor id it replaced, if known.
    pub executor_id: Option<u32>,
    /// The lost executor's pod name.
    pub pod: String,
}

/// The pods of one job (or of one namespace, for pods of no job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodGroup {
    /// Namespace.
    pub namespace: String,
    /// Index into [`RunModel::jobs`], for a job's pods.
    pub job: Option<usize>,
    /// Indices into [`RunModel::pods`]: job-runner, driver, executors by id, then
    /// others by creation.
    pub pods: Vec<usize>,
}

/// A node and its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// EC2 instance type.
    pub instance_type: String,
    /// On-demand or spot.
    pub capacity: CapacityType,
    /// Node group or provisioner that launched it.
    pub launched_by: Option<String>,
    /// EC2 launch (billing starts), or its first event.
    pub launched_ms: i64,
    /// Registered with the cluster.
    pub added_ms: Option<i64>,
    /// Ready.
    pub ready_ms: Option<i64>,
    /// Removed (billing ends).
    pub removed_ms: Option<i64>,
    /// Why it was removed.
    pub removed_reason: Option<String>,
    /// Allocatable CPU, millicores.
    pub cpu_millis: i64,
    /// Allocatable memory, MiB.
    pub memory_mib: i64,
}

/// A step function: `(t, v)` means the value is `v` from `t` until the next point.
pub type Series = Vec<(i64, i64)>;

/// Requested vs allocatable resources, as step functions over time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU requested by pods bound to nodes (Container Insights' "reserved"), millicores.
    pub cpu_requested: Series,
    /// CPU requested by pods waiting for a node, millicores.
    pub cpu_pending: Series,
    /// Allocatable CPU of the registered nodes, millicores.
    pub cpu_allocatable: Series,
    /// Memory requested by bound pods, MiB.
    pub memory_requested: Series,
    /// Memory requested by waiting pods, MiB.
    pub memory_pending: Series,
    /// Allocatable memory, MiB.
    pub memory_allocatable: Series,
    /// Registered nodes.
    pub nodes: Series,
}

/// A step instance and its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    /// `id` or `id[index]`.
    pub key: String,
    /// The action.
    pub action: String,
    /// A step of the `finally` section.
    pub is_finally: bool,
    /// Its attempts, in order.
    pub attempts: Vec<AttemptBar>,
}

impl StepRow {
    /// The status of the latest attempt.
    pub fn status(&self) -> StepStatus {
        self.attempts
            .last()
            .map_or(StepStatus::Running, |a| a.status)
    }
}

/// One attempt of a step, placed in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptBar {
    /// 1, 2, ...
    pub attempt: u32,
    /// Its status.
    pub status: StepStatus,
    /// When it began (in the records' clock).
    pub start_ms: i64,
    /// When it ended; `None` while (or if it was killed while) running.
    pub end_ms: Option<i64>,
    /// The start was not recorded in the records' clock (a step killed mid-way has no
    /// `step.started` event): it is placed after the steps before it.
    pub start_estimated: bool,
    /// It re-entered an attempt after a resume.
    pub resumed: bool,
    /// Why it failed.
    pub error: Option<String>,
}

// ----- reading events ---------------------------------------------------------------

/// A stored world event, as far as this version can read it.
enum Stored {
    /// One of the kinds the targets record.
    Known(EventKind),
    /// Of a kind this version does not know (a newer version's): nothing to draw.
    Unknown,
    /// Without a `type`, or with fields that do not read.
    Unreadable,
}

fn read_world_event(data: &Value) -> Stored {
    match EventKind::deserialize(data) {
        Ok(kind) => Stored::Known(kind),
        Err(_) => match data.get("type").and_then(Value::as_str) {
            Some(kind) if !EventKind::is_type_name(kind) => Stored::Unknown,
            _ => Stored::Unreadable,
        },
    }
}

/// An amount of the event vocabulary (unsigned) as the report's signed arithmetic
/// needs it.
fn signed(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
struct StepStartedIn {
    #[serde(default = "one")]
    attempt: u32,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resumed: bool,
}

#[derive(Deserialize)]
struct StepFinishedIn {
    #[serde(default = "one")]
    attempt: u32,
}

fn one() -> u32 {
    1
}

// ----- building ----------------------------------------------------------------------

/// Builds the model of a run from its records.
pub fn build(
    run: RunRecord,
    attempts: &[StepRecord],
    events: &[EventRecord],
    liveness: Liveness,
) -> RunModel {
    let mut b = Builder::default();
    for event in events {
        b.end_ms = b.end_ms.max(event.at_ms);
        match event.kind.as_str() {
            "step.started" => {
                if let (Some(key), Ok(data)) =
                    (&event.step_key, StepStartedIn::deserialize(&event.data))
                {
                    let timing = b
                        .step_timing
                        .entry((key.clone(), data.attempt))
                        .or_default();
                    timing.start = Some(event.at_ms);
                    timing.resumed |= data.resumed;
                    if !data.action.is_empty() {
                        b.step_actions.insert(key.clone(), data.action);
                    }
                }
            }
            "step.finished" => {
                if let (Some(key), Ok(data)) =
                    (&event.step_key, StepFinishedIn::deserialize(&event.data))
                {
                    b.step_timing
                        .entry((key.clone(), data.attempt))
                        .or_default()
                        .end = Some(event.at_ms);
                }
            }
            _ if event.kind.starts_with("step.") => {}
            _ => match read_world_event(&event.data) {
                Stored::Known(world) => {
                    b.world_events += 1;
                    b.apply(event.at_ms, world);
                }
                Stored::Unknown => b.world_events += 1,
                Stored::Unreadable => b.unreadable += 1,
            },
        }
    }

    let virtual_time = run.target == "sim";
    let origin_ms = match (virtual_time, &run.world) {
        // A world of its own starts at virtual time 0; a named world's run starts where
        // the runs before it left the world's clock: at its earliest record.
        (true, None) => 0,
        (true, Some(_)) => events.iter().map(|e| e.at_ms).min().unwrap_or(0),
        (false, _) => run.started_at_ms,
    };
    let clock = Clock {
        virtual_time,
        origin_ms,
        end_ms: b.end_ms.max(origin_ms),
    };
    let steps = b.steps(attempts, clock.origin_ms);
    let completeness = completeness(&run, &steps, liveness);
    let groups = b.groups();
    let usage = b.usage();
    let Builder {
        jobs,
        pods,
        nodes,
        replacements,
        preemptions,
        world_events,
        unreadable,
        ..
    } = b;
    RunModel {
        run,
        completeness,
        clock,
        jobs,
        pods,
        groups,
        nodes,
        usage,
        steps,
        replacements,
        preemptions,
        world_events,
        unreadable_events: unreadable,
    }
}

#[derive(Default)]
struct StepTiming {
    start: Option<i64>,
    end: Option<i64>,
    resumed: bool,
}

#[derive(Default)]
struct Builder {
    end_ms: i64,
    jobs: Vec<Job>,
    job_index: HashMap<String, usize>,
    pods: Vec<Pod>,
    pod_index: HashMap<String, usize>,
    nodes: Vec<Node>,
    node_index: HashMap<String, usize>,
    /// Per job: executors lost and not yet replaced (pod name, executor id).
    lost: HashMap<String, VecDeque<(String, Option<u32>)>>,
    /// Pods already counted as lost (a preemption is followed by its deletion and
    /// Spark's `ExecutorLost`: one loss).
    lost_pods: std::collections::HashSet<String>,
    replacements: Vec<usize>,
    preemptions: Vec<usize>,
    step_timing: HashMap<(String, u32), StepTiming>,
    step_actions: HashMap<String, String>,
    world_events: usize,
    unreadable: usize,
}

fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Builder {
    fn pod(&mut self, r: &PodRef, at_ms: i64) -> usize {
        let key = pod_key(&r.namespace, &r.name);
        if let Some(&i) = self.pod_index.get(&key) {
            return i;
        }
        let i = self.pods.len();
        self.pods.push(Pod {
            role: Role::from(r.role),
            namespace: r.namespace.to_string(),
            name: r.name.to_string(),
            job_id: r.job_id.as_deref().map(str::to_owned),
            executor_id: r.executor_id,
            priority: None,
            priority_class: None,
            cpu_millis: 0,
            memory_mib: 0,
            node: None,
            created_ms: at_ms,
            scheduled_ms: None,
            started_ms: None,
            terminating_ms: None,
            finished_ms: None,
            deleted_ms: None,
            end: None,
            unschedulable: None,
            preempted: None,
            replaces: None,
        });
        self.pod_index.insert(key, i);
        i
    }

    fn job(&mut self, id: &str) -> usize {
        if let Some(&i) = self.job_index.get(id) {
            return i;
        }
        let i = self.jobs.len();
        self.jobs.push(Job {
            id: id.to_owned(),
            name: String::new(),
            namespace: String::new(),
            states: Vec::new(),
        });
        self.job_index.insert(id.to_owned(), i);
        i
    }

    fn node(&mut self, name: &str, at_ms: i64) -> usize {
        if let Some(&i) = self.node_index.get(name) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_owned(),
            cluster: String::new(),
            instance_type: String::new(),
            capacity: CapacityType::OnDemand,
            launched_by: None,
            launched_ms: at_ms,
            added_ms: None,
            ready_ms: None,
            removed_ms: None,
            removed_reason: None,
            cpu_millis: 0,
            memory_mib: 0,
        });
        self.node_index.insert(name.to_owned(), i);
        i
    }

    /// Records that an executor of a running job was lost, once per pod.
    fn executor_lost(&mut self, job_id: &str, pod: &str, executor_id: Option<u32>) {
        if !self.lost_pods.insert(pod.to_owned()) {
            return;
        }
        let job_over = self
            .job_index
            .get(job_id)
            .is_some_and(|&j| self.jobs[j].terminal().is_some());
        if !job_over {
            self.lost
                .entry(job_id.to_owned())
                .or_default()
                .push_back((pod.to_owned(), executor_id));
        }
    }

    fn pod_lost(&mut self, i: usize) {
        let pod = &self.pods[i];
        if pod.role != Role::Executor {
            return;
        }
        if let Some(job) = pod.job_id.clone() {
            let (name, id) = (pod.name.clone(), pod.executor_id);
            self.executor_lost(&job, &name, id);
        }
    }

    fn apply(&mut self, at: i64, event: EventKind) {
        match event {
            EventKind::NodeLaunched {
                cluster,
                node,
                instance_type,
                capacity_type,
                nodegroup,
                provisioner,
                ..
            } => {
                let i = self.node(&node, at);
                let n = &mut self.nodes[i];
                n.launched_ms = n.launched_ms.min(at);
                n.cluster = cluster.into();
                n.instance_type = instance_type.into();
                n.capacity = capacity_type;
                n.launched_by = provisioner
                    .map(|p| format!("provisioner {p}"))
                    .or(nodegroup.map(|g| format!("node group {g}")));
            }
            EventKind::NodeAdded {
                cluster,
                node,
                instance_type,
                capacity_type,
                allocatable,
            } => {
                let i = self.node(&node, at);
                let n = &mut self.nodes[i];
                n.added_ms = Some(at);
                if n.cluster.is_empty() {
                    n.cluster = cluster.into();
                }
                n.instance_type = instance_type.into();
                n.capacity = capacity_type;
                n.cpu_millis = signed(allocatable.cpu_millis);
                n.memory_mib = signed(allocatable.memory_mib);
            }
            EventKind::NodeReady { node, .. } => {
                let i = self.node(&node, at);
                self.nodes[i].ready_ms = Some(at);
            }
            EventKind::NodeRemoved { node, reason, .. } => {
                let i = self.node(&node, at);
                let n = &mut self.nodes[i];
                n.removed_ms.get_or_insert(at);
                n.removed_reason = Some(reason.into());
            }
            EventKind::ClusterDeleted { cluster } => {
                for n in &mut self.nodes {
                    if n.cluster == cluster && n.removed_ms.is_none() {
                        n.removed_ms = Some(at);
                        n.removed_reason = Some("the cluster was deleted".into());
                    }
                }
            }
            EventKind::PodCreated {
                pod,
                priority,
                priority_class,
                requests,
            } => {
                let i = self.pod(&pod, at);
                let role = self.pods[i].role;
                let job = self.pods[i].job_id.clone();
                {
                    let p = &mut self.pods[i];
                    p.created_ms = at;
                    p.priority = Some(i64::from(priority));
                    p.priority_class = priority_class.map(String::from);
                    p.cpu_millis = signed(requests.cpu_millis);
                    p.memory_mib = signed(requests.memory_mib);
                }
                // Spark asks for a new executor for each one it lost: the first
                // executor created after a loss replaces it.
                if role == Role::Executor {
                    if let Some(lost) = job.and_then(|j| self.lost.get_mut(&j)) {
                        if let Some((pod, executor_id)) = lost.pop_front() {
                            self.pods[i].replaces = Some(Replacement { executor_id, pod });
                            self.replacements.push(i);
                        }
                    }
                }
            }
            EventKind::PodUnschedulable { pod, message } => {
                let i = self.pod(&pod, at);
                self.pods[i].unschedulable.get_or_insert(message.into());
            }
            EventKind::PodScheduled { pod, node } => {
                let i = self.pod(&pod, at);
                let p = &mut self.pods[i];
                p.scheduled_ms.get_or_insert(at);
                p.node = Some(node.into());
            }
            EventKind::PodStarted { pod, node } => {
                let i = self.pod(&pod, at);
                let p = &mut self.pods[i];
                p.started_ms.get_or_insert(at);
                p.node = Some(node.into());
            }
            EventKind::PodPreempted(preemption) => {
                let i = self.pod(&preemption.pod, at);
                // A later record of the same preemption supersedes the first (on aws, a
                // late `Preempted` event names the preemptor the first lacked).
                let first = self.pods[i].preempted.as_ref().map(|p| p.at_ms);
                let by = &preemption.preemptor;
                self.pods[i].preempted = Some(Preemption {
                    at_ms: first.unwrap_or(at),
                    node: Some(preemption.node.to_string()),
                    by_namespace: by.namespace.to_string(),
                    by_pod: by.name.to_string(),
                    by_job: by.job_id.as_deref().map(str::to_owned),
                    by_priority: Some(i64::from(preemption.preemptor_priority)),
                    victim_priority: Some(i64::from(preemption.priority)),
                });
                if first.is_none() {
                    self.preemptions.push(i);
                }
                self.pod_lost(i);
            }
            EventKind::PodTerminating { pod, .. } => {
                let i = self.pod(&pod, at);
                self.pods[i].terminating_ms.get_or_insert(at);
            }
            EventKind::PodSucceeded { pod, .. } => {
                let i = self.pod(&pod, at);
                let p = &mut self.pods[i];
                p.finished_ms.get_or_insert(at);
                p.end = Some(PodEnd::Succeeded);
            }
            EventKind::PodFailed { pod, reason, .. } => {
                let i = self.pod(&pod, at);
                let p = &mut self.pods[i];
                p.finished_ms.get_or_insert(at);
                p.end = Some(PodEnd::Failed(reason.into()));
                self.pod_lost(i);
            }
            EventKind::PodDeleted { pod, reason, .. } => {
                let i = self.pod(&pod, at);
                let p = &mut self.pods[i];
                p.deleted_ms.get_or_insert(at);
                if !matches!(p.end, Some(PodEnd::Succeeded | PodEnd::Failed(_))) {
                    p.end = Some(PodEnd::Deleted(reason));
                }
                if reason.is_some_and(TerminationReason::loses_executor) {
                    self.pod_lost(i);
                }
            }
            EventKind::JobStateChanged {
                job_id,
                job_name,
                namespace,
                to,
                state_details,
                failure_reason,
                ..
            } => {
                let j = self.job(&job_id);
                let job = &mut self.jobs[j];
                if !job_name.is_empty() {
                    job.name = job_name.into();
                }
                if !namespace.is_empty() {
                    job.namespace = namespace.into();
                }
                let details = match (failure_reason, state_details) {
                    (Some(r), Some(d)) => Some(format!("{r}: {d}")),
                    (r, d) => r.map(|r| r.to_string()).or(d.map(String::from)),
                };
                let mark = JobStateMark {
                    at_ms: at,
                    state: to,
                    details,
                };
                if mark.is_terminal() {
                    // Executors deleted with a finished job are not replaced.
                    self.lost.remove(job_id.as_str());
                }
                job.states.push(mark);
            }
            EventKind::ExecutorLost {
                job_id,
                executor_id,
                pod,
                ..
            } => self.executor_lost(&job_id, &pod, Some(executor_id)),
            // Nothing the report draws: the cluster's own life, the autoscaler's
            // emptiness timer, nominations, and Spark's executor and task bookkeeping.
            EventKind::ClusterCreating { .. }
            | EventKind::ClusterActive { .. }
            | EventKind::ClusterDeleting { .. }
            | EventKind::NodeEmpty { .. }
            | EventKind::PodNominated { .. }
            | EventKind::ExecutorRequested { .. }
            | EventKind::ExecutorRegistered { .. }
            | EventKind::TaskStarted { .. }
            | EventKind::TaskFinished { .. }
            | EventKind::TaskLost { .. } => {}
        }
    }

    fn groups(&mut self) -> Vec<PodGroup> {
        // Jobs seen only through their pods (no state change recorded) still get a group.
        for i in 0..self.pods.len() {
            if let Some(job) = self.pods[i].job_id.clone() {
                let j = self.job(&job);
                if self.jobs[j].namespace.is_empty() {
                    self.jobs[j].namespace = self.pods[i].namespace.clone();
                }
            }
        }
        let mut by_key: HashMap<(String, Option<usize>), usize> = HashMap::new();
        let mut groups: Vec<PodGroup> = Vec::new();
        for (i, pod) in self.pods.iter().enumerate() {
            let job = pod
                .job_id
                .as_ref()
                .and_then(|j| self.job_index.get(j).copied());
            let key = (pod.namespace.clone(), job);
            let g = *by_key.entry(key).or_insert_with(|| {
                groups.push(PodGroup {
                    namespace: pod.namespace.clone(),
                    job,
                    pods: Vec::new(),
                });
                groups.len() - 1
            });
            groups[g].pods.push(i);
        }
        let pods = &self.pods;
        let jobs = &self.jobs;
        for group in &mut groups {
            group.pods.sort_by_key(|&i| {
                let p = &pods[i];
                (p.role, p.executor_id.unwrap_or(u32::MAX), p.created_ms, i)
            });
        }
        let first_ms = |g: &PodGroup| {
            let pod_first = g.pods.iter().map(|&i| pods[i].created_ms).min();
            g.job
                .and_then(|j| jobs[j].first_ms())
                .into_iter()
                .chain(pod_first)
                .min()
                .unwrap_or(i64::MAX)
        };
        groups.sort_by(|a, b| {
            (a.job.is_none(), first_ms(a), &a.namespace).cmp(&(
                b.job.is_none(),
                first_ms(b),
                &b.namespace,
            ))
        });
        // Jobs in the order of their groups (submission), for the summary; jobs
        // without pods after them.
        let mut order: Vec<usize> = groups.iter().filter_map(|g| g.job).collect();
        let mut placed = vec![false; self.jobs.len()];
        for &j in &order {
            placed[j] = true;
        }
        order.extend((0..self.jobs.len()).filter(|&j| !placed[j]));
        let remap: HashMap<usize, usize> = order
            .iter()
            .enumerate()
            .map(|(new, &old)| (old, new))
            .collect();
        let mut jobs_sorted: Vec<Option<Job>> = self.jobs.drain(..).map(Some).collect();
        self.jobs = order
            .iter()
            .filter_map(|&old| jobs_sorted[old].take())
            .collect();
        self.job_index = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.id.clone(), i))
            .collect();
        for g in &mut groups {
            g.job = g.job.and_then(|old| remap.get(&old).copied());
        }
        groups
    }

    fn usage(&self) -> Usage {
        let mut cpu_req = Vec::new();
        let mut mem_req = Vec::new();
        let mut cpu_pend = Vec::new();
        let mut mem_pend = Vec::new();
        for p in &self.pods {
            let released = p.released_ms();
            if let Some(bound) = p.scheduled_ms {
                cpu_req.push((bound, p.cpu_millis));
                mem_req.push((bound, p.memory_mib));
                if let Some(end) = released {
                    cpu_req.push((end.max(bound), -p.cpu_millis));
                    mem_req.push((end.max(bound), -p.memory_mib));
                }
            }
            let waited_until = p.scheduled_ms.or(released);
            cpu_pend.push((p.created_ms, p.cpu_millis));
            mem_pend.push((p.created_ms, p.memory_mib));
            if let Some(end) = waited_until {
                cpu_pend.push((end.max(p.created_ms), -p.cpu_millis));
                mem_pend.push((end.max(p.created_ms), -p.memory_mib));
            }
        }
        let mut cpu_alloc = Vec::new();
        let mut mem_alloc = Vec::new();
        let mut count = Vec::new();
        for n in &self.nodes {
            let Some(added) = n.added_ms else { continue };
            cpu_alloc.push((added, n.cpu_millis));
            mem_alloc.push((added, n.memory_mib));
            count.push((added, 1));
            if let Some(removed) = n.removed_ms {
                cpu_alloc.push((removed.max(added), -n.cpu_millis));
                mem_alloc.push((removed.max(added), -n.memory_mib));
                count.push((removed.max(added), -1));
            }
        }
        Usage {
            cpu_requested: accumulate(cpu_req),
            cpu_pending: accumulate(cpu_pend),
            cpu_allocatable: accumulate(cpu_alloc),
            memory_requested: accumulate(mem_req),
            memory_pending: accumulate(mem_pend),
            memory_allocatable: accumulate(mem_alloc),
            nodes: accumulate(count),
        }
    }

    fn steps(&self, attempts: &[StepRecord], origin_ms: i64) -> Vec<StepRow> {
        let mut rows: Vec<StepRow> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        // Where an attempt without a recorded start is placed: after everything that
        // began before it.
        let mut latest_end = origin_ms;
        for a in attempts {
            let timing = self.step_timing.get(&(a.step_key.clone(), a.attempt));
            let recorded_start = timing.and_then(|t| t.start);
            let end = timing
                .and_then(|t| t.end)
                .filter(|_| a.status != StepStatus::Running);
            let (start, estimated) = match recorded_start {
                Some(s) => (s, false),
                None => (latest_end, true),
            };
            latest_end = latest_end.max(end.unwrap_or(start)).max(start);
            let action = self
                .step_actions
                .get(&a.step_key)
                .cloned()
                .or_else(|| {
                    a.input
                        .get("action")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let bar = AttemptBar {
                attempt: a.attempt,
                status: a.status,
                start_ms: start,
                end_ms: end.or(match a.status {
                    StepStatus::Running => None,
                    _ => Some(start),
                }),
                start_estimated: estimated,
                resumed: timing.is_some_and(|t| t.resumed),
                error: a.error.clone(),
            };
            match index.get(a.step_key.as_str()) {
                Some(&r) => rows[r].attempts.push(bar),
                None => {
                    index.insert(&a.step_key, rows.len());
                    rows.push(StepRow {
                        key: a.step_key.clone(),
                        action,
                        is_finally: a.is_finally,
                        attempts: vec![bar],
                    });
                }
            }
        }
        for row in &mut rows {
            row.attempts.sort_by_key(|a| a.attempt);
        }
        rows
    }
}

/// Sums `(t, delta)` changes into a step function, one point per instant.
fn accumulate(mut deltas: Vec<(i64, i64)>) -> Series {
    deltas.sort_by_key(|&(t, _)| t);
    let mut out: Series = Vec::with_capacity(deltas.len());
    let mut value = 0;
    for (t, d) in deltas {
        value += d;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = value,
            _ => out.push((t, value)),
        }
    }
    out
}

/// The pointwise sum of two step functions (e.g. requested + pending).
pub fn sum(a: &Series, b: &Series) -> Series {
    let mut deltas = Vec::with_capacity(a.len() + b.len());
    for s in [a, b] {
        let mut previous = 0;
        for &(t, v) in s {
            deltas.push((t, v - previous));
            previous = v;
        }
    }
    accumulate(deltas)
}

/// The value of a step function at `t`.
pub fn value_at(series: &Series, t: i64) -> i64 {
    match series.partition_point(|&(at, _)| at <= t) {
        0 => 0,
        n => series[n - 1].1,
    }
}

/// `text` ending with a full stop (errors usually come without one).
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

fn completeness(run: &RunRecord, steps: &[StepRow], liveness: Liveness) -> Completeness {
    let resume = format!("`runbook resume {}` continues it.", run.id);
    let failed = |finally: bool| -> Vec<&StepRow> {
        steps
            .iter()
            .filter(|s| s.status() == StepStatus::Failed && (finally || !s.is_finally))
            .collect()
    };
    let (main, all) = (failed(false), failed(true));
    let failed_step = crate::step_key::innermost(&main, |s| &s.key)
        .or_else(|| crate::step_key::innermost(&all, |s| &s.key))
        .copied();
    let running: Vec<&str> = steps
        .iter()
        .filter(|s| s.status() == StepStatus::Running)
        .map(|s| s.key.as_str())
        .collect();
    let running_text = if running.is_empty() {
        String::new()
    } else {
        format!(" Step(s) left running: {}.", running.join(", "))
    };
    match run.status {
        RunStatus::Succeeded => Completeness::Complete,
        RunStatus::Failed => {
            let what = match failed_step {
                Some(step) => {
                    let error = step
                        .attempts
                        .last()
                        .and_then(|a| a.error.clone())
                        .or_else(|| run.error.clone())
                        .unwrap_or_else(|| "no error was recorded".into());
                    format!("Step {} failed: {error}", step.key)
                }
                None => run
                    .error
                    .clone()
                    .unwrap_or_else(|| "No error was recorded.".into()),
            };
            Completeness::Incomplete {
                headline: "Incomplete: the run failed.".into(),
                detail: format!(
                    "{} `runbook resume {}` retries the failed step.",
                    sentence(&what),
                    run.id
                ),
            }
        }
        RunStatus::Abandoned => Completeness::Incomplete {
            headline: "Incomplete: the run was abandoned.".into(),
            detail: format!(
                "{}{running_text} It will not be resumed.",
                sentence(
                    &run.error
                        .clone()
                        .unwrap_or_else(|| "It was retired by a person.".into())
                )
            ),
        },
        RunStatus::Interrupted => Completeness::Incomplete {
            headline: "Incomplete: the run was interrupted.".into(),
            detail: format!(
                "{}{running_text} {resume}",
                sentence(&run.error.clone().unwrap_or_else(|| {
                    "It was stopped by a signal (SIGINT/SIGTERM) before its steps were done.".into()
                }))
            ),
        },
        RunStatus::Running => match liveness {
            Liveness::Alive => Completeness::Incomplete {
                headline: "Incomplete: the run is still in progress.".into(),
                detail: format!(
                    "Its process (pid {}) is running; this report shows what was recorded so far.{running_text}",
                    run.pid
                ),
            },
            Liveness::Gone => Completeness::Incomplete {
                headline: "Incomplete: the run was killed before it finished.".into(),
                detail: format!(
                    "It is recorded as running, but its process (pid {}) is gone without \
                     recording an end: it was killed (kill -9, out of memory, a reboot).\
                     {running_text} What happened after the last checkpoint is not recorded. {resume}",
                    run.pid
                ),
            },
            Liveness::Unknown => Completeness::Incomplete {
                headline: "Incomplete: the run did not record an end.".into(),
                detail: format!(
                    "It is recorded as running (pid {}): it is still in progress, or it was \
                     killed.{running_text} If it was killed, {resume}",
                    run.pid
                ),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(target: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            id: "r1".into(),
            runbook_name: "demo".into(),
            runbook_path: "demo.yaml".into(),
            content_hash: "h".into(),
            params: json!({}),
            lock_key: "k".into(),
            target: target.into(),
            status,
            started_at_ms: 1_000_000,
            finished_at_ms: None,
            pid: 42,
            resume_count: 0,
            error: None,
            host: "test".into(),
            settings: json!({"target": "sim"}),
            world: None,
        }
    }

    fn ev(seq: i64, at_ms: i64, data: Value) -> EventRecord {
        let kind = data["type"].as_str().unwrap_or("step.started").to_owned();
        EventRecord {
            seq,
            run_id: "r1".into(),
            at_ms,
            kind,
            step_key: None,
            subject: None,
            data,
        }
    }

    fn pod(ns: &str, name: &str, role: &str, job: &str, exec: Option<u32>) -> Value {
        let mut p =
            json!({"cluster": "c", "namespace": ns, "name": name, "role": role, "job_id": job});
        if let Some(id) = exec {
            p["executor_id"] = json!(id);
        }
        p
    }

    /// The priority demo's shape: executor 2 of job `low` is preempted by an executor
    /// of `high`; Spark asks for executor 3, which replaces it.
    fn story() -> Vec<EventRecord> {
        let e1 = pod("mb", "low-exec-1", "executor", "low", Some(1));
        let e2 = pod("mb", "low-exec-2", "executor", "low", Some(2));
        let e3 = pod("mb", "low-exec-3", "executor", "low", Some(3));
        let d = pod("mb", "low-driver", "driver", "low", None);
        let h2 = pod("idb", "high-exec-2", "executor", "high", Some(2));
        let req = json!({"cpu_millis": 1000, "memory_mib": 3067});
        let events = vec![
            json!({"type": "NodeLaunched", "cluster": "c", "node": "n1", "instance_type": "c5.2xlarge", "capacity_type": "OnDemand", "nodegroup": "ng", "pending_pods": 0}),
            json!({"type": "NodeAdded", "cluster": "c", "node": "n1", "instance_type": "c5.2xlarge", "capacity_type": "OnDemand", "allocatable": {"cpu_millis": 7910, "memory_mib": 14162}}),
            json!({"type": "JobStateChanged", "job_id": "low", "job_name": "low-job", "virtual_cluster_id": "v", "namespace": "mb", "to": "PENDING"}),
            json!({"type": "PodCreated", "pod": d, "priority": 400, "requests": {"cpu_millis": 1000, "memory_mib": 1633}}),
            json!({"type": "PodScheduled", "pod": d, "node": "n1"}),
            json!({"type": "PodStarted", "pod": d, "node": "n1"}),
            json!({"type": "PodCreated", "pod": e1, "priority": 100, "requests": req}),
            json!({"type": "PodCreated", "pod": e2, "priority": 100, "requests": req}),
            json!({"type": "PodScheduled", "pod": e1, "node": "n1"}),
            json!({"type": "PodScheduled", "pod": e2, "node": "n1"}),
            json!({"type": "JobStateChanged", "job_id": "high", "job_name": "high-job", "virtual_cluster_id": "v2", "namespace": "idb", "to": "PENDING"}),
            json!({"type": "PodCreated", "pod": h2, "priority": 400, "requests": req}),
            json!({"type": "PodPreempted", "pod": e2, "node": "n1", "priority": 100, "preemptor": h2, "preemptor_uid": "u", "preemptor_priority": 400, "reason": "Preempted", "message": "m"}),
            json!({"type": "PodTerminating", "pod": e2, "node": "n1", "grace_period_seconds": 30, "reason": "Preempted"}),
            json!({"type": "ExecutorLost", "job_id": "low", "executor_id": 2, "pod": "low-exec-2", "reason": "preempted"}),
            json!({"type": "PodDeleted", "pod": e2, "node": "n1", "reason": "Preempted"}),
            json!({"type": "PodScheduled", "pod": h2, "node": "n1"}),
            json!({"type": "PodCreated", "pod": e3, "priority": 100, "requests": req}),
            json!({"type": "PodScheduled", "pod": e3, "node": "n1"}),
            json!({"type": "PodStarted", "pod": e3, "node": "n1"}),
            json!({"type": "JobStateChanged", "job_id": "high", "job_name": "high-job", "virtual_cluster_id": "v2", "namespace": "idb", "from": "RUNNING", "to": "COMPLETED"}),
            json!({"type": "JobStateChanged", "job_id": "low", "job_name": "low-job", "virtual_cluster_id": "v", "namespace": "mb", "from": "RUNNING", "to": "COMPLETED"}),
            json!({"type": "SomethingNew", "x": 1}),
            json!({"no_type": true}),
        ];
        events
            .into_iter()
            .enumerate()
            .map(|(i, data)| {
                let i = i64::try_from(i).expect("small");
                let mut e = ev(i + 1, 10_000 * i, data);
                if e.kind == "step.started" {
                    e.kind = "Mystery".into();
                }
                e
            })
            .collect()
    }

    #[test]
    fn preemption_names_the_preemptor_and_the_next_executor_replaces_the_lost_one() {
        let m = build(
            run("sim", RunStatus::Succeeded),
            &[],
            &story(),
            Liveness::Unknown,
        );
        assert_eq!(m.preemptions.len(), 1, "one preemption, not one per event");
        let victim = &m.pods[m.preemptions[0]];
        assert_eq!(victim.name, "low-exec-2");
        let p = victim.preempted.as_ref().expect("preempted");
        assert_eq!(
            (p.by_namespace.as_str(), p.by_pod.as_str()),
            ("idb", "high-exec-2")
        );
        assert_eq!(p.by_job.as_deref(), Some("high"));
        assert_eq!(
            m.replacements.len(),
            1,
            "ExecutorLost and PodDeleted are the same loss"
        );
        let r = &m.pods[m.replacements[0]];
        assert_eq!(r.executor_id, Some(3));
        assert_eq!(
            r.replaces,
            Some(Replacement {
                executor_id: Some(2),
                pod: "low-exec-2".into()
            })
        );
        assert_eq!(m.unreadable_events, 1, "an event without a type is skipped");
        assert_eq!(m.world_events, 23);
    }

    /// On aws a preemption can be recorded first without its preemptor (the
    /// `Preempted` event came late) and then again, complete: one preemption, at the
    /// first record's time, with the preemptor of the second.
    #[test]
    fn a_later_record_of_a_preemption_completes_the_first() {
        let mut events = story();
        let at = events
            .iter()
            .position(|e| e.data["type"] == "PodPreempted")
            .expect("the story's preemption");
        let complete = events[at].data.clone();
        let first_at = events[at].at_ms;
        let unknown = json!({"cluster": "", "namespace": "", "name": "unknown", "role": "system"});
        events[at].data["preemptor"] = unknown;
        let seq = i64::try_from(events.len()).expect("small") + 1;
        events.push(ev(seq, first_at + 60_000, complete));
        let m = build(
            run("aws", RunStatus::Succeeded),
            &[],
            &events,
            Liveness::Unknown,
        );
        assert_eq!(m.preemptions.len(), 1, "one preemption, recorded twice");
        let p = m.pods[m.preemptions[0]]
            .preempted
            .as_ref()
            .expect("preempted");
        assert_eq!(
            (p.by_namespace.as_str(), p.by_pod.as_str()),
            ("idb", "high-exec-2")
        );
        assert_eq!(p.at_ms, first_at, "when it happened");
    }

    #[test]
    fn pods_are_grouped_by_job_in_order_of_submission_with_driver_first() {
        let m = build(
            run("sim", RunStatus::Succeeded),
            &[],
            &story(),
            Liveness::Unknown,
        );
        let groups: Vec<(String, Vec<String>)> = m
            .groups
            .iter()
            .map(|g| {
                (
                    g.job
                        .map(|j| m.jobs[j].label().to_owned())
                        .unwrap_or_default(),
                    g.pods.iter().map(|&i| m.pods[i].short_label()).collect(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                (
                    "low-job".to_owned(),
                    vec![
                        "driver".to_owned(),
                        "executor #1".to_owned(),
                        "executor #2".to_owned(),
                        "executor #3".to_owned()
                    ]
                ),
                ("high-job".to_owned(), vec!["executor #2".to_owned()])
            ]
        );
        let states: Vec<&str> = m.jobs[0].states.iter().map(|s| s.state.as_str()).collect();
        assert_eq!(states, ["PENDING", "COMPLETED"]);
    }

    #[test]
    fn requested_resources_follow_binding_and_release() {
        let m = build(
            run("sim", RunStatus::Succeeded),
            &[],
            &story(),
            Liveness::Unknown,
        );
        // Driver (1000) + exec 1 + exec 2 bound at t=90 s.
        assert_eq!(value_at(&m.usage.cpu_requested, 90_000), 3000);
        // Exec 2 deleted at 150 s (released), high exec 2 bound at 160 s.
        assert_eq!(value_at(&m.usage.cpu_requested, 150_000), 2000);
        assert_eq!(value_at(&m.usage.cpu_requested, 160_000), 3000);
        // The high executor waits from 110 s until it is bound at 160 s.
        assert_eq!(value_at(&m.usage.cpu_pending, 110_000), 1000);
        assert_eq!(value_at(&m.usage.cpu_pending, 160_000), 0);
        assert_eq!(value_at(&m.usage.cpu_allocatable, 5_000), 0);
        assert_eq!(value_at(&m.usage.cpu_allocatable, 10_000), 7910);
        assert_eq!(value_at(&m.usage.nodes, 10_000), 1);
    }

    fn attempt(key: &str, n: u32, status: StepStatus, error: Option<&str>) -> StepRecord {
        StepRecord {
            run_id: "r1".into(),
            step_key: key.into(),
            step_id: key.into(),
            item_index: None,
            is_finally: false,
            attempt: n,
            idempotency_key: format!("{key}-{n}"),
            input: json!({"action": "sleep"}),
            status,
            outputs: None,
            error: error.map(str::to_owned),
            started_at_ms: 1,
            clock_started_at_ms: None,
            failure: None,
            finished_at_ms: None,
        }
    }

    fn step_event(seq: i64, at_ms: i64, kind: &str, key: &str, attempt: u32) -> EventRecord {
        EventRecord {
            seq,
            run_id: "r1".into(),
            at_ms,
            kind: kind.into(),
            step_key: Some(key.into()),
            subject: None,
            data: json!({"attempt": attempt, "action": "wait-for-job", "resumed": false, "status": "x"}),
        }
    }

    #[test]
    fn steps_use_event_times_and_a_killed_step_is_placed_after_the_last_one() {
        let attempts = [
            attempt("a", 1, StepStatus::Failed, Some("boom")),
            attempt("a", 2, StepStatus::Succeeded, None),
            attempt("b", 1, StepStatus::Running, None),
        ];
        let events = [
            step_event(1, 0, "step.started", "a", 1),
            step_event(2, 5_000, "step.finished", "a", 1),
            step_event(3, 7_000, "step.started", "a", 2),
            step_event(4, 9_000, "step.finished", "a", 2),
        ];
        let m = build(
            run("sim", RunStatus::Running),
            &attempts,
            &events,
            Liveness::Gone,
        );
        assert_eq!(m.steps.len(), 2);
        let a = &m.steps[0];
        assert_eq!(
            a.action, "wait-for-job",
            "the action of the step.started event"
        );
        let times: Vec<_> = a.attempts.iter().map(|t| (t.start_ms, t.end_ms)).collect();
        assert_eq!(times, [(0, Some(5_000)), (7_000, Some(9_000))]);
        assert_eq!(a.attempts[0].error.as_deref(), Some("boom"));
        let b = &m.steps[1].attempts[0];
        assert_eq!(
            (b.start_ms, b.end_ms, b.start_estimated),
            (9_000, None, true)
        );
        match &m.completeness {
            Completeness::Incomplete { headline, detail } => {
                assert!(headline.contains("killed"), "{headline}");
                assert!(detail.contains("pid 42"), "{detail}");
                assert!(detail.contains("Step(s) left running: b."), "{detail}");
                assert!(detail.contains("runbook resume r1"), "{detail}");
            }
            Completeness::Complete => panic!("a killed run is not complete"),
        }
    }

    #[test]
    fn a_run_on_a_named_world_starts_at_the_worlds_time() {
        let attempts = [attempt("a", 1, StepStatus::Succeeded, None)];
        let events = [
            step_event(1, 660_000, "step.started", "a", 1),
            step_event(2, 700_000, "step.finished", "a", 1),
        ];
        let mut on_world = run("sim", RunStatus::Succeeded);
        on_world.world = Some("w".into());
        let m = build(on_world, &attempts, &events, Liveness::Unknown);
        assert_eq!(m.clock.origin_ms, 660_000);
        assert_eq!(m.clock.offset(m.clock.end_ms), 40_000);
        let own = build(
            run("sim", RunStatus::Succeeded),
            &attempts,
            &events,
            Liveness::Unknown,
        );
        assert_eq!(own.clock.origin_ms, 0, "a world of its own starts at 0");
    }

    #[test]
    fn a_failed_run_names_its_failed_step_and_aws_times_start_at_the_run() {
        let attempts = [attempt("a", 1, StepStatus::Failed, Some("no such bucket"))];
        let events = [
            step_event(1, 1_000_500, "step.started", "a", 1),
            step_event(2, 1_002_000, "step.finished", "a", 1),
        ];
        let m = build(
            run("aws", RunStatus::Failed),
            &attempts,
            &events,
            Liveness::Unknown,
        );
        assert_eq!(m.clock.origin_ms, 1_000_000);
        assert_eq!(m.clock.offset(m.steps[0].attempts[0].start_ms), 500);
        assert!(m.pods.is_empty() && m.nodes.is_empty());
        let Completeness::Incomplete { headline, detail } = &m.completeness else {
            panic!("a failed run is incomplete");
        };
        assert!(headline.contains("failed"), "{headline}");
        assert!(
            detail.contains("Step a failed: no such bucket. `runbook resume r1` retries"),
            "{detail}"
        );
    }

    #[test]
    fn a_step_function_reads_the_value_in_force() {
        let s = accumulate(vec![(10, 5), (10, 1), (20, -6), (5, 2)]);
        assert_eq!(s, [(5, 2), (10, 8), (20, 2)]);
        assert_eq!(value_at(&s, 0), 0);
        assert_eq!(value_at(&s, 10), 8);
        assert_eq!(value_at(&s, 19), 8);
        assert_eq!(value_at(&s, 99), 2);
        let t = sum(&s, &accumulate(vec![(10, 1), (30, -1)]));
        assert_eq!(t, [(5, 2), (10, 9), (20, 3), (30, 2)]);
    }
}
