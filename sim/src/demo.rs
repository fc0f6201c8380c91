//! The canned priority demo: the walkthrough's setup and its two jobs, as constants
//! the runbooks reuse, and a helper that builds the demo world for tests.
//!
//! See the crate documentation ("Why the priority story happens") for why these sizes
//! on a `c5.2xlarge` make exactly one low-priority executor give way.

use std::collections::BTreeMap;

use crate::autoscaler::AutoscalerSpec;
use crate::cluster::{ClusterSpec, NodeGroupSpec};
use crate::error::SimError;
use crate::job_run::{JobSubmission, PodTemplateSource};
use crate::priority::PriorityClassSpec;
use crate::world::World;

/// Walkthrough `CLUSTER_NAME`.
pub const CLUSTER_NAME: &str = "eks-emr-cluster";
/// The Kubernetes version of the demo cluster: the walkthrough used 1.22, which EKS no
/// longer offers, so the demo uses the newest version in standard support.
pub const KUBERNETES_VERSION: &str = crate::eks_versions::DEFAULT;
/// Walkthrough `AWS_REGION`.
pub const REGION: &str = "us-east-2";
/// Walkthrough node group name (`${CLUSTER_NAME}-ng`).
pub const NODEGROUP_NAME: &str = "eks-emr-cluster-ng";
/// The demo's node type. The walkthrough used an m5.2xlarge, whose 29 GiB of
/// allocatable memory hold both jobs with room to spare; a c5.2xlarge has the same 8
/// vCPUs and half the memory, and on it the documented pod sizes make the node full
/// exactly where the walkthrough's story needs it (crate docs).
pub const NODE_INSTANCE_TYPE: &str = "c5.2xlarge";
/// The five namespaces of walkthrough row 2.
pub const NAMESPACES: [&str; 5] = [
    "realtime-batch",
    "intra-day-batch",
    "nightly-batch",
    "monthly-batch",
    "adhoc-ml-batch",
];
/// Namespace of the low-priority job (walkthrough row 9).
pub const LOW_NAMESPACE: &str = "monthly-batch";
/// Namespace of the high-priority job (walkthrough row 10).
pub const HIGH_NAMESPACE: &str = "intra-day-batch";
/// The PriorityClasses of walkthrough row 7: (name, value, globalDefault).
pub const PRIORITY_CLASSES: [(&str, i64, bool); 4] = [
    ("critical-priority", 400, true),
    ("realtime-priority", 300, false),
    ("high-priority", 200, false),
    ("low-priority", 100, false),
];
/// The head of a critical-priority template that runs on on-demand nodes only. The
/// walkthrough's `nodeSelector: {eks.amazonaws.com/capacityType: ON_DEMAND}` matches
/// only the managed node group's nodes; Karpenter labels its nodes
/// `karpenter.sh/capacity-type: on-demand`, so the two are ORed terms of required node
/// affinity, which nodes of both kinds satisfy.
macro_rules! on_demand_critical_template {
    () => {
        "\
apiVersion: v1
kind: Pod
spec:
  priorityClassName: \"critical-priority\"
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: eks.amazonaws.com/capacityType, operator: In, values: [ON_DEMAND]}
        - matchExpressions:
          - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
"
    };
}
/// Driver template (row 8): critical priority, on-demand nodes only.
pub const DRIVER_TEMPLATE_YAML: &str = concat!(
    on_demand_critical_template!(),
    "  containers:
  - name: spark-kubernetes-driver # This will be interpreted as Spark driver container
"
);
/// High-priority executor template (row 8): critical priority, on-demand nodes only.
pub const HIGH_EXECUTOR_TEMPLATE_YAML: &str = concat!(
    on_demand_critical_template!(),
    "  containers:
  - name: spark-kubernetes-executor # This will be interpreted as Spark executor container
"
);
/// Low-priority executor template (row 8): low priority, any node.
pub const LOW_EXECUTOR_TEMPLATE_YAML: &str = "\
apiVersion: v1
kind: Pod
spec:
  priorityClassName: \"low-priority\"
  containers:
  - name: spark-kubernetes-executor # This will be interpreted as Spark executor container
