//! The canned runbooks on `--target aws`, against a local moto server (AWS) and the
//! fake Kubernetes API server (moto's EKS endpoint is not a real API server), checked
//! through the AWS SDK and the fake cluster's objects.
//!
//! What moto cannot show, and these tests therefore do not claim: real EKS timings
//! (moto's clusters are ACTIVE at once), Spark pods (nothing runs the jobs; the
//! launcher only moves job-run states on a schedule), and EMR's own handling of
//! StartJobRun's `clientToken` (the launcher imitates it; the resume test relies on
//! runbook finding its job before it calls StartJobRun again).

use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::aws_sdk::Sdk;
use crate::harness::{Output, Test, gate};

/// The namespaces of the walkthrough's platform (platform-setup).
pub(crate) const NAMESPACES: [&str; 5] = [
    "adhoc-ml-batch",
    "intra-day-batch",
    "monthly-batch",
    "nightly-batch",
    "realtime-batch",
];
const ACCOUNT: &str = "123456789012";
const CLUSTER: &str = "eks-emr-cluster";

/// What EKS needs that the simulator makes up: roles and subnets.
fn aws_sets() -> Vec<String> {
    vec![
        "--set".into(),
        format!("cluster_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-cluster-role"),
        "--set".into(),
        format!("node_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-node-role"),
        "--set".into(),
        "subnet_ids=[subnet-0a1, subnet-0b2]".into(),
    ]
}

/// Runs a canned runbook on the aws target with JSON output.
fn run_canned(world: &AwsWorld, t: &Test, runbook: &str) -> Output {
    let path = format!("{}/runbooks/{runbook}", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        "--output".to_string(),
        "json".into(),
        "run".into(),
        "--target".into(),
        "aws".into(),
        "--kube-context".into(),
        "fake".into(),
        path,
    ];
    // Only the runbooks that create the cluster take its roles and subnets.
    if std::fs::read_to_string(&args[7]).is_ok_and(|text| text.contains("create-cluster")) {
        args.extend(aws_sets());
    }
    world.env_for(t.args(args)).run()
}

/// The outputs of every step of the latest run, by step key (`virtual_clusters[2]`).
fn outputs(t: &Test) -> Value {
    let run = t.runs().into_iter().next().expect("a run");
    let status = t.status(run["id"].as_str().expect("run id"));
    let mut outputs = serde_json::Map::new();
    for step in status["steps"].as_array().expect("steps") {
        outputs.insert(
            step["key"].as_str().unwrap_or_default().to_string(),
            step["outputs"].clone(),
        );
    }
    Value::Object(outputs)
}

