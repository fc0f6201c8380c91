//! EMR on EKS and Spark behaviour: what happens after StartJobRun.
//!
//! 1. `PENDING`; after `emr_submit_ms` EMR creates the job-runner Job: `SUBMITTED`,
//!    and a job-runner pod (`component: controller`) that runs `spark-submit`.
//! 2. The job runner creates the driver pod (`spark-<job id>-driver`) with the driver
//!    pod template. When the driver runs, the job is `RUNNING`.
//! 3. The driver starts its SparkContext and requests executors in batches
//!    (`spark.kubernetes.allocation.batch.size` every `batch.delay`), named
//!    `<app>-<hex>-exec-<id>`, with the executor pod template.
//! 4. Registered executors run tasks, one per core. A task on an executor that is
//!    lost (pod preempted or deleted) is queued again; the driver requests a
//!    replacement executor, with the next id, once the lost executor's pod is gone.
//! 5. When the last task finishes, the driver deletes its executors
//!    (`deleteOnTermination`), exits, the job runner exits: `COMPLETED`.
//! 6. Losing the driver or the job runner fails the job (`FAILED`, `USER_ERROR` or
//!    `INTERNAL_ERROR`); EMR's `job-start-timeout` fails a job still `SUBMITTED` after
//!    15 minutes. `CancelJobRun` moves to `CANCEL_PENDING`, deletes the pods and ends
//!    `CANCELLED` once they are gone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{EventKind, TerminationReason};
use crate::job_run::{FailureReason, JobState, TaskStatus};
use crate::node_affinity::NodePlacement;
use crate::params::SimParams;
use crate::pod::{
    LABEL_EMR_COMPONENT, LABEL_EMR_JOB_ID, LABEL_EMR_RESOURCE_TYPE, LABEL_EMR_VIRTUAL_CLUSTER_ID,
    LABEL_SPARK_APP_SELECTOR, LABEL_SPARK_EXEC_ID, LABEL_SPARK_ROLE, PodPhase, PodRole,
};
use crate::pod_template::{DRIVER_CONTAINER, EXECUTOR_CONTAINER, PodTemplate};
use crate::resources::Resources;
use crate::shared_str::SharedStr;
use crate::spark::SparkPodSizing;
use crate::timer::TimerKind;
use crate::world::{NewPod, World};

/// Name of EMR's logging sidecar container.
pub const FLUENTD_SIDECAR: &str = "emr-container-fluentd";

/// The container image of EMR's job runner for a release.
pub fn job_runner_image(release_label: &str) -> String {
    format!("emr-containers/job-runner:{release_label}")
}

/// The container image of Spark for a release (driver and executors).
pub fn spark_image(release_label: &str) -> String {
    let release = release_label
        .strip_suffix("-latest")
        .unwrap_or(release_label);
    format!("spark/{release}:latest")
}

/// The parts of a job's pods that are the same for every pod of a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RolePodSpec {
    pub(crate) labels: BTreeMap<SharedStr, SharedStr>,
    pub(crate) containers: Vec<(SharedStr, Resources)>,
    pub(crate) image: SharedStr,
}

/// Built once per job at submission and shared by its pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobPodSpecs {
    pub(crate) controller: RolePodSpec,
    pub(crate) driver: RolePodSpec,
    pub(crate) executor: RolePodSpec,
}

/// What EMR and Spark put in each job pod: the labels (EMR's `job.id`,
/// `virtual-cluster-id`, `component`, `resource.type`; Spark's `spark-app-selector`
/// and `spark-role`; the template's own labels) and the containers with their
/// requests (the Spark container, EMR's fluentd sidecar when monitoring is on, and
/// the template's sidecars).
pub(crate) struct JobPodInputs<'a> {
    pub(crate) job_id: &'a SharedStr,
    pub(crate) virtual_cluster_id: &'a SharedStr,
    pub(crate) spark_app_id: &'a SharedStr,
    pub(crate) release_label: &'a str,
    pub(crate) driver_template: &'a PodTemplate,
    pub(crate) executor_template: &'a PodTemplate,
    pub(crate) driver_sizing: &'a SparkPodSizing,
    pub(crate) executor_sizing: &'a SparkPodSizing,
    pub(crate) monitoring: bool,
}

