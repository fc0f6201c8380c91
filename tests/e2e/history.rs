//! What the state DB remembers and how `resume` uses it: a changed runbook is refused
//! unless `--allow-changed`, unknown runs are usage errors, and `status`/`runs` list
//! what happened.

use nix::sys::signal::Signal;

use crate::harness::{Test, gate, run_id_of, started_steps, step_summary};

/// `hold` waits until `go` exists; `after` runs what its message says.
fn runbook(message: &str) -> String {
    format!(
        r#"name: editable
steps:
  - id: first
    action: exec
    with: {{ argv: [sh, -c, "echo first >> counter"], allow_on_sim: true }}
  - id: hold
    action: exec
    with: {{ argv: [sh, -c, "echo hold >> counter; {}"], allow_on_sim: true }}
  - id: after
    action: exec
    with: {{ argv: [sh, -c, "echo {message} >> counter"], allow_on_sim: true }}
"#,
        gate("go")
    )
}

/// Starts `editable.yaml`, interrupts it with SIGINT in `hold`; returns the run id.
fn interrupted_run(t: &Test) -> String {
    let mut bg = t.args(["run", "editable.yaml"]).spawn();
    bg.wait_until("`hold` holds", || t.lines("counter") == ["first", "hold"]);
    bg.signal(Signal::SIGINT);
    bg.wait().code(130);
    let run = t.only_run();
    assert_eq!(run["status"], "interrupted");
    run["id"].as_str().expect("id").to_owned()
}

#[test]
fn resume_refuses_a_changed_runbook_unless_allowed() {
    let t = Test::new().runbook("editable.yaml", &runbook("v1"));
    let run_id = interrupted_run(&t);
    let path = t.status(&run_id)["path"].as_str().expect("path").to_owned();
    t.write("editable.yaml", &runbook("v2"));
    t.touch("go");

    let refusal = format!(
        "error: {path} changed since run {run_id} started; resuming could mix two versions of the runbook.\n  = help: use `runbook resume {run_id} --allow-changed` if the change is safe, or start a new run\n"
    );
    t.args(["resume", run_id.as_str()])
        .run()
        .code(2)
        .stderr(&refusal);
    t.args(["resume"]).run().code(2).stderr(&refusal);
    t.args(["run", "--resume-incomplete", "editable.yaml"])
        .run()
        .code(3)
        .stderr(&format!(
            "error: run {run_id} of editable.yaml was interrupted, and editable.yaml changed since it started, so it was not resumed (exit 3).\n  = help: to continue it with the new version, add --allow-changed (or `runbook resume {run_id} --allow-changed`); to drop it, `runbook abandon {run_id}`, and the next run starts fresh\n"
        ));
    // Refused means nothing ran and nothing changed.
    assert_eq!(t.lines("counter"), ["first", "hold"]);
    assert_eq!(t.only_run()["status"], "interrupted");
    assert_eq!(t.status(&run_id)["resumes"], 0);

    let out = t
        .args([
            "--output",
            "json",
            "resume",
            run_id.as_str(),
            "--allow-changed",
        ])
        .run()
        .success();
    assert_eq!(run_id_of(&out.events()), run_id);
    // The file as it is now is what runs; what had succeeded is not redone.
    assert_eq!(t.lines("counter"), ["first", "hold", "hold", "v2"]);
    assert_eq!(t.only_run()["status"], "succeeded");
}

/// Undoing the edit makes the run resumable again without `--allow-changed`: the check
/// is on the content, not the file's time stamp.
#[test]
fn resume_accepts_the_runbook_once_the_edit_is_undone() {
    let t = Test::new().runbook("editable.yaml", &runbook("v1"));
    let run_id = interrupted_run(&t);
    t.write("editable.yaml", &runbook("v2"));
    t.args(["resume"]).run().code(2);
    t.write("editable.yaml", &runbook("v1"));
    t.touch("go");
    let out = t.args(["--output", "json", "resume"]).run().success();
    assert_eq!(
        started_steps(&out.events()),
        [("hold".to_owned(), 1, true), ("after".to_owned(), 1, false)]
    );
    assert_eq!(t.status(&run_id)["status"], "succeeded");
}

#[test]
fn unknown_runs_are_usage_errors() {
    let t = Test::new();
    let db = t.state_db();
    t.args(["resume", "20990101-000000-beef"])
        .run()
        .code(2)
        .stderr(&format!(
            "error: no run `20990101-000000-beef` in {}; `runbook runs` lists them\n",
            db.display()
        ));
    t.args(["resume"])
        .run()
        .code(2)
        .stderr("error: there is no incomplete run to resume\n");
    t.args(["status", "20990101-000000-beef"])
        .run()
        .code(2)
        .stderr("error: no such run; `runbook runs` lists them\n");
    let out = t.args(["runs"]).run().success();
    assert_eq!(out.stdout, "no runs yet\n");
    assert!(t.runs().is_empty());
}

/// `runs` lists newest first, filters by runbook and status, and `status` without a
/// run shows the latest one.
#[test]
fn runs_and_status_list_what_happened() {
    let ok = "name: fine\nsteps:\n  - id: a\n    action: log\n    with: { message: ok }\n";
    let bad = "name: broken\nsteps:\n  - id: b\n    action: assert\n    with: { that: false, message: nope }\n";
    let t = Test::new()
        .runbook("fine.yaml", ok)
        .runbook("broken.yaml", bad);
    let first = run_id_of(
        &t.args(["--output", "json", "run", "fine.yaml"])
            .run()
            .success()
            .events(),
    );
    let second = run_id_of(
        &t.args(["--output", "json", "run", "broken.yaml"])
            .run()
            .code(1)
            .events(),
    );

    let runs = t.runs();
    let ids: Vec<&str> = runs.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    assert_eq!(runs[0]["runbook"], "broken");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["failed_step"], "b");
    assert_eq!(runs[1]["runbook"], "fine");
    assert_eq!(runs[1]["target"], "sim");

    let failed = t.runs_with_status("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], second.as_str());
    let only_fine = t
        .args(["runs", "--runbook", "fine", "--json"])
        .run()
        .success()
        .json();
    assert_eq!(only_fine.as_array().map(Vec::len), Some(1));
    assert_eq!(only_fine[0]["id"], first.as_str());
    let limited = t
        .args(["runs", "--limit", "1", "--json"])
        .run()
        .success()
        .json();
    assert_eq!(limited.as_array().map(Vec::len), Some(1));

    let latest = t.args(["status", "--json"]).run().success().json();
    assert_eq!(latest["id"], second.as_str());
    assert_eq!(
        step_summary(&latest),
        [("b".to_owned(), "failed".to_owned(), 1)]
    );
    assert_eq!(latest["steps"][0]["error"], "nope (false: false)");
}
