//! Random kills: `kill -9`, SIGINT and SIGTERM at random instants of the priority demo
//! on `sim` (slowed with `--sim-speed` so that it lasts seconds, its `sleep` step
//! included) and of the nightly batch on `--target aws` against moto, each followed by
//! `runbook resume`, killed again at random, until the run ends. Whatever the instants:
//!
//! - the run tells the same story as an uninterrupted one: the same steps succeeded,
//!   the same "What happened" lines (the report's, and on `sim` the demo's own summary),
//!   the same job and pod events (on `sim`, in virtual time, so at the same instants);
//! - each submit step submitted its job once (on `sim` one PENDING per job in the
//!   recorded events; on `aws`, one job run in moto, carrying the step's key);
//! - each step ran once: one attempt each, never two succeeded attempt records.
//!
//! The instants are drawn from a seed, printed with every instant and what the kill
//! interrupted, so a failure reproduces: `RUNBOOK_KILL_SEED=N` replays a seed (by
//! default each test draws its own), `RUNBOOK_KILL_CASES=N` runs N cases per test
//! instead of [`DEFAULT_CASES`]. A case whose kills all landed after the run ended
//! still counts (it checks the uninterrupted path); each test requires that most of
//! its kills interrupted something, and that one landed in the step it is most about
//! (the demo's `sleep`, the nightly batch's submit step): the first kill of every other
//! case waits for that step to start and lands at a uniform instant of the first half
//! of its length.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::aws_harness::AwsWorld;
use crate::aws_sdk::Sdk;
use crate::canned_runbooks::canned;
use crate::harness::{Background, Test, step, step_summary};

/// Cases per test when `RUNBOOK_KILL_CASES` is not set.
const DEFAULT_CASES: usize = 10;
/// A case kills at most this many times (the run, then each resume); the resume after
/// the last kill runs to the end.
const MAX_KILLS: usize = 3;
/// Virtual seconds per wall second for the priority demo: about 3 s a run.
const SIM_SPEED: &str = "400";

/// The seed and the number of cases of one test, from the environment.
struct Settings {
    seed: u64,
    cases: usize,
}

fn settings(test: &str) -> Settings {
    let read =
        |name: &str| -> Option<u64> {
            let text = std::env::var(name).ok()?;
            Some(text.trim().parse().unwrap_or_else(|e| {
                panic!("{name}={text:?} is not a non-negative whole number: {e}")
            }))
        };
    let seed = read("RUNBOOK_KILL_SEED").unwrap_or_else(rand::random);
    let cases = read("RUNBOOK_KILL_CASES").map_or(DEFAULT_CASES, |n| {
        usize::try_from(n).unwrap_or(DEFAULT_CASES)
    });
    println!("{test}: seed {seed} (RUNBOOK_KILL_SEED={seed} replays it), {cases} case(s)");
    Settings { seed, cases }
}

/// What a run left that must not depend on where it was killed.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    /// (step key, status, attempts) of every step.
    steps: Vec<(String, String, u64)>,
    /// The "What happened" lines of `runbook report`.
    story: Vec<String>,
    /// The runbook's own summary (the priority demo's `summary` step), if it has one.
    summary: Option<String>,
    /// The target's job and pod events, as "virtual ms kind subject data" on `sim`
    /// and "kind subject data" on `aws` (wall-clock times differ from run to run).
    events: Vec<String>,
}

/// A runbook on a target, run, killed and resumed in one test directory.
trait Scenario {
    /// Starts `runbook run`.
    fn run(&self, t: &Test) -> Background;
    /// Starts `runbook resume RUN`.
    fn resume(&self, t: &Test, run_id: &str) -> Background;
    /// Gets the target ready for a new case.
    fn reset(&self);
    /// The outcome of a finished run, with what differs by nature between runs (ids
    /// the service makes up, wall-clock times) replaced by names.
    fn outcome(&self, t: &Test, run_id: &str) -> Outcome;
    /// Checks that each submit step submitted once; `Err` says how not.
    fn submitted_once(&self, t: &Test, run_id: &str) -> Result<(), String>;
}

