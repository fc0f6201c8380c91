//! Presenter mode: the story told live, as it happens (the priority and autoscaling
//! demos' lines, in time order, before their summary step), and the pace
//! (`--fast-until`, `--pause-before`), which changes how long the story takes to
//! watch but not one of its virtual times.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::canned_runbooks::canned;
use crate::harness::{Output, Test, json_lines};

/// The story's lines of a plain run (` * ` after the virtual time), without their
/// wall-clock stamp: `[t+12m36s] executor #2 of the low-priority job preempted ...`.
fn story(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(' ')?;
            let (at, text) = rest.split_once(" * ")?;
            Some(format!("{at} {text}"))
        })
        .collect()
}

/// Seconds of a `[t+12m36s]` (or `[t+1h02m03s]`) stamp.
fn seconds(stamp: &str) -> u64 {
    let inner = stamp
        .trim_start_matches("[t+")
        .split(']')
        .next()
        .unwrap_or_default();
    let mut total = 0;
    let mut number = 0;
    for c in inner.chars() {
        match c {
            '0'..='9' => number = number * 10 + u64::from(c.to_digit(10).unwrap_or(0)),
            'h' => (total, number) = (total + number * 3600, 0),
            'm' => (total, number) = (total + number * 60, 0),
            's' => (total, number) = (total + number, 0),
            _ => panic!("not a virtual time: {stamp}"),
        }
    }
    total
}

/// Asserts the story is told in time order, all of it before the summary step starts.
#[track_caller]
fn assert_told_in_order_before_the_summary(out: &Output) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let summary = lines
        .iter()
        .position(|l| l.contains("step summary (log) started"))
        .unwrap_or_else(|| panic!("no summary step in\n{}", out.stdout));
    let told: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" * "))
        .collect();
    assert!(!told.is_empty(), "no story in\n{}", out.stdout);
    assert!(
        told.iter().all(|&i| i < summary),
        "a story line after the summary step started:\n{}",
        out.stdout
    );
    let times: Vec<u64> = story(out)
        .iter()
        .map(|l| seconds(l.split(' ').next().unwrap_or_default()))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "the story is not in time order:\n{}",
        story(out).join("\n")
    );
}

fn run_plain(t: &Test, runbook: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--output", "plain", "run", runbook];
    args.extend_from_slice(extra);
    t.args(args).run().success()
}

#[test]
fn the_priority_demo_tells_its_story_as_it_happens() {
    let t = Test::new();
    let out = run_plain(&t, &canned("priority-demo.yaml"), &[]);
    assert_told_in_order_before_the_summary(&out);
    insta::assert_snapshot!("priority_demo_story", story(&out).join("\n"));
}

#[test]
fn the_autoscaling_demo_tells_its_story_as_it_happens() {
    let t = Test::new();
    let out = run_plain(&t, &canned("autoscaling-demo.yaml"), &[]);
    assert_told_in_order_before_the_summary(&out);
    insta::assert_snapshot!("autoscaling_demo_story", story(&out).join("\n"));
}

#[test]
fn verbose_tells_the_detail_too() {
    let t = Test::new();
    let plain = story(&run_plain(&t, &canned("priority-demo.yaml"), &[]));
    let out = run_plain(&t, &canned("priority-demo.yaml"), &["--verbose"]);
    assert_told_in_order_before_the_summary(&out);
    let verbose = story(&out);
    for detail in [
        "[t+12m13s] task 0 of the low-priority job started on executor #1 (20s)",
        "[t+12m36s] task 1 of the low-priority job lost with executor #2; it runs again",
        "[t+13m06s] executor #2 of the low-priority job deleted (Preempted)",
    ] {
        assert!(
            verbose.iter().any(|l| l == detail),
            "no `{detail}` in\n{}",
            verbose.join("\n")
        );
        assert!(!plain.iter().any(|l| l == detail), "`{detail}` is detail");
    }
    let mut rest = verbose.iter();
    assert!(
        plain.iter().all(|line| rest.any(|l| l == line)),
        "the verbose story holds the story, in its order"
    );
}

#[test]
fn json_output_narrates_with_each_events_time_and_kind() {
    let t = Test::new();
    let out = t
        .args(["--output", "json", "run", &canned("priority-demo.yaml")])
        .run()
        .success();
    let events = json_lines(&out.stdout);
    let preempted = events
        .iter()
        .position(|e| e["event"] == "narration" && e["kind"] == "PodPreempted")
        .expect("the preemption is narrated");
    let summary = events
        .iter()
        .position(|e| e["event"] == "step_started" && e["step"] == "summary")
        .expect("the summary step");
    assert!(preempted < summary);
    let line = &events[preempted];
    assert_eq!(line["at_ms"], 756_000, "{line}");
    assert_eq!(line["sim_ms"], 756_000, "{line}");
    assert_eq!(
        line["text"],
        "executor #2 of the low-priority job preempted on ip-192-168-87-33 by intra-day-batch-high-priority-9aa96d3dd287378d-exec-2 (priority 400 > 100)"
    );
}

