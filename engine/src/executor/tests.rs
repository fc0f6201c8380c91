//! Engine behaviour on the `sim` target's virtual clock: ordering, DAG concurrency,
//! `for_each`, `when`, retry with backoff, timeout, `continue_on_error`, `finally`,
//! outputs flowing between steps, and how prior checkpoints steer a resume.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbook_actions::CancelSignal;
use runbook_backend::VirtualClock;
use runbook_backend::{Clock, TargetKind};
use runbook_state::{NewRun, StepRecord, StepStatus, Store};
use serde_json::{Value, json};

use super::{Execution, Outcome, RunScope, execute};
use crate::params::ResolvedParams;
use crate::progress::{Reporter, Shown};
use crate::runbook::{LoadedRunbook, load_str};

/// Records what the engine reports, with the virtual time of each report.
struct Recorder {
    clock: Clock,
    lines: Mutex<Vec<(i64, String)>>,
}

impl Recorder {
    fn push(&self, text: String) {
        self.lines
            .lock()
            .expect("lock")
            .push((self.clock.now_ms(), text));
    }
    fn lines(&self) -> Vec<(i64, String)> {
        self.lines.lock().expect("lock").clone()
    }
    fn at(&self, text: &str) -> i64 {
        self.lines()
            .into_iter()
            .find(|(_, l)| l == text)
            .unwrap_or_else(|| panic!("no `{text}` in {:#?}", self.lines()))
            .0
    }
    fn texts(&self) -> Vec<String> {
        self.lines().into_iter().map(|(_, l)| l).collect()
    }
}

impl Reporter for Recorder {
    fn run_started(&self, _: &str, _: &str, _: &str, _: bool) {}
    fn step_started(&self, key: &str, _: &str, attempt: u32, resumed: bool) {
        let suffix = if resumed { " resumed" } else { "" };
        self.push(format!("start {key} #{attempt}{suffix}"));
    }
    fn step_message(&self, key: &str, text: &str) {
        self.push(format!("say {key}: {text}"));
    }
    fn step_retrying(&self, key: &str, next: u32, delay: Duration, _: &str) {
        self.push(format!("retry {key} #{next} in {}ms", delay.as_millis()));
    }
    fn step_finished(&self, key: &str, shown: Shown, _: Duration, _: Option<&str>) {
        self.push(format!("end {key} {}", shown.as_str()));
    }
    fn run_finished(&self, _: &str, _: &str, _: Duration, _: Option<&str>) {}
    fn notice(&self, _: &str) {}
}

struct Harness {
    store: Arc<Mutex<Store>>,
    recorder: Arc<Recorder>,
    outcome: Outcome,
}

impl Harness {
    fn attempts(&self) -> Vec<StepRecord> {
        self.store
            .lock()
            .expect("lock")
            .attempts("run")
            .expect("attempts")
    }
}

fn loaded(yaml: &str) -> Arc<LoadedRunbook> {
    let runbook = load_str(yaml).unwrap_or_else(|d| panic!("invalid test runbook: {d:#?}"));
    Arc::new(LoadedRunbook {
        display_path: "test.yaml".into(),
        path: "test.yaml".into(),
        source: yaml.into(),
        content_hash: "hash".into(),
        runbook,
    })
}

fn new_store() -> Store {
    let mut store = Store::open_in_memory().expect("store");
    store
        .create_run(&NewRun {
            id: "run".into(),
            runbook_name: "test".into(),
            runbook_path: "test.yaml".into(),
            content_hash: "hash".into(),
            params: json!({}),
            lock_key: "key".into(),
            target: "sim".into(),
            started_at_ms: 0,
            pid: 1,
            host: "test".into(),
            settings: json!({"target": "sim"}),
            world: None,
        })
        .expect("run");
    store
}

async fn run_with(yaml: &str, store: Store, prior: BTreeMap<String, StepRecord>) -> Harness {
    let loaded = loaded(yaml);
    let clock = Clock::Virtual(VirtualClock::new(0, None));
    let recorder = Arc::new(Recorder {
        clock: clock.clone(),
        lines: Mutex::new(Vec::new()),
    });
    let ids: Vec<&str> = loaded
        .runbook
        .steps
        .iter()
        .chain(&loaded.runbook.finally)
        .map(|s| s.id.as_str())
        .collect();
    let params = ResolvedParams::default();
    let scope = RunScope::new(
        &params.values,
        serde_json::Map::new(),
        json!({"id": "run"}),
        &ids,
    );
    let store = Arc::new(Mutex::new(store));
    let exec = Arc::new(Execution {
        run_id: "run".into(),
        runbook: Arc::clone(&loaded),
        masker: params.masker(),
        param_origins: params.origins.clone(),
        scope,
        target: Arc::new(runbook_backend::Target::without_cloud(TargetKind::Sim)),
        clock,
        store: Arc::clone(&store),
        reporter: recorder.clone(),
        cancel: CancelSignal::never(),
        pace: Arc::new(crate::pace::Pace::none()),
        prior: Arc::new(prior),
        rerun_finally: false,
        key_prefix: String::new(),
        failed_inside: Default::default(),
    });
    let outcome = execute(exec).await;
    Harness {
        store,
        recorder,
        outcome,
    }
}

