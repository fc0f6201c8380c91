//! Retries never double a cloud effect, and resumed waits keep their deadline: what
//! the state DB records about each attempt's idempotency key and start.

use nix::sys::signal::Signal;

use crate::harness::Test;

fn keys_of(t: &Test, run_id: &str, key: &str) -> Vec<String> {
    t.attempt_records(run_id)
        .into_iter()
        .filter(|a| a.step_key == key)
        .map(|a| a.idempotency_key)
        .collect()
}

#[test]
fn a_timed_out_attempt_is_retried_under_the_same_key_a_refused_one_under_a_new_key() {
    // `exec` has outside effects (Mutates): a timeout may have let it act, a non-zero
    // exit is a definitive answer.
    let yaml = r#"name: retries
steps:
  - id: slow
    action: exec
    with: { argv: [sh, -c, "echo x >> slow.log; sleep 5"], allow_on_sim: true }
    timeout: 300ms
    retry: { attempts: 2, delay: 10ms }
    continue_on_error: true
  - id: refused
    action: exec
    with: { argv: [sh, -c, "exit 3"], allow_on_sim: true }
    retry: { attempts: 2, delay: 10ms }
    continue_on_error: true
"#;
    let t = Test::new().runbook("retries.yaml", yaml);
    t.args(["run", "retries.yaml"]).run().success();
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let slow = keys_of(&t, &run_id, "slow");
    assert_eq!(slow.len(), 2, "{slow:?}");
    assert_eq!(slow[0], slow[1], "a retry after a timeout keeps the key");
    let refused = keys_of(&t, &run_id, "refused");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_ne!(
        refused[0], refused[1],
        "a retry after a refusal takes a new key"
    );
    let failures: Vec<_> = t
        .attempt_records(&run_id)
        .into_iter()
        .map(|a| (a.step_key, a.failure.map(|f| f.as_str())))
        .collect();
    assert!(
        failures.contains(&("slow".into(), Some("uncertain"))),
        "{failures:?}"
    );
    assert!(
        failures.contains(&("refused".into(), Some("rejected"))),
        "{failures:?}"
    );
}

#[test]
fn resuming_a_run_whose_call_timed_out_keeps_the_key() {
    let yaml = r#"name: resumed
steps:
  - id: slow
    action: exec
    with: { argv: [sh, -c, "test -e fast || sleep 5"], allow_on_sim: true }
    timeout: 300ms
"#;
    let t = Test::new().runbook("resumed.yaml", yaml);
    t.args(["run", "resumed.yaml"]).run().code(1);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    t.touch("fast");
    t.args(["resume", run_id.as_str()]).run().success();
    let keys = keys_of(&t, &run_id, "slow");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(
        keys[0], keys[1],
        "the resumed attempt repeats the call under its key"
    );
}

#[test]
fn an_error_that_retrying_cannot_fix_is_not_retried_and_says_so() {
    let yaml = r#"name: permanent
params:
  nap: { default: "a while" }
steps:
  - id: nap
    action: sleep
    with: { duration: "{{ params.nap }}" }
    retry: { attempts: 5, delay: 10ms }
"#;
    let t = Test::new().runbook("permanent.yaml", yaml);
    let out = t.args(["run", "permanent.yaml"]).run().code(1);
    assert!(
        out.stdout
            .contains("not retried: this error cannot go away by retrying"),
        "{}",
        out.stdout
    );
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    assert_eq!(keys_of(&t, &run_id, "nap").len(), 1, "one attempt only");
}

#[test]
fn an_interrupted_sleep_resumes_to_its_original_deadline() {
    let yaml = r#"name: nap
steps:
  - { id: nap, action: sleep, with: { duration: 40s } }
  - { id: after, action: log, with: { message: awake } }
"#;
    let t = Test::new().runbook("nap.yaml", yaml);
    // 20 virtual seconds per wall second: the sleep lasts 2 s of wall time.
    let mut bg = t.args(["run", "nap.yaml", "--sim-speed", "20"]).spawn();
    bg.wait_until("the sleep runs", || {
        t.runs().first().is_some_and(|r| {
            t.attempt_records(r["id"].as_str().unwrap_or_default())
                .iter()
                .any(|a| a.step_key == "nap")
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    bg.signal(Signal::SIGINT);
    bg.wait().code(130);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    // The resume is given no speed: it reuses the run's own.
    t.args(["resume", run_id.as_str()]).run().success();
    let after = t
        .attempt_records(&run_id)
        .into_iter()
        .find(|a| a.step_key == "after")
        .expect("after ran");
    assert_eq!(
        after.clock_started_at_ms,
        Some(40_000),
        "the step after the sleep starts at the sleep's original deadline"
    );
    assert_eq!(t.status(&run_id)["settings"]["sim_speed"], 20.0);
}
