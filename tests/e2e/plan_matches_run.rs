//! The plan is the run's own description: for every canned runbook, what
//! `runbook plan --target aws` lists under each step is laid next to the calls the
//! run on aws (moto and the fake Kubernetes API server) recorded as it sent them
//! (`--record-calls`). Every call a step made must be in its plan, in the plan's
//! order; every call its plan makes unconditionally must have been made; and a call
//! the plan shows with every parameter known was sent with exactly those parameters
//! (the run records each call as the code declared it, with the values it sent).

use std::collections::BTreeMap;

use nix::sys::signal::Signal;
use runbook_backend::calls::{PlannedCall, RecordedCall, misfit};
use serde_json::Value;

use crate::aws_harness::AwsWorld;
use crate::canned_runbooks::canned;
use crate::harness::Test;

const ACCOUNT: &str = "123456789012";

/// What EKS needs that the simulator makes up: roles and subnets.
fn cluster_sets() -> Vec<String> {
    [
        format!("cluster_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-cluster-role"),
        format!("node_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-node-role"),
        "subnet_ids=[subnet-0a1, subnet-0b2]".to_string(),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_string(), set])
    .collect()
}

/// One planned call: `EKS CreateCluster`, whether it is made only on a condition, and
/// the call as the plan shows it.
#[derive(Debug)]
struct Planned {
    operation: String,
    conditional: bool,
    call: PlannedCall,
}

/// The plan's calls by step instance key (`cluster`, `virtual_clusters[1]`). A step
/// whose input needs run-time values to render at all (a loop over a step's outputs)
/// has no calls in the plan, which says so: it is left out (`None`).
fn planned_calls(plan: &Value) -> BTreeMap<String, Option<Vec<Planned>>> {
    let mut by_key: BTreeMap<String, Option<Vec<Planned>>> = BTreeMap::new();
    for step in plan.as_array().expect("plan steps") {
        let id = step["id"].as_str().expect("step id");
        if step["with"].is_string() || step["instances"].is_string() {
            assert!(step.get("call_errors").is_some(), "{step}");
            by_key.insert(id.to_string(), None);
            continue;
        }
        // What runs on this machine (`exec`'s program) is no AWS or Kubernetes call and
        // is not recorded.
        let remote = |call: &&Value| call["service"] != "local";
        for call in step["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(remote)
        {
            let key = match call.get("instance").and_then(Value::as_u64) {
                Some(index) => format!("{id}[{index}]"),
                None => id.to_string(),
            };
            by_key
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_default()
                .push(Planned {
                    operation: format!(
                        "{} {}",
                        call["service"].as_str().expect("service"),
                        call["operation"].as_str().expect("operation")
                    ),
                    conditional: call.get("when").is_some(),
                    call: serde_json::from_value(call.clone()).expect("a planned call"),
                });
        }
    }
    by_key
}

/// The calls each step instance made, each operation once, in the order of its first
/// call (polling repeats a call; the plan names it once).
fn recorded_calls(lines: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let Some(step) = line.get("step").and_then(Value::as_str) else {
            continue;
        };
        let operation = format!(
            "{} {}",
            line["service"].as_str().expect("service"),
            line["operation"].as_str().expect("operation")
        );
        let calls = by_key.entry(step.to_string()).or_default();
        if !calls.contains(&operation) {
            calls.push(operation);
        }
    }
    by_key
}

