//! `AwsKube` and `AwsObserver` against a mock API server: kube-rs clients over
//! `tower_test::mock::pair()`, answered the way a real API server answers (Status
//! objects with reasons for errors, lists with a resourceVersion, watches as
//! newline-delimited events).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::kube::Client;
use ::kube::client::Body;
use http::{Method, Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{AwsKube, AwsObserver};
use runbook_backend::ActionError;
use runbook_backend::events::{CapacityType, EventKind, TerminationReason};
use runbook_backend::{AccessVerdict, AutoscalingRequest, KubeAccess, PriorityClassRequest};
use runbook_backend::{Clock, Kube, Observer, WaitOutcome};

/// A request the API server received (other than the observer's list and watch).
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    /// Path and query, percent-decoded.
    uri: String,
    body: Value,
}

impl Call {
    fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

/// The answer to a request: HTTP status and JSON body.
type Reply = (u16, Value);

/// The mock API server: records calls, answers them with a test's handler, and feeds
/// the observer's watches from channels.
struct FakeApi {
    calls: Arc<Mutex<Vec<Call>>>,
    /// How many of the observer's lists and watches reached the server.
    observed: Arc<std::sync::atomic::AtomicUsize>,
    pod_watch: mpsc::UnboundedSender<String>,
    event_watch: mpsc::UnboundedSender<String>,
    node_watch: mpsc::UnboundedSender<String>,
}

impl FakeApi {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    /// The body of the one call with `method` on `path`.
    fn body_of(&self, method: &Method, path: &str) -> Value {
        let calls = self.calls();
        let matching: Vec<&Call> = calls
            .iter()
            .filter(|c| c.method == method && c.path() == path)
            .collect();
        assert_eq!(matching.len(), 1, "{method} {path} in {calls:#?}");
        matching[0].body.clone()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// A client over a mock API server: `handler` answers every call but the lists the
/// observer makes (answered with `initial_pods`, `initial_nodes` and no events; a
/// `nodes()` call gets the same node list) and its watches (fed from
/// [`FakeApi::pod_watch`], [`FakeApi::event_watch`] and [`FakeApi::node_watch`], one
/// body per watch request, held open until a body is sent).
fn fake_api(
    initial_pods: Vec<Value>,
    initial_nodes: Vec<Value>,
    mut handler: impl FnMut(&Call) -> Reply + Send + 'static,
) -> (Client, FakeApi) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (pod_tx, pod_rx) = mpsc::unbounded_channel::<String>();
    let (event_tx, event_rx) = mpsc::unbounded_channel::<String>();
    let (node_tx, node_rx) = mpsc::unbounded_channel::<String>();
    let pod_rx = Arc::new(tokio::sync::Mutex::new(pod_rx));
    let event_rx = Arc::new(tokio::sync::Mutex::new(event_rx));
    let node_rx = Arc::new(tokio::sync::Mutex::new(node_rx));
    let recorded = Arc::clone(&calls);
    let observed_count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&observed_count);
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.expect("request body");
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let uri = percent_decode(&parts.uri.to_string());
            let call = Call {
                method: parts.method,
                uri,
                body,
            };
            let query = call.uri.split_once('?').map_or("", |(_, q)| q).to_string();
            let path = call.path().to_string();
            let observed = (path == "/api/v1/pods" && !query.contains("labelSelector"))
                || path == "/api/v1/events"
                || path == "/api/v1/nodes";
            if observed {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if query.contains("watch=true") || query.contains("watch=1") {
                    let rx = match path.as_str() {
                        "/api/v1/pods" => Arc::clone(&pod_rx),
                        "/api/v1/nodes" => Arc::clone(&node_rx),
                        _ => Arc::clone(&event_rx),
                    };
                    tokio::spawn(async move {
                        let next = rx.lock().await.recv().await;
                        match next {
                            Some(lines) => send.send_response(
                                Response::builder()
                                    .body(Body::from(lines.into_bytes()))
                                    .expect("response"),
                            ),
                            // Nothing more to watch: keep the request open, as a
                            // quiet API server does.
                            None => std::future::pending::<()>().await,
                        }
                    });
                } else {
                    let (kind, items) = match path.as_str() {
                        "/api/v1/pods" => ("PodList", initial_pods.clone()),
                        "/api/v1/nodes" => ("NodeList", initial_nodes.clone()),
                        _ => ("EventList", Vec::new()),
                    };
                    let list = json!({
                        "apiVersion": "v1",
                        "kind": kind,
                        "metadata": {"resourceVersion": "10"},
                        "items": items,
                    });
                    send.send_response(
                        Response::builder()
                            .body(Body::from(serde_json::to_vec(&list).expect("json")))
                            .expect("response"),
                    );
                }
                continue;
            }
            recorded.lock().expect("calls").push(call.clone());
            let (status, reply) = handler(&call);
            send.send_response(
                Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&reply).expect("json")))
                    .expect("response"),
            );
        }
    });
    (
        client,
        FakeApi {
            calls,
            observed: observed_count,
            pod_watch: pod_tx,
            event_watch: event_tx,
            node_watch: node_tx,
        },
    )
}

