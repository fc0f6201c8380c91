//! Inputs users have given that used to panic (exit 101): huge durations, a closed
//! stdout, `--sim-speed` values that mean nothing, and step inputs that do not fit
//! their field. Each gives a clear error (or, for a closed stdout, a quiet end).

use nix::sys::signal::Signal;

use crate::harness::{Test, step};

/// No panic message, whatever else happened.
#[track_caller]
fn assert_no_panic(out: &crate::harness::Output) {
    assert!(
        !out.stderr.contains("panicked") && out.code != Some(101),
        "`{}` panicked:\n{}",
        out.description,
        out.stderr
    );
}

#[test]
fn huge_durations_in_a_runbook_are_located_errors() {
    let t = Test::new().runbook(
        "huge.yaml",
        r#"name: huge
steps:
  - id: a
    action: sleep
    timeout: 99999999999999999999d
    with: { duration: 1s }
  - id: b
    action: sleep
    retry: { attempts: 2, max_delay: 9999999999999 }
    with: { duration: 99999999999999 }
"#,
    );
    let out = t.args(["validate", "huge.yaml"]).run().code(2);
    assert_no_panic(&out);
    let too_long = "is too long: durations are limited to 100 years (36500d)";
    for (message, place) in [
        (
            format!("error: `timeout` of step `a`: `99999999999999999999d` {too_long}"),
            " --> huge.yaml:5:14",
        ),
        (
            format!("error: `max_delay` in `retry` of step `b`: `9999999999999` {too_long}"),
            " --> huge.yaml:9:38",
        ),
        (
            format!("error: `duration` of `sleep`: `99999999999999` {too_long}"),
            " --> huge.yaml:10:23",
        ),
    ] {
        let at = out
            .stderr
            .find(&message)
            .unwrap_or_else(|| panic!("no `{message}` in:\n{}", out.stderr));
        assert!(
            out.stderr[at..].lines().nth(1) == Some(place),
            "`{message}` is not followed by `{place}`:\n{}",
            out.stderr
        );
    }
    // `run` refuses it the same way before anything runs.
    let out = t.args(["run", "huge.yaml"]).run().code(2);
    assert!(out.stderr.contains(too_long), "{}", out.stderr);
    assert!(t.runs().is_empty());
}

