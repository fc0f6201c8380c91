//! The simulated world on the wire: `runbook run --serve` with the real `kubectl`
//! (1.32, as on these machines) pointed at the kubeconfig the run prints, asserting on
//! kubectl's own output. Each kubectl gets a fresh `--cache-dir` (kubectl caches
//! discovery for hours).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::canned_runbooks::canned;
use crate::harness::{Background, Test};

/// How long the live test waits for the demo's moments (at `--sim-speed 10` the
/// preemption comes about 3 s after the high job starts, the replacement about 30 s).
const LIVE_PATIENCE: Duration = Duration::from_secs(90);

/// kubectl pointed at a served world.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// The kubeconfig the run printed (`export KUBECONFIG=...` on its stderr).
    fn of(t: &Test, served: &Background) -> Kubectl {
        let stderr = served.stderr_so_far();
        let path = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
            .unwrap_or_else(|| panic!("no kubeconfig printed:\n{stderr}"));
        Kubectl {
            kubeconfig: PathBuf::from(path),
            cache: t.path("kube-cache"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        command
    }

    /// Runs kubectl: its exit code, stdout and stderr.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("kubectl is needed for this test: {e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The role mappings of ConfigMap `kube-system/aws-auth`.
    fn aws_auth_roles(&self) -> String {
        self.ok(&[
            "get",
            "cm",
            "-n",
            "kube-system",
            "aws-auth",
            "-o",
            "jsonpath={.data.mapRoles}",
        ])
    }

    /// Runs kubectl, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "kubectl {args:?} failed:\n{out}{err}");
        out
    }

    /// Starts kubectl in the background, its stdout going to `file`.
    fn spawn(&self, args: &[&str], file: &PathBuf) -> Child {
        self.command(args)
            .stdout(std::fs::File::create(file).expect("a file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl")
    }
}

/// Rows of kubectl's table output whose first column (or any column) holds `text`.
fn rows_with<'a>(table: &'a str, text: &str) -> Vec<&'a str> {
    table.lines().filter(|l| l.contains(text)).collect()
}

fn serve_demo(t: &Test, extra: &[&str]) -> Background {
    serve_run(t, "priority-demo.yaml", extra)
}

