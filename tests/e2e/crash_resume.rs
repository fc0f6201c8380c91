//! `kill -9` at different points of a run, then `resume`: the run completes, and a
//! step that had succeeded never runs again.
//!
//! The side effects are counted in a file: every `exec` step appends its own id. A step
//! that was *running* when the process died is re-entered on resume (the engine cannot
//! know whether the program finished, README "State and resume"), so its id may appear
//! twice; in these runbooks it appends first and then waits, so when it is killed while
//! waiting it has appended once and appends again on resume: exactly twice. Every
//! other id appears exactly once.
//!
//! `exec` runs its program in a process group of its own, so `kill -9` of the run's
//! group leaves that program running as an orphan: the waiting steps here wait on a
//! file that the test creates before resuming, and then end without appending.

use nix::sys::signal::Signal;

use crate::harness::{
    Test, all_succeeded_once, count, gate, run_id_of, started_steps, step, step_summary,
};

/// One `exec` step that appends `id` to `counter`; with `hold`, it then waits until the
/// file `open-{id}` exists (the window in which the test kills the run).
fn appender(id: &str, hold: bool) -> String {
    let sleep = if hold {
        format!("; {}", gate(&format!("open-{id}")))
    } else {
        String::new()
    };
    format!(
        "  - id: {id}\n    action: exec\n    with: {{ argv: [sh, -c, \"echo {id} >> counter{sleep}\"], allow_on_sim: true }}\n"
    )
}

/// Four steps `s1`..`s4`; each appends its id, and all but the last then hold.
fn four_steps() -> String {
    let mut yaml = String::from("name: crash\nsteps:\n");
    for i in 1..=4 {
        yaml.push_str(&appender(&format!("s{i}"), i < 4));
    }
    yaml
}

/// Lets every held step of [`four_steps`] go on.
fn open_all(t: &Test) {
    for i in 1..=4 {
        t.touch(&format!("open-s{i}"));
    }
}

/// How the killed run is continued.
#[derive(Clone, Copy, Debug)]
enum ResumeWith {
    /// `runbook resume RUN`
    RunId,
    /// `runbook resume` (the latest incomplete run)
    Latest,
    /// `runbook run --resume-incomplete FILE` (the cron mode)
    ResumeIncomplete,
}

