//! The local world the `aws` target's end-to-end tests run against: moto for the AWS
//! APIs and a fake Kubernetes API server for the cluster, each a Python process this
//! module starts on a free port and kills when the [`AwsWorld`] is dropped.
//!
//! ```ignore
//! let world = AwsWorld::start();              // or AwsWorld::builder().nodes(2).start()
//! let t = Test::new();
//! let out = world
//!     .env_for(t.args(["run", "--target", "aws", "--kube-context", "fake", "x.yaml"]))
//!     .run();
//! world.kube_objects();                       // what the run left in the cluster
//! ```
//!
//! - **moto** runs through `tests/aws/moto_launcher.py`, which patches moto's EMR on
//!   EKS job runs so they go PENDING -> SUBMITTED -> RUNNING -> COMPLETED (or FAILED
//!   when the job's name contains `fail`) on a schedule, 0.2 s a state by default
//!   ([`AwsWorldBuilder::job_schedule`], [`AwsWorld::set_job_schedule`]). Everything
//!   else is moto 5.2.5 as it is; its limits are listed in the README ("Testing the
//!   aws target locally").
//! - **The cluster** is `tests/aws/fake_kube.py`: moto's EKS endpoint is a made-up
//!   host, so the binary reaches Kubernetes through the kubeconfig written here, whose
//!   context `fake` points at the fake server (plain HTTP, no auth). It starts with N
//!   Ready m5.2xlarge nodes, and Karpenter only when asked for
//!   ([`AwsWorldBuilder::karpenter`]); `GET /debug/objects` shows everything stored.
//!   With [`AwsWorldBuilder::eks_connection`] the binary connects as on EKS instead:
//!   moto's clusters answer DescribeCluster with the fake server's HTTPS endpoint and
//!   CA, and that listener takes only EKS tokens. [`AwsWorld::kube_fault`] makes it
//!   answer chosen requests with an API server's errors.
//!
//! **Isolation: every test gets its own servers** (no shared state, no mutex), so the
//! e2e tests keep running in parallel threads. Starting both takes about a second of
//! CPU, mostly moto's imports. [`AwsWorld::reset`] is there for a test that runs
//! several scenarios against one world.
//!
//! The Python is `$RUNBOOK_MOTO_PYTHON`, else `<repo>/.venv-moto/bin/python`, which
//! `bash scripts/test.sh` creates; without it the tests fail (never skip) and say so.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{Cmd, PATIENCE, Test};

/// The region every AWS call of a test is made in (moto keeps regions apart).
pub(crate) const REGION: &str = "us-east-2";

/// The kubeconfig context that names the fake cluster (`--kube-context fake`).
pub(crate) const KUBE_CONTEXT: &str = "fake";

/// Where a world built with [`AwsWorldBuilder::eks_connection`] keeps the fake
/// cluster's CA (in its temporary directory).
const KUBE_CA_FILE: &str = "kube-ca.pem";

/// How often the binary polls AWS in tests (`RUNBOOK_AWS_POLL_MS`): fast enough to see
/// every state of a job run that spends 0.2 s in each.
const POLL_MS: &str = "100";

/// How a world is set up before its servers start.
pub(crate) struct AwsWorldBuilder {
    nodes: u32,
    job_schedule: Option<String>,
    fail_pattern: Option<String>,
    fault_proxy: bool,
    karpenter: Option<&'static str>,
    eks_connection: bool,
    namespace_termination: Option<f64>,
}

impl AwsWorldBuilder {
    /// The EKS connection path: the fake cluster also serves HTTPS with a CA of its
    /// own and takes only EKS bearer tokens (`fake_kube.py --tls`), moto gives every
    /// cluster that endpoint and CA (`moto_launcher.py --eks-endpoint`), and the
    /// binary is run without `--kube-context` ([`AwsWorld::kube_context_args`]), so it
    /// connects as it does on EKS: DescribeCluster's endpoint and CA, a presigned STS
    /// token. Steps must name a cluster that exists in moto.
    pub(crate) fn eks_connection(mut self) -> Self {
        self.eks_connection = true;
        self
    }