pub(crate) fn build_pod_specs(inputs: &JobPodInputs<'_>, params: &SimParams) -> JobPodSpecs {
    let labels = |role: PodRole, template: Option<&PodTemplate>| {
        let mut labels: BTreeMap<SharedStr, SharedStr> = BTreeMap::new();
        if let Some(t) = template {
            labels.extend(t.labels.iter().map(|(k, v)| (k.into(), v.into())));
        }
        labels.insert(LABEL_EMR_JOB_ID.into(), inputs.job_id.clone());
        labels.insert(
            LABEL_EMR_VIRTUAL_CLUSTER_ID.into(),
            inputs.virtual_cluster_id.clone(),
        );
        labels.insert(LABEL_EMR_COMPONENT.into(), role.as_str().into());
        labels.insert(LABEL_EMR_RESOURCE_TYPE.into(), "job.run".into());
        if matches!(role, PodRole::Driver | PodRole::Executor) {
            labels.insert(LABEL_SPARK_APP_SELECTOR.into(), inputs.spark_app_id.clone());
            labels.insert(LABEL_SPARK_ROLE.into(), role.as_str().into());
        }
        labels
    };
    let spark_containers = |main: &str, sizing: &SparkPodSizing, template: &PodTemplate| {
        let mut containers: Vec<(SharedStr, Resources)> = vec![(
            main.into(),
            Resources::new(sizing.cpu_millis, sizing.memory_mib + sizing.overhead_mib),
        )];
        if inputs.monitoring {
            containers.push((FLUENTD_SIDECAR.into(), params.emr_fluentd_sidecar_requests));
        }
        if !template.sidecar_requests.is_zero() {
            containers.push(("pod-template-sidecars".into(), template.sidecar_requests));
        }
        containers
    };
    let spark: SharedStr = spark_image(inputs.release_label).into();
    JobPodSpecs {
        controller: RolePodSpec {
            labels: labels(PodRole::Controller, None),
            containers: vec![
                ("job-runner".into(), params.job_runner_requests),
                (FLUENTD_SIDECAR.into(), params.job_runner_logging_requests),
            ],
            image: job_runner_image(inputs.release_label).into(),
        },
        driver: RolePodSpec {
            labels: labels(PodRole::Driver, Some(inputs.driver_template)),
            containers: spark_containers(
                DRIVER_CONTAINER,
                inputs.driver_sizing,
                inputs.driver_template,
            ),
            image: spark.clone(),
        },
        executor: RolePodSpec {
            labels: labels(PodRole::Executor, Some(inputs.executor_template)),
            containers: spark_containers(
                EXECUTOR_CONTAINER,
                inputs.executor_sizing,
                inputs.executor_template,
            ),
            image: spark,
        },
    }
}

impl World {
    /// Active: not terminal and not being cleaned up after cancel/failure.
    fn job_active(&self, job: u32) -> bool {
        let j = &self.jobs[job as usize];
        !j.state.is_terminal() && j.terminal_pending.is_none()
    }

    pub(crate) fn set_job_state(
        &mut self,
        job: u32,
        to: JobState,
        details: Option<String>,
        reason: Option<FailureReason>,
    ) {
        let details: Option<SharedStr> = details.map(SharedStr::from);
        let now = self.now;
        let j = &mut self.jobs[job as usize];
        let from = j.state;
        if from == to {
            return;
        }
        j.state = to;
        if details.is_some() {
            j.state_details = details.clone();
        }
        if reason.is_some() {
            j.failure_reason = reason;
        }
        if to == JobState::Running {
            j.started_at_ms = Some(now);
        }
        if to.is_terminal() {
            j.finished_at_ms = Some(now);
            j.terminal_pending = None;
        }
        let event = EventKind::JobStateChanged {
            job_id: j.id.clone(),
            job_name: j.name.clone(),
            virtual_cluster_id: j.virtual_cluster_id.clone(),
            namespace: j.namespace.clone(),
            from: Some(from),
            to,
            state_details: details,
            failure_reason: reason,
        };
        self.emit(event);
    }

