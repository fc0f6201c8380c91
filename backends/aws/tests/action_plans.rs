//! What `runbook plan --target aws` lists for each action: the calls of the `aws`
//! target's operations the action uses, as the target declares them (the same
//! declarations its run sends each call under).

use std::sync::Arc;

use runbook_actions::{PlanContext, PlannedCall};
use runbook_sim::demo;
use serde_json::{Value, json};

/// The plan context of step instance `key` on the `aws` target.
fn context(key: &str) -> PlanContext {
    PlanContext::new(
        key,
        Arc::new(runbook_backend_aws::planning_target(Some("us-east-2"))),
    )
}

/// The calls `plan --target aws` lists for `action` with the rendered `input`, as step
/// `key`, through the catalog as the engine asks for them.
fn planned(action: &str, input: Value, key: &str) -> Result<Vec<PlannedCall>, String> {
    runbook_actions::find(action)
        .unwrap_or_else(|| panic!("no action `{action}`"))
        .planned_calls(&input, &context(key))
}

/// `s3://` URI of an object in the templates bucket of account 123456789012.
fn template_uri(key: &str) -> String {
    format!(
        "s3://{}/{key}",
        demo::template_bucket("123456789012", "us-east-2")
    )
}

/// The `submit-job` input of the walkthrough's low-priority job (row 9).
fn low_job() -> Value {
    demo::job_input(
        demo::LOW_NAMESPACE,
        demo::LOW_JOB_NAME,
        demo::LOW_EXECUTOR_TEMPLATE_KEY,
        &demo::template_bucket("123456789012", "us-east-2"),
    )
}

/// The step's own calls: without those a run makes once, when a step first reaches a
/// cluster ([`the_first_operation_on_a_cluster_reaches_it`]).
fn own(calls: Vec<PlannedCall>) -> Vec<PlannedCall> {
    calls.into_iter().filter(|call| !call.once).collect()
}

/// Each call as `SERVICE Operation`, for comparing the order of calls.
fn operations(calls: &[PlannedCall]) -> Vec<String> {
    calls
        .iter()
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect()
}

/// Each call as one line, as `plan` prints it.
fn lines(calls: &[PlannedCall]) -> Vec<String> {
    calls.iter().map(ToString::to_string).collect()
}

