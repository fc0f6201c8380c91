//! `runbook preflight`: read-only checks of whether a runbook can succeed in the
//! target's account, the same on `sim` (against the simulated account) as on `aws`.

use serde_json::Value;

use crate::aws_harness::AwsWorld;
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
            "kubernetes-version",
            "buckets",
            "existing"
        ]
    );
    // The permissions are those of the plan's AWS calls (23 IAM actions, from EKS
    // CreateCluster's iam:PassRole to EMR's StartJobRun); the simulated account allows
    // them all.
    assert_eq!(
        check(&report, "permissions")["detail"],
        "IAM allows all 23 actions the runbook's calls need"
    );
    assert_eq!(
        check(&report, "kubernetes-version")["detail"],
        "cluster eks-emr-cluster: EKS offers Kubernetes 1.35 in standard support"
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
        out.stdout.contains("fail          kubernetes-version  cluster eks-emr-cluster (step cluster): EKS in us-east-2 does not offer Kubernetes 1.22; it offers 1.35, 1.34, 1.33, 1.32"),
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
            .ends_with("4 passed, 1 failed, 0 cannot be checked\n"),
        "{}",
        out.stdout
    );
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

/// What EKS needs that the simulator makes up: roles and subnets.
const CLUSTER_SETS: [&str; 6] = [
    "--set",
    "cluster_role_arn=arn:aws:iam::123456789012:role/eks-cluster-role",
    "--set",
    "node_role_arn=arn:aws:iam::123456789012:role/eks-node-role",
    "--set",
    "subnet_ids=[subnet-0a1, subnet-0b2]",
];

/// `runbook --output json preflight --target aws --kube-context fake RUNBOOK ...` on
/// `world`, expecting `code`.
fn preflight_on(world: &AwsWorld, t: &Test, runbook: &str, code: i32) -> Value {
    let path = canned(runbook);
    let mut args = vec![
        "--output",
        "json",
        "preflight",
        "--target",
        "aws",
        "--kube-context",
        "fake",
        path.as_str(),
    ];
    args.extend(CLUSTER_SETS);
    world.env_for(t.args(args)).run().code(code).json()
}

/// Runs a canned runbook on `world` (it must succeed).
fn run_on(world: &AwsWorld, t: &Test, runbook: &str) {
    let path = canned(runbook);
    let mut args = vec![
        "run",
        "--target",
        "aws",
        "--kube-context",
        "fake",
        path.as_str(),
    ];
    args.extend(CLUSTER_SETS);
    world.env_for(t.args(args)).run().success();
}

/// On moto: the credentials, bucket names and what exists are checked for real; moto
/// does not serve IAM's policy simulation nor EKS's version list, so those say they
/// cannot be checked (their pass and fail cases are tested against recorded answers
/// in the aws backend). After platform-setup ran, preflight lists what a run reuses.
#[test]
fn preflight_on_aws_checks_the_account_and_lists_what_a_run_reuses() {
    let world = AwsWorld::start();
    let t = Test::new();
    let report = preflight_on(&world, &t, "platform-setup.yaml", 0);
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
    for unserved in ["permissions", "kubernetes-version"] {
        assert_eq!(
            check(&report, unserved)["status"],
            "cannot-check",
            "{report}"
        );
    }
    assert_eq!(
        check(&report, "buckets")["detail"],
        "free (created): adhoc-ml-batch-logs-123456789012-us-east-2, intra-day-batch-logs-123456789012-us-east-2, monthly-batch-logs-123456789012-us-east-2, nightly-batch-logs-123456789012-us-east-2, realtime-batch-logs-123456789012-us-east-2"
    );
    assert_eq!(
        check(&report, "existing")["detail"],
        "nothing exists yet: the run creates everything"
    );
    assert!(t.runs().is_empty(), "preflight records nothing");

    run_on(&world, &t, "platform-setup.yaml");

    let report = preflight_on(&world, &t, "platform-setup.yaml", 0);
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
    ] {
        assert!(existing.contains(reused), "{reused} in {existing}");
    }
}

/// The autoscaling demo needs Karpenter on its cluster: before the cluster exists
/// that cannot be checked; on a cluster without a running controller it fails; with
/// one it passes.
#[test]
fn preflight_on_aws_checks_karpenter_on_the_autoscaled_cluster() {
    let world = AwsWorld::start();
    let t = Test::new();
    let report = preflight_on(&world, &t, "autoscaling-demo.yaml", 0);
    let autoscaler = check(&report, "autoscaler");
    assert_eq!(autoscaler["status"], "cannot-check", "{autoscaler}");

    run_on(&world, &t, "simple-job.yaml");
    let report = preflight_on(&world, &t, "autoscaling-demo.yaml", 1);
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
    let report = preflight_on(&world, &t, "autoscaling-demo.yaml", 0);
    let autoscaler = check(&report, "autoscaler");
    assert_eq!(autoscaler["status"], "pass", "{autoscaler}");
    assert_eq!(
        autoscaler["detail"],
        "cluster eks-emr-cluster serves Karpenter's NodePool API and runs its controller (karpenter-6d4f9c7b8-x2x7q)"
    );
}
