//! `exec` owns its process group: a step `timeout`, exec's own `timeout`, SIGINT,
//! SIGTERM and a second Ctrl-C end the program *and* what it started (`sh -c 'a & b &
//! wait'`), and the run still records how it ended.
//!
//! The programs write the pids of their children to `pids`; a child counts as alive
//! while `/proc/PID` is a `sleep 297` that is not a zombie (a zombie is dead and only
//! waits for its new parent to reap it; the odd duration tells it from a reused pid).

use nix::sys::signal::Signal;

use crate::harness::{Test, step};

/// A shell that starts two `sleep 297` in the background, writes their pids and waits
/// for them. With `ignore_term`, all three ignore SIGTERM, so only SIGKILL ends them.
/// With `gate`, it exits at once when the file `go` exists (for resume).
fn spawner(ignore_term: bool) -> String {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    format!(
        "[ -e go ] && exit 0; {trap}sleep 297 & echo $! >> pids; sleep 297 & echo $! >> pids; wait"
    )
}

fn runbook(step_keys: &str, ignore_term: bool) -> String {
    format!(
        r#"name: exec-group
steps:
  - id: spawn
    action: exec
{step_keys}    with:
      argv: [sh, -c, "{}"]
      allow_on_sim: true
"#,
        spawner(ignore_term)
    )
}

/// Whether `pid` is still a live `sleep 297`.
fn sleeper_alive(pid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state is the first field after the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    state != "Z" && cmdline == b"sleep\x00297\x00"
}

/// Waits until the program has written both pids and both children run.
fn wait_for_children(t: &Test, bg: &mut crate::harness::Background) -> Vec<String> {
    bg.wait_until("both children run `sleep 297`", || {
        let pids = t.lines("pids");
        pids.len() == 2 && pids.iter().all(|pid| sleeper_alive(pid))
    });
    t.lines("pids")
}

/// The children end promptly: they would otherwise live for 297 s.
fn assert_children_gone(t: &Test, pids: &[String]) {
    t.wait_until("the program's children are gone", || {
        pids.iter().all(|pid| !sleeper_alive(pid))
    });
}

/// Kills whatever a failed test left alive.
struct Reaper(Vec<String>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            if sleeper_alive(pid) {
                if let Ok(raw) = pid.parse::<i32>() {
                    let _ =
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), Signal::SIGKILL);
                }
            }
        }
    }
}

fn step_timeout_ends_the_group(ignore_term: bool) {
    let t = Test::new().runbook("group.yaml", &runbook("    timeout: 1s\n", ignore_term));
    let mut bg = t.args(["--output", "json", "run", "group.yaml"]).spawn();
    let pids = wait_for_children(&t, &mut bg);
    let _reaper = Reaper(pids.clone());
    let out = bg.wait().code(1);
    assert_children_gone(&t, &pids);
    let finished = out
        .events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "spawn")
        .expect("spawn finished");
    assert_eq!(finished["status"], "failed");
    assert_eq!(finished["detail"], "timed out after 1s");
    assert_eq!(t.only_run()["status"], "failed");
}

#[test]
fn a_step_timeout_ends_the_programs_children() {
    step_timeout_ends_the_group(false);
}

/// SIGTERM is ignored by all of them: SIGKILL after the grace period must follow, even
/// though the run ends (and the process exits) right after the step times out.
#[test]
fn a_step_timeout_kills_children_that_ignore_sigterm() {
    step_timeout_ends_the_group(true);
}

#[test]
fn exec_own_timeout_ends_the_programs_children() {
    let t = Test::new();
    t.write(
        "group.yaml",
        &runbook("", true).replace(
            "allow_on_sim: true",
            "allow_on_sim: true\n      timeout: 1s",
        ),
    );
    let mut bg = t.args(["--output", "json", "run", "group.yaml"]).spawn();
    let pids = wait_for_children(&t, &mut bg);
    let _reaper = Reaper(pids.clone());
    bg.wait().code(1);
    // `exec` waits for its group to be gone before the step ends.
    assert!(
        pids.iter().all(|pid| !sleeper_alive(pid)),
        "children outlived the step"
    );
}

