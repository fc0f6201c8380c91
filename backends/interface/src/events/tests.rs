//! The stored format: every kind round-trips through JSON under its exact `type` tag,
//! and rows as the simulator and the `aws` observer stored them before the events were
//! typed still read.

use serde_json::{Value, json};

use super::*;

fn pod(name: &str, role: PodRole, job: Option<&str>, executor: Option<u32>) -> PodRef {
    PodRef {
        cluster: "demo".into(),
        namespace: "spark".into(),
        name: name.into(),
        role,
        job_id: job.map(SharedStr::from),
        executor_id: executor,
    }
}

/// One event of every kind, in declaration order, with its expected `type`.
fn one_of_each() -> Vec<(&'static str, EventKind)> {
    let exec = pod("job-a-exec-2", PodRole::Executor, Some("job-a"), Some(2));
    let driver = pod("job-b-driver", PodRole::Driver, Some("job-b"), None);
    let cluster = SharedStr::from("demo");
    let node = SharedStr::from("n1");
    let job = SharedStr::from("job-a");
    vec![
        (
            "ClusterCreating",
            EventKind::ClusterCreating {
                cluster: cluster.clone(),
            },
        ),
        (
            "ClusterActive",
            EventKind::ClusterActive {
                cluster: cluster.clone(),
            },
        ),
        (
            "ClusterDeleting",
            EventKind::ClusterDeleting {
                cluster: cluster.clone(),
            },
        ),
        (
            "ClusterDeleted",
            EventKind::ClusterDeleted {
                cluster: cluster.clone(),
            },
        ),
        (
            "NodeLaunched",
            EventKind::NodeLaunched {
                cluster: cluster.clone(),
                node: node.clone(),
                instance_type: "c5.2xlarge".into(),
                capacity_type: CapacityType::Spot,
                nodegroup: None,
                provisioner: Some("default".into()),
                pending_pods: 3,
            },
        ),
        (
            "NodeAdded",
            EventKind::NodeAdded {
                cluster: cluster.clone(),
                node: node.clone(),
                instance_type: "c5.2xlarge".into(),
                capacity_type: CapacityType::OnDemand,
                allocatable: Resources::new(7910, 14162),
            },
        ),
        (
            "NodeReady",
            EventKind::NodeReady {
                cluster: cluster.clone(),
                node: node.clone(),
            },
        ),
        (
            "NodeEmpty",
            EventKind::NodeEmpty {
                cluster: cluster.clone(),
                node: node.clone(),
                expires_at_ms: 90_000,
            },
        ),
        (
            "NodeRemoved",
            EventKind::NodeRemoved {
                cluster,
                node: node.clone(),
                reason: "empty for 30s".into(),
            },
        ),
        (
            "PodCreated",
            EventKind::PodCreated {
                pod: exec.clone(),
                priority: 100,
                priority_class: Some("low-priority".into()),
                requests: Resources::new(1000, 3067),
            },
        ),
        (
            "PodUnschedulable",
            EventKind::PodUnschedulable {
                pod: exec.clone(),
                message: "0/1 nodes are available: 1 Insufficient memory.".into(),
            },
        ),
        (
            "PodNominated",
            EventKind::PodNominated {
                pod: driver.clone(),
                node: node.clone(),
            },
        ),
        (
            "PodScheduled",
            EventKind::PodScheduled {
                pod: exec.clone(),
                node: node.clone(),
            },
        ),
        (
            "PodStarted",
            EventKind::PodStarted {
                pod: exec.clone(),
                node: node.clone(),
            },
        ),
        (
            "PodPreempted",
            EventKind::PodPreempted(Box::new(Preemption {
                pod: exec.clone(),
                node: node.clone(),
                priority: 100,
                preemptor: driver,
                preemptor_uid: "uid-b".into(),
                preemptor_priority: 400,
                reason: "Preempted".into(),
                message: "Preempted by pod uid-b on node n1".into(),
            })),
        ),
        (
            "PodTerminating",
            EventKind::PodTerminating {
                pod: exec.clone(),
                node: Some(node.clone()),
                grace_period_seconds: 30,
                reason: TerminationReason::Preempted,
            },
        ),
        (
            "PodSucceeded",
            EventKind::PodSucceeded {
                pod: exec.clone(),
                node: node.clone(),
            },
        ),
        (
            "PodFailed",
            EventKind::PodFailed {
                pod: exec.clone(),
                node: None,
                reason: "OOMKilled".into(),
            },
        ),
        (
            "PodDeleted",
            EventKind::PodDeleted {
                pod: exec,
                node: Some(node.clone()),
                reason: Some(TerminationReason::ApplicationFinished),
            },
        ),
        (
            "JobStateChanged",
            EventKind::JobStateChanged {
                job_id: job.clone(),
                job_name: "low".into(),
                virtual_cluster_id: "vc".into(),
                namespace: "spark".into(),
                from: Some(JobState::Running),
                to: JobState::Failed,
                state_details: Some("the driver was lost".into()),
                failure_reason: Some(FailureReason::UserError),
            },
        ),
        (
            "ExecutorRequested",
            EventKind::ExecutorRequested {
                job_id: job.clone(),
                namespace: "spark".into(),
                executor_id: 3,
                pod: "job-a-exec-3".into(),
            },
        ),
        (
            "ExecutorRegistered",
            EventKind::ExecutorRegistered {
                job_id: job.clone(),
                executor_id: 3,
                pod: "job-a-exec-3".into(),
                node,
            },
        ),
        (
            "ExecutorLost",
            EventKind::ExecutorLost {
                job_id: job.clone(),
                executor_id: 2,
                pod: "job-a-exec-2".into(),
                reason: "preempted".into(),
            },
        ),
        (
            "TaskStarted",
            EventKind::TaskStarted {
                job_id: job.clone(),
                task: 4,
                attempt: 1,
                executor_id: 3,
                duration_ms: 20_000,
            },
        ),
        (
            "TaskFinished",
            EventKind::TaskFinished {
                job_id: job.clone(),
                task: 4,
                attempt: 1,
                executor_id: 3,
            },
        ),
        (
            "TaskLost",
            EventKind::TaskLost {
                job_id: job,
                task: 4,
                attempt: 0,
                executor_id: 2,
            },
        ),
    ]
}