/// Kills the run while step `s{k}` sleeps after appending, resumes it, and checks
/// what a user relies on: exit 0, every step succeeded with one attempt, `s{k}`
/// re-entered under the same attempt and idempotency key, every other step's side
/// effect exactly once, and the same single run in `runs`.
fn kill_while_step_runs_then_resume(k: usize, how: ResumeWith) {
    let t = Test::new().runbook("crash.yaml", &four_steps());
    let killed = format!("s{k}");
    for i in 1..k {
        t.touch(&format!("open-s{i}"));
    }
    let mut bg = t.args(["--output", "json", "run", "crash.yaml"]).spawn();
    bg.wait_until(&format!("{killed} has appended"), || {
        t.lines("counter").len() == k
    });
    bg.kill9();

    let before: Vec<String> = (1..=k).map(|i| format!("s{i}")).collect();
    assert_eq!(t.lines("counter"), before, "side effects before the kill");

    // A killed run looks like a running one: nobody could mark it.
    let run = t.only_run();
    assert_eq!(run["status"], "running", "{run:#}");
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let status = t.status(&run_id);
    let mut expected: Vec<(String, String, u64)> = (1..k)
        .map(|i| (format!("s{i}"), "succeeded".to_owned(), 1))
        .collect();
    expected.push((killed.clone(), "running".to_owned(), 1));
    assert_eq!(step_summary(&status), expected, "checkpoints at the kill");

    // The intent record of the killed step, with its idempotency key, is on disk.
    let records = t.attempt_records(&run_id);
    let at_kill = records
        .iter()
        .find(|r| r.step_key == killed)
        .expect("the killed step has a record")
        .clone();
    assert!(
        !at_kill.idempotency_key.is_empty(),
        "the killed step has no idempotency key"
    );

    open_all(&t);
    let resumed = match how {
        ResumeWith::RunId => t.args(["--output", "json", "resume", run_id.as_str()]),
        ResumeWith::Latest => t.args(["--output", "json", "resume"]),
        ResumeWith::ResumeIncomplete => t.args([
            "--output",
            "json",
            "run",
            "--resume-incomplete",
            "crash.yaml",
        ]),
    }
    .run()
    .success();
    let events = resumed.events();
    assert_eq!(run_id_of(&events), run_id, "{how:?} continued another run");
    assert_eq!(events[0]["resumed"], true, "{:#}", events[0]);

    // Only the killed step and those after it start again; the killed one is
    // re-entered (same attempt), the later ones start fresh.
    let mut expected_starts = vec![(killed.clone(), 1, true)];
    expected_starts.extend((k + 1..=4).map(|i| (format!("s{i}"), 1, false)));
    assert_eq!(started_steps(&events), expected_starts);

    // Side effects: the killed step twice (it appended before dying and again when
    // re-entered), every other step exactly once.
    let lines = t.lines("counter");
    for i in 1..=4 {
        let id = format!("s{i}");
        let expected = if i == k { 2 } else { 1 };
        assert_eq!(count(&lines, &id), expected, "`{id}` in counter: {lines:?}");
    }

    let run = t.only_run();
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["status"], "succeeded");
    let status = t.status(&run_id);
    assert_eq!(status["resumes"], 1);
    let all_done: Vec<(String, String, u64)> = (1..=4)
        .map(|i| (format!("s{i}"), "succeeded".to_owned(), 1))
        .collect();
    assert_eq!(step_summary(&status), all_done);

    // Re-entered, not retried: still one attempt record for the killed step, under the
    // key it had before the kill.
    let records = t.attempt_records(&run_id);
    let of_killed: Vec<_> = records.iter().filter(|r| r.step_key == killed).collect();
    assert_eq!(of_killed.len(), 1, "attempt records: {of_killed:#?}");
    assert_eq!(of_killed[0].attempt, at_kill.attempt);
    assert_eq!(of_killed[0].idempotency_key, at_kill.idempotency_key);
}

#[test]
fn kill_9_in_first_step_then_resume_run_id() {
    kill_while_step_runs_then_resume(1, ResumeWith::RunId);
}

#[test]
fn kill_9_in_second_step_then_resume_latest() {
    kill_while_step_runs_then_resume(2, ResumeWith::Latest);
}

#[test]
fn kill_9_in_third_step_then_run_resume_incomplete() {
    kill_while_step_runs_then_resume(3, ResumeWith::ResumeIncomplete);
}

/// Killed while a separate `sleep` step runs, after the step with the side effect
/// succeeded: nothing is appended twice.
#[test]
fn kill_9_between_side_effects_repeats_none() {
    let yaml = format!(
        "name: between\nsteps:\n{}  - id: pause\n    action: exec\n    with: {{ argv: [sh, -c, \"{}\"], allow_on_sim: true }}\n{}",
        appender("a", false),
        gate("go"),
        appender("b", false),
    );
    let t = Test::new().runbook("between.yaml", &yaml);
    // Create the state DB before polling it while the run starts: the first opens of a
    // new DB by two processes at once can fail (a bug, see `locking.rs`).
    assert!(t.runs().is_empty());
    let mut bg = t.args(["run", "between.yaml"]).spawn();
    // Kill only once the DB says `a` succeeded and `pause` runs (readers do not block
    // the writer: WAL).
    bg.wait_until("`pause` is running", || {
        let runs = t.runs();
        let Some(id) = runs.first().and_then(|r| r["id"].as_str()) else {
            return false;
        };
        let summary = step_summary(&t.status(id));
        summary
            .last()
            .is_some_and(|(k, s, _)| k == "pause" && s == "running")
    });
    bg.kill9();
    assert_eq!(t.lines("counter"), ["a"]);

    t.touch("go");
    let out = t.args(["--output", "json", "resume"]).run().success();
    assert_eq!(
        started_steps(&out.events()),
        [("pause".to_owned(), 1, true), ("b".to_owned(), 1, false)]
    );
    assert_eq!(t.lines("counter"), ["a", "b"]);
}

