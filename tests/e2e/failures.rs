//! Failure paths: a failed step (exit 1, `finally` still runs, the error is recorded),
//! `retry`, `continue_on_error`, timeouts, and resuming a failed run.

use std::time::{Duration, Instant};

use crate::harness::{Test, run_id_of, started_steps, step, step_summary};

/// `flaky` fails until the file `fixed` exists; `finally` records what it saw.
const FAILING: &str = r#"name: failing
steps:
  - id: before
    action: exec
    with: { argv: [sh, -c, "echo before >> counter"], allow_on_sim: true }
  - id: flaky
    action: exec
    with: { argv: [sh, -c, "echo flaky >> counter; [ -e fixed ] || { echo it broke >&2; exit 3; }"], allow_on_sim: true }
  - id: after
    action: exec
    with: { argv: [sh, -c, "echo after >> counter"], allow_on_sim: true }
finally:
  - id: cleanup
    action: exec
    with: { argv: [sh, -c, "echo cleanup saw {{ steps.flaky.status }} >> counter"], allow_on_sim: true }
"#;

#[test]
fn failing_step_exits_1_runs_finally_and_records_the_error() {
    let t = Test::new().runbook("failing.yaml", FAILING);
    let out = t
        .args(["--output", "json", "run", "failing.yaml"])
        .run()
        .code(1);
    let run_id = run_id_of(&out.events());
    assert_eq!(
        out.stderr,
        format!(
            "hint: fix the cause, then `runbook resume {run_id}` retries the failed step; or `runbook abandon {run_id}` to retire the run (a scheduled `run --resume-incomplete` starts a new run either way)\n"
        )
    );
    // `after` did not run; `finally` did, and saw the failure.
    assert_eq!(
        t.lines("counter"),
        ["before", "flaky", "cleanup saw failed"]
    );

    let run = t.only_run();
    assert_eq!(run["status"], "failed");
    assert_eq!(run["failed_step"], "flaky");
    let status = t.status(&run_id);
    assert_eq!(status["status"], "failed");
    assert_eq!(
        status["error"],
        "step flaky (exec) failed: `sh` exited with code 3: it broke"
    );
    assert_eq!(
        step_summary(&status),
        [
            ("before".to_owned(), "succeeded".to_owned(), 1),
            ("flaky".to_owned(), "failed".to_owned(), 1),
            ("cleanup".to_owned(), "succeeded".to_owned(), 1),
        ]
    );
    assert_eq!(
        step(&status, "flaky")["error"],
        "`sh` exited with code 3: it broke"
    );
    assert_eq!(step(&status, "cleanup")["finally"], true);

    // The table says the same, and how to go on.
    let text = t.args(["status", run_id.as_str()]).run().success().stdout;
    assert!(
        text.contains("error: `sh` exited with code 3: it broke"),
        "{text}"
    );
    assert!(
        text.contains(&format!("resume with: runbook resume {run_id}")),
        "{text}"
    );
}

/// `resume` of a failed run retries the failed step as a new attempt under a new
/// idempotency key (a failed cloud job is not "resumed"), and does not redo `before`.
#[test]
fn resume_after_failure_retries_with_a_new_attempt_and_key() {
    let t = Test::new().runbook("failing.yaml", FAILING);
    let out = t
        .args(["--output", "json", "run", "failing.yaml"])
        .run()
        .code(1);
    let run_id = run_id_of(&out.events());
    let first_key = t
        .attempt_records(&run_id)
        .into_iter()
        .find(|r| r.step_key == "flaky")
        .expect("flaky record")
        .idempotency_key;

    t.touch("fixed");
    let out = t
        .args(["--output", "json", "resume", run_id.as_str()])
        .run()
        .success();
    let starts = started_steps(&out.events());
    assert_eq!(
        starts.first(),
        Some(&("flaky".to_owned(), 2, false)),
        "{starts:?}"
    );
    assert!(
        !starts.iter().any(|(k, _, _)| k == "before"),
        "`before` ran again: {starts:?}"
    );
    let lines = t.lines("counter");
    assert_eq!(
        &lines[..4],
        ["before", "flaky", "cleanup saw failed", "flaky"]
    );
    assert!(lines.contains(&"after".to_owned()), "{lines:?}");

    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(step(&status, "flaky")["attempts"], 2);
    assert_eq!(step(&status, "flaky")["status"], "succeeded");
    assert_eq!(step(&status, "flaky")["error"], serde_json::Value::Null);

    let keys: Vec<(u32, String)> = t
        .attempt_records(&run_id)
        .into_iter()
        .filter(|r| r.step_key == "flaky")
        .map(|r| (r.attempt, r.idempotency_key))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], (1, first_key));
    assert_eq!(keys[1].0, 2);
    assert_ne!(
        keys[1].1, keys[0].1,
        "a retry after a failure reused the key"
    );
}

