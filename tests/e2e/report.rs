//! `runbook report`: the HTML report of a run tells the story its events record (the
//! priority demo's preemption of executor #2, its replacement #3, both completions,
//! the node count), says when a run is incomplete, works for the `aws` target, and
//! renders in a real browser (Debian's headless `chromium`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use crate::harness::Test;

fn canned(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(name)
        .display()
        .to_string()
}

/// The elements whose start tag begins with `prefix`, each up to its first `</g>`
/// (markers hold no nested groups).
fn elements<'h>(html: &'h str, prefix: &str) -> Vec<&'h str> {
    html.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &html[at..];
            let end = rest.find("</g>").map_or(rest.len(), |e| e + 4);
            &rest[..end]
        })
        .collect()
}

/// An attribute of an element's start tag.
fn attr<'e>(element: &'e str, name: &str) -> Option<&'e str> {
    let tag = &element[..element.find('>').unwrap_or(element.len())];
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// The names of pods in the run's events, by (job, executor id) of `PodCreated`.
fn executor_pod(events: &[runbook_state::EventRecord], job: &str, executor_id: u64) -> String {
    events
        .iter()
        .find(|e| {
            e.kind == "PodCreated"
                && e.data.pointer("/pod/job_id").and_then(Value::as_str) == Some(job)
                && e.data.pointer("/pod/executor_id").and_then(Value::as_u64) == Some(executor_id)
        })
        .and_then(|e| e.data.pointer("/pod/name").and_then(Value::as_str))
        .unwrap_or_else(|| panic!("no executor #{executor_id} of job {job} was created"))
        .to_owned()
}

fn run_priority_demo(t: &Test) -> String {
    t.args(["--output", "plain", "run", &canned("priority-demo.yaml")])
        .run()
        .success();
    t.only_run()["id"].as_str().expect("run id").to_owned()
}

