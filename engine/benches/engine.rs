//! End-to-end engine benchmarks through the real binary (`cargo bench -p runbook`):
//!
//! 1. 10,000 `log` steps, each checkpointed in its own transaction: wall time and peak
//!    RSS of `runbook run` (targets: at most 1 s and 60 MB).
//! 2. Resume of a 10,000-step run stopped at its last step: how long after the command
//!    starts the remaining step starts (target: at most 100 ms).
//! 3. The same 10,000 `log` steps composed: 10 `runbook` steps, each running a runbook
//!    of 1,000 (target: at most 10% slower than 1).
//!
//! Figures are printed; the README's performance section records them.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: usize = 10_000;

fn main() {
    let bin = env!("CARGO_BIN_EXE_runbook");
    let dir = tempfile::tempdir().expect("temp dir");
    let runs = 5;

    let logs = dir.path().join("logs.yaml");
    write_runbook(&logs, STEPS, false);
    let walls = timed_runs(bin, dir.path(), &logs, "logs", runs);
    let peak_rss_kb = children_max_rss_kb();
    println!(
        "{STEPS} log steps, one checkpoint transaction each: median {:.0} ms, best {:.0} ms, peak RSS {:.1} MB ({runs} runs)",
        ms(walls[runs / 2]),
        ms(walls[0]),
        peak_rss_kb as f64 / 1024.0
    );
    println!(
        "  per step: {:.1} us end to end",
        walls[runs / 2].as_secs_f64() * 1e6 / STEPS as f64
    );

    let flat_median = walls[runs / 2];

    let composed = dir.path().join("composed.yaml");
    write_composed(&composed, dir.path(), STEPS / 1000);
    let composed_walls = timed_runs(bin, dir.path(), &composed, "composed", runs);
    let composed_median = composed_walls[runs / 2];
    println!(
        "the same {STEPS} log steps in {} included runbooks of 1,000: median {:.0} ms, best {:.0} ms ({:+.1}% against the flat runbook's median)",
        STEPS / 1000,
        ms(composed_median),
        ms(composed_walls[0]),
        (composed_median.as_secs_f64() / flat_median.as_secs_f64() - 1.0) * 100.0
    );

    let last = dir.path().join("last-fails.yaml");
    write_runbook(&last, STEPS, true);
    let mut delays = Vec::new();
    for i in 0..runs {
        let state = dir.path().join(format!("resume-{i}.db"));
        let status = Command::new(bin)
            .args(["--output", "plain", "--state"])
            .arg(&state)
            .arg("run")
            .arg(&last)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run runbook");
        assert_eq!(
            status.code(),
            Some(1),
            "the last step must fail the first time"
        );
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["--output", "json", "--state"])
            .arg(&state)
            .arg("resume")
            .env("RB_BENCH_PASS", "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("resume");
        let stdout = child.stdout.take().expect("stdout");
        let mut until_start = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if until_start.is_none() && line.contains("\"step_started\"") {
                until_start = Some(started.elapsed());
            }
        }
        let status = child.wait().expect("wait");
        assert!(status.success(), "the resumed run must succeed");
        delays.push(until_start.expect("the remaining step started"));
    }
    delays.sort();
    println!(
        "resume of a {STEPS}-step run stopped at its last step: remaining step starts after median {:.0} ms, best {:.0} ms ({runs} runs)",
        ms(delays[runs / 2]),
        ms(delays[0])
    );
}

/// The wall times of `runs` runs of `runbook`, each on a new state DB, sorted.
fn timed_runs(bin: &str, dir: &Path, runbook: &Path, name: &str, runs: usize) -> Vec<Duration> {
    let mut walls = Vec::new();
    for i in 0..runs {
        let state = dir.join(format!("{name}-{i}.db"));
        let started = Instant::now();
        let status = Command::new(bin)
            .args(["--output", "plain", "--state"])
            .arg(&state)
            .arg("run")
            .arg(runbook)
            .stdout(Stdio::null())
            .status()
            .expect("run runbook");
        walls.push(started.elapsed());
        assert!(status.success(), "the run of {} failed", runbook.display());
    }
    walls.sort();
    walls
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The largest peak RSS of any waited-for child so far, in KiB (Linux reports KiB).
fn children_max_rss_kb() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

/// A runbook of `parts` `runbook` steps, each running `part.yaml` (1,000 `log` steps)
/// with its own param.
fn write_composed(path: &Path, dir: &Path, parts: usize) {
    let mut part =
        String::from("name: part\nparams:\n  n: { type: integer, default: 0 }\nsteps:\n");
    for i in 0..1000 {
        part.push_str(&format!(
            "  - id: s{i}\n    action: log\n    with: {{ message: \"part {{{{ params.n }}}} step {i}\" }}\n"
        ));
    }
    std::fs::write(dir.join("part.yaml"), part).expect("write part");
    let mut out = String::from("name: composed\nsteps:\n");
    for p in 0..parts {
        out.push_str(&format!(
            "  - id: part{p}\n    action: runbook\n    with: {{ file: part.yaml, params: {{ n: {p} }} }}\n"
        ));
    }
    std::fs::write(path, out).expect("write composed");
}

fn write_runbook(path: &Path, steps: usize, last_fails: bool) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create runbook"));
    writeln!(out, "name: bench\nsteps:").expect("write");
    for i in 0..steps {
        if last_fails && i == steps - 1 {
            writeln!(
                out,
                "  - id: s{i}\n    action: assert\n    with: {{ that: \"{{{{ (env.RB_BENCH_PASS | default('0')) == '1' }}}}\" }}"
            )
            .expect("write");
        } else {
            writeln!(
                out,
                "  - id: s{i}\n    action: log\n    with: {{ message: \"step {i}\" }}"
            )
            .expect("write");
        }
    }
}
