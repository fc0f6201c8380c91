//! The aws target against what a real API server does and the lenient fake did not:
//! throttling and 5xx while a wait reads, a watch refused with 403, a namespace still
//! Terminating, the priority plugin's one-default admission and the immutable value of
//! a PriorityClass (`tests/aws/fake_kube.py`'s `/debug/faults`,
//! `--namespace-termination` and admission).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::aws_target::stage_low_job;
use crate::harness::Test;

const NS_PATH: &str = "/api/v1/namespaces";
const PODS: &str = "/api/v1/namespaces/monthly-batch/pods";
const PRIORITY_CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

/// A PriorityClass the cluster has before the run (`class` without kind and
/// apiVersion).
fn existing_priority_class(world: &AwsWorld, class: &Value) {
    let mut class = class.clone();
    class["apiVersion"] = json!("scheduling.k8s.io/v1");
    class["kind"] = json!("PriorityClass");
    world
        .kube()
        .expect_ok("POST", PRIORITY_CLASSES, Some(&class.to_string()));
}

/// Runs a runbook of `steps` (YAML list items) and asserts that the run fails (exit
/// 1) with `line` (the plain output's last line: `<time> run <id> failed in
/// <duration>: <line>`).
#[track_caller]
fn run_failing(world: &AwsWorld, steps: &str, line: &str) {
    let t = Test::new().runbook("steps.yaml", &format!("name: steps\nsteps:\n{steps}"));
    let out = world.run_plain(&t, "steps.yaml", &[]).run().code(1);
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(" failed in ") && last.ends_with(&format!(": {line}")),
        "the run did not fail with `{line}`; stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
}

