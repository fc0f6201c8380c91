//! Namespaces and PriorityClasses as `eks:call` Tasks against the cluster's API server
//! (its endpoint and certificate authority from `eks:describeCluster`), sending the
//! objects the run sends and treating the API server's answers as the run does: 409
//! (AlreadyExists) adopts what is there, after the look the run takes at it, and 404
//! (NotFound) on a delete is success. Kubernetes calls are authorized by the cluster's
//! RBAC, so they add nothing to the role's policy.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;
use super::runtime_value::marker;
use super::states::{NEXT_STATE, State};
use super::status_polling::fail;

/// How long create-namespace waits for a namespace being deleted to be gone, as the
/// run waits (the AWS backend's `NAMESPACE_TERMINATION_WAIT`): its pods get their grace
/// period and its finalizers run first.
const NAMESPACE_TERMINATION_WAIT: Duration = Duration::from_secs(5 * 60);

const PRIORITY_CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

/// The parameters of an `eks:call` to `cluster` (described first by
/// [`Builder::describe_cluster`], whose endpoint and certificate authority it reads).
pub(super) fn eks_call(
    b: &Builder<'_>,
    cluster: &Value,
    method: &str,
    path: Value,
    body: Option<Value>,
) -> Value {
    let scratch = b.scratch("cluster");
    let mut call = json!({
        "ClusterName": cluster,
        "CertificateAuthority": marker(&format!("{scratch}.certificate_authority")),
        "Endpoint": marker(&format!("{scratch}.endpoint")),
        "Method": method,
        "Path": path,
    });
    if let Some(body) = body {
        call["RequestBody"] = body;
    }
    call
}

/// The Namespace object the run creates: its name alone.
pub(super) fn namespace(name: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The step's `cluster`: without one the run looks for the account's only cluster.
fn named_cluster(b: &Builder<'_>, action: &'static str) -> Result<Value, Unexportable> {
    let cluster = field(b.step.with, "cluster").clone();
    if cluster.is_null() {
        return Err(Unexportable::OnlyClusterLookedUp { action });
    }
    Ok(cluster)
}

/// `path` followed by `/` and the object's `name` (a run-time value is formatted in).
fn object_path(path: &str, name: &Value) -> Value {
    match name {
        Value::String(name) => json!(format!("{path}/{name}")),
        other => json!(format!("{path}/{other}")),
    }
}

/// A Choice state named `name` over `choices`, going on at `default` otherwise.
fn choice(name: String, choices: Value, default: &str) -> State {
    State {
        name,
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), choices),
            ("Default".to_string(), json!(default)),
        ]),
    }
}

/// The POST `call` (`create Namespace`): created, the step goes on at `done`; 409
/// (AlreadyExists) goes to `look`, the run's look at what is there.
fn adopting_on_409(
    b: &mut Builder<'_>,
    call: &str,
    post: Value,
    exists: &str,
    (look, done): (&str, &str),
) -> Result<(), Unexportable> {
    let state = b.task(call, "eks:call", post, &[("Kubernetes", call, json!({}))])?;
    state.body.insert("Next".into(), json!(done));
    state.catch(&["EKS.409"], exists, look);
    Ok(())
}