#[test]
fn platform_setup_on_aws_builds_the_walkthrough_platform_and_a_second_run_adopts_it() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new();
    run_canned(&world, &t, "platform-setup.yaml").success();

    // EKS: the cluster, its node group, and the OIDC provider IRSA needs.
    let cluster = sdk
        .call(sdk.eks.describe_cluster().name(CLUSTER).send())
        .expect("DescribeCluster");
    let cluster = cluster.cluster().expect("cluster");
    assert_eq!(cluster.version(), Some("1.35"));
    assert_eq!(
        cluster.role_arn(),
        Some("arn:aws:iam::123456789012:role/eks-cluster-role")
    );
    let nodegroup = sdk
        .call(
            sdk.eks
                .describe_nodegroup()
                .cluster_name(CLUSTER)
                .nodegroup_name("eks-emr-cluster-ng")
                .send(),
        )
        .expect("DescribeNodegroup");
    let nodegroup = nodegroup.nodegroup().expect("node group");
    assert_eq!(nodegroup.instance_types(), ["m5.2xlarge"]);
    assert_eq!(
        nodegroup.scaling_config().and_then(|s| s.desired_size()),
        Some(1)
    );
    let issuer = cluster
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .expect("OIDC issuer")
        .trim_start_matches("https://")
        .to_string();
    assert_eq!(
        sdk.oidc_providers(),
        [format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}")]
    );

    // EMR: a virtual cluster per namespace, on the right namespace of the cluster.
    let expected_vcs: Vec<(String, String, String)> = NAMESPACES
        .iter()
        .map(|ns| {
            (
                format!("{ns}-emr-cluster"),
                ns.to_string(),
                CLUSTER.to_string(),
            )
        })
        .collect();
    assert_eq!(sdk.running_virtual_clusters(), expected_vcs);

    // IAM: a job role per namespace, trusting the cluster's OIDC provider for EMR's
    // service accounts in its namespace (the base36 role name, as the AWS CLI writes
    // it), with the job policy inline.
    let roles: Vec<String> = NAMESPACES
        .iter()
        .map(|ns| format!("{ns}-JobExecutionRole"))
        .collect();
    assert_eq!(sdk.role_names(), roles);
    let trust = sdk.trust_policy("monthly-batch-JobExecutionRole");
    let irsa = trust["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Action"] == "sts:AssumeRoleWithWebIdentity")
        .unwrap_or_else(|| panic!("no IRSA statement in {trust}"))
        .clone();
    assert_eq!(
        irsa["Principal"]["Federated"],
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}")
    );
    let sub = irsa["Condition"]["StringLike"][format!("{issuer}:sub")]
        .as_str()
        .unwrap_or_else(|| panic!("no sub condition in {irsa}"))
        .to_string();
    assert!(
        sub.starts_with(&format!(
            "system:serviceaccount:monthly-batch:emr-containers-sa-*-*-{ACCOUNT}-"
        )),
        "{sub}"
    );
    assert_eq!(
        sdk.inline_policies("monthly-batch-JobExecutionRole").len(),
        1,
        "the job execution policy"
    );

    // CloudWatch Logs and S3.
    let groups: Vec<String> = sdk.log_groups().into_iter().map(|(name, _)| name).collect();
    let mut expected_groups: Vec<String> = NAMESPACES
        .iter()
        .map(|ns| format!("/emr-on-eks/{CLUSTER}/{ns}"))
        .collect();
    expected_groups.sort();
    assert_eq!(groups, expected_groups);
    let mut expected_buckets: Vec<String> = NAMESPACES
        .iter()
        .map(|ns| format!("{ns}-logs-{ACCOUNT}-us-east-2"))
        .collect();
    expected_buckets.sort();
    assert_eq!(sdk.buckets(), expected_buckets);
    assert_eq!(
        sdk.bucket_region(&format!("monthly-batch-logs-{ACCOUNT}-us-east-2")),
        "us-east-2"
    );

    // Kubernetes: the namespaces, eksctl's RBAC for user emr-containers, and the
    // identity mapping of EMR's service-linked role.
    for ns in NAMESPACES {
        assert!(world.kube_object("Namespace", None, ns).is_some(), "{ns}");
        let role = world
            .kube_object("Role", Some(ns), "emr-containers")
            .unwrap_or_else(|| panic!("no Role emr-containers in {ns}"));
        assert!(
            role["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .any(|r| r["resources"]
                    .as_array()
                    .is_some_and(|res| res.contains(&json!("pods")))
                    && r["verbs"]
                        .as_array()
                        .is_some_and(|v| v.contains(&json!("deletecollection")))),
            "{role}"
        );
        let binding = world
            .kube_object("RoleBinding", Some(ns), "emr-containers")
            .unwrap_or_else(|| panic!("no RoleBinding emr-containers in {ns}"));
        assert_eq!(binding["subjects"][0]["name"], "emr-containers");
        assert_eq!(binding["subjects"][0]["kind"], "User");
    }
    let aws_auth = world
        .kube_object("ConfigMap", Some("kube-system"), "aws-auth")
        .expect("aws-auth");
    let map_roles = aws_auth["data"]["mapRoles"].as_str().expect("mapRoles");
    assert!(
        map_roles.contains(&format!(
            "arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForAmazonEMRContainers"
        )) && map_roles.contains("username: emr-containers"),
        "{map_roles}"
    );

    // Again: everything is adopted, nothing is created twice.
    let first = outputs(&t);
    run_canned(&world, &t, "platform-setup.yaml").success();
    let second = outputs(&t);
    assert_eq!(second["cluster"]["adopted"], true);
    for i in 0..NAMESPACES.len() {
        let key = format!("virtual_clusters[{i}]");
        let vc = &second[&key];
        assert_eq!(vc["adopted"], true, "{vc}");
        assert_eq!(
            vc["virtual_cluster_id"], first[&key]["virtual_cluster_id"],
            "the same virtual cluster"
        );
        assert_eq!(second[format!("log_groups[{i}]")]["created"], false);
    }
    assert_eq!(sdk.running_virtual_clusters(), expected_vcs);
    assert_eq!(sdk.role_names(), roles);
    assert_eq!(sdk.buckets(), expected_buckets);
    assert_eq!(sdk.oidc_providers().len(), 1);
    let trust_again = sdk.trust_policy("monthly-batch-JobExecutionRole");
    assert_eq!(
        trust_again["Statement"].as_array().map(Vec::len),
        trust["Statement"].as_array().map(Vec::len),
        "no trust statement added twice"
    );
}