/// `finally` runs when a run ends. A resumed run that had failed ends again, after
/// running steps the first `finally` never saw (here `after`), so its clean-up runs
/// again at the end (not "already done" from the failed run).
#[test]
fn finally_runs_again_at_the_end_of_a_resumed_failed_run() {
    let t = Test::new().runbook("failing.yaml", FAILING);
    t.args(["run", "failing.yaml"]).run().code(1);
    t.touch("fixed");
    t.args(["resume"]).run().success();
    assert_eq!(
        t.lines("counter"),
        [
            "before",
            "flaky",
            "cleanup saw failed",
            "flaky",
            "after",
            "cleanup saw succeeded"
        ]
    );
}

#[test]
fn retry_succeeds_on_the_third_attempt() {
    // Fails twice, then succeeds; the delays are virtual time on `sim`.
    let yaml = r#"name: retrying
steps:
  - id: shaky
    action: exec
    retry: { attempts: 3, delay: 10s, backoff: 2.0 }
    with:
      argv: [sh, -c, "n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; [ $n -ge 3 ] || { echo try $n failed >&2; exit 1; }"]
      allow_on_sim: true
"#;
    let t = Test::new().runbook("retrying.yaml", yaml);
    let out = t
        .args(["--output", "json", "run", "retrying.yaml"])
        .run()
        .success();
    assert_eq!(t.read("tries").trim(), "3");
    let events = out.events();
    assert_eq!(
        started_steps(&events),
        [
            ("shaky".to_owned(), 1, false),
            ("shaky".to_owned(), 2, false),
            ("shaky".to_owned(), 3, false)
        ]
    );
    let retrying: Vec<(u64, String, u64)> = events
        .iter()
        .filter(|e| e["event"] == "step_retrying")
        .map(|e| {
            (
                e["next_attempt"].as_u64().unwrap_or_default(),
                e["error"].as_str().unwrap_or_default().to_owned(),
                e["delay_ms"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(retrying.len(), 2, "{retrying:?}");
    assert_eq!(
        (retrying[0].0, retrying[0].1.as_str()),
        (2, "`sh` exited with code 1: try 1 failed")
    );
    assert_eq!(
        (retrying[1].0, retrying[1].1.as_str()),
        (3, "`sh` exited with code 1: try 2 failed")
    );
    // Backoff with jitter in the upper half: 5-10 s, then 10-20 s.
    assert!((5_000..=10_000).contains(&retrying[0].2), "{retrying:?}");
    assert!((10_000..=20_000).contains(&retrying[1].2), "{retrying:?}");

    let run_id = run_id_of(&events);
    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(
        step_summary(&status),
        [("shaky".to_owned(), "succeeded".to_owned(), 3)]
    );
    let keys: std::collections::BTreeSet<String> = t
        .attempt_records(&run_id)
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 3, "every attempt has its own key: {keys:?}");
}

#[test]
fn retry_gives_up_after_its_attempts() {
    let yaml = r#"name: hopeless
steps:
  - id: never
    action: exec
    retry: { attempts: 2, delay: 1s }
    with: { argv: [sh, -c, "echo try >> counter; exit 4"], allow_on_sim: true }
"#;
    let t = Test::new().runbook("hopeless.yaml", yaml);
    t.args(["run", "hopeless.yaml"]).run().code(1);
    assert_eq!(t.lines("counter"), ["try", "try"]);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&run_id);
    assert_eq!(
        step_summary(&status),
        [("never".to_owned(), "failed".to_owned(), 2)]
    );
    assert_eq!(step(&status, "never")["error"], "`sh` exited with code 4");
}

#[test]
fn continue_on_error_lets_later_steps_run_and_the_run_succeed() {
    let yaml = r#"name: tolerant
steps:
  - id: optional
    action: exec
    continue_on_error: true
    with: { argv: [sh, -c, "echo optional >> counter; exit 5"], allow_on_sim: true }
  - id: next
    action: exec
    with: { argv: [sh, -c, "echo next saw {{ steps.optional.status }} >> counter"], allow_on_sim: true }
"#;
    let t = Test::new().runbook("tolerant.yaml", yaml);
    let out = t
        .args(["--output", "json", "run", "tolerant.yaml"])
        .run()
        .success();
    assert_eq!(t.lines("counter"), ["optional", "next saw failed"]);
    let events = out.events();
    let last = events.last().expect("events");
    assert_eq!(
        (&last["event"], &last["status"]),
        (&"run_finished".into(), &"succeeded".into())
    );
    let run_id = run_id_of(&events);
    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(step(&status, "optional")["status"], "failed");
    assert_eq!(
        step(&status, "optional")["error"],
        "`sh` exited with code 5"
    );
    assert_eq!(step(&status, "next")["status"], "succeeded");
    assert_eq!(t.only_run()["failed_step"], serde_json::Value::Null);
}

/// `exec`'s own `timeout` kills the program (wall-clock time).
#[test]
fn exec_timeout_kills_the_program() {
    let yaml = r#"name: slow
steps:
  - id: slow
    action: exec
    with: { argv: [sleep, "5"], timeout: 300ms, allow_on_sim: true }
"#;
    let t = Test::new().runbook("slow.yaml", yaml);
    let started = Instant::now();
    t.args(["run", "slow.yaml"]).run().code(1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let status = t.status(t.only_run()["id"].as_str().expect("id"));
    let error = step(&status, "slow")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(error, "`sleep` timed out after 300ms and was killed");
}

/// The step's `timeout` in virtual time: a 10-minute sleep with a 1-minute timeout
/// fails at once, at t+1m.
#[test]
fn step_timeout_bounds_a_virtual_sleep() {
    let yaml = r#"name: nap
steps:
  - id: nap
    action: sleep
    timeout: 1m
    with: { duration: 10m }
"#;
    let t = Test::new().runbook("nap.yaml", yaml);
    let started = Instant::now();
    let out = t
        .args(["--output", "json", "run", "nap.yaml"])
        .run()
        .code(1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let finished = out
        .events()
        .into_iter()
        .find(|e| e["event"] == "step_finished")
        .expect("step_finished");
    assert_eq!(finished["status"], "failed");
    assert_eq!(finished["detail"], "timed out after 1m");
    assert_eq!(finished["sim_ms"], 60_000);
}

/// The step's `timeout` on an `exec` step bounds the program on every target. On `sim`
/// virtual time stands still while a program runs, so the deadline must also count
/// wall time (it once never fired: the step ran its full 5 s and succeeded).
#[test]
fn step_timeout_bounds_an_exec_step_on_sim() {
    let yaml = r#"name: slow
steps:
  - id: slow
    action: exec
    timeout: 300ms
    with: { argv: [sleep, "5"], allow_on_sim: true }
"#;
    let t = Test::new().runbook("slow.yaml", yaml);
    let started = Instant::now();
    let out = t.args(["run", "slow.yaml"]).run();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    out.code(1);
    let status = t.status(t.only_run()["id"].as_str().expect("id"));
    let error = step(&status, "slow")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("timed out"), "{error}");
}
