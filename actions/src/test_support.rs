//! Test helpers: a step context on a fresh simulated world, driven by a virtual clock.

use std::sync::Arc;

use runbook_sim::demo;
use serde_json::json;

use crate::context::{CancelSignal, StepContext, StepReporter};
use runbook_backend::{Clock, VirtualClock};
use runbook_backend_sim::{DEFAULT_ACCOUNT, DEFAULT_REGION, SimTarget};

/// Collects what actions say.
#[derive(Default)]
pub(crate) struct Said(pub(crate) std::sync::Mutex<Vec<String>>);

impl StepReporter for Said {
    fn message(&self, _step_key: &str, text: &str) {
        self.0.lock().expect("lock").push(text.to_string());
    }
}

/// A simulated world and a way to make step contexts on it.
pub(crate) struct SimWorld {
    pub(crate) sim: Arc<SimTarget>,
    pub(crate) clock: Clock,
}

impl SimWorld {
    /// A fresh world at virtual time 0. Call inside a tokio runtime.
    pub(crate) fn new() -> SimWorld {
        let clock = VirtualClock::new(0, None);
        let sim = SimTarget::new(7, Arc::clone(&clock));
        SimWorld {
            sim,
            clock: Clock::Virtual(clock),
        }
    }

    /// A context for one attempt of step `key` with idempotency key `token`.
    pub(crate) fn ctx(&self, key: &str, token: &str) -> StepContext {
        self.ctx_on(self.sim.target(), key, token)
    }

    /// [`SimWorld::ctx`] on `target`: this world's target with some services
    /// replaced (a test double that fails the way a real service can).
    pub(crate) fn ctx_on(
        &self,
        target: runbook_backend::Target,
        key: &str,
        token: &str,
    ) -> StepContext {
        StepContext {
            run_id: "run".into(),
            step_key: key.into(),
            attempt: 1,
            idempotency_key: token.into(),
            resumed: false,
            started_at_ms: self.clock.now_ms(),
            target: Arc::new(target),
            clock: self.clock.clone(),
            participant: Arc::new(self.clock.enter()),
            raw_input: serde_json::Value::Null,
            reporter: Arc::new(Said::default()),
            cancel: CancelSignal::never(),
        }
    }

    /// Runs an action by name with a JSON input, as the engine would.
    pub(crate) async fn run(
        &self,
        action: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, runbook_backend::ActionError> {
        let action = crate::find(action).unwrap_or_else(|| panic!("no action `{action}`"));
        let ctx = self.ctx("step", "rb-test-token");
        action.run(input, &ctx).await
    }
}

impl SimWorld {
    /// Runs an action by name in a context whose idempotency key is `token`: two runs
    /// with the same key are one step attempt re-entered (a resume), different keys are
    /// different attempts.
    pub(crate) async fn run_with_key(
        &self,
        action: &str,
        input: serde_json::Value,
        token: &str,
    ) -> Result<serde_json::Value, runbook_backend::ActionError> {
        let action = crate::find(action).unwrap_or_else(|| panic!("no action `{action}`"));
        let ctx = self.ctx("step", token);
        action.run(input, &ctx).await
    }

    /// The virtual time of the run's clock (ms).
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The walkthrough's platform for the priority story, built with the actions as
    /// `runbooks/priority-demo.yaml` builds it: cluster `eks-emr-cluster` with `nodes`
    /// `c5.2xlarge` nodes (Ready), the four priority classes of row 7, virtual clusters
    /// and job roles for `monthly-batch` and `intra-day-batch`, and the three pod
    /// templates of row 8 uploaded to the templates bucket.
    pub(crate) async fn priority_platform(&self, nodes: u32) {
        self.run(
            "create-cluster",
            json!({
                "name": demo::CLUSTER_NAME,
                "version": demo::KUBERNETES_VERSION,
                "nodegroup": {
                    "name": demo::NODEGROUP_NAME,
                    "instance_type": demo::NODE_INSTANCE_TYPE,
                    "desired_size": nodes,
                },
            }),
        )
        .await
        .expect("create-cluster");
        for (name, value, global_default) in demo::PRIORITY_CLASSES {
            self.run(
                "create-priority-class",
                json!({"name": name, "value": value, "global_default": global_default}),
            )
            .await
            .expect("create-priority-class");
        }
        for ns in [demo::LOW_NAMESPACE, demo::HIGH_NAMESPACE] {
            self.run("register-vc", json!({"namespace": ns}))
                .await
                .expect("register-vc");
            self.run(
                "create-job-role",
                json!({"name": format!("{ns}-JobExecutionRole"), "namespace": ns}),
            )
            .await
            .expect("create-job-role");
        }
        let bucket = templates_bucket();
        self.run("create-bucket", json!({"name": bucket}))
            .await
            .expect("create-bucket");
        for (key, content) in [
            (demo::DRIVER_TEMPLATE_KEY, demo::DRIVER_TEMPLATE_YAML),
            (
                demo::HIGH_EXECUTOR_TEMPLATE_KEY,
                demo::HIGH_EXECUTOR_TEMPLATE_YAML,
            ),
            (
                demo::LOW_EXECUTOR_TEMPLATE_KEY,
                demo::LOW_EXECUTOR_TEMPLATE_YAML,
            ),
        ] {
            self.run(
                "put-object",
                json!({"bucket": bucket, "key": key, "content": content}),
            )
            .await
            .expect("put-object");
        }
    }

