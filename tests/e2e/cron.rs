//! What an operator's crontab relies on: `--log-file`, overlapping invocations (75, and
//! an intact state DB), `prune` that keeps incomplete runs, and shell completions.

use crate::harness::{Test, gate};

const QUICK: &str =
    "name: quick\nsteps:\n  - { id: hi, action: log, with: { message: hello from cron } }\n";

#[test]
fn log_file_gets_plain_timestamped_lines_appended() {
    let t = Test::new().runbook("quick.yaml", QUICK);
    let log = t.path("logs/nightly.log");
    std::fs::create_dir_all(t.path("logs")).expect("mkdir");
    t.args([
        "--output",
        "json",
        "--log-file",
        log.to_str().expect("utf-8"),
        "run",
        "quick.yaml",
    ])
    .run()
    .success();
    t.args([
        "--log-file",
        log.to_str().expect("utf-8"),
        "run",
        "quick.yaml",
    ])
    .run()
    .success();
    let lines = t.lines("logs/nightly.log");
    let started: Vec<&String> = lines.iter().filter(|l| l.contains(" started: ")).collect();
    assert_eq!(started.len(), 2, "both runs appended: {lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("hi: hello from cron")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.len() > 24 && l.as_bytes()[4] == b'-' && &l[23..24] == "Z"),
        "every line starts with a UTC timestamp: {lines:#?}"
    );
}

#[test]
fn overlapping_cron_invocations_exit_75_and_leave_the_state_db_intact() {
    let runbook = format!(
        "name: nightly\nsteps:\n  - id: work\n    action: exec\n    with:\n      argv: [sh, -c, \"touch started; {}\"]\n      allow_on_sim: true\n",
        gate("open")
    );
    let t = Test::new().runbook("nightly.yaml", &runbook);
    let mut first = t
        .args(["run", "--resume-incomplete", "nightly.yaml"])
        .spawn();
    first.wait_until("the first invocation works", || t.path("started").exists());
    let second = t
        .args(["run", "--resume-incomplete", "nightly.yaml"])
        .run()
        .code(75);
    assert!(
        second.stderr.contains("is already running"),
        "{}",
        second.stderr
    );
    t.touch("open");
    first.wait().success();
    let runs = t.runs();
    assert_eq!(
        runs.len(),
        1,
        "the second invocation created nothing: {runs:#?}"
    );
    assert_eq!(runs[0]["status"], "succeeded");
    let store = runbook_state::Store::open(&t.state_db()).expect("the state DB opens");
    assert_eq!(
        store
            .attempts(runs[0]["id"].as_str().expect("id"))
            .expect("attempts")
            .len(),
        1
    );
}

#[test]
fn prune_deletes_old_finished_runs_and_keeps_incomplete_ones() {
    let holding = format!(
        "name: holding\nsteps:\n  - id: work\n    action: exec\n    with:\n      argv: [sh, -c, \"touch started; {}\"]\n      allow_on_sim: true\n",
        gate("never")
    );
    let failing = "name: failing\nsteps:\n  - { id: no, action: assert, with: { that: false } }\n";
    let t = Test::new()
        .runbook("quick.yaml", QUICK)
        .runbook("failing.yaml", failing)
        .runbook("holding.yaml", &holding);
    t.args(["run", "quick.yaml"]).run().success();
    t.args(["run", "failing.yaml"]).run().code(1);
    let mut held = t.args(["run", "holding.yaml"]).spawn();
    held.wait_until("the run holds", || t.path("started").exists());
    assert!(held.kill9_or_exit(), "the holding run was killed mid-step");
    assert_eq!(t.runs().len(), 3);

    let out = t.args(["prune", "--older-than", "1h"]).run().success();
    assert!(out.stdout.starts_with("deleted 0 run(s)"), "{}", out.stdout);
    assert_eq!(t.runs().len(), 3, "nothing is an hour old yet");

    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = t.args(["prune", "--older-than", "10ms"]).run().success();
    assert!(out.stdout.starts_with("deleted 2 run(s)"), "{}", out.stdout);
    let left = t.runs();
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(
        left[0]["runbook"], "holding",
        "the incomplete run is kept for resume"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    let t = Test::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = t.args(["completions", shell]).run().success();
        assert!(
            out.stdout.contains("resume"),
            "{shell} completions lack the resume command"
        );
    }
    t.args(["completions", "tcsh"]).run().code(2);
}