    /// How long a deleted namespace stays `Terminating` in the fake cluster (default:
    /// it is gone at once), as the namespace controller takes while it empties it.
    pub(crate) fn namespace_termination(mut self, seconds: f64) -> Self {
        self.namespace_termination = Some(seconds);
        self
    }

    /// Karpenter v1 on the fake cluster, as its controller would act for the tests:
    /// the NodePool and EC2NodeClass kinds served, a Running controller pod, the
    /// objects runbook applies made Ready, and a deleted NodePool's nodes removed
    /// (`fake_kube.py --karpenter`). Without it the cluster is a fresh one.
    pub(crate) fn karpenter(mut self) -> Self {
        self.karpenter = Some("--karpenter");
        self
    }

    /// Only Karpenter's CRDs on the fake cluster, no controller
    /// (`fake_kube.py --karpenter-crds`): an install whose controller is not running.
    pub(crate) fn karpenter_crds(mut self) -> Self {
        self.karpenter = Some("--karpenter-crds");
        self
    }

    /// How many Ready nodes the fake cluster starts with (default 1).
    pub(crate) fn nodes(mut self, nodes: u32) -> Self {
        self.nodes = nodes;
        self
    }

    /// How long job runs stay in each state: seconds for all (`"0.5"`) or per state
    /// (`"PENDING=0.1,SUBMITTED=0.1,RUNNING=2,CANCEL_PENDING=0.2"`, `inf` for never).
    pub(crate) fn job_schedule(mut self, spec: &str) -> Self {
        self.job_schedule = Some(spec.to_owned());
        self
    }

    /// A regex (case-insensitive): job runs whose name matches end FAILED (default
    /// `fail`).
    pub(crate) fn fail_pattern(mut self, regex: &str) -> Self {
        self.fail_pattern = Some(regex.to_owned());
        self
    }

    /// Puts the fault proxy (`tests/aws/fault_proxy.py`) between the binary and moto:
    /// [`AwsWorld::env`] then points `AWS_ENDPOINT_URL` at the proxy, and
    /// [`AwsWorld::inject`] makes chosen calls time out, fail or lose their connection.
    /// The SDK helpers of `aws_sdk.rs` still go to moto directly.
    pub(crate) fn fault_proxy(mut self) -> Self {
        self.fault_proxy = true;
        self
    }

    /// Starts the servers and waits until they answer (panics after [`PATIENCE`]).
    pub(crate) fn start(self) -> AwsWorld {
        let python = python();
        let dir = tempfile::Builder::new()
            .prefix("runbook-aws-")
            .tempdir()
            .expect("failed to create a temporary directory");
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws");

        let mut kube_args = vec!["--nodes".to_owned(), self.nodes.to_string()];
        kube_args.extend(self.karpenter.map(str::to_owned));
        if self.eks_connection {
            kube_args.push("--tls".to_owned());
        }
        if let Some(seconds) = self.namespace_termination {
            kube_args.extend(["--namespace-termination".to_owned(), seconds.to_string()]);
        }
        let kube = Server::start(
            "fake-kube",
            &python,
            &scripts.join("fake_kube.py"),
            &kube_args,
            "/version",
            dir.path(),
        );

        let mut moto_args = Vec::new();
        if let Some(spec) = &self.job_schedule {
            moto_args.extend(["--job-schedule".to_owned(), spec.clone()]);
        }
        if let Some(regex) = &self.fail_pattern {
            moto_args.extend(["--fail-pattern".to_owned(), regex.clone()]);
        }
        if self.eks_connection {
            // The cluster's HTTPS endpoint and CA, for moto to hand out.
            let tls = kube.expect_ok("GET", "/debug/tls", None);
            let ca = dir.path().join(KUBE_CA_FILE);
            fs::write(&ca, tls["ca"].as_str().expect("the fake cluster's CA"))
                .expect("failed to write the fake cluster's CA");
            moto_args.extend([
                "--eks-endpoint".to_owned(),
                tls["endpoint"].as_str().expect("an endpoint").to_owned(),
                "--eks-ca-file".to_owned(),
                ca.display().to_string(),
            ]);
        }
        let moto = Server::start(
            "moto",
            &python,
            &scripts.join("moto_launcher.py"),
            &moto_args,
            "/_harness/job-schedule",
            dir.path(),
        );

        let proxy = self.fault_proxy.then(|| {
            Server::start(
                "fault-proxy",
                &python,
                &scripts.join("fault_proxy.py"),
                &["--upstream".to_owned(), moto.url()],
                "/_faults",
                dir.path(),
            )
        });

        let kubeconfig = dir.path().join("kubeconfig");
        fs::write(&kubeconfig, kubeconfig_yaml(&kube.url())).expect("failed to write kubeconfig");
        AwsWorld {
            moto,
            kube,
            proxy,
            kubeconfig,
            dir,
            eks_connection: self.eks_connection,
        }
    }
}