#[test]
fn simple_job_on_aws_submits_pi_with_the_walkthrough_parameters_and_waits_for_it() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new();
    let out = run_canned(&world, &t, "simple-job.yaml").success();
    assert!(out.stdout.contains("COMPLETED"), "{}", out.stdout);

    let vc = sdk.virtual_cluster_id("monthly-batch-emr-cluster");
    let runs = sdk.job_runs(&vc);
    assert_eq!(runs.len(), 1, "one job run");
    let job = &runs[0];
    assert_eq!(job.name(), Some("pi-4"));
    assert_eq!(job.release_label(), Some("emr-7.13.0-latest"));
    assert_eq!(
        job.execution_role_arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:role/monthly-batch-JobExecutionRole").as_str())
    );
    assert_eq!(
        job.state(),
        Some(&aws_sdk_emrcontainers::types::JobRunState::Completed)
    );
    let driver = job
        .job_driver()
        .and_then(|d| d.spark_submit_job_driver())
        .expect("spark-submit driver");
    assert_eq!(
        driver.entry_point(),
        "local:///usr/lib/spark/examples/src/main/python/pi.py"
    );
    let params = driver.spark_submit_parameters().unwrap_or_default();
    for conf in [
        "--conf spark.executor.instances=2",
        "--conf spark.executor.memory=2G",
        "--conf spark.executor.cores=1",
        "--conf spark.driver.cores=1",
    ] {
        assert!(params.contains(conf), "{conf} missing from {params}");
    }
    let overrides = job.configuration_overrides().expect("overrides");
    let defaults = overrides
        .application_configuration()
        .iter()
        .find(|c| c.classification() == "spark-defaults")
        .and_then(|c| c.properties())
        .expect("spark-defaults");
    assert_eq!(
        defaults
            .get("spark.dynamicAllocation.enabled")
            .map(String::as_str),
        Some("false")
    );
    let monitoring = overrides.monitoring_configuration().expect("monitoring");
    let cloudwatch = monitoring
        .cloud_watch_monitoring_configuration()
        .expect("CloudWatch");
    assert_eq!(
        cloudwatch.log_group_name(),
        "/emr-on-eks/eks-emr-cluster/monthly-batch"
    );
    assert_eq!(cloudwatch.log_stream_name_prefix(), Some("pi"));
    assert_eq!(
        monitoring
            .s3_monitoring_configuration()
            .map(|s| s.log_uri()),
        Some(format!("s3://monthly-batch-logs-{ACCOUNT}-us-east-2/").as_str())
    );
}

/// A job run that ends FAILED fails wait-for-job, saying why.
#[test]
fn wait_for_job_on_aws_fails_when_the_job_fails() {
    let world = AwsWorld::start();
    let t = Test::new();
    run_canned(&world, &t, "platform-setup.yaml").success();
    let t = t.runbook(
        "failing.yaml",
        "name: failing\nsteps:\n  - id: job\n    action: submit-job\n    with: { virtual_cluster: monthly-batch-emr-cluster, name: pi-fail, role: monthly-batch-JobExecutionRole, release_label: emr-6.3.0-latest, entry_point: 'local:///usr/lib/spark/examples/src/main/python/pi.py' }\n  - id: wait\n    action: wait-for-job\n    with: { job: '{{ steps.job.outputs.job_id }}', timeout: 1m }\n",
    );
    let out = world.run_plain(&t, "failing.yaml", &[]).run().code(1);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("step wait failed"), "{text}");
    assert!(
        text.contains("FAILED") && text.contains("USER_ERROR"),
        "{text}"
    );
}

