//! Each action as the Task states that make its calls on Step Functions: the service
//! integration of each call, its parameters (the request `plan --target aws` lists for
//! it, see [`request`](super::request)), where its result is kept, and the IAM calls
//! the state machine's role must be allowed.
//!
//! Results are kept in the execution's state: what a later call of the same step reads
//! under `$.scratch.<step>_<what>`, and the step's outputs under `$.steps.<step>` (a
//! Pass state at the end of the step gathers them), so later templates that read
//! `steps.<id>.outputs.<name>` read the same values.

use std::time::Duration;

use serde_json::{Value, json};

use super::integration_style::Waiting;
use super::refusal::Unexportable;
use super::request::{Placeholders, describe_cluster_selector};
use super::runtime_value::{DurationNotKnown, known_duration, marker};
use super::states::{NEXT_STATE, State};
use super::status_polling::{Ending, Poll, poll};
use runbook_actions::PlannedCall;

/// The states of one step (one instance, inside a Map for a `for_each` step).
#[derive(Debug, Default)]
pub(crate) struct Mapping {
    pub states: Vec<State>,
    /// The calls the states make, as `plan --output json` lists calls
    /// (`service`, `operation`, `detail`): what the role's policy is derived from.
    pub calls: Vec<Value>,
    /// The outputs the step keeps under `$.steps.<id>`.
    pub output_names: Vec<&'static str>,
    /// What each call is, for the dry-run summary: the integration's resource.
    pub integrations: Vec<String>,
}

#[cfg(test)]
impl Mapping {
    /// The body of the state named `name` (a test's look at one state).
    pub(super) fn state(&self, name: &str) -> &serde_json::Map<String, Value> {
        &self
            .states
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no state {name}"))
            .body
    }
}

/// The mapping of step `id` running `action` with `with`, alone (not in a Map, no
/// wait-for-job after it, waits written the default way): a test's mapping of one
/// action.
#[cfg(test)]
pub(super) fn map_alone(id: &str, action: &str, with: &Value) -> Result<Mapping, Unexportable> {
    map_step(&StepToMap {
        id,
        action: runbook_actions::find(action).expect("an action"),
        with,
        in_map: false,
        waited: false,
        waiting: Waiting::default(),
        job_virtual_cluster: None,
    })
}

/// What the mapping of a step is given.
pub(crate) struct StepToMap<'a> {
    /// The step id: state names, scratch paths and the step's outputs use it.
    pub id: &'a str,
    pub action: &'static dyn runbook_actions::ErasedAction,
    /// The input rendered for export (run-time values as markers).
    pub with: &'a Value,
    /// Inside a Map (a `for_each` step).
    pub in_map: bool,
    /// A `wait-for-job` on this step's job follows it: submit-job waits with `.sync`.
    pub waited: bool,
    /// How waits are written (`.sync` or polls) and how often a poll looks.
    pub waiting: Waiting,
    /// The virtual cluster of the job the input's `job` names, when that is a
    /// submit-job's `job_id` output (its `virtual_cluster_id` output is kept beside it):
    /// what the run finds by looking in every virtual cluster.
    pub job_virtual_cluster: Option<String>,
}

const STATES: &str = "arn:aws:states:::";

pub(super) struct Builder<'a> {
    pub(super) step: &'a StepToMap<'a>,
    placeholders: Placeholders,
    planned: Vec<PlannedCall>,
    pub(super) mapping: Mapping,
}

impl<'a> Builder<'a> {
    pub(super) fn scratch(&self, what: &str) -> String {
        format!("$.scratch.{}_{what}", self.step.id)
    }

    pub(super) fn name(&self, what: &str) -> String {
        format!("{} {what}", self.step.id)
    }

    fn planned_call(&self, operation: &str) -> Result<&PlannedCall, Unexportable> {
        self.planned
            .iter()
            .find(|c| c.operation == operation)
            .ok_or_else(|| Unexportable::NoPlannedCall {
                operation: operation.to_string(),
            })
    }