/// `kill -9` at arbitrary instants, from before the run exists to after it finished.
/// Whatever the instant, after `resume`:
/// - a step whose success was recorded before the kill did not run again;
/// - a step with no record at the kill had not run (its intent is written before the
///   program starts) and ran exactly once;
/// - the step recorded `running` ran at most twice.
#[test]
fn kill_9_at_arbitrary_instants_never_repeats_a_succeeded_step() {
    let ids = ["a", "b", "c", "d"];
    let mut yaml = String::from("name: anytime\nsteps:\n");
    for id in ids {
        yaml.push_str(&format!(
            "  - id: {id}\n    action: exec\n    with: {{ argv: [sh, -c, \"echo {id} >> counter; sleep 0.03\"], allow_on_sim: true }}\n"
        ));
    }
    // Kill at fractions of the time a whole run takes on this machine, from its start
    // to just past its end.
    let whole = {
        let t = Test::new().runbook("anytime.yaml", &yaml);
        let started = std::time::Instant::now();
        t.args(["run", "anytime.yaml"]).run().success();
        started.elapsed()
    };
    let mut tally = Vec::new();
    let mut caught_in_flight = false;
    for eighth in 0..=9_u32 {
        let delay = whole * eighth / 8;
        let delay_ms = delay.as_millis();
        let t = Test::new().runbook("anytime.yaml", &yaml);
        let bg = t.args(["run", "anytime.yaml"]).spawn();
        std::thread::sleep(delay);
        let killed = bg.kill9_or_exit();
        let at_kill = t.lines("counter");
        let runs = t.runs();
        let Some(run) = runs.first() else {
            assert!(at_kill.is_empty(), "effects without a run: {at_kill:?}");
            t.args(["resume"])
                .run()
                .code(2)
                .stderr("error: there is no incomplete run to resume\n");
            continue;
        };
        let run_id = run["id"].as_str().expect("run id").to_owned();
        let recorded = step_summary(&t.status(&run_id));
        let status_of = |id: &str| {
            recorded
                .iter()
                .find(|(k, _, _)| k == id)
                .map(|(_, s, _)| s.clone())
        };
        for id in ids {
            if status_of(id).is_none() {
                assert_eq!(
                    count(&at_kill, id),
                    0,
                    "delay {delay_ms}ms: `{id}` ran without a record; {recorded:?}"
                );
            }
        }
        t.args(["resume", run_id.as_str()]).run().success();
        tally.push(format!("{delay_ms}ms: killed={killed} {recorded:?}"));
        caught_in_flight |= killed && recorded.iter().any(|(_, s, _)| s == "running");
        let after = t.lines("counter");
        for id in ids {
            let n = count(&after, id);
            match status_of(id).as_deref() {
                Some("succeeded") => assert_eq!(
                    n, 1,
                    "delay {delay_ms}ms: succeeded `{id}` ran again: {after:?}"
                ),
                Some("running") => assert!(
                    (1..=2).contains(&n),
                    "delay {delay_ms}ms: running `{id}` ran {n} times: {after:?}"
                ),
                None => assert_eq!(n, 1, "delay {delay_ms}ms: `{id}`: {after:?}"),
                Some(other) => panic!("delay {delay_ms}ms: `{id}` was {other} at the kill"),
            }
        }
        let status = t.status(&run_id);
        assert_eq!(status["status"], "succeeded", "delay {delay_ms}ms");
        assert!(
            step_summary(&status)
                .iter()
                .all(|(_, s, attempts)| s == "succeeded" && *attempts == 1),
            "delay {delay_ms}ms: {status:#}"
        );
    }
    assert!(
        caught_in_flight,
        "no kill landed while a step ran (a whole run took {whole:?}):\n{}",
        tally.join("\n")
    );
}

