//! The JSON that scripts read (`runs --json`, `status RUN --json`, `worlds --json`) is
//! a contract: snapshot tests pin its shape, with run ids, times, durations and keys
//! redacted, and secret params masked.

use serde_json::Value;

use crate::harness::Test;

const RUNBOOK: &str = r#"name: shapes
params:
  token: { type: string, secret: true }
  n: { type: integer, default: 2 }
steps:
  - { id: hello, action: log, with: { message: "n is {{ params.n }}" } }
  - { id: nap, action: sleep, with: { duration: 5s } }
  - id: each
    action: log
    for_each: [a, b]
    with: { message: "{{ item }}" }
  - { id: broken, action: assert, continue_on_error: true, with: { that: false, message: expected failure } }
"#;

/// Replaces what differs between runs by placeholders.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "id" | "started_at" | "finished_at" | "path" | "last_run" | "updated_at"
                        if v.is_string() =>
                    {
                        *v = Value::from(format!("[{key}]"))
                    }
                    "duration_ms" if !v.is_null() => *v = Value::from("[ms]"),
                    "idempotency_key" if v.as_str().is_some_and(|k| !k.is_empty()) => {
                        *v = Value::from("[key]")
                    }
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[test]
fn runs_and_status_json_shapes() {
    let t = Test::new().runbook("shapes.yaml", RUNBOOK);
    t.args(["run", "shapes.yaml", "--set", "token=s3cr3t-value"])
        .run()
        .success();
    let mut runs = Value::Array(t.runs());
    let run_id = runs[0]["id"].as_str().expect("id").to_string();
    redact(&mut runs);
    insta::assert_snapshot!(
        "runs_json",
        serde_json::to_string_pretty(&runs).expect("json")
    );
    let mut status = t.status(&run_id);
    assert_eq!(status["params"]["token"], "***", "secret params are masked");
    redact(&mut status);
    let text = serde_json::to_string_pretty(&status).expect("json");
    assert!(!text.contains("s3cr3t-value"));
    insta::assert_snapshot!("status_json", text);
}

#[test]
fn worlds_json_shape() {
    let t = Test::new().runbook("shapes.yaml", RUNBOOK);
    t.args([
        "run",
        "shapes.yaml",
        "--set",
        "token=s3cr3t-value",
        "--world",
        "w",
    ])
    .run()
    .success();
    let mut worlds = t.args(["worlds", "--json"]).run().success().json();
    redact(&mut worlds);
    insta::assert_snapshot!(
        "worlds_json",
        serde_json::to_string_pretty(&worlds).expect("json")
    );
}