    // ------------------------------------------------------------------ lifecycle

    pub(crate) fn on_job_submitted(&mut self, job: u32) {
        if self.jobs[job as usize].state != JobState::Pending {
            return;
        }
        let cluster_name = self.jobs[job as usize].cluster.clone();
        let c = match self.cluster_index(&cluster_name) {
            Ok(c) if self.clusters[c as usize].status == crate::cluster::ClusterStatus::Active => c,
            _ => {
                self.set_job_state(
                    job,
                    JobState::Failed,
                    Some(format!("EKS cluster {cluster_name} is not available")),
                    Some(FailureReason::ClusterUnavailable),
                );
                return;
            }
        };
        self.set_job_state(job, JobState::Submitted, None, None);
        let suffix = crate::ids::name_suffix(&mut self.rng);
        let j = &self.jobs[job as usize];
        let role = &j.pod_specs.controller;
        let spec = NewPod {
            cluster: c,
            namespace: j.namespace.clone(),
            name: format!("{}-{suffix}", j.id).into(),
            role: PodRole::Controller,
            job: Some(job),
            executor_id: None,
            labels: role.labels.clone(),
            image: role.image.clone(),
            priority_class: None,
            node_placement: NodePlacement::default(),
            containers: role.containers.clone(),
            grace_seconds: self.params.termination_grace_period_s,
            daemonset: false,
        };
        let name = spec.name.clone();
        match self.admit_pod(spec) {
            Ok(pod) => {
                let j = &mut self.jobs[job as usize];
                j.controller_pod = Some(name.to_string());
                j.controller_pod_idx = Some(pod);
                if let Some(timeout) = self.params.job_start_timeout_ms {
                    self.schedule_in(timeout, TimerKind::JobStartTimeout { job });
                }
            }
            Err(message) => self.fail_job(job, FailureReason::UserError, message),
        }
    }

    pub(crate) fn on_job_start_timeout(&mut self, job: u32) {
        let j = &self.jobs[job as usize];
        if j.state == JobState::Submitted && j.terminal_pending.is_none() {
            let secs = self.params.job_start_timeout_ms.unwrap_or(0) / 1000;
            self.fail_job(
                job,
                FailureReason::UserError,
                format!(
                    "Job run timed out in SUBMITTED state after {secs} seconds (job-start-timeout)"
                ),
            );
        }
    }

    pub(crate) fn on_controller_running(&mut self, pod: u32) {
        let Some(job) = self.pods[pod as usize].job_idx else {
            return;
        };
        if self.job_active(job) {
            let delay = self.params.spark_submit_ms;
            self.schedule_in(delay, TimerKind::SparkSubmit { job });
        }
    }

    pub(crate) fn on_spark_submit(&mut self, job: u32) {
        if !self.job_active(job) || self.jobs[job as usize].driver_pod_idx.is_some() {
            return;
        }
        let c = self.jobs[job as usize].cluster_idx;
        let j = &self.jobs[job as usize];
        let template = &j.driver_template;
        let role = &j.pod_specs.driver;
        let name = format!("spark-{}-driver", j.id);
        let spec = NewPod {
            cluster: c,
            namespace: j.namespace.clone(),
            name: name.clone().into(),
            role: PodRole::Driver,
            job: Some(job),
            executor_id: None,
            labels: role.labels.clone(),
            image: role.image.clone(),
            priority_class: template.priority_class_name.clone(),
            node_placement: template.placement(),
            containers: role.containers.clone(),
            grace_seconds: template
                .termination_grace_period_seconds
                .unwrap_or(self.params.termination_grace_period_s),
            daemonset: false,
        };
        match self.admit_pod(spec) {
            Ok(pod) => {
                let j = &mut self.jobs[job as usize];
                j.driver_pod = Some(name);
                j.driver_pod_idx = Some(pod);
            }
            Err(message) => self.fail_job(job, FailureReason::UserError, message),
        }
    }

