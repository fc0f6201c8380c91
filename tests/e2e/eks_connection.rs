//! The aws target reaching a cluster as it does on EKS, without `--kube-context`:
//! DescribeCluster's endpoint and CA (moto hands out the fake API server's HTTPS
//! listener and its CA), TLS checked against that CA, and an EKS bearer token that
//! the listener checks as aws-iam-authenticator does (`tests/aws/eks_auth.py`).

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;
use crate::aws_target::NAMESPACES;
use crate::canned_runbooks::canned;
use crate::harness::Test;

/// Every request the HTTPS listener saw carried a token it accepted, and `method
/// path` was among them.
#[track_caller]
fn assert_authenticated(tokens: &[Value], method: &str, path: &str) {
    let refused: Vec<&Value> = tokens.iter().filter(|r| r["accepted"] != true).collect();
    assert!(refused.is_empty(), "refused tokens: {refused:?}");
    assert!(
        tokens
            .iter()
            .any(|r| r["method"] == method && r["path"] == path),
        "no {method} {path} reached the HTTPS listener: {tokens:?}"
    );
}

/// platform-setup from an empty account, then the priority demo up to its first wait
/// on the scheduler, both through the EKS connection path: every Kubernetes call goes
/// over TLS to the endpoint DescribeCluster gave, with an EKS token.
#[test]
fn platform_setup_and_the_priority_demo_connect_as_on_eks() {
    let world = AwsWorld::builder().eks_connection().start();
    let t = Test::new();
    let run = |runbook: &str| {
        let path = canned(runbook);
        let mut args = vec!["--output", "json", "run", "--target", "aws"];
        args.extend(world.kube_context_args());
        args.push(path.as_str());
        world.env_for(t.args(args))
    };
    run("platform-setup.yaml").run().success();
    let tokens = world.kube_tokens();
    assert_authenticated(&tokens, "POST", "/api/v1/namespaces");
    assert_authenticated(&tokens, "GET", "/api/v1/nodes");
    for ns in NAMESPACES {
        let namespace = world
            .kube_object("Namespace", None, ns)
            .unwrap_or_else(|| panic!("namespace {ns} was not created"));
        assert_eq!(namespace["status"]["phase"], "Active");
        assert!(
            world
                .kube_object("Role", Some(ns), "emr-containers")
                .is_some(),
            "no EMR role in {ns}"
        );
    }

    let mut demo = run("priority-demo.yaml").spawn();
    demo.wait_for_stdout(r#"{"step":"low_running","action""#);
    demo.signal(Signal::SIGTERM);
    demo.wait();
    let tokens = world.kube_tokens();
    assert_authenticated(
        &tokens,
        "POST",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
    );
    let critical = world
        .kube_object("PriorityClass", None, "critical-priority")
        .expect("the demo's default PriorityClass");
    assert_eq!(critical["globalDefault"], true);
    assert_eq!(critical["value"], 400);
    // The watches low_running reads followed the cluster's pods over the same path.
    assert_authenticated(&tokens, "GET", "/api/v1/pods");
}

/// A cluster created on moto (so DescribeCluster knows it), then two namespaces: the
/// first create is retried once after a second.
const AUTH_RUNBOOK: &str = r#"name: auth
steps:
  - id: cluster
    action: create-cluster
    with:
      name: demo
      role_arn: arn:aws:iam::123456789012:role/eks-cluster-role
      node_role_arn: arn:aws:iam::123456789012:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
      nodegroup: { name: demo-ng, instance_type: m5.2xlarge, desired_size: 1 }
  - id: first
    action: create-namespace
    with: { cluster: demo, name: first }
    retry: { attempts: 2, delay: 1500ms }
  - id: second
    action: create-namespace
    with: { cluster: demo, name: second }
"#;

/// The API server refuses a token with 401 (and keeps refusing that token, as it
/// would one signed by revoked credentials): the request that got the 401 fails, as
/// with client-go, and the next request carries a newly signed token, so the step's
/// retry and the rest of the run go through.
#[test]
fn a_refused_token_is_signed_anew_for_the_next_request() {
    let world = AwsWorld::builder().eks_connection().start();
    world.kube_fault(&json!({
        "status": 401, "method": "POST", "path": "^/api/v1/namespaces$", "times": 1,
    }));
    let t = Test::new().runbook("auth.yaml", AUTH_RUNBOOK);
    let out = world.run_plain(&t, "auth.yaml", &[]).run();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Unauthorized"),
        "the first attempt should fail with the 401: {}",
        out.stdout
    );
    assert!(world.kube_object("Namespace", None, "first").is_some());
    assert!(world.kube_object("Namespace", None, "second").is_some());

    let creates: Vec<Value> = world
        .kube_tokens()
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/api/v1/namespaces")
        .collect();
    assert_eq!(creates.len(), 3, "{creates:?}");
    assert_eq!(creates[0]["accepted"], false, "{creates:?}");
    assert_eq!(creates[0]["reason"], "a 401 fault", "{creates:?}");
    for retried in &creates[1..] {
        assert_eq!(retried["accepted"], true, "{creates:?}");
        assert_ne!(
            retried["signature"], creates[0]["signature"],
            "the refused token was sent again: {creates:?}"
        );
    }
}

