//! A run from start to end: the output modes, outputs flowing between steps, typed
//! `--set` params, DAG concurrency, and where the state DB lives.

use serde_json::Value;

use crate::harness::{Test, json_lines, redact_times, run_id_of, step, step_summary};

const EVENTS: &str = r#"name: events
params:
  n: { type: integer, default: 2 }
  items: { type: list, default: [a, b] }
steps:
  - id: hello
    action: log
    with: { message: "hello x{{ params.n }}" }
  - id: echo
    action: exec
    with: { argv: [echo, "from exec"], allow_on_sim: true }
  - id: each
    action: log
    for_each: "{{ params.items }}"
    with: { message: "item {{ index }}={{ item }} said {{ steps.echo.outputs.stdout | trim }}" }
  - id: never
    action: log
    when: "{{ params.n > 5 }}"
    with: { message: never }
  - id: nap
    action: sleep
    with: { duration: 90s }
finally:
  - id: bye
    action: log
    with: { message: "bye after {{ steps.each.outputs | length }} items, n+1={{ params.n + 1 }}" }
"#;

/// `--output json`: one JSON object per line, each with an `event`, in order; the
/// changing fields (wall-clock times, the run id) are redacted.
#[test]
fn json_output_is_one_event_per_line() {
    let t = Test::new().runbook("events.yaml", EVENTS);
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "events.yaml",
            "--set",
            "n=3",
            "--set",
            "items=[x,y,z]",
        ])
        .run()
        .success();
    assert_eq!(out.stderr, "");
    let events = out.events();
    let run_id = run_id_of(&events);
    let redacted: Vec<String> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let ts = e["ts"].as_str().unwrap_or_default().to_owned();
            assert_eq!(redact_times(&ts), "[time]", "not an RFC 3339 time: {ts}");
            e["ts"] = "[ts]".into();
            if e.get("elapsed_ms").is_some() {
                assert!(e["elapsed_ms"].is_u64(), "{e}");
                e["elapsed_ms"] = "[ms]".into();
            }
            if e.get("run").is_some() {
                assert_eq!(e["run"], run_id.as_str());
                e["run"] = "[run]".into();
            }
            e.to_string()
        })
        .collect();
    insta::assert_snapshot!(redacted.join("\n"), @r#"
    {"run":"[run]","runbook":"events.yaml","target":"sim","resumed":false,"ts":"[ts]","sim_ms":0,"event":"run_started"}
    {"step":"hello","action":"log","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"hello","message":"hello x3","ts":"[ts]","sim_ms":0,"event":"step_message"}
    {"step":"hello","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"echo","action":"exec","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"echo","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"each[0]","action":"log","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"each[0]","message":"item 0=x said from exec","ts":"[ts]","sim_ms":0,"event":"step_message"}
    {"step":"each[0]","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"each[1]","action":"log","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"each[1]","message":"item 1=y said from exec","ts":"[ts]","sim_ms":0,"event":"step_message"}
    {"step":"each[1]","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"each[2]","action":"log","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"each[2]","message":"item 2=z said from exec","ts":"[ts]","sim_ms":0,"event":"step_message"}
    {"step":"each[2]","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"never","status":"skipped","elapsed_ms":"[ms]","detail":"`when` is false","ts":"[ts]","sim_ms":0,"event":"step_finished"}
    {"step":"nap","action":"sleep","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":0,"event":"step_started"}
    {"step":"nap","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":90000,"event":"step_finished"}
    {"step":"bye","action":"log","attempt":1,"resumed":false,"ts":"[ts]","sim_ms":90000,"event":"step_started"}
    {"step":"bye","message":"bye after 3 items, n+1=4","ts":"[ts]","sim_ms":90000,"event":"step_message"}
    {"step":"bye","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":90000,"event":"step_finished"}
    {"run":"[run]","status":"succeeded","elapsed_ms":"[ms]","detail":null,"ts":"[ts]","sim_ms":90000,"event":"run_finished"}
    "#);

    // What was printed is what was recorded.
    let status = t.status(&run_id);
    assert_eq!(
        status["params"],
        serde_json::json!({"n": 3, "items": ["x", "y", "z"]})
    );
    assert_eq!(step(&status, "echo")["outputs"]["stdout"], "from exec\n");
    assert_eq!(step(&status, "never")["status"], "skipped");
    assert_eq!(step(&status, "nap")["outputs"]["slept_ms"], 90_000);
}

/// Without `--output`, stdout that is not a terminal gets plain timestamped lines.
#[test]
fn plain_lines_when_stdout_is_not_a_terminal() {
    let t = Test::new().runbook("events.yaml", EVENTS);
    for args in [
        vec!["run", "events.yaml"],
        vec!["--output", "plain", "run", "events.yaml"],
    ] {
        let out = t.args(args).run().success();
        let lines: Vec<String> = out
            .stdout
            .lines()
            .map(|l| {
                // "<time> [t+<virtual>] <text>"
                let redacted = redact_times(l);
                let rest = redacted
                    .strip_prefix("[time] [t+")
                    .unwrap_or_else(|| panic!("not a plain line: {l}"));
                let (_, text) = rest.split_once("] ").expect("virtual time");
                text.to_owned()
            })
            .collect();
        let run_id = t.runs()[0]["id"].as_str().expect("id").to_owned();
        assert_eq!(
            lines.first().map(String::as_str),
            Some(format!("run {run_id} started: events.yaml on target sim").as_str())
        );
        for expected in [
            "hello: hello x2",
            "each[1]: item 1=b said from exec",
            "step never skipped: `when` is false",
            "bye: bye after 2 items, n+1=3",
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "no `{expected}` in {lines:#?}"
            );
        }
        let last = lines.last().expect("lines");
        assert!(
            last.starts_with(&format!("run {run_id} succeeded in ")),
            "{last}"
        );
        assert!(
            out.stdout.contains("[t+1m30s] step nap succeeded"),
            "virtual time is shown: {}",
            out.stdout
        );
    }
}

/// Steps whose `needs` are done run concurrently: `left` and `right` each wait for the
/// other to have started, so they can only finish if they run at the same time.
#[test]
fn steps_with_needs_run_concurrently() {
    let rendezvous = |me: &str, other: &str| {
        format!(
            "touch {me}-up; i=0; while [ ! -e {other}-up ]; do [ $i -lt 500 ] || exit 9; sleep 0.02; i=$((i+1)); done; echo {me} >> counter"
        )
    };
    let yaml = format!(
        r#"name: dag
steps:
  - id: start
    action: exec
    with: {{ argv: [sh, -c, "echo start >> counter"], allow_on_sim: true }}
  - id: left
    action: exec
    needs: [start]
    with: {{ argv: [sh, -c, "{}"], allow_on_sim: true }}
  - id: right
    action: exec
    needs: [start]
    with: {{ argv: [sh, -c, "{}"], allow_on_sim: true }}
  - id: join
    action: exec
    with: {{ argv: [sh, -c, "echo join >> counter"], allow_on_sim: true }}
"#,
        rendezvous("left", "right"),
        rendezvous("right", "left")
    );
    let t = Test::new().runbook("dag.yaml", &yaml);
    t.args(["run", "dag.yaml"]).run().success();
    let lines = t.lines("counter");
    assert_eq!(lines.first().map(String::as_str), Some("start"));
    assert_eq!(lines.last().map(String::as_str), Some("join"));
    assert_eq!(lines.len(), 4, "{lines:?}");
}

/// `RUNBOOK_STATE` selects the state DB like `--state`; without either, it lives in
/// the platform state directory (`$XDG_STATE_HOME/runbook/state.db` here).
#[test]
fn state_db_from_env_or_platform_dir() {
    let yaml = "name: tiny\nsteps:\n  - id: hi\n    action: log\n    with: { message: hi }\n";
    let t = Test::new().runbook("tiny.yaml", yaml);
    let other = t.path("other.db");
    t.args(["run", "tiny.yaml"])
        .without_state_flag()
        .env("RUNBOOK_STATE", &other)
        .run()
        .success();
    assert!(other.exists(), "RUNBOOK_STATE was not used");
    assert!(t.runs().is_empty(), "the run went to --state's DB");
    let listed = t
        .args(["runs", "--json"])
        .without_state_flag()
        .env("RUNBOOK_STATE", &other)
        .run()
        .success()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");

    t.args(["run", "tiny.yaml"])
        .without_state_flag()
        .run()
        .success();
    assert!(
        t.path("xdg-state/runbook/state.db").exists(),
        "no state DB in the platform state dir"
    );
}

/// The example shipped in `runbooks/` runs.
#[test]
fn shipped_hello_runbook_runs() {
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/hello.yaml");
    let t = Test::new();
    let out = t.args(["--output", "json", "run", hello]).run().success();
    let events = json_lines(&out.stdout);
    let last: &Value = events.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["status"], "succeeded");
    let status = t.status(&run_id_of(&events));
    assert!(
        step_summary(&status)
            .iter()
            .all(|(_, s, _)| s == "succeeded"),
        "{status:#}"
    );
}

