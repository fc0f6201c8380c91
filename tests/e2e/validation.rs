//! Validation through the binary: `validate` reports `file:line:col` with the source
//! line and a caret and exits 2; `run` of an invalid runbook (or with bad `--set`
//! values) exits 2 and records nothing.

use crate::harness::Test;

const BAD: &str = "name: bad
steps:
  - id: greet
    action: log
    with: { message: hi }
  - id: nap
    action: slep
    with: { duration: 1s }
  - id: say
    action: log
    with: { mesage: hi }
";

const BAD_DIAGNOSTICS: &str = "error: unknown action `slep` in step `nap`
 --> bad.yaml:7:13
  |
7 |     action: slep
  |             ^^^^
  = help: did you mean `sleep`?

error: missing field `message` in `with` of `log`
 --> bad.yaml:11:5
   |
11 |     with: { mesage: hi }
   |     ^^^^

error: unknown field `mesage` in `with` of `log`, expected one of `message`
 --> bad.yaml:11:13
   |
11 |     with: { mesage: hi }
   |             ^^^^^^
   = help: did you mean `message`?
";

#[test]
fn validate_reports_every_error_with_position_and_caret() {
    let t = Test::new().runbook("bad.yaml", BAD);
    t.args(["validate", "bad.yaml"])
        .run()
        .code(2)
        .stderr(&format!("{BAD_DIAGNOSTICS}bad.yaml: 3 errors\n\n"));
}

#[test]
fn run_of_an_invalid_runbook_exits_2_and_records_nothing() {
    let t = Test::new().runbook("bad.yaml", BAD);
    let out = t
        .args(["run", "bad.yaml"])
        .run()
        .code(2)
        .stderr(BAD_DIAGNOSTICS);
    assert_eq!(out.stdout, "");
    assert_eq!(t.runs(), Vec::<serde_json::Value>::new());
}

#[test]
fn validate_checks_every_file_and_says_which_are_ok() {
    let good = "name: good\nsteps:\n  - id: hi\n    action: log\n    with: { message: hi }\nfinally:\n  - id: bye\n    action: log\n    with: { message: bye }\n";
    let t = Test::new()
        .runbook("good.yaml", good)
        .runbook("bad.yaml", BAD);
    let out = t
        .args(["validate", "good.yaml", "bad.yaml"])
        .run()
        .code(2)
        .stderr(&format!("{BAD_DIAGNOSTICS}bad.yaml: 3 errors\n\n"));
    assert_eq!(out.stdout, "good.yaml: ok (1 steps, 1 finally)\n");
    let out = t.args(["validate", "good.yaml"]).run().success();
    assert_eq!(out.stdout, "good.yaml: ok (1 steps, 1 finally)\n");
}

