//! One run per (runbook, params) per state DB: a second one exits 75 naming the holder,
//! other params are not blocked, a dead holder's lock is taken over, and
//! `run --resume-incomplete` continues a killed run instead of starting another.

use crate::harness::{Background, Test, gate, redact_times};

/// `hold` records that it started, then waits until `open-<label>` exists.
fn runbook() -> String {
    format!(
        r#"name: locky
params:
  label: {{ default: one }}
steps:
  - id: hold
    action: exec
    with:
      argv: [sh, -c, "echo {{{{ params.label }}}} >> started; {}"]
      allow_on_sim: true
"#,
        gate("open-{{ params.label }}")
    )
}

/// Starts `run locky.yaml` in the background and waits until its step holds.
fn start_holder(t: &Test) -> (Background, String) {
    let mut bg = t.args(["run", "locky.yaml"]).spawn();
    bg.wait_until("the first run holds", || t.lines("started") == ["one"]);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    (bg, run_id)
}

fn locked_message(run_id: &str, pid: u32) -> String {
    format!(
        "error: run {run_id} (pid {pid}, started [time] UTC) is already running this runbook with these params; exiting with 75 so cron tries again later\n"
    )
}

#[test]
fn second_run_of_same_params_exits_75_naming_the_holder() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    let (holder, run_id) = start_holder(&t);
    let expected = locked_message(&run_id, holder.pid());

    let out = t.args(["run", "locky.yaml"]).run().code(75);
    assert_eq!(redact_times(&out.stderr), expected);
    assert_eq!(out.stdout, "");
    // Explicit default params are the same params.
    let out = t
        .args(["run", "locky.yaml", "--set", "label=one"])
        .run()
        .code(75);
    assert_eq!(redact_times(&out.stderr), expected);
    // Nor may a resume or the cron mode run it twice.
    let out = t.args(["resume", run_id.as_str()]).run().code(75);
    assert_eq!(redact_times(&out.stderr), expected);
    let out = t
        .args(["run", "--resume-incomplete", "locky.yaml"])
        .run()
        .code(75);
    assert_eq!(redact_times(&out.stderr), expected);
    assert_eq!(t.lines("started"), ["one"], "a refused run ran a step");
    assert_eq!(t.runs().len(), 1, "a refused run was recorded");

    // Other params are another lock.
    t.touch("open-two");
    t.args(["run", "locky.yaml", "--set", "label=two"])
        .run()
        .success()
        .stderr("");
    assert_eq!(t.lines("started"), ["one", "two"]);

    // The holder was not disturbed.
    t.touch("open-one");
    holder.wait().success();
    let runs = t.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    // And the lock is free again.
    t.args(["run", "locky.yaml"]).run().success();
}

#[test]
fn a_dead_holders_lock_is_taken_over() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    let (holder, dead_run) = start_holder(&t);
    let dead_pid = holder.pid();
    holder.kill9();

    t.touch("open-one");
    let out = t
        .args(["--output", "json", "run", "locky.yaml"])
        .run()
        .success();
    assert_eq!(
        out.stderr,
        format!(
            "note: took over the lock of run {dead_run} (pid {dead_pid}; its process no longer holds it)\n"
        )
    );
    let new_run = crate::harness::run_id_of(&out.events());
    assert_ne!(new_run, dead_run);
    let runs = t.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let status_of = |id: &str| {
        runs.iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].clone())
    };
    assert_eq!(status_of(&new_run), Some("succeeded".into()));
    // The killed run is no longer shown as running, and is still incomplete, for
    // `resume`.
    assert_eq!(status_of(&dead_run), Some("interrupted".into()));
}

#[test]
fn run_resume_incomplete_continues_the_killed_run() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    let (holder, run_id) = start_holder(&t);
    holder.kill9();

    t.touch("open-one");
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "--resume-incomplete",
            "locky.yaml",
        ])
        .run()
        .success()
        // Its own lock: nothing to say about taking it over.
        .stderr("");
    let events = out.events();
    assert_eq!(crate::harness::run_id_of(&events), run_id);
    assert_eq!(events[0]["resumed"], true);
    let run = t.only_run();
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["status"], "succeeded");
    assert_eq!(t.status(&run_id)["resumes"], 1);
    assert_eq!(t.lines("started"), ["one", "one"], "`hold` re-entered once");

    // With nothing incomplete, the cron mode starts a new run.
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "--resume-incomplete",
            "locky.yaml",
        ])
        .run()
        .success();
    let events = out.events();
    assert_ne!(crate::harness::run_id_of(&events), run_id);
    assert_eq!(events[0]["resumed"], false);
    assert_eq!(t.runs().len(), 2);
}