    pub(crate) fn on_driver_running(&mut self, pod: u32) {
        let Some(job) = self.pods[pod as usize].job_idx else {
            return;
        };
        if !self.job_active(job) {
            return;
        }
        self.set_job_state(job, JobState::Running, None, None);
        let delay = self.params.driver_init_ms;
        self.schedule_in(delay, TimerKind::DriverReady { job });
    }

    pub(crate) fn on_driver_ready(&mut self, job: u32) {
        if !self.job_active(job) {
            return;
        }
        self.jobs[job as usize].driver_ready = true;
        self.on_executor_allocation(job);
    }

    /// One round of Spark's `ExecutorPodsAllocator`.
    pub(crate) fn on_executor_allocation(&mut self, job: u32) {
        self.jobs[job as usize].allocation_scheduled = false;
        let j = &self.jobs[job as usize];
        if !self.job_active(job) || j.app_finished || !j.driver_ready {
            return;
        }
        let known = j.executors.values().filter(|e| !e.pod_deleted).count() as u32;
        let target = j.executor_instances;
        if known >= target {
            return;
        }
        let batch = self.params.executor_allocation_batch_size.max(1);
        let n = batch.min(target - known);
        for _ in 0..n {
            if !self.create_executor(job) {
                return;
            }
        }
        if known + n < target {
            self.schedule_allocation(job);
        }
    }

    fn schedule_allocation(&mut self, job: u32) {
        if !self.jobs[job as usize].allocation_scheduled {
            self.jobs[job as usize].allocation_scheduled = true;
            let delay = self.params.executor_allocation_batch_delay_ms;
            self.schedule_in(delay, TimerKind::ExecutorAllocation { job });
        }
    }

    fn create_executor(&mut self, job: u32) -> bool {
        let c = self.jobs[job as usize].cluster_idx;
        let j = &mut self.jobs[job as usize];
        let id = j.next_executor_id;
        j.next_executor_id += 1;
        let j = &self.jobs[job as usize];
        let template = &j.executor_template;
        let role = &j.pod_specs.executor;
        let name: SharedStr = format!("{}-exec-{id}", j.executor_pod_prefix).into();
        let mut labels = role.labels.clone();
        labels.insert(LABEL_SPARK_EXEC_ID.into(), id.to_string().into());
        let spec = NewPod {
            cluster: c,
            namespace: j.namespace.clone(),
            name: name.clone(),
            role: PodRole::Executor,
            job: Some(job),
            executor_id: Some(id),
            labels,
            image: role.image.clone(),
            priority_class: template.priority_class_name.clone(),
            node_placement: template.placement(),
            containers: role.containers.clone(),
            grace_seconds: template
                .termination_grace_period_seconds
                .unwrap_or(self.params.termination_grace_period_s),
            daemonset: false,
        };
        let event = EventKind::ExecutorRequested {
            job_id: j.id.clone(),
            namespace: j.namespace.clone(),
            executor_id: id,
            pod: name.clone(),
        };
        self.emit(event);
        match self.admit_pod(spec) {
            Ok(pod) => {
                self.jobs[job as usize].executors.insert(
                    id,
                    crate::job_run::Executor {
                        id,
                        pod_name: name,
                        registered: false,
                        lost: false,
                        running_tasks: Default::default(),
                        pod,
                        pod_deleted: false,
                    },
                );
                true
            }
            Err(message) => {
                self.fail_job(job, FailureReason::UserError, message);
                false
            }
        }
    }

    pub(crate) fn on_executor_running(&mut self, pod: u32) {
        let p = &self.pods[pod as usize];
        let (Some(job), Some(executor)) = (p.job_idx, p.executor_id) else {
            return;
        };
        if self.job_active(job) && !self.jobs[job as usize].app_finished {
            let delay = self.params.executor_register_ms;
            self.schedule_in(delay, TimerKind::ExecutorRegistered { job, executor });
        }
    }