/// A run of the canned runbook `name` with `--serve`, once its world is served.
fn serve_run(t: &Test, name: &str, extra: &[&str]) -> Background {
    let runbook = canned(name);
    let mut args = vec![
        "--output",
        "plain",
        "run",
        &runbook,
        "--serve",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut served = t.args(args).spawn();
    served.wait_until("the world is served", || {
        served_stderr(t).contains("export KUBECONFIG=")
    });
    served
}

/// Every stderr the test's runs wrote so far.
fn served_stderr(t: &Test) -> String {
    std::fs::read_dir(t.path(".out"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "stderr"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// After the demo, its world stays served until Ctrl-C, and kubectl reads it with its
/// usual columns: the node, the namespaces, the jobs' pods, the priority classes, the
/// scheduler's `Preempted` event; selectors work; what is not modelled gets the API
/// server's answers.
#[test]
fn kubectl_reads_the_world_a_demo_left() {
    let t = Test::new();
    let mut served = serve_demo(&t, &[]);
    served.wait_until("the run has ended", || {
        served_stderr(&t).contains("still serving")
    });
    let kubectl = Kubectl::of(&t, &served);

    // The caller made the simulated cluster, so it is its admin: `kubectl auth can-i`
    // (a SelfSubjectAccessReview, as `runbook preflight` asks) says yes.
    for question in [
        &["auth", "can-i", "create", "priorityclasses"][..],
        &["auth", "can-i", "watch", "pods", "--all-namespaces"],
        &[
            "auth",
            "can-i",
            "update",
            "roles.rbac.authorization.k8s.io",
            "-n",
            "monthly-batch",
        ],
    ] {
        assert_eq!(kubectl.ok(question).trim(), "yes", "{question:?}");
    }

    let nodes = kubectl.ok(&["get", "nodes"]);
    assert!(nodes.starts_with("NAME"), "{nodes}");
    let node = rows_with(&nodes, "ip-192-168-87-33.us-east-2.compute.internal");
    assert_eq!(node.len(), 1, "{nodes}");
    assert!(
        node[0].contains(" Ready ") && node[0].contains("v1.35"),
        "{nodes}"
    );

    let namespaces = kubectl.ok(&["get", "ns"]);
    for ns in ["default", "kube-system", "monthly-batch", "intra-day-batch"] {
        let row = rows_with(&namespaces, ns);
        assert!(
            row.iter()
                .any(|r| r.starts_with(ns) && r.contains("Active")),
            "{namespaces}"
        );
    }

    let pods = kubectl.ok(&["get", "pods", "-n", "monthly-batch", "-o", "wide"]);
    let header = pods.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
    ] {
        assert!(header.contains(column), "{pods}");
    }
    let driver = rows_with(&pods, "-driver");
    assert_eq!(driver.len(), 1, "{pods}");
    assert!(
        driver[0].contains("Completed") && driver[0].contains("ip-192-168-87-33"),
        "{pods}"
    );

    let drivers = kubectl.ok(&["get", "pods", "-A", "-l", "spark-role=driver", "-o", "name"]);
    assert_eq!(drivers.lines().count(), 2, "{drivers}");
    assert!(
        drivers
            .lines()
            .all(|l| l.starts_with("pod/spark-") && l.ends_with("-driver")),
        "{drivers}"
    );
    let system = kubectl.ok(&[
        "get",
        "pods",
        "-n",
        "kube-system",
        "--field-selector",
        "status.phase=Running",
        "-o",
        "name",
    ]);
    assert_eq!(
        system.lines().count(),
        5,
        "aws-node, kube-proxy, two CoreDNS and Karpenter's controller:\n{system}"
    );
    assert!(
        system.lines().any(|l| l.starts_with("pod/karpenter-")),
        "{system}"
    );

    let classes = kubectl.ok(&["get", "priorityclasses"]);
    let low = rows_with(&classes, "low-priority");
    assert!(
        low[0].split_whitespace().collect::<Vec<_>>()[..3] == ["low-priority", "100", "false"],
        "{classes}"
    );
    assert!(
        rows_with(&classes, "critical-priority")[0].contains("true"),
        "{classes}"
    );

    let events = kubectl.ok(&["get", "events", "-n", "monthly-batch"]);
    let preempted = rows_with(&events, "Preempted");
    assert_eq!(preempted.len(), 1, "{events}");
    assert!(
        preempted[0].contains("-exec-2") && preempted[0].contains("Preempted by pod"),
        "{events}"
    );

    let json = kubectl.ok(&[
        "get",
        "pod",
        "-n",
        "monthly-batch",
        driver[0].split_whitespace().next().unwrap_or_default(),
        "-o",
        "json",
    ]);
    let pod: serde_json::Value = serde_json::from_str(&json).expect("a pod as JSON");
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["spec"]["priorityClassName"], "critical-priority");
    assert_eq!(pod["metadata"]["labels"]["spark-role"], "driver");

    let (code, _, err) = kubectl.run(&["get", "pods", "-l", "spark role"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("BadRequest") || err.contains("unable to parse requirement"),
        "{err}"
    );
    let (code, _, err) = kubectl.run(&["get", "deployments"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("doesn't have a resource type \"deployments\""),
        "{err}"
    );
    let (code, _, err) = kubectl.run(&["get", "pod", "-n", "monthly-batch", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("pods \"nope\" not found"), "{err}");

    // Writes change the world: namespaces and priority classes, created and deleted.
    let created = kubectl.ok(&["create", "namespace", "what-if"]);
    assert!(created.contains("namespace/what-if created"), "{created}");
    assert!(
        kubectl
            .ok(&["get", "ns", "what-if", "-o", "name"])
            .contains("namespace/what-if")
    );
    let created = kubectl.ok(&["create", "priorityclass", "urgent", "--value=500"]);
    assert!(
        created.contains("priorityclass.scheduling.k8s.io/urgent created"),
        "{created}"
    );
    let urgent = kubectl.ok(&["get", "pc", "urgent"]);
    assert!(rows_with(&urgent, "urgent")[0].contains("500"), "{urgent}");
    let (code, _, err) = kubectl.run(&["create", "priorityclass", "urgent", "--value=600"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let deleted = kubectl.ok(&["delete", "ns", "what-if"]);
    assert!(
        deleted.contains("namespace \"what-if\" deleted"),
        "{deleted}"
    );
    let (code, _, err) = kubectl.run(&["get", "ns", "what-if"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = kubectl.run(&["delete", "ns", "kube-system"]);
    assert_eq!(code, 1);
    assert!(err.contains("may not be deleted"), "{err}");
    kubectl.ok(&["delete", "priorityclass", "urgent"]);
    // kubectl apply: created, then unchanged (the applied configuration is kept, so
    // kubectl finds nothing to patch and does not warn), and a priority class's value
    // cannot change.
    t.write("gold.yaml", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: gold\nvalue: 700\n");
    let gold = t.path("gold.yaml");
    let gold = gold.to_str().unwrap_or_default();
    assert!(
        kubectl
            .ok(&["apply", "-f", gold])
            .contains("priorityclass.scheduling.k8s.io/gold created")
    );
    let (code, out, err) = kubectl.run(&["apply", "-f", gold]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("priorityclass.scheduling.k8s.io/gold unchanged"),
        "{out}"
    );
    assert!(!err.contains("last-applied-configuration"), "{err}");
    let applied = kubectl.ok(&[
        "get",
        "pc",
        "gold",
        "-o",
        "jsonpath={.metadata.annotations}",
    ]);
    assert!(applied.contains("last-applied-configuration"), "{applied}");
    t.write("gold.yaml", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: gold\nvalue: 800\n");
    let (code, _, err) = kubectl.run(&["apply", "-f", gold]);
    assert_eq!(code, 1);
    assert!(err.contains("may not be changed in an update"), "{err}");
    assert!(rows_with(&kubectl.ok(&["get", "pc", "gold"]), "gold")[0].contains("700"));
    let (code, _, err) = kubectl.run(&["delete", "pod", "-n", "monthly-batch", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("MethodNotAllowed") || err.contains("not modelled"),
        "{err}"
    );

    served.signal(Signal::SIGINT);
    let out = served.wait();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("stopped serving"), "{}", out.stderr);
}

/// The demo watched live: `kubectl get pods -w` streams the low job's executor #2
/// being preempted (Terminating) before the replacement executor #3 runs;
/// `kubectl describe` of the victim while it terminates shows the scheduler's
/// `DisruptionTarget` condition and `Preempted` event.
#[test]
fn kubectl_watches_the_preemption_as_it_happens() {
    let t = Test::new();
    let mut served = serve_demo(&t, &["--fast-until", "high_job", "--sim-speed", "10"]);
    served.wait_for_stdout("step high_job (submit-job) started");
    let kubectl = Kubectl::of(&t, &served);
    let stream = t.path("watch.txt");
    let mut watch = kubectl.spawn(&["get", "pods", "-n", "monthly-batch", "-w"], &stream);
    let victim_suffix = "-exec-2";
    let started = Instant::now();
    let mut described = None;
    loop {
        let so_far = std::fs::read_to_string(&stream).unwrap_or_default();
        let terminating = so_far.lines().find(|l| {
            l.contains(victim_suffix) && l.contains("low-priority") && l.contains("Terminating")
        });
        if let Some(line) = terminating {
            let name = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let (code, out, _) = kubectl.run(&["describe", "pod", "-n", "monthly-batch", &name]);
            if code == 0 {
                described = Some(out);
            }
            break;
        }
        assert!(
            started.elapsed() < LIVE_PATIENCE,
            "no preemption streamed:\n{so_far}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let described = described.expect("the victim could be described while it terminated");
    let condition = described
        .lines()
        .find(|l| l.trim_start().starts_with("DisruptionTarget"))
        .unwrap_or_else(|| panic!("no DisruptionTarget condition:\n{described}"));
    assert!(condition.contains("True"), "{described}");
    assert!(
        described
            .lines()
            .any(|l| l.contains("Preempted") && l.contains("default-scheduler")),
        "{described}"
    );
    let replacement = "low-priority-job";
    loop {
        let so_far = std::fs::read_to_string(&stream).unwrap_or_default();
        if so_far
            .lines()
            .any(|l| l.contains(replacement) && l.contains("-exec-3") && l.contains("Running"))
        {
            let lines: Vec<&str> = so_far.lines().collect();
            let victim_gone = lines.iter().position(|l| {
                l.contains(victim_suffix) && l.contains(replacement) && l.contains("Terminating")
            });
            let replaced = lines.iter().position(|l| {
                l.contains("-exec-3") && l.contains(replacement) && l.contains("Running")
            });
            assert!(victim_gone < replaced, "the stream's order:\n{so_far}");
            break;
        }
        assert!(
            started.elapsed() < LIVE_PATIENCE,
            "no replacement streamed:\n{so_far}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    served.signal(Signal::SIGINT);
    served.wait();
}

/// `runbook sim serve --world NAME` serves a named world as the last run on it left
/// it; a succeeded run keeps no world, and asking for it says what to do instead.
#[test]
fn a_stored_world_is_served_after_its_runs() {
    let t = Test::new();
    t.args([
        "--output",
        "plain",
        "run",
        &canned("priority-demo.yaml"),
        "--world",
        "demo",
    ])
    .run()
    .success();
    let refused = t.args(["sim", "serve", "--addr", "127.0.0.1:0"]).run();
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("a succeeded run keeps no simulated world")
            && refused.stderr.contains("runbook sim serve --world NAME"),
        "{}",
        refused.stderr
    );

    let mut served = t
        .args(["sim", "serve", "--world", "demo", "--addr", "127.0.0.1:0"])
        .spawn();
    served.wait_until("the world is served", || {
        served_stderr(&t).contains("still serving")
    });
    let kubectl = Kubectl::of(&t, &served);
    let pods = kubectl.ok(&["get", "pods", "-n", "monthly-batch"]);
    let driver = rows_with(&pods, "-driver");
    assert!(
        driver.len() == 1 && driver[0].contains("Completed"),
        "{pods}"
    );
    let events = kubectl.ok(&["get", "events", "-n", "monthly-batch"]);
    assert_eq!(rows_with(&events, "Preempted").len(), 1, "{events}");
    served.signal(Signal::SIGTERM);
    let out = served.wait();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// The autoscaler's configuration is served as a Karpenter NodePool.
#[test]
fn the_autoscaler_is_served_as_a_node_pool() {
    let t = Test::new();
    let served = serve_world(&t, "autoscaling-demo.yaml", "scale");
    let kubectl = Kubectl::of(&t, &served);
    let pools = kubectl.ok(&["get", "nodepools"]);
    assert!(
        pools.starts_with("NAME") && pools.contains("NODECLASS"),
        "{pools}"
    );
    assert_eq!(rows_with(&pools, "runbook-emr").len(), 1, "{pools}");
    let json = kubectl.ok(&["get", "nodepool", "runbook-emr", "-o", "json"]);
    let pool: serde_json::Value = serde_json::from_str(&json).expect("a node pool as JSON");
    assert_eq!(pool["kind"], "NodePool");
    let requirements = pool["spec"]["template"]["spec"]["requirements"].to_string();
    assert!(
        requirements.contains("karpenter.sh/capacity-type") && requirements.contains("spot"),
        "{json}"
    );
    served.signal(Signal::SIGTERM);
    assert_eq!(served.wait().code, Some(0));
}

/// A Karpenter EC2NodeClass and a NodePool named `gpu`, the pool's nodes of
/// `capacity_type`, removed `consolidate_after` after they are empty.
fn karpenter_manifest(capacity_type: &str, consolidate_after: &str) -> String {
    format!(
        "apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: gpu
spec:
  role: KarpenterNodeRole-eks-emr-cluster
  amiSelectorTerms: [{{alias: al2023@latest}}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: gpu
spec:
  template:
    spec:
      requirements:
      - {{key: karpenter.sh/capacity-type, operator: In, values: [{capacity_type}]}}
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}}
  disruption: {{consolidationPolicy: WhenEmpty, consolidateAfter: {consolidate_after}}}
"
    )
}

/// kubectl writes Karpenter's objects as on an EKS cluster with Karpenter v1:
/// `apply -f` creates them (Ready), a second apply finds them unchanged, a
/// server-side apply changes the pool, a pool the autoscaler cannot follow is refused
/// (422), and `delete` removes them.
#[test]
fn kubectl_applies_karpenter_objects() {
    let t = Test::new();
    let served = serve_world(&t, "autoscaling-demo.yaml", "scale");
    let kubectl = Kubectl::of(&t, &served);
    let manifest = t.path("karpenter.yaml");
    let manifest = manifest.to_str().unwrap_or_default();
    t.write("karpenter.yaml", &karpenter_manifest("spot", "30s"));
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]),
        "ec2nodeclass.karpenter.k8s.aws/gpu created\nnodepool.karpenter.sh/gpu created\n"
    );
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]),
        "ec2nodeclass.karpenter.k8s.aws/gpu unchanged\nnodepool.karpenter.sh/gpu unchanged\n"
    );
    let pools = kubectl.ok(&["get", "nodepools"]);
    let gpu = rows_with(&pools, "gpu");
    assert!(
        gpu.len() == 1
            && gpu[0].split_whitespace().collect::<Vec<_>>()[..4] == ["gpu", "gpu", "0", "True"],
        "{pools}"
    );
    let classes = kubectl.ok(&["get", "ec2nodeclasses"]);
    let gpu = rows_with(&classes, "gpu");
    assert!(
        gpu.len() == 1 && gpu[0].split_whitespace().collect::<Vec<_>>()[..2] == ["gpu", "True"],
        "{classes}"
    );

    t.write("karpenter.yaml", &karpenter_manifest("on-demand", "60s"));
    let applied = kubectl.ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        manifest,
    ]);
    assert!(
        applied.contains("nodepool.karpenter.sh/gpu serverside-applied"),
        "{applied}"
    );
    let after = kubectl.ok(&[
        "get",
        "nodepool",
        "gpu",
        "-o",
        "jsonpath={.spec.disruption.consolidateAfter}",
    ]);
    assert_eq!(after, "60s");

    t.write("karpenter.yaml", &karpenter_manifest("reserved", "60s"));
    let (code, _, err) = kubectl.run(&["apply", "-f", manifest]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown capacity type `reserved`"), "{err}");

    let deleted = kubectl.ok(&["delete", "-f", manifest]);
    assert!(
        deleted.contains("nodepool.karpenter.sh \"gpu\" deleted"),
        "{deleted}"
    );
    assert!(rows_with(&kubectl.ok(&["get", "ec2nodeclasses"]), "gpu").is_empty());
    served.signal(Signal::SIGTERM);
    assert_eq!(served.wait().code, Some(0));
}

/// `--serve` is the simulator's: refused on aws, and a port in use stops the command
/// before any run is recorded (exit 2 both).
#[test]
fn serve_is_refused_before_anything_is_written() {
    let t = Test::new();
    let demo = canned("priority-demo.yaml");
    let out = t
        .args(["--target", "aws", "run", &demo, "--serve", "127.0.0.1:0"])
        .run();
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("--serve serves the simulated world"),
        "{}",
        out.stderr
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let out = t.args(["run", &demo, "--serve", &addr]).run();
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("cannot serve on {addr}")),
        "{}",
        out.stderr
    );
    assert!(t.runs().is_empty(), "no run was recorded: {:?}", t.runs());
}

/// `resume --serve` serves the resumed run's world: the world it continues (the
/// cluster the interrupted run made is there from the start) and, after the run, the
/// story's end.
#[test]
fn a_resumed_run_is_served_too() {
    let t = Test::new();
    crate::presenter::interrupted_while_paused_before_high_job(&t);

    let mut resumed = t
        .args(["--output", "plain", "resume", "--serve", "127.0.0.1:0"])
        .spawn();
    resumed.wait_until("the resumed run has ended", || {
        served_stderr(&t).contains("still serving")
    });
    let kubectl = Kubectl::of(&t, &resumed);
    let events = kubectl.ok(&["get", "events", "-n", "monthly-batch"]);
    assert_eq!(rows_with(&events, "Preempted").len(), 1, "{events}");
    let drivers = kubectl.ok(&["get", "pods", "-A", "-l", "spark-role=driver"]);
    assert_eq!(rows_with(&drivers, "Completed").len(), 2, "{drivers}");
    resumed.signal(Signal::SIGINT);
    assert_eq!(resumed.wait().code, Some(0));
    assert_eq!(t.only_run()["status"], "succeeded");
}

/// What `register-vc` grants EMR (eksctl's Role and RoleBinding `emr-containers` in
/// each namespace, EMR's role mapped in aws-auth) is in the simulated cluster, with
/// kubectl's columns; ConfigMaps, Roles and RoleBindings are created (`kubectl
/// create`, whose typed clients send protobuf, and `kubectl apply -f`), changed by a
/// second apply, refused as the API server refuses them, deleted, and deleted with
/// their namespace.
#[test]
fn kubectl_reads_and_writes_config_maps_roles_and_role_bindings() {
    let t = Test::new();
    let mut served = serve_run(&t, "platform-setup.yaml", &[]);
    served.wait_until("the run has ended", || {
        served_stderr(&t).contains("still serving")
    });
    let kubectl = Kubectl::of(&t, &served);

    assert_eq!(kubectl.aws_auth_roles(), EMR_MAPPING);
    let config_maps = kubectl.ok(&["get", "cm", "-n", "kube-system"]);
    assert_eq!(
        config_maps.lines().next().map(columns),
        Some(vec!["NAME", "DATA", "AGE"]),
        "{config_maps}"
    );
    assert_eq!(
        columns(rows_with(&config_maps, "aws-auth")[0])[..2],
        ["aws-auth", "1"]
    );
    let roles = kubectl.ok(&["get", "roles", "-A"]);
    assert_eq!(
        roles.lines().next().map(columns),
        Some(vec!["NAMESPACE", "NAME", "CREATED", "AT"]),
        "{roles}"
    );
    assert_eq!(rows_with(&roles, "emr-containers").len(), 5, "{roles}");
    let bindings = kubectl.ok(&["get", "rolebindings", "-n", "monthly-batch", "-o", "wide"]);
    assert_eq!(
        bindings.lines().next().map(columns),
        Some(vec![
            "NAME",
            "ROLE",
            "AGE",
            "USERS",
            "GROUPS",
            "SERVICEACCOUNTS"
        ]),
        "{bindings}"
    );
    let binding = columns(rows_with(&bindings, "emr-containers")[0]);
    assert_eq!(
        (binding[0], binding[1], binding[3]),
        ("emr-containers", "Role/emr-containers", "emr-containers"),
        "{bindings}"
    );
    let rules = kubectl.ok(&[
        "get",
        "role",
        "-n",
        "monthly-batch",
        "emr-containers",
        "-o",
        "jsonpath={.rules[*].resources}",
    ]);
    assert!(rules.contains(r#"["roles","rolebindings"]"#), "{rules}");
    let resources = kubectl.ok(&["api-resources"]);
    for (name, group) in [
        ("configmaps", "v1"),
        ("roles", "rbac.authorization.k8s.io/v1"),
        ("rolebindings", "rbac.authorization.k8s.io/v1"),
    ] {
        let row = rows_with(&resources, name);
        assert!(
            row.iter().any(|r| r.starts_with(name) && r.contains(group)),
            "{resources}"
        );
    }
    assert!(
        rows_with(&resources, "configmaps")[0].contains(" cm "),
        "{resources}"
    );

    // kubectl create (protobuf), an existing name, a namespace that does not exist.
    assert_eq!(
        kubectl.ok(&[
            "create",
            "cm",
            "lit",
            "-n",
            "default",
            "--from-literal=a=1",
            "--from-literal=b=2"
        ]),
        "configmap/lit created\n"
    );
    assert_eq!(
        kubectl.ok(&[
            "create",
            "role",
            "reader",
            "-n",
            "default",
            "--verb=get,list",
            "--resource=pods"
        ]),
        "role.rbac.authorization.k8s.io/reader created\n"
    );
    assert_eq!(
        kubectl.ok(&[
            "create",
            "rolebinding",
            "read",
            "-n",
            "default",
            "--role=reader",
            "--user=alice",
            "--group=devs",
            "--serviceaccount=default:robot",
        ]),
        "rolebinding.rbac.authorization.k8s.io/read created\n"
    );
    let wide = kubectl.ok(&["get", "rolebinding", "read", "-n", "default", "-o", "wide"]);
    let mut row = columns(wide.lines().nth(1).unwrap_or_default());
    // AGE is the seconds since it was created: 0s, or 1s on a busy machine.
    let age = row.remove(2);
    assert!(matches!(age, "0s" | "1s"), "{wide}");
    assert_eq!(
        row,
        ["read", "Role/reader", "alice", "devs", "default/robot"],
        "{wide}"
    );
    let (code, _, err) =
        kubectl.run(&["create", "cm", "lit", "-n", "default", "--from-literal=a=1"]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"configmaps "lit" already exists"#), "{err}");
    let (code, _, err) = kubectl.run(&["create", "cm", "x", "-n", "nope", "--from-literal=a=1"]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"namespaces "nope" not found"#), "{err}");

    // kubectl apply -f: created, unchanged, configured (annotations kept).
    let manifest = t.path("rbac.yaml");
    let manifest = manifest.to_str().unwrap_or_default();
    t.write("rbac.yaml", &rbac_manifest("fast", r#"["get", "list"]"#));
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]),
        "configmap/settings created\nrole.rbac.authorization.k8s.io/job-reader created\nrolebinding.rbac.authorization.k8s.io/job-reader created\n"
    );
    let (code, out, err) = kubectl.run(&["apply", "-f", manifest]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "configmap/settings unchanged\nrole.rbac.authorization.k8s.io/job-reader unchanged\nrolebinding.rbac.authorization.k8s.io/job-reader unchanged\n"
    );
    assert!(!err.contains("last-applied-configuration"), "{err}");
    let before = kubectl.ok(&[
        "get",
        "cm",
        "settings",
        "-n",
        "default",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    t.write(
        "rbac.yaml",
        &rbac_manifest("slow", r#"["get", "list", "watch"]"#),
    );
    assert_eq!(
        kubectl.ok(&["apply", "-f", manifest]),
        "configmap/settings configured\nrole.rbac.authorization.k8s.io/job-reader configured\nrolebinding.rbac.authorization.k8s.io/job-reader unchanged\n"
    );
    let after = kubectl.ok(&[
        "get",
        "cm",
        "settings",
        "-n",
        "default",
        "-o",
        "jsonpath={.data.mode} {.metadata.resourceVersion} {.metadata.annotations}",
    ]);
    let after: Vec<&str> = after.splitn(3, ' ').collect();
    assert_eq!(after[0], "slow");
    assert!(
        after[1].parse::<u64>().ok() > before.parse::<u64>().ok(),
        "{before} -> {after:?}"
    );
    assert!(after[2].contains("last-applied-configuration"), "{after:?}");
    let verbs = kubectl.ok(&[
        "get",
        "role",
        "job-reader",
        "-n",
        "default",
        "-o",
        "jsonpath={.rules[0].verbs}",
    ]);
    assert_eq!(verbs, r#"["get","list","watch"]"#);
    let all = kubectl.ok(&[
        "get",
        "cm,roles,rolebindings",
        "-n",
        "default",
        "-o",
        "name",
    ]);
    assert_eq!(
        all,
        "configmap/lit\nconfigmap/settings\nrole.rbac.authorization.k8s.io/job-reader\nrole.rbac.authorization.k8s.io/reader\nrolebinding.rbac.authorization.k8s.io/job-reader\nrolebinding.rbac.authorization.k8s.io/read\n"
    );

    // Deleted by name, and with their namespace.
    assert_eq!(
        kubectl.ok(&["delete", "-f", manifest]),
        "configmap \"settings\" deleted\nrole.rbac.authorization.k8s.io \"job-reader\" deleted\nrolebinding.rbac.authorization.k8s.io \"job-reader\" deleted\n"
    );
    let (code, _, err) = kubectl.run(&["get", "cm", "settings", "-n", "default"]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"configmaps "settings" not found"#), "{err}");
    kubectl.ok(&["create", "namespace", "what-if"]);
    kubectl.ok(&[
        "create",
        "cm",
        "doomed",
        "-n",
        "what-if",
        "--from-literal=a=1",
    ]);
    kubectl.ok(&["delete", "namespace", "what-if"]);
    let (code, out, err) = kubectl.run(&["get", "cm", "-n", "what-if"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("No resources found in what-if namespace."),
        "{err}"
    );

    served.signal(Signal::SIGINT);
    assert_eq!(served.wait().code, Some(0));
}

/// A named world keeps what `register-vc` granted: `sim serve --world` shows it.
#[test]
fn a_stored_world_keeps_its_config_maps_and_rbac() {
    let t = Test::new();
    let served = serve_world(&t, "platform-setup.yaml", "platform");
    let kubectl = Kubectl::of(&t, &served);
    assert_eq!(kubectl.aws_auth_roles(), EMR_MAPPING);
    let bindings = kubectl.ok(&["get", "rolebindings", "-A", "-o", "name"]);
    assert_eq!(
        bindings.lines().collect::<Vec<_>>(),
        ["rolebinding.rbac.authorization.k8s.io/emr-containers"; 5],
        "{bindings}"
    );
    served.signal(Signal::SIGTERM);
    assert_eq!(served.wait().code, Some(0));
}

/// The role mappings `register-vc` leaves in aws-auth: EMR's service-linked role as
/// the user its RoleBindings name.
const EMR_MAPPING: &str = "- rolearn: arn:aws:iam::123456789012:role/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n";

/// `runbook sim serve --world NAME` of the world a run of the canned runbook
/// `runbook` left in `world`, once it is served.
fn serve_world(t: &Test, runbook: &str, world: &str) -> Background {
    t.args([
        "--output",
        "plain",
        "run",
        &canned(runbook),
        "--world",
        world,
    ])
    .run()
    .success();
    let mut served = t
        .args(["sim", "serve", "--world", world, "--addr", "127.0.0.1:0"])
        .spawn();
    served.wait_until("the world is served", || {
        served_stderr(t).contains("still serving")
    });
    served
}

/// A table row's columns.
fn columns(row: &str) -> Vec<&str> {
    row.split_whitespace().collect()
}

/// A ConfigMap, a Role and a RoleBinding, to apply.
fn rbac_manifest(mode: &str, verbs: &str) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  mode: {mode}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: job-reader
  namespace: default
rules:
- apiGroups: [batch]
  resources: [jobs]
  verbs: {verbs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: job-reader
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: job-reader
subjects:
- kind: ServiceAccount
  name: spark
  namespace: default
"
    )
}
