//! The run lifecycle cron relies on: a failed night does not block the next one, a
//! person can retire a run (`abandon`), a later success supersedes older runs, a
//! changed runbook is neither resumed silently nor blocks for good, and a retried
//! call that may have taken effect keeps its idempotency key.

use nix::sys::signal::Signal;

use crate::harness::{Test, gate};

/// A nightly batch whose only step succeeds once the file `healthy` exists.
const FLAKY: &str = r#"name: flaky
steps:
  - id: work
    action: exec
    with:
      argv: [sh, -c, "test -e healthy"]
      allow_on_sim: true
"#;

#[test]
fn a_failed_night_is_left_for_a_person_and_the_next_night_starts_fresh() {
    let t = Test::new().runbook("flaky.yaml", FLAKY);
    let log = t.path("nightly.log");
    let log_arg = log.to_str().expect("utf-8").to_owned();
    let night = |t: &Test| {
        t.args([
            "--log-file",
            log_arg.as_str(),
            "run",
            "--resume-incomplete",
            "flaky.yaml",
        ])
        .run()
    };
    night(&t).code(1);
    let failed = t.only_run()["id"].as_str().expect("id").to_owned();
    // The next night fails the same way, but as a new run: the failed one is not
    // retried by cron.
    night(&t).code(1);
    assert_eq!(t.runs_with_status("failed").len(), 2);
    // The cause is fixed: the next night succeeds, and its first log line names the
    // failed run it did not resume.
    t.touch("healthy");
    std::fs::remove_file(&log).expect("rm log");
    night(&t).success();
    let lines = t.lines("nightly.log");
    assert!(
        lines[0].contains("failed and is left for a person") && !lines[0].contains(&failed),
        "the newest failed run is named, not the first: {lines:#?}"
    );
    assert_eq!(t.runs_with_status("succeeded").len(), 1);
    assert_eq!(
        t.runs_with_status("failed").len(),
        2,
        "failed runs are kept for a person"
    );
    // A person can still resume a failed run by hand.
    t.args(["resume", failed.as_str()]).run().success();
}

/// A runbook whose first step waits at a gate, so it can be interrupted there.
fn gated() -> String {
    format!(
        "name: gated\nsteps:\n  - id: hold\n    action: exec\n    with:\n      argv: [sh, -c, \"echo hold >> started; {}\"]\n      allow_on_sim: true\n  - {{ id: after, action: log, with: {{ message: done }} }}\n",
        gate("go")
    )
}

fn interrupted_run(t: &Test, args: &[&str]) -> String {
    let before = t.runs().len();
    let mut bg = t.args(args.iter().copied()).spawn();
    bg.wait_until("`hold` runs", || t.lines("started").len() > before);
    bg.signal(Signal::SIGTERM);
    bg.wait().code(130);
    let run = &t.runs()[0];
    assert_eq!(run["status"], "interrupted");
    run["id"].as_str().expect("id").to_owned()
}

#[test]
fn an_abandoned_run_is_never_resumed_and_the_next_run_starts_fresh() {
    let t = Test::new().runbook("gated.yaml", &gated());
    let run_id = interrupted_run(&t, &["run", "gated.yaml"]);
    let out = t
        .args(["abandon", run_id.as_str(), "--reason", "bad data"])
        .run()
        .success();
    assert!(out.stdout.contains(&format!("run {run_id} abandoned")));
    let status = t.status(&run_id);
    assert_eq!(status["status"], "abandoned");
    assert!(
        status["error"]
            .as_str()
            .expect("reason")
            .contains("bad data"),
        "{status:#}"
    );
    t.args(["resume", run_id.as_str()])
        .run()
        .code(2)
        .stderr(&format!(
            "error: run {run_id} was abandoned ({}); it is never resumed. Start a new run instead\n",
            status["error"].as_str().expect("reason")
        ));
    t.args(["resume"])
        .run()
        .code(2)
        .stderr("error: there is no incomplete run to resume\n");
    t.touch("go");
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "--resume-incomplete",
            "gated.yaml",
        ])
        .run()
        .success();
    let events = out.events();
    assert_ne!(
        crate::harness::run_id_of(&events),
        run_id,
        "a new run started"
    );
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("the previous run {run_id} was abandoned")),
        "{events:#?}"
    );
    // Abandoning twice is fine; a succeeded run cannot be abandoned.
    t.args(["abandon", run_id.as_str()]).run().success();
    let done = t.runs_with_status("succeeded")[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    t.args(["abandon", done.as_str()]).run().code(2);
}

