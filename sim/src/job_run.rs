//! EMR on EKS job runs: the StartJobRun request, the job's state machine, and the Spark
//! application it runs (executors and tasks).
//!
//! States follow EMR: `PENDING` (accepted) → `SUBMITTED` (the job-runner pod exists)
//! → `RUNNING` (the Spark driver is running) → `COMPLETED`, `FAILED` or, after
//! `CANCEL_PENDING`, `CANCELLED`.
//!
//! Work is a list of task durations (Spark tasks, one per partition). Each executor
//! runs as many tasks at a time as it has cores; a task on an executor that is lost is
//! run again elsewhere; the driver replaces each lost executor with a new one whose id
//! is the next unused id, as Spark's `ExecutorPodsAllocator` does (ids are never
//! reused).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use runbook_backend::events::{FailureReason, JobState};

use crate::pod_template::PodTemplate;
use crate::resources::Resources;
use crate::shared_str::SharedStr;
use crate::spark::SparkPodSizing;

/// Where a pod template comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodTemplateSource {
    /// `s3://bucket/key` of an object in the world (as EMR reads it).
    S3(String),
    /// An already parsed template.
    Inline(PodTemplate),
}

impl From<&str> for PodTemplateSource {
    fn from(uri: &str) -> Self {
        PodTemplateSource::S3(uri.to_string())
    }
}

impl From<PodTemplate> for PodTemplateSource {
    fn from(t: PodTemplate) -> Self {
        PodTemplateSource::Inline(t)
    }
}

/// A StartJobRun request, reduced to what changes the simulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSubmission {
    /// Virtual cluster id.
    pub virtual_cluster_id: String,
    /// Job name.
    pub name: String,
    /// EMR release label, e.g. `emr-6.4.0-latest` (selects the container images).
    pub release_label: String,
    /// Execution role ARN (must name an existing role when given).
    pub execution_role_arn: Option<String>,
    /// Idempotency token: a second request with the same token returns the first job.
    pub client_token: Option<String>,
    /// `spark.executor.instances`.
    pub executors: u32,
    /// `spark.executor.cores`.
    pub executor_cores: u32,
    /// `spark.executor.memory` (JVM memory string, e.g. `2G`).
    pub executor_memory: String,
    /// `spark.driver.cores`.
    pub driver_cores: u32,
    /// `spark.driver.memory`; `None` for Spark's default (1g).
    pub driver_memory: Option<String>,
    /// `spark.kubernetes.driver.podTemplateFile`.
    pub driver_pod_template: Option<PodTemplateSource>,
    /// `spark.kubernetes.executor.podTemplateFile`.
    pub executor_pod_template: Option<PodTemplateSource>,
    /// The application's tasks (ms each); `None` for the default (20/40/60/80/100 s).
    pub task_durations_ms: Option<Vec<u64>>,
    /// PySpark or R application: Spark's memory overhead factor is 0.4 instead of 0.1.
    pub non_jvm: bool,
    /// The job has a CloudWatch or S3 monitoring configuration, so EMR adds its
    /// fluentd logging sidecar to the driver and executors.
    pub monitoring: bool,
    /// The Spark settings that change pod requests (overheads, factors, request cores).
    #[serde(default)]
    pub sizing: crate::spark::SparkSizingConf,
}

impl JobSubmission {
    /// A request with Spark's defaults: 2 executors of 1 core and 1g, a driver of 1
    /// core and 1g, JVM application, no templates, no monitoring, default tasks.
    pub fn new(
        virtual_cluster_id: impl Into<String>,
        name: impl Into<String>,
        release_label: impl Into<String>,
    ) -> Self {
        JobSubmission {
            virtual_cluster_id: virtual_cluster_id.into(),
            name: name.into(),
            release_label: release_label.into(),
            execution_role_arn: None,
            client_token: None,
            executors: 2,
            executor_cores: 1,
            executor_memory: "1g".to_string(),
            driver_cores: 1,
            driver_memory: None,
            driver_pod_template: None,
            executor_pod_template: None,
            task_durations_ms: None,
            non_jvm: false,
            monitoring: false,
            sizing: crate::spark::SparkSizingConf::default(),
        }
    }
}

/// What StartJobRun returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRunRef {
    /// Job run id (19 characters).
    pub id: String,
    /// Job name.
    pub name: String,
    /// Job run ARN.
    pub arn: String,
    /// Virtual cluster id.
    pub virtual_cluster_id: String,
}