#[test]
fn teardown_on_aws_removes_what_platform_setup_made() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new();
    run_canned(&world, &t, "platform-setup.yaml").success();
    // A log bucket with something in it: teardown's `force` empties it first.
    sdk.call(
        sdk.s3
            .put_object()
            .bucket(format!("monthly-batch-logs-{ACCOUNT}-us-east-2"))
            .key("pi/driver/stdout.gz")
            .body(b"log".to_vec().into())
            .send(),
    )
    .expect("PutObject");
    run_canned(&world, &t, "teardown.yaml").success();

    assert_eq!(sdk.running_virtual_clusters(), Vec::new());
    assert_eq!(sdk.role_names(), Vec::<String>::new());
    assert_eq!(sdk.log_groups(), Vec::new());
    assert_eq!(sdk.buckets(), Vec::<String>::new());
    assert_eq!(sdk.oidc_providers(), Vec::<String>::new());
    let cluster = sdk.call(sdk.eks.describe_cluster().name(CLUSTER).send());
    assert!(cluster.is_err(), "the cluster is gone: {cluster:?}");

    // Twice is fine: every delete tolerates what is already gone.
    run_canned(&world, &t, "teardown.yaml").success();
}

/// `kill -9` while StartJobRun is in flight (moto has created the job run but not yet
/// answered), then `resume`: the step finds the job run it started instead of
/// submitting a second one.
#[test]
fn a_submit_killed_mid_call_resumes_onto_the_same_job_run() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new();
    run_canned(&world, &t, "platform-setup.yaml").success();
    let vc = sdk.virtual_cluster_id("monthly-batch-emr-cluster");
    world.set_start_job_delay(30.0);
    let t = t.runbook(
        "submit.yaml",
        "name: submit\nsteps:\n  - id: pi\n    action: submit-job\n    with: { virtual_cluster: monthly-batch-emr-cluster, name: pi-4, role: monthly-batch-JobExecutionRole, release_label: emr-6.3.0-latest, entry_point: 'local:///usr/lib/spark/examples/src/main/python/pi.py' }\n",
    );
    let bg = world
        .env_for(t.args(["--output", "plain", "run", "--target", "aws", "submit.yaml"]))
        .spawn();
    t.wait_until("moto has created the job run", || {
        !sdk.job_runs(&vc).is_empty()
    });
    bg.kill9();
    world.set_start_job_delay(0.0);
    let run_id = t
        .runs_with_status("running")
        .first()
        .and_then(|r| r["id"].as_str().map(str::to_string))
        .expect("the killed run is still `running`");
    world
        .env_for(t.args(["--output", "plain", "resume", &run_id]))
        .run()
        .success();
    assert_eq!(
        sdk.job_runs(&vc).len(),
        1,
        "exactly one job run for the step"
    );
    let status = t.status(&run_id);
    let step = &status["steps"][0];
    assert_eq!(step["outputs"]["reattached"], true, "{step}");
}

/// An AWS error names the step, the action, the resource, the service's operation and
/// its error code.
#[test]
fn aws_errors_name_the_step_action_resource_and_code() {
    let world = AwsWorld::start();
    let t = Test::new().runbook(
        "bad.yaml",
        "name: bad\nsteps:\n  - id: upload\n    action: put-object\n    with: { bucket: no-such-bucket-4711, key: templates/driver.yaml, content: 'kind: Pod' }\n",
    );
    let out = world
        .env_for(t.args(["--output", "plain", "run", "--target", "aws", "bad.yaml"]))
        .run()
        .code(1);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("step upload failed"), "{text}");
    assert!(
        text.contains(
            "S3 PutObject of `s3://no-such-bucket-4711/templates/driver.yaml` failed: NoSuchBucket"
        ),
        "{text}"
    );
}

/// Without a region (and none in the runbook), the run stops before any step, with
/// one message that says how to give one.
#[test]
fn a_missing_region_stops_the_run_before_any_step() {
    let world = AwsWorld::start();
    let t = Test::new().runbook(
        "r.yaml",
        "name: r\nsteps:\n  - id: group\n    action: create-log-group\n    with: { name: /x }\n",
    );
    let out = world
        .env_for(t.args(["--output", "plain", "run", "--target", "aws", "r.yaml"]))
        .env("AWS_REGION", "")
        .run();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("no AWS region"), "{}", out.stderr);
    assert!(
        !out.stdout.contains("step group"),
        "no step ran: {}",
        out.stdout
    );
    let run = t.only_run();
    assert_eq!(run["status"], "failed", "not left running: {run}");

    // `--region` gives one.
    world
        .env_for(t.args([
            "--output",
            "plain",
            "--region",
            "us-east-2",
            "run",
            "--target",
            "aws",
            "r.yaml",
        ]))
        .env("AWS_REGION", "")
        .run()
        .success();
}

