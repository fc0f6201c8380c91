//! The canned runbooks of `runbooks/` on the `sim` target, through the binary: each
//! runs green by itself, the priority demo tells the walkthrough's story (and its
//! assertion can fail), and a demo killed at any point resumes to the same story with
//! one submission per job.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::harness::Test;

/// The path of a runbook of `runbooks/`.
pub(crate) fn canned(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(name)
        .display()
        .to_string()
}

/// The file names of every runbook of `runbooks/`, sorted.
pub(crate) fn canned_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("runbooks/")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[test]
fn every_canned_runbook_validates_and_runs_green_on_sim() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let names = canned_names();
    for expected in [
        "platform-setup.yaml",
        "simple-job.yaml",
        "priority-demo.yaml",
        "autoscaling-demo.yaml",
        "nightly-batch.yaml",
        "teardown.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "runbooks/{expected} is missing"
        );
    }
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).expect("read runbook");
        assert!(
            text.starts_with("# yaml-language-server: $schema=../runbook.schema.json"),
            "{name} lacks the schema comment"
        );
        let t = Test::new();
        t.args(["validate", &canned(name)]).run().success();
        let out = t
            .args(["--output", "plain", "run", &canned(name)])
            .run()
            .success();
        assert!(out.stdout.contains("succeeded"), "{name}:\n{}", out.stdout);
    }
}

#[test]
fn teardown_is_safe_to_run_twice() {
    let t = Test::new();
    t.args(["run", &canned("teardown.yaml")]).run().success();
    t.args(["run", &canned("teardown.yaml")]).run().success();
    assert_eq!(t.runs_with_status("succeeded").len(), 2);
}

/// The walkthrough's story, from the run's recorded events.
fn assert_priority_story(t: &Test, run_id: &str) {
    let status = t.status(run_id);
    assert_eq!(status["status"], "succeeded", "{status:#}");
    let step = |key: &str| -> Value {
        status["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["key"] == key).cloned())
            .unwrap_or_else(|| panic!("no step {key} in {status:#}"))
    };
    let low = step("low_job")["outputs"]["job_id"]
        .as_str()
        .expect("low job id")
        .to_string();
    let high = step("high_job")["outputs"]["job_id"]
        .as_str()
        .expect("high job id")
        .to_string();
    let events = t.event_records(run_id);
    let preempted: Vec<&runbook_state::EventRecord> =
        events.iter().filter(|e| e.kind == "PodPreempted").collect();
    assert_eq!(
        preempted.len(),
        1,
        "exactly one pod is preempted: {preempted:#?}"
    );
    let p = &preempted[0].data;
    assert_eq!(str_at(p, "/pod/job_id"), Some(low.as_str()));
    assert_eq!(str_at(p, "/pod/role"), Some("executor"));
    assert_eq!(
        p.pointer("/pod/executor_id").and_then(Value::as_u64),
        Some(2),
        "executor #2 is the victim"
    );
    assert_eq!(str_at(p, "/preemptor/job_id"), Some(high.as_str()));
    let completed = |job: &str| {
        events
            .iter()
            .find(|e| {
                e.kind == "JobStateChanged"
                    && str_at(&e.data, "/job_id") == Some(job)
                    && str_at(&e.data, "/to") == Some("COMPLETED")
            })
            .map(|e| e.at_ms)
            .unwrap_or_else(|| panic!("job {job} never completed"))
    };
    assert!(
        completed(&high) < completed(&low),
        "the high-priority job finishes first"
    );
    let executor3 = events.iter().find(|e| {
        e.kind == "PodStarted"
            && str_at(&e.data, "/pod/job_id") == Some(low.as_str())
            && e.data.pointer("/pod/executor_id").and_then(Value::as_u64) == Some(3)
    });
    assert!(executor3.is_some(), "the low job gets executor #3 back");
    let submissions = events
        .iter()
        .filter(|e| e.kind == "JobStateChanged" && str_at(&e.data, "/to") == Some("PENDING"))
        .count();
    assert_eq!(submissions, 2, "one submission per job");
}

#[test]
fn priority_demo_tells_the_walkthrough_story() {
    let t = Test::new();
    let out = t
        .args(["--output", "plain", "run", &canned("priority-demo.yaml")])
        .run()
        .success();
    assert!(
        out.stdout.contains("executor #2 preempted"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("replacement executor #3 running"),
        "{}",
        out.stdout
    );
    let run = t.only_run();
    assert_priority_story(&t, run["id"].as_str().expect("run id"));
}

#[test]
fn priority_demo_on_two_nodes_fails_its_eviction_assertion() {
    let t = Test::new();
    let out = t
        .args([
            "--output",
            "plain",
            "run",
            &canned("priority-demo.yaml"),
            "--set",
            "nodes=2",
        ])
        .run()
        .code(1);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("step eviction failed"), "{text}");
    assert!(text.contains("no executor of job"), "{text}");
    assert!(
        text.contains("2 of its 2 executor(s) ran to completion"),
        "{text}"
    );
}

#[test]
fn priority_demo_killed_anywhere_resumes_to_the_same_story() {
    // At 3000 virtual seconds per wall second the demo takes about half a second, so
    // kills at these instants land in different steps: cluster creation, set-up, the
    // jobs' waits.
    let mut killed_mid_run = 0;
    for at_ms in [60u64, 200, 330, 420, 520] {
        let t = Test::new();
        let running = t
            .args([
                "--output",
                "plain",
                "run",
                &canned("priority-demo.yaml"),
                "--sim-speed",
                "3000",
            ])
            .spawn();
        std::thread::sleep(Duration::from_millis(at_ms));
        if !running.kill9_or_exit() {
            continue;
        }
        let runs = t.runs();
        // Killed before the run was recorded, or after it had recorded its success
        // (the process was still exiting): not a kill mid-run.
        if runs.is_empty() || runs[0]["status"] == "succeeded" {
            continue;
        }
        killed_mid_run += 1;
        t.args(["--output", "plain", "resume"]).run().success();
        let run = t.only_run();
        assert_priority_story(&t, run["id"].as_str().expect("run id"));
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} kills landed mid-run"
    );
}

#[test]
fn the_committed_schema_is_what_runbook_schema_prints() {
    let t = Test::new();
    let printed = t.args(["schema"]).run().success().stdout;
    let committed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runbook.schema.json"),
    )
    .expect("runbook.schema.json");
    assert!(
        printed == committed,
        "runbook.schema.json is stale: run `runbook schema > runbook.schema.json`"
    );
    let schema: Value = serde_json::from_str(&printed).expect("JSON");
    // What yaml-language-server reads to know the file is a JSON Schema, and shows.
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "runbook");
    assert!(schema["description"].is_string());
    for action in [
        "submit-job",
        "assert-eviction",
        "create-cluster",
        "wait-for-pods",
    ] {
        assert!(
            schema.pointer(&format!("/$defs/with.{action}")).is_some(),
            "the schema lacks `with` of {action}"
        );
    }
}