    /// The planned call `operation` of the action, as Task parameters.
    pub(super) fn planned(&self, operation: &str) -> Result<Value, Unexportable> {
        Ok(self
            .placeholders
            .request(&self.planned_call(operation)?.detail)?)
    }

    /// The planned Kubernetes call `operation` (`create Namespace`), its detail with
    /// the API server's field names as they are.
    pub(super) fn planned_object(&self, operation: &str) -> Result<Value, Unexportable> {
        Ok(self
            .placeholders
            .object(&self.planned_call(operation)?.detail)?)
    }

    /// Adds a Task calling `integration` (`eks:createCluster.sync`, or
    /// `aws-sdk:iam:createRole`) that needs the IAM calls `iam`.
    pub(super) fn task(
        &mut self,
        what: &str,
        integration: &str,
        parameters: Value,
        iam: &[(&str, &str, Value)],
    ) -> Result<&mut State, Unexportable> {
        let parameters = super::runtime_value::parameters(&parameters)?;
        let state = State::task(
            self.name(what),
            &format!("{STATES}{integration}"),
            parameters,
        )
        .set("ResultPath", Value::Null);
        self.mapping.integrations.push(integration.to_string());
        for (service, operation, detail) in iam {
            self.mapping
                .calls
                .push(json!({"service": service, "operation": operation, "detail": detail}));
        }
        self.mapping.states.push(state);
        Ok(self.mapping.states.last_mut().expect("just pushed"))
    }

    /// A Task whose `error` means the thing is there already: the step goes on, as
    /// the run adopts what exists (the error is kept at `$.scratch.<step>_<what>_exists`).
    pub(super) fn adopting(
        &mut self,
        what: &str,
        integration: &str,
        parameters: Value,
        iam: &[(&str, &str, Value)],
        error: &str,
    ) -> Result<(), Unexportable> {
        let exists = self.scratch(&format!("{}_exists", what.replace(' ', "_")));
        self.task(what, integration, parameters, iam)?
            .catch(&[error], &exists, NEXT_STATE);
        Ok(())
    }

    /// The step's outputs, gathered under `$.steps.<id>` by a Pass state.
    pub(super) fn outputs(
        &mut self,
        names: &[&'static str],
        values: Value,
    ) -> Result<(), Unexportable> {
        let parameters = super::runtime_value::parameters(&values)?;
        let state = State::pass(self.name("outputs"), parameters)
            .set("ResultPath", json!(format!("$.steps.{}", self.step.id)));
        self.mapping.states.push(state);
        self.mapping.output_names = names.to_vec();
        Ok(())
    }

    /// `eks:describeCluster`, kept for the calls after it (its endpoint, certificate
    /// authority and OIDC issuer).
    pub(super) fn describe_cluster(&mut self, cluster: &Value) -> Result<(), Unexportable> {
        let result = self.scratch("cluster");
        self.task(
            "DescribeCluster",
            "aws-sdk:eks:describeCluster",
            json!({"Name": cluster}),
            &[("EKS", "DescribeCluster", json!({}))],
        )?
        .body
        .extend([
            ("ResultSelector".into(), describe_cluster_selector()),
            ("ResultPath".into(), json!(result)),
        ]);
        Ok(())
    }
}

pub(super) fn field<'v>(with: &'v Value, name: &str) -> &'v Value {
    with.get(name).unwrap_or(&Value::Null)
}