/// The uninterrupted run a case is compared with.
struct Reference {
    outcome: Outcome,
    /// How long it took.
    took: Duration,
    /// The step kills are wanted in more often than a uniform draw would put them (the
    /// priority demo's `sleep` lasts 5% of the run).
    focus: Focus,
}

/// A step to kill in: its key, the line of the progress output that says it started,
/// and how long it ran in the uninterrupted run.
struct Focus {
    key: String,
    started: String,
    lasted_ms: u64,
}

impl Focus {
    /// Step `key` (of `action`), with how long it ran by the wall-clock times of the
    /// progress lines (`--output plain`) that say it started and succeeded.
    fn of(progress: &str, key: &str, action: &str) -> Focus {
        let started = format!("step {key} ({action}) started");
        let at = |needle: &str| {
            progress
                .lines()
                .find(|l| l.contains(needle))
                .and_then(wall_ms)
                .unwrap_or_else(|| panic!("no line with {needle:?} in\n{progress}"))
        };
        Focus {
            key: key.to_owned(),
            lasted_ms: at(&format!("step {key} succeeded")).saturating_sub(at(&started)),
            started,
        }
    }
}

/// How each kill of a case went.
struct Round {
    /// Milliseconds after the process started.
    at_ms: u64,
    /// The process had already exited.
    too_late: bool,
    /// The steps in flight when the signal was sent (what it interrupted).
    interrupted: Vec<String>,
}

/// One case: run, kill at a random instant (with `in_focus`, the first one in the
/// reference's focus step), resume, ... until the run ends; then the checks. `Err`
/// holds everything needed to reproduce it.
fn one_case(
    scenario: &dyn Scenario,
    signal: Signal,
    in_focus: bool,
    rng: &mut StdRng,
    reference: &Reference,
) -> (Vec<Round>, Result<(), String>) {
    scenario.reset();
    let t = Test::new();
    let mut rounds = Vec::new();
    let mut run_id: Option<String> = None;
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        loop {
            let mut bg = match &run_id {
                None => scenario.run(&t),
                Some(id) => scenario.resume(&t, id),
            };
            if rounds.len() == MAX_KILLS {
                let out = bg.wait();
                if out.code != Some(0) {
                    return Err(format!(
                        "the last resume exited {:?}:\n{}",
                        out.code,
                        tail(&out.stdout, &out.stderr)
                    ));
                }
                break;
            }
            // With `in_focus`, the first kill lands while the focus step runs, at a
            // uniform instant of the first half of its length (the second half would
            // often find it finished: it lasts milliseconds); every other instant is
            // uniform over the length of a whole run.
            let started = Instant::now();
            let focus = &reference.focus;
            let at_ms = if rounds.is_empty() && in_focus {
                let after = rng.random_range(0..=focus.lasted_ms / 2);
                bg.wait_for_stdout(&focus.started);
                std::thread::sleep(Duration::from_millis(after));
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
            } else {
                let whole = u64::try_from(reference.took.as_millis()).unwrap_or(u64::MAX);
                let at_ms = rng.random_range(0..=whole);
                std::thread::sleep(Duration::from_millis(at_ms));
                at_ms
            };
            let stopped = stop(bg, signal);
            let (too_late, interrupted) = match stopped {
                Ok(stopped) => stopped,
                Err(e) => {
                    rounds.push(Round {
                        at_ms,
                        too_late: true,
                        interrupted: Vec::new(),
                    });
                    return Err(e);
                }
            };
            run_id = run_id.or_else(|| {
                t.runs()
                    .first()
                    .and_then(|r| r["id"].as_str().map(str::to_owned))
            });
            rounds.push(Round {
                at_ms,
                too_late,
                interrupted,
            });
            if too_late {
                break;
            }
        }
        let id = run_id
            .clone()
            .ok_or("the run ended without being recorded")?;
        let outcome = scenario.outcome(&t, &id);
        if outcome != reference.outcome {
            return Err(differences(&reference.outcome, &outcome));
        }
        scenario.submitted_once(&t, &id)?;
        ran_once(&t, &id)
    }));
    let result = result.unwrap_or_else(|panic| {
        Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a check panicked".to_owned()))
    });
    (rounds, result)
}

