//! End-to-end engine benchmarks through the real binary (`cargo bench -p runbook`):
//!
//! 1. 10,000 `log` steps, each checkpointed in its own transaction: wall time and peak
//!    RSS of `runbook run` (targets: at most 1 s and 60 MB).
//! 2. Resume of a 10,000-step run stopped at its last step: how long after the command
//!    starts the remaining step starts (target: at most 100 ms).
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
    let mut walls = Vec::new();
    let mut peak_rss_kb = 0;
    for i in 0..runs {
        let state = dir.path().join(format!("logs-{i}.db"));
        let started = Instant::now();
        let status = Command::new(bin)
            .args(["--output", "plain", "--state"])
            .arg(&state)
            .arg("run")
            .arg(&logs)
            .stdout(Stdio::null())
            .status()
            .expect("run runbook");
        walls.push(started.elapsed());
        assert!(status.success(), "the 10,000-step run failed");
        peak_rss_kb = peak_rss_kb.max(children_max_rss_kb());
    }
    walls.sort();
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The largest peak RSS of any waited-for child so far, in KiB (Linux reports KiB).
fn children_max_rss_kb() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(0)
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