/// A failure as the API server reports it.
fn status(code: u16, reason: &str, message: &str) -> Reply {
    (
        code,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }),
    )
}

/// The request body echoed back as the stored object.
fn echo(call: &Call) -> Reply {
    let mut object = call.body.clone();
    object["metadata"]["resourceVersion"] = json!("11");
    object["metadata"]["uid"] = json!("0000-1111");
    (
        if call.method == Method::POST {
            201
        } else {
            200
        },
        object,
    )
}

fn kube_with(handler: impl FnMut(&Call) -> Reply + Send + 'static) -> (AwsKube, FakeApi) {
    kube_with_nodes(Vec::new(), handler)
}

fn kube_with_nodes(
    nodes: Vec<Value>,
    handler: impl FnMut(&Call) -> Reply + Send + 'static,
) -> (AwsKube, FakeApi) {
    let (client, api) = fake_api(Vec::new(), nodes, handler);
    let observer = Arc::new(AwsObserver::with_poll_interval(Duration::from_secs(30)));
    (AwsKube::with_client("demo", client, observer), api)
}

fn code_of(error: &ActionError) -> &str {
    match error {
        ActionError::Service { code, .. } => code,
        other => panic!("not a service error: {other:?}"),
    }
}

#[tokio::test]
async fn namespace_is_created_then_adopted_and_other_failures_are_reported() {
    let mut posts = 0;
    let (kube, api) = kube_with(move |call| {
        if call.method == Method::GET {
            assert_eq!(call.path(), "/api/v1/namespaces/spark");
            return (
                200,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spark"}, "status": {"phase": "Active"}}),
            );
        }
        assert_eq!(
            (call.method.clone(), call.path()),
            (Method::POST, "/api/v1/namespaces")
        );
        posts += 1;
        match posts {
            1 => echo(call),
            2 => status(409, "AlreadyExists", "namespaces \"spark\" already exists"),
            _ => status(
                403,
                "Forbidden",
                "namespaces is forbidden: User \"x\" cannot create",
            ),
        }
    });
    assert!(
        kube.create_namespace("demo", "spark")
            .await
            .expect("created")
    );
    assert!(
        !kube
            .create_namespace("demo", "spark")
            .await
            .expect("adopted")
    );
    let error = kube
        .create_namespace("demo", "spark")
        .await
        .expect_err("forbidden");
    assert_eq!(code_of(&error), "Forbidden");
    assert_eq!(
        error.to_string(),
        "Kubernetes create namespace of `spark` failed: Forbidden: namespaces is forbidden: User \"x\" cannot create"
    );
    assert_eq!(api.calls()[0].body["metadata"]["name"], "spark");
}

/// A namespace still being deleted answers AlreadyExists too: it is waited for
/// until it is gone and then created anew, not adopted (the Role created in it next
/// would be Forbidden).
#[tokio::test]
async fn a_terminating_namespace_is_waited_for_and_made_anew() {
    let mut gets = 0;
    let (kube, api) = kube_with(move |call| match call.method {
        Method::GET => {
            gets += 1;
            if gets < 3 {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spark", "deletionTimestamp": "2026-12-04T20:00:00Z"}, "status": {"phase": "Terminating"}}),
                )
            } else {
                status(404, "NotFound", "namespaces \"spark\" not found")
            }
        }
        _ if gets < 3 => status(
            409,
            "AlreadyExists",
            "object is being deleted: namespaces \"spark\" already exists",
        ),
        _ => echo(call),
    });
    assert!(
        kube.create_namespace("demo", "spark")
            .await
            .expect("created once the old one was gone")
    );
    let methods: Vec<String> = api.calls().iter().map(|c| c.method.to_string()).collect();
    assert_eq!(
        methods,
        ["POST", "GET", "POST", "GET", "POST", "GET", "POST"],
        "create, see it Terminating, wait, ... until it is gone, then create"
    );
}

#[tokio::test]
async fn deleting_a_missing_namespace_is_false() {
    let (kube, api) = kube_with(|call| match call.path() {
        "/api/v1/namespaces/gone" => status(404, "NotFound", "namespaces \"gone\" not found"),
        "/api/v1/namespaces/spark" => (
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spark"}, "status": {"phase": "Terminating"}}),
        ),
        other => panic!("unexpected {other}"),
    });
    assert!(
        !kube
            .delete_namespace("demo", "gone")
            .await
            .expect("missing")
    );
    assert!(
        kube.delete_namespace("demo", "spark")
            .await
            .expect("deleted")
    );
    assert!(api.calls().iter().all(|c| c.method == Method::DELETE));
}