/// Sends `signal` (`kill -9` to the process group, as the OOM killer or a power cut
/// would leave things; SIGINT/SIGTERM to the process) and waits for the end. `Ok`:
/// whether the process had exited before the signal, and the steps the progress output
/// showed in flight when it was sent; `Err`: it ended in a way no signal explains.
fn stop(mut bg: Background, signal: Signal) -> Result<(bool, Vec<String>), String> {
    let in_flight = steps_in_flight(&bg.stdout_so_far());
    if bg.has_exited() {
        let out = bg.wait();
        return match out.code {
            Some(0) => Ok((true, Vec::new())),
            other => Err(format!(
                "the run ended with {other:?} before the {signal}:\n{}",
                tail(&out.stdout, &out.stderr)
            )),
        };
    }
    if signal == Signal::SIGKILL {
        let killed = bg.kill9_or_exit();
        return Ok((!killed, if killed { in_flight } else { Vec::new() }));
    }
    bg.signal(signal);
    let out = bg.wait();
    match out.code {
        // Interrupted, or it finished just before the signal was handled.
        Some(130) => Ok((false, in_flight)),
        Some(0) => Ok((true, Vec::new())),
        // Before its handler was installed, the signal's default action ends it.
        None if out.signal == Some(signal as i32) => Ok((false, in_flight)),
        other => Err(format!(
            "{signal} ended the run with {other:?} (signal {:?}), expected 130:\n{}",
            out.signal,
            tail(&out.stdout, &out.stderr)
        )),
    }
}

/// The steps a process's progress output (`--output plain`) shows started and not
/// finished.
fn steps_in_flight(progress: &str) -> Vec<String> {
    let mut running: Vec<String> = Vec::new();
    for line in progress.lines() {
        let Some((_, rest)) = line.split_once(" step ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(key), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        if what.starts_with('(') && line.ends_with(" started") {
            running.push(key.to_owned());
        } else if ["succeeded", "failed", "skipped", "interrupted"].contains(&what) {
            running.retain(|k| k != key);
        }
    }
    running
}

/// The last lines of a process's output, for a failure message.
fn tail(stdout: &str, stderr: &str) -> String {
    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// No step has two succeeded attempt records, and every step took one attempt.
fn ran_once(t: &Test, run_id: &str) -> Result<(), String> {
    let mut succeeded: BTreeMap<String, u32> = BTreeMap::new();
    for record in t.attempt_records(run_id) {
        if record.status == runbook_state::StepStatus::Succeeded {
            *succeeded.entry(record.step_key).or_default() += 1;
        }
    }
    let twice: Vec<_> = succeeded.iter().filter(|(_, n)| **n > 1).collect();
    if !twice.is_empty() {
        return Err(format!("steps with two succeeded attempts: {twice:?}"));
    }
    let status = t.status(run_id);
    let retried: Vec<_> = step_summary(&status)
        .into_iter()
        .filter(|(_, _, attempts)| *attempts != 1)
        .collect();
    if retried.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "steps that took more than one attempt: {retried:?}"
        ))
    }
}

/// The fields of two outcomes that differ, line by line.
fn differences(expected: &Outcome, got: &Outcome) -> String {
    let mut text = String::from("the story differs from the uninterrupted run's:\n");
    // The first few differing lines of each part (one shifted event shifts the rest).
    const SHOWN: usize = 4;
    let mut diff = |what: &str, a: &[String], b: &[String]| {
        let differing: Vec<usize> = (0..a.len().max(b.len()))
            .filter(|&i| a.get(i) != b.get(i))
            .collect();
        if differing.is_empty() {
            return;
        }
        text.push_str(&format!("  {what} ({} line(s) differ):\n", differing.len()));
        for &i in differing.iter().take(SHOWN) {
            text.push_str(&format!(
                "    #{i}: expected {:?}\n         got {:?}\n",
                a.get(i),
                b.get(i)
            ));
        }
    };
    let steps = |o: &Outcome| -> Vec<String> { o.steps.iter().map(|s| format!("{s:?}")).collect() };
    diff("steps", &steps(expected), &steps(got));
    diff("story", &expected.story, &got.story);
    let lines = |o: &Outcome| -> Vec<String> {
        o.summary
            .iter()
            .flat_map(|s| s.lines().map(str::to_owned))
            .collect()
    };
    diff("summary", &lines(expected), &lines(got));
    diff("events", &expected.events, &got.events);
    text
}