#[test]
fn every_kind_round_trips_under_its_type_tag() {
    let events = one_of_each();
    for (tag, event) in &events {
        let stored = serde_json::to_value(event).expect("serializes");
        assert_eq!(stored["type"], *tag, "{stored}");
        assert_eq!(event.type_name(), *tag);
        assert!(EventKind::is_type_name(tag));
        let back: EventKind = serde_json::from_value(stored.clone())
            .unwrap_or_else(|e| panic!("{tag} does not read back: {e}: {stored}"));
        assert_eq!(&back, event);
    }
    let tags: Vec<&str> = events.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, EventKind::TYPE_NAMES, "one sample per kind, in order");
    assert!(!EventKind::is_type_name("SomethingNew"));
}

#[test]
fn the_stored_json_keeps_its_field_names_and_spellings() {
    let events = one_of_each();
    let find = |tag: &str| {
        let event = &events.iter().find(|(t, _)| *t == tag).expect("sampled").1;
        serde_json::to_value(event).expect("serializes")
    };
    assert_eq!(
        find("NodeLaunched"),
        json!({"type": "NodeLaunched", "cluster": "demo", "node": "n1", "instance_type": "c5.2xlarge",
               "capacity_type": "Spot", "provisioner": "default", "pending_pods": 3})
    );
    assert_eq!(
        find("PodDeleted"),
        json!({"type": "PodDeleted",
               "pod": {"cluster": "demo", "namespace": "spark", "name": "job-a-exec-2", "role": "executor", "job_id": "job-a", "executor_id": 2},
               "node": "n1", "reason": "ApplicationFinished"})
    );
    assert_eq!(
        find("JobStateChanged"),
        json!({"type": "JobStateChanged", "job_id": "job-a", "job_name": "low", "virtual_cluster_id": "vc",
               "namespace": "spark", "from": "RUNNING", "to": "FAILED", "state_details": "the driver was lost",
               "failure_reason": "USER_ERROR"})
    );
}

