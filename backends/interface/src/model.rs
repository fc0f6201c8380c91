//! Target-neutral descriptions of what the services return and accept.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The tag every job run submitted by runbook carries: the step's idempotency key. EMR
/// echoes `clientToken` too, but not every endpoint keeps it (moto does not honour
/// it), so a resumed step finds its job by this tag (and the request shown in plans
/// carries it).
pub const CLIENT_TOKEN_TAG: &str = "runbook:client-token";

/// An EKS cluster as the actions report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterInfo {
    /// Cluster name.
    pub name: String,
    /// Cluster ARN (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`).
    pub arn: String,
    /// Kubernetes API endpoint.
    pub endpoint: String,
    /// OIDC issuer URL (for IRSA trust policies).
    pub oidc_issuer: String,
    /// `CREATING`, `ACTIVE`, `DELETING`, ...
    pub status: String,
    /// Kubernetes version.
    pub version: String,
}

/// What create-cluster asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRequest {
    pub name: String,
    pub version: String,
    pub nodegroup: NodeGroupRequest,
    pub subnet_ids: Vec<String>,
    pub role_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A managed node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroupRequest {
    pub name: String,
    pub instance_type: String,
    pub desired_size: u32,
    pub min_size: u32,
    pub max_size: u32,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    pub labels: BTreeMap<String, String>,
    pub node_role_arn: Option<String>,
}

/// A managed node group as EKS describes it (DescribeNodegroup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroupInfo {
    pub name: String,
    /// `CREATING`, `ACTIVE`, `CREATE_FAILED`, `DEGRADED`, `DELETING`, ...
    pub status: String,
    /// EKS's health issues, each `CODE: message (resources)`: why a node group failed
    /// or is degraded (no egress from the subnets, no capacity, a role missing a
    /// policy).
    pub health_issues: Vec<String>,
    /// The IAM role ARN its nodes run as (EKS mapped it in aws-auth, so other nodes
    /// that run as it can join: `enable-autoscaling` gives it to Karpenter's); `None`
    /// where the target knows none (the simulator).
    pub node_role: Option<String>,
}

/// A PriorityClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityClassRequest {
    pub name: String,
    pub value: i32,
    pub global_default: bool,
    pub description: Option<String>,
    /// `PreemptLowerPriority` (Kubernetes' default) or `Never`: pods of a `Never` class
    /// queue ahead of lower-priority pods but never evict them.
    pub preemption_policy: String,
}

/// A Karpenter-like provisioner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscalingRequest {
    pub name: String,
    /// `spot`, `on-demand`.
    pub capacity_types: Vec<String>,
    /// Candidate instance types (empty: the target's defaults).
    pub instance_types: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ttl_seconds_after_empty: Option<u64>,
    /// Upper bound of vCPUs the provisioner may add.
    pub cpu_limit: Option<u32>,
    /// The IAM role (ARN or name) of the nodes it launches, for Karpenter's
    /// EC2NodeClass on `aws` (`None`: the role of the cluster's managed node group,
    /// which aws-auth already lets join). The simulator launches without one.
    pub node_role: Option<String>,
}

/// Whether a Karpenter object `enable-autoscaling` applied is Ready, as its
/// `status.conditions` say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectReadiness {
    /// `NodePool`, `EC2NodeClass`.
    pub kind: String,
    pub name: String,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// Every condition that is not `True`, as `Type=Status (reason: message)`, for
    /// saying why it is not Ready (empty: it has no status yet).
    pub not_true: Vec<String>,
}

impl ObjectReadiness {
    /// `NodePool runbook-emr is not Ready: Ready=False (UnhealthyDependents: ...)`.
    pub fn describe(&self) -> String {
        let why = if self.not_true.is_empty() {
            "it has no Ready condition yet (is Karpenter's controller running?)".to_string()
        } else {
            self.not_true.join("; ")
        };
        format!("{} `{}` is not Ready: {why}", self.kind, self.name)
    }
}