/// The cron mode only continues runs of the same params.
#[test]
fn run_resume_incomplete_ignores_runs_of_other_params() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    let (holder, run_id) = start_holder(&t);
    holder.kill9();
    t.touch("open-two");
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "--resume-incomplete",
            "locky.yaml",
            "--set",
            "label=two",
        ])
        .run()
        .success();
    let events = out.events();
    assert_ne!(crate::harness::run_id_of(&events), run_id);
    assert_eq!(events[0]["resumed"], false);
    assert_eq!(t.runs().len(), 2);
}

/// Starts three runs of `locky.yaml` at the same instant; returns their exit codes,
/// sorted, once the winner (released after the others exited) has finished, and what
/// they printed on stderr.
fn three_at_once(t: &Test) -> (Vec<Option<i32>>, String) {
    let mut all: Vec<Background> = (0..3)
        .map(|_| t.args(["run", "locky.yaml"]).spawn())
        .collect();
    t.wait_until("one run holds and the others have exited", || {
        let exited = all
            .iter_mut()
            .filter_map(|b| b.has_exited().then_some(()))
            .count();
        t.lines("started").len() == 1 && exited == 2
            // A loser that failed otherwise would leave no holder to wait for.
            || exited == 3
    });
    t.touch("open-one");
    let outputs: Vec<_> = all.into_iter().map(Background::wait).collect();
    let mut codes: Vec<Option<i32>> = outputs.iter().map(|o| o.code).collect();
    codes.sort_unstable();
    let stderr = outputs.iter().map(|o| o.stderr.as_str()).collect();
    (codes, stderr)
}

/// Several runs started at the same instant: exactly one runs, the others exit 75.
#[test]
fn simultaneous_runs_elect_exactly_one() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    // The state DB exists already (see the next test for a fresh one).
    assert!(t.runs().is_empty());
    let (codes, stderr) = three_at_once(&t);
    assert_eq!(codes, [Some(0), Some(75), Some(75)], "stderr:\n{stderr}");
    assert_eq!(t.lines("started"), ["one"]);
    assert_eq!(t.runs().len(), 1);
}

/// The same on a state DB that does not exist yet (the first cron runs on a new
/// machine): every process must be able to open it; the losers must say 75.
#[test]
fn simultaneous_runs_on_a_fresh_state_db_elect_exactly_one() {
    for round in 0..10 {
        let t = Test::new().runbook("locky.yaml", &runbook());
        let (codes, stderr) = three_at_once(&t);
        assert_eq!(
            codes,
            [Some(0), Some(75), Some(75)],
            "round {round}, stderr:\n{stderr}"
        );
    }
}

#[test]
fn a_holder_on_another_host_is_named_with_its_host() {
    // Two hosts sharing one state DB (a network file system): each names itself.
    let t = Test::new().runbook("locky.yaml", &runbook());
    let mut holder = t
        .args(["run", "locky.yaml"])
        .env("RUNBOOK_HOST", "alpha")
        .spawn();
    holder.wait_until("the first run holds", || t.lines("started") == ["one"]);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let out = t
        .args(["run", "locky.yaml"])
        .env("RUNBOOK_HOST", "beta")
        .run()
        .code(75);
    assert_eq!(
        crate::harness::redact_times(&out.stderr),
        format!(
            "error: run {run_id} (pid {} on host alpha, started [time] UTC) is already running this runbook with these params; exiting with 75 so cron tries again later\n",
            holder.pid()
        )
    );
    t.touch("open-one");
    holder.wait().success();
}

#[test]
fn a_damaged_state_db_is_named_as_damaged_and_nothing_runs() {
    let t = Test::new().runbook("locky.yaml", &runbook());
    std::fs::write(t.state_db(), vec![0x5a; 8192]).expect("write garbage");
    let out = t.args(["run", "locky.yaml"]).run().code(1);
    assert!(
        out.stderr.contains("is damaged: file is not a database"),
        "{}",
        out.stderr
    );
    assert!(t.lines("started").is_empty(), "a step ran on a damaged DB");
}
