//! `runbook preflight`: read-only checks of whether a runbook can succeed in the
//! target's account, the same on `sim` (against the simulated account) as on `aws`.

use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::aws_sdk::Sdk;
use crate::canned_runbooks::{canned, canned_names};
use crate::harness::Test;

/// The status of each check by name (a check that appears more than once, e.g. one
/// Kubernetes version per cluster, keeps its worst).
fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["check"].as_str().expect("check").to_string(),
                c["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn check<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn every_canned_runbook_passes_preflight_on_sim_with_its_defaults() {
    let t = Test::new();
    for name in &canned_names() {
        let report = t
            .args(["--output", "json", "preflight", &canned(name)])
            .run()
            .success()
            .json();
        assert_eq!(report["ok"], true, "{name}: {report}");
        assert_eq!(report["target"], "sim");
        assert_eq!(report["account_id"], "123456789012");
        let failed: Vec<_> = statuses(&report)
            .into_iter()
            .filter(|(_, status)| status == "fail")
            .collect();
        assert!(failed.is_empty(), "{name}: {failed:?}");
        assert_eq!(check(&report, "credentials")["status"], "pass");
    }
    assert!(!t.state_db().exists(), "preflight records nothing");
}

#[test]
fn preflight_on_sim_reads_the_runbooks_needs_from_its_plan() {
    let t = Test::new();
    let report = t
        .args([
            "--output",
            "json",
            "preflight",
            &canned("priority-demo.yaml"),
        ])
        .run()
        .success()
        .json();
    let names: Vec<String> = statuses(&report).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "credentials",
            "permissions",
            "kubernetes-permissions",
            "kubernetes-version",
            "subnets",
            "vcpu-quota",
            "buckets",
            "existing"
        ]
    );
    // The permissions are those of the plan's AWS calls (44 IAM actions, from EKS
    // CreateCluster's iam:PassRole, CreateNodegroup's look at its role
    // (iam:ListAttachedRolePolicies) and the EC2 calls of the VPC create-cluster makes
    // to EMR's StartJobRun); the simulated account allows them all.
    assert_eq!(
        check(&report, "permissions")["detail"],
        "IAM allows all 44 actions the runbook's calls need"
    );
    assert_eq!(
        check(&report, "kubernetes-version")["detail"],
        "cluster eks-emr-cluster: EKS offers Kubernetes 1.35 in standard support"
    );
    // The simulator places nodes in two zones of its own, which offer every type it
    // knows; its account's vCPU quotas are 640.
    assert_eq!(
        check(&report, "subnets")["detail"],
        "cluster eks-emr-cluster: subnets in us-east-2a, us-east-2b, all offering c5.2xlarge"
    );
    assert_eq!(
        check(&report, "vcpu-quota")["detail"],
        "On-Demand standard vCPUs, quota L-1216C47A 640 (AWS's default): node group of eks-emr-cluster up to 10 × c5.2xlarge (8 vCPUs) = 80 at most; instances already running count too"
    );
    let buckets = check(&report, "buckets")["detail"]
        .as_str()
        .expect("detail");
    assert!(
        buckets.contains("eks-emr-cluster-demojobs-123456789012-us-east-2"),
        "bucket names are rendered with the target's account and region: {buckets}"
    );
}