/// eksctl's rules (facts sheet section 3), verbatim.
fn eksctl_rules() -> Value {
    let full = json!([
        "get",
        "list",
        "watch",
        "describe",
        "create",
        "edit",
        "delete",
        "deletecollection",
        "annotate",
        "patch",
        "label"
    ]);
    let workload = json!([
        "get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch",
        "label"
    ]);
    json!([
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["serviceaccounts", "services", "configmaps", "events", "pods", "pods/log"], "verbs": full},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch", "delete", "watch"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets", "deployments"], "verbs": workload},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": workload},
        {"apiGroups": ["extensions", "networking.k8s.io"], "resources": ["ingresses"], "verbs": workload},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": full},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["create", "list", "delete", "deletecollection"]},
        {"apiGroups": ["scheduling.volcano.sh"], "resources": ["podgroups"], "verbs": ["get", "list", "watch", "create", "delete", "update"]},
    ])
}

const NODE_MAPPING: &str = "- rolearn: arn:aws:iam::111122223333:role/eks-nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n";

#[tokio::test]
async fn grant_emr_access_replaces_the_role_binds_it_and_maps_the_emr_role() {
    const ROLES: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/spark/roles";
    const BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/spark/rolebindings";
    const AWS_AUTH: &str = "/api/v1/namespaces/kube-system/configmaps/aws-auth";
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        // An older Role exists: it is replaced with the current rules.
        ("POST", ROLES) => status(
            409,
            "AlreadyExists",
            "roles.rbac.authorization.k8s.io \"emr-containers\" already exists",
        ),
        ("PUT", path) if path == format!("{ROLES}/emr-containers") => echo(call),
        ("POST", BINDINGS) => echo(call),
        ("GET", AWS_AUTH) => (
            200,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": "7"},
                "data": {"mapRoles": NODE_MAPPING, "mapUsers": "- userarn: arn:aws:iam::111122223333:user/admin\n  username: admin\n"},
            }),
        ),
        ("PUT", AWS_AUTH) => echo(call),
        (method, path) => panic!("unexpected {method} {path}"),
    });
    kube.grant_emr_access("demo", "spark", "111122223333")
        .await
        .expect("granted");

    let role = api.body_of(&Method::PUT, &format!("{ROLES}/emr-containers"));
    assert_eq!(role["metadata"]["name"], "emr-containers");
    assert_eq!(role["metadata"]["namespace"], "spark");
    assert_eq!(role["rules"], eksctl_rules());
    let binding = api.body_of(&Method::POST, BINDINGS);
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "emr-containers"})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}])
    );
    let config_map = api.body_of(&Method::PUT, AWS_AUTH);
    // The update is conditional on what was read, so a concurrent change is not lost.
    assert_eq!(config_map["metadata"]["resourceVersion"], "7");
    assert!(
        config_map["data"]["mapUsers"]
            .as_str()
            .is_some_and(|u| u.contains("user/admin"))
    );
    let map_roles: Vec<serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(config_map["data"]["mapRoles"].as_str().expect("mapRoles"))
            .expect("yaml");
    assert_eq!(map_roles.len(), 2);
    assert_eq!(
        map_roles[0]["rolearn"].as_str(),
        Some("arn:aws:iam::111122223333:role/eks-nodes")
    );
    assert_eq!(
        map_roles[0]["groups"][0].as_str(),
        Some("system:bootstrappers")
    );
    assert_eq!(
        map_roles[1]["rolearn"].as_str(),
        Some("arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers")
    );
    assert_eq!(map_roles[1]["username"].as_str(), Some("emr-containers"));
}

#[tokio::test]
async fn grant_emr_access_creates_aws_auth_and_leaves_a_present_mapping_alone() {
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        ("POST", "/api/v1/namespaces/kube-system/configmaps") => echo(call),
        ("GET", _) => status(404, "NotFound", "configmaps \"aws-auth\" not found"),
        ("POST", _) => echo(call),
        (method, path) => panic!("unexpected {method} {path}"),
    });
    kube.grant_emr_access("demo", "spark", "111122223333")
        .await
        .expect("granted");
    let created = api.body_of(&Method::POST, "/api/v1/namespaces/kube-system/configmaps");
    assert_eq!(created["metadata"]["name"], "aws-auth");
    assert_eq!(
        created["data"]["mapRoles"],
        "- rolearn: arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n"
    );

    // Already mapped: aws-auth is read and not written.
    let mapped = created["data"]["mapRoles"]
        .as_str()
        .expect("str")
        .to_string();
    let (kube, api) = kube_with(move |call| match (call.method.as_str(), call.path()) {
        ("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth") => (
            200,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": "3"}, "data": {"mapRoles": mapped}}),
        ),
        ("POST", _) => echo(call),
        (method, path) => panic!("unexpected {method} {path}"),
    });
    kube.grant_emr_access("demo", "spark", "111122223333")
        .await
        .expect("granted");
    assert!(
        api.calls()
            .iter()
            .all(|c| !c.path().contains("aws-auth") || c.method == Method::GET)
    );
}

