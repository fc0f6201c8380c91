//! `submit-job`: EMR StartJobRun, reattaching to its own job on resume.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::job_lookup;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;
use runbook_backend::JobRunRequest;
use runbook_backend::duration::HumaneDuration;

/// The action; [`SubmitJobInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct SubmitJob;

/// Submits a Spark job to an EMR virtual cluster (walkthrough rows 5, 9, 10). The step's
/// idempotency key is the request's `clientToken`, and before submitting the step looks
/// for a job it already started with that key: a resumed run reattaches to its job
/// instead of starting a second one.
///
/// Its pods request what Spark sizes them at: cores (or
/// `spark.kubernetes.{driver,executor}.request.cores`) and memory plus an overhead
/// (`spark.{driver,executor}.memoryOverhead`, else max(384 MiB, 0.4 × memory for PySpark,
/// 0.1 for JVM)) plus EMR's logging sidecar when the job has a log group or S3 log URI.
/// `runbook sim sizes` prints these requests for given settings, and what each
/// instance type can give pods: whether a job preempts another depends on them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitJobInput {
    /// The virtual cluster, by name (`monthly-batch-emr-cluster`) or id.
    virtual_cluster: String,
    /// The job run's name, e.g. `pi-4`.
    name: String,
    /// The job execution role, by name (`monthly-batch-JobExecutionRole`) or ARN.
    role: String,
    /// The EMR release (`emr-7.13.0-latest` by default; the walkthrough used
    /// `emr-6.4.0-latest`).
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
    "emr-7.13.0-latest".into()
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
    const SUMMARY: &'static str =
        "Submit a Spark job to an EMR virtual cluster (StartJobRun), idempotently.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: SubmitJobInput,
        ctx: &StepContext,
    ) -> Result<SubmitJobOutput, ActionError> {
        let vc = job_lookup::virtual_cluster(ctx, &input.virtual_cluster).await?;
        if let Some(job) = ctx
            .target
            .emr
            .find_job_run(&vc.id, &ctx.idempotency_key)
            .await?
        {
            ctx.say(&format!(
                "reattached to job {} ({}), submitted before with this step's key",
                job.id, job.state
            ));
            return Ok(SubmitJobOutput {
                job_id: job.id,
                arn: job.arn,
                name: job.name,
                virtual_cluster_id: job.virtual_cluster_id,
                reattached: true,
            });
        }
        let role = job_lookup::role_arn(ctx, &input.role).await?;
        let request = job_run_request(&input, vc.id.clone(), role, ctx.idempotency_key.clone());
        let job = ctx.target.emr.start_job_run(&request).await?;
        Ok(SubmitJobOutput {
            job_id: job.id,
            arn: job.arn,
            name: job.name,
            virtual_cluster_id: job.virtual_cluster_id,
            reattached: false,
        })
    }

    fn planned_calls(
        input: &SubmitJobInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let token = plan.idempotency_key();
        let wanted = input.virtual_cluster.as_str();
        let vc_id = format!("<id of virtual cluster {wanted}>");
        let target = &plan.target;
        let mut calls = job_lookup::planned_virtual_cluster(target, wanted);
        calls.extend(target.emr.planned_find_job_run(&vc_id, &token));
        let (role, lookup) = job_lookup::planned_role_arn(target, &input.role);
        let request = job_run_request(input, vc_id.clone(), role, token);
        let mut start = lookup;
        start.extend(target.emr.planned_start_job_run(&request));
        calls.extend(start.under("unless that job is found"));
        Ok(calls)
    }
}