/// A Kubernetes object that apply-manifest applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppliedObject {
    /// `apiVersion` of the object.
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, for namespaced objects.
    pub namespace: Option<String>,
}

/// An EMR virtual cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VirtualClusterInfo {
    /// Virtual cluster id.
    pub id: String,
    /// Virtual cluster name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// `RUNNING`, `TERMINATING`, `TERMINATED`, `ARRESTED`.
    pub state: String,
    /// EKS cluster it runs on.
    pub cluster: String,
    /// Namespace it runs in.
    pub namespace: String,
}

/// What submit-job asks StartJobRun for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRunRequest {
    pub virtual_cluster_id: String,
    pub name: String,
    pub client_token: String,
    pub execution_role_arn: String,
    pub release_label: String,
    pub entry_point: String,
    pub entry_point_arguments: Vec<String>,
    /// Spark configuration (`spark.executor.instances`, ...), as spark-submit
    /// parameters and spark-defaults.
    pub spark_conf: BTreeMap<String, String>,
    pub driver_pod_template: Option<String>,
    pub executor_pod_template: Option<String>,
    pub log_group: Option<String>,
    pub log_stream_prefix: Option<String>,
    pub s3_log_uri: Option<String>,
    /// Sim only: the application's task durations in ms.
    pub sim_tasks_ms: Option<Vec<u64>>,
}

/// The Spark settings StartJobRun gets on the spark-submit command line
/// (`sparkSubmitParameters`), as the walkthrough's commands pass them; every other
/// setting goes into the `spark-defaults` classification, as the walkthrough does with
/// `spark.dynamicAllocation.enabled` and `spark.kubernetes.executor.deleteOnTermination`.
const SUBMIT_PARAMETERS: [&str; 7] = [
    "spark.executor.instances",
    "spark.executor.memory",
    "spark.executor.cores",
    "spark.driver.cores",
    "spark.driver.memory",
    "spark.kubernetes.driver.podTemplateFile",
    "spark.kubernetes.executor.podTemplateFile",
];

impl JobRunRequest {
    /// Every Spark setting, the pod templates included.
    fn all_conf(&self) -> BTreeMap<String, String> {
        let mut conf = self.spark_conf.clone();
        if let Some(uri) = &self.driver_pod_template {
            conf.insert(
                "spark.kubernetes.driver.podTemplateFile".into(),
                uri.clone(),
            );
        }
        if let Some(uri) = &self.executor_pod_template {
            conf.insert(
                "spark.kubernetes.executor.podTemplateFile".into(),
                uri.clone(),
            );
        }
        conf
    }