/// A run that already succeeded is not run again by `resume`.
#[test]
fn resume_of_a_succeeded_run_runs_nothing() {
    let yaml = "name: once\nsteps:\n  - id: a\n    action: exec\n    with: { argv: [sh, -c, \"echo a >> counter\"], allow_on_sim: true }\n";
    let t = Test::new().runbook("once.yaml", yaml);
    t.args(["run", "once.yaml"]).run().success();
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let out = t.args(["resume", run_id.as_str()]).run().success();
    assert_eq!(
        out.stdout,
        format!("run {run_id} already succeeded; nothing to resume\n")
    );
    assert_eq!(t.lines("counter"), ["a"]);
    assert_eq!(t.status(&run_id)["resumes"], 0);
    // Nothing is incomplete, so a plain `resume` has nothing to do either.
    t.args(["resume"])
        .run()
        .code(2)
        .stderr("error: there is no incomplete run to resume\n");
}

#[test]
fn run_account_id_and_region_are_the_targets_and_a_disagreeing_param_warns() {
    let yaml = r#"name: whoami
params:
  account_id: { default: "999999999999" }
steps:
  - { id: who, action: log, with: { message: "account {{ run.account_id }} in {{ run.region }}" } }
"#;
    let t = Test::new().runbook("whoami.yaml", yaml);
    let out = t.args(["run", "whoami.yaml"]).run().success();
    assert!(
        out.stdout
            .contains("who: account 123456789012 in us-east-2"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "warning: the runbook's `account_id` parameter is 999999999999 but the sim target's account is 123456789012 (run.account_id); names built from the parameter will not match\n"
    );
    let plan = t.args(["plan", "whoami.yaml"]).run().success();
    assert!(
        plan.stdout.contains("account 123456789012 in us-east-2"),
        "{}",
        plan.stdout
    );
}