/// `plan --target aws` lists the calls of every action that makes any: an action
/// added without `planned_calls` would show "calls: none" and hide what it does.
/// Each action needs a sample input here, so a new one cannot be forgotten.
#[test]
fn every_action_that_calls_a_service_plans_its_calls() {
    let samples = [
        ("log", json!({"message": "hi"}), false),
        ("sleep", json!({"duration": "1s"}), false),
        ("assert", json!({"that": true}), false),
        ("exec", json!({"argv": ["helm", "version"]}), true),
        ("register-vc", json!({"namespace": "a"}), true),
        (
            "delete-vc",
            json!({"virtual_cluster": "a-emr-cluster"}),
            true,
        ),
        (
            "submit-job",
            json!({"virtual_cluster": "v", "name": "j", "role": "r"}),
            true,
        ),
        ("wait-for-job", json!({"job": "j"}), true),
        ("cancel-job", json!({"job": "j"}), true),
        (
            "wait-for-pods",
            json!({"namespace": "a", "running": 1}),
            true,
        ),
        ("assert-eviction", json!({"victim_job": "j"}), true),
        ("assert-autoscaling", json!({}), true),
        ("create-cluster", json!({"name": "c"}), true),
        ("delete-cluster", json!({"name": "c"}), true),
        ("create-namespace", json!({"name": "a"}), true),
        ("delete-namespace", json!({"name": "a"}), true),
        (
            "create-priority-class",
            json!({"name": "p", "value": 1}),
            true,
        ),
        ("delete-priority-class", json!({"name": "p"}), true),
        (
            "apply-manifest",
            json!({"manifest": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"}),
            true,
        ),
        ("enable-autoscaling", json!({}), true),
        (
            "create-job-role",
            json!({"name": "r", "namespace": "a"}),
            true,
        ),
        ("delete-job-role", json!({"name": "r"}), true),
        ("create-log-group", json!({"name": "/a"}), true),
        ("delete-log-group", json!({"name": "/a"}), true),
        ("create-bucket", json!({"name": "a-bucket"}), true),
        ("delete-bucket", json!({"name": "a-bucket"}), true),
        (
            "put-object",
            json!({"bucket": "b", "key": "k", "content": "x"}),
            true,
        ),
    ];
    for action in runbook_actions::catalog() {
        let (_, input, calls_something) = samples
            .iter()
            .find(|(name, _, _)| *name == action.name())
            .unwrap_or_else(|| panic!("no sample input for `{}`", action.name()));
        let calls = action
            .planned_calls(input, &context("s"))
            .unwrap_or_else(|e| panic!("`{}`: {e}", action.name()));
        assert_eq!(
            !calls.is_empty(),
            *calls_something,
            "`{}` plans {calls:?}",
            action.name()
        );
    }
}

#[test]
fn create_log_group_sets_retention_only_when_asked() {
    let with_retention = planned(
        "create-log-group",
        json!({"name": "/emr-on-eks/c/a", "retention_days": 7}),
        "logs",
    )
    .expect("calls");
    assert_eq!(
        lines(&with_retention),
        [
            "CloudWatch Logs CreateLogGroup logGroupName=/emr-on-eks/c/a [ResourceAlreadyExistsException: adopted]",
            "CloudWatch Logs DescribeLogGroups logGroupNamePrefix=/emr-on-eks/c/a [its ARN and retention]",
            "CloudWatch Logs PutRetentionPolicy logGroupName=/emr-on-eks/c/a retentionInDays=7 [unless it keeps its events that long already]",
        ]
    );
    let without = planned("create-log-group", json!({"name": "/a"}), "logs").expect("calls");
    assert_eq!(without.len(), 2, "{without:?}");
    let refused = planned(
        "create-log-group",
        json!({"name": "/a", "retention_days": 8}),
        "logs",
    )
    .expect_err("8 days is no retention CloudWatch Logs accepts");
    assert!(refused.contains("retention_days: 8"), "{refused}");
}

#[test]
fn delete_log_group_is_one_call() {
    let calls = planned("delete-log-group", json!({"name": "/a"}), "teardown").expect("calls");
    assert_eq!(
        lines(&calls),
        [
            "CloudWatch Logs DeleteLogGroup logGroupName=/a [ResourceNotFoundException: already gone, which is success]"
        ]
    );
}

#[test]
fn delete_bucket_empties_it_only_when_forced() {
    let forced = planned("delete-bucket", json!({"name": "b", "force": true}), "d").expect("calls");
    assert_eq!(
        operations(&forced),
        ["S3 ListObjectsV2", "S3 DeleteObjects", "S3 DeleteBucket"]
    );
    let plain = planned("delete-bucket", json!({"name": "b"}), "d").expect("calls");
    assert_eq!(operations(&plain), ["S3 DeleteBucket"]);
}

#[test]
fn create_bucket_names_the_region_s3_needs() {
    let calls = planned("create-bucket", json!({"name": "logs-123"}), "bucket").expect("calls");
    assert_eq!(
        lines(&calls),
        [
            r#"S3 CreateBucket bucket=logs-123 createBucketConfiguration={"locationConstraint":"us-east-2"} [BucketAlreadyOwnedByYou: adopted]"#
        ]
    );
    let in_us_east_1 = PlanContext::new(
        "bucket",
        Arc::new(runbook_backend_aws::planning_target(Some("us-east-1"))),
    );
    let calls = runbook_actions::find("create-bucket")
        .expect("create-bucket")
        .planned_calls(&json!({"name": "logs-123"}), &in_us_east_1)
        .expect("calls");
    assert_eq!(
        calls[0].detail,
        json!({"bucket": "logs-123"}),
        "us-east-1 takes no LocationConstraint"
    );
}

#[test]
fn put_object_says_what_it_uploads() {
    let text = planned(
        "put-object",
        json!({"bucket": "b", "key": "pod-templates/high.yaml", "content": "kind: Pod\n"}),
        "upload",
    )
    .expect("calls");
    assert_eq!(
        lines(&text),
        ["S3 PutObject bucket=b key=pod-templates/high.yaml bytes=10"]
    );
    let file = planned(
        "put-object",
        json!({"bucket": "b", "key": "k", "file": "templates/high.yaml"}),
        "upload",
    )
    .expect("calls");
    assert_eq!(file[0].detail["file"], "templates/high.yaml");
}

/// The plan shows the trust policy the role is created with: the EMR statement and
/// the IRSA statement for the namespace's job service accounts, whose names end in
/// the base36 of the role name; the cluster's account and OIDC provider are only
/// known once DescribeCluster answers.
#[test]
fn the_plan_shows_the_trust_policy_with_the_irsa_statement() {
    let calls = planned(
        "create-job-role",
        json!({"name": "ts-eks-emr-eks-emr-cli", "cluster": "eks-emr-cluster", "namespace": "monthly-batch"}),
        "roles[3]",
    )
    .expect("calls");
    assert_eq!(
        operations(&calls),
        [
            "EKS DescribeCluster",
            "IAM GetRole",
            "IAM CreateRole",
            "IAM UpdateAssumeRolePolicy",
            "IAM PutRolePolicy",
            "IAM GetRole",
        ]
    );
    let create = &calls[2];
    assert_eq!(create.when.as_deref(), Some("if the role does not exist"));
    let trust = &create.detail["assumeRolePolicyDocument"];
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "elasticmapreduce.amazonaws.com"
    );
    let provider = "<OIDC provider of cluster eks-emr-cluster>";
    assert_eq!(
        trust["Statement"][1],
        json!({
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:<partition>:iam::<account id>:oidc-provider/{provider}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringLike": {
                format!("{provider}:sub"):
                    "system:serviceaccount:monthly-batch:emr-containers-sa-*-*-<account id>-j3uv6jk0kk3sogu231qj91fmo3mvwfl561"
            }}
        })
    );
    assert_eq!(
        calls[3].detail["policyDocument"]["Statement"],
        json!(["<the role's statements>", trust["Statement"][1]]),
        "an adopted role gets the same statement"
    );
    assert_eq!(
        calls[4].detail["policyDocument"]["Statement"][0]["Action"],
        json!(["s3:PutObject", "s3:GetObject", "s3:ListBucket"])
    );
}