    pub(crate) fn on_executor_registered(&mut self, job: u32, executor: u32) {
        if !self.job_active(job) || self.jobs[job as usize].app_finished {
            return;
        }
        let Some(e) = self.jobs[job as usize].executors.get(&executor) else {
            return;
        };
        if e.lost || e.registered {
            return;
        }
        let pod = e.pod;
        let node = self.pods[pod as usize]
            .node_name
            .clone()
            .unwrap_or_default();
        let j = &mut self.jobs[job as usize];
        if let Some(e) = j.executors.get_mut(&executor) {
            e.registered = true;
        }
        let event = EventKind::ExecutorRegistered {
            job_id: j.id.clone(),
            executor_id: executor,
            pod: self.pods[pod as usize].name.clone(),
            node,
        };
        self.emit(event);
        self.assign_tasks(job);
    }

    /// Offers free executor cores to pending tasks, round-robin over executors in id
    /// order (Spark shuffles its offers; a fixed order keeps runs reproducible).
    fn assign_tasks(&mut self, job: u32) {
        if !self.job_active(job) || self.jobs[job as usize].app_finished {
            return;
        }
        let cores = self.jobs[job as usize].executor_cores as usize;
        if self.jobs[job as usize].pending_tasks.is_empty() {
            return;
        }
        let mut ids: Vec<u32> = Vec::new();
        loop {
            ids.clear();
            ids.extend(
                self.jobs[job as usize]
                    .executors
                    .values()
                    .filter(|e| e.registered && !e.lost && e.running_tasks.len() < cores)
                    .map(|e| e.id),
            );
            if ids.is_empty() {
                return;
            }
            for &executor in &ids {
                let Some(task) = self.jobs[job as usize].pending_tasks.pop_first() else {
                    return;
                };
                self.start_task(job, task, executor);
            }
        }
    }

    fn start_task(&mut self, job: u32, task: u32, executor: u32) {
        let now = self.now;
        let j = &mut self.jobs[job as usize];
        let t = &mut j.tasks[task as usize];
        let attempt = t.attempts;
        t.attempts += 1;
        t.status = TaskStatus::Running {
            executor_id: executor,
            started_at_ms: now,
        };
        let duration = t.duration_ms;
        if let Some(e) = j.executors.get_mut(&executor) {
            e.running_tasks.insert(task);
        }
        if self.params.record_task_events {
            let event = EventKind::TaskStarted {
                job_id: j.id.clone(),
                task,
                attempt,
                executor_id: executor,
                duration_ms: duration,
            };
            self.emit(event);
        }
        self.schedule_in(duration, TimerKind::TaskFinished { job, task, attempt });
    }

    pub(crate) fn on_task_finished(&mut self, job: u32, task: u32, attempt: u32) {
        if !self.job_active(job) {
            return;
        }
        let now = self.now;
        let j = &mut self.jobs[job as usize];
        let t = &mut j.tasks[task as usize];
        let TaskStatus::Running { executor_id, .. } = t.status else {
            return;
        };
        if t.attempts != attempt + 1 {
            return;
        }
        t.status = TaskStatus::Finished {
            executor_id,
            finished_at_ms: now,
        };
        j.finished_tasks += 1;
        if let Some(e) = j.executors.get_mut(&executor_id) {
            e.running_tasks.remove(&task);
        }
        if self.params.record_task_events {
            let event = EventKind::TaskFinished {
                job_id: j.id.clone(),
                task,
                attempt,
                executor_id,
            };
            self.emit(event);
        }
        let j = &self.jobs[job as usize];
        if j.finished_tasks as usize == j.tasks.len() {
            self.application_finished(job);
        } else {
            self.assign_tasks(job);
        }
    }

