//! `runbook plan --target aws`: under each step, the AWS and Kubernetes operations its
//! action would call, with the parameters rendered from the runbook, and nothing
//! called. Every endpoint the binary could reach (AWS, a proxy, a kubeconfig's API
//! server) points at a listener of the test, which must not see a single connection;
//! no credentials exist.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::canned_runbooks::canned;
use crate::harness::{Cmd, Test};

fn platform_setup() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join("platform-setup.yaml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
}

/// A listener that any AWS, proxy or Kubernetes traffic of the command would reach.
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        listener.set_nonblocking(true).expect("non-blocking");
        Tripwire(listener)
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().expect("address"))
    }

    /// Points every way out at the listener, and leaves no credentials to find.
    fn arm<'t>(&self, t: &Test, cmd: Cmd<'t>) -> Cmd<'t> {
        let url = self.url();
        t.write(
            "kubeconfig",
            &format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{url}\"}}\n\
                 contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n\
                 users:\n- name: u\n  user: {{token: t}}\n"
            ),
        );
        cmd.env("AWS_ENDPOINT_URL", &url)
            .env("HTTP_PROXY", &url)
            .env("HTTPS_PROXY", &url)
            .env("ALL_PROXY", &url)
            .env("KUBECONFIG", t.path("kubeconfig"))
            .env("AWS_CONFIG_FILE", t.path("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", t.path("no-aws-credentials"))
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_SECRET_ACCESS_KEY", "")
            .env("AWS_SESSION_TOKEN", "")
            .env("AWS_REGION", "us-east-2")
    }

    #[track_caller]
    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("plan connected to the network (from {from})"),
            Err(e) => panic!("failed to check the listener: {e}"),
        }
    }
}

/// What the first step to reach a cluster makes before its own calls: the cluster's
/// endpoint, then the observer's watches (each made once by a run, by whichever step
/// reaches the cluster first).
const REACHING_A_CLUSTER: [&str; 7] = [
    "EKS DescribeCluster",
    "Kubernetes list Pod",
    "Kubernetes watch Pod",
    "Kubernetes list Event",
    "Kubernetes watch Event",
    "Kubernetes list Node",
    "Kubernetes watch Node",
];

fn operations(calls: &[&Value]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["service"].as_str().unwrap_or("?"),
                c["operation"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The calls of a step (of one instance of a `for_each` step).
fn calls<'v>(plan: &'v Value, step: &str, instance: Option<u64>) -> Vec<&'v Value> {
    let step = plan
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == step))
        .unwrap_or_else(|| panic!("no step `{step}` in {plan}"));
    assert_eq!(step.get("call_errors"), None, "{step}");
    step["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("step has no calls: {step}"))
        .iter()
        .filter(|c| c.get("instance").and_then(Value::as_u64) == instance)
        .collect()
}