#[test]
fn the_plan_shows_a_role_name_known_only_at_run_time_and_refuses_a_bad_one() {
    let calls = planned(
        "create-job-role",
        json!({"name": "<steps.names.outputs.role>", "namespace": "a"}),
        "role",
    )
    .expect("a placeholder is not a bad name");
    assert_eq!(
        operations(&calls)[..2],
        ["EKS ListClusters", "EKS DescribeCluster"],
        "no cluster named: the only one is looked up"
    );
    let subject =
        calls[3].detail["assumeRolePolicyDocument"]["Statement"][1]["Condition"]["StringLike"]
            ["<OIDC provider of cluster <the only cluster>>:sub"]
            .as_str()
            .expect("subject");
    assert!(
        subject.ends_with("-<account id>-<base36 of <steps.names.outputs.role>>"),
        "{subject}"
    );

    let err = planned(
        "create-job-role",
        json!({"name": "bad name", "namespace": "a"}),
        "role",
    )
    .expect_err("invalid");
    assert!(
        err.starts_with("the step would fail first: invalid input: role name `bad name`"),
        "{err}"
    );
}

#[test]
fn a_role_given_by_arn_is_not_looked_up_in_the_plan() {
    let mut input = low_job();
    input["role"] = json!("arn:aws:iam::210987654321:role/elsewhere");
    input.as_object_mut().expect("object").remove("log_group");
    let calls = planned("submit-job", input, "jobs[1]").expect("calls");
    assert_eq!(
        operations(&calls),
        [
            "EMR on EKS ListVirtualClusters",
            "EMR on EKS ListJobRuns",
            "EMR on EKS DescribeJobRun",
            "EMR on EKS StartJobRun",
            "EMR on EKS DescribeJobRun",
        ]
    );
    assert_eq!(
        calls[3].detail["executionRoleArn"],
        "arn:aws:iam::210987654321:role/elsewhere"
    );
    assert_eq!(
        calls[3].detail["configurationOverrides"].get("monitoringConfiguration"),
        None,
        "no log group, no monitoring"
    );
    assert_eq!(
        calls[3].detail["clientToken"],
        "<idempotency key of step jobs[1]>"
    );
}