/// Without usable credentials, likewise: one message, no step, the run recorded as
/// failed with the reason.
#[test]
fn missing_credentials_stop_the_run_before_any_step() {
    let world = AwsWorld::start();
    let t = Test::new().runbook(
        "c.yaml",
        "name: c\nsteps:\n  - id: group\n    action: create-log-group\n    with: { name: /x }\n",
    );
    let out = world
        .env_for(t.args(["--output", "plain", "run", "--target", "aws", "c.yaml"]))
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .run();
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no usable AWS credentials"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("step group"),
        "no step ran: {}",
        out.stdout
    );
    let run = t.only_run();
    let status = t.status(run["id"].as_str().expect("id"));
    assert_eq!(status["status"], "failed");
    assert!(
        status["error"]
            .as_str()
            .is_some_and(|e| e.contains("no usable AWS credentials")),
        "{status}"
    );
}

/// `wait-for-pods` on aws follows the cluster's pods through a watch: pods that appear
/// after the step started (as EMR's driver would create executors) end the wait.
#[test]
fn wait_for_pods_on_aws_sees_pods_that_appear_while_it_waits() {
    let world = AwsWorld::start();
    let kube = world.kube();
    kube.expect_ok(
        "POST",
        "/api/v1/namespaces",
        Some(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monthly-batch"}}"#),
    );
    let t = Test::new().runbook(
        "pods.yaml",
        "name: pods\nsteps:\n  - id: executors\n    action: wait-for-pods\n    with: { cluster: fake, namespace: monthly-batch, selector: { spark-role: executor }, running: 2, timeout: 1m }\n",
    );
    let bg = world.run_plain(&t, "pods.yaml", &[]).spawn();
    t.wait_until("the wait has started", || {
        bg.stdout_so_far()
            .contains("step executors (wait-for-pods) started")
    });
    for id in 1..=2 {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": format!("pi-4-exec-{id}"),
                "namespace": "monthly-batch",
                "labels": {"spark-role": "executor", "spark-exec-id": id.to_string()},
            },
            "spec": {"containers": [{"name": "spark-kubernetes-executor", "image": "spark"}]},
            "status": {"phase": "Running"},
        });
        kube.expect_ok(
            "POST",
            "/api/v1/namespaces/monthly-batch/pods",
            Some(&pod.to_string()),
        );
    }
    let out = bg.wait();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let run = t.only_run();
    let status = t.status(run["id"].as_str().expect("id"));
    let outputs = &status["steps"][0]["outputs"];
    assert_eq!(outputs["running"], 2, "{outputs}");
    let mut names: Vec<&str> = outputs["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["pi-4-exec-1", "pi-4-exec-2"]);
}

/// A pod of job `job` in monthly-batch, as EMR on EKS labels it.
fn emr_pod(name: &str, job: &str, role: &str, exec_id: Option<u32>, phase: &str) -> String {
    let mut labels = json!({
        "emr-containers.amazonaws.com/job.id": job,
        "emr-containers.amazonaws.com/component": role,
        "spark-role": role,
    });
    if let Some(id) = exec_id {
        labels["spark-exec-id"] = json!(id.to_string());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "monthly-batch", "labels": labels},
        "spec": {"nodeName": "ip-10-0-1-1.us-east-2.compute.internal", "containers": [{"name": "spark", "image": "spark"}]},
        "status": {"phase": phase},
    })
    .to_string()
}

const POD_PATH: &str = "/api/v1/namespaces/monthly-batch/pods";

