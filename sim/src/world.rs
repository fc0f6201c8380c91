//! The simulated world: its state, the clock, the event log and the queries.
//!
//! Commands live in [`commands`](crate::commands) (AWS and Kubernetes API calls), the
//! behaviour in the modules named after the component that owns it: the kubelet
//! ([`kubelet`](crate::kubelet)), the scheduler ([`scheduler`](crate::scheduler),
//! [`preemption`](crate::preemption)), EMR and Spark ([`emr`](crate::emr)) and
//! Karpenter ([`autoscaler`](crate::autoscaler)). They are all `impl World` blocks over
//! the one state below, which is plain data: it serializes with serde, and a world
//! restored from JSON continues exactly as the original would.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterStatus};
use crate::error::SimError;
use crate::event::{Event, EventKind};
use crate::iam::Role;
use crate::job_run::JobRun;
use crate::log_group::LogGroup;
use crate::node::Node;
use crate::node_affinity::NodePlacement;
use crate::params::SimParams;
use crate::pod::{ConditionType, Pod, PodPhase, PodRole};
use crate::priority::PriorityClass;
use crate::resources::Resources;
use crate::s3::Bucket;
use crate::shared_str::SharedStr;
use crate::stored_object::ObjectChange;
use crate::timer::{TimerKind, TimerQueue};
use crate::virtual_cluster::VirtualCluster;

/// The whole simulated AWS account: EKS clusters with their nodes and pods, EMR
/// virtual clusters and job runs, IAM roles, log groups and S3 buckets, a virtual
/// clock and the event log.
///
/// Determinism: the only source of randomness is a ChaCha8 generator seeded at
/// creation and stored in the world; all collections are ordered; ties are broken by
/// creation order. The same seed and the same commands give the same event log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    pub(crate) params: SimParams,
    pub(crate) now: u64,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) timers: TimerQueue,
    pub(crate) events: Vec<Event>,
    pub(crate) clusters: Vec<Cluster>,
    pub(crate) cluster_ids: BTreeMap<String, u32>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) node_ids: BTreeMap<String, u32>,
    pub(crate) pods: Vec<Pod>,
    pub(crate) pod_uids: BTreeMap<String, u32>,
    pub(crate) jobs: Vec<JobRun>,
    pub(crate) job_ids: BTreeMap<String, u32>,
    pub(crate) virtual_clusters: BTreeMap<String, VirtualCluster>,
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) log_groups: BTreeMap<String, LogGroup>,
    pub(crate) buckets: BTreeMap<String, Bucket>,
    pub(crate) used_ips: BTreeSet<u32>,
    pub(crate) next_pod_seq: u64,
    pub(crate) dirty_clusters: BTreeSet<u32>,
    pub(crate) pending_emptiness: BTreeSet<u32>,
    /// Writes of stored objects (ConfigMaps, Roles, RoleBindings), in order: their
    /// place in the world's resource versions (see `resource_version`).
    #[serde(default)]
    pub(crate) object_log: Vec<ObjectChange>,
    /// How many stored objects were ever created (each one's UID comes from it).
    #[serde(default)]
    pub(crate) objects_created: u64,
}

/// A pod to admit (internal).
pub(crate) struct NewPod {
    pub(crate) cluster: u32,
    pub(crate) namespace: SharedStr,
    pub(crate) name: SharedStr,
    pub(crate) role: PodRole,
    pub(crate) job: Option<u32>,
    pub(crate) executor_id: Option<u32>,
    pub(crate) labels: BTreeMap<SharedStr, SharedStr>,
    pub(crate) image: SharedStr,
    pub(crate) priority_class: Option<String>,
    pub(crate) node_placement: NodePlacement,
    pub(crate) containers: Vec<(SharedStr, Resources)>,
    pub(crate) grace_seconds: u64,
    pub(crate) daemonset: bool,
}