/// create-namespace: POST the Namespace; on 409 look at it: one Terminating is waited
/// for until it is gone (404) and created anew, within the run's five minutes; any
/// other is adopted.
pub(super) fn create_namespace(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let cluster = named_cluster(b, "create-namespace")?;
    let name = b.planned_object("create Namespace")?["name"].clone();
    b.describe_cluster(&cluster)?;
    let polls = b.scratch("terminating_polls");
    let phase = b.scratch("namespace");
    let (create, get, outputs) = (
        b.name("create Namespace"),
        b.name("get Namespace"),
        b.name("outputs"),
    );
    let (question, wait, count, timed_out) = (
        b.name("Terminating?"),
        b.name("wait"),
        b.name("count"),
        b.name("still Terminating"),
    );
    b.mapping
        .states
        .push(State::pass(b.name("start"), json!({"polls": 0})).set("ResultPath", json!(polls)));
    let post = eks_call(
        b,
        &cluster,
        "POST",
        json!("/api/v1/namespaces"),
        Some(namespace(&name)),
    );
    let exists = b.scratch("namespace_exists");
    adopting_on_409(b, "create Namespace", post, &exists, (&get, &outputs))?;
    let look = eks_call(
        b,
        &cluster,
        "GET",
        object_path("/api/v1/namespaces", &name),
        None,
    );
    let gone = b.scratch("namespace_gone");
    let state = b.task(
        "get Namespace",
        "eks:call",
        look,
        &[("Kubernetes", "get Namespace", json!({}))],
    )?;
    state.body.extend([
        (
            "ResultSelector".into(),
            json!({"phase.$": "$.ResponseBody.status.phase"}),
        ),
        ("ResultPath".into(), json!(phase)),
    ]);
    // Gone between the two calls: created now, as the run does.
    state.catch(&["EKS.404"], &gone, &create);
    let interval = b.step.waiting.poll_interval.as_secs().max(1);
    let most = NAMESPACE_TERMINATION_WAIT
        .as_secs()
        .div_ceil(interval)
        .max(1);
    let terminating = json!({"Variable": format!("{phase}.phase"), "StringEquals": "Terminating"});
    b.mapping.states.extend([
        choice(
            question,
            json!([
                {"And": [terminating, {"Variable": format!("{polls}.polls"), "NumericGreaterThanEquals": most}], "Next": timed_out},
                {"Variable": format!("{phase}.phase"), "StringEquals": "Terminating", "Next": wait},
            ]),
            &outputs,
        ),
        State {
            name: wait,
            body: Map::from_iter([
                ("Type".to_string(), json!("Wait")),
                ("Seconds".to_string(), json!(interval)),
            ]),
        },
        State::pass(
            count,
            json!({"polls.$": format!("States.MathAdd({polls}.polls, 1)")}),
        )
        .set("ResultPath", json!(polls))
        .set("Next", json!(create)),
        fail(
            timed_out,
            "NamespaceStillTerminating",
            &format!(
                "the namespace is still Terminating after {} minutes (its contents or finalizers keep it); kubectl get namespace -o yaml shows what it waits for",
                NAMESPACE_TERMINATION_WAIT.as_secs() / 60
            ),
        ),
    ]);
    b.mapping.integrations.push(format!(
        "Wait {interval} s while a namespace of that name is Terminating"
    ));
    b.outputs(&["name"], json!({"name": name}))
}

/// create-priority-class: POST the PriorityClass; on 409 one of the same value, default
/// flag and preemption policy is adopted and any other fails the execution, as the run
/// fails (a PriorityClass's value cannot change).
pub(super) fn create_priority_class(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let cluster = named_cluster(b, "create-priority-class")?;
    let planned = b.planned_object("create PriorityClass")?;
    let mut class = json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": planned["name"]},
        "value": planned["value"],
        "globalDefault": planned["globalDefault"],
        "preemptionPolicy": planned["preemptionPolicy"],
    });
    // The run sends no description when the step gives none.
    if !planned["description"].is_null() {
        class["description"] = planned["description"].clone();
    }
    b.describe_cluster(&cluster)?;
    let (get, outputs, differs) = (
        b.name("get PriorityClass"),
        b.name("outputs"),
        b.name("differs"),
    );
    let post = eks_call(b, &cluster, "POST", json!(PRIORITY_CLASSES), Some(class));
    let exists = b.scratch("priority_class_exists");
    adopting_on_409(b, "create PriorityClass", post, &exists, (&get, &outputs))?;
    let look = eks_call(
        b,
        &cluster,
        "GET",
        object_path(PRIORITY_CLASSES, &planned["name"]),
        None,
    );
    let existing = b.scratch("priority_class");
    b.task(
        "get PriorityClass",
        "eks:call",
        look,
        &[("Kubernetes", "get PriorityClass", json!({}))],
    )?
    .body
    .extend([
        (
            "ResultSelector".into(),
            json!({"class.$": "$.ResponseBody"}),
        ),
        ("ResultPath".into(), json!(existing)),
    ]);
    let of = |member: &str| format!("{existing}.class.{member}");
    let wanted_default = planned["globalDefault"] == json!(true);
    let same_value_and_policy = [
        json!({"Variable": of("value"), "NumericEquals": planned["value"]}),
        json!({"Variable": of("preemptionPolicy"), "StringEquals": planned["preemptionPolicy"]}),
    ];
    // The API server may leave globalDefault out when it is false (`omitempty`), and a
    // comparison with a value that is not there is an error: whether it is there is
    // asked first, by a Choice of its own.
    let (said, unsaid) = (
        b.name("same class?"),
        b.name("same class, no globalDefault?"),
    );
    let mut with_default = same_value_and_policy.to_vec();
    with_default.push(json!({"Variable": of("globalDefault"), "BooleanEquals": wanted_default}));
    b.mapping.states.extend([
        choice(
            b.name("globalDefault said?"),
            json!([{"Variable": of("globalDefault"), "IsPresent": false, "Next": if wanted_default { &differs } else { &unsaid }}]),
            &said,
        ),
        choice(
            said,
            json!([{"And": with_default, "Next": outputs}]),
            &differs,
        ),
    ]);
    if !wanted_default {
        b.mapping.states.push(choice(
            unsaid,
            json!([{"And": same_value_and_policy, "Next": outputs}]),
            &differs,
        ));
    }
    b.mapping.states.extend([
        fail(
            differs,
            "PriorityClassDiffers",
            "a PriorityClass of this name already exists with another value, globalDefault or preemptionPolicy; the value of a PriorityClass cannot be changed, delete it first",
        ),
    ]);
    b.outputs(
        &["name", "value", "global_default"],
        json!({
            "name": planned["name"],
            "value": planned["value"],
            "global_default": planned["globalDefault"],
        }),
    )
}