fn non_empty(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// The actions this export maps to Step Functions integrations.
pub(crate) const MAPPED: [&str; 18] = [
    "create-cluster",
    "register-vc",
    "create-job-role",
    "create-log-group",
    "create-bucket",
    "submit-job",
    "wait-for-job",
    "cancel-job",
    "log",
    "delete-log-group",
    "delete-bucket",
    "delete-job-role",
    "delete-vc",
    "sleep",
    "create-namespace",
    "delete-namespace",
    "create-priority-class",
    "delete-priority-class",
];

/// The states of a step, or why its action cannot be exported.
pub(crate) fn map_step(step: &StepToMap<'_>) -> Result<Mapping, Unexportable> {
    let action = step.action.name();
    if !MAPPED.contains(&action) {
        return Err(Unexportable::NoMapping {
            action: action.to_string(),
        });
    }
    if action == "sleep" {
        // Said before the plan: its duration's parser would refuse a run-time value in
        // its own words, which do not say why the export needs the value now.
        super::wait_mapping::check_duration(step.with)?;
    }
    let plan_key = if step.in_map {
        format!("{}[<index>]", step.id)
    } else {
        step.id.to_string()
    };
    let planned = step
        .action
        .planned_calls(step.with, &super::plan_context(plan_key.clone()))
        // Markers read as the paths they stand for.
        .map_err(Unexportable::does_not_plan)?;
    let mut builder = Builder {
        step,
        placeholders: Placeholders {
            step_key: plan_key.clone(),
            idempotency_key: super::request::idempotency_key(step.id, step.in_map),
            cluster: Some(format!("$.scratch.{}_cluster", step.id)),
        },
        planned,
        mapping: Mapping::default(),
    };
    match action {
        "create-cluster" => create_cluster(&mut builder)?,
        "register-vc" => register_vc(&mut builder)?,
        "create-job-role" => create_job_role(&mut builder)?,
        "create-log-group" => create_log_group(&mut builder)?,
        "create-bucket" => create_bucket(&mut builder)?,
        "submit-job" => submit_job(&mut builder)?,
        "log" => log(&mut builder)?,
        "wait-for-job" => super::job_polling::wait_for_job(&mut builder)?,
        "cancel-job" => super::cancel_mapping::cancel_job(&mut builder)?,
        "delete-log-group" => super::delete_mapping::delete_log_group(&mut builder)?,
        "delete-bucket" => super::delete_mapping::delete_bucket(&mut builder)?,
        "delete-job-role" => super::delete_mapping::delete_job_role(&mut builder)?,
        "delete-vc" => super::delete_mapping::delete_vc(&mut builder)?,
        "sleep" => super::wait_mapping::sleep(&mut builder)?,
        "create-namespace" => super::kube_mapping::create_namespace(&mut builder)?,
        "delete-namespace" => super::kube_mapping::delete_namespace(&mut builder)?,
        "create-priority-class" => super::kube_mapping::create_priority_class(&mut builder)?,
        "delete-priority-class" => super::kube_mapping::delete_priority_class(&mut builder)?,
        other => {
            return Err(Unexportable::NoMapping {
                action: other.to_string(),
            });
        }
    }
    Ok(builder.mapping)
}

fn create_cluster(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let with = b.step.with;
    let missing: Vec<(&str, &str)> = [
        ("role_arn", "the cluster's IAM role and its policies"),
        (
            "node_role_arn",
            "the node group's IAM role and its policies",
        ),
        ("subnet_ids", "a VPC with its subnets"),
    ]
    .into_iter()
    .filter(|(name, _)| !non_empty(field(with, name)))
    .collect();
    if !missing.is_empty() {
        let words = |items: Vec<String>| match items.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        };
        return Err(Unexportable::MadeAsEksctlDoes {
            inputs: words(
                missing
                    .iter()
                    .map(|(name, _)| format!("`{name}`"))
                    .collect(),
            ),
            what: words(
                missing
                    .iter()
                    .map(|(_, what)| (*what).to_string())
                    .collect(),
            ),
        });
    }
    let mut cluster = b.planned("CreateCluster")?;
    // Job roles trust the cluster's service accounts, and EMR on EKS reaches the
    // namespaces through EKS access entries: the cluster accepts both authentication
    // modes, as `register-vc`'s virtual clusters need.
    cluster["AccessConfig"] = json!({"AuthenticationMode": "API_AND_CONFIG_MAP"});
    let role = cluster["RoleArn"].clone();
    let name = field(with, "name").clone();
    // `.sync` waits by itself; polls are bounded by the step's `wait_timeout`.
    let polled_within = if b.step.waiting.sync() {
        None
    } else {
        Some(wait_timeout(with)?)
    };
    create_until_active(
        b,
        EksCreate {
            resource: "Cluster",
            noun: "cluster",
            request: cluster,
            passed_role: ("roleArn", role),
            describe: json!({"Name": name}),
            then: b.name("DescribeCluster"),
        },
        polled_within,
    )?;
    b.describe_cluster(&name)?;
    let provider = b.planned("CreateOpenIDConnectProvider")?;
    b.adopting(
        "CreateOpenIDConnectProvider",
        "aws-sdk:iam:createOpenIDConnectProvider",
        provider,
        &[("IAM", "CreateOpenIDConnectProvider", json!({}))],
        "Iam.EntityAlreadyExistsException",
    )?;
    let nodegroup = b.planned("CreateNodegroup")?;
    let node_role = nodegroup["NodeRole"].clone();
    let nodegroup_name = nodegroup["NodegroupName"].clone();
    create_until_active(
        b,
        EksCreate {
            resource: "Nodegroup",
            noun: "node group",
            request: nodegroup,
            passed_role: ("nodeRole", node_role),
            describe: json!({"ClusterName": name, "NodegroupName": nodegroup_name}),
            then: b.name("outputs"),
        },
        polled_within,
    )?;
    b.outputs(&["name"], json!({"name": name}))
}