    /// All tasks done: delete the executors, then the driver and the job runner exit.
    fn application_finished(&mut self, job: u32) {
        self.jobs[job as usize].app_finished = true;
        let executors: Vec<u32> = self.jobs[job as usize]
            .executors
            .values()
            .filter(|e| !e.pod_deleted)
            .map(|e| e.pod)
            .collect();
        for pod in executors {
            self.delete_pod(pod, TerminationReason::ApplicationFinished);
        }
        let delay = self.params.driver_shutdown_ms;
        self.schedule_in(delay, TimerKind::DriverExited { job });
    }

    pub(crate) fn on_driver_exited(&mut self, job: u32) {
        if !self.job_active(job) {
            return;
        }
        if let Some(driver) = self.jobs[job as usize].driver_pod_idx {
            self.finish_pod(driver, true, "Completed");
        }
        let delay = self.params.job_runner_shutdown_ms;
        self.schedule_in(delay, TimerKind::ControllerExited { job, success: true });
    }

    pub(crate) fn on_controller_exited(&mut self, job: u32, success: bool) {
        if self.jobs[job as usize].state.is_terminal() {
            return;
        }
        if let Some(controller) = self.jobs[job as usize].controller_pod_idx {
            self.finish_pod(
                controller,
                success,
                if success { "Completed" } else { "Error" },
            );
        }
        if success {
            self.set_job_state(job, JobState::Completed, None, None);
        } else if let Some((state, reason, details)) =
            self.jobs[job as usize].terminal_pending.clone()
        {
            self.set_job_state(job, state, details, reason);
        }
    }

    /// Fails a job: stop the application, delete the Spark pods, and let the job
    /// runner exit with an error (EMR reports FAILED when it does).
    pub(crate) fn fail_job(&mut self, job: u32, reason: FailureReason, details: String) {
        if !self.job_active(job) {
            return;
        }
        let j = &mut self.jobs[job as usize];
        j.terminal_pending = Some((JobState::Failed, Some(reason), Some(details.clone())));
        j.app_finished = true;
        let mut spark_pods: Vec<u32> = j.executors.values().map(|e| e.pod).collect();
        spark_pods.extend(j.driver_pod_idx);
        for pod in spark_pods {
            self.delete_pod(pod, TerminationReason::JobFailed);
        }
        let controller = self.jobs[job as usize].controller_pod_idx;
        let controller_running = controller.is_some_and(|p| {
            let p = &self.pods[p as usize];
            p.phase == PodPhase::Running && p.deletion_timestamp_ms.is_none()
        });
        if controller_running {
            // spark-submit notices and exits with an error; EMR then reports FAILED.
            let delay = self.params.job_runner_shutdown_ms;
            self.schedule_in(
                delay,
                TimerKind::ControllerExited {
                    job,
                    success: false,
                },
            );
        } else {
            if let Some(p) = controller {
                self.delete_pod(p, TerminationReason::JobFailed);
            }
            self.set_job_state(job, JobState::Failed, Some(details), Some(reason));
        }
    }

    /// CancelJobRun.
    pub(crate) fn cancel_job(&mut self, job: u32) {
        let j = &mut self.jobs[job as usize];
        if j.state == JobState::CancelPending || j.state.is_terminal() {
            return;
        }
        j.terminal_pending = Some((JobState::Cancelled, None, None));
        j.app_finished = true;
        let mut pods: Vec<u32> = j.executors.values().map(|e| e.pod).collect();
        pods.extend(j.driver_pod_idx);
        pods.extend(j.controller_pod_idx);
        let from = j.state;
        let event = EventKind::JobStateChanged {
            job_id: j.id.clone(),
            job_name: j.name.clone(),
            virtual_cluster_id: j.virtual_cluster_id.clone(),
            namespace: j.namespace.clone(),
            from: Some(from),
            to: JobState::CancelPending,
            state_details: None,
            failure_reason: None,
        };
        j.state = JobState::CancelPending;
        self.emit(event);
        for pod in pods {
            self.delete_pod(pod, TerminationReason::JobCancelled);
        }
        self.finish_cleanup_if_done(job);
    }