/// Runs the cases of one test and fails with every failed case, each with its seed
/// and instants.
fn kill_at_random(test: &str, scenario: &dyn Scenario, signal: Signal, reference: &Reference) {
    let started = Instant::now();
    let settings = settings(test);
    let mut failures = Vec::new();
    let mut kills = 0;
    let mut landed = 0;
    let mut interrupted_steps: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..settings.cases {
        // One generator per case, so a case replays alone whatever the others did.
        let mut rng = StdRng::seed_from_u64(
            settings.seed ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let (rounds, result) = one_case(scenario, signal, case % 2 == 0, &mut rng, reference);
        let mut line = format!("{test} case {case}:");
        for r in &rounds {
            kills += 1;
            if r.too_late {
                line.push_str(&format!(" {signal} at {} ms (after the end);", r.at_ms));
            } else {
                landed += 1;
                for key in &r.interrupted {
                    *interrupted_steps.entry(key.clone()).or_default() += 1;
                }
                line.push_str(&format!(
                    " {signal} at {} ms in {:?};",
                    r.at_ms, r.interrupted
                ));
            }
        }
        match &result {
            Ok(()) => line.push_str(" ok"),
            Err(e) => line.push_str(&format!(" FAILED: {e}")),
        }
        println!("{line}");
        if result.is_err() {
            failures.push(line);
        }
    }
    println!(
        "{test}: {} case(s) in {:.1?}; {landed} of {kills} kill(s) interrupted the run; interrupted steps: {interrupted_steps:?}",
        settings.cases,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed (seed {}):\n{}",
        failures.len(),
        settings.cases,
        settings.seed,
        failures.join("\n")
    );
    let key = &reference.focus.key;
    assert!(
        interrupted_steps.contains_key(key),
        "no kill landed while `{key}` ran (seed {}); raise RUNBOOK_KILL_CASES or try another seed",
        settings.seed
    );
    assert!(
        landed * 2 >= settings.cases,
        "only {landed} of {kills} kill(s) interrupted a run (seed {}): the instants are too late for runs of {:?}",
        settings.seed,
        reference.took
    );
}

// ---- the priority demo on sim ----

/// `runbooks/priority-demo.yaml` on `sim` at [`SIM_SPEED`]: deterministic, so the
/// story, the summary and every event (in virtual time) must match exactly.
struct PriorityDemoOnSim;

impl Scenario for PriorityDemoOnSim {
    fn run(&self, t: &Test) -> Background {
        t.args([
            "--output",
            "plain",
            "run",
            &canned("priority-demo.yaml"),
            "--sim-speed",
            SIM_SPEED,
        ])
        .spawn()
    }

    fn resume(&self, t: &Test, run_id: &str) -> Background {
        // As an operator types it: the run's `--sim-speed` is stored with it.
        t.args(["--output", "plain", "resume", run_id]).spawn()
    }

    fn reset(&self) {}

    fn outcome(&self, t: &Test, run_id: &str) -> Outcome {
        let status = t.status(run_id);
        let events = t
            .event_records(run_id)
            .into_iter()
            .filter(|e| e.step_key.is_none())
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    e.at_ms,
                    e.kind,
                    e.subject.unwrap_or_default(),
                    e.data
                )
            })
            .collect();
        Outcome {
            steps: step_summary(&status),
            story: report_story(t, run_id, false),
            summary: step(&status, "summary")["outputs"]["message"]
                .as_str()
                .map(str::to_owned),
            events,
        }
    }

    fn submitted_once(&self, t: &Test, run_id: &str) -> Result<(), String> {
        let status = t.status(run_id);
        let mut submitted: Vec<String> = t
            .event_records(run_id)
            .into_iter()
            .filter(|e| {
                e.kind == "JobStateChanged"
                    && e.data.pointer("/to") == Some(&Value::from("PENDING"))
            })
            .filter_map(|e| {
                e.data
                    .pointer("/job_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        submitted.sort();
        let mut expected: Vec<String> = ["low_job", "high_job"]
            .iter()
            .filter_map(|key| {
                step(&status, key)["outputs"]["job_id"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        expected.sort();
        if submitted == expected && expected.len() == 2 {
            Ok(())
        } else {
            Err(format!(
                "jobs submitted {submitted:?}; the submit steps' jobs are {expected:?}"
            ))
        }
    }
}

/// The "What happened" lines of `runbook report RUN`, with their times unless
/// `without_times` (wall-clock times on `aws` differ from run to run).
fn report_story(t: &Test, run_id: &str, without_times: bool) -> Vec<String> {
    let file = format!("report-{run_id}.html");
    t.args(["report", run_id, "--out", &file]).run().success();
    let html = t.read(&file);
    html.split(r#"<div class="story-row"><span class="t">"#)
        .skip(1)
        .map(|row| {
            let row = row.split("</div>").next().unwrap_or_default();
            let (time, text) = row.split_once("</span><span>").unwrap_or((row, ""));
            let text = text.trim_end_matches("</span>");
            if without_times {
                text.to_owned()
            } else {
                format!("{time} {text}")
            }
        })
        .collect()
}

/// The priority demo run once without interruption.
fn sim_reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let (t, id, out, took) = uninterrupted(&PriorityDemoOnSim);
        Reference {
            outcome: PriorityDemoOnSim.outcome(&t, &id),
            took,
            focus: Focus::of(&out.stdout, "a_minute_later", "sleep"),
        }
    })
}

/// The milliseconds of the day of a progress line's leading `2026-11-25T17:41:07.123Z`.
fn wall_ms(line: &str) -> Option<u64> {
    let time = line.get(11..23)?;
    let mut parts = time.split([':', '.']).map(|p| p.parse::<u64>().ok());
    let (h, m, s, ms) = (
        parts.next()??,
        parts.next()??,
        parts.next()??,
        parts.next()??,
    );
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// A run of `scenario` without interruption: its test directory, run id, output and
/// how long it took; its submit steps must have submitted once.
fn uninterrupted(scenario: &dyn Scenario) -> (Test, String, crate::harness::Output, Duration) {
    scenario.reset();
    let t = Test::new();
    let started = Instant::now();
    let out = scenario.run(&t).wait().success();
    let took = started.elapsed();
    let id = t.only_run()["id"].as_str().expect("run id").to_owned();
    scenario
        .submitted_once(&t, &id)
        .unwrap_or_else(|e| panic!("the uninterrupted run: {e}"));
    (t, id, out, took)
}

fn sim_case(test: &str, signal: Signal) {
    let reference = sim_reference();
    println!(
        "the uninterrupted priority demo took {:?}; its sleep {} ms",
        reference.took, reference.focus.lasted_ms
    );
    kill_at_random(test, &PriorityDemoOnSim, signal, reference);
}

#[test]
fn random_kill_9_of_the_priority_demo_on_sim_then_resume() {
    sim_case("sim kill -9", Signal::SIGKILL);
}

#[test]
fn random_sigint_of_the_priority_demo_on_sim_then_resume() {
    sim_case("sim SIGINT", Signal::SIGINT);
}

#[test]
fn random_sigterm_of_the_priority_demo_on_sim_then_resume() {
    sim_case("sim SIGTERM", Signal::SIGTERM);
}

// ---- the nightly batch on aws ----

/// The nightly batch against one world (reset before each case).
struct NightlyOnAws {
    world: AwsWorld,
    sdk: Sdk,
}

impl NightlyOnAws {
    fn new() -> NightlyOnAws {
        // A job that runs for a while, as a night's does: the kills land in its wait too.
        let world = AwsWorld::builder()
            .job_schedule("PENDING=0.3,SUBMITTED=0.3,RUNNING=1.5")
            .start();
        let sdk = Sdk::new(&world);
        NightlyOnAws { world, sdk }
    }

    /// The job run of the nightly virtual cluster: its id, and its tag with the key.
    fn job_runs(&self) -> Vec<(String, Option<String>)> {
        let Some(vc) = self
            .sdk
            .running_virtual_clusters()
            .into_iter()
            .find(|(name, _, _)| name == "nightly-batch-emr-cluster")
        else {
            return Vec::new();
        };
        let id = self.sdk.virtual_cluster_id(&vc.0);
        self.sdk
            .job_runs(&id)
            .into_iter()
            .map(|j| {
                (
                    j.id().unwrap_or_default().to_owned(),
                    j.tags()
                        .and_then(|t| t.get("runbook:client-token"))
                        .cloned(),
                )
            })
            .collect()
    }
}

impl Scenario for NightlyOnAws {
    fn run(&self, t: &Test) -> Background {
        self.world
            .run_plain(
                t,
                &canned("nightly-batch.yaml"),
                &[
                    "--set",
                    "cluster_role_arn=arn:aws:iam::123456789012:role/eks-cluster-role",
                    "--set",
                    "node_role_arn=arn:aws:iam::123456789012:role/eks-node-role",
                    "--set",
                    "subnet_ids=[subnet-0a1, subnet-0b2]",
                ],
            )
            .spawn()
    }

    fn resume(&self, t: &Test, run_id: &str) -> Background {
        self.world
            // As an operator types it: the run's target and `--kube-context` are
            // stored with it.
            .env_for(t.args(["--output", "plain", "resume", run_id]))
            .spawn()
    }

    fn reset(&self) {
        self.world.reset();
    }

    fn outcome(&self, t: &Test, run_id: &str) -> Outcome {
        let status = t.status(run_id);
        // The names of what moto made up: the job run's id, and its name (which has
        // the run's date).
        let job = &step(&status, "job")["outputs"];
        let mut names: Vec<(String, &str)> = Vec::new();
        for (field, name) in [
            ("job_id", "<job id>"),
            ("name", "<job name>"),
            ("virtual_cluster_id", "<vc id>"),
        ] {
            if let Some(value) = job[field].as_str() {
                names.push((value.to_owned(), name));
            }
        }
        let rename = |text: String| {
            names.iter().fold(text, |text, (value, name)| {
                text.replace(value.as_str(), name)
            })
        };
        let events = t
            .event_records(run_id)
            .into_iter()
            .filter(|e| e.step_key.is_none())
            .map(|e| {
                rename(format!(
                    "{} {} {}",
                    e.kind,
                    e.subject.unwrap_or_default(),
                    e.data
                ))
            })
            .collect();
        Outcome {
            steps: step_summary(&status),
            story: report_story(t, run_id, true)
                .into_iter()
                .map(rename)
                .collect(),
            summary: None,
            events,
        }
    }

    fn submitted_once(&self, t: &Test, run_id: &str) -> Result<(), String> {
        let key = t
            .attempt_records(run_id)
            .into_iter()
            .find(|r| r.step_key == "job")
            .map(|r| r.idempotency_key)
            .ok_or("no attempt record of the submit step")?;
        let runs = self.job_runs();
        if runs.len() == 1 && runs[0].1.as_deref() == Some(key.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "moto's job runs (id, client-token tag) {runs:?}; the step's key is {key}"
            ))
        }
    }
}

/// The nightly batch run once without interruption on the scenario's world.
fn aws_reference(scenario: &NightlyOnAws) -> Reference {
    let (t, id, out, took) = uninterrupted(scenario);
    Reference {
        outcome: scenario.outcome(&t, &id),
        took,
        focus: Focus::of(&out.stdout, "job", "submit-job"),
    }
}

fn aws_case(test: &str, signal: Signal) {
    let scenario = NightlyOnAws::new();
    let reference = aws_reference(&scenario);
    println!(
        "the uninterrupted nightly batch took {:?}; its submit step {} ms",
        reference.took, reference.focus.lasted_ms
    );
    kill_at_random(test, &scenario, signal, &reference);
}

#[test]
fn random_kill_9_of_the_nightly_batch_on_aws_then_resume() {
    aws_case("aws kill -9", Signal::SIGKILL);
}

#[test]
fn random_sigint_of_the_nightly_batch_on_aws_then_resume() {
    aws_case("aws SIGINT", Signal::SIGINT);
}

#[test]
fn random_sigterm_of_the_nightly_batch_on_aws_then_resume() {
    aws_case("aws SIGTERM", Signal::SIGTERM);
}