/// An EKS resource create-cluster makes and waits for until it is ACTIVE.
struct EksCreate<'a> {
    /// EKS's name for it in operations and answers: `Cluster`, `Nodegroup`.
    resource: &'a str,
    /// What a person calls it: `cluster`, `node group`.
    noun: &'a str,
    /// The Create call's parameters.
    request: Value,
    /// The role the call hands to EKS (the plan's detail key and the ARN), which the
    /// state machine's role must be allowed to pass.
    passed_role: (&'a str, Value),
    /// The Describe call's parameters.
    describe: Value,
    /// Where the execution goes on once it is ACTIVE.
    then: String,
}

/// `eks:create<Resource>.sync` (whose own Describe and Delete calls the role must allow,
/// as AWS's policy for the `.sync` pattern lists them); or, given how long to poll,
/// `eks:create<Resource>` then `aws-sdk:eks:describe<Resource>` until ACTIVE, as the
/// run waits; one that ends FAILED (a cluster) or CREATE_FAILED (a node group) fails
/// the execution.
fn create_until_active(
    b: &mut Builder<'_>,
    create: EksCreate<'_>,
    polled_within: Option<Duration>,
) -> Result<(), Unexportable> {
    let EksCreate {
        resource,
        noun,
        request,
        passed_role: (role_key, role),
        describe,
        then,
    } = create;
    let (operation, describe_operation) =
        (format!("Create{resource}"), format!("Describe{resource}"));
    let action = format!("create{resource}");
    let mut iam = vec![("EKS", operation.as_str(), json!({ role_key: role }))];
    let Some(timeout) = polled_within else {
        let delete = format!("Delete{resource}");
        iam.extend([
            ("EKS", describe_operation.as_str(), json!({})),
            ("EKS", delete.as_str(), json!({})),
        ]);
        b.task(&operation, &format!("eks:{action}.sync"), request, &iam)?;
        return Ok(());
    };
    b.task(&operation, &format!("eks:{action}"), request, &iam)?;
    let failed = |status: &str| Ending::Fail {
        error: "EksResourceFailed",
        cause: format!("the {noun} is {status}, not ACTIVE"),
    };
    let ends = vec![
        ("ACTIVE", Ending::Done),
        ("FAILED", failed("FAILED")),
        ("CREATE_FAILED", failed("CREATE_FAILED")),
    ];
    let interval = b.step.waiting.poll_interval;
    poll(
        b,
        Poll {
            label: &format!("new {noun}"),
            question: "active?",
            operation: &describe_operation,
            integration: &format!("aws-sdk:eks:describe{resource}"),
            parameters: describe,
            iam: ("EKS", &describe_operation),
            status: &format!("$.{resource}.Status"),
            ends,
            then,
            timeout,
            interval,
            timeout_error: "EksResourceTimeout",
            timeout_cause: &format!(
                "the {noun} did not become ACTIVE within the step's wait_timeout"
            ),
        },
    )?;
    Ok(())
}