    fn finish_cleanup_if_done(&mut self, job: u32) {
        let j = &self.jobs[job as usize];
        let Some((JobState::Cancelled, _, _)) = j.terminal_pending else {
            return;
        };
        let mut pods: Vec<u32> = j.executors.values().map(|e| e.pod).collect();
        pods.extend(j.driver_pod_idx);
        pods.extend(j.controller_pod_idx);
        let all_gone = pods.iter().all(|&p| {
            let p = &self.pods[p as usize];
            p.is_deleted() || (p.phase.is_terminal() && p.deletion_timestamp_ms.is_none())
        });
        if all_gone {
            self.set_job_state(job, JobState::Cancelled, None, None);
        }
    }

    // ------------------------------------------------------------------ pod hooks

    /// A job pod got a deletion timestamp: its process receives SIGTERM now.
    pub(crate) fn on_pod_terminating(&mut self, pod: u32, reason: TerminationReason) {
        let (job, role, executor, name) = {
            let p = &self.pods[pod as usize];
            let Some(job) = p.job_idx else {
                return;
            };
            (job, p.role, p.executor_id, p.name.clone())
        };
        let why = match reason {
            TerminationReason::Preempted => "preempted",
            _ => "deleted",
        };
        match role {
            PodRole::Executor => {
                if let Some(id) = executor {
                    self.executor_lost(job, id, format!("executor pod {name} was {why}"));
                }
            }
            PodRole::Driver => {
                if self.job_active(job) && !self.jobs[job as usize].app_finished {
                    self.fail_job(
                        job,
                        FailureReason::UserError,
                        format!("Spark driver pod {name} was {why}"),
                    );
                }
            }
            PodRole::Controller => {
                if self.job_active(job) {
                    self.fail_job(
                        job,
                        FailureReason::InternalError,
                        format!("job-runner pod {name} was {why}"),
                    );
                }
            }
            PodRole::System => {}
        }
    }

    fn executor_lost(&mut self, job: u32, executor: u32, reason: String) {
        let now_active = self.job_active(job) && !self.jobs[job as usize].app_finished;
        let j = &mut self.jobs[job as usize];
        let Some(e) = j.executors.get_mut(&executor) else {
            return;
        };
        if e.lost {
            return;
        }
        e.lost = true;
        let running: Vec<u32> = std::mem::take(&mut e.running_tasks).into_iter().collect();
        let pod_name = e.pod_name.clone();
        if !now_active {
            return;
        }
        let job_id = j.id.clone();
        for &task in &running {
            let t = &mut j.tasks[task as usize];
            t.status = TaskStatus::Pending;
            j.pending_tasks.insert(task);
        }
        self.emit(EventKind::ExecutorLost {
            job_id: job_id.clone(),
            executor_id: executor,
            pod: pod_name,
            reason: reason.into(),
        });
        for task in running {
            let attempt = self.jobs[job as usize].tasks[task as usize].attempts - 1;
            if self.params.record_task_events {
                self.emit(EventKind::TaskLost {
                    job_id: job_id.clone(),
                    task,
                    attempt,
                    executor_id: executor,
                });
            }
        }
        self.assign_tasks(job);
    }

    /// A pod object is gone.
    pub(crate) fn on_pod_deleted(&mut self, pod: u32) {
        let p = &self.pods[pod as usize];
        let Some(job) = p.job_idx else {
            if p.role == PodRole::System && !p.daemonset {
                self.recreate_system_replica(pod);
            }
            return;
        };
        if let (PodRole::Executor, Some(id)) = (p.role, p.executor_id) {
            if let Some(e) = self.jobs[job as usize].executors.get_mut(&id) {
                e.pod_deleted = true;
            }
            let j = &self.jobs[job as usize];
            if self.job_active(job) && !j.app_finished && j.driver_ready {
                self.schedule_allocation(job);
            }
        }
        self.finish_cleanup_if_done(job);
    }
}
