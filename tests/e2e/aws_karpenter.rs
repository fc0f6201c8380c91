//! `enable-autoscaling` and `delete-cluster` with Karpenter, through the binary on
//! `--target aws` against moto and the fake API server: without Karpenter the step
//! fails at once naming what to install; with it (`fake_kube.py --karpenter`, which
//! makes what is applied Ready as Karpenter's controller would) the EC2NodeClass and
//! the NodePool are applied and waited for; a teardown removes runbook's NodePools
//! and waits for their nodes before it deletes the node groups and the cluster.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::harness::{Output, Test};

/// A cluster with a node group of role `eks-node-role`, then `enable-autoscaling`
/// with `autoscaler` as its input.
fn cluster_and_autoscaler(autoscaler: &Value) -> String {
    format!(
        r#"name: karpenter
steps:
  - id: cluster
    action: create-cluster
    with:
      name: eks-emr-cluster
      role_arn: arn:aws:iam::123456789012:role/eks-cluster-role
      node_role_arn: arn:aws:iam::123456789012:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
      nodegroup: {{ name: eks-emr-cluster-ng, instance_type: m5.2xlarge, desired_size: 1 }}
  - id: autoscaler
    action: enable-autoscaling
    with: {autoscaler}
"#
    )
}

const TEARDOWN: &str = r"name: teardown
steps:
  - id: cluster_gone
    action: delete-cluster
    with: { name: eks-emr-cluster, wait_timeout: 1m }
";

/// Asserts that what the run printed contains each of `wanted`.
#[track_caller]
fn assert_says(out: &Output, wanted: &[&str]) {
    let said = format!("{}{}", out.stdout, out.stderr);
    for text in wanted {
        assert!(said.contains(text), "{text} in:\n{said}");
    }
}

fn run(world: &AwsWorld, t: &Test, file: &str, extra: &[&str]) -> Output {
    world
        .run_plain(t, &t.path(file).display().to_string(), extra)
        .run()
}

#[test]
fn without_karpenter_enable_autoscaling_fails_at_once_naming_what_to_install() {
    let world = AwsWorld::start();
    let t = Test::new().runbook(
        "karpenter.yaml",
        &cluster_and_autoscaler(&json!({"cluster": "eks-emr-cluster"})),
    );
    let started = Instant::now();
    let out = run(&world, &t, "karpenter.yaml", &[]).code(1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "it failed at once, not after its 5 minute wait"
    );
    assert_says(
        &out,
        &[
            "cluster `eks-emr-cluster` serves no karpenter.sh/v1 NodePool API: Karpenter v1 is not installed",
            "README's \"Karpenter on the aws target\"",
            "helm upgrade --install karpenter oci://public.ecr.aws/karpenter/karpenter",
            "settings.clusterName=eks-emr-cluster",
        ],
    );
}