/// A program that exits and leaves children behind: the step ends when the program
/// does (it does not hang on the children holding its output pipes) and the children
/// are ended with it.
#[test]
fn children_left_behind_by_a_finished_program_are_ended() {
    let t = Test::new().runbook(
        "leftover.yaml",
        r#"name: leftover
steps:
  - id: leave
    action: exec
    with:
      argv: [sh, -c, "sleep 297 & echo $! >> pids; echo started"]
      allow_on_sim: true
"#,
    );
    let out = t
        .args(["--output", "json", "run", "leftover.yaml"])
        .run()
        .success();
    let pids = t.lines("pids");
    let _reaper = Reaper(pids.clone());
    assert_eq!(pids.len(), 1, "{}", out.stdout);
    assert!(!sleeper_alive(&pids[0]), "the child outlived the step");
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&run_id);
    assert_eq!(step(&status, "leave")["status"], "succeeded");
}

fn signal_ends_the_group(signal: Signal, ignore_term: bool) {
    let t = Test::new().runbook("group.yaml", &runbook("", ignore_term));
    let mut bg = t.args(["--output", "json", "run", "group.yaml"]).spawn();
    let pids = wait_for_children(&t, &mut bg);
    let _reaper = Reaper(pids.clone());
    bg.signal(signal);
    bg.wait().code(130);
    // The run waited for the group before it recorded the interruption.
    assert!(
        pids.iter().all(|pid| !sleeper_alive(pid)),
        "children outlived the interrupted run"
    );
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&run_id);
    assert_eq!(status["status"], "interrupted", "{status:#}");
    assert_eq!(step(&status, "spawn")["status"], "running");
}

#[test]
fn sigint_ends_the_programs_children() {
    signal_ends_the_group(Signal::SIGINT, false);
}

#[test]
fn sigterm_ends_the_programs_children() {
    signal_ends_the_group(Signal::SIGTERM, false);
}

#[test]
fn sigint_kills_children_that_ignore_sigterm() {
    signal_ends_the_group(Signal::SIGINT, true);
}

/// The second SIGINT arrives while the first is still ending the step's group (its
/// programs ignore SIGTERM, so that takes the grace period): the process exits at
/// once, and yet the state DB says `interrupted`, the children are gone and `resume`
/// finishes the run.
#[test]
fn a_second_sigint_records_the_interruption_before_exiting() {
    let t = Test::new().runbook("group.yaml", &runbook("", true));
    let mut bg = t.args(["--output", "json", "run", "group.yaml"]).spawn();
    let pids = wait_for_children(&t, &mut bg);
    let _reaper = Reaper(pids.clone());
    bg.signal(Signal::SIGINT);
    bg.wait_until("the first SIGINT is noticed", || {
        bg_stdout_has(&t, "SIGINT: stopping")
    });
    let sent = std::time::Instant::now();
    bg.signal(Signal::SIGINT);
    let out = bg.wait().code(130);
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(1),
        "the second SIGINT took {:?} to exit",
        sent.elapsed()
    );
    // SIGKILL was sent to the group before the exit; the kernel ends its processes
    // as soon as they are scheduled, which on a busy machine can be just after.
    t.wait_until("the children are gone after the second SIGINT", || {
        pids.iter().all(|pid| !sleeper_alive(pid))
    });
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let notice = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "notice")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .next_back()
        .expect("a notice");
    assert_eq!(
        notice,
        format!(
            "SIGINT again: exiting now; the run is recorded as interrupted and `runbook resume {run_id}` continues it"
        )
    );
    let status = t.status(&run_id);
    assert_eq!(status["status"], "interrupted", "{status:#}");
    assert_eq!(t.runs_with_status("interrupted").len(), 1);

    t.touch("go");
    t.args(["resume", &run_id]).run().success();
    assert_eq!(t.status(&run_id)["status"], "succeeded");
}

/// Whether any stdout file of the test's background runs contains `text`.
fn bg_stdout_has(t: &Test, text: &str) -> bool {
    std::fs::read_dir(t.path(".out"))
        .map(|entries| {
            entries.flatten().any(|e| {
                e.path().extension().is_some_and(|x| x == "stdout")
                    && std::fs::read_to_string(e.path()).is_ok_and(|s| s.contains(text))
            })
        })
        .unwrap_or(false)
}
