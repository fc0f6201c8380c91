//! The aws target end to end against a cluster with a scheduler: moto for IAM, S3,
//! CloudWatch Logs, STS and EC2 (the [`AwsWorld`]), and `runbook sim serve --for-aws`
//! for EKS, EMR on EKS and each cluster's Kubernetes API. The run makes the cluster
//! through the served EKS API, connects to the endpoint DescribeCluster gives (no
//! `--kube-context`), registers virtual clusters and starts jobs through the served EMR
//! API, whose job runs make driver and executor pods that the simulator's scheduler
//! places and preempts; the run sees them through its kube-rs watches. Nothing is
//! staged: this is the demo's own story, told through the aws target's code.

use std::time::Duration;

use serde_json::Value;

use crate::aws_harness::AwsWorld;
use crate::canned_runbooks::canned;
use crate::harness::{Background, Test, step};

/// Virtual seconds per wall second of the served world: the cluster is ACTIVE after
/// about 12 s, and the low job's executors stay busy for about 3 s of wall time
/// after the high job's executors ask for room, ample for the run's watches (which
/// see a change within 0.1 s in tests).
const SPEED: &str = "50";

/// `runbook sim serve --for-aws` in the account of `world` (moto); returns the server
/// and its URL.
fn serve_for_aws(t: &Test, world: &AwsWorld) -> (Background, String) {
    let mut served = world
        .env_for(t.args([
            "sim",
            "serve",
            "--for-aws",
            "--addr",
            "127.0.0.1:0",
            "--sim-speed",
            SPEED,
        ]))
        .spawn();
    served.wait_for_stderr("still serving on");
    let url = served
        .stderr_so_far()
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .map(str::to_string)
        .expect("the served URL");
    (served, url)
}

/// How long a run on the served world may take: about 25 s alone, at [`SPEED`], most
/// of it the cluster's creation; more while the other tests load both cores.
const RUN_PATIENCE: Duration = Duration::from_secs(150);

/// `runbook run --target aws FILE` against moto and the served simulator (EKS and EMR
/// on EKS at `url`), connecting to the clusters as on EKS: the run's status and what
/// it printed.
fn run_on_aws(t: &Test, world: &AwsWorld, url: &str, file: &str, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--output", "plain", "run", "--target", "aws", file];
    all.extend_from_slice(args);
    let out = world
        .env_for(t.args(all))
        .env("AWS_ENDPOINT_URL_EKS", url)
        .env("AWS_ENDPOINT_URL_EMR_CONTAINERS", url)
        .spawn()
        .wait_within(RUN_PATIENCE);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let run = t.only_run();
    (t.status(run["id"].as_str().expect("run id")), out.stdout)
}

/// The story's facts a run's status tells: the victim's executor id, the
/// replacement's, whether the driver survived and the high job finished first.
fn story(status: &Value) -> (Value, Value, usize, &str) {
    let eviction = &step(status, "eviction")["outputs"];
    let evicted = eviction["evicted"].as_array().expect("evicted");
    (
        evicted[0]["executor_id"].clone(),
        eviction["replacements"][0]["executor_id"].clone(),
        evicted.len(),
        step(status, "high_finished_first")["status"]
            .as_str()
            .unwrap_or_default(),
    )
}

/// A run on aws: its status and what it printed.
struct OnAws {
    status: Value,
    stdout: String,
}

/// `file` run on `--target aws` against moto and the served simulator with `aws_args`
/// (which must succeed), and the status of its run on `sim`.
fn on_aws_and_on_sim(file: &str, aws_args: &[&str]) -> (OnAws, Value) {
    let world = AwsWorld::start();
    let t = Test::new();
    let (_served, url) = serve_for_aws(&t, &world);
    let (on_aws, stdout) = run_on_aws(&t, &world, &url, &canned(file), aws_args);
    assert_eq!(on_aws["status"], "succeeded", "{on_aws:#}");
    let on_sim_test = Test::new();
    on_sim_test
        .args(["--output", "plain", "run", &canned(file)])
        .run()
        .success();
    let on_sim = on_sim_test.status(on_sim_test.only_run()["id"].as_str().expect("run id"));
    (
        OnAws {
            status: on_aws,
            stdout,
        },
        on_sim,
    )
}