    /// StartJobRun's `sparkSubmitParameters`: `--conf key=value` for the sizing
    /// settings and the pod templates (sorted).
    pub fn spark_submit_parameters(&self) -> String {
        self.all_conf()
            .iter()
            .filter(|(key, _)| SUBMIT_PARAMETERS.contains(&key.as_str()))
            .map(|(key, value)| format!("--conf {key}={value}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `spark-defaults` classification: every other setting.
    pub fn spark_defaults(&self) -> BTreeMap<String, String> {
        self.all_conf()
            .into_iter()
            .filter(|(key, _)| !SUBMIT_PARAMETERS.contains(&key.as_str()))
            .collect()
    }

    /// The StartJobRun request as the EMR on EKS API names its fields (what `plan
    /// --target aws` shows, and what the aws target sends). CloudWatch and S3
    /// monitoring appear only when asked for; `sim_tasks_ms` has no AWS counterpart.
    pub fn start_job_run_parameters(&self) -> serde_json::Value {
        let mut monitoring = serde_json::Map::new();
        if let Some(group) = &self.log_group {
            let mut cloudwatch = serde_json::json!({"logGroupName": group});
            if let Some(prefix) = &self.log_stream_prefix {
                cloudwatch["logStreamNamePrefix"] = serde_json::json!(prefix);
            }
            monitoring.insert("cloudWatchMonitoringConfiguration".into(), cloudwatch);
        }
        if let Some(uri) = &self.s3_log_uri {
            monitoring.insert(
                "s3MonitoringConfiguration".into(),
                serde_json::json!({"logUri": uri}),
            );
        }
        let mut request = serde_json::json!({
            "name": self.name,
            "virtualClusterId": self.virtual_cluster_id,
            "executionRoleArn": self.execution_role_arn,
            "releaseLabel": self.release_label,
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": self.entry_point,
                "entryPointArguments": self.entry_point_arguments,
                "sparkSubmitParameters": self.spark_submit_parameters(),
            }},
        });
        let mut overrides = serde_json::Map::new();
        let defaults = self.spark_defaults();
        if !defaults.is_empty() {
            overrides.insert(
                "applicationConfiguration".into(),
                serde_json::json!([{"classification": "spark-defaults", "properties": defaults}]),
            );
        }
        if !monitoring.is_empty() {
            overrides.insert(
                "monitoringConfiguration".into(),
                serde_json::Value::Object(monitoring),
            );
        }
        if !overrides.is_empty() {
            request["configurationOverrides"] = serde_json::Value::Object(overrides);
        }
        request["clientToken"] = serde_json::json!(self.client_token);
        request["tags"] = serde_json::json!({CLIENT_TOKEN_TAG: self.client_token});
        request
    }
}

impl JobRunRequest {
    /// Reads a StartJobRun request as the EMR on EKS API receives it (the inverse of
    /// [`JobRunRequest::start_job_run_parameters`]): what the simulator's served
    /// endpoint is sent by the SDKs and the AWS CLI. A missing required member is the
    /// service's validation message.
    pub fn from_start_job_run(
        virtual_cluster_id: &str,
        body: &serde_json::Value,
    ) -> Result<JobRunRequest, String> {
        let text = |pointer: &str| body.pointer(pointer).and_then(|v| v.as_str());
        let required = |pointer: &str, member: &str| {
            text(pointer).map(str::to_string).ok_or_else(|| {
                format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")
            })
        };
        let driver = "/jobDriver/sparkSubmitJobDriver";
        let mut spark_conf = BTreeMap::new();
        let submit = text(&format!("{driver}/sparkSubmitParameters")).unwrap_or_default();
        let mut words = submit.split_whitespace();
        while let Some(word) = words.next() {
            if word == "--conf"
                && let Some((key, value)) = words.next().and_then(|kv| kv.split_once('='))
            {
                spark_conf.insert(key.to_string(), value.to_string());
            }
        }
        let classifications = body
            .pointer("/configurationOverrides/applicationConfiguration")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten();
        for classification in classifications {
            if classification["classification"] == "spark-defaults"
                && let Some(properties) = classification["properties"].as_object()
            {
                for (key, value) in properties {
                    if let Some(value) = value.as_str() {
                        spark_conf.insert(key.clone(), value.to_string());
                    }
                }
            }
        }
        let monitoring = "/configurationOverrides/monitoringConfiguration";
        let arguments = body
            .pointer(&format!("{driver}/entryPointArguments"))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(JobRunRequest {
            virtual_cluster_id: virtual_cluster_id.to_string(),
            name: required("/name", "name")?,
            client_token: required("/clientToken", "clientToken")?,
            execution_role_arn: required("/executionRoleArn", "executionRoleArn")?,
            release_label: required("/releaseLabel", "releaseLabel")?,
            entry_point: required(
                &format!("{driver}/entryPoint"),
                "jobDriver.sparkSubmitJobDriver.entryPoint",
            )?,
            entry_point_arguments: arguments,
            driver_pod_template: spark_conf.remove("spark.kubernetes.driver.podTemplateFile"),
            executor_pod_template: spark_conf.remove("spark.kubernetes.executor.podTemplateFile"),
            spark_conf,
            log_group: text(&format!(
                "{monitoring}/cloudWatchMonitoringConfiguration/logGroupName"
            ))
            .map(str::to_string),
            log_stream_prefix: text(&format!(
                "{monitoring}/cloudWatchMonitoringConfiguration/logStreamNamePrefix"
            ))
            .map(str::to_string),
            s3_log_uri: text(&format!("{monitoring}/s3MonitoringConfiguration/logUri"))
                .map(str::to_string),
            sim_tasks_ms: None,
        })
    }
}

/// An EMR job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobRunInfo {
    /// Job run id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Job run ARN.
    pub arn: String,
    /// Virtual cluster id.
    pub virtual_cluster_id: String,
    /// `PENDING`, `SUBMITTED`, `RUNNING`, `FAILED`, `CANCELLED`, `CANCEL_PENDING`,
    /// `COMPLETED`.
    pub state: String,
    /// Free text from EMR.
    pub state_details: Option<String>,
    /// `INTERNAL_ERROR`, `USER_ERROR`, `VALIDATION_ERROR`, `CLUSTER_UNAVAILABLE`.
    pub failure_reason: Option<String>,
    /// When it was created (ms; virtual time on sim).
    pub created_at_ms: Option<i64>,
    /// When it ended (ms; virtual time on sim).
    pub finished_at_ms: Option<i64>,
}