/// The low job running in monthly-batch: its driver and two executors.
pub(crate) fn stage_low_job(kube: &crate::aws_harness::Server) {
    kube.expect_ok(
        "POST",
        "/api/v1/namespaces",
        Some(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monthly-batch"}}"#),
    );
    kube.expect_ok(
        "POST",
        POD_PATH,
        Some(&emr_pod("low-driver", "low", "driver", None, "Running")),
    );
    for id in 1..=2 {
        let name = format!("low-exec-{id}");
        kube.expect_ok(
            "POST",
            POD_PATH,
            Some(&emr_pod(&name, "low", "executor", Some(id), "Running")),
        );
    }
}

/// The scheduler's work: the high job's executor is created, low-exec-2 gets the
/// DisruptionTarget condition and the Preempted event, and is deleted; then Spark's
/// answer, a replacement executor with the next id.
fn stage_preemption(kube: &crate::aws_harness::Server) {
    let preemptor = kube.expect_ok(
        "POST",
        POD_PATH,
        Some(&emr_pod(
            "high-exec-1",
            "high",
            "executor",
            Some(1),
            "Pending",
        )),
    );
    let uid = preemptor["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let path = format!("{POD_PATH}/low-exec-2");
    let mut victim = kube.expect_ok("GET", &path, None);
    victim["status"]["conditions"] = json!([{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": "default-scheduler: preempting to accommodate a higher priority pod",
    }]);
    kube.expect_ok("PUT", &path, Some(&victim.to_string()));
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "low-exec-2.preempted", "namespace": "monthly-batch"},
        "involvedObject": {"kind": "Pod", "namespace": "monthly-batch", "name": "low-exec-2", "uid": victim["metadata"]["uid"]},
        "reason": "Preempted",
        "action": "Preempting",
        "type": "Normal",
        "message": format!("Preempted by pod {uid} on node ip-10-0-1-1.us-east-2.compute.internal"),
    });
    kube.expect_ok(
        "POST",
        "/api/v1/namespaces/monthly-batch/events",
        Some(&event.to_string()),
    );
    kube.expect_ok("DELETE", &path, None);
    kube.expect_ok(
        "POST",
        POD_PATH,
        Some(&emr_pod(
            "low-exec-3",
            "low",
            "executor",
            Some(3),
            "Running",
        )),
    );
}

/// The eviction runbook's steps up to the replacement: the run's first Kubernetes call
/// starts its watches (the demo's create-cluster step does this long before any
/// preemption), then it waits for Spark's replacement executor.
const EVICT_STEPS: &str = r#"name: evict
steps:
  - id: victims
    action: wait-for-pods
    with: { cluster: fake, namespace: monthly-batch, selector: { emr-containers.amazonaws.com/job.id: low, spark-role: executor }, running: 2 }
  - id: settle
    action: sleep
    with: { duration: 1s }
  - id: replacement
    action: wait-for-pods
    with: { cluster: fake, namespace: monthly-batch, selector: { spark-exec-id: "3" }, running: 1, timeout: 1m }
"#;

const EVICT_CHECK: &str = r#"  - id: check
    action: assert-eviction
    with: { victim_job: low, preemptor_job: high }
"#;

/// The check step's outputs report the staged preemption exactly.
fn assert_staged_eviction(check: &Value) {
    assert_eq!(
        check["evicted"].as_array().map(Vec::len),
        Some(1),
        "{check}"
    );
    assert_eq!(check["evicted"][0]["pod"], "low-exec-2", "{check}");
    assert_eq!(
        check["evicted"][0]["preemptor_pod"], "high-exec-1",
        "{check}"
    );
    assert_eq!(check["evicted"][0]["preemptor_job"], "high", "{check}");
    assert_eq!(check["replacements"][0]["pod"], "low-exec-3", "{check}");
}

/// A run killed after its watches saw the preemption, and resumed: the watches of the
/// resumed run see only what exists now (the victim is gone), so the judgment stands on
/// what the run stored before the kill. The preemption is staged, not the served
/// simulator's (tests/e2e/aws_served.rs has the demo's own): the kill must fall
/// between the preemption and the check, a moment staging gives exactly.
#[test]
fn assert_eviction_after_a_resume_judges_what_was_seen_before_the_kill() {
    let world = AwsWorld::start();
    let kube = world.kube();
    stage_low_job(kube);
    let gate_step = format!(
        "  - id: gate\n    action: exec\n    with:\n      argv: [sh, -c, \"echo gate >> started; {}\"]\n",
        gate("go")
    );
    let t = Test::new().runbook(
        "evict.yaml",
        &format!("{EVICT_STEPS}{gate_step}{EVICT_CHECK}"),
    );
    let mut bg = world.run_plain(&t, "evict.yaml", &[]).spawn();
    t.wait_until("the wait has started", || {
        bg.stdout_so_far()
            .contains("step replacement (wait-for-pods) started")
    });
    stage_preemption(kube);
    bg.wait_until("the gate is reached", || t.lines("started") == ["gate"]);
    bg.signal(nix::sys::signal::Signal::SIGKILL);
    bg.wait();
    t.touch("go");
    let id = t.only_run()["id"].as_str().expect("id").to_owned();
    let out = world
        .env_for(t.args(["--output", "plain", "resume", id.as_str()]))
        .run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let status = t.status(&id);
    assert_staged_eviction(&status["steps"][4]["outputs"]);
}