#[test]
fn with_karpenter_both_objects_are_applied_and_ready_and_teardown_removes_them_first() {
    let world = AwsWorld::builder().karpenter().start();
    let t = Test::new()
        .runbook(
            "karpenter.yaml",
            &cluster_and_autoscaler(&json!({
                "cluster": "eks-emr-cluster",
                "capacity_types": ["on-demand"],
                "instance_types": ["c5.2xlarge"],
            })),
        )
        .runbook("teardown.yaml", TEARDOWN);
    run(&world, &t, "karpenter.yaml", &[]).success();

    let class = world
        .kube_object("EC2NodeClass", None, "runbook-emr")
        .expect("the EC2NodeClass");
    assert_eq!(class["apiVersion"], "karpenter.k8s.aws/v1");
    // The node group's role (EKS DescribeNodegroup), which aws-auth maps.
    assert_eq!(class["spec"]["role"], "eks-node-role");
    assert_eq!(
        class["spec"]["amiSelectorTerms"],
        json!([{"alias": "al2023@latest"}])
    );
    let discovery = json!([{"tags": {"karpenter.sh/discovery": "eks-emr-cluster"}}]);
    assert_eq!(class["spec"]["subnetSelectorTerms"], discovery);
    assert_eq!(class["spec"]["securityGroupSelectorTerms"], discovery);
    let pool = world
        .kube_object("NodePool", None, "runbook-emr")
        .expect("the NodePool");
    assert_eq!(
        pool["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "runbook"
    );
    assert_eq!(
        pool["spec"]["template"]["spec"]["requirements"],
        json!([
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["c5.2xlarge"]},
        ])
    );
    assert_eq!(
        pool["spec"]["template"]["spec"]["nodeClassRef"],
        json!({"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "runbook-emr"})
    );
    // The step waited for both to be Ready.
    for object in [&class, &pool] {
        let ready = object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{object}");
    }

    // A node Karpenter launched for the pool: the teardown waits until the
    // controller (here the fake's) has removed it, before any node group goes.
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "ip-192-168-99-9.us-east-2.compute.internal",
                     "labels": {"karpenter.sh/nodepool": "runbook-emr"}},
    });
    world
        .kube()
        .expect_ok("POST", "/api/v1/nodes", Some(&node.to_string()));
    let record = t.path("teardown.calls.jsonl").display().to_string();
    run(&world, &t, "teardown.yaml", &["--record-calls", &record]).success();
    for (kind, name) in [
        ("NodePool", "runbook-emr"),
        ("EC2NodeClass", "runbook-emr"),
        ("Node", "ip-192-168-99-9.us-east-2.compute.internal"),
    ] {
        assert!(
            world.kube_object(kind, None, name).is_none(),
            "{kind} {name} is gone"
        );
    }
    // The step's own calls (the observer's watches of nodes belong to no step).
    let calls: Vec<String> = t
        .read("teardown.calls.jsonl")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|call| call["step"] == "cluster_gone")
        .map(|call| {
            format!(
                "{} {}",
                call["service"].as_str().unwrap_or_default(),
                call["operation"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let at = |operation: &str| {
        calls
            .iter()
            .position(|c| c == operation)
            .unwrap_or_else(|| panic!("{operation} in {calls:#?}"))
    };
    assert!(at("Kubernetes delete NodePool") < at("Kubernetes delete EC2NodeClass"));
    assert!(
        at("Kubernetes delete EC2NodeClass") < at("Kubernetes list Node"),
        "{calls:#?}"
    );
    assert!(
        at("Kubernetes list Node") < at("EKS DeleteNodegroup"),
        "{calls:#?}"
    );
    assert!(at("EKS DeleteNodegroup") < at("EKS DeleteCluster"));
}

#[test]
fn a_node_class_that_never_gets_ready_is_named_with_its_reasons() {
    let world = AwsWorld::builder().karpenter().start();
    let t = Test::new().runbook(
        "karpenter.yaml",
        &cluster_and_autoscaler(&json!({
            "cluster": "eks-emr-cluster",
            "name": "no-role",
            "node_role": "",
            "wait_timeout": "2s",
        })),
    );
    let out = run(&world, &t, "karpenter.yaml", &[]).code(1);
    assert_says(
        &out,
        &[
            "EC2NodeClass `no-role` is not Ready: InstanceProfileReady=False (RoleNotSet: spec.role is empty",
            "NodePool `no-role` is not Ready: NodeClassReady=False (NodeClassNotReady: EC2NodeClass no-role is not Ready)",
            "after 2s",
        ],
    );
}

#[test]
fn teardown_of_a_cluster_without_karpenter_skips_the_node_pools() {
    let world = AwsWorld::start();
    let t = Test::new()
        .runbook(
            "karpenter.yaml",
            &cluster_and_autoscaler(&json!({"cluster": "eks-emr-cluster"})),
        )
        .runbook("teardown.yaml", TEARDOWN);
    // The cluster is made; its autoscaler step fails (no Karpenter).
    run(&world, &t, "karpenter.yaml", &[]).code(1);
    let record = t.path("teardown.calls.jsonl").display().to_string();
    run(&world, &t, "teardown.yaml", &["--record-calls", &record]).success();
    let calls = t.read("teardown.calls.jsonl");
    let operations: Vec<String> = calls
        .lines()
        .map(|line| {
            let call: Value = serde_json::from_str(line).expect("one call per line");
            call["operation"].as_str().expect("operation").to_string()
        })
        .collect();
    assert!(
        operations.iter().any(|o| o == "discover karpenter.sh/v1"),
        "{calls}"
    );
    assert!(
        !operations.iter().any(|o| o.contains("NodePool")),
        "no NodePool is listed or deleted: {calls}"
    );
    assert!(operations.iter().any(|o| o == "DeleteCluster"), "{calls}");
}