#[test]
fn a_run_superseded_by_a_later_success_is_not_resumed_by_cron() {
    let t = Test::new().runbook("gated.yaml", &gated());
    let old = interrupted_run(&t, &["run", "gated.yaml"]);
    t.touch("go");
    // Someone runs it by hand; it succeeds.
    let out = t.args(["run", "gated.yaml"]).run().success();
    assert!(
        out.stdout
            .contains(&format!("run {old} of this runbook was interrupted")),
        "a fresh run names the interrupted one it did not continue"
    );
    // Cron next: the old interrupted run is superseded, so a new run starts.
    t.args(["run", "--resume-incomplete", "gated.yaml"])
        .run()
        .success();
    assert_eq!(t.status(&old)["status"], "interrupted", "left as it was");
    assert_eq!(t.status(&old)["resumes"], 0);
    assert_eq!(t.runs_with_status("succeeded").len(), 2);
}

#[test]
fn a_changed_runbook_with_an_interrupted_run_exits_3_until_allowed() {
    let t = Test::new().runbook("gated.yaml", &gated());
    let run_id = interrupted_run(&t, &["run", "gated.yaml"]);
    t.write(
        "gated.yaml",
        &gated().replace("message: done", "message: done again"),
    );
    t.touch("go");
    t.args(["run", "--resume-incomplete", "gated.yaml"])
        .run()
        .code(3);
    t.args(["run", "--resume-incomplete", "gated.yaml"])
        .run()
        .code(3);
    assert_eq!(t.status(&run_id)["resumes"], 0, "refused means not resumed");
    // Cron's way forward: continue it with the new version.
    t.args([
        "run",
        "--resume-incomplete",
        "--allow-changed",
        "gated.yaml",
    ])
    .run()
    .success();
    assert_eq!(t.status(&run_id)["status"], "succeeded");
    assert_eq!(
        t.runs().len(),
        1,
        "the interrupted run was continued, not replaced"
    );
}

#[test]
fn abandon_cancel_jobs_cancels_the_runs_job_in_its_simulated_world() {
    let yaml = r#"name: submitted
steps:
  - id: cluster
    action: create-cluster
    with: { name: c1, nodegroup: { name: ng, instance_type: m5.2xlarge, desired_size: 1 } }
  - id: vc
    action: register-vc
    with: { cluster: c1, namespace: batch }
  - id: role
    action: create-job-role
    with: { name: r1, cluster: c1, namespace: batch }
  - id: job
    action: submit-job
    with: { virtual_cluster: "{{ steps.vc.outputs.virtual_cluster_id }}", name: long, role: r1 }
  - id: nap
    action: exec
    with: { argv: [sh, -c, "sleep 300"], allow_on_sim: true }
"#;
    let t = Test::new().runbook("submitted.yaml", yaml);
    // Virtual time stands still while `nap` runs on the host: the job is in flight.
    let mut bg = t.args(["run", "submitted.yaml"]).spawn();
    bg.wait_until("the job is submitted", || {
        t.runs()
            .first()
            .map(|r| t.status(r["id"].as_str().unwrap_or_default()))
            .is_some_and(|s| {
                s["steps"].as_array().is_some_and(|steps| {
                    steps
                        .iter()
                        .any(|st| st["key"] == "nap" && st["status"] == "running")
                })
            })
    });
    bg.signal(Signal::SIGINT);
    bg.wait().code(130);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let out = t
        .args(["abandon", run_id.as_str(), "--cancel-jobs"])
        .run()
        .success();
    let said = out.stdout.clone();
    assert!(said.contains("cancelled job run"), "{said}");
    assert!(said.contains("of step job"), "{said}");
    assert_eq!(t.status(&run_id)["status"], "abandoned");
}

/// A state DB whose header is intact but whose pages are damaged (a disk error, a bad
/// copy) opens without complaint; SQLite's `quick_check` finds the damage. Neither a
/// resume nor cron's `--resume-incomplete` nor a fresh run may run a step on it: each
/// names the file as damaged, in SQLite's words, and leaves it as it was.
#[test]
fn a_state_db_with_damaged_pages_is_named_and_nothing_runs() {
    let t = Test::new().runbook("gated.yaml", &gated());
    let id = interrupted_run(&t, &["run", "gated.yaml"]);
    // Every page but the first (which holds the schema) is overwritten.
    let db = t.state_db();
    let mut bytes = std::fs::read(&db).expect("read the state DB");
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(bytes.len() > 2 * page_size, "the DB has more than one page");
    bytes[page_size..].fill(0x5a);
    std::fs::write(&db, &bytes).expect("damage the state DB");
    t.touch("go");

    for args in [
        vec!["resume", id.as_str()],
        vec!["run", "--resume-incomplete", "gated.yaml"],
        vec!["run", "gated.yaml"],
    ] {
        let out = t.args(args.iter().copied()).run().code(1);
        assert!(
            out.stderr.contains("is damaged") && out.stderr.contains(&db.display().to_string()),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(t.lines("started"), ["hold"], "{args:?} ran a step");
    }
    assert_eq!(
        std::fs::read(&db).expect("read"),
        bytes,
        "the damaged file was written"
    );
}