/// create-cluster's `wait_timeout`: how long it waits for the cluster, and again for
/// its node group, to become ACTIVE.
fn wait_timeout(with: &Value) -> Result<Duration, Unexportable> {
    match known_duration(field(with, "wait_timeout")) {
        Ok(given) => Ok(given.unwrap_or(CLUSTER_WAIT_TIMEOUT)),
        Err(DurationNotKnown::AtRunTime) => Err(Unexportable::WaitTimeoutAtRunTime),
        Err(DurationNotKnown::Unreadable(why)) => Err(Unexportable::WaitTimeoutUnreadable(why)),
    }
}

/// create-cluster's own default `wait_timeout`.
const CLUSTER_WAIT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn register_vc(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let with = b.step.with;
    let cluster = field(with, "cluster").clone();
    if cluster.is_null() {
        return Err(Unexportable::OnlyClusterLookedUp {
            action: "register-vc",
        });
    }
    let namespace = field(with, "namespace").clone();
    b.describe_cluster(&cluster)?;
    let create = super::kube_mapping::eks_call(
        b,
        &cluster,
        "POST",
        json!("/api/v1/namespaces"),
        Some(super::kube_mapping::namespace(&namespace)),
    );
    // 409 Conflict: the namespace exists, and is adopted as the run adopts it.
    b.adopting(
        "create Namespace",
        "eks:call",
        create,
        &[("Kubernetes", "create Namespace", json!({}))],
        "EKS.409",
    )?;
    let request = b.planned("CreateVirtualCluster")?;
    let result = b.scratch("virtual_cluster");
    // On a cluster accepting access entries (create-cluster's API_AND_CONFIG_MAP), EMR
    // gives itself access to the namespace on CreateVirtualCluster, as the caller:
    // which needs eks:CreateAccessEntry (EMR on EKS guide, "Enable cluster access
    // using EKS Access Entry"). The run writes eksctl's RBAC and aws-auth mapping
    // instead, which the States language cannot merge into aws-auth.
    b.task(
        "CreateVirtualCluster",
        "emr-containers:createVirtualCluster",
        request,
        &[
            ("EMR on EKS", "CreateVirtualCluster", json!({})),
            ("EKS", "CreateAccessEntry", json!({})),
        ],
    )?
    .body
    .extend([
        (
            "ResultSelector".into(),
            json!({"id.$": "$.Id", "name.$": "$.Name", "arn.$": "$.Arn"}),
        ),
        ("ResultPath".into(), json!(result)),
    ]);
    b.outputs(
        &["virtual_cluster_id", "name", "arn", "namespace", "cluster"],
        json!({
            "virtual_cluster_id": marker(&format!("{result}.id")),
            "name": marker(&format!("{result}.name")),
            "arn": marker(&format!("{result}.arn")),
            "namespace": namespace,
            "cluster": cluster,
        }),
    )
}