/// The plan shows StartJobRun as EMR receives it: the executors, cores and memory of
/// the input as `--conf` spark-submit parameters (with the pod templates), the
/// other settings as spark-defaults, the log group as CloudWatch monitoring, and the
/// step's key as `clientToken` and as the tag a resumed step finds its job by.
#[test]
fn the_plan_shows_start_job_run_with_the_spark_settings() {
    let mut input = low_job();
    input["executors"] = json!(3);
    input["executor_cores"] = json!(2);
    input["executor_memory"] = json!("4G");
    input["driver_memory"] = json!("2G");
    input["entry_point"] = json!("s3://jobs/threadsleeper.py");
    input["arguments"] = json!(["100"]);
    input["log_stream_prefix"] = json!("low-p-");
    input["s3_log_uri"] = json!("s3://monthly-batch-logs/");
    input["spark_conf"] = json!({"spark.executor.cores": "3"});
    let calls = planned("submit-job", input, "low_job").expect("calls");
    assert_eq!(
        operations(&calls),
        [
            "EMR on EKS ListVirtualClusters",
            "EMR on EKS ListJobRuns",
            "EMR on EKS DescribeJobRun",
            "IAM GetRole",
            "EMR on EKS StartJobRun",
            "EMR on EKS DescribeJobRun",
        ]
    );
    assert_eq!(
        calls[2].when.as_deref(),
        Some("for each job run ListJobRuns gave without its tags, which hold the key")
    );
    let start = &calls[4];
    assert_eq!(start.when.as_deref(), Some("unless that job is found"));
    let templates = template_uri("");
    assert_eq!(
        start.detail,
        json!({
            "name": "monthly-batch-low-priority-job",
            "virtualClusterId": "<id of virtual cluster monthly-batch-emr-cluster>",
            "executionRoleArn": "<ARN of role monthly-batch-JobExecutionRole>",
            "releaseLabel": "emr-6.4.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "s3://jobs/threadsleeper.py",
                "entryPointArguments": ["100"],
                "sparkSubmitParameters": format!(
                    "--conf spark.driver.cores=1 --conf spark.driver.memory=2G \
                     --conf spark.executor.cores=3 --conf spark.executor.instances=3 \
                     --conf spark.executor.memory=4G \
                     --conf spark.kubernetes.driver.podTemplateFile={templates}{} \
                     --conf spark.kubernetes.executor.podTemplateFile={templates}{}",
                    runbook_sim::demo::DRIVER_TEMPLATE_KEY,
                    runbook_sim::demo::LOW_EXECUTOR_TEMPLATE_KEY,
                ),
            }},
            "configurationOverrides": {
                "applicationConfiguration": [{
                    "classification": "spark-defaults",
                    "properties": {
                        "spark.dynamicAllocation.enabled": "false",
                        "spark.kubernetes.executor.deleteOnTermination": "true",
                    },
                }],
                "monitoringConfiguration": {
                    "cloudWatchMonitoringConfiguration": {
                        "logGroupName": "/emr-on-eks/eks-emr-cluster/monthly-batch",
                        "logStreamNamePrefix": "low-p-",
                    },
                    "s3MonitoringConfiguration": {"logUri": "s3://monthly-batch-logs/"},
                },
            },
            "clientToken": "<idempotency key of step low_job>",
            "tags": {"runbook:client-token": "<idempotency key of step low_job>"},
        }),
        "spark_conf overrides the settings made from fields (executor cores 3, not 2)"
    );
}

/// The plan shows what eksctl and the EMR guide have users do by hand: the RBAC for
/// user `emr-containers` in the namespace, the aws-auth mapping of EMR's
/// service-linked role, then the virtual cluster on the namespace.
#[test]
fn the_plan_shows_rbac_aws_auth_and_the_virtual_cluster() {
    let calls = planned(
        "register-vc",
        json!({"cluster": "eks-emr-cluster", "namespace": "monthly-batch"}),
        "virtual_clusters[3]",
    )
    .map(own)
    .expect("calls");
    assert_eq!(
        operations(&calls),
        [
            "Kubernetes create Namespace",
            "Kubernetes get Namespace",
            "Kubernetes create Role",
            "Kubernetes replace Role",
            "Kubernetes create RoleBinding",
            "Kubernetes replace RoleBinding",
            "Kubernetes get ConfigMap",
            "Kubernetes replace ConfigMap",
            "Kubernetes create ConfigMap",
            "EMR on EKS ListVirtualClusters",
            "EMR on EKS CreateVirtualCluster",
            "EMR on EKS DescribeVirtualCluster",
        ]
    );
    assert_eq!(
        calls[2].detail["namespace"], "monthly-batch",
        "the Role is namespaced"
    );
    assert_eq!(calls[2].detail["name"], "emr-containers");
    assert!(calls[3].when.is_some(), "replaced only if it exists");
    assert_eq!(
        calls[4].detail["subjects"],
        json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "emr-containers"}])
    );
    assert_eq!(
        (
            &calls[7].detail["namespace"],
            &calls[7].detail["name"],
            &calls[7].detail["mapRoles+"]
        ),
        (
            &json!("kube-system"),
            &json!("aws-auth"),
            &json!({
                "rolearn": "arn:<partition>:iam::<account id>:role/AWSServiceRoleForAmazonEMRContainers",
                "username": "emr-containers",
            })
        )
    );
    assert!(calls[7].when.is_some(), "the mapping is added once");
    assert_eq!(
        calls[10].detail,
        json!({
            "name": "monthly-batch-emr-cluster",
            "containerProvider": {
                "id": "eks-emr-cluster",
                "type": "EKS",
                "info": {"eksInfo": {"namespace": "monthly-batch"}},
            },
            "clientToken": "<idempotency key of step virtual_clusters[3]>",
        })
    );
    assert_eq!(calls[10].when.as_deref(), Some("if there is none to adopt"));
}