#[test]
fn a_huge_prune_age_is_a_usage_error() {
    let t = Test::new();
    let out = t
        .args(["prune", "--older-than", "99999999999999999999d"])
        .run()
        .code(2);
    assert_no_panic(&out);
    assert!(
        out.stderr.starts_with(
            "error: invalid value '99999999999999999999d' for '--older-than <AGE>': `99999999999999999999d` is too long: durations are limited to 100 years (36500d)"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn sim_speeds_that_mean_nothing_are_usage_errors() {
    let t = Test::new().runbook(
        "one.yaml",
        "name: one\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n",
    );
    for value in ["0", "-1", "NaN", "inf", "-inf", "1e999", "fast"] {
        for command in ["run", "resume"] {
            let mut args = vec![command.to_owned()];
            if command == "run" {
                args.push("one.yaml".to_owned());
            }
            args.push(format!("--sim-speed={value}"));
            let out = t.args(&args).run().code(2);
            let expected = format!(
                "error: invalid value '{value}' for '--sim-speed <N>': `{value}` is not allowed: expected a positive, finite number of virtual seconds per wall second such as 60 or 0.5 (leave the flag out to run the simulation instantly)\n"
            );
            assert!(
                out.stderr.starts_with(&expected),
                "{command} --sim-speed={value}:\n{}",
                out.stderr
            );
        }
    }
    assert!(t.runs().is_empty(), "a refused speed must not start a run");
    t.args(["run", "one.yaml", "--sim-speed", "0.5"])
        .run()
        .success();
}

/// `runbook actions | head -1` and friends: the commands that only print end quietly
/// (by SIGPIPE, as `ls | head` does: the shell shows 141), without a panic.
#[test]
fn a_closed_stdout_ends_printing_commands_quietly() {
    let t = Test::new().runbook(
        "one.yaml",
        "name: one\nsteps:\n  - id: a\n    action: log\n    with: { message: hi }\n",
    );
    t.args(["run", "one.yaml"]).run().success();
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let commands: Vec<Vec<&str>> = vec![
        vec!["actions"],
        vec!["actions", "exec"],
        vec!["schema"],
        vec!["plan", "one.yaml"],
        vec!["validate", "one.yaml"],
        vec!["runs"],
        vec!["runs", "--json"],
        vec!["status", &run_id],
        vec!["status", &run_id, "--json"],
        vec!["worlds"],
        vec!["worlds", "--json"],
        vec!["completions", "bash"],
        vec!["prune", "--older-than", "30d"],
    ];
    for args in commands {
        let out = t.args(&args).closed_stdout().run();
        assert_no_panic(&out);
        assert_eq!(
            out.signal,
            Some(Signal::SIGPIPE as i32),
            "`runbook {}` should end by SIGPIPE (exit {:?}):\n{}",
            args.join(" "),
            out.code,
            out.stderr
        );
        assert_eq!(
            out.stderr,
            "",
            "`runbook {}` said something",
            args.join(" ")
        );
    }
}

/// `run` keeps going with a closed stdout, and records how it ended: dying of SIGPIPE
/// mid-run would leave the run `running`.
#[test]
fn a_run_with_a_closed_stdout_finishes_and_records_its_end() {
    let t = Test::new().runbook(
        "two.yaml",
        r#"name: two
steps:
  - id: a
    action: log
    with: { message: first }
  - id: b
    action: exec
    with: { argv: [sh, -c, "echo ran >> counter"], allow_on_sim: true }
"#,
    );
    for output in ["plain", "json"] {
        let out = t
            .args(["--output", output, "run", "two.yaml"])
            .closed_stdout()
            .run()
            .success();
        assert_no_panic(&out);
    }
    assert_eq!(t.lines("counter"), ["ran", "ran"]);
    assert_eq!(t.runs_with_status("succeeded").len(), 2);
    let run_id = t.runs()[0]["id"].as_str().expect("id").to_owned();
    let out = t.args(["resume", &run_id]).closed_stdout().run().success();
    assert_no_panic(&out);
}

const NODES: &str = r#"name: nodes
params:
  nodes: { type: integer, default: -2 }
vars:
  count: "{{ params.nodes }}"
steps:
  - id: cluster
    action: create-cluster
    with:
      name: c1
      nodegroup:
        desired_size: "{{ vars.count }}"
"#;

/// `--set nodes=-1` where the field is a u32: the error names the step, the field,
/// the param and how it was set, and the place in the runbook, before the step starts.
#[test]
fn an_input_that_does_not_fit_names_field_param_and_origin() {
    let t = Test::new().runbook("nodes.yaml", NODES);
    let out = t
        .args(["run", "nodes.yaml", "--set", "nodes=-1"])
        .run()
        .code(1);
    assert_no_panic(&out);
    let cause = "input `nodegroup.desired_size`: invalid value: integer `-1`, expected u32 (from param `nodes`, set by --set nodes=-1; at nodes.yaml:12:23)";
    assert!(
        out.stdout
            .contains(&format!("step cluster (create-cluster) failed: {cause}")),
        "{}",
        out.stdout
    );
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&run_id);
    let cluster = step(&status, "cluster");
    assert_eq!(cluster["status"], "failed");
    assert_eq!(cluster["error"], cause, "{cluster:#}");

    // The default is named as such.
    let t = Test::new().runbook("nodes.yaml", NODES);
    let out = t.args(["run", "nodes.yaml"]).run().code(1);
    assert!(
        out.stdout.contains(
            "input `nodegroup.desired_size`: invalid value: integer `-2`, expected u32 (from param `nodes`, its default in the runbook; at nodes.yaml:12:23)"
        ),
        "{}",
        out.stdout
    );
}