#[test]
fn a_version_eks_retired_fails_preflight_with_the_fix() {
    let t = Test::new();
    let out = t
        .args([
            "preflight",
            &canned("priority-demo.yaml"),
            "--set",
            "kubernetes_version=1.22",
        ])
        .run()
        .code(1);
    assert!(
        out.stdout.contains("fail          kubernetes-version      cluster eks-emr-cluster (step platform/cluster): EKS in us-east-2 does not offer Kubernetes 1.22; it offers 1.35, 1.34, 1.33, 1.32"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: ask for a version EKS offers (the canned runbooks' `kubernetes_version` parameter), e.g. --set kubernetes_version=1.35"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("7 passed, 1 failed, 0 cannot be checked\n"),
        "{}",
        out.stdout
    );
}

/// A node group and an autoscaler that together may run more vCPUs than the
/// account's quota, and an instance type the zones do not offer, fail with the fix.
#[test]
fn capacity_beyond_the_quota_or_the_zones_fails_preflight() {
    let t = Test::new().runbook(
        "big.yaml",
        r#"name: big
steps:
  - id: cluster
    action: create-cluster
    with:
      name: big
      nodegroup: { name: big-ng, instance_type: m5.2xlarge, desired_size: 1, max_size: 100 }
  - id: karpenter
    action: enable-autoscaling
    with: { cluster: big, cpu_limit: 200, capacity_types: [on-demand] }
"#,
    );
    let report = t
        .args(["--output", "json", "preflight", "big.yaml"])
        .run()
        .code(1)
        .json();
    let quota = check(&report, "vcpu-quota");
    assert_eq!(quota["status"], "fail");
    assert_eq!(
        quota["detail"],
        "On-Demand standard vCPUs, quota L-1216C47A 640 (AWS's default): node group of big up to 100 × m5.2xlarge (8 vCPUs) = 800 + the autoscaler's cpu_limit (step karpenter) 200 = 1000 at most"
    );
    assert!(
        quota["fix"].as_str().is_some_and(
            |f| f.starts_with("request an increase of L-1216C47A to at least 1000 vCPUs")
        ),
        "{quota}"
    );

    let t = Test::new().runbook(
        "gpu.yaml",
        r#"name: gpu
steps:
  - id: cluster
    action: create-cluster
    with:
      name: gpu
      nodegroup: { name: gpu-ng, instance_type: p5.48xlarge, desired_size: 1 }
"#,
    );
    let report = t
        .args(["--output", "json", "preflight", "gpu.yaml"])
        .run()
        .code(1)
        .json();
    let subnets = check(&report, "subnets");
    assert_eq!(subnets["status"], "fail");
    assert_eq!(
        subnets["detail"],
        "cluster gpu (step cluster): p5.48xlarge is not offered in us-east-2a, us-east-2b (the node group's subnets are in us-east-2a, us-east-2b)"
    );
    assert_eq!(check(&report, "vcpu-quota")["status"], "cannot-check");
}

#[test]
fn run_with_preflight_starts_nothing_when_a_check_fails() {
    let t = Test::new();
    let out = t
        .args([
            "run",
            "--preflight",
            &canned("priority-demo.yaml"),
            "--set",
            "kubernetes_version=1.22",
        ])
        .run()
        .code(1);
    assert!(
        out.stderr.contains("does not offer Kubernetes 1.22")
            && out
                .stderr
                .contains("preflight failed: the run was not started"),
        "{}",
        out.stderr
    );
    assert!(t.runs().is_empty(), "no run was recorded");

    // With a version EKS offers, the checks pass and the run goes ahead.
    let out = t
        .args(["run", "--preflight", &canned("simple-job.yaml")])
        .run()
        .success();
    assert!(
        out.stderr.contains("0 failed"),
        "the checks are shown before the run: {}",
        out.stderr
    );
    assert_eq!(t.runs().len(), 1);
}

/// What EKS needs that the simulator makes up: roles, and subnets in two zones (made
/// in moto's EC2, so that preflight finds them).
fn cluster_sets(world: &AwsWorld) -> Vec<String> {
    let subnets = Sdk::new(world).subnets_in(&["us-east-2a", "us-east-2b"]);
    [
        "cluster_role_arn=arn:aws:iam::123456789012:role/eks-cluster-role".to_string(),
        "node_role_arn=arn:aws:iam::123456789012:role/eks-node-role".to_string(),
        format!("subnet_ids=[{}]", subnets.join(", ")),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_string(), set])
    .collect()
}

/// `runbook --output json preflight --target aws --kube-context fake RUNBOOK ...` on
/// `world`, expecting `code`.
fn preflight_on(world: &AwsWorld, t: &Test, path: &str, sets: &[String], code: i32) -> Value {
    let mut args = vec![
        "--output",
        "json",
        "preflight",
        "--target",
        "aws",
        "--kube-context",
        "fake",
        path,
    ];
    args.extend(sets.iter().map(String::as_str));
    world.env_for(t.args(args)).run().code(code).json()
}

/// Runs a canned runbook on `world` (it must succeed).
fn run_on(world: &AwsWorld, t: &Test, runbook: &str, sets: &[String]) {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    world.run_plain(t, &canned(runbook), &sets).run().success();
}

/// On moto: the credentials, bucket names and what exists are checked for real; moto
/// does not serve IAM's policy simulation nor EKS's version list, so those say they
/// cannot be checked (their pass and fail cases are tested against recorded answers
/// in the aws backend). After platform-setup ran, preflight lists what a run reuses.
#[test]
fn preflight_on_aws_checks_the_account_and_lists_what_a_run_reuses() {
    let world = AwsWorld::start();
    let t = Test::new();
    let sets = cluster_sets(&world);
    let report = preflight_on(&world, &t, &canned("platform-setup.yaml"), &sets, 0);
    assert_eq!(report["target"], "aws");
    assert_eq!(report["account_id"], "123456789012");
    assert_eq!(report["region"], "us-east-2");
    let credentials = check(&report, "credentials");
    assert_eq!(credentials["status"], "pass");
    assert!(
        credentials["detail"]
            .as_str()
            .is_some_and(|d| d.contains("123456789012") && d.contains("us-east-2")),
        "{credentials}"
    );
    // moto serves neither IAM's policy simulation, EKS's version list nor EC2's vCPU
    // quotas (its Service Quotas knows VPC's only).
    for unserved in ["permissions", "kubernetes-version", "vcpu-quota"] {
        assert_eq!(
            check(&report, unserved)["status"],
            "cannot-check",
            "{report}"
        );
    }
    // The subnets made in moto's EC2, and moto's instance type offerings.
    assert_eq!(
        check(&report, "subnets")["detail"],
        "cluster eks-emr-cluster: subnets in us-east-2a, us-east-2b, all offering m5.2xlarge"
    );
    assert_eq!(
        check(&report, "buckets")["detail"],
        "free (created): adhoc-ml-batch-logs-123456789012-us-east-2, intra-day-batch-logs-123456789012-us-east-2, monthly-batch-logs-123456789012-us-east-2, nightly-batch-logs-123456789012-us-east-2, realtime-batch-logs-123456789012-us-east-2"
    );
    assert_eq!(
        check(&report, "existing")["detail"],
        "nothing exists yet: the run creates everything"
    );
    assert_eq!(
        check(&report, "kubernetes-permissions")["detail"],
        "cluster eks-emr-cluster does not exist yet: the run creates it, and EKS makes its creator (these credentials) its admin"
    );
    assert!(t.runs().is_empty(), "preflight records nothing");

    run_on(&world, &t, "platform-setup.yaml", &sets);

    let report = preflight_on(&world, &t, &canned("platform-setup.yaml"), &sets, 0);
    let buckets = check(&report, "buckets")["detail"]
        .as_str()
        .expect("detail");
    assert!(
        buckets.starts_with("already yours (adopted): adhoc-ml-batch-logs-123456789012-us-east-2"),
        "{buckets}"
    );
    let existing = check(&report, "existing")["detail"]
        .as_str()
        .expect("detail");
    for reused in [
        "cluster eks-emr-cluster (ACTIVE, Kubernetes 1.35, node groups: eks-emr-cluster-ng)",
        "virtual cluster monthly-batch-emr-cluster (",
        "role monthly-batch-JobExecutionRole (arn:aws:iam::123456789012:role/",
        "log group /emr-on-eks/eks-emr-cluster/monthly-batch",
    ] {
        assert!(existing.contains(reused), "{reused} in {existing}");
    }
}

/// Work in a cluster that exists needs Kubernetes permissions there, which preflight
/// asks the API server about (a SelfSubjectAccessReview each): all granted, it
/// passes; with PriorityClasses forbidden to the caller (as AmazonEKSEditPolicy
/// forbids them), it fails naming the permission and the step, and `run --preflight`
/// starts nothing.
#[test]
fn preflight_on_aws_asks_the_cluster_for_the_runs_kubernetes_permissions() {
    let world = AwsWorld::start();
    let t = Test::new().runbook(
        "classes.yaml",
        r#"name: classes
steps:
  - id: namespace
    action: create-namespace
    with: { cluster: eks-emr-cluster, name: batch }
  - id: high
    action: create-priority-class
    with: { cluster: eks-emr-cluster, name: high-priority, value: 1000 }
"#,
    );
    let sets = cluster_sets(&world);
    run_on(&world, &t, "platform-setup.yaml", &sets);
    let classes = t.path("classes.yaml").display().to_string();

    let report = preflight_on(&world, &t, &classes, &[], 0);
    let permissions = check(&report, "kubernetes-permissions");
    assert_eq!(permissions["status"], "pass", "{report}");
    // create, get Namespace; create, get PriorityClass; the watches' list and watch of
    // Pods, Events and Nodes.
    assert_eq!(
        permissions["detail"],
        "in cluster eks-emr-cluster, these credentials may do the 10 things the run does there"
    );

    world.kube_fault(&json!({
        "status": 403,
        "method": "POST",
        "path": "priorityclasses",
        "times": null,
    }));
    let report = preflight_on(&world, &t, &classes, &[], 1);
    let permissions = check(&report, "kubernetes-permissions");
    assert_eq!(permissions["status"], "fail", "{report}");
    assert_eq!(
        permissions["detail"],
        "in cluster eks-emr-cluster, these credentials may not create PriorityClass (scheduling.k8s.io/v1) (steps high): User \"runbook-test\" cannot create resource \"priorityclasses\" in API group \"scheduling.k8s.io\" at the cluster scope"
    );
    assert!(
        permissions["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("AmazonEKSClusterAdminPolicy")),
        "{permissions}"
    );
    let before = t.runs().len();
    let out = world
        .env_for(t.args([
            "run",
            "--preflight",
            "--target",
            "aws",
            "--kube-context",
            "fake",
            classes.as_str(),
        ]))
        .run()
        .code(1);
    assert!(
        out.stderr.contains("kubernetes-permissions"),
        "{}",
        out.stderr
    );
    assert_eq!(t.runs().len(), before, "a failed preflight starts no run");
    assert!(
        world.kube_faults()[0]["hits"] == 0,
        "a question about a request is not the request: {:?}",
        world.kube_faults()
    );
}

/// The autoscaling demo needs Karpenter on its cluster: before the cluster exists
/// that cannot be checked; on a cluster without a running controller it fails; with
/// one it passes.
#[test]
fn preflight_on_aws_checks_karpenter_on_the_autoscaled_cluster() {
    // Karpenter's CRDs without its controller: the pod is added below.
    let world = AwsWorld::builder().karpenter_crds().start();
    let t = Test::new();
    let sets = cluster_sets(&world);
    let report = preflight_on(&world, &t, &canned("autoscaling-demo.yaml"), &sets, 0);
    let autoscaler = check(&report, "autoscaler");
    assert_eq!(autoscaler["status"], "cannot-check", "{autoscaler}");

    run_on(&world, &t, "simple-job.yaml", &sets);
    let report = preflight_on(&world, &t, &canned("autoscaling-demo.yaml"), &sets, 1);
    let autoscaler = check(&report, "autoscaler");
    assert_eq!(autoscaler["status"], "fail", "{autoscaler}");
    assert_eq!(
        autoscaler["detail"],
        "cluster eks-emr-cluster serves the NodePool API but no Karpenter controller pod is Running"
    );

    let controller = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "karpenter-6d4f9c7b8-x2x7q",
            "namespace": "kube-system",
            "labels": {"app.kubernetes.io/name": "karpenter"},
        },
        "spec": {"containers": [{"name": "controller", "image": "karpenter"}]},
        "status": {"phase": "Running"},
    });
    world.kube().expect_ok(
        "POST",
        "/api/v1/namespaces/kube-system/pods",
        Some(&controller.to_string()),
    );
    let report = preflight_on(&world, &t, &canned("autoscaling-demo.yaml"), &sets, 0);
    let autoscaler = check(&report, "autoscaler");
    assert_eq!(autoscaler["status"], "pass", "{autoscaler}");
    assert_eq!(
        autoscaler["detail"],
        "cluster eks-emr-cluster serves Karpenter's NodePool API and runs its controller (karpenter-6d4f9c7b8-x2x7q)"
    );
}