/// moto and the fake cluster (and the fault proxy, if asked for), running until this
/// is dropped.
pub(crate) struct AwsWorld {
    moto: Server,
    kube: Server,
    proxy: Option<Server>,
    kubeconfig: PathBuf,
    dir: TempDir,
    eks_connection: bool,
}

impl AwsWorld {
    /// A world with the defaults: one node, 0.2 s per job state, `fail` jobs fail.
    pub(crate) fn start() -> AwsWorld {
        AwsWorld::builder().start()
    }

    pub(crate) fn builder() -> AwsWorldBuilder {
        AwsWorldBuilder {
            nodes: 1,
            job_schedule: None,
            fail_pattern: None,
            fault_proxy: false,
            karpenter: None,
            eks_connection: false,
            namespace_termination: None,
        }
    }

    /// How the binary is told to reach the cluster: `--kube-context fake`, or nothing
    /// in a world built with [`AwsWorldBuilder::eks_connection`] (EKS's own way).
    pub(crate) fn kube_context_args(&self) -> Vec<&'static str> {
        if self.eks_connection {
            Vec::new()
        } else {
            vec!["--kube-context", KUBE_CONTEXT]
        }
    }

    /// Makes the fake cluster answer requests matching `rule` with an API server's
    /// error (`POST /debug/faults`; `tests/aws/fake_kube.py`'s `Faults` says what a
    /// rule holds), e.g. `json!({"status": 429, "method": "GET", "path": "/pods$",
    /// "watch": false, "times": 2})`.
    pub(crate) fn kube_fault(&self, rule: &Value) {
        self.kube
            .expect_ok("POST", "/debug/faults", Some(&rule.to_string()));
    }

    /// The fault rules of the fake cluster, each with its `hits` so far.
    pub(crate) fn kube_faults(&self) -> Vec<Value> {
        self.kube_debug_list("/debug/faults", "rules")
    }

    /// Every request the fake cluster's HTTPS listener authenticated, in order: method,
    /// path, whether its EKS token was accepted, and the token's `date` and
    /// `signature` (`GET /debug/tokens`).
    pub(crate) fn kube_tokens(&self) -> Vec<Value> {
        self.kube_debug_list("/debug/tokens", "requests")
    }

    /// The list `key` of the fake cluster's `GET path`.
    fn kube_debug_list(&self, path: &str, key: &str) -> Vec<Value> {
        match self.kube.expect_ok("GET", path, None)[key].take() {
            Value::Array(items) => items,
            other => panic!("fake kube's {path} has no list `{key}`: {other}"),
        }
    }

    /// moto's endpoint, e.g. `http://127.0.0.1:40123`.
    pub(crate) fn moto_url(&self) -> String {
        self.moto.url()
    }

    /// Where the binary sends its AWS calls: the fault proxy if there is one, else moto.
    pub(crate) fn aws_endpoint(&self) -> String {
        self.proxy.as_ref().unwrap_or(&self.moto).url()
    }

    /// The fault proxy (panics if the world was built without one).
    pub(crate) fn proxy(&self) -> &Server {
        self.proxy.as_ref().expect(
            "this world has no fault proxy: build it with AwsWorld::builder().fault_proxy()",
        )
    }

    /// The fake cluster's HTTPS endpoint and the file of its CA (PEM), in a world
    /// built with [`AwsWorldBuilder::eks_connection`].
    pub(crate) fn kube_tls(&self) -> (String, PathBuf) {
        let tls = self.kube.expect_ok("GET", "/debug/tls", None);
        let endpoint = tls["endpoint"].as_str().expect("an endpoint").to_owned();
        (endpoint, self.dir.path().join(KUBE_CA_FILE))
    }

    /// The fake Kubernetes API server's endpoint.
    pub(crate) fn kube_url(&self) -> String {
        self.kube.url()
    }

    /// The kubeconfig whose context [`KUBE_CONTEXT`] is the fake cluster.
    pub(crate) fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The environment the binary needs to use this world.
    ///
    /// Besides the endpoint, test credentials, region, kubeconfig and poll interval,
    /// it points the AWS config files at paths that do not exist, turns off the EC2
    /// metadata lookup and keeps proxies away from 127.0.0.1, so nothing of the
    /// developer's own AWS set-up (or a proxy) takes part in a test.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        let missing = self.dir.path().join("no-such-aws-file");
        vec![
            ("AWS_ENDPOINT_URL", self.aws_endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("KUBECONFIG", self.kubeconfig.display().to_string()),
            ("RUNBOOK_AWS_POLL_MS", POLL_MS.to_owned()),
            ("AWS_CONFIG_FILE", missing.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", missing.display().to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("no_proxy", "127.0.0.1,localhost".to_owned()),
        ]
    }

    /// `cmd` with [`AwsWorld::env`] added.
    pub(crate) fn env_for<'t>(&self, cmd: Cmd<'t>) -> Cmd<'t> {
        self.env()
            .into_iter()
            .fold(cmd, |cmd, (key, value)| cmd.env(key, value))
    }

    /// `runbook --output plain run --target aws --kube-context fake FILE ARGS...` in
    /// `t`'s directory, with [`AwsWorld::env`] (without `--kube-context` in a world
    /// built with [`AwsWorldBuilder::eks_connection`]).
    pub(crate) fn run_plain<'t>(&self, t: &'t Test, file: &str, args: &[&str]) -> Cmd<'t> {
        let mut all = vec!["--output", "plain", "run", "--target", "aws"];
        all.extend(self.kube_context_args());
        all.push(file);
        all.extend_from_slice(args);
        self.env_for(t.args(all))
    }

    /// Clears moto (every service, and the job schedule back to the builder's) and
    /// puts the fake cluster back to its seeded state.
    pub(crate) fn reset(&self) {
        self.moto.expect_ok("POST", "/moto-api/reset", None);
        self.kube.expect_ok("POST", "/debug/reset", None);
    }

    /// Changes the schedule of job runs created from now on (see
    /// [`AwsWorldBuilder::job_schedule`]); [`AwsWorld::reset`] undoes it.
    pub(crate) fn set_job_schedule(&self, spec: &str) {
        let body = serde_json::json!({ "schedule": spec }).to_string();
        self.moto
            .expect_ok("POST", "/_harness/job-schedule", Some(&body));
    }

    /// Makes StartJobRun answer `seconds` after it created the job run (0: at once),
    /// so a test can kill the client while the call is in flight.
    pub(crate) fn set_start_job_delay(&self, seconds: f64) {
        let body = serde_json::json!({ "start_delay": seconds }).to_string();
        self.moto
            .expect_ok("POST", "/_harness/job-schedule", Some(&body));
    }

    /// Every object in the fake cluster (`GET /debug/objects`), sorted by group,
    /// resource, namespace and name.
    pub(crate) fn kube_objects(&self) -> Vec<Value> {
        self.kube_debug_list("/debug/objects", "objects")
    }

    /// The fake cluster's object of `kind` named `name` (in `namespace`, if given).
    pub(crate) fn kube_object(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.kube_objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str() == namespace
        })
    }

    /// moto's server (for requests a test makes itself).
    pub(crate) fn moto(&self) -> &Server {
        &self.moto
    }

    /// The fake Kubernetes API server.
    pub(crate) fn kube(&self) -> &Server {
        &self.kube
    }
}