/// The first operation of a step on a cluster reaches it: EKS's DescribeCluster for
/// the API endpoint and CA, then the observer's list and watch of every pod, the
/// preemption events and every node (which need those permissions in the cluster).
/// Each is conditional and made at most once by a run, so a step whose operations
/// each reach the cluster (register-vc: a namespace, then the EMR access in it) lists
/// them once, before its first operation; and the IAM policy gets
/// `eks:DescribeCluster` from them.
#[test]
fn the_first_operation_on_a_cluster_reaches_it() {
    let calls = planned(
        "register-vc",
        json!({"cluster": "eks-emr-cluster", "namespace": "monthly-batch"}),
        "virtual_clusters[0]",
    )
    .expect("calls");
    let reaching: Vec<&PlannedCall> = calls.iter().take_while(|call| call.once).collect();
    assert_eq!(
        reaching
            .iter()
            .map(|c| format!("{} {}", c.service, c.operation))
            .collect::<Vec<_>>(),
        [
            "EKS DescribeCluster",
            "Kubernetes list Pod",
            "Kubernetes watch Pod",
            "Kubernetes list Event",
            "Kubernetes watch Event",
            "Kubernetes list Node",
            "Kubernetes watch Node",
        ]
    );
    assert_eq!(reaching[0].detail, json!({"name": "eks-emr-cluster"}));
    assert_eq!(
        reaching[3].detail,
        json!({"namespace": "<all namespaces>", "fieldSelector": "reason=Preempted"})
    );
    for call in &reaching {
        assert_eq!(
            call.when.as_deref(),
            Some("if the run has not reached cluster `eks-emr-cluster` yet"),
            "{call}"
        );
    }
    assert_eq!(
        calls.iter().filter(|call| call.once).count(),
        reaching.len(),
        "listed once, though both of register-vc's Kubernetes operations reach the cluster"
    );
    assert_eq!(calls[reaching.len()].operation, "create Namespace");
}

/// One server-side apply per document, named by kind and name, after the API
/// server's discovery of each apiVersion and kind (once).
#[test]
fn the_plan_applies_each_document() {
    let manifest = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 300\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm2, namespace: a}\n";
    let calls = planned(
        "apply-manifest",
        json!({"cluster": "c", "manifest": manifest}),
        "m",
    )
    .map(own)
    .expect("calls");
    assert_eq!(
        operations(&calls),
        [
            "Kubernetes discover scheduling.k8s.io/v1",
            "Kubernetes server-side apply PriorityClass",
            "Kubernetes discover v1",
            "Kubernetes server-side apply ConfigMap",
            "Kubernetes server-side apply ConfigMap",
        ]
    );
    assert_eq!(
        calls[3].detail,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "namespace": "a"})
    );
    let err = planned(
        "apply-manifest",
        json!({"file": "/nonexistent/m.yaml"}),
        "m",
    )
    .expect_err("missing file");
    assert!(err.contains("failed to read manifest file"), "{err}");
}

/// The plan shows the pod listing with the label selector the job and role turn
/// into, and the condition it waits for.
#[test]
fn the_plan_shows_the_pod_listing_with_emrs_labels() {
    let calls = planned(
        "wait-for-pods",
        json!({"cluster": "c", "namespace": "monthly-batch", "job": "<steps.low_job.outputs.job_id>", "role": "executor", "running": 2, "timeout": "5m"}),
        "low_running",
    )
    .map(own)
    .expect("calls");
    assert_eq!(operations(&calls), ["Kubernetes list Pod"]);
    assert_eq!(
        calls[0].detail,
        json!({
            "namespace": "monthly-batch",
            "labelSelector": "emr-containers.amazonaws.com/component=executor,emr-containers.amazonaws.com/job.id=<steps.low_job.outputs.job_id>",
        })
    );
    assert_eq!(
        calls[0].note.as_deref(),
        Some(
            "again whenever the run's watch of the cluster's pods sees a change, until 2 running, for at most 5m"
        )
    );
    let err = planned(
        "wait-for-pods",
        json!({"role": "driver", "running": 1}),
        "w",
    )
    .expect_err("role without job");
    assert!(err.ends_with("`role` needs `job`"), "{err}");
}
