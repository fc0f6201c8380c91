//! The aws target reaching a cluster as it does on EKS, without `--kube-context`:
//! DescribeCluster's endpoint and CA (moto hands out the fake API server's HTTPS
//! listener and its CA), TLS checked against that CA, and an EKS bearer token that
//! the listener checks as aws-iam-authenticator does (`tests/aws/eks_auth.py`).

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::aws_target::NAMESPACES;
use crate::canned_runbooks::canned;
use crate::harness::Test;

/// Every request the HTTPS listener saw carried a token it accepted, and `method
/// path` was among them.
#[track_caller]
fn assert_authenticated(tokens: &[Value], method: &str, path: &str) {
    let refused: Vec<&Value> = tokens.iter().filter(|r| r["accepted"] != true).collect();
    assert!(refused.is_empty(), "refused tokens: {refused:?}");
    assert!(
        tokens
            .iter()
            .any(|r| r["method"] == method && r["path"] == path),
        "no {method} {path} reached the HTTPS listener: {tokens:?}"
    );
}

/// platform-setup from an empty account, then the priority demo up to its first wait
/// on the scheduler, both through the EKS connection path: every Kubernetes call goes
/// over TLS to the endpoint DescribeCluster gave, with an EKS token.
#[test]
fn platform_setup_and_the_priority_demo_connect_as_on_eks() {
    let world = AwsWorld::builder().eks_connection().start();
    let t = Test::new();
    let run = |runbook: &str| {
        let path = canned(runbook);
        let mut args = vec!["--output", "json", "run", "--target", "aws"];
        args.extend(world.kube_context_args());
        args.push(path.as_str());
        world.env_for(t.args(args))
    };
    run("platform-setup.yaml").run().success();
    let tokens = world.kube_tokens();
    assert_authenticated(&tokens, "POST", "/api/v1/namespaces");
    assert_authenticated(&tokens, "GET", "/api/v1/nodes");
    for ns in NAMESPACES {
        let namespace = world
            .kube_object("Namespace", None, ns)
            .unwrap_or_else(|| panic!("namespace {ns} was not created"));
        assert_eq!(namespace["status"]["phase"], "Active");
        assert!(
            world
                .kube_object("Role", Some(ns), "emr-containers")
                .is_some(),
            "no EMR role in {ns}"
        );
    }

    let mut demo = run("priority-demo.yaml").spawn();
    demo.wait_for_stdout(r#"{"step":"low_running","action""#);
    demo.signal(Signal::SIGTERM);
    demo.wait();
    let tokens = world.kube_tokens();
    assert_authenticated(
        &tokens,
        "POST",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
    );
    let critical = world
        .kube_object("PriorityClass", None, "critical-priority")
        .expect("the demo's default PriorityClass");
    assert_eq!(critical["globalDefault"], true);
    assert_eq!(critical["value"], 400);
    // The watches low_running reads followed the cluster's pods over the same path.
    assert_authenticated(&tokens, "GET", "/api/v1/pods");
}

/// A cluster created on moto (so DescribeCluster knows it), then two namespaces: the
/// first create is retried once after a second.
const AUTH_RUNBOOK: &str = r#"name: auth
steps:
  - id: cluster
    action: create-cluster
    with:
      name: demo
      role_arn: arn:aws:iam::123456789012:role/eks-cluster-role
      node_role_arn: arn:aws:iam::123456789012:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
      nodegroup: { name: demo-ng, instance_type: m5.2xlarge, desired_size: 1 }
  - id: first
    action: create-namespace
    with: { cluster: demo, name: first }
    retry: { attempts: 2, delay: 1500ms }
  - id: second
    action: create-namespace
    with: { cluster: demo, name: second }
"#;

/// The API server refuses a token with 401 (and keeps refusing that token, as it
/// would one signed by revoked credentials): the request that got the 401 fails, as
/// with client-go, and the next request carries a newly signed token, so the step's
/// retry and the rest of the run go through.
#[test]
fn a_refused_token_is_signed_anew_for_the_next_request() {
    let world = AwsWorld::builder().eks_connection().start();
    world.kube_fault(&json!({
        "status": 401, "method": "POST", "path": "^/api/v1/namespaces$", "times": 1,
    }));
    let t = Test::new().runbook("auth.yaml", AUTH_RUNBOOK);
    let out = world.run_plain(&t, "auth.yaml", &[]).run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Unauthorized"),
        "the first attempt should fail with the 401: {}",
        out.stdout
    );
    assert!(world.kube_object("Namespace", None, "first").is_some());
    assert!(world.kube_object("Namespace", None, "second").is_some());

    let creates: Vec<Value> = world
        .kube_tokens()
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/api/v1/namespaces")
        .collect();
    assert_eq!(creates.len(), 3, "{creates:?}");
    assert_eq!(creates[0]["accepted"], false, "{creates:?}");
    assert_eq!(creates[0]["reason"], "a 401 fault", "{creates:?}");
    for retried in &creates[1..] {
        assert_eq!(retried["accepted"], true, "{creates:?}");
        assert_ne!(
            retried["signature"], creates[0]["signature"],
            "the refused token was sent again: {creates:?}"
        );
    }
}