#[tokio::test]
async fn grant_emr_access_in_a_missing_namespace_fails_like_the_simulator() {
    let (kube, _api) = kube_with(|_| status(404, "NotFound", "namespaces \"nope\" not found"));
    let error = kube
        .grant_emr_access("demo", "nope", "111122223333")
        .await
        .expect_err("no namespace");
    match error {
        ActionError::Service {
            operation,
            resource,
            code,
            ..
        } => assert_eq!(
            (operation, resource.as_str(), code.as_str()),
            ("create role", "nope/emr-containers", "NotFound")
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn priority_class_with_the_same_value_is_adopted_and_a_different_one_refused() {
    const CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        ("POST", CLASSES) => status(
            409,
            "AlreadyExists",
            "priorityclasses.scheduling.k8s.io \"high\" already exists",
        ),
        ("GET", path) if path == format!("{CLASSES}/high") => (
            200,
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000, "globalDefault": false}),
        ),
        (method, path) => panic!("unexpected {method} {path}"),
    });
    let mut request = PriorityClassRequest {
        name: "high".into(),
        value: 1000,
        global_default: false,
        description: Some("EMR jobs that preempt".into()),
        preemption_policy: "PreemptLowerPriority".into(),
    };
    assert!(
        !kube
            .create_priority_class("demo", &request)
            .await
            .expect("adopted")
    );
    let sent = &api.calls()[0].body;
    assert_eq!(sent["value"], 1000);
    assert_eq!(sent["description"], "EMR jobs that preempt");

    request.value = 2000;
    let error = kube
        .create_priority_class("demo", &request)
        .await
        .expect_err("different value");
    assert_eq!(code_of(&error), "AlreadyExists");
    assert!(
        error
            .to_string()
            .contains("already exists with value 1000 and globalDefault false; the value of a PriorityClass cannot be changed"),
        "{error}"
    );
}

#[tokio::test]
async fn pods_and_nodes_are_read_as_the_actions_see_them() {
    let nodes = json!([
        {"metadata": {"name": "n1", "labels": {"node.kubernetes.io/instance-type": "c5.2xlarge", "eks.amazonaws.com/capacityType": "ON_DEMAND"}},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {"metadata": {"name": "n2", "labels": {"node.kubernetes.io/instance-type": "m5.large", "karpenter.sh/capacity-type": "spot"}},
         "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    ]);
    let nodes = nodes.as_array().cloned().unwrap_or_default();
    let (kube, api) = kube_with_nodes(nodes, |call| match call.path() {
        "/api/v1/namespaces/spark/pods" => (
            200,
            json!({
                "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5"},
                "items": [{
                    "metadata": {
                        "name": "job-a-exec-1", "namespace": "spark", "uid": "u1",
                        "labels": {"emr-containers.amazonaws.com/job.id": "job-a", "spark-role": "executor"},
                        "deletionTimestamp": "2026-01-01T00:00:10Z",
                    },
                    "spec": {"nodeName": "n1", "containers": [{"name": "spark-kubernetes-executor"}]},
                    "status": {"phase": "Running", "conditions": [
                        {"type": "PodScheduled", "status": "True"},
                        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
                        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": "default-scheduler: preempting to accommodate a higher priority pod"},
                    ]},
                }],
            }),
        ),
        other => panic!("unexpected {other}"),
    });
    let selector = BTreeMap::from([
        (
            "emr-containers.amazonaws.com/job.id".to_string(),
            "job-a".to_string(),
        ),
        ("spark-role".to_string(), "executor".to_string()),
    ]);
    let pods = kube
        .pods("demo", Some("spark"), &selector)
        .await
        .expect("pods");
    assert!(
        api.calls()[0].uri.contains(
            "labelSelector=emr-containers.amazonaws.com/job.id=job-a,spark-role=executor"
        ),
        "{}",
        api.calls()[0].uri
    );
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        (pod.phase.as_str(), pod.node.as_deref()),
        ("Running", Some("n1"))
    );
    assert!(pod.terminating);
    assert_eq!(
        pod.conditions,
        BTreeMap::from([
            (
                "DisruptionTarget".to_string(),
                "PreemptionByScheduler".to_string()
            ),
            ("PodScheduled".to_string(), String::new()),
        ])
    );

    let nodes = kube.nodes("demo").await.expect("nodes");
    let summary: Vec<(&str, &str, &str, bool)> = nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.instance_type.as_str(),
                n.capacity_type.as_str(),
                n.ready,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("n1", "c5.2xlarge", "ON_DEMAND", true),
            ("n2", "m5.large", "SPOT", false)
        ]
    );
}