    /// Submits a job with the step key `token` and returns its job id.
    pub(crate) async fn submit(&self, input: serde_json::Value, token: &str) -> String {
        let out = self
            .run_with_key("submit-job", input, token)
            .await
            .expect("submit-job");
        out["job_id"].as_str().expect("job_id").to_string()
    }
}

/// The bucket the pod templates are uploaded to.
pub(crate) fn templates_bucket() -> String {
    demo::template_bucket(DEFAULT_ACCOUNT, DEFAULT_REGION)
}

/// `s3://` URI of an object in the templates bucket.
pub(crate) fn template_uri(key: &str) -> String {
    format!("s3://{}/{key}", templates_bucket())
}

/// The `submit-job` input of the walkthrough's jobs (rows 9-10), with the given
/// executor template.
fn walkthrough_job(namespace: &str, name: &str, executor_template: &str) -> serde_json::Value {
    demo::job_input(namespace, name, executor_template, &templates_bucket())
}

/// The low-priority job of row 9 (`monthly-batch`, low-priority executors).
pub(crate) fn low_job() -> serde_json::Value {
    walkthrough_job(
        demo::LOW_NAMESPACE,
        demo::LOW_JOB_NAME,
        demo::LOW_EXECUTOR_TEMPLATE_KEY,
    )
}

/// The high-priority job of row 10 (`intra-day-batch`, critical-priority executors).
pub(crate) fn high_job() -> serde_json::Value {
    walkthrough_job(
        demo::HIGH_NAMESPACE,
        demo::HIGH_JOB_NAME,
        demo::HIGH_EXECUTOR_TEMPLATE_KEY,
    )
}

impl SimWorld {
    /// The walkthrough's priority story as `runbooks/priority-demo.yaml` runs it on
    /// the platform of [`SimWorld::priority_platform`]: the low-priority job; once its
    /// executors run and a minute after it was submitted, the high-priority job; both
    /// waited to completion. Returns the ids of the low and the high job.
    pub(crate) async fn priority_story(&self) -> (String, String) {
        self.priority_story_of(low_job(), high_job()).await
    }

    /// [`SimWorld::priority_story`] with `low` and `high` as the jobs' inputs.
    pub(crate) async fn priority_story_of(
        &self,
        low: serde_json::Value,
        high: serde_json::Value,
    ) -> (String, String) {
        let low = self.submit(low, "low_job").await;
        let submitted = self.now_ms();
        self.run(
            "wait-for-pods",
            json!({"job": low, "role": "executor", "running": 2, "timeout": "5m"}),
        )
        .await
        .expect("low job's executors running");
        let delay = i64::try_from(demo::HIGH_JOB_DELAY_MS).expect("small");
        let left = submitted + delay - self.now_ms();
        if left > 0 {
            let ctx = self.ctx("a_minute_later", "sleep");
            ctx.sleep(std::time::Duration::from_millis(left.unsigned_abs()))
                .await
                .expect("slept");
        }
        let high = self.submit(high, "high_job").await;
        for job in [&high, &low] {
            self.run("wait-for-job", json!({"job": job, "timeout": "30m"}))
                .await
                .expect("job completed");
        }
        (low, high)
    }
}