impl World {
    /// A new, empty world at virtual time 0.
    pub fn new(seed: u64, params: SimParams) -> World {
        World {
            params,
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            timers: TimerQueue::default(),
            events: Vec::new(),
            clusters: Vec::new(),
            cluster_ids: BTreeMap::new(),
            nodes: Vec::new(),
            node_ids: BTreeMap::new(),
            pods: Vec::new(),
            pod_uids: BTreeMap::new(),
            jobs: Vec::new(),
            job_ids: BTreeMap::new(),
            virtual_clusters: BTreeMap::new(),
            roles: BTreeMap::new(),
            log_groups: BTreeMap::new(),
            buckets: BTreeMap::new(),
            used_ips: BTreeSet::new(),
            next_pod_seq: 0,
            dirty_clusters: BTreeSet::new(),
            pending_emptiness: BTreeSet::new(),
            object_log: Vec::new(),
            objects_created: 0,
        }
    }

    /// The parameters the world was created with.
    pub fn params(&self) -> &SimParams {
        &self.params
    }

    // ------------------------------------------------------------------ time

    /// Current virtual time in milliseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// When the next thing will happen, or `None` if nothing is scheduled (the world
    /// is idle until the next command).
    pub fn next_event_time(&self) -> Option<u64> {
        self.timers.next_time()
    }

    /// Processes every timer due at the earliest scheduled instant, then lets the
    /// scheduler and autoscaler react. Returns `false` when nothing was scheduled.
    ///
    /// Everything due at the same instant is processed before the scheduler runs, as
    /// pods created "at once" reach kube-scheduler's queue together and are then taken
    /// in priority order.
    pub fn step(&mut self) -> bool {
        let Some(at) = self.timers.next_time() else {
            return false;
        };
        self.now = self.now.max(at);
        while let Some(timer) = self.timers.pop_due(self.now) {
            self.handle_timer(timer.kind);
        }
        self.run_scheduling();
        self.process_emptiness();
        true
    }

    /// Processes everything up to and including virtual time `t`, then sets the clock
    /// to `t`.
    pub fn advance_to(&mut self, t: u64) -> Result<(), SimError> {
        if t < self.now {
            return Err(SimError::TimeInPast {
                now_ms: self.now,
                requested_ms: t,
            });
        }
        while self.timers.next_time().is_some_and(|next| next <= t) {
            self.step();
        }
        self.now = t;
        Ok(())
    }

    /// Advances the clock by `ms`.
    pub fn advance_by(&mut self, ms: u64) {
        let target = self.now.saturating_add(ms);
        // `target >= now` by construction.
        let _ = self.advance_to(target);
    }

    /// Runs until nothing is scheduled any more and returns the time reached. Pods that
    /// can never be scheduled do not keep the world busy.
    pub fn run_until_idle(&mut self) -> u64 {
        while self.step() {}
        self.now
    }

    /// Steps until `condition` holds (checked before each step and after each step) or
    /// the next step would go past `deadline_ms`. Returns whether the condition holds;
    /// the clock is left at the instant it became true, or at `deadline_ms`.
    pub fn run_until(
        &mut self,
        deadline_ms: u64,
        mut condition: impl FnMut(&World) -> bool,
    ) -> bool {
        loop {
            if condition(self) {
                return true;
            }
            match self.timers.next_time() {
                Some(next) if next <= deadline_ms => {
                    self.step();
                }
                _ => {
                    if deadline_ms > self.now {
                        self.now = deadline_ms;
                    }
                    return condition(self);
                }
            }
        }
    }

    pub(crate) fn schedule(&mut self, at: u64, kind: TimerKind) {
        self.timers.schedule(at, kind);
    }

    pub(crate) fn schedule_in(&mut self, delay_ms: u64, kind: TimerKind) {
        let at = self.now + delay_ms;
        self.timers.schedule(at, kind);
    }