#[test]
fn the_pace_changes_the_wall_time_not_the_story() {
    let reference = Test::new();
    let unpaced = run_plain(&reference, &canned("priority-demo.yaml"), &[]);
    let t = Test::new();
    let paced = t
        .args([
            "--output",
            "plain",
            "run",
            &canned("priority-demo.yaml"),
            "--sim-speed",
            "400",
            "--fast-until",
            "high_job",
            "--pause-before",
            "high_job",
            "--pause-before",
            "platform/cluster",
        ])
        .stdin("\n\n")
        .run()
        .success();
    assert_eq!(story(&paced), story(&unpaced));
    for said in [
        "paused before platform/cluster, virtual time stands still: waiting for a line on stdin",
        "going on with platform/cluster after a pause of",
        "high_job starts: from now on 400 virtual seconds pass per wall second (--fast-until)",
        "paused before high_job, virtual time stands still",
        "going on with high_job after a pause of",
    ] {
        assert!(
            paced.stdout.contains(said),
            "no `{said}` in\n{}",
            paced.stdout
        );
    }
    // Every event of the world, in virtual time, is the unpaced run's.
    let events = |t: &Test| {
        let run = t.only_run();
        t.event_records(run["id"].as_str().expect("run id"))
            .into_iter()
            .filter(|e| e.step_key.is_none())
            .map(|e| format!("{} {} {}", e.at_ms, e.kind, e.data))
            .collect::<Vec<_>>()
    };
    assert_eq!(events(&t), events(&reference));
}

#[test]
fn a_pause_holds_the_run_until_enter() {
    let t = Test::new();
    let mut running = t
        .args([
            "--output",
            "plain",
            "run",
            &canned("priority-demo.yaml"),
            "--pause-before",
            "high_job",
        ])
        .stdin_pipe()
        .spawn();
    running.wait_for_stdout("paused before high_job");
    std::thread::sleep(Duration::from_millis(300));
    let so_far = running.stdout_so_far();
    assert!(
        !so_far.contains("step high_job (submit-job) started")
            && !so_far.contains("* high-priority job"),
        "the run went on during the pause:\n{so_far}"
    );
    assert!(
        so_far
            .lines()
            .last()
            .is_some_and(|l| l.contains("[t+12m09s] paused before high_job")),
        "virtual time stands at the pause:\n{so_far}"
    );
    running.write_stdin("\n");
    let out = running.wait().success();
    assert!(
        out.stdout.contains("going on with high_job"),
        "{}",
        out.stdout
    );
    assert_told_in_order_before_the_summary(&out);
}

/// priority-demo paused before `high_job`, then interrupted there (exit 130): a run to
/// resume.
pub(crate) fn interrupted_while_paused_before_high_job(t: &Test) -> Output {
    let mut running = t
        .args([
            "--output",
            "plain",
            "run",
            &canned("priority-demo.yaml"),
            "--pause-before",
            "high_job",
        ])
        .stdin_pipe()
        .spawn();
    running.wait_for_stdout("paused before high_job");
    running.signal(Signal::SIGINT);
    running.wait().code(130)
}

#[test]
fn a_run_interrupted_while_paused_resumes_with_the_same_story() {
    let reference = Test::new();
    let unpaced = run_plain(&reference, &canned("priority-demo.yaml"), &[]);
    let t = Test::new();
    let out = interrupted_while_paused_before_high_job(&t);
    assert!(
        out.stdout
            .contains("high_job interrupted: interrupted while paused; it starts on resume"),
        "{}",
        out.stdout
    );
    let resumed = t.args(["--output", "plain", "resume"]).run().success();
    let told: Vec<String> = story(&out).into_iter().chain(story(&resumed)).collect();
    assert_eq!(told, story(&unpaced));
}

#[test]
fn pace_flags_name_steps_of_the_runbook() {
    let t = Test::new().runbook(
        "demo.yaml",
        r#"name: demo
steps:
  - { id: low_job, action: log, with: { message: low } }
  - { id: high_job, action: log, with: { message: high } }
"#,
    );
    t.args(["run", "demo.yaml", "--pause-before", "hihg_job"])
        .run()
        .code(2)
        .stderr("error: --pause-before `hihg_job`: demo.yaml has no such step; did you mean `high_job`?\n");
    t.args(["run", "demo.yaml", "--sim-speed", "10", "--fast-until", "platform/cluster"])
        .run()
        .code(2)
        .stderr("error: --fast-until `platform/cluster`: demo.yaml has no such step; its steps are low_job, high_job (a step of an included runbook is named `step/inner`)\n");
    t.args(["run", "demo.yaml", "--fast-until", "high_job"])
        .run()
        .code(2)
        .stderr("error: --fast-until STEP runs at full speed until STEP starts, then at --sim-speed: give --sim-speed N too\n");
    assert!(t.runs().is_empty(), "nothing was recorded");
    // A step of an included runbook is named through the step that includes it.
    let out = t
        .args([
            "run",
            &canned("priority-demo.yaml"),
            "--pause-before",
            "platform/cluster",
        ])
        .run()
        .success();
    assert!(
        out.stdout
            .contains("not pausing before platform/cluster: stdin has ended"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_aws_target_refuses_the_pace_of_virtual_time() {
    let t = Test::new();
    let runbook = canned("priority-demo.yaml");
    for (flag, flags) in [
        (
            "--fast-until",
            &["--sim-speed", "10", "--fast-until", "high_job"][..],
        ),
        ("--sim-speed", &["--sim-speed", "10"][..]),
    ] {
        let mut args = vec!["--target", "aws", "run", runbook.as_str()];
        args.extend_from_slice(flags);
        t.args(args).run().code(2).stderr(&format!(
            "error: {flag} paces the simulator's virtual time; on the aws target time is the wall clock's (--pause-before works on both targets)\n"
        ));
    }
    assert!(t.runs().is_empty(), "nothing was recorded");
}