/// The steps of the latest run by status, by step instance key.
fn step_statuses(t: &Test) -> BTreeMap<String, String> {
    let run = t.runs().into_iter().next().expect("a run");
    let status = t.status(run["id"].as_str().expect("run id"));
    status["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["key"].as_str().expect("key").to_string(),
                s["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// Every difference between what the plan lists and what the run called.
fn differences(
    runbook: &str,
    plan: &BTreeMap<String, Option<Vec<Planned>>>,
    made: &BTreeMap<String, Vec<String>>,
    statuses: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (key, status) in statuses {
        let step_id = key.split('[').next().unwrap_or(key);
        if plan.get(step_id).is_some_and(Option::is_none) {
            continue;
        }
        // A loop over run-time values has one list of calls for every instance.
        let planned = plan
            .get(key)
            .or_else(|| plan.get(step_id))
            .and_then(Option::as_deref)
            .unwrap_or_default();
        let called = made.get(key).map(Vec::as_slice).unwrap_or_default();
        // In the plan's order: each call is found after the one before it.
        let mut from = 0;
        for operation in called {
            match planned[from..]
                .iter()
                .position(|p| &p.operation == operation)
            {
                Some(at) => from += at + 1,
                None if planned.iter().any(|p| &p.operation == operation) => found.push(format!(
                    "{runbook} {key}: `{operation}` was called out of the plan's order"
                )),
                None => found.push(format!(
                    "{runbook} {key}: `{operation}` was called but the plan does not list it"
                )),
            }
        }
        if status == "succeeded" {
            for p in planned.iter().filter(|p| !p.conditional) {
                if !called.contains(&p.operation) {
                    found.push(format!(
                        "{runbook} {key}: the plan lists `{}` unconditionally but the run did not call it",
                        p.operation
                    ));
                }
            }
        }
    }
    for key in made.keys() {
        if !statuses.contains_key(key) {
            found.push(format!(
                "{runbook}: calls were recorded for `{key}`, which is no step"
            ));
        }
    }
    found
}

/// Plans `runbook` on aws, runs it on the world with its calls recorded (stopping it
/// with SIGTERM once step `stop_at` starts, if given: the demos go on to wait for a
/// scheduler and an autoscaler the fake cluster does not have), and returns every
/// difference between the two.
fn compare(
    world: &AwsWorld,
    t: &Test,
    path: &str,
    sets: &[String],
    stop_at: Option<&str>,
) -> Vec<String> {
    let runbook = path.rsplit('/').next().unwrap_or(path);
    let path = path.to_string();
    let mut plan_args = vec!["--output", "json", "plan", "--target", "aws", path.as_str()];
    plan_args.extend(sets.iter().map(String::as_str));
    let plan = t.args(plan_args).run().success().json();
    let record = t.path(&format!("{runbook}.calls.jsonl"));
    let mut run_args = vec![
        "--output".to_string(),
        "json".into(),
        "run".into(),
        "--target".into(),
        "aws".into(),
        "--record-calls".into(),
        record.display().to_string(),
        path.clone(),
    ];
    run_args.extend(world.kube_context_args().into_iter().map(String::from));
    run_args.extend(sets.iter().cloned());
    let cmd = world.env_for(t.args(run_args));
    let out = match stop_at {
        None => cmd.run().success(),
        Some(step) => {
            let mut run = cmd.spawn();
            run.wait_for_stdout(&format!(r#"{{"step":"{step}","action""#));
            run.signal(Signal::SIGTERM);
            run.wait()
        }
    };
    let lines: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        !lines.is_empty(),
        "{runbook}: nothing was recorded; stderr: {}",
        out.stderr
    );
    let statuses = step_statuses(t);
    let planned = planned_calls(&plan);
    let mut found = target_calls_outside_steps(runbook, &planned, &lines);
    found.extend(calls_outside_the_policy(t, &path, sets, runbook, &lines));
    if std::env::var_os("SHOW_CALLS").is_some() {
        eprintln!(
            "{runbook} plan: {:#?}\nrun: {:#?}",
            planned_calls(&plan),
            recorded_calls(&lines)
        );
    }
    found.extend(differences(
        runbook,
        &planned,
        &recorded_calls(&lines),
        &statuses,
    ));
    found.extend(parameters_not_planned(runbook, &planned, &lines));
    found
}

/// Every call a step sent whose planned parameters are all known (no placeholder) must
/// have been sent with exactly those (`calls::misfit`, what a debug build checks as
/// it runs): the plan and the run declare each call with the same function, so a
/// difference is a value the plan computed otherwise. A call the plan does not list
/// at all is `differences`' to report.
fn parameters_not_planned(
    runbook: &str,
    plan: &BTreeMap<String, Option<Vec<Planned>>>,
    lines: &[Value],
) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        let Some(key) = line.get("step").and_then(Value::as_str) else {
            continue;
        };
        let step_id = key.split('[').next().unwrap_or(key);
        let Some(planned) = plan
            .get(key)
            .or_else(|| plan.get(step_id))
            .and_then(Option::as_deref)
        else {
            continue;
        };
        let sent: RecordedCall = serde_json::from_value(line.clone()).expect("a recorded call");
        let operation = format!("{} {}", sent.call.service, sent.call.operation);
        if !planned.iter().any(|p| p.operation == operation) {
            continue;
        }
        let calls: Vec<PlannedCall> = planned.iter().map(|p| p.call.clone()).collect();
        if let Some(why) = misfit(&calls, &sent.call) {
            found.push(format!("{runbook} {key}: `{operation}` was sent {why}"));
        }
    }
    found
}

/// Every IAM action the run's calls needed is granted by the policy `plan
/// --iam-policy` prints for the runbook.
fn calls_outside_the_policy(
    t: &Test,
    path: &str,
    sets: &[String],
    runbook: &str,
    lines: &[Value],
) -> Vec<String> {
    let mut args = vec!["plan", "--target", "aws", "--iam-policy", path];
    args.extend(sets.iter().map(String::as_str));
    let policy = t.args(args).run().success().json();
    assert_eq!(policy["Version"], "2012-10-17", "{policy}");
    let granted: Vec<&str> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|statement| match &statement["Action"] {
            Value::Array(actions) => actions.iter().filter_map(Value::as_str).collect(),
            Value::String(action) => vec![action.as_str()],
            _ => Vec::new(),
        })
        .collect();
    let mut found = Vec::new();
    for line in lines.iter().filter(|l| l.get("step").is_some()) {
        let service = line["service"].as_str().unwrap_or_default();
        let operation = line["operation"].as_str().unwrap_or_default();
        for action in runbook::iam_actions::iam_actions(service, operation) {
            if !granted.contains(&action.as_str()) {
                found.push(format!(
                    "{runbook}: `{service} {operation}` needs {action}, which the IAM policy does not grant"
                ));
            }
        }
    }
    found
}

/// The calls of no step are the target's own: the credentials check when the run
/// starts, and the watches of the cluster's pods, nodes and events that the
/// observer keeps (a list, then a watch from its resourceVersion), which the plan
/// lists, as made once, under the operations that reach a cluster.
fn target_calls_outside_steps(
    runbook: &str,
    plan: &BTreeMap<String, Option<Vec<Planned>>>,
    lines: &[Value],
) -> Vec<String> {
    let made_once: Vec<&str> = plan
        .values()
        .flatten()
        .flatten()
        .filter(|p| p.call.once)
        .map(|p| p.operation.as_str())
        .collect();
    let mut found = Vec::new();
    for line in lines.iter().filter(|l| l.get("step").is_none()) {
        let operation = format!(
            "{} {}",
            line["service"].as_str().unwrap_or_default(),
            line["operation"].as_str().unwrap_or_default()
        );
        if operation != "STS GetCallerIdentity" && !made_once.contains(&operation.as_str()) {
            found.push(format!(
                "{runbook}: `{operation}` was called outside any step"
            ));
        }
    }
    if !lines
        .iter()
        .any(|l| l["operation"] == "GetCallerIdentity" && l.get("step").is_none())
    {
        found.push(format!("{runbook}: the credentials check was not recorded"));
    }
    found
}

#[test]
fn every_canned_runbooks_run_on_aws_makes_the_calls_its_plan_lists() {
    // Connected as on EKS (DescribeCluster's endpoint and CA, an EKS token), so the
    // calls that connecting makes are compared too.
    let world = AwsWorld::builder().eks_connection().start();
    let t = Test::new();
    let mut found = Vec::new();
    // No runbook gets roles or subnets (an empty account: create-cluster makes them,
    // teardown deletes them); the-rest below is given them.
    // After platform-setup, a run that only works in its cluster: its first step
    // reaches the cluster (connects, starts the watches), which in the canned
    // runbooks create-cluster does first.
    t.write("on-existing-cluster.yaml", ON_EXISTING_CLUSTER);
    let on_existing_cluster = t.path("on-existing-cluster.yaml").display().to_string();
    for (path, sets, stop_at) in [
        (canned("platform-setup.yaml"), &[][..], None),
        (on_existing_cluster, &[], None),
        (canned("simple-job.yaml"), &[], None),
        (canned("nightly-batch.yaml"), &[], None),
        // The demos' stories need a scheduler and an autoscaler: their runs are
        // compared up to the first step that waits for them.
        (canned("priority-demo.yaml"), &[], Some("low_running")),
        (canned("teardown.yaml"), &[], None),
    ] {
        found.extend(compare(&world, &t, &path, sets, stop_at));
    }
    // Its steps name no cluster, so they mean the kubeconfig context's (`fake`), on
    // which the virtual clusters the other runbooks made on `eks-emr-cluster` share
    // namespaces with its own: it gets a world of its own, with Karpenter on its
    // cluster (enable-autoscaling needs it).
    let world = AwsWorld::builder().karpenter().start();
    let t = Test::new();
    found.extend(compare(
        &world,
        &t,
        &canned("autoscaling-demo.yaml"),
        &[],
        Some("empty_node_removed"),
    ));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Work in a cluster that exists: a namespace made and deleted.
const ON_EXISTING_CLUSTER: &str = r#"name: on-existing-cluster
steps:
  - id: namespace
    action: create-namespace
    with: { cluster: eks-emr-cluster, name: scratch }
  - id: gone
    action: delete-namespace
    with: { cluster: eks-emr-cluster, name: scratch }
"#;

/// The actions no canned runbook runs to the end on aws, in one runbook: namespaces,
/// manifests, PriorityClasses and their deletes, a job cancelled while it runs, and a
/// local program.
const THE_REST: &str = r#"name: the-rest
params:
  cluster_role_arn: { default: "" }
  node_role_arn: { default: "" }
  subnet_ids: { type: list, default: [] }
steps:
  - id: cluster
    action: create-cluster
    with:
      name: eks-emr-cluster
      role_arn: "{{ params.cluster_role_arn }}"
      node_role_arn: "{{ params.node_role_arn }}"
      subnet_ids: "{{ params.subnet_ids }}"
      nodegroup: { name: eks-emr-cluster-ng, instance_type: m5.2xlarge, desired_size: 1 }
  - id: namespace
    action: create-namespace
    with: { cluster: eks-emr-cluster, name: scratch }
  - id: manifest
    action: apply-manifest
    with:
      cluster: eks-emr-cluster
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: { name: settings, namespace: scratch }
        data: { mode: demo }
  - id: priority
    action: create-priority-class
    with: { cluster: eks-emr-cluster, name: scratch-priority, value: 10 }
  - id: virtual_cluster
    action: register-vc
    with: { cluster: eks-emr-cluster, namespace: scratch }
  - id: role
    action: create-job-role
    with: { name: scratch-JobExecutionRole, cluster: eks-emr-cluster, namespace: scratch }
  - id: job
    action: submit-job
    with:
      virtual_cluster: "{{ steps.virtual_cluster.outputs.virtual_cluster_id }}"
      name: endless
      role: "{{ steps.role.outputs.role_arn }}"
      release_label: emr-7.13.0-latest
      entry_point: local:///usr/lib/spark/examples/src/main/python/pi.py
  - id: cancel
    action: cancel-job
    with: { job: "{{ steps.job.outputs.job_id }}" }
  - id: local
    action: exec
    with: { argv: [echo, done] }
  - id: unregister
    action: delete-vc
    with: { virtual_cluster: "{{ steps.virtual_cluster.outputs.virtual_cluster_id }}" }
  - id: drop_priority
    action: delete-priority-class
    with: { cluster: eks-emr-cluster, name: scratch-priority }
  - id: drop_namespace
    action: delete-namespace
    with: { cluster: eks-emr-cluster, name: scratch }
"#;

#[test]
fn the_actions_no_canned_runbook_completes_on_aws_make_the_calls_their_plans_list() {
    // The job stays RUNNING until it is cancelled.
    let world = AwsWorld::builder()
        .job_schedule("PENDING=0.1,SUBMITTED=0.1,RUNNING=inf,CANCEL_PENDING=0.1")
        .start();
    let t = Test::new().runbook("the-rest.yaml", THE_REST);
    let path = t.path("the-rest.yaml").display().to_string();
    let found = compare(&world, &t, &path, &cluster_sets(), None);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// A record that cannot be written stops the command before anything is recorded:
/// no run is left behind, and the message names the path.
#[test]
fn an_unwritable_call_record_starts_nothing() {
    let t = Test::new();
    let path = canned("hello.yaml");
    let out = t
        .args([
            "--record-calls",
            "/nonexistent/dir/calls.jsonl",
            "run",
            path.as_str(),
        ])
        .run()
        .code(1);
    assert!(
        out.stderr
            .contains("failed to open the call record /nonexistent/dir/calls.jsonl"),
        "{}",
        out.stderr
    );
    assert!(t.runs().is_empty(), "no run was recorded");
}