/// What StartJobRun is asked for: the input's Spark settings as Spark configuration
/// (dynamic allocation off, so `executors` is what runs), with `clientToken` the
/// step's idempotency key.
fn job_run_request(
    input: &SubmitJobInput,
    virtual_cluster_id: String,
    execution_role_arn: String,
    client_token: String,
) -> JobRunRequest {
    let mut spark_conf = BTreeMap::from([
        (
            "spark.executor.instances".to_string(),
            input.executors.to_string(),
        ),
        (
            "spark.executor.cores".to_string(),
            input.executor_cores.to_string(),
        ),
        (
            "spark.executor.memory".to_string(),
            input.executor_memory.clone(),
        ),
        (
            "spark.driver.cores".to_string(),
            input.driver_cores.to_string(),
        ),
        (
            "spark.dynamicAllocation.enabled".to_string(),
            "false".to_string(),
        ),
        (
            "spark.kubernetes.executor.deleteOnTermination".to_string(),
            "true".to_string(),
        ),
    ]);
    if let Some(m) = &input.driver_memory {
        spark_conf.insert("spark.driver.memory".into(), m.clone());
    }
    spark_conf.extend(input.spark_conf.clone());
    JobRunRequest {
        virtual_cluster_id,
        name: input.name.clone(),
        client_token,
        execution_role_arn,
        release_label: input.release_label.clone(),
        entry_point: input.entry_point.clone(),
        entry_point_arguments: input.arguments.clone(),
        spark_conf,
        driver_pod_template: input.driver_pod_template.clone(),
        executor_pod_template: input.executor_pod_template.clone(),
        log_group: input.log_group.clone(),
        log_stream_prefix: input.log_stream_prefix.clone(),
        s3_log_uri: input.s3_log_uri.clone(),
        sim_tasks_ms: input.sim_tasks.as_ref().map(|tasks| {
            tasks
                .iter()
                .map(|t| u64::try_from(t.0.as_millis()).unwrap_or(u64::MAX))
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::{SimWorld, high_job, low_job, template_uri, templates_bucket};

    /// Spark's sizing settings in `spark_conf` change the pods' requests on `sim` as
    /// Spark sizes them on EKS: the executors' CPU request and memory overhead, the
    /// driver's overhead factor.
    #[tokio::test]
    async fn spark_sizing_settings_change_the_pods_requests() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut job = low_job();
        job["spark_conf"] = json!({
            "spark.kubernetes.executor.request.cores": "500m",
            "spark.executor.memoryOverhead": "1g",
            "spark.driver.memoryOverheadFactor": "0.5",
        });
        let id = world.submit(job, "sized").await;
        world
            .run(
                "wait-for-pods",
                json!({"job": id, "role": "executor", "running": 2, "timeout": "5m"}),
            )
            .await
            .expect("executors running");
        let w = world.sim.world();
        // The Spark pods (EMR's job-submitter pod is sized by EMR, not Spark).
        let pods: Vec<_> = w
            .job_pods(&id)
            .into_iter()
            .filter(|p| {
                matches!(
                    p.role,
                    runbook_sim::PodRole::Executor | runbook_sim::PodRole::Driver
                )
            })
            .collect();
        let fluentd = 200; // EMR's logging sidecar (the job has a log group)
        for pod in &pods {
            let (cpu, memory) = match pod.role {
                runbook_sim::PodRole::Executor => (500, 2048 + 1024 + fluentd),
                // 1g driver memory, PySpark: factor 0.5 instead of 0.4.
                _ => (1000, 1024 + 512 + fluentd),
            };
            assert_eq!(
                (pod.requests.cpu_millis, pod.requests.memory_mib),
                (cpu, memory),
                "{} ({:?})",
                pod.name,
                pod.role
            );
        }
        assert_eq!(pods.len(), 3, "a driver and two executors");
    }

    /// A setting that does not read is refused as EMR refuses it, naming the setting.
    #[tokio::test]
    async fn a_sizing_setting_that_does_not_read_is_refused() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut job = low_job();
        job["spark_conf"] = json!({"spark.executor.memoryOverheadFactor": "lots"});
        let err = world
            .run("submit-job", job)
            .await
            .expect_err("not a fraction");
        assert!(
            err.to_string()
                .contains("spark.executor.memoryOverheadFactor=lots is not a fraction"),
            "{err}"
        );
    }

    fn vc_id(world: &SimWorld, name: &str) -> String {
        world
            .sim
            .world()
            .virtual_clusters()
            .find(|vc| vc.name == name)
            .map(|vc| vc.id.clone())
            .expect("virtual cluster")
    }

    #[tokio::test]
    async fn submits_the_job_as_asked() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let vc = vc_id(&world, "monthly-batch-emr-cluster");
        let out = world
            .run_with_key("submit-job", low_job(), "rb-run-low_job-1")
            .await
            .expect("submitted");
        let id = out["job_id"].as_str().expect("job_id").to_string();
        assert_eq!(
            out,
            json!({
                "job_id": id,
                "arn": format!("arn:aws:emr-containers:us-east-2:123456789012:/virtualclusters/{vc}/jobruns/{id}"),
                "name": "monthly-batch-low-priority-job",
                "virtual_cluster_id": vc,
                "reattached": false,
            })
        );
        let w = world.sim.world();
        let jobs: Vec<_> = w.job_runs().collect();
        assert_eq!(jobs.len(), 1);
        let job = jobs[0];
        assert_eq!(job.id.as_ref(), id);
        assert_eq!(job.name.as_ref(), "monthly-batch-low-priority-job");
        assert_eq!(job.namespace.as_ref(), "monthly-batch");
        assert_eq!(job.release_label, "emr-6.4.0-latest");
        assert_eq!(job.executor_instances, 2);
        assert_eq!(job.executor_cores, 1);
        assert_eq!(
            job.execution_role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/monthly-batch-JobExecutionRole")
        );
        assert_eq!(job.client_token.as_deref(), Some("rb-run-low_job-1"));
        assert!(job.non_jvm, "a .py entry point is PySpark");
        assert!(job.monitoring, "a log group adds EMR's sidecar");
        assert_eq!(
            job.executor_template.priority_class_name.as_deref(),
            Some("low-priority")
        );
        assert_eq!(
            job.driver_template.priority_class_name.as_deref(),
            Some("critical-priority")
        );
        let tasks: Vec<u64> = job.tasks.iter().map(|t| t.duration_ms).collect();
        assert_eq!(tasks, [20_000, 40_000, 60_000, 80_000, 100_000]);
    }

    /// The step's idempotency key is the same when a step is re-entered on resume: the
    /// job it submitted before is found, not submitted again.
    #[tokio::test]
    async fn the_same_key_reattaches_and_another_key_submits_again() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let first = world
            .run_with_key("submit-job", low_job(), "key-1")
            .await
            .expect("submitted");
        let again = world
            .run_with_key("submit-job", low_job(), "key-1")
            .await
            .expect("reattached");
        assert_eq!(again["reattached"], true);
        assert_eq!(again["job_id"], first["job_id"]);
        assert_eq!(again["arn"], first["arn"]);
        assert_eq!(world.sim.world().job_runs().count(), 1, "one submission");

        let mut input = low_job();
        input["sim_tasks"] = json!(["10s", "1m"]);
        let other = world
            .run_with_key("submit-job", input, "key-2")
            .await
            .expect("a second job");
        assert_eq!(other["reattached"], false);
        assert_ne!(other["job_id"], first["job_id"]);
        let w = world.sim.world();
        assert_eq!(w.job_runs().count(), 2);
        let second = w
            .job_run_by_id(other["job_id"].as_str().expect("id"))
            .expect("job");
        let tasks: Vec<u64> = second.tasks.iter().map(|t| t.duration_ms).collect();
        assert_eq!(tasks, [10_000, 60_000], "sim_tasks reach the simulated job");
    }

    #[tokio::test]
    async fn an_unknown_virtual_cluster_is_named_with_the_known_ones() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut input = low_job();
        input["virtual_cluster"] = json!("monthly-emr-cluster");
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("no such virtual cluster");
        let message = err.to_string();
        assert!(
            message.contains("unknown virtual cluster `monthly-emr-cluster`"),
            "{message}"
        );
        assert!(
            message.contains("monthly-batch-emr-cluster")
                && message.contains("intra-day-batch-emr-cluster"),
            "the known ones are listed: {message}"
        );
        assert_eq!(world.sim.world().job_runs().count(), 0);
    }

    #[tokio::test]
    async fn an_unknown_role_is_named() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut input = low_job();
        input["role"] = json!("monthly-batch-JobRole");
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("no such role");
        assert_eq!(
            err.to_string(),
            "unknown job execution role `monthly-batch-JobRole`; create it with `create-job-role` or give its ARN"
        );
        assert_eq!(world.sim.world().job_runs().count(), 0);
    }

    #[tokio::test]
    async fn a_template_with_an_unknown_priority_class_is_rejected_at_submission() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        world
            .run(
                "put-object",
                json!({
                    "bucket": templates_bucket(),
                    "key": "urgent_executor_pod_template.yml",
                    "content": "apiVersion: v1\nkind: Pod\nspec:\n  priorityClassName: \"urgent-priority\"\n",
                }),
            )
            .await
            .expect("template");
        let mut input = high_job();
        input["executor_pod_template"] = json!(template_uri("urgent_executor_pod_template.yml"));
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("unknown priority class");
        let message = err.to_string();
        assert!(
            message.contains("PriorityClass \"urgent-priority\""),
            "{message}"
        );
        assert!(message.contains("executor"), "{message}");
        assert_eq!(world.sim.world().job_runs().count(), 0);
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut input = low_job();
        input["executor_cors"] = json!(1);
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `executor_cors`"),
            "{err}"
        );

        let mut input = low_job();
        input["executors"] = json!("two");
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("wrong type");
        assert!(err.to_string().contains("invalid type"), "{err}");

        let mut input = low_job();
        input["executor_pod_template"] = json!(template_uri("missing.yml"));
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("missing template object");
        assert!(err.to_string().contains("missing.yml"), "{err}");

        let mut input = low_job();
        input["release_label"] = json!("6.4.0");
        let err = world
            .run("submit-job", input)
            .await
            .expect_err("not a release label");
        assert!(err.to_string().contains("release label `6.4.0`"), "{err}");
        assert_eq!(world.sim.world().job_runs().count(), 0);
    }
}
