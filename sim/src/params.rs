//! Every delay and size in the model, with its default and the reason for it, in one
//! place.
//!
//! Times are virtual milliseconds. Defaults are realistic values for EKS 1.22-1.30 with
//! EMR 6.x (the walkthrough's era); where no source gives a number the field says
//! "assumed" and the value is a typical observation. Changing a parameter changes the
//! timelines the scenario tests pin, which is the point: they document the consequences.

use serde::{Deserialize, Serialize};

use crate::resources::Resources;

/// All tunable numbers of the simulation. `SimParams::default()` is the realistic model
/// the canned runbooks and the acceptance tests use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimParams {
    // ----- identity -----
    /// AWS account id used in ARNs (default `123456789012`, the documentation account).
    pub account_id: String,
    /// Region used in ARNs and node DNS names when a cluster does not name one.
    pub region: String,

    // ----- EKS control plane and nodes -----
    /// CreateCluster until ACTIVE. EKS takes 10-15 minutes (walkthrough row 1).
    pub cluster_create_ms: u64,
    /// DeleteCluster until the cluster is gone. Typically a few minutes.
    pub cluster_delete_ms: u64,
    /// EC2 RunInstances until the kubelet registers the node (assumed; boot of the EKS
    /// AMI plus kubelet start, typically 30-60 s).
    pub node_launch_ms: u64,
    /// Node registered until `Ready` (assumed; the VPC CNI `aws-node` pod must start).
    pub node_ready_ms: u64,
    /// Share of instance memory the kubelet does not see, in per-mille. Karpenter's
    /// `VM_MEMORY_OVERHEAD_PERCENT` default 7.5 %; with it, allocatable matches
    /// Karpenter's published table exactly.
    pub vm_memory_overhead_permille: u64,
    /// The kubelet's `evictionHard` `memory.available` (EKS AMI: 100Mi).
    pub eviction_hard_memory_mib: u64,

    // ----- system pods (real pods that occupy node capacity) -----
    /// `aws-node` (VPC CNI) DaemonSet requests: 25m CPU, no memory request.
    pub aws_node_requests: Resources,
    /// `kube-proxy` DaemonSet requests: 100m CPU, no memory request.
    pub kube_proxy_requests: Resources,
    /// CoreDNS Deployment replicas (EKS default 2).
    pub coredns_replicas: u32,
    /// CoreDNS requests: 100m CPU, 70Mi.
    pub coredns_requests: Resources,
    /// Container Insights `cloudwatch-agent` DaemonSet requests (walkthrough row 6;
    /// quick-start manifest: 200m, 200Mi). Only present after
    /// [`World::enable_container_insights`](crate::World::enable_container_insights).
    pub cloudwatch_agent_requests: Resources,
    /// Container Insights `fluentd-cloudwatch` DaemonSet requests (quick-start manifest:
    /// 100m, 200Mi).
    pub fluentd_daemonset_requests: Resources,

    // ----- kubelet -----
    /// Time to start a pod's containers once its image is on the node (assumed).
    pub container_start_ms: u64,
    /// First pull of an EMR Spark image (driver and executors, per release label) on a
    /// node. EMR images are 1.5-2 GB; 20-60 s is typical (assumed 30 s). Later pods on
    /// that node use the cached image.
    pub spark_image_pull_ms: u64,
    /// First pull of the EMR job-runner image on a node (assumed; smaller image).
    pub job_runner_image_pull_ms: u64,
    /// First pull of a system (DaemonSet, CoreDNS) image on a node (assumed).
    pub system_image_pull_ms: u64,
    /// `terminationGracePeriodSeconds` default (Kubernetes API: 30). A pod deleted while
    /// running (preemption victim, cancelled job) keeps its resources this long: we
    /// assume its containers use the whole grace period (the EMR logging sidecar flushes
    /// logs to S3/CloudWatch on SIGTERM).
    pub termination_grace_period_s: u64,
    /// Time for a pod to go away when its main process has already exited or never
    /// started (executors deleted by the driver at the end of a job, pods that were
    /// still pulling their image).
    pub pod_shutdown_ms: u64,

    // ----- EMR on EKS -----
    /// StartJobRun until SUBMITTED, when EMR creates the job-runner Job (assumed).
    pub emr_submit_ms: u64,
    /// Requests of the job-runner (controller) pod's main container, which runs
    /// `spark-submit`. Not documented by EMR; assumed 100m CPU / 256Mi.
    pub job_runner_requests: Resources,
    /// Requests of the job-runner pod's logging container: EMR documents the defaults
    /// `jobsubmitter.logging.request.cores = 100m` and `...memory = 200Mi`.
    pub job_runner_logging_requests: Resources,
    /// Requests of the `emr-container-fluentd` sidecar EMR adds to driver and executor
    /// pods when the job has a monitoring configuration: 200Mi memory (EMR 6.x pods as
    /// dumped with kubectl; limit 512Mi), no CPU request.
    pub emr_fluentd_sidecar_requests: Resources,
    /// Job-runner container running until it creates the driver pod (`spark-submit`
    /// JVM start and submission; assumed).
    pub spark_submit_ms: u64,
    /// Driver container running until it requests executors (SparkContext start;
    /// assumed).
    pub driver_init_ms: u64,
    /// Executor container running until it registers with the driver and can take
    /// tasks (JVM start; assumed).
    pub executor_register_ms: u64,
    /// `spark.kubernetes.allocation.batch.size` (Spark default 5): executor pods created
    /// per allocation round.
    pub executor_allocation_batch_size: u32,
    /// `spark.kubernetes.allocation.batch.delay` (Spark default 1 s): time between
    /// allocation rounds, and the delay before a lost executor is replaced.
    pub executor_allocation_batch_delay_ms: u64,
    /// Last task finished until the driver container exits (SparkContext stop,
    /// event-log upload; assumed).
    pub driver_shutdown_ms: u64,
    /// Driver exited until the job-runner container exits and EMR reports the final
    /// state (assumed).
    pub job_runner_shutdown_ms: u64,
    /// EMR `job-start-timeout`: a job still SUBMITTED after this long fails (EMR
    /// default 15 minutes). `None` disables it.
    pub job_start_timeout_ms: Option<u64>,
    /// Task durations when a job does not give its own: the walkthrough's
    /// threadsleeper, 5 partitions sleeping 20, 40, 60, 80 and 100 s.
    pub default_task_durations_ms: Vec<u64>,
    /// `spark.kubernetes.memoryOverheadFactor` default for JVM jobs: 0.10.
    pub memory_overhead_factor_jvm_permille: u64,
    /// Spark's `NON_JVM_MEMORY_OVERHEAD_FACTOR` for PySpark/R jobs: 0.40.
    pub memory_overhead_factor_non_jvm_permille: u64,
    /// Spark's minimum memory overhead (`MEMORY_OVERHEAD_MIN_MIB`): 384 MiB.
    pub min_memory_overhead_mib: u64,
    /// `spark.driver.memory` default: 1g.
    pub default_driver_memory_mib: u64,

    // ----- kube-scheduler -----
    /// `minFeasibleNodesToFind` (100): below this many nodes every node is scored.
    pub min_feasible_nodes_to_find: u32,
    /// Floor of the adaptive `percentageOfNodesToScore` (5 %).
    pub min_feasible_nodes_percentage: u32,
    /// DefaultPreemption `minCandidateNodesPercentage` (10 %).
    pub min_candidate_nodes_percentage: u32,
    /// DefaultPreemption `minCandidateNodesAbsolute` (100).
    pub min_candidate_nodes_absolute: u32,

    // ----- Karpenter -----
    /// `BATCH_IDLE_DURATION` (1 s): a provisioning batch closes when no new pending pod
    /// arrived for this long.
    pub batch_idle_ms: u64,
    /// `BATCH_MAX_DURATION` (10 s): a batch closes at the latest this long after it
    /// opened.
    pub batch_max_ms: u64,
    /// Spot price as per-mille of the on-demand price (assumed flat 35 %; real spot
    /// discounts vary by type and over time). Only used to rank choices.
    pub spot_price_permille: u64,

    // ----- recording -----
    /// Record `TaskStarted`/`TaskFinished` events (useful for reports; large runs may
    /// turn them off to save memory).
    pub record_task_events: bool,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            account_id: "123456789012".to_string(),
            region: "us-east-1".to_string(),

            cluster_create_ms: 600_000,
            cluster_delete_ms: 300_000,
            node_launch_ms: 45_000,
            node_ready_ms: 15_000,
            vm_memory_overhead_permille: 75,
            eviction_hard_memory_mib: 100,

            aws_node_requests: Resources::new(25, 0),
            kube_proxy_requests: Resources::new(100, 0),
            coredns_replicas: 2,
            coredns_requests: Resources::new(100, 70),
            cloudwatch_agent_requests: Resources::new(200, 200),
            fluentd_daemonset_requests: Resources::new(100, 200),

            container_start_ms: 2_000,
            spark_image_pull_ms: 30_000,
            job_runner_image_pull_ms: 10_000,
            system_image_pull_ms: 5_000,
            termination_grace_period_s: 30,
            pod_shutdown_ms: 2_000,

            emr_submit_ms: 5_000,
            job_runner_requests: Resources::new(100, 256),
            job_runner_logging_requests: Resources::new(100, 200),
            emr_fluentd_sidecar_requests: Resources::new(0, 200),
            spark_submit_ms: 8_000,
            driver_init_ms: 10_000,
            executor_register_ms: 4_000,
            executor_allocation_batch_size: 5,
            executor_allocation_batch_delay_ms: 1_000,
            driver_shutdown_ms: 3_000,
            job_runner_shutdown_ms: 2_000,
            job_start_timeout_ms: Some(900_000),
            default_task_durations_ms: vec![20_000, 40_000, 60_000, 80_000, 100_000],
            memory_overhead_factor_jvm_permille: 100,
            memory_overhead_factor_non_jvm_permille: 400,
            min_memory_overhead_mib: 384,
            default_driver_memory_mib: 1024,

            min_feasible_nodes_to_find: 100,
            min_feasible_nodes_percentage: 5,
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,

            batch_idle_ms: 1_000,
            batch_max_ms: 10_000,
            spot_price_permille: 350,

            record_task_events: true,
        }
    }
}

impl SimParams {
    /// The job-runner pod's total requests (main container + logging container).
    pub fn job_runner_pod_requests(&self) -> Resources {
        self.job_runner_requests
            .plus(&self.job_runner_logging_requests)
    }

    /// The default grace period in milliseconds.
    pub fn termination_grace_period_ms(&self) -> u64 {
        self.termination_grace_period_s * 1000
    }
}