/// Rows exactly as they are in a state DB written before the events were typed: the
/// simulator's (from a `priority-demo` run) and the `aws` observer's (its `json!`
/// shapes, with EKS's capacity spellings and fields left out).
#[test]
fn rows_stored_before_the_events_were_typed_still_read() {
    let read = |row: Value| -> EventKind {
        serde_json::from_value(row.clone()).unwrap_or_else(|e| panic!("{e}: {row}"))
    };
    let sim = read(
        json!({"type":"PodPreempted","pod":{"cluster":"eks-emr-cluster","namespace":"monthly-batch","name":"monthly-batch-low-priority-job-ff6fc4f030fb8645-exec-2","role":"executor","job_id":"00000003j2f4no45ron","executor_id":2},"node":"ip-192-168-87-33.us-east-2.compute.internal","priority":100,"preemptor":{"cluster":"eks-emr-cluster","namespace":"intra-day-batch","name":"intra-day-batch-high-priority-9aa96d3dd287378d-exec-2","role":"executor","job_id":"00000003lgd260s58hj","executor_id":2},"preemptor_uid":"44c7d66c-2c32-43e2-a464-a40c053ad2d0","preemptor_priority":400,"reason":"Preempted","message":"Preempted by pod 44c7d66c-2c32-43e2-a464-a40c053ad2d0 on node ip-192-168-87-33.us-east-2.compute.internal"}),
    );
    let EventKind::PodPreempted(p) = &sim else {
        panic!("not a preemption: {sim:?}");
    };
    assert_eq!(p.preemptor.job_id.as_deref(), Some("00000003lgd260s58hj"));
    assert_eq!(
        sim.subject().as_deref(),
        Some("monthly-batch/monthly-batch-low-priority-job-ff6fc4f030fb8645-exec-2")
    );

    let launched = read(
        json!({"type": "NodeLaunched", "cluster": "demo", "node": "n2", "instance_type": "c5.2xlarge",
                               "capacity_type": "SPOT", "pending_pods": 0, "provisioner": "spark"}),
    );
    assert!(matches!(
        &launched,
        EventKind::NodeLaunched { capacity_type: CapacityType::Spot, provisioner: Some(p), .. } if p == "spark"
    ));
    assert_eq!(launched.subject().as_deref(), Some("n2"));
    let added = read(
        json!({"type": "NodeAdded", "cluster": "demo", "node": "n1", "instance_type": "c5.2xlarge",
                            "capacity_type": "ON_DEMAND", "allocatable": {"cpu_millis": 7910, "memory_mib": 14162}}),
    );
    assert!(matches!(
        added,
        EventKind::NodeAdded {
            capacity_type: CapacityType::OnDemand,
            ..
        }
    ));

    let victim = json!({"cluster": "demo", "namespace": "spark", "name": "job-a-exec-3", "role": "executor", "job_id": "job-a", "executor_id": 3});
    let deleted =
        read(json!({"type": "PodDeleted", "pod": victim, "node": "n1", "reason": "Preempted"}));
    assert!(matches!(
        deleted,
        EventKind::PodDeleted {
            reason: Some(TerminationReason::Preempted),
            ..
        }
    ));
    let failed = read(json!({"type": "PodFailed", "pod": victim, "reason": "Error"}));
    assert!(matches!(failed, EventKind::PodFailed { node: None, .. }));
    // The preemptor the pod watch never saw: named as far as known, with a system role.
    let unknown = read(
        json!({"type": "PodPreempted", "pod": victim, "node": "n1", "priority": 10,
        "preemptor": {"cluster": "demo", "namespace": "", "name": "unknown", "role": "system"},
        "preemptor_uid": "", "preemptor_priority": 0, "reason": "Preempted",
        "message": "Preempted by pod  on node n1"}),
    );
    assert!(matches!(&unknown, EventKind::PodPreempted(p) if p.preemptor.role == PodRole::System));
    // Descriptive fields left out read as empty.
    let bare = read(
        json!({"type": "PodPreempted", "pod": victim, "node": "n1", "priority": 10,
        "preemptor": victim, "preemptor_priority": 400}),
    );
    assert!(
        matches!(&bare, EventKind::PodPreempted(p) if p.message.is_empty() && p.preemptor_uid.is_empty())
    );
}

#[test]
fn the_subject_is_the_pod_the_node_or_the_job() {
    let events = one_of_each();
    let subject = |tag: &str| {
        events
            .iter()
            .find(|(t, _)| *t == tag)
            .expect("sampled")
            .1
            .subject()
    };
    assert_eq!(subject("PodStarted").as_deref(), Some("spark/job-a-exec-2"));
    assert_eq!(subject("NodeRemoved").as_deref(), Some("n1"));
    assert_eq!(subject("TaskLost").as_deref(), Some("job-a"));
    assert_eq!(subject("ClusterActive"), None);
}