/// How often each fault rule answered.
fn hits(world: &AwsWorld) -> Vec<(u64, u64)> {
    world
        .kube_faults()
        .iter()
        .map(|r| {
            (
                r["status"].as_u64().unwrap_or(0),
                r["hits"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// `wait-for-pods` lists the pods; the API server answers 429 (with Retry-After),
/// then 503, then 500: the wait tries again with backoff and ends when the pods are
/// there.
#[test]
fn wait_for_pods_outlasts_throttling_and_an_unavailable_api_server() {
    let world = AwsWorld::start();
    stage_low_job(world.kube());
    for status in [429, 503, 500] {
        world.kube_fault(&json!({
            "status": status, "method": "GET", "path": format!("^{PODS}$"), "watch": false, "times": 1,
        }));
    }
    let t = Test::new().runbook(
        "pods.yaml",
        "name: pods\nsteps:\n  - id: executors\n    action: wait-for-pods\n    with: { cluster: fake, namespace: monthly-batch, selector: { spark-role: executor }, running: 2, timeout: 1m }\n",
    );
    let out = world.run_plain(&t, "pods.yaml", &[]).run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(hits(&world), [(429, 1), (503, 1), (500, 1)]);
    let status = t.status(t.only_run()["id"].as_str().expect("id"));
    assert_eq!(status["steps"][0]["outputs"]["running"], 2, "{status}");
}

/// Every list and watch of pods across the cluster (the observer's) is refused with
/// 403: `assert-eviction` fails, and says that the pod watch was failing and why, so
/// the reader does not take "no executor was preempted" for what happened.
#[test]
fn assert_eviction_names_the_watch_the_api_server_refuses() {
    let world = AwsWorld::start();
    stage_low_job(world.kube());
    world.kube_fault(&json!({"status": 403, "path": "^/api/v1/pods$", "times": null}));
    let t = Test::new().runbook(
        "evict.yaml",
        "name: evict\nsteps:\n  - id: victims\n    action: wait-for-pods\n    with: { cluster: fake, namespace: monthly-batch, selector: { spark-role: executor }, running: 2 }\n  - id: check\n    action: assert-eviction\n    with: { victim_job: low, preemptor_job: high }\n",
    );
    let out = world.run_plain(&t, "evict.yaml", &[]).run();
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let error = t.status(t.only_run()["id"].as_str().expect("id"))["steps"][1]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("but the Kubernetes watches are failing")
            && error.contains(
                r#"pods is forbidden: User "runbook-test" cannot list resource "pods" in API group "" at the cluster scope"#
            ),
        "{error}"
    );
    assert!(error.contains("fake: pods watch: "), "{error}");
}

/// Another writer changes aws-auth between `register-vc`'s read and its replace (409
/// Conflict on the replace): it reads again and adds the EMR mapping to what is there.
#[test]
fn register_vc_reads_aws_auth_again_after_a_conflict() {
    let world = AwsWorld::start();
    world.kube_fault(&json!({
        "status": 409, "method": "PUT", "path": "/configmaps/aws-auth$", "times": 1,
    }));
    let t = Test::new().runbook(
        "vc.yaml",
        "name: vc\nsteps:\n  - id: vc\n    action: register-vc\n    with: { cluster: fake, namespace: monthly-batch }\n",
    );
    let out = world.run_plain(&t, "vc.yaml", &[]).run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(hits(&world), [(409, 1)]);
    let aws_auth = world
        .kube_object("ConfigMap", Some("kube-system"), "aws-auth")
        .expect("aws-auth");
    let roles = aws_auth["data"]["mapRoles"].as_str().unwrap_or_default();
    assert!(
        roles.contains("AWSServiceRoleForAmazonEMRContainers")
            && roles.contains("NodeInstanceRole"),
        "{roles}"
    );
}

/// A namespace is still Terminating when the run creates it: `create-namespace` and
/// `register-vc` wait until it is gone and make it anew (adopting it would leave them
/// a namespace in which the API server refuses to create anything).
#[test]
fn a_terminating_namespace_is_waited_for_and_made_anew() {
    let world = AwsWorld::builder().namespace_termination(2.0).start();
    let kube = world.kube();
    let mut old_uids = Vec::new();
    for ns in ["spark", "monthly-batch"] {
        let created = kube.expect_ok(
            "POST",
            NS_PATH,
            Some(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                    .to_string(),
            ),
        );
        old_uids.push(created["metadata"]["uid"].clone());
        kube.expect_ok(
            "POST",
            &format!("{NS_PATH}/{ns}/configmaps"),
            Some(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"left-over"}}"#),
        );
        let deleted = kube.expect_ok("DELETE", &format!("{NS_PATH}/{ns}"), None);
        assert_eq!(deleted["status"]["phase"], "Terminating");
    }
    let t = Test::new().runbook(
        "ns.yaml",
        "name: ns\nsteps:\n  - id: namespace\n    action: create-namespace\n    with: { cluster: fake, name: spark }\n  - id: vc\n    action: register-vc\n    with: { cluster: fake, namespace: monthly-batch }\n",
    );
    let started = Instant::now();
    let out = world.run_plain(&t, "ns.yaml", &[]).run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the run did not wait for the namespaces to go"
    );
    for (ns, old_uid) in ["spark", "monthly-batch"].iter().zip(&old_uids) {
        let namespace = world
            .kube_object("Namespace", None, ns)
            .unwrap_or_else(|| panic!("no namespace {ns}"));
        assert_eq!(namespace["status"]["phase"], "Active", "{namespace}");
        assert_ne!(&namespace["metadata"]["uid"], old_uid, "{ns} was adopted");
        assert!(
            world
                .kube_object("ConfigMap", Some(ns), "left-over")
                .is_none()
        );
    }
    assert!(
        world
            .kube_object("Role", Some("monthly-batch"), "emr-containers")
            .is_some()
    );
    let status = t.status(t.only_run()["id"].as_str().expect("id"));
    assert_eq!(status["steps"][0]["outputs"]["created"], true, "{status}");
}

/// A cluster that already has a default PriorityClass: a second `globalDefault` one
/// is refused by the priority admission plugin, and the step fails with its words.
#[test]
fn a_second_global_default_priority_class_fails_with_the_servers_reason() {
    let world = AwsWorld::start();
    existing_priority_class(
        &world,
        &json!({"metadata": {"name": "cluster-default"}, "value": 10, "globalDefault": true}),
    );
    run_failing(
        &world,
        "  - id: critical\n    action: create-priority-class\n    with: { cluster: fake, name: critical-priority, value: 400, global_default: true }\n",
        "step critical (create-priority-class) failed: Kubernetes create priorityclass of `critical-priority` failed: Forbidden: priorityclasses.scheduling.k8s.io \"critical-priority\" is forbidden: PriorityClass cluster-default is already marked as default. Only one default can exist",
    );
    assert!(
        world
            .kube_object("PriorityClass", None, "critical-priority")
            .is_none()
    );
}

/// A PriorityClass of the same name with another value: `create-priority-class`
/// neither adopts it nor tries to change it (the API server would answer 422, as it
/// does below), and says what to do.
#[test]
fn a_priority_class_with_another_value_is_a_clear_error() {
    let world = AwsWorld::start();
    let kube = world.kube();
    existing_priority_class(
        &world,
        &json!({"metadata": {"name": "high-priority"}, "value": 100}),
    );
    // What a replace would meet: the value is immutable.
    let path = format!("{PRIORITY_CLASSES}/high-priority");
    let mut changed = kube.expect_ok("GET", &path, None);
    changed["value"] = json!(200);
    let (code, body) = kube
        .request("PUT", &path, Some(&changed.to_string()))
        .expect("PUT");
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(code, 422, "{body}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        "PriorityClass.scheduling.k8s.io \"high-priority\" is invalid: value: Forbidden: may not be changed in an update."
    );

    run_failing(
        &world,
        "  - id: high\n    action: create-priority-class\n    with: { cluster: fake, name: high-priority, value: 200 }\n",
        "step high (create-priority-class) failed: Kubernetes create priorityclass of `high-priority` failed: AlreadyExists: priorityclasses.scheduling.k8s.io \"high-priority\" already exists with value 100 and globalDefault false; the value of a PriorityClass cannot be changed, delete it first",
    );
    let kept = world
        .kube_object("PriorityClass", None, "high-priority")
        .expect("kept");
    assert_eq!(kept["value"], 100);
}