fn create_job_role(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let with = b.step.with;
    let cluster = field(with, "cluster").clone();
    if cluster.is_null() {
        return Err(Unexportable::OnlyClusterLookedUp {
            action: "create-job-role",
        });
    }
    let name = field(with, "name").clone();
    b.describe_cluster(&cluster)?;
    let create = b.planned("CreateRole")?;
    b.adopting(
        "CreateRole",
        "aws-sdk:iam:createRole",
        create,
        &[("IAM", "CreateRole", json!({}))],
        "Iam.EntityAlreadyExistsException",
    )?;
    let policy = b.planned("PutRolePolicy")?;
    b.task(
        "PutRolePolicy",
        "aws-sdk:iam:putRolePolicy",
        policy,
        &[("IAM", "PutRolePolicy", json!({}))],
    )?;
    let result = b.scratch("role");
    b.task(
        "GetRole",
        "aws-sdk:iam:getRole",
        json!({"RoleName": name}),
        &[("IAM", "GetRole", json!({}))],
    )?
    .body
    .extend([
        ("ResultSelector".into(), json!({"arn.$": "$.Role.Arn"})),
        ("ResultPath".into(), json!(result)),
    ]);
    b.outputs(
        &["role_arn", "name"],
        json!({"role_arn": marker(&format!("{result}.arn")), "name": name}),
    )
}

fn create_log_group(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let name = field(b.step.with, "name").clone();
    let create = b.planned("CreateLogGroup")?;
    b.adopting(
        "CreateLogGroup",
        "aws-sdk:cloudwatchlogs:createLogGroup",
        create,
        &[("CloudWatch Logs", "CreateLogGroup", json!({}))],
        "CloudWatchLogs.ResourceAlreadyExistsException",
    )?;
    if b.planned
        .iter()
        .any(|c| c.operation == "PutRetentionPolicy")
    {
        let retention = b.planned("PutRetentionPolicy")?;
        b.task(
            "PutRetentionPolicy",
            "aws-sdk:cloudwatchlogs:putRetentionPolicy",
            retention,
            &[("CloudWatch Logs", "PutRetentionPolicy", json!({}))],
        )?;
    }
    b.outputs(&["name"], json!({"name": name}))
}

fn create_bucket(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let name = field(b.step.with, "name").clone();
    let request = b.planned("CreateBucket")?;
    let mut in_us_east_1 = request.clone();
    if let Value::Object(map) = &mut in_us_east_1 {
        map.remove("CreateBucketConfiguration");
    }
    // us-east-1 takes no location constraint (S3 refuses one naming it).
    let elsewhere = b.name("CreateBucket");
    let there = b.name("CreateBucket in us-east-1");
    let outputs = b.name("outputs");
    let choice = State {
        name: b.name("in us-east-1?"),
        body: serde_json::Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            (
                "Choices".to_string(),
                json!([{"Variable": "$$.Execution.Id", "StringMatches": "arn:*:states:us-east-1:*", "Next": there}]),
            ),
            ("Default".to_string(), json!(elsewhere)),
        ]),
    };
    b.mapping.states.push(choice);
    let exists = ["S3.BucketAlreadyOwnedByYouException"];
    let exists_path = b.scratch("bucket_exists");
    b.task(
        "CreateBucket in us-east-1",
        "aws-sdk:s3:createBucket",
        in_us_east_1,
        &[],
    )?
    .catch(&exists, &exists_path, &outputs);
    let after_there = b.mapping.states.len() - 1;
    b.mapping.states[after_there]
        .body
        .insert("Next".into(), json!(outputs));
    b.task(
        "CreateBucket",
        "aws-sdk:s3:createBucket",
        request,
        &[("S3", "CreateBucket", json!({}))],
    )?
    .catch(&exists, &exists_path, NEXT_STATE);
    b.outputs(&["name"], json!({"name": name}))
}