    fn handle_timer(&mut self, kind: TimerKind) {
        match kind {
            TimerKind::ClusterActive { cluster } => self.on_cluster_active(cluster),
            TimerKind::ClusterDeleted { cluster } => self.on_cluster_deleted(cluster),
            TimerKind::NodeRegistered { launch } => self.on_node_registered(*launch),
            TimerKind::NodeReady { node } => self.on_node_ready(node),
            TimerKind::NodeEmptinessExpired { node, since } => {
                self.on_node_emptiness_expired(node, since)
            }
            TimerKind::PodRunning { pod } => self.on_pod_running(pod),
            TimerKind::PodGone { pod } => self.on_pod_gone(pod),
            TimerKind::JobSubmitted { job } => self.on_job_submitted(job),
            TimerKind::JobStartTimeout { job } => self.on_job_start_timeout(job),
            TimerKind::SparkSubmit { job } => self.on_spark_submit(job),
            TimerKind::DriverReady { job } => self.on_driver_ready(job),
            TimerKind::ExecutorAllocation { job } => self.on_executor_allocation(job),
            TimerKind::ExecutorRegistered { job, executor } => {
                self.on_executor_registered(job, executor)
            }
            TimerKind::TaskFinished { job, task, attempt } => {
                self.on_task_finished(job, task, attempt)
            }
            TimerKind::DriverExited { job } => self.on_driver_exited(job),
            TimerKind::ControllerExited { job, success } => self.on_controller_exited(job, success),
            TimerKind::AutoscalerBatch { cluster, deadline } => {
                self.on_autoscaler_batch(cluster, deadline)
            }
            TimerKind::Reconcile { cluster } => self.on_reconcile(cluster),
        }
    }

    // ------------------------------------------------------------------ events

    /// The whole event log.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Empties the event log, keeping everything that exists. A named world taken over
    /// by another run tells that run only what happens from then on, as a real
    /// cluster's watches do (what existed before is the world as the run found it);
    /// the earlier events were stored with the runs that saw them.
    pub fn forget_events(&mut self) {
        self.events.clear();
        self.restart_object_log();
    }

    /// Events from position `index` on (empty if `index` is past the end).
    pub fn events_since(&self, index: u64) -> &[Event] {
        let start = usize::try_from(index)
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        &self.events[start..]
    }

    pub(crate) fn emit(&mut self, kind: EventKind) {
        let index = self.events.len() as u64;
        self.events.push(Event {
            index,
            time_ms: self.now,
            kind,
        });
    }

    // ------------------------------------------------------------------ queries

    /// An EKS cluster by name (a deleted name is reported as not found).
    pub fn cluster(&self, name: &str) -> Result<&Cluster, SimError> {
        self.cluster_ids
            .get(name)
            .map(|&i| &self.clusters[i as usize])
            .filter(|c| c.status != ClusterStatus::Deleted)
            .ok_or_else(|| SimError::ClusterNotFound {
                name: name.to_string(),
            })
    }