#[tokio::test]
async fn autoscaling_applies_the_node_class_then_the_node_pool_and_says_when_karpenter_is_missing()
{
    let mut answered = 0;
    let (kube, api) = kube_with(move |call| {
        assert_eq!(call.method, Method::PATCH);
        answered += 1;
        match (answered, call.path()) {
            (1, "/apis/karpenter.k8s.aws/v1/ec2nodeclasses/spark")
            | (2, "/apis/karpenter.sh/v1/nodepools/spark") => echo(call),
            (3, "/apis/karpenter.k8s.aws/v1/ec2nodeclasses/spark") => status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
            (n, path) => panic!("unexpected call {n}: PATCH {path}"),
        }
    });
    let mut request = AutoscalingRequest {
        name: "spark".into(),
        capacity_types: vec!["spot".into()],
        instance_types: Vec::new(),
        labels: BTreeMap::new(),
        ttl_seconds_after_empty: Some(30),
        cpu_limit: Some(100),
        node_role: Some("arn:aws:iam::123456789012:role/demo-nodes".into()),
    };
    kube.enable_autoscaling("demo", &request)
        .await
        .expect("applied");
    let calls = api.calls();
    for call in &calls {
        assert!(call.uri.contains("fieldManager=runbook"), "{}", call.uri);
        assert!(call.uri.contains("force=true"), "{}", call.uri);
    }
    assert_eq!(calls[0].body["kind"], "EC2NodeClass");
    assert_eq!(calls[0].body["spec"]["role"], "demo-nodes");
    assert_eq!(
        calls[0].body["spec"]["subnetSelectorTerms"],
        json!([{"tags": {"karpenter.sh/discovery": "demo"}}])
    );
    assert_eq!(calls[1].body["kind"], "NodePool");
    assert_eq!(
        calls[1].body["spec"]["template"]["spec"]["nodeClassRef"]["name"],
        "spark"
    );
    assert_eq!(
        calls[1].body["spec"]["disruption"]["consolidateAfter"],
        "30s"
    );
    let error = kube
        .enable_autoscaling("demo", &request)
        .await
        .expect_err("no CRD");
    assert!(
        error.to_string().contains("install Karpenter v1"),
        "{error}"
    );
    request.node_role = None;
    let error = kube
        .enable_autoscaling("demo", &request)
        .await
        .expect_err("no role");
    assert!(
        error
            .to_string()
            .contains("give enable-autoscaling's `node_role`"),
        "{error}"
    );
    assert_eq!(api.calls().len(), 3, "nothing applied without a role");
}

#[tokio::test]
async fn manifests_are_applied_server_side_where_discovery_says() {
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        ("GET", "/api/v1") => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
                {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": ["create", "get", "patch"]},
            ]}),
        ),
        ("GET", "/apis/scheduling.k8s.io/v1") => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "scheduling.k8s.io/v1", "resources": [
                {"name": "priorityclasses", "singularName": "priorityclass", "namespaced": false, "kind": "PriorityClass", "verbs": ["create", "get", "patch"]},
            ]}),
        ),
        ("PATCH", _) => echo(call),
        (method, path) => panic!("unexpected {method} {path}"),
    });
    let documents = vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}),
    ];
    let applied = kube
        .apply_manifest("demo", &documents)
        .await
        .expect("applied");
    let where_: Vec<(&str, Option<&str>)> = applied
        .iter()
        .map(|a| (a.kind.as_str(), a.namespace.as_deref()))
        .collect();
    assert_eq!(
        where_,
        vec![("ConfigMap", Some("default")), ("PriorityClass", None)]
    );
    assert_eq!(
        api.body_of(
            &Method::PATCH,
            "/api/v1/namespaces/default/configmaps/settings"
        ),
        documents[0]
    );
    assert_eq!(
        api.body_of(
            &Method::PATCH,
            "/apis/scheduling.k8s.io/v1/priorityclasses/high"
        ),
        documents[1]
    );
}

/// The APIResourceList of `karpenter.sh/v1` with `kinds` (NodePool, NodeClaim).
fn karpenter_v1(kinds: &[(&str, &str)]) -> Reply {
    let resources: Vec<Value> = kinds
        .iter()
        .map(|(plural, kind)| {
            json!({"name": plural, "singularName": "", "namespaced": false, "kind": kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "watch"]})
        })
        .collect();
    (
        200,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "karpenter.sh/v1",
               "resources": resources}),
    )
}

/// Karpenter's controller pods, as its Helm chart labels them.
fn karpenter_pods(pods: &[(&str, &str, &str)]) -> Reply {
    let items: Vec<Value> = pods
        .iter()
        .map(|(namespace, name, phase)| {
            json!({"metadata": {"name": name, "namespace": namespace, "uid": name,
                                "labels": {"app.kubernetes.io/name": "karpenter"}},
                   "spec": {"containers": [{"name": "controller"}]},
                   "status": {"phase": phase}})
        })
        .collect();
    (
        200,
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5"},
               "items": items}),
    )
}