impl JobRunInfo {
    /// Whether the job run will not change state any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")
    }
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleInfo {
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// Tags on the role.
    pub tags: BTreeMap<String, String>,
    /// The trust (assume-role) policy document.
    pub trust_policy: serde_json::Value,
}

/// A CloudWatch log group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogGroupInfo {
    /// Log group name.
    pub name: String,
    /// Log group ARN.
    pub arn: String,
    /// Retention in days, if set.
    pub retention_days: Option<u32>,
    /// Whether this call created it (false: it existed and was adopted).
    pub created: bool,
}

/// A pod as waits and assertions see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodInfo {
    /// Pod name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    /// The node it is bound to.
    pub node: Option<String>,
    /// Whether it is being deleted (terminating).
    pub terminating: bool,
    /// Condition types that are true, with their reasons (`DisruptionTarget` ->
    /// `PreemptionByScheduler`).
    pub conditions: BTreeMap<String, String>,
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// EC2 instance type.
    pub instance_type: String,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// Whether the node is Ready.
    pub ready: bool,
}

#[cfg(test)]
mod start_job_run_tests {
    use super::*;

    /// What the aws target sends is what the served simulator reads back.
    #[test]
    fn a_start_job_run_request_reads_back_as_it_was_sent() {
        let request = JobRunRequest {
            virtual_cluster_id: "vc1".into(),
            name: "pi-4".into(),
            client_token: "tok".into(),
            execution_role_arn: "arn:aws:iam::123456789012:role/r".into(),
            release_label: "emr-7.13.0-latest".into(),
            entry_point: "local:///usr/lib/spark/examples/src/main/python/pi.py".into(),
            entry_point_arguments: vec!["100".into()],
            spark_conf: BTreeMap::from([
                ("spark.executor.instances".to_string(), "2".to_string()),
                (
                    "spark.dynamicAllocation.enabled".to_string(),
                    "false".to_string(),
                ),
            ]),
            driver_pod_template: Some("s3://b/driver.yml".into()),
            executor_pod_template: Some("s3://b/executor.yml".into()),
            log_group: Some("/emr-on-eks/monthly-batch".into()),
            log_stream_prefix: Some("pi".into()),
            s3_log_uri: Some("s3://logs/".into()),
            sim_tasks_ms: None,
        };
        let read = JobRunRequest::from_start_job_run("vc1", &request.start_job_run_parameters())
            .expect("a valid request");
        assert_eq!(read, request);
    }

    #[test]
    fn a_missing_member_is_the_services_validation_message() {
        let error = JobRunRequest::from_start_job_run("vc1", &serde_json::json!({"name": "x"}))
            .expect_err("incomplete");
        assert!(error.contains("Value null at 'clientToken'"), "{error}");
    }
}
