//! Kubernetes versions: the canned runbooks create clusters of a version EKS offers,
//! and a runbook asking for one EKS retired fails at `create-cluster` on `sim` with
//! EKS's own error, in seconds, before anything else is made.

use crate::canned_runbooks::canned;
use crate::harness::{Test, run_id_of, step_summary};

#[test]
fn the_walkthrough_version_fails_at_create_cluster_with_the_eks_error() {
    let t = Test::new();
    let out = t
        .args([
            "--output",
            "json",
            "run",
            &canned("priority-demo.yaml"),
            "--set",
            "kubernetes_version=1.22",
        ])
        .run()
        .code(1);
    let run_id = run_id_of(&out.events());
    assert_eq!(t.only_run()["failed_step"], "platform/cluster");
    let status = t.status(&run_id);
    assert_eq!(
        status["error"],
        "step platform/cluster (create-cluster) failed: EKS CreateCluster of `eks-emr-cluster` failed: InvalidParameterException: unsupported Kubernetes version 1.22 (EKS offers 1.35, 1.34, 1.33, 1.32 as of 2026-12-04)"
    );
    // Nothing after the cluster was attempted (the `finally` clean-up may run): the
    // step that includes platform-setup, and the cluster in it.
    let attempted: Vec<String> = step_summary(&status)
        .into_iter()
        .filter(|(_, state, _)| state != "pending" && state != "skipped")
        .map(|(key, _, _)| key)
        .collect();
    assert_eq!(
        attempted[..2],
        ["platform", "platform/cluster"],
        "{attempted:?}"
    );
    assert!(
        !attempted.iter().any(|k| k == "low_job" || k == "high_job"),
        "{attempted:?}"
    );
}

#[test]
fn plan_shows_the_version_the_cluster_is_created_with() {
    let t = Test::new();
    let out = t
        .args(["--output", "json", "plan", &canned("priority-demo.yaml")])
        .run()
        .success();
    let plan = out.json();
    let cluster = plan
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == "platform/cluster"))
        .expect("the plan has the cluster step");
    assert_eq!(cluster["with"]["version"], "1.35", "{cluster}");

    let older = t
        .args([
            "--output",
            "json",
            "plan",
            &canned("priority-demo.yaml"),
            "--set",
            "kubernetes_version=1.33",
        ])
        .run()
        .success()
        .json();
    let cluster = older
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == "platform/cluster"))
        .expect("the plan has the cluster step");
    assert_eq!(cluster["with"]["version"], "1.33", "{cluster}");
}