/// The Python that has moto installed (and `cryptography`, which moto needs).
pub(crate) fn python() -> PathBuf {
    let python = std::env::var_os("RUNBOOK_MOTO_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-moto/bin/python"),
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "the aws tests need moto, but {} does not exist: run `bash scripts/test.sh` once \
         (it creates .venv-moto/ with tests/aws/requirements.txt), or point \
         RUNBOOK_MOTO_PYTHON at a Python that has moto[server]==5.2.5",
        python.display()
    );
    python
}

fn kubeconfig_yaml(server: &str) -> String {
    let mut yaml = String::new();
    let _ = write!(
        yaml,
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {KUBE_CONTEXT}\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n\
         users:\n\
         - name: {KUBE_CONTEXT}\n  user: {{}}\n\
         contexts:\n\
         - name: {KUBE_CONTEXT}\n  context:\n    cluster: {KUBE_CONTEXT}\n    user: {KUBE_CONTEXT}\n\
         current-context: {KUBE_CONTEXT}\n"
    );
    yaml
}

/// One of the two Python servers.
pub(crate) struct Server {
    name: &'static str,
    port: u16,
    child: Child,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts `script PORT ARGS... --exit-with-parent` on a free port and waits until
    /// `GET ready_path` answers 200.
    ///
    /// The port is found by binding port 0 and letting it go, so another process may
    /// take it before the server binds it; a server that dies saying so is started
    /// again on another port.
    fn start(
        name: &'static str,
        python: &Path,
        script: &Path,
        args: &[String],
        ready_path: &str,
        dir: &Path,
    ) -> Server {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let stdout_path = dir.join(format!("{name}.{port}.stdout"));
            let stderr_path = dir.join(format!("{name}.{port}.stderr"));
            let stdout = fs::File::create(&stdout_path).expect("failed to create a log file");
            let stderr = fs::File::create(&stderr_path).expect("failed to create a log file");
            let child = Command::new(python)
                .arg(script)
                .arg(port.to_string())
                .args(args)
                // Exits if this test binary dies without dropping the world.
                .arg("--exit-with-parent")
                .env("PYTHONUNBUFFERED", "1")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("failed to start {}: {e}", script.display()));
            let mut server = Server {
                name,
                port,
                child,
                stderr_path,
            };
            match server.wait_until_ready(ready_path) {
                Ok(()) => return server,
                Err(log) if log.contains("Address already in use") && attempt < ATTEMPTS => {}
                Err(log) => panic!(
                    "{name} ({}) did not start on port {port}:\n{log}",
                    script.display()
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Polls `ready_path` until it answers 200; `Err(stderr)` if the process exits
    /// first; panics after [`PATIENCE`].
    fn wait_until_ready(&mut self, ready_path: &str) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("failed to poll a server") {
                return Err(format!("exited with {status}; stderr:\n{}", self.stderr()));
            }
            if matches!(self.request("GET", ready_path, None), Ok((200, _))) {
                return Ok(());
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{} did not answer GET {ready_path} on port {} within {PATIENCE:?}; stderr:\n{}",
                self.name,
                self.port,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// What the server wrote to stderr so far (its request log, tracebacks).
    pub(crate) fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// One HTTP/1.1 request with `Connection: close`; (status, body). A JSON body is
    /// sent as `application/json`, and an AWS-style `Authorization` header names
    /// [`REGION`] so that moto routes unsigned REST calls (`/virtualclusters`) to
    /// emr-containers there; the fake cluster ignores it.
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(PATIENCE))?;
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\n\
             Host: 127.0.0.1:{port}\r\n\
             Connection: close\r\n\
             Accept: application/json\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/emr-containers/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Type: application/json\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            port = self.port,
            len = body.len(),
        );
        stream.write_all(request.as_bytes())?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head}")))?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Ok((
            status,
            if chunked {
                dechunk(rest)
            } else {
                rest.to_owned()
            },
        ))
    }

    /// A request that must answer 2xx with JSON; its body parsed.
    #[track_caller]
    pub(crate) fn expect_ok(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (status, text) = self
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} on {} failed: {e}", self.name));
        assert!(
            (200..300).contains(&status),
            "{method} {path} on {} answered {status}: {text}\nserver stderr:\n{}",
            self.name,
            self.stderr()
        );
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{method} {path} on {} is not JSON ({e}): {text}", self.name)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("failed to find a free port")
        .port()
}