/// A crash inside a `for_each` instance and then one inside `finally`: instances that
/// succeeded are not redone, the list of outputs is whole for later steps, and the
/// main steps do not run again when only `finally` was left.
#[test]
fn kill_9_in_for_each_and_in_finally() {
    let yaml = format!(
        r#"name: loops
steps:
  - id: each
    action: exec
    for_each: [x, y, z]
    with:
      argv: [sh, -c, "echo each-{{{{ item }}}} >> counter; [ {{{{ item }}}} != y ] || {{ {}; }}"]
      allow_on_sim: true
  - id: total
    action: exec
    with:
      argv: [sh, -c, "echo total-{{{{ steps.each.outputs | length }}}} >> counter"]
      allow_on_sim: true
finally:
  - id: cleanup
    action: exec
    with:
      argv: [sh, -c, "echo cleanup >> counter; {}"]
      allow_on_sim: true
"#,
        gate("open-y"),
        gate("open-cleanup")
    );
    let t = Test::new().runbook("loops.yaml", &yaml);
    let mut bg = t.args(["run", "loops.yaml"]).spawn();
    bg.wait_until("each[1] has appended", || t.lines("counter").len() == 2);
    bg.kill9();
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        step_summary(&t.status(&run_id)),
        [
            ("each[0]".to_owned(), "succeeded".to_owned(), 1),
            ("each[1]".to_owned(), "running".to_owned(), 1)
        ]
    );

    // Resume; this time it is killed in `finally`.
    t.touch("open-y");
    let mut bg = t
        .args(["--output", "json", "resume", run_id.as_str()])
        .spawn();
    bg.wait_until("cleanup has appended", || {
        t.lines("counter").contains(&"cleanup".to_owned())
    });
    bg.kill9();
    assert_eq!(
        t.lines("counter"),
        ["each-x", "each-y", "each-y", "each-z", "total-3", "cleanup"]
    );

    t.touch("open-cleanup");
    let out = t.args(["--output", "json", "resume"]).run().success();
    assert_eq!(
        started_steps(&out.events()),
        [("cleanup".to_owned(), 1, true)],
        "only the interrupted finally step runs again"
    );
    assert_eq!(
        t.lines("counter"),
        [
            "each-x", "each-y", "each-y", "each-z", "total-3", "cleanup", "cleanup"
        ]
    );
    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["resumes"], 2);
    assert_eq!(step(&status, "cleanup")["finally"], true);
    assert_eq!(
        step(&status, "total")["outputs"]["exit_code"],
        0,
        "{status:#}"
    );
    assert!(all_succeeded_once(&status), "{status:#}");
}

/// SIGKILL of the runbook process alone (as the OOM killer does): the program its step
/// started lives on as an orphan, and resume still completes the run.
#[test]
fn kill_9_of_the_process_alone_then_resume() {
    let t = Test::new().runbook("alone.yaml", &four_steps());
    t.touch("open-s1");
    let mut bg = t.args(["run", "alone.yaml"]).spawn();
    bg.wait_until("s2 has appended", || t.lines("counter").len() == 2);
    bg.signal(Signal::SIGKILL);
    let out = bg.wait();
    assert_eq!(out.signal, Some(Signal::SIGKILL as i32));
    open_all(&t);
    t.args(["resume"]).run().success();
    let lines = t.lines("counter");
    assert_eq!(count(&lines, "s1"), 1, "{lines:?}");
    assert_eq!(count(&lines, "s2"), 2, "{lines:?}");
    assert_eq!(count(&lines, "s3"), 1, "{lines:?}");
    assert_eq!(count(&lines, "s4"), 1, "{lines:?}");
    assert_eq!(t.only_run()["status"], "succeeded");
}