    /// All clusters that are not deleted.
    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters
            .iter()
            .filter(|c| c.status != ClusterStatus::Deleted)
    }

    /// The live nodes of a cluster, in creation order.
    pub fn nodes(&self, cluster: &str) -> Result<Vec<&Node>, SimError> {
        let c = self.cluster_index(cluster)?;
        Ok(self.clusters[c as usize]
            .nodes
            .iter()
            .map(|&n| &self.nodes[n as usize])
            .collect())
    }

    /// Every node ever registered, including removed ones (for reports).
    pub fn all_nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// A node by name (also removed nodes).
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.node_ids.get(name).map(|&i| &self.nodes[i as usize])
    }

    /// Pods that exist (not deleted), in creation order, in all clusters.
    pub fn pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(|p| !p.is_deleted())
    }

    /// Every pod ever admitted, including deleted ones (for reports).
    pub fn all_pods(&self) -> &[Pod] {
        &self.pods
    }

    /// A pod by cluster, namespace and name (also deleted pods).
    pub fn pod(&self, cluster: &str, namespace: &str, name: &str) -> Option<&Pod> {
        let c = self.cluster_ids.get(cluster)?;
        self.clusters[*c as usize]
            .pod_names
            .get(&Cluster::pod_key(namespace, name))
            .map(|&i| &self.pods[i as usize])
    }

    /// A pod by UID (also deleted pods).
    pub fn pod_by_uid(&self, uid: &str) -> Option<&Pod> {
        self.pod_uids.get(uid).map(|&i| &self.pods[i as usize])
    }

    /// Existing pods of a cluster whose labels include every pair of `selector` (an
    /// equality-based label selector), optionally limited to one namespace.
    pub fn select_pods(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        selector: &BTreeMap<String, String>,
    ) -> Vec<&Pod> {
        self.pods()
            .filter(|p| p.cluster == cluster)
            .filter(|p| namespace.is_none_or(|ns| p.namespace == ns))
            .filter(|p| p.matches_labels(selector))
            .collect()
    }

    /// Pods of one job run (existing and deleted): the job runner, the driver and the
    /// executors, in creation order.
    pub fn job_pods(&self, job_id: &str) -> Vec<&Pod> {
        let Some(job) = self.job_run_by_id(job_id) else {
            return Vec::new();
        };
        let mut indices: Vec<u32> = job.executors.values().map(|e| e.pod).collect();
        indices.extend(job.controller_pod_idx);
        indices.extend(job.driver_pod_idx);
        indices.sort_unstable();
        indices.iter().map(|&i| &self.pods[i as usize]).collect()
    }

    /// A job run (DescribeJobRun).
    pub fn job_run(&self, virtual_cluster_id: &str, job_id: &str) -> Result<&JobRun, SimError> {
        self.job_ids
            .get(job_id)
            .map(|&i| &self.jobs[i as usize])
            .filter(|j| j.virtual_cluster_id == virtual_cluster_id)
            .ok_or_else(|| SimError::JobRunNotFound {
                virtual_cluster_id: virtual_cluster_id.to_string(),
                id: job_id.to_string(),
            })
    }

    /// A job run by id alone.
    pub fn job_run_by_id(&self, job_id: &str) -> Option<&JobRun> {
        self.job_ids.get(job_id).map(|&i| &self.jobs[i as usize])
    }

    /// All job runs, in submission order.
    pub fn job_runs(&self) -> impl Iterator<Item = &JobRun> {
        self.jobs.iter()
    }

    /// A virtual cluster (DescribeVirtualCluster; also terminated ones).
    pub fn virtual_cluster(&self, id: &str) -> Result<&VirtualCluster, SimError> {
        self.virtual_clusters
            .get(id)
            .ok_or_else(|| SimError::VirtualClusterNotFound { id: id.to_string() })
    }

    /// All virtual clusters, by id.
    pub fn virtual_clusters(&self) -> impl Iterator<Item = &VirtualCluster> {
        self.virtual_clusters.values()
    }

    /// The PriorityClasses of a cluster.
    pub fn priority_classes(&self, cluster: &str) -> Result<Vec<&PriorityClass>, SimError> {
        Ok(self.cluster(cluster)?.priority_classes.iter().collect())
    }

    /// An IAM role by name.
    pub fn role(&self, name: &str) -> Result<&Role, SimError> {
        self.roles.get(name).ok_or_else(|| SimError::RoleNotFound {
            name: name.to_string(),
        })
    }

    /// All IAM roles.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// A log group by name.
    pub fn log_group(&self, name: &str) -> Result<&LogGroup, SimError> {
        self.log_groups
            .get(name)
            .ok_or_else(|| SimError::LogGroupNotFound {
                name: name.to_string(),
            })
    }

    /// All log groups.
    pub fn log_groups(&self) -> impl Iterator<Item = &LogGroup> {
        self.log_groups.values()
    }

    /// A bucket by name.
    pub fn bucket(&self, name: &str) -> Result<&Bucket, SimError> {
        self.buckets
            .get(name)
            .ok_or_else(|| SimError::NoSuchBucket {
                name: name.to_string(),
            })
    }

    /// All buckets.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.values()
    }

    /// An object's content.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<&[u8], SimError> {
        self.bucket(bucket)?
            .objects
            .get(key)
            .map(Vec::as_slice)
            .ok_or_else(|| SimError::NoSuchKey {
                bucket: bucket.to_string(),
                key: key.to_string(),
            })
    }

    // ------------------------------------------------------------------ internals

    pub(crate) fn cluster_index(&self, name: &str) -> Result<u32, SimError> {
        self.cluster_ids
            .get(name)
            .copied()
            .filter(|&i| self.clusters[i as usize].status != ClusterStatus::Deleted)
            .ok_or_else(|| SimError::ClusterNotFound {
                name: name.to_string(),
            })
    }

    /// Admits a pod: resolves its priority (the Priority admission plugin), records
    /// it and queues it for scheduling. `Err` carries the API server's rejection.
    pub(crate) fn admit_pod(&mut self, spec: NewPod) -> Result<u32, String> {
        let cluster = &self.clusters[spec.cluster as usize];
        if !cluster.namespaces.contains(spec.namespace.as_str()) {
            return Err(format!("namespaces \"{}\" not found", spec.namespace));
        }
        let resolved = cluster
            .priority_classes
            .resolve(spec.priority_class.as_deref())
            .map_err(|missing| {
                format!(
                    "pods \"{}\" is forbidden: no PriorityClass with name {missing} was found",
                    spec.name
                )
            })?;
        let key = Cluster::pod_key(&spec.namespace, &spec.name);
        if cluster.pod_names.contains_key(&key) {
            return Err(format!("pods \"{}\" already exists", spec.name));
        }
        let uid = crate::ids::uid(&mut self.rng);
        let idx = self.pods.len() as u32;
        let mut requests = Resources::ZERO;
        for (_, r) in &spec.containers {
            requests += *r;
        }
        let seq = self.next_pod_seq;
        self.next_pod_seq += 1;
        let job_id = spec.job.map(|j| self.jobs[j as usize].id.clone());
        let pod = Pod {
            uid: uid.clone().into(),
            name: spec.name,
            namespace: spec.namespace,
            cluster: cluster.name.clone().into(),
            labels: spec.labels,
            role: spec.role,
            job_id,
            executor_id: spec.executor_id,
            image: spec.image,
            priority: resolved.value,
            priority_class_name: resolved.class_name.clone(),
            preemption_policy: resolved.preemption_policy,
            node_placement: spec.node_placement,
            requests,
            containers: spec.containers,
            termination_grace_period_seconds: spec.grace_seconds,
            phase: PodPhase::Pending,
            node_name: None,
            nominated_node_name: None,
            conditions: Vec::new(),
            created_at_ms: self.now,
            scheduled_at_ms: None,
            start_time_ms: None,
            running_at_ms: None,
            finished_at_ms: None,
            deletion_timestamp_ms: None,
            deletion_reason: None,
            deleted_at_ms: None,
            tolerates_not_ready: spec.daemonset,
            seq,
            cluster_idx: spec.cluster,
            node_idx: None,
            job_idx: spec.job,
            shape: None,
            unschedulable: false,
            unschedulable_reported: false,
            daemonset: spec.daemonset,
            provisioning: false,
            killed: false,
        };
        let pod_ref = pod.pod_ref();
        self.pods.push(pod);
        self.pod_uids.insert(uid, idx);
        self.clusters[spec.cluster as usize]
            .pod_names
            .insert(key, idx);
        self.emit(EventKind::PodCreated {
            pod: pod_ref,
            priority: resolved.value,
            priority_class: resolved.class_name,
            requests,
        });
        self.enqueue_pod(idx);
        Ok(idx)
    }

    /// Marks the pod's `PodScheduled` condition (used by the scheduler).
    pub(crate) fn set_scheduled_condition(
        &mut self,
        pod: u32,
        status: bool,
        message: Option<SharedStr>,
    ) {
        let now = self.now;
        let reason = if status { None } else { Some("Unschedulable") };
        self.pods[pod as usize].set_condition(
            ConditionType::PodScheduled,
            status,
            reason,
            message,
            now,
        );
    }

    /// Asks for a scheduling pass on the cluster at the current instant (commands that
    /// change what can be scheduled use this so the next `step` reacts).
    pub(crate) fn request_reconcile(&mut self, cluster: u32) {
        let c = &mut self.clusters[cluster as usize];
        if !c.reconcile_scheduled {
            c.reconcile_scheduled = true;
            let now = self.now;
            self.schedule(now, TimerKind::Reconcile { cluster });
        }
    }

    fn on_reconcile(&mut self, cluster: u32) {
        self.clusters[cluster as usize].reconcile_scheduled = false;
        self.retry_all_shapes(cluster);
        self.autoscaler_open_batch_if_needed(cluster);
    }

    /// Number of timers scheduled (for diagnostics and benchmarks).
    pub fn scheduled_timer_count(&self) -> usize {
        self.timers.len()
    }
}