/// `--profile` picks a profile of the AWS config and credentials files, region
/// included, as the AWS CLI does.
#[test]
fn a_named_profile_supplies_credentials_and_region() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new().runbook(
        "p.yaml",
        "name: p\nsteps:\n  - id: group\n    action: create-log-group\n    with: { name: /emr-on-eks/from-profile }\n",
    );
    t.write(
        "aws-config",
        "[default]\nregion = eu-west-1\n\n[profile demo]\nregion = us-east-2\n",
    );
    t.write(
        "aws-credentials",
        "[demo]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    );
    world
        .env_for(t.args([
            "--output",
            "plain",
            "--profile",
            "demo",
            "run",
            "--target",
            "aws",
            "p.yaml",
        ]))
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .env("AWS_REGION", "")
        .env("AWS_CONFIG_FILE", t.path("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", t.path("aws-credentials"))
        .run()
        .success();
    // The SDK client of the test looks in us-east-2: the profile's region was used.
    assert_eq!(
        sdk.log_groups(),
        [("/emr-on-eks/from-profile".to_string(), None)]
    );
}

/// A failed night whose job is still RUNNING: the next scheduled run refuses to submit
/// it a second time (exit 4, naming the job), `abandon --cancel-jobs` cancels it in
/// EMR, and then the next run starts.
#[test]
fn a_fresh_run_does_not_double_a_job_an_earlier_run_left_running() {
    let world = AwsWorld::start();
    let t = Test::new();
    run_canned(&world, &t, "platform-setup.yaml").success();
    let t = t.runbook(
        "nightly.yaml",
        "name: nightly\nsteps:\n  - id: job\n    action: submit-job\n    with: { virtual_cluster: monthly-batch-emr-cluster, name: pi-long, role: monthly-batch-JobExecutionRole, release_label: emr-6.3.0-latest, entry_point: 'local:///usr/lib/spark/examples/src/main/python/pi.py' }\n  - id: wait\n    action: wait-for-job\n    with: { job: '{{ steps.job.outputs.job_id }}', timeout: 1s }\n",
    );
    world.set_job_schedule("RUNNING=inf");
    let night = || {
        world
            .run_plain(&t, "nightly.yaml", &["--resume-incomplete"])
            .run()
    };
    night().code(1);
    let failed = t.runs_with_status("failed")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let sdk = Sdk::new(&world);
    let vc = sdk.virtual_cluster_id("monthly-batch-emr-cluster");
    let jobs = sdk.job_runs(&vc);
    let long: Vec<_> = jobs
        .iter()
        .filter(|j| j.name() == Some("pi-long"))
        .collect();
    assert_eq!(long.len(), 1);
    let job_id = long[0].id().expect("id").to_owned();

    let out = night().code(4);
    assert!(
        out.stderr.contains(&job_id) && out.stderr.contains("RUNNING"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("runbook abandon {failed} --cancel-jobs"))
    );
    let count = |sdk: &Sdk| {
        sdk.job_runs(&vc)
            .iter()
            .filter(|j| j.name() == Some("pi-long"))
            .count()
    };
    assert_eq!(count(&sdk), 1, "exit 4 submitted nothing");
    let nightly_runs = |t: &Test| {
        t.runs()
            .iter()
            .filter(|r| r["runbook"] == "nightly")
            .count()
    };
    assert_eq!(nightly_runs(&t), 1, "exit 4 recorded no run");

    let out = world
        .env_for(t.args(["abandon", failed.as_str(), "--cancel-jobs"]))
        .run()
        .success();
    assert!(
        out.stdout
            .contains(&format!("cancelled job run {job_id} of step job")),
        "{}",
        out.stdout
    );
    let state = sdk
        .job_runs(&vc)
        .into_iter()
        .find(|j| j.id() == Some(job_id.as_str()))
        .and_then(|j| j.state().map(|s| s.as_str().to_owned()));
    assert!(
        matches!(state.as_deref(), Some("CANCEL_PENDING" | "CANCELLED")),
        "{state:?}"
    );
    // The person decided: the next night runs (and submits its own job).
    night().code(1);
    assert_eq!(count(&sdk), 2);
    assert_eq!(nightly_runs(&t), 2);
}
