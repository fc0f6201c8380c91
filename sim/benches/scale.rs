//! Scale benchmark: a large cluster running thousands of EMR jobs of mixed priority to
//! completion, with preemption, in virtual time.
//!
//! `cargo bench -p runbook-sim` runs four sizes (10 %, 25 %, 50 % and 100 % of
//! 1,000 nodes / 2,000 job runs / ~100,000 pods), each in a fresh child process so
//! that the peak RSS it reports belongs to that size alone, and prints one line per
//! size: wall time, events, events per second, pods, preemptions and peak RSS.
//! `SIM_BENCH_SCALES=1.0` runs only the given scales.

use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use runbook_sim::{
    ClusterSpec, EventKind, JobSubmission, NodeGroupSpec, PodTemplate, PodTemplateSource,
    PriorityClassSpec, SimParams, World,
};

const FULL_NODES: u32 = 1_000;
const FULL_JOBS: u32 = 2_000;
const NAMESPACES: [&str; 4] = ["realtime", "intra-day", "nightly", "adhoc"];

struct Outcome {
    nodes: u32,
    jobs: u32,
    pods: usize,
    events: usize,
    preemptions: usize,
    completed: usize,
    virtual_seconds: u64,
    wall_ms: u128,
    cpu_ms: u64,
}

fn run(scale: f64) -> Outcome {
    let nodes = ((f64::from(FULL_NODES) * scale).round() as u32).max(1);
    let jobs = ((f64::from(FULL_JOBS) * scale).round() as u32).max(1);
    let params = SimParams {
        // Scale runs keep the task events too: this measures the full model.
        ..SimParams::default()
    };
    let mut world = World::new(2024, params);
    let mut ng = NodeGroupSpec::new("workers", "m5.4xlarge", nodes);
    ng.max_size = nodes;
    world
        .create_cluster(ClusterSpec::new("scale", "1.35", ng))
        .expect("cluster spec is valid");
    let deadline = world.now() + 3_600_000;
    let ready = world.run_until(deadline, |w| {
        w.nodes("scale")
            .map(|n| n.len() == nodes as usize && n.iter().all(|n| n.ready))
            .unwrap_or(false)
    });
    assert!(ready, "nodes did not become ready");
    for (name, value) in [("low", 100), ("high", 200), ("critical", 400)] {
        world
            .create_priority_class("scale", PriorityClassSpec::new(name, value, false))
            .expect("new class");
    }
    let mut vcs = Vec::new();
    for ns in NAMESPACES {
        world.create_namespace("scale", ns).expect("new namespace");
        vcs.push(
            world
                .create_virtual_cluster(ns, "scale", ns)
                .expect("namespace is free"),
        );
    }
    let template = |class: &str| PodTemplate {
        priority_class_name: Some(class.to_string()),
        ..PodTemplate::default()
    };
    // The workload: arrivals spread over 40 minutes; 60 % low, 30 % high, 10 %
    // critical priority; 32-62 executors of 1-4 cores and 2-8 GiB; two tasks per
    // executor of 20-100 s. Demand exceeds the cluster, so higher-priority jobs
    // preempt executors of lower ones.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = world.now();
    let mut submissions: Vec<(u64, JobSubmission)> = (0..jobs)
        .map(|i| {
            let at = start + rng.random_range(0..2_400_000u64);
            let class = match rng.random_range(0..10u32) {
                0..=5 => "low",
                6..=8 => "high",
                _ => "critical",
            };
            let vc = vcs[(i as usize) % vcs.len()].clone();
            let mut job = JobSubmission::new(vc, format!("job-{i}"), "emr-6.15.0-latest");
            job.executors = rng.random_range(32..=62);
            job.executor_cores = rng.random_range(1..=4);
            job.executor_memory = format!("{}g", rng.random_range(2..=8u32));
            job.driver_pod_template = Some(PodTemplateSource::Inline(template("critical")));
            job.executor_pod_template = Some(PodTemplateSource::Inline(template(class)));
            job.task_durations_ms = Some(
                (0..job.executors * 2)
                    .map(|_| rng.random_range(20..=100u64) * 1000)
                    .collect(),
            );
            job.monitoring = true;
            (at, job)
        })
        .collect();
    submissions.sort_by_key(|(at, _)| *at);

    let began = Instant::now();
    let cpu_before = cpu_ms();
    for (at, job) in submissions {
        world.advance_to(at).expect("submissions are sorted");
        world.submit_job_run(job).expect("valid job");
    }
    world.run_until_idle();
    let wall_ms = began.elapsed().as_millis();
    let cpu_ms = cpu_ms() - cpu_before;

    let events = world.events();
    Outcome {
        nodes,
        jobs,
        pods: world.all_pods().len(),
        events: events.len(),
        preemptions: events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::PodPreempted { .. }))
            .count(),
        completed: world
            .job_runs()
            .filter(|j| j.state == runbook_sim::JobState::Completed)
            .count(),
        virtual_seconds: (world.now() - start) / 1000,
        wall_ms,
        cpu_ms,
    }
}

/// User + system CPU time of this process in milliseconds (from /proc/self/stat),
/// reported beside wall time because the machines this runs on are shared.
fn cpu_ms() -> u64 {
    let ticks_per_second = 100; // CLK_TCK on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) * 1000 / ticks_per_second)
        })
        .unwrap_or(0)
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    if let Ok(scale) = std::env::var("SIM_BENCH_CHILD") {
        let scale: f64 = scale.parse().expect("scale is a number");
        let o = run(scale);
        let eps = o.events as f64 / (o.wall_ms.max(1) as f64 / 1000.0);
        println!(
            "| {:>5} | {:>5} | {:>7} | {:>9} | {:>8} | {:>5} | {:>9} | {:>7} | {:>6} | {:>9.0} | {:>8} |",
            o.nodes,
            o.jobs,
            o.pods,
            o.events,
            o.preemptions,
            o.completed,
            o.virtual_seconds,
            o.wall_ms,
            o.cpu_ms,
            eps,
            peak_rss_mib()
        );
        return;
    }
    let scales =
        std::env::var("SIM_BENCH_SCALES").unwrap_or_else(|_| "0.1,0.25,0.5,1.0".to_string());
    println!(
        "| nodes |  jobs |    pods |    events | preempt. |  done | virtual s | wall ms | cpu ms |  events/s | peak MiB |"
    );
    println!(
        "|------:|------:|--------:|----------:|---------:|------:|----------:|--------:|-------:|----------:|---------:|"
    );
    let exe = std::env::current_exe().expect("the benchmark binary exists");
    for scale in scales.split(',') {
        let status = Command::new(&exe)
            .env("SIM_BENCH_CHILD", scale.trim())
            .status()
            .expect("spawn the benchmark child");
        assert!(status.success(), "benchmark child failed at scale {scale}");
    }
}