/// Asks the HTTPS listener `GET /api/v1/namespaces` with tokens made the way the
/// authenticator must refuse them (and one it must take), trusting only the world's
/// CA; prints one JSON line per case: its name and the answer's status and reason.
const TOKEN_PROBE: &str = r#"
import base64, datetime, json, ssl, sys, urllib.request, urllib.error
endpoint, ca = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc)
def token(age=0, host="sts.us-east-2.amazonaws.com", signed="host;x-k8s-aws-id",
          action="GetCallerIdentity", prefix="k8s-aws-v1."):
    date = (now - datetime.timedelta(seconds=age)).strftime("%Y%m%dT%H%M%SZ")
    url = (f"https://{host}/?Action={action}&Version=2011-06-15"
           "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           f"&X-Amz-Credential=testing%2F{date[:8]}%2Fus-east-2%2Fsts%2Faws4_request"
           f"&X-Amz-Date={date}&X-Amz-Expires=60"
           f"&X-Amz-SignedHeaders={signed.replace(';', '%3B')}&X-Amz-Signature={'0' * 64}")
    encoded = base64.urlsafe_b64encode(url.encode()).decode()
    return "Bearer " + prefix + encoded.rstrip("=")
cases = {
    "valid": token(),
    "global endpoint": token(host="sts.amazonaws.com"),
    "none": None,
    "expired": token(age=16 * 60),
    "from the future": token(age=-16 * 60),
    "cluster not signed": token(signed="host"),
    "not STS": token(host="sts.example.com"),
    "another action": token(action="GetSessionToken"),
    "padded": token() + "==",
    "no prefix": token(prefix=""),
}
context = ssl.create_default_context(cafile=ca)
for name, auth in cases.items():
    request = urllib.request.Request(endpoint + "/api/v1/namespaces")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, context=context) as answer:
            print(json.dumps({"case": name, "code": answer.status, "kind": json.load(answer)["kind"]}))
    except urllib.error.HTTPError as e:
        print(json.dumps({"case": name, "code": e.code, "kind": json.load(e)["reason"]}))
try:
    urllib.request.urlopen(endpoint + "/version", context=ssl.create_default_context())
    print(json.dumps({"case": "untrusted CA", "code": 200}))
except urllib.error.URLError as e:
    print(json.dumps({"case": "untrusted CA", "kind": type(e.reason).__name__}))
"#;

/// The HTTPS listener is only reachable by trusting the cluster's CA, and takes only
/// the tokens aws-iam-authenticator takes: the refused ones get a 401 `Status`
/// (reason Unauthorized), and the listener says why in its token log.
#[test]
fn the_https_listener_takes_only_tokens_the_authenticator_takes() {
    let world = AwsWorld::builder().eks_connection().start();
    let (endpoint, ca) = world.kube_tls();
    let out = std::process::Command::new(crate::aws_harness::python())
        .args(["-c", TOKEN_PROBE, &endpoint])
        .arg(&ca)
        .output()
        .expect("failed to run the token probe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let answer = |case: &str| {
        answers
            .iter()
            .find(|a| a["case"] == case)
            .map(|a| (a["code"].clone(), a["kind"].clone()))
            .unwrap_or_else(|| panic!("no answer for {case}: {answers:?}"))
    };
    for case in ["valid", "global endpoint"] {
        assert_eq!(answer(case), (json!(200), json!("NamespaceList")), "{case}");
    }
    let refused = [
        ("none", "no bearer token"),
        (
            "expired",
            "X-Amz-Date parameter is expired (15 minute expiration)",
        ),
        ("from the future", "is in the future"),
        (
            "cluster not signed",
            "client did not sign the x-k8s-aws-id header in the pre-signed URL",
        ),
        ("not STS", "does not support hostname sts.example.com"),
        (
            "another action",
            "unexpected action parameter in pre-signed URL",
        ),
        ("padded", "illegal base64 data"),
        (
            "no prefix",
            "token is missing expected \"k8s-aws-v1.\" prefix",
        ),
    ];
    let reasons: Vec<String> = world
        .kube_tokens()
        .iter()
        .filter(|r| r["accepted"] == false)
        .map(|r| r["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), refused.len(), "{reasons:?}");
    for ((case, why), reason) in refused.iter().zip(&reasons) {
        assert_eq!(answer(case), (json!(401), json!("Unauthorized")), "{case}");
        assert!(reason.contains(why), "{case}: {reason}");
    }
    assert_eq!(
        answers.last().map(|a| a["kind"].clone()),
        Some(json!("SSLCertVerificationError")),
        "{answers:?}"
    );
}