/// delete-namespace: the namespace's DELETE, which returns once the API server has
/// accepted it (the run does not wait for its contents to go).
pub(super) fn delete_namespace(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let cluster = named_cluster(b, "delete-namespace")?;
    let name = b.planned_object("delete Namespace")?["name"].clone();
    let path = object_path("/api/v1/namespaces", &name);
    delete_if_live(b, &cluster, "Namespace", path)?;
    b.outputs(&["name"], json!({"name": name}))
}

/// delete-priority-class: the PriorityClass's DELETE.
pub(super) fn delete_priority_class(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let cluster = named_cluster(b, "delete-priority-class")?;
    let name = b.planned_object("delete PriorityClass")?["name"].clone();
    let path = object_path(PRIORITY_CLASSES, &name);
    delete_if_live(b, &cluster, "PriorityClass", path)?;
    b.outputs(&["name"], json!({"name": name}))
}

/// The delete of a cluster-scoped object as the run makes it: only on a cluster that is
/// there and not DELETING (nothing in a cluster outlives it, so that is success), and
/// 404 is success too. Goes on at the step's outputs, which follow.
fn delete_if_live(
    b: &mut Builder<'_>,
    cluster: &Value,
    kind: &str,
    path: Value,
) -> Result<(), Unexportable> {
    let result = b.scratch("cluster");
    let outputs = b.name("outputs");
    let mut selector = super::request::describe_cluster_selector();
    selector["status.$"] = json!("$.Cluster.Status");
    let gone = b.scratch("cluster_gone");
    let describe = b.task(
        "DescribeCluster",
        "aws-sdk:eks:describeCluster",
        json!({"Name": cluster}),
        &[("EKS", "DescribeCluster", json!({}))],
    )?;
    describe.body.extend([
        ("ResultSelector".into(), selector),
        ("ResultPath".into(), json!(result)),
    ]);
    describe.catch(&["Eks.ResourceNotFoundException"], &gone, &outputs);
    let delete = b.name(&format!("delete {kind}"));
    b.mapping.states.push(choice(
        b.name("cluster live?"),
        json!([{"Variable": format!("{result}.status"), "StringEquals": "DELETING", "Next": outputs}]),
        &delete,
    ));
    let call = eks_call(b, cluster, "DELETE", path, None);
    let gone = b.scratch(&format!("{}_gone", kind.to_ascii_lowercase()));
    b.task(
        &format!("delete {kind}"),
        "eks:call",
        call,
        &[("Kubernetes", &format!("delete {kind}"), json!({}))],
    )?
    .catch(&["EKS.404"], &gone, NEXT_STATE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::action_mapping::{Mapping, map_alone};
    use super::super::refusal::Unexportable;

    fn mapped(action: &str, with: &Value) -> Result<Mapping, Unexportable> {
        map_alone("step", action, with)
    }

    #[test]
    fn a_namespace_is_posted_adopted_on_409_and_a_terminating_one_waited_for() {
        let mapping = mapped(
            "create-namespace",
            &json!({"cluster": "c", "name": "spark"}),
        )
        .expect("maps");
        let create = mapping.state("step create Namespace");
        assert_eq!(create["Resource"], "arn:aws:states:::eks:call");
        assert_eq!(create["Parameters"]["Method"], "POST");
        assert_eq!(create["Parameters"]["Path"], "/api/v1/namespaces");
        assert_eq!(
            create["Parameters"]["RequestBody"],
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spark"}})
        );
        assert_eq!(
            create["Parameters"]["Endpoint.$"],
            "$.scratch.step_cluster.endpoint"
        );
        assert_eq!(create["Catch"][0]["ErrorEquals"], json!(["EKS.409"]));
        assert_eq!(create["Catch"][0]["Next"], "step get Namespace");
        assert_eq!(create["Next"], "step outputs");
        let get = mapping.state("step get Namespace");
        assert_eq!(get["Parameters"]["Method"], "GET");
        assert_eq!(get["Parameters"]["Path"], "/api/v1/namespaces/spark");
        assert_eq!(get["Catch"][0]["ErrorEquals"], json!(["EKS.404"]));
        assert_eq!(get["Catch"][0]["Next"], "step create Namespace");
        let choices = &mapping.state("step Terminating?")["Choices"];
        // Five minutes of looks 30 s apart, then the run's error.
        assert_eq!(choices[0]["And"][1]["NumericGreaterThanEquals"], 10);
        assert_eq!(choices[0]["Next"], "step still Terminating");
        assert_eq!(choices[1]["Next"], "step wait");
        assert_eq!(
            mapping.state("step Terminating?")["Default"],
            "step outputs"
        );
        assert_eq!(mapping.state("step count")["Next"], "step create Namespace");
        assert!(mapping.calls.iter().all(|c| c["service"] != "IAM"));
    }

    #[test]
    fn a_priority_class_is_adopted_only_when_identical() {
        let with =
            json!({"cluster": "c", "name": "critical", "value": 400, "global_default": true});
        let mapping = mapped("create-priority-class", &with).expect("maps");
        let create = mapping.state("step create PriorityClass");
        assert_eq!(
            create["Parameters"]["Path"],
            "/apis/scheduling.k8s.io/v1/priorityclasses"
        );
        assert_eq!(
            create["Parameters"]["RequestBody"],
            json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "critical"},
                "value": 400,
                "globalDefault": true,
                "preemptionPolicy": "PreemptLowerPriority",
            })
        );
        assert_eq!(create["Catch"][0]["ErrorEquals"], json!(["EKS.409"]));
        let said = &mapping.state("step globalDefault said?");
        assert_eq!(
            said["Choices"],
            json!([{"Variable": "$.scratch.step_priority_class.class.globalDefault", "IsPresent": false, "Next": "step differs"}])
        );
        assert_eq!(said["Default"], "step same class?");
        let same = &mapping.state("step same class?");
        assert_eq!(
            same["Choices"][0]["And"],
            json!([
                {"Variable": "$.scratch.step_priority_class.class.value", "NumericEquals": 400},
                {"Variable": "$.scratch.step_priority_class.class.preemptionPolicy", "StringEquals": "PreemptLowerPriority"},
                {"Variable": "$.scratch.step_priority_class.class.globalDefault", "BooleanEquals": true},
            ])
        );
        assert_eq!(same["Default"], "step differs");
        // Not the default class: one that leaves globalDefault out is the same too.
        let with = json!({"cluster": "c", "name": "low", "value": 100});
        let mapping = mapped("create-priority-class", &with).expect("maps");
        assert_eq!(
            mapping.state("step globalDefault said?")["Choices"][0]["Next"],
            "step same class, no globalDefault?"
        );
        assert_eq!(
            mapping.state("step same class, no globalDefault?")["Choices"][0]["And"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(
            mapping.state("step differs")["Error"],
            "PriorityClassDiffers"
        );
        assert_eq!(mapping.output_names, ["name", "value", "global_default"]);
    }

    #[test]
    fn deletes_succeed_on_404_and_without_a_live_cluster() {
        for (action, path, state) in [
            (
                "delete-namespace",
                "/api/v1/namespaces/spark",
                "step delete Namespace",
            ),
            (
                "delete-priority-class",
                "/apis/scheduling.k8s.io/v1/priorityclasses/spark",
                "step delete PriorityClass",
            ),
        ] {
            let mapping = mapped(action, &json!({"cluster": "c", "name": "spark"})).expect("maps");
            let describe = mapping.state("step DescribeCluster");
            assert_eq!(
                describe["Catch"][0],
                json!({"ErrorEquals": ["Eks.ResourceNotFoundException"], "ResultPath": "$.scratch.step_cluster_gone", "Next": "step outputs"})
            );
            assert_eq!(
                mapping.state("step cluster live?")["Choices"][0]["StringEquals"],
                "DELETING"
            );
            let delete = mapping.state(state);
            assert_eq!(delete["Parameters"]["Method"], "DELETE");
            assert_eq!(delete["Parameters"]["Path"], path);
            assert_eq!(delete["Catch"][0]["ErrorEquals"], json!(["EKS.404"]));
        }
        let refused =
            mapped("delete-namespace", &json!({"name": "spark"})).expect_err("no cluster");
        assert!(
            matches!(refused, Unexportable::OnlyClusterLookedUp { .. }),
            "{refused}"
        );
    }
}