/// Where pods of all namespaces are listed (by label: the observer's unlabelled lists
/// never reach a test's handler).
const CONTROLLER_PODS: &str = "/api/v1/pods";

/// One SelfSubjectAccessReview per permission, for the resource discovery names (the
/// namespace only for a namespaced one), answered as the authorizer says; a kind the
/// cluster does not serve cannot be asked about. Preflight's questions start no
/// watches: they need no record of the cluster's pods.
#[tokio::test]
async fn access_is_asked_per_permission_of_the_resource_discovery_names() {
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        ("GET", "/apis/scheduling.k8s.io/v1") => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "scheduling.k8s.io/v1",
                   "resources": [{"name": "priorityclasses", "singularName": "", "namespaced": false,
                                  "kind": "PriorityClass", "verbs": ["create", "get", "list"]}]}),
        ),
        ("GET", "/apis/rbac.authorization.k8s.io/v1") => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "rbac.authorization.k8s.io/v1",
                   "resources": [{"name": "roles", "singularName": "", "namespaced": true,
                                  "kind": "Role", "verbs": ["create", "update"]}]}),
        ),
        ("GET", "/apis/karpenter.sh/v1") => (404, json!("404 page not found")),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
            let mut review = call.body.clone();
            let allowed = review["spec"]["resourceAttributes"]["resource"] != "priorityclasses";
            review["status"] = if allowed {
                json!({"allowed": true})
            } else {
                json!({"allowed": false, "reason": "no RBAC policy matched"})
            };
            (201, review)
        }
        (method, uri) => panic!("unexpected {method} {uri}"),
    });
    let ask = |verb: &str, api_version: &str, kind: &str, namespace: Option<&str>| KubeAccess {
        verb: verb.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
    };
    let verdicts = kube
        .access(
            "demo",
            &[
                ask(
                    "update",
                    "rbac.authorization.k8s.io/v1",
                    "Role",
                    Some("batch"),
                ),
                ask(
                    "create",
                    "scheduling.k8s.io/v1",
                    "PriorityClass",
                    Some("ignored"),
                ),
                ask("patch", "karpenter.sh/v1", "NodePool", None),
            ],
        )
        .await
        .expect("asked");
    assert_eq!(
        verdicts,
        [
            AccessVerdict::Allowed,
            AccessVerdict::Denied("no RBAC policy matched".into()),
            AccessVerdict::Unknown(
                "the cluster does not serve NodePool (karpenter.sh/v1) yet".into()
            ),
        ]
    );
    let reviews: Vec<Value> = api
        .calls()
        .iter()
        .filter(|c| c.method == "POST")
        .map(|c| c.body["spec"]["resourceAttributes"].clone())
        .collect();
    assert_eq!(
        reviews,
        [
            json!({"verb": "update", "group": "rbac.authorization.k8s.io", "version": "v1",
                   "resource": "roles", "namespace": "batch"}),
            json!({"verb": "create", "group": "scheduling.k8s.io", "version": "v1",
                   "resource": "priorityclasses"}),
        ],
        "a cluster-scoped kind is asked about at the cluster scope"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        api.observed.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "asking started the observer's watches"
    );
}

#[tokio::test]
async fn autoscaler_is_the_node_pool_api_and_the_running_controller_pods() {
    let (kube, api) = kube_with(|call| match (call.method.as_str(), call.path()) {
        ("GET", "/apis/karpenter.sh/v1") => {
            karpenter_v1(&[("nodeclaims", "NodeClaim"), ("nodepools", "NodePool")])
        }
        ("GET", CONTROLLER_PODS) => karpenter_pods(&[
            ("kube-system", "karpenter-7d9f-abcde", "Running"),
            ("kube-system", "karpenter-7d9f-fghij", "Pending"),
            ("karpenter", "karpenter-5c4b-klmno", "Running"),
        ]),
        (method, uri) => panic!("unexpected {method} {uri}"),
    });
    let status = kube.autoscaler("demo").await.expect("autoscaler");
    assert!(status.node_pool_api);
    assert_eq!(
        status.controller_pods,
        vec![
            "karpenter-7d9f-abcde".to_string(),
            "karpenter-5c4b-klmno".to_string()
        ],
        "the pending pod runs nothing"
    );
    let calls = api.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(
        calls[1]
            .uri
            .contains("labelSelector=app.kubernetes.io/name=karpenter"),
        "{}",
        calls[1].uri
    );
}