/// Status of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Waiting for a free executor core.
    Pending,
    /// Running on an executor.
    Running {
        /// Executor id.
        executor_id: u32,
        /// When this attempt started.
        started_at_ms: u64,
    },
    /// Done.
    Finished {
        /// Executor that ran the successful attempt.
        executor_id: u32,
        /// When it finished.
        finished_at_ms: u64,
    },
}

/// One Spark task (partition).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// How long an attempt runs.
    pub duration_ms: u64,
    /// Attempts started so far (a lost attempt is rerun).
    pub attempts: u32,
    /// Current status.
    pub status: TaskStatus,
}

/// An executor the driver knows about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executor {
    /// Executor id.
    pub id: u32,
    /// Pod name.
    pub pod_name: SharedStr,
    /// Registered with the driver (can run tasks).
    pub registered: bool,
    /// Lost (pod preempted, deleted or failed); a lost executor never comes back.
    pub lost: bool,
    /// Tasks currently running on it.
    pub running_tasks: BTreeSet<u32>,
    pub(crate) pod: u32,
    /// Its pod object is gone (Spark stops counting it towards the target).
    pub(crate) pod_deleted: bool,
}

/// An EMR job run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    /// Job run id.
    pub id: SharedStr,
    /// Job name.
    pub name: SharedStr,
    /// ARN.
    pub arn: SharedStr,
    /// Virtual cluster id.
    pub virtual_cluster_id: SharedStr,
    /// EKS cluster.
    pub cluster: SharedStr,
    /// Namespace.
    pub namespace: SharedStr,
    /// Release label.
    pub release_label: String,
    /// Execution role ARN.
    pub execution_role_arn: Option<String>,
    /// Idempotency token.
    pub client_token: Option<String>,
    /// State.
    pub state: JobState,
    /// EMR `stateDetails`.
    pub state_details: Option<SharedStr>,
    /// EMR `failureReason`.
    pub failure_reason: Option<FailureReason>,
    /// `createdAt`.
    pub created_at_ms: u64,
    /// When the driver started running.
    pub started_at_ms: Option<u64>,
    /// `finishedAt`.
    pub finished_at_ms: Option<u64>,
    /// `spark.executor.instances`.
    pub executor_instances: u32,
    /// `spark.executor.cores`.
    pub executor_cores: u32,
    /// PySpark/R application (memory overhead factor 0.4).
    pub non_jvm: bool,
    /// Monitoring configured: driver and executors carry EMR's fluentd sidecar.
    pub monitoring: bool,
    /// Executor pod sizing.
    pub executor_sizing: SparkPodSizing,
    /// Driver pod sizing.
    pub driver_sizing: SparkPodSizing,
    /// Job-runner pod requests.
    pub controller_requests: Resources,
    /// Resolved driver pod template.
    pub driver_template: PodTemplate,
    /// Resolved executor pod template.
    pub executor_template: PodTemplate,
    /// Spark application id (`spark-app-selector`).
    pub spark_app_id: SharedStr,
    /// Executor pod name prefix (`<app>-<16 hex>`).
    pub executor_pod_prefix: String,
    /// Job-runner pod name, once created.
    pub controller_pod: Option<String>,
    /// Driver pod name, once created.
    pub driver_pod: Option<String>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Executors ever requested, by id.
    pub executors: BTreeMap<u32, Executor>,
    pub(crate) cluster_idx: u32,
    pub(crate) pod_specs: crate::emr::JobPodSpecs,
    pub(crate) controller_pod_idx: Option<u32>,
    pub(crate) driver_pod_idx: Option<u32>,
    pub(crate) next_executor_id: u32,
    pub(crate) pending_tasks: BTreeSet<u32>,
    pub(crate) finished_tasks: u32,
    pub(crate) driver_ready: bool,
    pub(crate) allocation_scheduled: bool,
    pub(crate) app_finished: bool,
    /// Remaining pods to be deleted before CANCELLED / FAILED cleanup completes.
    pub(crate) terminal_pending: Option<(JobState, Option<FailureReason>, Option<String>)>,
}

impl JobRun {
    /// Tasks finished so far.
    pub fn finished_tasks(&self) -> u32 {
        self.finished_tasks
    }

    /// Executors that are neither lost nor retired.
    pub fn live_executors(&self) -> impl Iterator<Item = &Executor> {
        self.executors.values().filter(|e| !e.lost)
    }

    /// The highest executor id requested so far.
    pub fn max_executor_id(&self) -> Option<u32> {
        self.executors.keys().next_back().copied()
    }
}