";
/// Object key of the driver template in the templates bucket.
pub const DRIVER_TEMPLATE_KEY: &str = "driver_pod_template.yml";
/// Object key of the high-priority executor template.
pub const HIGH_EXECUTOR_TEMPLATE_KEY: &str = "high_priority_executor_pod_template.yml";
/// Object key of the low-priority executor template.
pub const LOW_EXECUTOR_TEMPLATE_KEY: &str = "low_priority_executor_pod_template.yml";
/// Release of the priority jobs (rows 9-10).
pub const RELEASE_LABEL: &str = "emr-6.4.0-latest";
/// Name of the low-priority job.
pub const LOW_JOB_NAME: &str = "monthly-batch-low-priority-job";
/// Name of the high-priority job.
pub const HIGH_JOB_NAME: &str = "intra-day-batch-high-priority-job";
/// `spark.executor.instances` of both jobs.
pub const EXECUTORS: u32 = 2;
/// `spark.executor.cores` of both jobs.
pub const EXECUTOR_CORES: u32 = 1;
/// `spark.executor.memory` of both jobs.
pub const EXECUTOR_MEMORY: &str = "2G";
/// `spark.driver.cores` of both jobs.
pub const DRIVER_CORES: u32 = 1;
/// `spark.driver.memory` of both jobs (Spark's default).
pub const DRIVER_MEMORY: &str = "1G";
/// The jobs are PySpark scripts (threadsleeper.py): memory overhead factor 0.4.
pub const NON_JVM: bool = true;
/// The jobs log to CloudWatch and S3, so EMR adds its fluentd sidecar.
pub const MONITORING: bool = true;
/// Task durations of both jobs: 5 partitions sleeping 20 to 100 s.
pub const TASK_SECONDS: [u64; 5] = [20, 40, 60, 80, 100];
/// The high-priority job is submitted this long after the low-priority one.
pub const HIGH_JOB_DELAY_MS: u64 = 60_000;
/// Karpenter provisioner `ttlSecondsAfterEmpty` (row 11).
pub const TTL_SECONDS_AFTER_EMPTY: u64 = 30;

/// The templates bucket, `<cluster>-pod-templates-<account>-<region>` (row 8).
pub fn template_bucket(account_id: &str, region: &str) -> String {
    format!("{CLUSTER_NAME}-pod-templates-{account_id}-{region}")
}

/// The `submit-job` input of the walkthrough's jobs (rows 9-10): a PySpark
/// thread-sleeper with 2 executors of 1 core and 2G, logging to CloudWatch (so EMR adds
/// its sidecar), the driver template and `executor_template` from `templates_bucket`.
pub fn job_input(
    namespace: &str,
    name: &str,
    executor_template: &str,
    templates_bucket: &str,
) -> serde_json::Value {
    let template = |key: &str| format!("s3://{templates_bucket}/{key}");
    serde_json::json!({
        "virtual_cluster": format!("{namespace}-emr-cluster"),
        "name": name,
        "role": format!("{namespace}-JobExecutionRole"),
        "release_label": RELEASE_LABEL,
        "entry_point": "s3://jobs/threadsleeper.py",
        "executors": EXECUTORS,
        "executor_cores": EXECUTOR_CORES,
        "executor_memory": EXECUTOR_MEMORY,
        "driver_cores": DRIVER_CORES,
        "driver_pod_template": template(DRIVER_TEMPLATE_KEY),
        "executor_pod_template": template(executor_template),
        "log_group": format!("/emr-on-eks/{CLUSTER_NAME}/{namespace}"),
    })
}

/// Variations of the demo world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOptions {
    /// Nodes in the managed node group (1 for the priority story).
    pub nodes: u32,
    /// Their instance type.
    pub instance_type: String,
    /// Install Container Insights (walkthrough row 6).
    pub container_insights: bool,
    /// Enable the walkthrough's Karpenter provisioner.
    pub autoscaling: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            nodes: 1,
            instance_type: NODE_INSTANCE_TYPE.to_string(),
            container_insights: false,
            autoscaling: false,
        }
    }
}

/// What [`setup`] created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demo {
    /// Virtual cluster ids by namespace.
    pub virtual_clusters: BTreeMap<String, String>,
    /// `s3://.../driver_pod_template.yml`.
    pub driver_template_uri: String,
    /// `s3://.../high_priority_executor_pod_template.yml`.
    pub high_executor_template_uri: String,
    /// `s3://.../low_priority_executor_pod_template.yml`.
    pub low_executor_template_uri: String,
    /// Virtual time when the setup was complete (nodes Ready).
    pub ready_at_ms: u64,
}