#[tokio::test]
async fn autoscaler_without_karpenter_v1_has_no_node_pool_api() {
    // A cluster without the group: the API server's plain-text 404.
    let (kube, _api) = kube_with(|call| match call.path() {
        "/apis/karpenter.sh/v1" => (404, json!("404 page not found")),
        CONTROLLER_PODS => karpenter_pods(&[]),
        other => panic!("unexpected {other}"),
    });
    let status = kube.autoscaler("demo").await.expect("autoscaler");
    assert!(!status.node_pool_api);
    assert!(status.controller_pods.is_empty());

    // The group is served but without NodePool (a partly removed install).
    let (kube, _api) = kube_with(|call| match call.path() {
        "/apis/karpenter.sh/v1" => karpenter_v1(&[("nodeclaims", "NodeClaim")]),
        CONTROLLER_PODS => karpenter_pods(&[("karpenter", "karpenter-5c4b-klmno", "Running")]),
        other => panic!("unexpected {other}"),
    });
    let status = kube.autoscaler("demo").await.expect("autoscaler");
    assert!(!status.node_pool_api);
    assert_eq!(
        status.controller_pods,
        vec!["karpenter-5c4b-klmno".to_string()]
    );
}

#[tokio::test]
async fn autoscaler_reports_a_refused_discovery() {
    let (kube, api) = kube_with(|call| match call.path() {
        "/apis/karpenter.sh/v1" => status(
            403,
            "Forbidden",
            "forbidden: User \"demo\" cannot get path \"/apis/karpenter.sh/v1\"",
        ),
        other => panic!("unexpected {other}"),
    });
    let error = kube.autoscaler("demo").await.expect_err("forbidden");
    assert_eq!(code_of(&error), "Forbidden");
    assert!(
        error
            .to_string()
            .starts_with("Kubernetes discover of `karpenter.sh/v1/NodePool` failed: Forbidden:"),
        "{error}"
    );
    assert_eq!(api.calls().len(), 1, "no pods are listed after a failure");
}

// ----- the observer ------------------------------------------------------------------

fn pod(uid: &str, name: &str, labels: Value, priority: i32, conditions: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "spark", "uid": uid, "labels": labels,
                     "resourceVersion": "10", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "n1", "priority": priority, "priorityClassName": "p",
                 "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "4505Mi"}}}]},
        "status": {"phase": "Running", "conditions": conditions,
                   "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                                          "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}}}]},
    })
}

fn preemptor() -> Value {
    pod(
        "uid-b",
        "job-b-driver",
        json!({"emr-containers.amazonaws.com/component": "driver", "emr-containers.amazonaws.com/job.id": "job-b"}),
        1000,
        json!([]),
    )
}

fn victim(conditions: Value) -> Value {
    pod(
        "uid-a",
        "job-a-exec-3",
        json!({"emr-containers.amazonaws.com/component": "executor", "emr-containers.amazonaws.com/job.id": "job-a", "spark-exec-id": "3"}),
        10,
        conditions,
    )
}

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "resourceVersion": "10", "creationTimestamp": "2026-01-01T00:01:00Z",
                     "labels": {"node.kubernetes.io/instance-type": "c5.2xlarge", "karpenter.sh/capacity-type": "on-demand", "karpenter.sh/nodepool": "spark"}},
        "status": {"allocatable": {"cpu": "7910m", "memory": "14162Mi"},
                   "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:01:30Z"}]},
    })
}

fn watch_line(kind: &str, object: &Value) -> String {
    format!("{}\n", json!({"type": kind, "object": object}))
}

/// Waits until `done` holds for the observer's events (or fails after 10 s).
async fn until(observer: &AwsObserver, done: impl Fn(&[runbook_backend::ObservedEvent]) -> bool) {
    let clock = Clock::Real;
    let participant = clock.enter();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&observer.events()) {
        assert!(
            Instant::now() < deadline,
            "gave up; events: {:#?}",
            observer.events()
        );
        observer
            .wait_for_change(&clock, &participant, Some(Duration::from_millis(200)))
            .await;
    }
}