fn job_id(status: &Value, step: &str) -> String {
    crate::harness::step(status, step)["outputs"]["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("step {step} has no job_id output: {status:#}"))
        .to_owned()
}

#[test]
fn priority_demo_report_marks_the_preemption_the_replacement_and_both_completions() {
    let t = Test::new();
    let run_id = run_priority_demo(&t);
    let status = t.status(&run_id);
    let (low, high) = (job_id(&status, "low_job"), job_id(&status, "high_job"));
    let events = runbook_state::Store::open(&t.state_db())
        .expect("open the state DB")
        .events(&run_id)
        .expect("events");
    let executor2 = executor_pod(&events, &low, 2);
    let executor3 = executor_pod(&events, &low, 3);
    let preemptor = events
        .iter()
        .find(|e| e.kind == "PodPreempted")
        .and_then(|e| e.data.pointer("/preemptor/name").and_then(Value::as_str))
        .expect("the demo records a preemption")
        .to_owned();

    let out = t
        .args(["report", &run_id, "-o", "report.html"])
        .run()
        .success();
    assert_eq!(
        out.stdout.trim(),
        t.path("report.html").display().to_string(),
        "prints the report's path"
    );
    let html = t.read("report.html");

    let preempted = elements(&html, r#"<g class="mark preempt""#);
    assert_eq!(preempted.len(), 1, "one preemption marker: {preempted:#?}");
    assert_eq!(
        attr(preempted[0], "data-pod"),
        Some(format!("monthly-batch/{executor2}").as_str()),
        "on the low job's executor #2"
    );
    assert_eq!(
        attr(preempted[0], "data-preemptor"),
        Some(format!("intra-day-batch/{preemptor}").as_str())
    );
    assert!(
        preempted[0].contains(&format!("preempted by {preemptor}</text>")),
        "the preemptor is named on the chart: {}",
        preempted[0]
    );

    let replaced = elements(&html, r#"<g class="mark replace""#);
    assert_eq!(replaced.len(), 1, "one replacement marker: {replaced:#?}");
    assert_eq!(
        attr(replaced[0], "data-pod"),
        Some(format!("monthly-batch/{executor3}").as_str()),
        "executor #3 is the replacement"
    );
    assert_eq!(attr(replaced[0], "data-replaces"), Some("2"));
    assert!(replaced[0].contains("replaces executor #2</text>"));

    for job in [&low, &high] {
        let completed = elements(&html, r#"<g class="mark job-state"#)
            .into_iter()
            .filter(|e| {
                attr(e, "data-job") == Some(job.as_str())
                    && attr(e, "data-state") == Some("COMPLETED")
            })
            .count();
        assert_eq!(completed, 1, "job {job} has one COMPLETED marker");
    }

    assert!(
        html.contains(r#"<li class="nodes">Nodes: 1 at peak, 1 at the end; 1 node(s) in all (1 × c5.2xlarge on-demand), 0 removed.</li>"#),
        "node count line missing:\n{}",
        &html[html.find("<section id=\"summary\"").unwrap_or(0)..][..1500]
    );
    assert!(html.contains(&format!(
        "executor #2 of monthly-batch-low-priority-job preempted on ip-192-168-87-33.us-east-2.compute.internal by {preemptor} (priority 400 over 100); its driver kept running"
    )));
    assert!(
        html.contains(
            "monthly-batch-low-priority-job&#39;s replacement executor #3 running (for #2)"
        )
    );
    assert!(html.contains("job intra-day-batch-high-priority-job COMPLETED"));
    assert!(html.contains("job monthly-batch-low-priority-job COMPLETED"));
    assert!(html.contains(r#"data-complete="true""#));
    assert!(!html.contains(r#"id="incomplete""#));
    // The steps are in the Gantt with their status.
    assert!(html.contains(
        r#"<g class="step" data-step="high_done" data-status="succeeded" data-attempts="1">"#
    ));
    assert_self_contained(&html);
}

/// Nothing is loaded from elsewhere: no URL at all, no external resource of any kind.
fn assert_self_contained(html: &str) {
    for needle in [
        "http:", "https:", "<link", "<img", "@import", " src=", "url(",
    ] {
        assert!(
            !html.contains(needle),
            "the report refers to something outside it ({needle})"
        );
    }
}

#[test]
fn report_defaults_to_the_latest_run_and_a_file_named_after_it() {
    let t = Test::new().runbook(
        "hello.yaml",
        "name: hello\nsteps:\n  - id: hi\n    action: log\n    with: { message: hi }\n",
    );
    t.args(["run", "hello.yaml"]).run().success();
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let out = t.args(["report"]).run().success();
    let expected = t.path(&format!("runbook-report-{run_id}.html"));
    assert_eq!(out.stdout.trim(), expected.display().to_string());
    let html = t.read(&format!("runbook-report-{run_id}.html"));
    assert!(html.contains(r#"<g class="step" data-step="hi" data-status="succeeded""#));
    assert!(html.contains("This run did not create any pods or nodes"));

    t.args(["report", "nope"])
        .run()
        .code(2)
        .stderr("error: no run `nope` in the state DB; `runbook runs` lists them\n");
}

#[test]
fn report_of_a_run_killed_mid_way_says_it_is_incomplete() {
    // At 3000 virtual seconds per wall second the high job's wait lasts about 80 ms;
    // kill -9 while it runs. A slower speed is the fallback if the run was faster
    // than the polling.
    for speed in ["3000", "300"] {
        let t = Test::new();
        let mut running = t
            .args([
                "--output",
                "plain",
                "run",
                &canned("priority-demo.yaml"),
                "--sim-speed",
                speed,
            ])
            .spawn();
        let db = t.state_db();
        let mut waiting = None;
        running.wait_until("the high job's wait has begun", || {
            waiting = high_done_begun(&db);
            waiting.is_some()
        });
        if !running.kill9_or_exit() {
            continue;
        }
        let run_id = waiting.expect("a run id");
        let status = t.status(&run_id);
        assert_eq!(
            status["status"], "running",
            "nobody could mark it: {status:#}"
        );

        t.args(["report", &run_id, "-o", "killed.html"])
            .run()
            .success();
        let html = t.read("killed.html");
        assert!(html.contains(r#"data-complete="false""#));
        let banner = elements(&html, r#"<div class="banner" id="incomplete""#);
        let banner = banner.first().copied().unwrap_or_default();
        assert!(
            banner.contains("Incomplete: the run was killed before it finished."),
            "{banner}"
        );
        assert!(
            banner.contains("Step(s) left running: high_done."),
            "{banner}"
        );
        assert!(
            banner.contains(&format!("<code>runbook resume {run_id}</code>")),
            "{banner}"
        );
        assert!(html.contains(r#"<g class="step" data-step="high_done" data-status="running""#));
        // What was recorded before the kill is there: the low job's pods.
        assert!(html.contains(r#"<path class="pod r-dr" d="#));
        assert!(html.contains(">monthly-batch-low-priority-job<title>"));
        assert_self_contained(&html);
        return;
    }
    panic!("no kill landed while the high job's wait ran");
}

/// The run id, once the `high_done` step of some run has begun (read from the state
/// DB while the run writes it).
fn high_done_begun(db: &Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    let store = runbook_state::Store::open(db).ok()?;
    let run = store
        .runs(&runbook_state::RunFilter::default())
        .ok()?
        .into_iter()
        .next()?;
    let attempts = store.attempts(&run.id).ok()?;
    attempts
        .iter()
        .any(|a| a.step_key == "high_done")
        .then_some(run.id)
}

#[test]
fn report_of_an_aws_run_shows_its_steps_and_its_failure() {
    let t = Test::new().runbook(
        "utility.yaml",
        "name: utility\nsteps:\n  - id: hello\n    action: log\n    with: { message: hi }\n  - id: check\n    action: assert\n    with: { that: \"{{ 1 > 2 }}\", message: one is not more than two }\n",
    );
    // The aws target needs working credentials before any step: moto's.
    let world = crate::aws_harness::AwsWorld::start();
    world
        .env_for(t.args(["--target", "aws", "run", "utility.yaml"]))
        .run()
        .code(1);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    t.args(["report", &run_id, "-o", "aws.html"])
        .run()
        .success();
    let html = t.read("aws.html");
    assert!(html.contains("target <b>aws</b>"));
    assert!(html.contains(
        "<strong>Incomplete: the run failed.</strong> Step check failed: one is not more than two"
    ));
    assert!(
        html.contains(
            r#"<g class="step" data-step="check" data-status="failed" data-attempts="1">"#
        )
    );
    assert!(html.contains("The target recorded no pod or node events for this run"));
    assert!(html.contains("wall-clock time since the run started"));
}

// ----- a real browser -------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium on `page` with a fresh profile and no network features,
/// bounded in time; returns its stdout.
fn chromium(t: &Test, page: &Path, extra: &[String]) -> String {
    let profile = t.path(&format!("chromium-profile-{}", extra.len()));
    let stdout_path = t.path(&format!("chromium-{}.stdout", extra.len()));
    let stderr_path = t.path(&format!("chromium-{}.stderr", extra.len()));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1400,2000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .process_group(0)
        .spawn()
        .expect("failed to start chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "chromium did not finish within 90 s:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    std::fs::read_to_string(&stdout_path).expect("chromium's output")
}

#[test]
fn report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "SKIPPED report_renders_in_headless_chromium: {CHROMIUM} is not installed \
             (scripts/test.sh installs Debian's `chromium`)"
        );
        return;
    }
    let t = Test::new();
    let run_id = run_priority_demo(&t);
    t.args(["report", &run_id, "-o", "report.html"])
        .run()
        .success();
    let page = t.path("report.html");

    // The DOM after rendering: the charts are there, laid out at their full size, and
    // every marker has a visible box (the page's script measures them).
    let dom = chromium(&t, &page, &["--dump-dom".to_owned()]);
    let layout = attr(
        &dom[dom.find("<html").expect("an <html> element")..],
        "data-layout",
    )
    .unwrap_or_else(|| {
        panic!(
            "the layout was not measured; the DOM:\n{}",
            &dom[..dom.len().min(2000)]
        )
    });
    let sizes: Vec<(&str, f64, f64)> = layout
        .split(' ')
        .filter_map(|part| {
            let (id, size) = part.split_once(':')?;
            let (w, h) = size.split_once('x')?;
            Some((id, w.parse().ok()?, h.parse().ok()?))
        })
        .collect();
    let ids: Vec<&str> = sizes.iter().map(|s| s.0).collect();
    assert_eq!(ids, ["pods", "cluster", "steps"], "charts in {layout}");
    for (id, w, h) in &sizes {
        assert!(
            *w >= 1200.0 && *h >= 200.0,
            "chart {id} is laid out at {w}x{h} ({layout})"
        );
    }
    let marks_in_html = elements(&dom, r#"<g class="mark "#).len();
    assert!(
        marks_in_html >= 9,
        "preemption, replacement and 7+ job states"
    );
    assert!(
        layout.ends_with(&format!("marks:{marks_in_html}")),
        "every marker is visible: {layout}, {marks_in_html} in the DOM"
    );
    assert_eq!(elements(&dom, r#"<g class="mark preempt""#).len(), 1);
    assert_eq!(elements(&dom, r#"<g class="mark replace""#).len(), 1);

    // A screenshot of the first 1400x2000 pixels: a PNG of that size with content (a
    // blank page compresses to a few kilobytes).
    let shot = t.path("report.png");
    chromium(&t, &page, &[format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!((be(16), be(20)), (1400, 2000), "IHDR size");
    assert!(
        png.len() > 60_000,
        "the screenshot is nearly empty ({} bytes)",
        png.len()
    );
}
