//! The store shared by separate processes, as two cron invocations share it.
//!
//! The child processes are this test binary run again with `CHILD_ENV` set, executing
//! only `child_process`, which does one thing to the database and reports on stdout.

use std::path::Path;
use std::process::{Command, Output};

use runbook_state::{LockOutcome, LockRequest, NewRun, StepStart, StepStatus, Store};
use serde_json::json;

const CHILD_ENV: &str = "RUNBOOK_STATE_TEST_CHILD";
const DB_ENV: &str = "RUNBOOK_STATE_TEST_DB";
const MARK: &str = "CHILD-RESULT:";

/// Runs this test binary's `child_process` test with `action`.
fn run_child(action: &str, db: &Path) -> Output {
    let exe = std::env::current_exe().expect("current exe");
    Command::new(exe)
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, action)
        .env(DB_ENV, db)
        .output()
        .expect("spawn child")
}

fn child_result(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.split_once(MARK).map(|(_, result)| result))
        .unwrap_or_else(|| {
            panic!(
                "child printed no result; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_owned()
}

fn new_run(id: &str) -> NewRun {
    NewRun {
        id: id.into(),
        runbook_name: "nightly-batch".into(),
        runbook_path: "runbooks/nightly-batch.yaml".into(),
        content_hash: "h".into(),
        params: json!({}),
        lock_key: "nightly".into(),
        target: "aws".into(),
        started_at_ms: 1_000,
        pid: std::process::id(),
        host: "bench".into(),
        settings: json!({"target": "sim"}),
        world: None,
    }
}

/// Not a test of its own: the body of the child processes.
#[test]
fn child_process() {
    let Ok(action) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = std::env::var(DB_ENV).expect("db path");
    let mut store = Store::open(Path::new(&db)).expect("child open");
    match action.as_str() {
        "acquire" | "acquire-then-crash" => {
            let outcome = store
                .acquire_lock(&LockRequest {
                    lock_key: "nightly",
                    run_id: "child-run",
                    pid: std::process::id(),
                    host: "child-host",
                    now_ms: 2_000,
                })
                .expect("child acquire");
            let said = match &outcome {
                LockOutcome::Acquired {
                    taken_over_from, ..
                } => json!({"acquired": true, "taken_over_from": taken_over_from}),
                LockOutcome::Held(holder) => json!({"acquired": false, "holder": holder}),
            };
            println!("{MARK}{said}");
            if action == "acquire-then-crash" {
                // Die like `kill -9` while holding the lock: no destructors run.
                std::process::abort();
            }
        }
        "begin-durable-then-crash" => {
            store
                .begin_attempt(
                    "r1",
                    &StepStart {
                        step_key: "submit".into(),
                        step_id: "submit".into(),
                        item_index: None,
                        is_finally: false,
                        attempt: 1,
                        idempotency_key: "client-token-1".into(),
                        input: json!({"name": "job"}),
                        started_at_ms: 3_000,
                        clock_started_at_ms: None,
                        durable: true,
                    },
                )
                .expect("child begin");
            println!("{MARK}begun");
            // Die like `kill -9`: no destructors, the connection is never closed.
            std::process::abort();
        }
        other => panic!("unknown child action {other}"),
    }
}

fn child_said(output: &Output) -> serde_json::Value {
    serde_json::from_str(&child_result(output)).expect("child result")
}

#[test]
fn a_lock_held_by_one_process_is_seen_held_by_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let mut store = Store::open(&db).expect("open");
    let me = std::process::id();
    let outcome = store
        .acquire_lock(&LockRequest {
            lock_key: "nightly",
            run_id: "parent-run",
            pid: me,
            host: "parent-host",
            now_ms: 1_000,
        })
        .expect("acquire");
    let LockOutcome::Acquired { lock, .. } = outcome else {
        panic!("a free lock is acquired");
    };

    let said = child_said(&run_child("acquire", &db));
    assert_eq!(
        said,
        json!({"acquired": false, "holder": {
            "run_id": "parent-run", "pid": me, "host": "parent-host", "since_ms": 1_000
        }})
    );

    store.release_lock(lock).expect("release");
    let said = child_said(&run_child("acquire", &db));
    assert_eq!(said, json!({"acquired": true, "taken_over_from": null}));
    // The child has exited, so its lock is free again, and its row names it.
    let holder = store.lock_holder("nightly").expect("holder").expect("held");
    assert_eq!(holder.run_id, "child-run");
    assert_ne!(holder.pid, me);
}

#[test]
fn a_holder_killed_without_releasing_leaves_a_lock_that_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let output = run_child("acquire-then-crash", &db);
    assert!(!output.status.success(), "the child was meant to abort");
    assert_eq!(child_said(&output)["acquired"], json!(true));
    let mut store = Store::open(&db).expect("open");
    let outcome = store
        .acquire_lock(&LockRequest {
            lock_key: "nightly",
            run_id: "next-run",
            pid: std::process::id(),
            host: "parent-host",
            now_ms: 3_000,
        })
        .expect("acquire");
    match outcome {
        LockOutcome::Acquired {
            taken_over_from: Some(stale),
            ..
        } => assert_eq!(
            (stale.run_id.as_str(), stale.host.as_str()),
            ("child-run", "child-host")
        ),
        other => panic!("expected a takeover, got {other:?}"),
    }
}

#[test]
fn an_attempt_begun_by_a_process_that_crashed_is_found_on_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    Store::open(&db)
        .expect("open")
        .create_run(&new_run("r1"))
        .expect("create");

    let output = run_child("begin-durable-then-crash", &db);
    assert_eq!(child_result(&output), "begun");
    assert!(!output.status.success(), "the child was meant to abort");

    let store = Store::open(&db).expect("reopen after the crash");
    let latest = store.latest_attempts("r1").expect("attempts");
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!(latest[0].step_key, "submit");
    assert_eq!(latest[0].status, StepStatus::Running);
    assert_eq!(latest[0].idempotency_key, "client-token-1");
}