/// `priority-demo.yaml` on `--target aws` tells the story it tells on `sim`: one
/// low-priority executor (#2) preempted by the high job's executor, the driver kept,
/// a replacement (#3) running, the high job finished first. The run narrates the
/// preemption and then the replacement as its kube-rs watches deliver them.
#[test]
fn the_priority_demo_runs_on_aws_against_the_simulated_eks() {
    let (on_aws, on_sim) = on_aws_and_on_sim("priority-demo.yaml", &["--set", "high_job_delay=1s"]);
    let status = &on_aws.status;
    let high = step(status, "high_job")["outputs"]["job_id"].clone();
    let evicted = &step(status, "eviction")["outputs"]["evicted"][0];
    assert_eq!(evicted["preemptor_job"], high, "{evicted:#}");
    assert_eq!(story(status), story(&on_sim), "{status:#}");
    assert_eq!(story(status).0, 2, "executor #2 is the victim");

    let lines: Vec<&str> = on_aws.stdout.lines().collect();
    let at = |what: &str, holds: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|line| holds(line))
            .unwrap_or_else(|| panic!("no line tells {what}:\n{}", on_aws.stdout))
    };
    let preempted = at("the preemption", &|line| {
        line.contains(" * executor #2 of ") && line.contains(" preempted on ")
    });
    let replaced = at("the replacement", &|line| {
        line.contains(" * replacement executor #3 of ") && line.contains(" running on ")
    });
    let asserted = at("the eviction's check", &|line| {
        line.contains("step eviction succeeded")
    });
    assert!(
        preempted < replaced && replaced < asserted,
        "{}",
        on_aws.stdout
    );
}

/// The autoscaling story's facts a run's status tells: each node the NodePool added,
/// by its instance type and capacity type, and whether it was removed once empty.
fn autoscaling_story(status: &Value) -> Vec<(String, String, bool)> {
    step(status, "scaled")["outputs"]["added"]
        .as_array()
        .expect("added nodes")
        .iter()
        .map(|n| {
            (
                n["instance_type"].as_str().unwrap_or_default().to_string(),
                n["capacity_type"].as_str().unwrap_or_default().to_string(),
                !n["removed_at_ms"].is_null(),
            )
        })
        .collect()
}

/// `autoscaling-demo.yaml` on `--target aws` tells the story it tells on `sim`: the
/// served cluster has Karpenter v1 (its APIs and its controller pod), the run's
/// EC2NodeClass and NodePool become Ready, and the NodePool adds the same node for
/// both jobs (no preemption), removed once it is empty.
#[test]
fn the_autoscaling_demo_runs_on_aws_against_the_simulated_eks() {
    // The run sleeps in wall time: 5 s is 250 s of the served world's at [`SPEED`],
    // well past the 30 s the empty node is kept.
    let (on_aws, on_sim) =
        on_aws_and_on_sim("autoscaling-demo.yaml", &["--set", "empty_node_wait=5s"]);
    let story = autoscaling_story(&on_aws.status);
    assert!(!story.is_empty(), "{:#}", on_aws.status);
    assert_eq!(story, autoscaling_story(&on_sim), "{:#}", on_aws.status);
    // The demo's summary reads the same on both targets, whose clocks differ (virtual
    // ms from the world's start on sim, the wall clock on aws): how long the node
    // lived, not an instant.
    for status in [&on_aws.status, &on_sim] {
        let summary = step(status, "summary")["outputs"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let lived: u64 = summary
            .split_once("then removed ")
            .and_then(|(_, rest)| rest.split_once("s after it was launched"))
            .and_then(|(secs, _)| secs.parse().ok())
            .unwrap_or_else(|| panic!("no lifetime in the summary: {summary}"));
        assert!((1..3_600).contains(&lived), "{summary}");
    }
}
