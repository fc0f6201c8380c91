//! Serving benchmarks (`cargo bench -p runbook --bench served`), issue 13's targets:
//!
//! 1. `kubectl get pods -A` (the real kubectl, end to end, output to /dev/null) on a
//!    served world of 1,000 nodes and 100,000 pods (target: the answer under 1 s);
//!    beside it the server's own time, as a table (what `kubectl get` asks for) and as
//!    plain JSON (`-o json`): its first page of 500 (what kubectl asks for first),
//!    every page one after another, and every pod in one answer. `cargo bench -p
//!    runbook --bench served -- server` measures only the server's own times.
//! 2. `priority-demo` at full speed with `--serve`: the release binary's wall time
//!    until the run has ended, without a client and with `kubectl get pods -A -w`
//!    watching from the start (target: under 1 s).
//!
//! Figures are printed; the README's performance section records them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runbook_backend::VirtualClock;
use runbook_backend_sim::SimTarget;
use runbook_sim::{ClusterSpec, JobSubmission, NodeGroupSpec};

const NODES: u32 = 1_000;
const JOBS: u32 = 2_000;
/// Executors per job: with each job's runner and driver, 100,000 pods.
const EXECUTORS: u32 = 48;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_runbook");
    let dir = tempfile::tempdir().expect("temp dir");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (target, built) = runtime.block_on(async { big_world() });
    let pods = target
        .world()
        .all_pods()
        .iter()
        .filter(|p| !p.is_deleted())
        .count();
    println!(
        "world of {NODES} nodes and {pods} pods built in {:.1} s",
        built.as_secs_f64()
    );
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    // The server runs on a thread of its own, as it does beside a run.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let serving = Arc::clone(&target);
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let served = runbook_sim_serve::serve(listener, serving, None)
                .await
                .expect("served");
            addr_tx.send(served.addr).expect("the address");
            std::future::pending::<()>().await;
        });
    });
    let addr = addr_rx.recv().expect("served");
    let kubeconfig = dir.path().join("kubeconfig");
    runbook_sim_serve::kubeconfig::write(&kubeconfig, addr).expect("kubeconfig");

    let server = server_figures(addr);
    println!("the server's answers for {pods} pods:\n{server}");
    if std::env::args().any(|a| a == "server") {
        return;
    }
    let mut kubectl = Vec::new();
    for i in 0..2 {
        let started = Instant::now();
        let status = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join(format!("cache-{i}")))
            .args(["get", "pods", "-A"])
            .stdout(Stdio::null())
            .status()
            .expect("kubectl");
        kubectl.push(started.elapsed());
        assert!(status.success(), "kubectl get pods -A failed");
    }
    kubectl.sort();
    let started = Instant::now();
    let status = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .arg("--cache-dir")
        .arg(dir.path().join("cache-whole"))
        .args(["get", "pods", "-A", "--chunk-size=0"])
        .stdout(Stdio::null())
        .status()
        .expect("kubectl");
    let unchunked = started.elapsed();
    assert!(
        status.success(),
        "kubectl get pods -A --chunk-size=0 failed"
    );
    println!(
        "kubectl get pods -A of {pods} pods: median {:.0} ms, best {:.0} ms (2 runs, fresh cache each)",
        ms(kubectl[1]),
        ms(kubectl[0]),
    );
    println!(
        "  kubectl get pods -A --chunk-size=0 (one answer): {:.0} ms; kubectl's default pages of 500 wait on its own client-side rate limit (5 requests a second)",
        ms(unchunked)
    );

    let demo = root.join("runbooks/priority-demo.yaml");
    let alone = demo_runs(bin, dir.path(), &demo, false);
    let watched = demo_runs(bin, dir.path(), &demo, true);
    println!(
        "priority-demo at full speed with --serve: median {:.0} ms alone, {:.0} ms with kubectl get pods -A -w watching (5 runs each)",
        ms(alone),
        ms(watched)
    );
}

/// 1,000 ready nodes and 2,000 jobs submitted at once, each with 48 executors: every
/// job's pods exist (most executors pending: demand far exceeds the cluster).
fn big_world() -> (Arc<SimTarget>, Duration) {
    let started = Instant::now();
    let target = SimTarget::new(2024, VirtualClock::new(0, None));
    {
        let mut world = target.world();
        let mut ng = NodeGroupSpec::new("workers", "m5.4xlarge", NODES);
        ng.max_size = NODES;
        world
            .create_cluster(ClusterSpec::new("scale", "1.35", ng))
            .expect("a cluster");
        let deadline = world.now() + 3_600_000;
        let ready = world.run_until(deadline, |w| {
            w.nodes("scale")
                .is_ok_and(|n| n.len() == NODES as usize && n.iter().all(|n| n.ready))
        });
        assert!(ready, "nodes ready");
        world
            .create_namespace("scale", "batch")
            .expect("a namespace");
        let vc = world
            .create_virtual_cluster("batch", "scale", "batch")
            .expect("a virtual cluster");
        for i in 0..JOBS {
            let mut job = JobSubmission::new(vc.clone(), format!("job-{i}"), "emr-7.13.0-latest");
            job.executors = EXECUTORS;
            job.task_durations_ms = Some(vec![3_600_000; EXECUTORS as usize * 2]);
            world.submit_job_run(job).expect("a job");
        }
        let wanted = (JOBS * (EXECUTORS + 2)) as usize;
        let deadline = world.now() + 3_600_000;
        let all_there = world.run_until(deadline, |w| {
            w.all_pods().iter().filter(|p| !p.is_deleted()).count() >= wanted
        });
        assert!(all_there, "every job's pods were created");
    }
    (target, started.elapsed())
}

