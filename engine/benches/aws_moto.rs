//! The aws target end to end against a local moto server (`cargo bench -p runbook
//! --bench aws_moto`; needs `.venv-moto`, which `bash scripts/test.sh` makes):
//! `fixtures/platform-and-pi.yaml` (platform-setup's five namespaces plus the `pi-4`
//! submission) through the release binary, with moto and the fake Kubernetes API server
//! of the e2e tests reset before each run. Target: at most 1 s wall.
//!
//! It prints the wall time and how many AWS requests moto served per run (counted
//! from moto's request log), and the Kubernetes requests the fake API server served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RUNS: usize = 7;

/// A Python server of tests/aws/, stopped on drop; counts the requests it logs.
struct Server {
    child: Child,
    port: u16,
    requests: Arc<Mutex<usize>>,
}

impl Server {
    fn start(python: &Path, script: &Path, extra: &[&str], ready: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .args(extra)
            .arg("--exit-with-parent")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let requests = Arc::new(Mutex::new(0));
        let stderr = child.stderr.take().expect("stderr");
        let counter = Arc::clone(&requests);
        // Both servers log one line per request (`"GET /path HTTP/1.1" 200`).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" HTTP/1.1\" ")
                    && !line.contains("/moto-api/")
                    && !line.contains("/debug/")
                    && !line.contains("/_harness/")
                {
                    *counter.lock().expect("counter") += 1;
                }
            }
        });
        let server = Server {
            child,
            port,
            requests,
        };
        let started = Instant::now();
        while http(port, "GET", ready).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{ready} never answered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests served since the last call.
    fn take_requests(&self) -> usize {
        std::mem::take(&mut *self.requests.lock().expect("counter"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bodyless HTTP/1.1 request; the response, if any.
fn http(port: u16, method: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1.").then_some(response)
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("RUNBOOK_MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".venv-moto/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/test.sh` once to make the moto venv",
        python.display()
    );
    let moto = Server::start(
        &python,
        &repo.join("tests/aws/moto_launcher.py"),
        &[],
        "/_harness/job-schedule",
    );
    let kube = Server::start(
        &python,
        &repo.join("tests/aws/fake_kube.py"),
        &[],
        "/version",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{ server: \"{}\" }}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context: {{ cluster: fake, user: fake }}\ncurrent-context: fake\n",
            kube.url()
        ),
    )
    .expect("kubeconfig");
    let missing = dir.path().join("none");
    let runbook = repo.join("engine/benches/fixtures/platform-and-pi.yaml");

    let mut walls = Vec::new();
    let mut aws_calls = Vec::new();
    let mut kube_calls = Vec::new();
    // One more run than measured: the first one pays for moto importing each service's
    // backend on its first request, which a long-running endpoint pays once.
    let mut cold = Duration::ZERO;
    for i in 0..=RUNS {
        http(moto.port, "POST", "/moto-api/reset").expect("moto reset");
        http(kube.port, "POST", "/debug/reset").expect("fake kube reset");
        moto.take_requests();
        kube.take_requests();
        let state = dir.path().join(format!("state-{i}.db"));
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_runbook"))
            .args([
                "--output",
                "plain",
                "--target",
                "aws",
                "--kube-context",
                "fake",
                "--state",
            ])
            .arg(&state)
            .arg("run")
            .arg(&runbook)
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-2")
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("KUBECONFIG", &kubeconfig)
            .env("RUNBOOK_AWS_POLL_MS", "100")
            .output()
            .expect("run the binary");
        let wall = started.elapsed();
        assert!(
            out.status.success(),
            "the run failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Let the servers' log lines arrive.
        std::thread::sleep(Duration::from_millis(200));
        if i == 0 {
            cold = wall;
            continue;
        }
        walls.push(wall);
        aws_calls.push(moto.take_requests());
        kube_calls.push(kube.take_requests());
    }
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "platform-setup (5 namespaces) + pi-4 submission on --target aws against moto: median {:.0} ms, best {:.0} ms, worst {:.0} ms ({RUNS} runs)",
        ms(walls[RUNS / 2]),
        ms(walls[0]),
        ms(walls[RUNS - 1])
    );
    println!(
        "  first run against a fresh moto (not counted above): {:.0} ms",
        ms(cold)
    );
    println!(
        "  AWS requests served by moto per run: {:?}; Kubernetes requests served by the fake API server: {:?}",
        aws_calls, kube_calls
    );
    let _ = std::io::stdout().flush();
}
