//! `runbook report` on a run with 10,000 pods (`cargo bench -p runbook --bench report`).
//!
//! The run is generated through the `Store` API with the simulator's event shapes: 100
//! EMR jobs of 100 pods each (job-runner, driver, 90 executors, 8 of which are preempted
//! by the next job's executors and replaced), on 160 nodes of which 40 are spot nodes
//! removed before the end, plus two Spark task events per executor (which the report
//! reads past) and the 200 steps that submitted and waited for the jobs: about 68,000
//! events.
//!
//! Targets (issue 6): the report is written within 1 s and is at most 5 MB, so a
//! browser opens it without stalling. Printed: the end-to-end time of the release
//! binary (process start, state DB, model, HTML, file), the in-process split, and the
//! file size.

use std::process::Command;
use std::time::{Duration, Instant};

use runbook_state::{NewEvent, NewRun, StepFinish, StepStart, StepStatus, Store};
use serde_json::{Value, json};

const JOBS: usize = 100;
const EXECUTORS: u32 = 90;
const PREEMPTED: u32 = 8;
const NODES: usize = 160;
const SPOT_NODES: usize = 40;
const RUN: &str = "20261125-120000-bench1";

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("report.db");
    let generated = Instant::now();
    let (pods, events) = generate(&db);
    println!(
        "generated a run of {pods} pods and {events} events in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    let bin = env!("CARGO_BIN_EXE_runbook");
    let out = dir.path().join("report.html");
    let runs = 5;
    let mut walls = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let output = Command::new(bin)
            .arg("--state")
            .arg(&db)
            .args(["report", RUN, "-o"])
            .arg(&out)
            .output()
            .expect("run runbook report");
        walls.push(started.elapsed());
        assert!(
            output.status.success(),
            "runbook report failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    walls.sort();
    let size = std::fs::metadata(&out).expect("the report").len();
    let median = walls[runs / 2];
    println!(
        "runbook report, {pods} pods: median {:.0} ms, best {:.0} ms ({runs} runs) [target <= 1000 ms: {}]",
        ms(median),
        ms(walls[0]),
        verdict(median <= Duration::from_secs(1))
    );
    println!(
        "  HTML file: {:.2} MB [target <= 5 MB: {}]",
        size as f64 / 1e6,
        verdict(size <= 5_000_000)
    );

    // To look at the big report in a browser: RUNBOOK_REPORT_BENCH_OUT=/tmp/big.html.
    if let Some(keep) = std::env::var_os("RUNBOOK_REPORT_BENCH_OUT") {
        std::fs::copy(&out, &keep).expect("copy the report");
    }

    // Where the time goes, in process.
    let store = Store::open(&db).expect("open");
    let t0 = Instant::now();
    let run = store.run(RUN).expect("run").expect("the run exists");
    let attempts = store.attempts(RUN).expect("attempts");
    let events = store.events(RUN).expect("events");
    let t1 = Instant::now();
    let model =
        runbook::report::model::build(run, &attempts, &events, runbook::report::Liveness::Unknown);
    let t2 = Instant::now();
    let html = runbook::report::render(&model, 0);
    let t3 = Instant::now();
    assert_eq!(
        model.pods.len(),
        pods,
        "every generated pod is in the model"
    );
    assert_eq!(
        model.preemptions.len(),
        JOBS.saturating_sub(1) * PREEMPTED as usize
    );
    assert_eq!(model.replacements.len(), model.preemptions.len());
    println!(
        "  in process: load {:.0} ms, model {:.0} ms, render {:.0} ms ({} bytes)",
        ms(t1 - t0),
        ms(t2 - t1),
        ms(t3 - t2),
        html.len()
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "OVER" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An event of the world, as the sim target stores it.
fn world(at_ms: i64, data: Value) -> NewEvent {
    NewEvent {
        at_ms,
        kind: data["type"].as_str().expect("typed").to_owned(),
        step_key: None,
        subject: None,
        data,
    }
}

fn pod(ns: &str, name: &str, role: &str, job: &str, executor: Option<u32>) -> Value {
    let mut p =
        json!({"cluster": "bench", "namespace": ns, "name": name, "role": role, "job_id": job});
    if let Some(id) = executor {
        p["executor_id"] = json!(id);
    }
    p
}

/// As Spark on EMR names executors: the job name, 16 hex digits, `exec-N` (54
/// characters here, as in the priority demo).
fn executor_name(job: usize, executor: u32) -> String {
    format!(
        "nightly-batch-job-{job:03}-{:016x}-exec-{executor}",
        job * 0x9e37_79b9
    )
}

fn node_name(i: usize) -> String {
    format!(
        "ip-192-168-{}-{}.us-east-2.compute.internal",
        i / 250,
        i % 250
    )
}

/// Writes the run into `db`; returns (pods, events).
fn generate(db: &std::path::Path) -> (usize, usize) {
    let mut store = Store::open(db).expect("create the state DB");
    store
        .create_run(&NewRun {
            id: RUN.into(),
            runbook_name: "big-batch".into(),
            runbook_path: "big-batch.yaml".into(),
            content_hash: "bench".into(),
            params: json!({}),
            lock_key: "bench".into(),
            target: "sim".into(),
            started_at_ms: 1_795_600_000_000,
            pid: 1,
            host: "bench".into(),
            settings: json!({"target": "sim"}),
            world: None,
        })
        .expect("create run");
    let mut events: Vec<NewEvent> = Vec::new();
    for i in 0..NODES {
        let spot = i >= NODES - SPOT_NODES;
        let (cap, ty) = if spot {
            ("Spot", "r5.4xlarge")
        } else {
            ("OnDemand", "m5.4xlarge")
        };
        let at = if spot { 900_000 } else { 0 };
        let n = node_name(i);
        events.push(world(at, json!({"type": "NodeLaunched", "cluster": "bench", "node": n, "instance_type": ty, "capacity_type": cap, "provisioner": "default", "pending_pods": 10})));
        events.push(world(at + 45_000, json!({"type": "NodeAdded", "cluster": "bench", "node": n, "instance_type": ty, "capacity_type": cap, "allocatable": {"cpu_millis": 15_890, "memory_mib": 57_760}})));
        events.push(world(
            at + 60_000,
            json!({"type": "NodeReady", "cluster": "bench", "node": n}),
        ));
        if spot {
            events.push(world(3_900_000, json!({"type": "NodeRemoved", "cluster": "bench", "node": n, "reason": "empty for 30s (ttlSecondsAfterEmpty)"})));
        }
    }
    let mut pods = 0;
    let mut steps = Vec::new();
    for j in 0..JOBS {
        let job = format!("0000000{j:012}");
        let ns = format!("batch-{}", j % 5);
        let name = format!("nightly-batch-job-{j:03}");
        let t = 60_000 + i64::try_from(j).expect("small") * 30_000;
        let node = |k: usize| node_name((j * 7 + k) % NODES);
        let state = |at: i64, from: Option<&str>, to: &str| {
            let mut e = json!({"type": "JobStateChanged", "job_id": job, "job_name": name, "virtual_cluster_id": "vc", "namespace": ns, "to": to});
            if let Some(f) = from {
                e["from"] = json!(f);
            }
            world(at, e)
        };
        events.push(state(t, None, "PENDING"));
        events.push(state(t + 5_000, Some("PENDING"), "SUBMITTED"));
        let runner = pod(&ns, &format!("{job}-runner"), "controller", &job, None);
        let driver = pod(&ns, &format!("spark-{job}-driver"), "driver", &job, None);
        for (p, start, req) in [
            (&runner, t + 5_000, (200, 456)),
            (&driver, t + 25_000, (1000, 1633)),
        ] {
            events.push(world(start, json!({"type": "PodCreated", "pod": p, "priority": 400, "priority_class": "critical-priority", "requests": {"cpu_millis": req.0, "memory_mib": req.1}})));
            events.push(world(
                start,
                json!({"type": "PodScheduled", "pod": p, "node": node(0)}),
            ));
            events.push(world(
                start + 8_000,
                json!({"type": "PodStarted", "pod": p, "node": node(0)}),
            ));
            events.push(world(
                t + 1_200_000,
                json!({"type": "PodSucceeded", "pod": p, "node": node(0)}),
            ));
            pods += 1;
        }
        events.push(state(t + 33_000, Some("SUBMITTED"), "RUNNING"));
        let end = t + 1_200_000;
        // Executors 1-8 of every job but the first are preempted by the previous job's
        // executors, and replaced by executors 91-98.
        let executors = if j == 0 {
            EXECUTORS
        } else {
            EXECUTORS + PREEMPTED
        };
        for e in 1..=executors {
            let replacement = e > EXECUTORS;
            let preempted = j > 0 && e <= PREEMPTED;
            let created = t + 40_000 + if replacement { 400_000 } else { 0 };
            let exec_name = executor_name(j, e);
            let p = pod(&ns, &exec_name, "executor", &job, Some(e));
            let k = 1 + e as usize % 6;
            events.push(world(created, json!({"type": "ExecutorRequested", "job_id": job, "namespace": ns, "executor_id": e, "pod": exec_name})));
            events.push(world(created, json!({"type": "PodCreated", "pod": p, "priority": 100, "priority_class": "low-priority", "requests": {"cpu_millis": 1000, "memory_mib": 3067}})));
            events.push(world(
                created + 2_000,
                json!({"type": "PodScheduled", "pod": p, "node": node(k)}),
            ));
            events.push(world(
                created + 4_000,
                json!({"type": "PodStarted", "pod": p, "node": node(k)}),
            ));
            events.push(world(created + 10_000, json!({"type": "TaskStarted", "job_id": job, "task": e, "attempt": 0, "executor_id": e, "duration_ms": 20_000})));
            events.push(world(created + 30_000, json!({"type": "TaskFinished", "job_id": job, "task": e, "attempt": 0, "executor_id": e})));
            let gone = if preempted {
                let at = created + 200_000;
                let by = pod(
                    &format!("batch-{}", (j + 4) % 5),
                    &executor_name(j - 1, e),
                    "executor",
                    &format!("0000000{:012}", j - 1),
                    Some(e),
                );
                events.push(world(at, json!({"type": "PodPreempted", "pod": p, "node": node(k), "priority": 100, "preemptor": by, "preemptor_uid": "uid", "preemptor_priority": 400, "reason": "Preempted", "message": "Preempted by pod uid"})));
                events.push(world(at, json!({"type": "PodTerminating", "pod": p, "node": node(k), "grace_period_seconds": 30, "reason": "Preempted"})));
                events.push(world(at, json!({"type": "ExecutorLost", "job_id": job, "executor_id": e, "pod": exec_name, "reason": "preempted"})));
                events.push(world(
                    at + 30_000,
                    json!({"type": "PodDeleted", "pod": p, "node": node(k), "reason": "Preempted"}),
                ));
                true
            } else {
                false
            };
            if !gone {
                events.push(world(end - 3_000, json!({"type": "PodTerminating", "pod": p, "node": node(k), "grace_period_seconds": 30, "reason": "ApplicationFinished"})));
                events.push(world(end - 1_000, json!({"type": "PodDeleted", "pod": p, "node": node(k), "reason": "ApplicationFinished"})));
            }
            pods += 1;
        }
        events.push(state(end + 2_000, Some("RUNNING"), "COMPLETED"));
        steps.push((format!("submit[{j}]"), "submit-job", t, t));
        steps.push((format!("wait[{j}]"), "wait-for-job", t, end + 2_000));
    }
    // The first job has no replacements: top up with system pods to 10,000 pods.
    let mut s = 0;
    while pods < JOBS * 100 {
        let p = json!({"cluster": "bench", "namespace": "kube-system", "name": format!("aws-node-{s}"), "role": "system"});
        events.push(world(45_000, json!({"type": "PodCreated", "pod": p, "priority": 2_000_001_000, "priority_class": "system-node-critical", "requests": {"cpu_millis": 25, "memory_mib": 0}})));
        events.push(world(
            45_000,
            json!({"type": "PodScheduled", "pod": p, "node": node_name(s)}),
        ));
        events.push(world(
            50_000,
            json!({"type": "PodStarted", "pod": p, "node": node_name(s)}),
        ));
        pods += 1;
        s += 1;
    }
    let total = events.len() + 2 * steps.len();
    // Appended as the target does: in order of time, in batches (one per checkpoint).
    events.sort_by_key(|e| e.at_ms);
    for chunk in events.chunks(5_000) {
        store.append_events(RUN, chunk).expect("append events");
    }
    for (key, action, start, end) in steps {
        let step_event = |kind: &str, at: i64, data: Value| NewEvent {
            at_ms: at,
            kind: kind.into(),
            step_key: Some(key.clone()),
            subject: None,
            data,
        };
        store
            .record_attempt(
                RUN,
                &StepStart {
                    step_key: key.clone(),
                    step_id: key.split('[').next().unwrap_or_default().to_owned(),
                    item_index: None,
                    is_finally: false,
                    attempt: 1,
                    idempotency_key: format!("key-{key}"),
                    input: json!({"action": action}),
                    started_at_ms: 1_795_600_000_000,
                    clock_started_at_ms: None,
                    durable: false,
                },
                &StepFinish {
                    status: StepStatus::Succeeded,
                    outputs: Some(json!({})),
                    error: None,
                    failure: None,
                    finished_at_ms: 1_795_600_000_001,
                },
                &[
                    step_event(
                        "step.started",
                        start,
                        json!({"attempt": 1, "action": action, "resumed": false}),
                    ),
                    step_event(
                        "step.finished",
                        end,
                        json!({"attempt": 1, "status": "succeeded", "error": null}),
                    ),
                ],
                None,
            )
            .expect("record a step");
    }
    store
        .set_run_status(
            RUN,
            runbook_state::RunStatus::Succeeded,
            Some(1_795_600_060_000),
            None,
        )
        .expect("finish the run");
    (pods, total)
}