#[test]
fn plan_on_aws_lists_each_steps_calls_and_calls_nothing() {
    let t = Test::new().runbook("platform-setup.yaml", &platform_setup());
    let tripwire = Tripwire::new();
    let out = tripwire
        .arm(
            &t,
            t.args([
                "plan",
                "--target",
                "aws",
                "--output",
                "json",
                "platform-setup.yaml",
            ]),
        )
        .run()
        .success();
    tripwire.assert_untouched();
    assert!(
        !t.state_db().exists(),
        "plan writes nothing to the state DB"
    );
    let plan = out.json();

    let cluster = calls(&plan, "cluster", None);
    assert_eq!(
        operations(&cluster),
        [
            "EKS DescribeCluster",
            // No roles or subnets given: made as eksctl makes them, each managed
            // policy attached by its own call.
            "IAM GetRole",
            "IAM CreateRole",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "IAM GetRole",
            "IAM CreateRole",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "EC2 DescribeVpcs",
            "EC2 CreateVpc",
            "EC2 ModifyVpcAttribute",
            "EC2 ModifyVpcAttribute",
            "EC2 DescribeInstanceTypeOfferings",
            "EC2 DescribeSubnets",
            "EC2 CreateSubnet",
            "EC2 ModifySubnetAttribute",
            "EC2 DescribeInternetGateways",
            "EC2 CreateInternetGateway",
            "EC2 AttachInternetGateway",
            "EC2 DescribeNatGateways",
            "EC2 DescribeAddresses",
            "EC2 AllocateAddress",
            "EC2 CreateNatGateway",
            "EC2 DescribeNatGateways",
            // The public route table, then the private one.
            "EC2 DescribeRouteTables",
            "EC2 CreateRouteTable",
            "EC2 CreateRoute",
            "EC2 DescribeRouteTables",
            "EC2 AssociateRouteTable",
            "EC2 DescribeRouteTables",
            "EC2 CreateRouteTable",
            "EC2 CreateRoute",
            "EC2 DescribeRouteTables",
            "EC2 AssociateRouteTable",
            "EKS CreateCluster",
            "EKS DescribeCluster",
            "IAM ListOpenIDConnectProviders",
            "IAM CreateOpenIDConnectProvider",
            "EKS ListNodegroups",
            // The node role comes before the network lookup, as complete_cluster asks.
            "IAM GetRole",
            "IAM CreateRole",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "IAM AttachRolePolicy",
            "EC2 DescribeVpcs",
            "EC2 DescribeSubnets",
            "EKS DescribeCluster",
            "EC2 CreateTags",
            "EKS CreateNodegroup",
            "EKS DescribeNodegroup",
        ]
        .into_iter()
        // Its nodes are read through the cluster's API, which the run reaches then
        // for the first time.
        .chain(REACHING_A_CLUSTER)
        .chain(["Kubernetes list Node"])
        .collect::<Vec<_>>()
    );
    let create = cluster
        .iter()
        .find(|c| c["operation"] == "CreateCluster")
        .expect("CreateCluster");
    assert_eq!(
        create["when"],
        "if the cluster does not exist (an existing one is adopted)"
    );
    assert_eq!(create["detail"]["name"], "eks-emr-cluster");
    assert_eq!(create["detail"]["version"], "1.35");
    assert_eq!(
        create["detail"]["tags"],
        json!({"karpenter.sh/discovery": "eks-emr-cluster"})
    );
    assert_eq!(
        create["detail"]["clientRequestToken"],
        "<idempotency key of step cluster>"
    );
    let nodegroup = cluster
        .iter()
        .find(|c| c["operation"] == "CreateNodegroup")
        .expect("CreateNodegroup");
    assert_eq!(
        nodegroup["detail"]["scalingConfig"],
        json!({"minSize": 1, "maxSize": 10, "desiredSize": 1})
    );
    assert_eq!(nodegroup["detail"]["instanceTypes"], json!(["m5.2xlarge"]));

    // for_each: every namespace is an instance with its own calls; the fourth is
    // monthly-batch.
    assert_eq!(calls(&plan, "virtual_clusters", Some(4)).len(), 7 + 12);
    // Its own calls, after the seven of reaching the cluster.
    let vc: Vec<&Value> = calls(&plan, "virtual_clusters", Some(3))
        .into_iter()
        .filter(|c| c.get("once").is_none())
        .collect();
    assert_eq!(
        operations(&vc),
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
    assert_eq!(vc[0]["detail"], json!({"name": "monthly-batch"}));
    assert_eq!(
        vc[10]["detail"],
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

    let bucket = calls(&plan, "log_buckets", Some(0));
    assert_eq!(operations(&bucket), ["S3 CreateBucket"]);
    assert_eq!(
        bucket[0]["detail"]["bucket"],
        "realtime-batch-logs-<account id>-us-east-2"
    );
}

/// What people read: under each step (each instance of a `for_each` step) one line
/// per call, conditions in brackets.
#[test]
fn plan_on_aws_reads_as_one_line_per_call() {
    let t = Test::new().runbook("platform-setup.yaml", &platform_setup());
    let tripwire = Tripwire::new();
    let out = tripwire
        .arm(
            &t,
            t.args([
                "plan",
                "--target",
                "aws",
                "platform-setup.yaml",
                "--set",
                "namespaces=[monthly-batch]",
            ]),
        )
        .run()
        .success();
    tripwire.assert_untouched();
    insta::assert_snapshot!("plan_aws_text", out.stdout);
}

#[test]
fn plan_on_sim_shows_the_inputs_only() {
    let t = Test::new().runbook("platform-setup.yaml", &platform_setup());
    let out = t
        .args(["plan", "--output", "json", "platform-setup.yaml"])
        .run()
        .success();
    let plan = out.json();
    let steps = plan.as_array().expect("steps");
    assert_eq!(steps.len(), 6);
    for step in steps {
        assert_eq!(step.get("calls"), None, "{step}");
    }
    let text = t.args(["plan", "platform-setup.yaml"]).run().success();
    assert!(!text.stdout.contains("calls"), "{}", text.stdout);
}

/// Every canned runbook plans on `aws`: each step whose input renders before run time
/// lists its calls (or, for `log`, `sleep` and `assert`, none).
#[test]
fn every_canned_runbook_plans_on_aws() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("runbooks/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    let t = Test::new();
    for path in names {
        let path = path.display().to_string();
        let plan = t
            .args(["plan", "--target", "aws", "--output", "json", path.as_str()])
            .run()
            .success()
            .json();
        for step in plan.as_array().expect("steps") {
            let action = step["action"].as_str().expect("action");
            // A `runbook` step calls nothing itself: its included steps follow it.
            let utility = matches!(action, "log" | "sleep" | "assert" | "runbook");
            if step["with"].is_string() {
                // Its input needs run-time values to render at all (a loop over
                // outputs); the plan says so instead of listing calls.
                assert!(step.get("call_errors").is_some(), "{path}: {step}");
                continue;
            }
            assert_eq!(step.get("call_errors"), None, "{path}: {step}");
            let listed = step["calls"].as_array().is_some_and(|c| !c.is_empty());
            assert_eq!(listed, !utility, "{path}: {step}");
        }
    }
}

/// A runbook that only works in a cluster that exists lists, for its first step there,
/// what reaching the cluster takes: EKS's DescribeCluster for the endpoint, then the
/// run's watches of pods, preemption events and nodes. So its least-privilege policy
/// grants `eks:DescribeCluster` (without it, the run could not connect; the canned
/// runbooks all create their cluster and had it from create-cluster's calls).
#[test]
fn a_runbook_on_an_existing_cluster_plans_and_is_granted_reaching_it() {
    let yaml = r#"name: namespaces
steps:
  - id: batch
    action: create-namespace
    with: { cluster: demo, name: batch }
  - id: adhoc
    action: create-namespace
    with: { cluster: demo, name: adhoc }
"#;
    let t = Test::new().runbook("namespaces.yaml", yaml);
    let plan = t
        .args([
            "--output",
            "json",
            "plan",
            "--target",
            "aws",
            "namespaces.yaml",
        ])
        .run()
        .success()
        .json();
    for step in ["batch", "adhoc"] {
        // Each step may be the first (a resumed run starts at the second).
        let calls = calls(&plan, step, None);
        assert_eq!(operations(&calls[..7]), REACHING_A_CLUSTER, "{step}");
        for call in &calls[..7] {
            assert_eq!(
                call["when"],
                "if the run has not reached cluster `demo` yet"
            );
            assert_eq!(call["once"], true);
        }
        assert_eq!(
            operations(&calls[7..]),
            ["Kubernetes create Namespace", "Kubernetes get Namespace"]
        );
    }
    let policy = t
        .args(["plan", "--target", "aws", "--iam-policy", "namespaces.yaml"])
        .run()
        .success()
        .json();
    let granted: Vec<&Value> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| s["Action"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(granted, [&json!("eks:DescribeCluster")], "{policy:#}");
}

/// `plan --rbac` prints the ClusterRole a run needs in its clusters and its binding to
/// the group an EKS access entry names: every verb on every resource of the run's
/// Kubernetes calls (the watches' list and watch included), `escalate` and `bind` for
/// writing EMR's Role and RoleBinding, and a manifest's own kinds named as left out.
#[test]
fn plan_rbac_prints_the_cluster_role_a_run_needs() {
    let t = Test::new().runbook(
        "widgets.yaml",
        r#"name: widgets
steps:
  - id: widget
    action: apply-manifest
    with:
      cluster: demo
      manifest: |
        apiVersion: example.com/v1
        kind: Widget
        metadata: { name: w, namespace: default }
"#,
    );
    let out = t
        .args([
            "plan",
            "--target",
            "aws",
            "--rbac",
            &canned("priority-demo.yaml"),
        ])
        .run()
        .success();
    let documents: Vec<Value> = out
        .stdout
        .split("\n---\n")
        .skip(1)
        .map(|doc| serde_yaml_ng::from_str(doc).expect("a YAML document"))
        .collect();
    assert_eq!(documents.len(), 2, "{}", out.stdout);
    let (role, binding) = (&documents[0], &documents[1]);
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(role["metadata"]["name"], "runbook-priority-demo");
    let rules: Vec<(String, String, Vec<String>)> = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| {
            (
                rule["apiGroups"][0].as_str().expect("group").to_string(),
                rule["resources"][0].as_str().expect("resource").to_string(),
                rule["verbs"]
                    .as_array()
                    .expect("verbs")
                    .iter()
                    .map(|v| v.as_str().expect("verb").to_string())
                    .collect(),
            )
        })
        .collect();
    let rule = |group: &str, resource: &str, verbs: &[&str]| {
        (
            group.to_string(),
            resource.to_string(),
            verbs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        rules,
        [
            rule("", "configmaps", &["create", "get", "update"]),
            rule("", "events", &["list", "watch"]),
            rule("", "namespaces", &["create", "get"]),
            rule("", "nodes", &["list", "watch"]),
            rule("", "pods", &["list", "watch"]),
            rule(
                "rbac.authorization.k8s.io",
                "rolebindings",
                &["create", "update"]
            ),
            rule(
                "rbac.authorization.k8s.io",
                "roles",
                &["bind", "create", "escalate", "update"]
            ),
            rule("scheduling.k8s.io", "priorityclasses", &["create", "get"]),
        ]
    );
    assert_eq!(binding["kind"], "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], "runbook-priority-demo");
    assert_eq!(
        binding["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "runbook-operators"}])
    );
    assert!(
        out.stdout.contains("--kubernetes-groups runbook-operators"),
        "{}",
        out.stdout
    );

    let out = t
        .args(["plan", "--target", "aws", "--rbac", "widgets.yaml"])
        .run()
        .success();
    assert!(
        out.stdout.contains(
            "# Not included: Widget (example.com/v1), whose resource names only the API server's discovery knows"
        ),
        "{}",
        out.stdout
    );
}