/// Builds the walkthrough's platform (rows 1, 2, 3, 7, 8 and optionally 6 and 11):
/// the cluster with its node group (waiting until the nodes are Ready), the five
/// namespaces with their virtual clusters and job roles, the priority classes and the
/// pod templates in S3.
pub fn setup(world: &mut World, options: &DemoOptions) -> Result<Demo, SimError> {
    let mut ng = NodeGroupSpec::new(NODEGROUP_NAME, options.instance_type.clone(), options.nodes);
    ng.max_size = ng.max_size.max(10);
    let mut spec = ClusterSpec::new(CLUSTER_NAME, KUBERNETES_VERSION, ng);
    spec.region = Some(REGION.to_string());
    world.create_cluster(spec)?;
    let expected = options.nodes as usize;
    let deadline = world.now() + 3_600_000;
    world.run_until(deadline, |w| {
        w.nodes(CLUSTER_NAME)
            .map(|nodes| nodes.len() == expected && nodes.iter().all(|n| n.ready))
            .unwrap_or(false)
    });
    let mut virtual_clusters = BTreeMap::new();
    for ns in NAMESPACES {
        world.create_namespace(CLUSTER_NAME, ns)?;
        let id = world.create_virtual_cluster(&format!("{ns}-emr-cluster"), CLUSTER_NAME, ns)?;
        virtual_clusters.insert(ns.to_string(), id);
        world.create_role(&format!("{ns}-JobExecutionRole"), None)?;
    }
    for (name, value, global_default) in PRIORITY_CLASSES {
        world.create_priority_class(
            CLUSTER_NAME,
            PriorityClassSpec::new(name, value, global_default),
        )?;
    }
    if options.container_insights {
        world.enable_container_insights(CLUSTER_NAME)?;
    }
    if options.autoscaling {
        world.enable_autoscaling(CLUSTER_NAME, AutoscalerSpec::walkthrough())?;
    }
    let account = world.params().account_id.clone();
    let bucket = template_bucket(&account, REGION);
    world.create_bucket(&bucket)?;
    world.put_object(&bucket, DRIVER_TEMPLATE_KEY, DRIVER_TEMPLATE_YAML)?;
    world.put_object(
        &bucket,
        HIGH_EXECUTOR_TEMPLATE_KEY,
        HIGH_EXECUTOR_TEMPLATE_YAML,
    )?;
    world.put_object(
        &bucket,
        LOW_EXECUTOR_TEMPLATE_KEY,
        LOW_EXECUTOR_TEMPLATE_YAML,
    )?;
    // Let the DaemonSet pods of any add-on settle before the demo starts.
    let settle = world.now() + 60_000;
    world.advance_to(settle)?;
    Ok(Demo {
        virtual_clusters,
        driver_template_uri: format!("s3://{bucket}/{DRIVER_TEMPLATE_KEY}"),
        high_executor_template_uri: format!("s3://{bucket}/{HIGH_EXECUTOR_TEMPLATE_KEY}"),
        low_executor_template_uri: format!("s3://{bucket}/{LOW_EXECUTOR_TEMPLATE_KEY}"),
        ready_at_ms: world.now(),
    })
}

impl Demo {
    fn job(
        &self,
        namespace: &str,
        name: &str,
        executor_template: &str,
        account: &str,
    ) -> JobSubmission {
        let vc = self
            .virtual_clusters
            .get(namespace)
            .cloned()
            .unwrap_or_default();
        let mut job = JobSubmission::new(vc, name, RELEASE_LABEL);
        job.execution_role_arn = Some(format!(
            "arn:aws:iam::{account}:role/{namespace}-JobExecutionRole"
        ));
        job.executors = EXECUTORS;
        job.executor_cores = EXECUTOR_CORES;
        job.executor_memory = EXECUTOR_MEMORY.to_string();
        job.driver_cores = DRIVER_CORES;
        job.driver_memory = Some(DRIVER_MEMORY.to_string());
        job.driver_pod_template = Some(PodTemplateSource::S3(self.driver_template_uri.clone()));
        job.executor_pod_template = Some(PodTemplateSource::S3(executor_template.to_string()));
        job.task_durations_ms = Some(TASK_SECONDS.iter().map(|s| s * 1000).collect());
        job.non_jvm = NON_JVM;
        job.monitoring = MONITORING;
        job
    }

    /// The low-priority job (row 9): driver template + low-priority executor template.
    pub fn low_priority_job(&self, account_id: &str) -> JobSubmission {
        self.job(
            LOW_NAMESPACE,
            LOW_JOB_NAME,
            &self.low_executor_template_uri,
            account_id,
        )
    }

    /// The high-priority job (row 10): driver template + high-priority executor
    /// template.
    pub fn high_priority_job(&self, account_id: &str) -> JobSubmission {
        self.job(
            HIGH_NAMESPACE,
            HIGH_JOB_NAME,
            &self.high_executor_template_uri,
            account_id,
        )
    }
}
