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

use crate::event::{EventKind, TerminationReason};
use crate::job_run::{FailureReason, JobState, TaskStatus};
use crate::pod::{
    LABEL_EMR_COMPONENT, LABEL_EMR_JOB_ID, LABEL_EMR_RESOURCE_TYPE, LABEL_EMR_VIRTUAL_CLUSTER_ID,
    LABEL_SPARK_APP_SELECTOR, LABEL_SPARK_EXEC_ID, LABEL_SPARK_ROLE, PodRole,
};
use crate::pod_template::{DRIVER_CONTAINER, EXECUTOR_CONTAINER, PodTemplate};
use crate::resources::Resources;
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

    /// Labels EMR on EKS and Spark put on a job pod.
    fn job_pod_labels(
        &self,
        job: u32,
        role: PodRole,
        executor_id: Option<u32>,
        template: Option<&PodTemplate>,
    ) -> BTreeMap<String, String> {
        let j = &self.jobs[job as usize];
        let mut labels = BTreeMap::new();
        if let Some(t) = template {
            labels.extend(t.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        labels.insert(LABEL_EMR_JOB_ID.to_string(), j.id.clone());
        labels.insert(
            LABEL_EMR_VIRTUAL_CLUSTER_ID.to_string(),
            j.virtual_cluster_id.clone(),
        );
        labels.insert(LABEL_EMR_COMPONENT.to_string(), role.as_str().to_string());
        labels.insert(LABEL_EMR_RESOURCE_TYPE.to_string(), "job.run".to_string());
        if matches!(role, PodRole::Driver | PodRole::Executor) {
            labels.insert(LABEL_SPARK_APP_SELECTOR.to_string(), j.spark_app_id.clone());
            labels.insert(LABEL_SPARK_ROLE.to_string(), role.as_str().to_string());
        }
        if let Some(id) = executor_id {
            labels.insert(LABEL_SPARK_EXEC_ID.to_string(), id.to_string());
        }
        labels
    }

    fn spark_containers(
        &self,
        main: &str,
        sizing: &SparkPodSizing,
        template: &PodTemplate,
        monitoring: bool,
    ) -> Vec<(String, Resources)> {
        let mut containers = vec![(
            main.to_string(),
            Resources::new(sizing.cpu_millis, sizing.memory_mib + sizing.overhead_mib),
        )];
        if monitoring {
            containers.push((
                FLUENTD_SIDECAR.to_string(),
                self.params.emr_fluentd_sidecar_requests,
            ));
        }
        if !template.sidecar_requests.is_zero() {
            containers.push((
                "pod-template-sidecars".to_string(),
                template.sidecar_requests,
            ));
        }
        containers
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
        let (id, namespace, release) = {
            let j = &self.jobs[job as usize];
            (j.id.clone(), j.namespace.clone(), j.release_label.clone())
        };
        let spec = NewPod {
            cluster: c,
            namespace,
            name: format!("{id}-{suffix}"),
            role: PodRole::Controller,
            job: Some(job),
            executor_id: None,
            labels: self.job_pod_labels(job, PodRole::Controller, None, None),
            image: job_runner_image(&release),
            priority_class: None,
            node_selector: BTreeMap::new(),
            containers: vec![
                ("job-runner".to_string(), self.params.job_runner_requests),
                (
                    FLUENTD_SIDECAR.to_string(),
                    self.params.job_runner_logging_requests,
                ),
            ],
            grace_seconds: self.params.termination_grace_period_s,
            daemonset: false,
        };
        let name = spec.name.clone();
        match self.admit_pod(spec) {
            Ok(pod) => {
                let j = &mut self.jobs[job as usize];
                j.controller_pod = Some(name);
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
        let c = self.cluster_ids[&self.jobs[job as usize].cluster];
        let j = &self.jobs[job as usize];
        let template = j.driver_template.clone();
        let containers =
            self.spark_containers(DRIVER_CONTAINER, &j.driver_sizing, &template, j.monitoring);
        let name = format!("spark-{}-driver", j.id);
        let spec = NewPod {
            cluster: c,
            namespace: j.namespace.clone(),
            name: name.clone(),
            role: PodRole::Driver,
            job: Some(job),
            executor_id: None,
            labels: self.job_pod_labels(job, PodRole::Driver, None, Some(&template)),
            image: spark_image(&j.release_label),
            priority_class: template.priority_class_name.clone(),
            node_selector: template.node_selector.clone(),
            containers,
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
        let c = self.cluster_ids[&self.jobs[job as usize].cluster];
        let j = &mut self.jobs[job as usize];
        let id = j.next_executor_id;
        j.next_executor_id += 1;
        let j = &self.jobs[job as usize];
        let template = j.executor_template.clone();
        let containers = self.spark_containers(
            EXECUTOR_CONTAINER,
            &j.executor_sizing,
            &template,
            j.monitoring,
        );
        let name = format!("{}-exec-{id}", j.executor_pod_prefix);
        let spec = NewPod {
            cluster: c,
            namespace: j.namespace.clone(),
            name: name.clone(),
            role: PodRole::Executor,
            job: Some(job),
            executor_id: Some(id),
            labels: self.job_pod_labels(job, PodRole::Executor, Some(id), Some(&template)),
            image: spark_image(&j.release_label),
            priority_class: template.priority_class_name.clone(),
            node_selector: template.node_selector.clone(),
            containers,
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
        loop {
            let mut progressed = false;
            let ids: Vec<u32> = self.jobs[job as usize]
                .executors
                .values()
                .filter(|e| e.registered && !e.lost && e.running_tasks.len() < cores)
                .map(|e| e.id)
                .collect();
            for executor in ids {
                let Some(task) = self.jobs[job as usize].pending_tasks.pop_first() else {
                    return;
                };
                self.start_task(job, task, executor);
                progressed = true;
            }
            if !progressed {
                return;
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
        let controller_alive = self.jobs[job as usize].controller_pod_idx.is_some_and(|p| {
            let p = &self.pods[p as usize];
            !p.is_deleted() && p.deletion_timestamp_ms.is_none() && !p.phase.is_terminal()
        });
        if controller_alive {
            let delay = self.params.job_runner_shutdown_ms;
            self.schedule_in(
                delay,
                TimerKind::ControllerExited {
                    job,
                    success: false,
                },
            );
        } else {
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
            reason,
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