/// EKS's subnet rule against moto's EC2: subnets that do not exist, and subnets all in
/// one Availability Zone, fail with the fix.
#[test]
fn preflight_on_aws_fails_subnets_eks_would_refuse() {
    let world = AwsWorld::start();
    let t = Test::new();
    let roles = [
        "--set".to_string(),
        "cluster_role_arn=arn:aws:iam::123456789012:role/eks-cluster-role".to_string(),
        "--set".to_string(),
        "node_role_arn=arn:aws:iam::123456789012:role/eks-node-role".to_string(),
    ];
    let with_subnets = |subnets: &str| {
        let mut sets = roles.to_vec();
        sets.extend(["--set".to_string(), format!("subnet_ids=[{subnets}]")]);
        sets
    };

    let report = preflight_on(
        &world,
        &t,
        &canned("simple-job.yaml"),
        &with_subnets("subnet-0a1"),
        1,
    );
    let subnets = check(&report, "subnets");
    assert_eq!(subnets["status"], "fail", "{subnets}");
    assert!(
        subnets["detail"]
            .as_str()
            .is_some_and(|d| d.contains("InvalidSubnetID.NotFound") && d.contains("subnet-0a1")),
        "{subnets}"
    );

    let one_zone = Sdk::new(&world).subnets_in(&["us-east-2a", "us-east-2a"]);
    let report = preflight_on(
        &world,
        &t,
        &canned("simple-job.yaml"),
        &with_subnets(&one_zone.join(", ")),
        1,
    );
    let subnets = check(&report, "subnets");
    assert_eq!(
        subnets["detail"],
        format!(
            "cluster eks-emr-cluster (step cluster): EKS needs subnets in at least two Availability Zones; subnets {} are in us-east-2a",
            one_zone.join(", ")
        )
    );
    assert_eq!(
        subnets["fix"],
        "give subnet_ids in two or more Availability Zones (the canned runbooks' `subnet_ids` parameter)"
    );
}