/// The body of a chunked response, from the chunks' sizes.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// The harness itself, through plain HTTP: both servers start and answer, the fake
/// cluster has its nodes, moto's job runs finish (and `fail` ones fail) on the
/// schedule, a reset clears moto, and the environment and kubeconfig point at them.
#[test]
fn aws_harness_starts_moto_and_a_fake_cluster() {
    let world = AwsWorld::builder()
        .nodes(2)
        .job_schedule("0.1")
        .fail_pattern("fail|boom")
        .start();

    // The fake cluster: discovery, the seeded nodes, a real API server's errors.
    let kube = world.kube();
    assert_eq!(kube.expect_ok("GET", "/version", None)["major"], "1");
    let nodes = kube.expect_ok("GET", "/api/v1/nodes", None);
    assert_eq!(nodes["kind"], "NodeList");
    let nodes = nodes["items"].as_array().expect("items");
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        let labels = &node["metadata"]["labels"];
        assert_eq!(labels["node.kubernetes.io/instance-type"], "m5.2xlarge");
        assert_eq!(labels["eks.amazonaws.com/capacityType"], "ON_DEMAND");
        assert_eq!(node["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(node["status"]["conditions"][0]["status"], "True");
    }
    let (status, body) = kube
        .request("GET", "/api/v1/namespaces/monthly-batch", None)
        .expect("GET a namespace");
    let not_found: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(status, 404);
    assert_eq!(not_found["kind"], "Status");
    assert_eq!(not_found["reason"], "NotFound");
    assert_eq!(
        not_found["message"],
        "namespaces \"monthly-batch\" not found"
    );
    kube.expect_ok(
        "POST",
        "/api/v1/namespaces",
        Some(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monthly-batch"}}"#),
    );
    let ns = world
        .kube_object("Namespace", None, "monthly-batch")
        .expect("the namespace is in /debug/objects");
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(ns["metadata"]["uid"].is_string() && ns["metadata"]["resourceVersion"].is_string());

    // moto: a job run goes through every state to COMPLETED; a `fail` job ends FAILED.
    let moto = world.moto();
    let vc = moto.expect_ok(
        "POST",
        "/virtualclusters",
        Some(
            r#"{"name":"monthly-batch","clientToken":"t","containerProvider":{"type":"EKS",
                "id":"eks-emr-cluster","info":{"eksInfo":{"namespace":"monthly-batch"}}}}"#,
        ),
    );
    let vc = vc["id"].as_str().expect("virtual cluster id").to_owned();
    // Each job's name is its client token.
    let start = |job: &str| -> String {
        let started = moto.expect_ok(
            "POST",
            &format!("/virtualclusters/{vc}/jobruns"),
            Some(&format!(
                r#"{{"name":"{job}","clientToken":"{job}","releaseLabel":"emr-6.3.0-latest",
                    "executionRoleArn":"arn:aws:iam::123456789012:role/r",
                    "jobDriver":{{"sparkSubmitJobDriver":{{"entryPoint":"local:///pi.py"}}}}}}"#
            )),
        );
        started["id"].as_str().expect("job id").to_owned()
    };
    let states = |job: &str| -> (Vec<String>, Value) {
        let id = start(job);
        let mut seen: Vec<String> = Vec::new();
        let start = Instant::now();
        loop {
            let run = moto.expect_ok("GET", &format!("/virtualclusters/{vc}/jobruns/{id}"), None)
                ["jobRun"]
                .take();
            let state = run["state"].as_str().expect("state").to_owned();
            if seen.last() != Some(&state) {
                seen.push(state.clone());
            }
            if ["COMPLETED", "FAILED", "CANCELLED"].contains(&state.as_str()) {
                return (seen, run);
            }
            assert!(start.elapsed() < PATIENCE, "job stuck after {seen:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (seen, run) = states("pi-4");
    assert_eq!(seen, ["PENDING", "SUBMITTED", "RUNNING", "COMPLETED"]);
    assert!(run["finishedAt"].is_string(), "{run}");
    let (seen, run) = states("pi-fail");
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"), "{seen:?}");
    assert_eq!(run["failureReason"], "USER_ERROR");
    // A StartJobRun that repeats a client token gets the job run it started, as on EMR.
    let pi = run_id_named(moto, &vc, "pi-4");
    assert_eq!(start("pi-4"), pi);
    let listed = moto.expect_ok("GET", &format!("/virtualclusters/{vc}/jobruns"), None);
    assert_eq!(
        listed["jobRuns"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );

    // A schedule set by a test holds until a reset, which forgets the virtual cluster
    // and everything in the fake cluster that was not seeded.
    world.set_job_schedule("RUNNING=inf");
    let schedule = moto.expect_ok("GET", "/_harness/job-schedule", None);
    assert_eq!(schedule["seconds"]["RUNNING"], "inf");
    world.reset();
    let schedule = moto.expect_ok("GET", "/_harness/job-schedule", None);
    assert_eq!(schedule["seconds"]["RUNNING"], 0.1);
    let listed = moto.expect_ok("GET", "/virtualclusters", None);
    assert_eq!(listed["virtualClusters"], serde_json::json!([]));
    assert!(
        world
            .kube_object("Namespace", None, "monthly-batch")
            .is_none()
    );

    // What the binary will be given.
    let env = world.env();
    let get = |key: &str| {
        env.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {key} in {env:?}"))
    };
    assert_eq!(get("AWS_ENDPOINT_URL"), world.moto_url());
    assert_eq!(get("AWS_REGION"), REGION);
    assert_eq!(get("RUNBOOK_AWS_POLL_MS"), POLL_MS);
    assert_eq!(PathBuf::from(get("KUBECONFIG")), world.kubeconfig());
    let kubeconfig = fs::read_to_string(world.kubeconfig()).expect("read kubeconfig");
    assert!(kubeconfig.contains(&format!("server: {}", world.kube_url())));
    assert!(kubeconfig.contains("current-context: fake"));
    assert_ne!(world.moto().port(), world.kube().port());

    // The binary runs with that environment (utility steps only, until the aws target
    // has its cloud actions).
    let t = Test::new().runbook(
        "hello.yaml",
        "name: hello\nsteps:\n  - id: where\n    action: log\n    with: { message: \"{{ env.AWS_ENDPOINT_URL }}\" }\n",
    );
    let out = world
        .env_for(t.args(["--output", "plain", "run", "--target", "aws", "hello.yaml"]))
        .run()
        .success();
    assert!(out.stdout.contains(&world.moto_url()), "{}", out.stdout);
}

/// The id of the job run of `vc` named `name`.
fn run_id_named(moto: &Server, vc: &str, name: &str) -> String {
    let listed = moto.expect_ok("GET", &format!("/virtualclusters/{vc}/jobruns"), None);
    listed["jobRuns"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["name"] == name))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no job run {name} in {listed}"))
        .to_owned()
}

/// Dropping a world stops its servers: nothing answers on their ports any more, so no
/// test leaves Python processes behind.
#[test]
fn aws_harness_servers_stop_when_the_world_is_dropped() {
    let world = AwsWorld::start();
    let schedule = world
        .moto()
        .expect_ok("GET", "/_harness/job-schedule", None);
    assert_eq!(schedule["seconds"]["PENDING"], 0.2, "the default schedule");
    let ports = [world.moto().port(), world.kube().port()];
    drop(world);
    for port in ports {
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "port {port} still answers after the world was dropped"
        );
    }
}