/// What kubectl asks for: a table (`kubectl get`), or plain JSON (`-o json`).
const ANSWERS: [(&str, &str); 2] = [
    ("table", "application/json;as=Table;v=v1;g=meta.k8s.io"),
    ("JSON", "application/json"),
];

/// The server's own times for every pod, as a table and as plain JSON: its first page
/// of 500 (what kubectl asks for first), every page one after another (following the
/// `continue` tokens), and every pod in one answer (`--chunk-size=0`), medians of 5.
fn server_figures(addr: SocketAddr) -> String {
    let mut lines = Vec::new();
    for (shown, accept) in ANSWERS {
        let median = |path: &str, least: usize| {
            let mut size = 0;
            let mut times: Vec<Duration> = (0..5)
                .map(|_| {
                    let started = Instant::now();
                    size = get(addr, path, accept).len();
                    assert!(size > least, "{path}: {size} bytes");
                    started.elapsed()
                })
                .collect();
            times.sort();
            (times[2], size)
        };
        let (first, _) = median("/api/v1/pods?limit=500", 100_000);
        let (whole, size) = median("/api/v1/pods", 10_000_000);
        let started = Instant::now();
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(t) => format!("/api/v1/pods?limit=500&continue={t}"),
                None => "/api/v1/pods?limit=500".to_string(),
            };
            let body = get(addr, &path, accept);
            pages += 1;
            token = continue_token(&body);
            if token.is_none() {
                break;
            }
        }
        let all_pages = started.elapsed();
        lines.push(format!(
            "  {shown}: first page of 500 {:.1} ms; all {pages} pages one after another {:.0} ms; every pod in one answer {:.0} ms ({:.0} MB)",
            ms(first),
            ms(all_pages),
            ms(whole),
            size as f64 / 1e6
        ));
    }
    lines.join("\n")
}

/// GETs `path` with `accept`; the whole response, headers included.
fn get(addr: SocketAddr, path: &str, accept: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut body = Vec::new();
    stream.read_to_end(&mut body).expect("response");
    body
}

/// A page's `continue` token (in its metadata, near the start).
fn continue_token(response: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&response[..response.len().min(4096)]);
    head.split_once("\"continue\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(t, _)| t.to_string())
}

/// The median wall time of 5 runs of the demo with `--serve` from `low_job` on (the
/// run pauses there, after its platform is set up, so that kubectl can start watching
/// the cluster) until the run has ended (the process goes on serving; it is stopped
/// then).
fn demo_runs(bin: &str, dir: &Path, demo: &Path, watch: bool) -> Duration {
    let mut walls = Vec::new();
    for i in 0..5 {
        let state = dir.join(format!("demo-{watch}-{i}.db"));
        let mut run = Command::new(bin)
            .args(["--output", "plain", "--state"])
            .arg(&state)
            .arg("run")
            .arg(demo)
            .args(["--serve", "127.0.0.1:0", "--pause-before", "low_job"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runbook");
        let mut stderr = BufReader::new(run.stderr.take().expect("stderr"));
        let kubeconfig = read_until(&mut stderr, "export KUBECONFIG=")
            .trim()
            .trim_start_matches("export KUBECONFIG=")
            .to_string();
        // The run holds before low_job (the cluster and its platform exist) until a
        // line on stdin.
        let mut stdout = BufReader::new(run.stdout.take().expect("stdout"));
        read_until(&mut stdout, "paused before low_job");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let watcher: Option<Child> = watch.then(|| {
            let mut child = Command::new("kubectl")
                .env("KUBECONFIG", &kubeconfig)
                .arg("--cache-dir")
                .arg(dir.join(format!("watch-cache-{i}")))
                .args(["get", "pods", "-A", "-w"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubectl");
            // Watching once it has printed the pods that exist.
            let mut out = BufReader::new(child.stdout.take().expect("stdout"));
            read_until(&mut out, "NAMESPACE");
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            child
        });
        let started = Instant::now();
        run.stdin
            .take()
            .expect("stdin")
            .write_all(b"\n")
            .expect("go on");
        read_until(&mut stderr, "the run has ended");
        walls.push(started.elapsed());
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(run.id()).unwrap_or(0)),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = run.wait();
        if let Some(mut w) = watcher {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
    walls.sort();
    walls[2]
}

fn read_until(reader: &mut impl BufRead, text: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read");
        assert!(n > 0, "the run ended before saying {text:?}");
        if line.contains(text) {
            return line;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