async fn run(yaml: &str) -> Harness {
    run_with(yaml, new_store(), BTreeMap::new()).await
}

#[tokio::test]
async fn steps_without_needs_run_in_file_order() {
    let h = run(r#"
name: t
steps:
  - { id: c, action: log, with: { message: "1" } }
  - { id: a, action: sleep, with: { duration: 5s } }
  - { id: b, action: log, with: { message: "2" } }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    let starts: Vec<String> = h
        .recorder
        .texts()
        .into_iter()
        .filter(|l| l.starts_with("start"))
        .collect();
    assert_eq!(starts, ["start c #1", "start a #1", "start b #1"]);
    assert_eq!(h.recorder.at("start b #1"), 5_000, "b waits for a's 5 s");
}

#[tokio::test]
async fn ready_steps_run_concurrently_and_interleave_in_virtual_time() {
    let h = run(r#"
name: t
steps:
  - { id: slow, action: sleep, with: { duration: 300s } }
  - { id: fast, action: sleep, needs: [], with: { duration: 90s } }
  - { id: after_fast, action: log, needs: [fast], with: { message: "fast done" } }
  - { id: join, action: log, needs: [slow, after_fast], with: { message: "both" } }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    assert_eq!(h.recorder.at("start slow #1"), 0);
    assert_eq!(
        h.recorder.at("start fast #1"),
        0,
        "fast does not wait for slow"
    );
    assert_eq!(h.recorder.at("end fast succeeded"), 90_000);
    // The step unblocked at 90 s starts at 90 s, not after slow's wait to 300 s.
    assert_eq!(h.recorder.at("start after_fast #1"), 90_000);
    assert_eq!(h.recorder.at("end slow succeeded"), 300_000);
    assert_eq!(h.recorder.at("start join #1"), 300_000);
}

#[tokio::test]
async fn for_each_instances_are_checkpointed_and_outputs_form_a_list() {
    let h = run(r#"
name: t
steps:
  - id: each
    action: log
    for_each: [red, green, blue]
    with: { message: "{{ index }}={{ item }}" }
  - id: check
    action: assert
    with:
      that:
        - "{{ steps.each.outputs | length == 3 }}"
        - "{{ steps.each.outputs[2].message == '2=blue' }}"
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    let keys: Vec<String> = h.attempts().into_iter().map(|a| a.step_key).collect();
    assert_eq!(keys, ["each[0]", "each[1]", "each[2]", "check"]);
}

#[tokio::test]
async fn parallel_for_each_runs_instances_side_by_side_within_the_bound() {
    let h = run(r#"
name: t
steps:
  - id: naps
    action: sleep
    for_each: [40s, 10s, 20s, 30s]
    parallel: 2
    with: { duration: "{{ item }}" }
  - id: check
    action: assert
    with:
      that: "{{ steps.naps.outputs | map(attribute='slept_ms') | list == [40000, 10000, 20000, 30000] }}"
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    // Two at a time: naps[2] takes the slot naps[1] frees at 10 s, naps[3] the one
    // naps[2] frees at 30 s; the step ends with the last, at 60 s, not after 100 s.
    assert_eq!(h.recorder.at("start naps[0] #1"), 0);
    assert_eq!(h.recorder.at("start naps[1] #1"), 0);
    assert_eq!(h.recorder.at("start naps[2] #1"), 10_000);
    assert_eq!(h.recorder.at("start naps[3] #1"), 30_000);
    assert_eq!(h.recorder.at("end naps[0] succeeded"), 40_000);
    assert_eq!(h.recorder.at("start check #1"), 60_000);
}

#[tokio::test]
async fn parallel_for_each_starts_nothing_new_after_a_failure() {
    let h = run(r#"
name: t
steps:
  - id: each
    action: assert
    for_each: [true, false, true, true]
    parallel: 2
    with: { that: "{{ item }}" }
"#)
    .await;
    assert!(
        matches!(&h.outcome, Outcome::Failed { step, .. } if step == "each"),
        "{:?}",
        h.outcome
    );
    let keys: Vec<String> = h.attempts().into_iter().map(|a| a.step_key).collect();
    assert!(
        !keys.contains(&"each[3]".to_string()),
        "no instance starts after the failure: {keys:?}"
    );
}

#[tokio::test]
async fn for_each_over_an_expression_of_earlier_outputs() {
    let h = run(r#"
name: t
steps:
  - { id: first, action: log, with: { message: "a,b" } }
  - id: each
    action: log
    for_each: "{{ steps.first.outputs.message | split(',') | list }}"
    with: { message: "got {{ item }}" }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    assert!(
        h.recorder
            .texts()
            .contains(&"say each[1]: got b".to_string())
    );
}

#[tokio::test]
async fn when_false_skips_and_later_steps_see_the_status() {
    let h = run(r#"
name: t
steps:
  - { id: maybe, action: log, when: "{{ 1 > 2 }}", with: { message: never } }
  - { id: report, action: log, with: { message: "maybe was {{ steps.maybe.status }}" } }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    assert!(
        h.recorder
            .texts()
            .contains(&"end maybe skipped".to_string())
    );
    assert!(
        h.recorder
            .texts()
            .contains(&"say report: maybe was skipped".to_string())
    );
    assert_eq!(h.attempts()[0].status, StepStatus::Skipped);
}

#[tokio::test]
async fn retries_back_off_exponentially_with_jitter_and_new_keys() {
    let h = run(r#"
name: t
steps:
  - id: flaky
    action: assert
    with: { that: false, message: nope }
    retry: { attempts: 4, delay: 10s, backoff: 2.0, max_delay: 30s }
"#)
    .await;
    assert!(
        matches!(&h.outcome, Outcome::Failed { step, error } if step == "flaky" && error.contains("nope"))
    );
    let retries: Vec<(i64, String)> = h
        .recorder
        .lines()
        .into_iter()
        .filter(|(_, l)| l.starts_with("retry"))
        .collect();
    assert_eq!(retries.len(), 3, "4 attempts mean 3 retries: {retries:?}");
    // Bases 10 s, 20 s, then 40 s capped at 30 s; jitter keeps each in [base/2, base].
    for ((_, line), base) in retries.iter().zip([10_000u64, 20_000, 30_000]) {
        let ms: u64 = line
            .split(" in ")
            .nth(1)
            .and_then(|s| s.trim_end_matches("ms").parse().ok())
            .expect("delay");
        assert!(
            (base / 2..=base).contains(&ms),
            "{line}: not within [{}, {base}]",
            base / 2
        );
    }
    let starts: Vec<i64> = h
        .recorder
        .lines()
        .into_iter()
        .filter(|(_, l)| l.starts_with("start flaky"))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(starts.len(), 4);
    assert!(
        starts.windows(2).all(|w| w[1] - w[0] >= 5_000),
        "attempts are spaced by the backoff: {starts:?}"
    );
    let attempts = h.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let mut keys: Vec<&str> = attempts
        .iter()
        .map(|a| a.idempotency_key.as_str())
        .collect();
    keys.dedup();
    assert_eq!(
        keys.len(),
        4,
        "every retry after a failure gets a new idempotency key"
    );
}

#[tokio::test]
async fn a_timeout_bounds_one_attempt_in_virtual_time() {
    let h = run(r#"
name: t
steps:
  - { id: long, action: sleep, with: { duration: 10m }, timeout: 1m }
"#)
    .await;
    match &h.outcome {
        Outcome::Failed { step, error } => {
            assert_eq!(step, "long");
            assert_eq!(error, "timed out after 1m");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(h.recorder.at("end long failed"), 60_000);
}

#[tokio::test]
async fn continue_on_error_lets_the_run_go_on() {
    let h = run(r#"
name: t
steps:
  - { id: bad, action: assert, with: { that: false }, continue_on_error: true }
  - { id: next, action: log, with: { message: "bad was {{ steps.bad.status }}" } }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    assert!(
        h.recorder
            .texts()
            .contains(&"say next: bad was failed".to_string())
    );
}

#[tokio::test]
async fn finally_runs_after_a_failure_and_the_run_still_fails() {
    let h = run(r#"
name: t
steps:
  - { id: bad, action: assert, with: { that: false, message: broken } }
  - { id: never, action: log, with: { message: unreachable } }
finally:
  - { id: cleanup, action: log, with: { message: "cleanup after {{ steps.bad.status }}, never is {{ steps.never.status }}" } }
"#)
    .await;
    assert!(matches!(&h.outcome, Outcome::Failed { step, .. } if step == "bad"));
    let texts = h.recorder.texts();
    assert!(!texts.iter().any(|l| l.starts_with("start never")));
    assert!(texts.contains(&"say cleanup: cleanup after failed, never is pending".to_string()));
}

#[tokio::test]
async fn typed_outputs_flow_to_later_steps() {
    let h = run(r#"
name: t
steps:
  - { id: nap, action: sleep, with: { duration: 2s } }
  - { id: check, action: assert, with: { that: "{{ steps.nap.outputs.slept_ms == 2000 }}" } }
  - { id: show, action: log, with: { message: "slept {{ steps.nap.outputs.slept_ms }}" } }
"#)
    .await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    let check = h
        .attempts()
        .into_iter()
        .find(|a| a.step_key == "check")
        .expect("check");
    assert_eq!(
        check.input["with"]["that"],
        Value::Bool(true),
        "a lone expression renders to a boolean"
    );
    assert!(
        h.recorder
            .texts()
            .contains(&"say show: slept 2000".to_string())
    );
}

#[tokio::test]
async fn a_render_error_at_run_time_names_the_position() {
    let h = run(r#"
name: t
steps:
  - { id: first, action: log, with: { message: hi } }
  - { id: second, action: log, with: { message: "{{ steps.first.outputs.message.nope }}" } }
"#)
    .await;
    // `message` is an output of `log` (validation knows), but a string: what is in
    // it is only known at run time.
    match &h.outcome {
        Outcome::Failed { step, error } => {
            assert_eq!(step, "second");
            assert!(error.contains("test.yaml:5:"), "{error}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

fn record(
    key: &str,
    attempt: u32,
    status: StepStatus,
    idempotency_key: &str,
    outputs: Option<Value>,
) -> StepRecord {
    StepRecord {
        run_id: "run".into(),
        step_key: key.into(),
        step_id: key.split('[').next().unwrap_or(key).into(),
        item_index: None,
        is_finally: false,
        attempt,
        idempotency_key: idempotency_key.into(),
        input: json!({}),
        status,
        outputs,
        error: None,
        started_at_ms: 0,
        clock_started_at_ms: None,
        failure: None,
        finished_at_ms: None,
    }
}

#[tokio::test]
async fn resume_skips_succeeded_steps_reenters_running_ones_with_their_key_and_retries_failed_ones()
{
    let yaml = r#"
name: t
steps:
  - { id: done, action: log, with: { message: first time } }
  - { id: waiting, action: sleep, with: { duration: 30s } }
  - { id: broken, action: log, with: { message: "done said {{ steps.done.outputs.message }}" } }
"#;
    let mut store = new_store();
    let running = record("waiting", 1, StepStatus::Running, "rb-kept", None);
    let start = runbook_state::StepStart {
        step_key: "waiting".into(),
        step_id: "waiting".into(),
        item_index: None,
        is_finally: false,
        attempt: 1,
        idempotency_key: "rb-kept".into(),
        input: json!({}),
        started_at_ms: 0,
        clock_started_at_ms: Some(0),
        durable: true,
    };
    store.begin_attempt("run", &start).expect("begin");
    let mut prior = BTreeMap::new();
    prior.insert(
        "done".to_string(),
        record(
            "done",
            1,
            StepStatus::Succeeded,
            "rb-a",
            Some(json!({"message": "from before"})),
        ),
    );
    prior.insert("waiting".to_string(), running);
    prior.insert(
        "broken".to_string(),
        record("broken", 2, StepStatus::Failed, "rb-old", None),
    );
    let h = run_with(yaml, store, prior).await;
    assert_eq!(h.outcome, Outcome::Succeeded);
    let texts = h.recorder.texts();
    assert!(
        !texts.iter().any(|l| l.starts_with("start done")),
        "a succeeded step never runs again"
    );
    assert!(texts.contains(&"start waiting #1 resumed".to_string()));
    assert!(
        texts.contains(&"start broken #3".to_string()),
        "a failed step gets the next attempt"
    );
    assert!(
        texts.contains(&"say broken: done said from before".to_string()),
        "reused outputs flow on"
    );
    let attempts = h.attempts();
    let waiting: Vec<&StepRecord> = attempts
        .iter()
        .filter(|a| a.step_key == "waiting")
        .collect();
    assert_eq!(waiting.len(), 1, "re-entering does not add an attempt");
    assert_eq!(waiting[0].idempotency_key, "rb-kept");
    assert_eq!(waiting[0].status, StepStatus::Succeeded);
    let broken = attempts
        .iter()
        .find(|a| a.step_key == "broken")
        .expect("broken");
    assert_eq!(broken.attempt, 3);
    assert_ne!(broken.idempotency_key, "rb-old");
}