/// Templates are checked before anything runs: an undefined name is an error at its
/// position, not an empty string at run time.
#[test]
fn undefined_template_names_are_caught_before_running() {
    let yaml = "name: undefined
steps:
  - id: a
    action: exec
    with: { argv: [sh, -c, \"echo ran >> counter\"], allow_on_sim: true }
  - id: b
    action: log
    with: { message: \"{{ params.nope }}\" }
";
    let t = Test::new().runbook("undefined.yaml", yaml);
    t.args(["run", "undefined.yaml"]).run().code(2).stderr(
        "error: undefined parameter `params.nope` in step `b`
 --> undefined.yaml:8:26
  |
8 |     with: { message: \"{{ params.nope }}\" }
  |                          ^^^^^^^^^^^
",
    );
    assert_eq!(t.read("counter"), "", "a step ran");
    assert!(t.runs().is_empty());
}

/// Bad `--set` values are usage errors: exit 2, nothing run or recorded.
#[test]
fn bad_params_exit_2_and_record_nothing() {
    let yaml = "name: typed
params:
  n: { type: integer, default: 3 }
  account: { type: string, required: true, description: AWS account id }
steps:
  - id: a
    action: exec
    with: { argv: [sh, -c, \"echo ran >> counter\"], allow_on_sim: true }
";
    let t = Test::new().runbook("typed.yaml", yaml);
    t.args(["run", "typed.yaml"]).run().code(2).stderr(
        "error: missing required parameter `account` (AWS account id); pass it with --set account=...\n",
    );
    t.args(["run", "typed.yaml", "--set", "account=1", "--set", "n=abc"])
        .run()
        .code(2)
        .stderr("error: parameter `n` must be an integer: `abc` is not one (set by --set n=abc)\n");
    t.args(["run", "typed.yaml", "--set", "account=1", "--set", "nope=1"])
        .run()
        .code(2);
    assert_eq!(t.read("counter"), "", "a step ran");
    assert!(t.runs().is_empty());
}

#[test]
fn missing_runbook_file_exits_2() {
    let t = Test::new();
    let out = t.args(["run", "nowhere.yaml"]).run().code(2);
    assert!(
        out.stderr.contains("nowhere.yaml") && out.stderr.contains("No such file"),
        "{}",
        out.stderr
    );
    assert!(t.runs().is_empty());
}

/// A misspelt filter and a misspelt output key are found by `validate` and stop `run`
/// before its first step (the step that made a cluster would otherwise run first and
/// the mistake surface only at the step that renders it).
#[test]
fn misspelt_filters_and_output_keys_stop_the_run_before_any_step() {
    let yaml = r#"name: misspelt
steps:
  - id: first
    action: exec
    with: { argv: [sh, -c, "echo ran >> counter"], allow_on_sim: true }
  - id: vc
    action: register-vc
    with: { cluster: c, namespace: ns }
  - { id: shout, action: log, with: { message: "{{ steps.vc.outputs.virtual_cluster_id | uper }}" } }
  - { id: id, action: log, with: { message: "{{ steps.vc.outputs.virtualclusterid }}" } }
"#;
    let t = Test::new().runbook("misspelt.yaml", yaml);
    let out = t.args(["validate", "misspelt.yaml"]).run().code(2);
    assert!(
        out.stderr.contains("unknown filter `uper` in step `shout`")
            && out.stderr.contains("did you mean `upper`?")
            && out
                .stderr
                .contains("`register-vc` has no output `virtualclusterid`")
            && out.stderr.contains("did you mean `virtual_cluster_id`?"),
        "{}",
        out.stderr
    );
    t.args(["run", "misspelt.yaml"]).run().code(2);
    assert_eq!(t.read("counter"), "", "a step ran");
    assert!(t.runs().is_empty());
}

/// `validate --output json`: one document with each file's verdict and diagnostics
/// (1-based line and column, width, message, hint, source line), for editors and CI;
/// exit 2 when any file is invalid.
#[test]
fn validate_output_json_gives_the_diagnostics_for_editors() {
    let bad = r#"name: bad
steps:
  - { id: a, action: log, with: { message: "{{ run.id | uper }}" } }
  - { id: b, action: sleeep, with: { duration: 1s } }
"#;
    let t = Test::new().runbook("bad.yaml", bad).runbook(
        "good.yaml",
        "name: good\nsteps:\n  - { id: a, action: log, with: { message: hi } }\n",
    );
    let out = t
        .args(["--output", "json", "validate", "good.yaml", "bad.yaml"])
        .run()
        .code(2);
    assert_eq!(out.stderr, "");
    insta::assert_json_snapshot!("validate_output_json", out.json());

    // A runbook that includes the bad one: the diagnostics of both files, each with
    // the file it is in.
    t.write(
        "composed.yaml",
        "name: composed\nsteps:\n  - { id: inner, action: runbook, with: { file: lib/bad.yaml } }\n",
    );
    t.write("lib/bad.yaml", bad);
    let out = t
        .args(["--output", "json", "validate", "composed.yaml"])
        .run()
        .code(2);
    insta::assert_json_snapshot!("validate_output_json_included", out.json());
}

/// `plan` tells an input that waits for the run (it reads step outputs: shown as known
/// at run time, with what it reads) from one that cannot render whatever the run does
/// (shown as an error, exit 2).
#[test]
fn plan_tells_run_time_values_from_real_render_errors() {
    let yaml = r#"name: plan-me
steps:
  - { id: first, action: log, with: { message: "<error: is only text here>" } }
  - { id: later, action: log, with: { message: "{{ steps.first.outputs.message - 1 }}" } }
"#;
    // A literal that looks like the plan's error marker is not an error.
    let t = Test::new().runbook("plan-me.yaml", yaml);
    let out = t.args(["plan", "plan-me.yaml"]).run().success();
    assert!(
        out.stdout
            .contains("<known at run time: reads steps.first.outputs.message>"),
        "{}",
        out.stdout
    );
    let broken = r#"name: broken
steps:
  - { id: only, action: log, with: { message: "{{ [1, 2] - 1 }}" } }
"#;
    let t = Test::new().runbook("broken.yaml", broken);
    let out = t.args(["plan", "broken.yaml"]).run().code(2);
    assert!(
        out.stdout.contains("<error: invalid operation") && out.stdout.contains("(at line 3)>"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("cannot render, whatever the run does"),
        "{}",
        out.stderr
    );
}

/// `runbook actions NAME` documents what an author writes and reads: the fields of
/// nested inputs (`nodegroup:`) and of outputs that are lists of maps (what
/// `steps.x.outputs.evicted[0]` holds), and an enum's values rather than its type.
#[test]
fn action_docs_show_nested_fields_and_enum_values() {
    let t = Test::new();
    let out = t.args(["actions", "assert-eviction"]).run().success();
    let outputs = out
        .stdout
        .split("outputs (steps.<id>.outputs):")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    for line in [
        "  evicted: list of map\n      The victim's preempted executors.\n      pod: string\n          The preempted pod.\n",
        "      executor_id: integer\n",
        "  replacements: list of map\n",
        "      started_at_ms: integer\n",
    ] {
        assert!(outputs.contains(line), "{line:?} not in:\n{outputs}");
    }
    let out = t.args(["actions", "create-cluster"]).run().success();
    for line in [
        "  nodegroup: map, optional\n",
        "      instance_type: string, default \"m5.2xlarge\"\n",
        "      capacity_type: on-demand | spot | ON_DEMAND | SPOT, optional\n",
        "          `on-demand` or `spot` (EKS's `ON_DEMAND` or `SPOT` is accepted too). The\n",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line:?} not in:\n{}",
            out.stdout
        );
    }
}

/// `runbook sim sizes`: what a node can give pods and what Spark's pods request for
/// given settings, from the simulator's own sizing (the walkthrough's c5.2xlarge and
/// 2G PySpark executor by default); a setting that does not size pods is refused.
#[test]
fn sim_sizes_tells_allocatable_and_spark_requests() {
    let t = Test::new();
    let out = t.args(["sim", "sizes"]).run().success();
    assert!(
        out.stdout
            .contains("  c5.2xlarge       8   16384Mi      7910m 14162Mi      7785m 14162Mi\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  executor  cpu 1000m; memory 2048 + 819 overhead + 200 sidecar = 3067Mi\n"),
        "{}",
        out.stdout
    );
    let out = t
        .args([
            "sim",
            "sizes",
            "--jvm",
            "--executor-memory",
            "4g",
            "--conf",
            "spark.kubernetes.executor.request.cores=500m",
        ])
        .run()
        .success();
    assert!(
        out.stdout
            .contains("  executor  cpu 500m; memory 4096 + 409 overhead + 200 sidecar = 4705Mi\n"),
        "{}",
        out.stdout
    );
    let out = t
        .args(["sim", "sizes", "--conf", "spark.executor.instances=3"])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains("--conf spark.executor.instances does not change pod requests"),
        "{}",
        out.stderr
    );
}
