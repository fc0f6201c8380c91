//! SIGINT and SIGTERM: exit 130, the run is left `interrupted` with the step in flight
//! to be re-entered, `finally` waits for the resume, and `resume` finishes the run.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{Test, count, run_id_of, started_steps, step, step_summary};

/// `hold` appends and then waits until `go` exists, like a long cloud call (a `sleep`
/// step on `sim` would take virtual time, hence `exec`).
fn runbook() -> &'static str {
    r#"name: signals
steps:
  - id: first
    action: exec
    with: { argv: [sh, -c, "echo first >> counter"], allow_on_sim: true }
  - id: hold
    action: exec
    with: { argv: [sh, -c, "echo hold >> counter; [ -e go ] || exec sleep 5"], allow_on_sim: true }
  - id: last
    action: exec
    with: { argv: [sh, -c, "echo last >> counter"], allow_on_sim: true }
finally:
  - id: cleanup
    action: exec
    with: { argv: [sh, -c, "echo cleanup >> counter"], allow_on_sim: true }
"#
}

fn interrupt_then_resume(signal: Signal) {
    let t = Test::new().runbook("signals.yaml", runbook());
    let mut bg = t.args(["--output", "json", "run", "signals.yaml"]).spawn();
    bg.wait_until("`hold` has started", || {
        t.lines("counter") == ["first", "hold"]
    });
    let sent = Instant::now();
    bg.signal(signal);
    let out = bg.wait().code(130);
    // The step in flight was not waited for (it would take 5 s).
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{signal} took {:?} to stop the run",
        sent.elapsed()
    );

    let events = out.events();
    let run_id = run_id_of(&events);
    let notice = events
        .iter()
        .find(|e| e["event"] == "notice")
        .unwrap_or_else(|| panic!("no notice of the signal in {events:#?}"));
    assert_eq!(
        notice["message"],
        format!(
            "{}: stopping; steps in flight finish or are left to resume (send again to exit now)",
            signal.as_str()
        )
    );
    let hold_end = events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "hold")
        .expect("hold finished event");
    assert_eq!(hold_end["status"], "interrupted", "{hold_end:#}");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["status"], "interrupted");
    assert_eq!(
        last["detail"],
        format!("resume with `runbook resume {run_id}`")
    );

    // Nothing else ran: not `last`, and not `finally` (it runs when the run ends).
    assert_eq!(t.lines("counter"), ["first", "hold"]);
    let run = t.only_run();
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["status"], "interrupted", "{run:#}");
    let status = t.status(&run_id);
    assert_eq!(status["status"], "interrupted");
    assert_eq!(
        step_summary(&status),
        [
            ("first".to_owned(), "succeeded".to_owned(), 1),
            ("hold".to_owned(), "running".to_owned(), 1)
        ]
    );
    assert_eq!(t.runs_with_status("interrupted").len(), 1);

    t.touch("go");
    let out = t.args(["--output", "json", "resume"]).run().success();
    let events = out.events();
    assert_eq!(run_id_of(&events), run_id);
    assert_eq!(
        started_steps(&events),
        [
            ("hold".to_owned(), 1, true),
            ("last".to_owned(), 1, false),
            ("cleanup".to_owned(), 1, false)
        ]
    );
    let lines = t.lines("counter");
    assert_eq!(lines, ["first", "hold", "hold", "last", "cleanup"]);
    assert_eq!(count(&lines, "first"), 1);

    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["resumes"], 1);
    assert_eq!(step(&status, "hold")["attempts"], 1);
    assert_eq!(t.only_run()["status"], "succeeded");
}

#[test]
fn sigint_exits_130_and_resume_finishes() {
    interrupt_then_resume(Signal::SIGINT);
}

#[test]
fn sigterm_exits_130_and_resume_finishes() {
    interrupt_then_resume(Signal::SIGTERM);
}

/// Ctrl-C in a terminal sends SIGINT to the whole foreground process group, so the
/// program of the step in flight gets it too and dies. The run must still end as
/// interrupted (130) with that step re-entered on resume, not as a failed step.
/// Repeated because it was a race (the child's death against the signal handler).
#[test]
fn ctrl_c_to_the_process_group_interrupts_not_fails() {
    for round in 0..10 {
        let t = Test::new().runbook("signals.yaml", runbook());
        let mut bg = t.args(["run", "signals.yaml"]).spawn();
        bg.wait_until("`hold` has started", || {
            t.lines("counter") == ["first", "hold"]
        });
        bg.signal_group(Signal::SIGINT);
        let out = bg.wait();
        assert_eq!(
            out.code,
            Some(130),
            "round {round}: Ctrl-C gave exit {:?}\n{}{}",
            out.code,
            out.stdout,
            out.stderr
        );
        let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
        let status = t.status(&run_id);
        assert_eq!(
            step(&status, "hold")["status"],
            "running",
            "round {round}: the step killed by Ctrl-C must be left for re-entry: {status:#}"
        );
    }
}

/// Two SIGINTs in quick succession (an impatient user): whether the second one finds
/// the run still stopping (and exits at once) or already gone, the exit code is 130 and
/// the run resumes.
#[test]
fn double_sigint_exits_130_and_the_run_resumes() {
    let t = Test::new().runbook("signals.yaml", runbook());
    let mut bg = t.args(["run", "signals.yaml"]).spawn();
    bg.wait_until("`hold` has started", || {
        t.lines("counter") == ["first", "hold"]
    });
    bg.signal(Signal::SIGINT);
    // The process may already be gone; a failed second kill is fine.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(bg.pid()).expect("pid")),
        Signal::SIGINT,
    );
    bg.wait().code(130);
    t.touch("go");
    t.args(["resume"]).run().success();
    assert_eq!(
        t.lines("counter"),
        ["first", "hold", "hold", "last", "cleanup"]
    );
}