/// Without usable credentials the credentials check fails with what to set, and the
/// others say they could not be made; `run --preflight` then starts nothing.
#[test]
fn preflight_without_credentials_fails_its_first_check() {
    let world = AwsWorld::start();
    let t = Test::new();
    fn no_credentials<'t>(
        world: &AwsWorld,
        cmd: crate::harness::Cmd<'t>,
    ) -> crate::harness::Cmd<'t> {
        world
            .env_for(cmd)
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_SECRET_ACCESS_KEY", "")
    }
    let path = canned("simple-job.yaml");
    let report = no_credentials(
        &world,
        t.args([
            "--output",
            "json",
            "preflight",
            "--target",
            "aws",
            path.as_str(),
        ]),
    )
    .run()
    .code(1)
    .json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["account_id"], Value::Null);
    let credentials = check(&report, "credentials");
    assert_eq!(credentials["status"], "fail");
    assert!(
        credentials["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no usable AWS credentials")),
        "{credentials}"
    );
    assert!(credentials["fix"].is_string(), "{credentials}");
    let others: Vec<(String, String)> = statuses(&report).into_iter().skip(1).collect();
    assert!(
        !others.is_empty() && others.iter().all(|(_, s)| s == "cannot-check"),
        "{others:?}"
    );

    let out = no_credentials(
        &world,
        t.args(["run", "--preflight", "--target", "aws", path.as_str()]),
    )
    .run()
    .code(1);
    assert!(
        out.stderr
            .contains("preflight failed: the run was not started"),
        "{}",
        out.stderr
    );
    assert!(t.runs().is_empty(), "no run was recorded");
}