fn submit_job(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let with = b.step.with;
    let virtual_cluster = field(with, "virtual_cluster");
    if !virtual_cluster
        .as_str()
        .is_some_and(super::runtime_value::is_dynamic)
    {
        return Err(Unexportable::VirtualClusterByName);
    }
    let role = field(with, "role");
    let role_is_arn = role
        .as_str()
        .is_some_and(|r| r.starts_with("arn:") || super::runtime_value::is_dynamic(r));
    if !role_is_arn {
        return Err(Unexportable::RoleByName);
    }
    let mut request = b.planned("StartJobRun")?;
    request["VirtualClusterId"] = virtual_cluster.clone();
    request["ExecutionRoleArn"] = role.clone();
    let integration = if b.step.waited {
        "emr-containers:startJobRun.sync"
    } else {
        "emr-containers:startJobRun"
    };
    let mut iam = vec![("EMR on EKS", "StartJobRun", json!({}))];
    if b.step.waited {
        iam.extend([
            ("EMR on EKS", "DescribeJobRun", json!({})),
            ("EMR on EKS", "CancelJobRun", json!({})),
        ]);
    }
    if b.step.waited {
        b.task("StartJobRun", integration, request, &iam)?;
        return b.outputs(&["name"], json!({"name": field(with, "name")}));
    }
    // Started without waiting: the job's id and virtual cluster are kept for a
    // wait-for-job (or anything else) later.
    let result = b.scratch("job");
    b.task("StartJobRun", integration, request, &iam)?
        .body
        .extend([
            (
                "ResultSelector".into(),
                json!({"id.$": "$.Id", "virtual_cluster_id.$": "$.VirtualClusterId"}),
            ),
            ("ResultPath".into(), json!(result)),
        ]);
    b.outputs(
        &["job_id", "virtual_cluster_id", "name"],
        json!({
            "job_id": marker(&format!("{result}.id")),
            "virtual_cluster_id": marker(&format!("{result}.virtual_cluster_id")),
            "name": field(with, "name"),
        }),
    )
}