#[tokio::test]
async fn watches_become_the_simulators_pod_events() {
    let (client, api) = fake_api(
        vec![preemptor(), victim(json!([]))],
        vec![node("n1")],
        |call| panic!("unexpected {} {}", call.method, call.uri),
    );
    let observer = AwsObserver::with_poll_interval(Duration::from_secs(30));
    observer.watch("demo", &client);
    until(&observer, |e| e.len() >= 4).await;
    let kinds: Vec<(String, String)> = observer
        .events()
        .iter()
        .map(|e| (e.type_name().to_string(), e.subject().unwrap_or_default()))
        .collect();
    let expected = [
        ("PodCreated", "spark/job-b-driver"),
        ("PodStarted", "spark/job-b-driver"),
        ("PodCreated", "spark/job-a-exec-3"),
        ("PodStarted", "spark/job-a-exec-3"),
    ];
    assert_eq!(
        kinds,
        expected
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .to_vec()
    );
    let created = &observer.events()[2];
    assert_eq!(
        created.to_json(),
        json!({
            "type": "PodCreated",
            "pod": {"cluster": "demo", "namespace": "spark", "name": "job-a-exec-3", "role": "executor", "job_id": "job-a", "executor_id": 3},
            "priority": 10,
            "priority_class": "p",
            "requests": {"cpu_millis": 500, "memory_mib": 4505},
        })
    );
    // 2026-01-01T00:00:02Z, when the container started.
    assert_eq!(observer.events()[3].at_ms, 1_767_225_602_000);

    // Quiet until a watch delivers: a wait with a 30 s poll interval returns as soon
    // as the scheduler's DisruptionTarget condition arrives.
    let clock = Clock::Real;
    let participant = clock.enter();
    while observer
        .wait_for_change(&clock, &participant, Some(Duration::from_millis(300)))
        .await
        == WaitOutcome::Changed
    {}
    let disrupted = victim(json!([{
        "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
        "message": "default-scheduler: preempting to accommodate a higher priority pod",
        "lastTransitionTime": "2026-01-01T00:00:04Z",
    }]));
    let started = Instant::now();
    let (outcome, ()) = tokio::join!(
        observer.wait_for_change(&clock, &participant, Some(Duration::from_secs(60))),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            api.pod_watch
                .send(watch_line("MODIFIED", &disrupted))
                .expect("watch open");
        }
    );
    assert_eq!(outcome, WaitOutcome::Changed);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The scheduler's event names the preemptor by UID; its job comes from the cache.
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "job-a-exec-3.17", "namespace": "spark", "resourceVersion": "12"},
        "involvedObject": {"kind": "Pod", "namespace": "spark", "name": "job-a-exec-3", "uid": "uid-a"},
        "related": {"kind": "Pod", "namespace": "spark", "name": "job-b-driver", "uid": "uid-b"},
        "reason": "Preempted", "type": "Normal", "action": "Preempting",
        "message": "Preempted by pod uid-b on node n1",
        "eventTime": "2026-01-01T00:00:05.000000Z",
        "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-x",
    });
    api.event_watch
        .send(watch_line("ADDED", &event))
        .expect("watch open");
    until(&observer, |e| {
        e.iter().any(|e| e.type_name() == "PodPreempted")
    })
    .await;
    // A repeated event (the count goes up) is the same preemption.
    api.event_watch
        .send(watch_line("MODIFIED", &event))
        .expect("watch open");
    api.pod_watch
        .send(watch_line("DELETED", &disrupted))
        .expect("watch open");
    until(&observer, |e| {
        e.iter().any(|e| e.type_name() == "PodDeleted")
    })
    .await;

    let events = observer.events();
    let preempted: Vec<_> = events
        .iter()
        .filter(|e| e.type_name() == "PodPreempted")
        .collect();
    assert_eq!(preempted.len(), 1, "{events:#?}");
    assert_eq!(
        preempted[0].to_json(),
        json!({
            "type": "PodPreempted",
            "pod": {"cluster": "demo", "namespace": "spark", "name": "job-a-exec-3", "role": "executor", "job_id": "job-a", "executor_id": 3},
            "node": "n1",
            "priority": 10,
            "preemptor": {"cluster": "demo", "namespace": "spark", "name": "job-b-driver", "role": "driver", "job_id": "job-b"},
            "preemptor_uid": "uid-b",
            "preemptor_priority": 1000,
            "reason": "Preempted",
            "message": "Preempted by pod uid-b on node n1",
        })
    );
    // When the scheduler set the condition.
    assert_eq!(preempted[0].at_ms, 1_767_225_604_000);
    let deleted = events.last().expect("events");
    let EventKind::PodDeleted { pod, reason, .. } = &deleted.kind else {
        panic!("the last event is not a deletion: {deleted:?}");
    };
    assert_eq!(*reason, Some(TerminationReason::Preempted));
    assert_eq!(pod.executor_id, Some(3));

    // Karpenter adds a node and later removes it; the node there from the start is
    // not reported as added.
    api.node_watch
        .send(watch_line("ADDED", &node("n2")))
        .expect("watch open");
    until(&observer, |e| {
        e.iter().any(|e| e.type_name() == "NodeReady")
    })
    .await;
    api.node_watch
        .send(watch_line("DELETED", &node("n2")))
        .expect("watch open");
    until(&observer, |e| {
        e.iter().any(|e| e.type_name() == "NodeRemoved")
    })
    .await;
    let events = observer.events();
    let nodes: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| Some((e.type_name(), e.kind.node()?)))
        .collect();
    assert_eq!(
        nodes,
        [
            ("NodeLaunched", "n2"),
            ("NodeAdded", "n2"),
            ("NodeReady", "n2"),
            ("NodeRemoved", "n2")
        ]
    );
    let launched = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::NodeLaunched {
                provisioner,
                capacity_type,
                ..
            } => Some((provisioner.as_deref(), *capacity_type)),
            _ => None,
        })
        .expect("launched");
    assert_eq!(launched, (Some("spark"), CapacityType::OnDemand));

    // Drained once, in order.
    assert_eq!(observer.drain_events(), events);
    assert!(observer.drain_events().is_empty());
    assert!(observer.snapshot().is_none());
}
