//! `submit-job`: EMR StartJobRun, reattaching to its own job on resume.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::duration::HumaneDuration;
use crate::error::ActionError;
use crate::job_lookup;
use crate::target::JobRunRequest;

/// Submits a Spark job to an EMR virtual cluster (walkthrough rows 5, 9, 10). The step's
/// idempotency key is the request's `clientToken`, and before submitting the step looks
/// for a job it already started with that key: a resumed run reattaches to its job
/// instead of starting a second one.
pub(crate) struct SubmitJob;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitJobInput {
    /// The virtual cluster, by name (`monthly-batch-emr-cluster`) or id.
    virtual_cluster: String,
    /// The job run's name, e.g. `pi-4`.
    name: String,
    /// The job execution role, by name (`monthly-batch-JobExecutionRole`) or ARN.
    role: String,
    /// The EMR release, e.g. `emr-6.4.0-latest`.
    #[serde(default = "default_release")]
    release_label: String,
    /// The application (`spark-submit`'s entry point); `.py` means PySpark.
    #[serde(default = "default_entry_point")]
    entry_point: String,
    /// Arguments of the application.
    #[serde(default)]
    arguments: Vec<String>,
    /// `spark.executor.instances`.
    #[serde(default = "two")]
    executors: u32,
    /// `spark.executor.cores`.
    #[serde(default = "one")]
    executor_cores: u32,
    /// `spark.executor.memory`, e.g. `2G`.
    #[serde(default = "default_memory")]
    executor_memory: String,
    /// `spark.driver.cores`.
    #[serde(default = "one")]
    driver_cores: u32,
    /// `spark.driver.memory` (Spark's default 1g if absent).
    #[serde(default)]
    driver_memory: Option<String>,
    /// More Spark settings (spark-defaults), e.g. `spark.dynamicAllocation.enabled: "false"`.
    #[serde(default)]
    spark_conf: BTreeMap<String, String>,
    /// S3 URI of the driver's pod template (`spark.kubernetes.driver.podTemplateFile`).
    #[serde(default)]
    driver_pod_template: Option<String>,
    /// S3 URI of the executors' pod template (`spark.kubernetes.executor.podTemplateFile`).
    #[serde(default)]
    executor_pod_template: Option<String>,
    /// CloudWatch log group for the job's logs.
    #[serde(default)]
    log_group: Option<String>,
    /// Log stream prefix in that group, e.g. `low-p-`.
    #[serde(default)]
    log_stream_prefix: Option<String>,
    /// S3 URI for the job's logs, e.g. `s3://monthly-batch-logs-ACCOUNT-REGION/`.
    #[serde(default)]
    s3_log_uri: Option<String>,
    /// On `sim`: the application's tasks, as durations (default 20s, 40s, 60s, 80s and
    /// 100s, the walkthrough's thread-sleeper). Ignored on `aws`, where the application
    /// itself decides.
    #[serde(default)]
    sim_tasks: Option<Vec<HumaneDuration>>,
}

fn default_release() -> String {
    "emr-6.4.0-latest".into()
}
fn default_entry_point() -> String {
    "local:///usr/lib/spark/examples/src/main/python/pi.py".into()
}
fn default_memory() -> String {
    "2G".into()
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SubmitJobOutput {
    /// The job run id.
    job_id: String,
    /// The job run ARN.
    arn: String,
    /// The job run's name.
    name: String,
    /// The virtual cluster it runs in.
    virtual_cluster_id: String,
    /// True when the step found the job it had submitted before (resume) instead of
    /// submitting again.
    reattached: bool,
}

impl Action for SubmitJob {
    type Input = SubmitJobInput;
    type Output = SubmitJobOutput;
    const NAME: &'static str = "submit-job";
    const SUMMARY: &'static str = "Submit a Spark job to an EMR virtual cluster (StartJobRun), idempotently.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(&self, input: SubmitJobInput, ctx: &StepContext) -> Result<SubmitJobOutput, ActionError> {
        let vc = job_lookup::virtual_cluster(ctx, &input.virtual_cluster).await?;
        if let Some(job) = ctx.target.emr.find_job_run(&vc.id, &ctx.idempotency_key).await? {
            ctx.say(&format!("reattached to job {} ({}), submitted before with this step's key", job.id, job.state));
            return Ok(SubmitJobOutput {
                job_id: job.id,
                arn: job.arn,
                name: job.name,
                virtual_cluster_id: job.virtual_cluster_id,
                reattached: true,
            });
        }
        let role = job_lookup::role_arn(ctx, &input.role).await?;
        let mut spark_conf = BTreeMap::from([
            ("spark.executor.instances".to_string(), input.executors.to_string()),
            ("spark.executor.cores".to_string(), input.executor_cores.to_string()),
            ("spark.executor.memory".to_string(), input.executor_memory.clone()),
            ("spark.driver.cores".to_string(), input.driver_cores.to_string()),
            ("spark.dynamicAllocation.enabled".to_string(), "false".to_string()),
            ("spark.kubernetes.executor.deleteOnTermination".to_string(), "true".to_string()),
        ]);
        if let Some(m) = &input.driver_memory {
            spark_conf.insert("spark.driver.memory".into(), m.clone());
        }
        spark_conf.extend(input.spark_conf.clone());
        let request = JobRunRequest {
            virtual_cluster_id: vc.id.clone(),
            name: input.name.clone(),
            client_token: ctx.idempotency_key.clone(),
            execution_role_arn: role,
            release_label: input.release_label,
            entry_point: input.entry_point,
            entry_point_arguments: input.arguments,
            spark_conf,
            driver_pod_template: input.driver_pod_template,
            executor_pod_template: input.executor_pod_template,
            log_group: input.log_group,
            log_stream_prefix: input.log_stream_prefix,
            s3_log_uri: input.s3_log_uri,
            sim_tasks_ms: input
                .sim_tasks
                .map(|tasks| tasks.iter().map(|t| u64::try_from(t.0.as_millis()).unwrap_or(u64::MAX)).collect()),
        };
        let job = ctx.target.emr.start_job_run(&request).await?;
        Ok(SubmitJobOutput {
            job_id: job.id,
            arn: job.arn,
            name: job.name,
            virtual_cluster_id: job.virtual_cluster_id,
            reattached: false,
        })
    }
}