fn log(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let message = field(b.step.with, "message").clone();
    b.mapping
        .integrations
        .push("Pass (the message, in the execution's history)".into());
    b.outputs(&["message"], json!({"message": message}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(action: &str, with: &Value, in_map: bool, waited: bool) -> Mapping {
        map_step(&StepToMap {
            id: "step",
            action: runbook_actions::find(action).expect("an action"),
            with,
            in_map,
            waited,
            waiting: Default::default(),
            job_virtual_cluster: None,
        })
        .expect("maps")
    }

    #[test]
    fn with_the_sdk_style_a_cluster_and_its_node_group_are_polled_until_active() {
        let with = json!({
            "name": "c",
            "role_arn": "arn:aws:iam::111122223333:role/eks-cluster",
            "node_role_arn": "arn:aws:iam::111122223333:role/eks-node",
            "subnet_ids": ["subnet-1", "subnet-2"],
            "nodegroup": {"name": "ng"},
            "wait_timeout": "10m",
        });
        let mapping = map_step(&StepToMap {
            id: "step",
            action: runbook_actions::find("create-cluster").expect("an action"),
            with: &with,
            in_map: false,
            waited: false,
            waiting: Waiting {
                style: super::super::IntegrationStyle::Sdk,
                poll_interval: Duration::from_secs(20),
            },
            job_virtual_cluster: None,
        })
        .expect("maps");
        assert_eq!(
            mapping.state("step CreateCluster")["Resource"],
            "arn:aws:states:::eks:createCluster"
        );
        assert_eq!(
            mapping.state("step new cluster DescribeCluster")["ResultSelector"],
            json!({"status.$": "$.Cluster.Status"})
        );
        let choices = &mapping.state("step new cluster active?")["Choices"];
        assert_eq!(
            choices[0],
            json!({"Variable": "$.scratch.step_new_cluster_status.status", "StringEquals": "ACTIVE", "Next": "step DescribeCluster"})
        );
        assert_eq!(choices[1]["Next"], "step new cluster ended FAILED");
        // 10 minutes of polls 20 s apart.
        assert_eq!(choices[3]["NumericGreaterThanEquals"], 30);
        assert_eq!(mapping.state("step new cluster wait")["Seconds"], 20);
        assert_eq!(
            mapping.state("step new cluster count")["Next"],
            "step new cluster DescribeCluster"
        );
        assert_eq!(
            mapping.state("step new cluster ended FAILED")["Error"],
            "EksResourceFailed"
        );
        assert_eq!(
            mapping.state("step CreateNodegroup")["Resource"],
            "arn:aws:states:::eks:createNodegroup"
        );
        assert_eq!(
            mapping.state("step new node group DescribeNodegroup")["Parameters"],
            json!({"ClusterName": "c", "NodegroupName": "ng"})
        );
        assert_eq!(
            mapping.state("step new node group active?")["Choices"][0]["Next"],
            "step outputs"
        );
        // Only what the state machine calls itself: no .sync's Delete* on a timeout.
        let operations: Vec<&str> = mapping
            .calls
            .iter()
            .filter_map(|c| c["operation"].as_str())
            .collect();
        assert!(!operations.contains(&"DeleteCluster"), "{operations:?}");
        assert!(operations.contains(&"DescribeNodegroup"), "{operations:?}");
    }

    #[test]
    fn register_vc_creates_the_namespace_and_the_virtual_cluster_of_the_item() {
        let with = json!({"cluster": "c", "namespace": marker("$.item")});
        let mapping = mapped("register-vc", &with, true, false);
        let namespace = mapping.state("step create Namespace");
        assert_eq!(namespace["Resource"], "arn:aws:states:::eks:call");
        assert_eq!(
            namespace["Parameters"]["RequestBody"]["metadata"],
            json!({"name.$": "$.item"})
        );
        assert_eq!(namespace["Catch"][0]["ErrorEquals"], json!(["EKS.409"]));
        let create = mapping.state("step CreateVirtualCluster");
        assert_eq!(
            create["Resource"],
            "arn:aws:states:::emr-containers:createVirtualCluster"
        );
        assert_eq!(
            create["Parameters"]["Name.$"],
            "States.Format('{}-emr-cluster', $.item)"
        );
        assert_eq!(
            create["Parameters"]["ClientToken.$"],
            "States.Hash(States.Format('{}/step[{}]', $$.Execution.Name, $.index), 'SHA-256')"
        );
        assert_eq!(
            mapping.state("step outputs")["Parameters"]["virtual_cluster_id.$"],
            "$.scratch.step_virtual_cluster.id"
        );
        assert_eq!(
            mapping.output_names,
            ["virtual_cluster_id", "name", "arn", "namespace", "cluster"]
        );
    }

    #[test]
    fn a_waited_job_is_started_with_sync_and_its_references_are_paths() {
        let with = json!({
            "virtual_cluster": marker("$.steps.vc.virtual_cluster_id"),
            "name": "pi",
            "role": marker("$.steps.role.role_arn"),
        });
        let mapping = mapped("submit-job", &with, false, true);
        let start = mapping.state("step StartJobRun");
        assert_eq!(
            start["Resource"],
            "arn:aws:states:::emr-containers:startJobRun.sync"
        );
        assert_eq!(
            start["Parameters"]["VirtualClusterId.$"],
            "$.steps.vc.virtual_cluster_id"
        );
        assert_eq!(
            start["Parameters"]["ExecutionRoleArn.$"],
            "$.steps.role.role_arn"
        );
        let operations: Vec<&str> = mapping
            .calls
            .iter()
            .filter_map(|c| c["operation"].as_str())
            .collect();
        assert_eq!(
            operations,
            ["StartJobRun", "DescribeJobRun", "CancelJobRun"]
        );
        let by_name =
            json!({"virtual_cluster": "monthly-batch-emr-cluster", "name": "pi", "role": "r"});
        let refused = map_step(&StepToMap {
            id: "step",
            action: runbook_actions::find("submit-job").expect("an action"),
            with: &by_name,
            in_map: false,
            waited: false,
            waiting: Default::default(),
            job_virtual_cluster: None,
        })
        .expect_err("a virtual cluster by name");
        assert!(
            matches!(refused, Unexportable::VirtualClusterByName),
            "{refused}"
        );
    }
}
