//! Behaviour beyond the headline scenarios: validation errors, job failure paths,
//! preemption node choice, idempotency, determinism and snapshots.

mod common;

use std::collections::BTreeMap;

use common::check_invariants;
use runbook_sim::demo::{self, Demo, DemoOptions};
use runbook_sim::node::LABEL_HOSTNAME;
use runbook_sim::{
    AutoscalerSpec, ClusterSpec, EventKind, FailureReason, JobState, JobSubmission, NodeGroupSpec,
    PodRole, PodTemplate, PodTemplateSource, PriorityClassSpec, SimError, SimParams, World,
};

fn new_demo(options: &DemoOptions) -> (World, Demo, String) {
    let mut world = World::new(1, SimParams::default());
    let setup = demo::setup(&mut world, options).expect("demo setup");
    let account = world.params().account_id.clone();
    (world, setup, account)
}

fn run_checked(world: &mut World, until: u64) {
    while world.next_event_time().is_some_and(|t| t <= until) {
        world.step();
        check_invariants(world);
    }
    world.advance_to(until).expect("forward in time");
}

fn template(class: &str) -> PodTemplateSource {
    PodTemplateSource::Inline(PodTemplate {
        priority_class_name: Some(class.to_string()),
        ..PodTemplate::default()
    })
}

#[test]
fn unknown_priority_class_is_rejected_at_submission() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let bucket = demo::template_bucket(&account, demo::REGION);
    world
        .put_object(
            &bucket,
            "typo.yml",
            "apiVersion: v1\nkind: Pod\nspec:\n  priorityClassName: critcal-priority\n",
        )
        .expect("bucket exists");
    let mut job = setup.low_priority_job(&account);
    job.executor_pod_template = Some(PodTemplateSource::S3(format!("s3://{bucket}/typo.yml")));
    let err = world.submit_job_run(job).expect_err("unknown class");
    assert_eq!(
        err,
        SimError::UnknownPriorityClass {
            cluster: demo::CLUSTER_NAME.to_string(),
            role: "executor".to_string(),
            name: "critcal-priority".to_string(),
        }
    );
    assert!(
        err.to_string()
            .contains("no PriorityClass with name critcal-priority was found")
    );
    let mut job = setup.high_priority_job(&account);
    job.driver_pod_template = Some(template("nope"));
    assert!(matches!(
        world.submit_job_run(job),
        Err(SimError::UnknownPriorityClass { ref role, .. }) if role == "driver"
    ));
    let mut job = setup.high_priority_job(&account);
    job.executor_pod_template = Some(PodTemplateSource::S3(format!("s3://{bucket}/missing.yml")));
    assert!(matches!(
        world.submit_job_run(job),
        Err(SimError::NoSuchKey { .. })
    ));
    assert_eq!(world.job_runs().count(), 0, "nothing was started");
}

#[test]
fn only_one_global_default_priority_class() {
    let (mut world, _, _) = new_demo(&DemoOptions::default());
    let err = world
        .create_priority_class(
            demo::CLUSTER_NAME,
            PriorityClassSpec::new("another-default", 50, true),
        )
        .expect_err("second default");
    assert_eq!(
        err,
        SimError::GlobalDefaultConflict {
            name: "another-default".to_string(),
            existing: "critical-priority".to_string()
        }
    );
    assert!(
        world
            .create_priority_class(
                demo::CLUSTER_NAME,
                PriorityClassSpec::new("low-priority", 1, false)
            )
            .expect_err("duplicate")
            .is_already_exists()
    );
}

/// A job whose driver is itself a victim fails (losing the driver loses the job).
/// The high job's single 7G executor (10235Mi) needs the low job's driver and both
/// executors gone: removing only the executors frees 6134Mi of the 9844Mi needed.
#[test]
fn losing_the_driver_fails_the_job() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let mut low = setup.low_priority_job(&account);
    low.driver_pod_template = Some(PodTemplateSource::S3(
        setup.low_executor_template_uri.clone(),
    ));
    let low = world.submit_job_run(low).expect("low").id;
    run_checked(&mut world, start + 80_000);
    let mut high = setup.high_priority_job(&account);
    high.executors = 1;
    high.executor_memory = "7G".to_string();
    let high = world.submit_job_run(high).expect("high").id;
    run_checked(&mut world, start + 3_600_000);
    let victims: Vec<(PodRole, Option<u32>)> = world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PodPreempted(p) => Some((p.pod.role, p.pod.executor_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        victims,
        vec![
            (PodRole::Driver, None),
            (PodRole::Executor, Some(1)),
            (PodRole::Executor, Some(2))
        ]
    );
    let low = world.job_run_by_id(&low).expect("low");
    assert_eq!(low.state, JobState::Failed);
    assert_eq!(low.failure_reason, Some(FailureReason::UserError));
    assert!(
        low.state_details
            .as_deref()
            .is_some_and(|d| d.contains("driver pod") && d.contains("preempted")),
        "{:?}",
        low.state_details
    );
    assert_eq!(
        world.job_run_by_id(&high).map(|j| j.state),
        Some(JobState::Completed)
    );
}

#[test]
fn a_job_that_never_starts_times_out() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let mut job = setup.high_priority_job(&account);
    job.driver_memory = Some("64G".to_string());
    let id = world.submit_job_run(job).expect("accepted").id;
    run_checked(&mut world, start + 20 * 60_000);
    let j = world.job_run_by_id(&id).expect("job");
    assert_eq!(j.state, JobState::Failed);
    assert_eq!(j.finished_at_ms, Some(start + 5_000 + 900_000 + 2_000));
    let states: Vec<JobState> = world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobStateChanged { job_id, to, .. } if *job_id == id => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![JobState::Pending, JobState::Submitted, JobState::Failed]
    );
    assert!(
        world
            .job_pods(&id)
            .iter()
            .all(|p| p.is_deleted() || p.phase.is_terminal())
    );
}

#[test]
fn client_token_makes_submission_idempotent() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let mut job = setup.low_priority_job(&account);
    job.client_token = Some("step-low_job-attempt-1".to_string());
    let first = world.submit_job_run(job.clone()).expect("first");
    let again = world.submit_job_run(job).expect("replay");
    assert_eq!(first, again);
    assert_eq!(world.job_runs().count(), 1);
    assert_eq!(first.id.len(), 19);
    assert!(first.arn.ends_with(&format!("/jobruns/{}", first.id)));
}

/// Two r5.2xlarge nodes: node-1 runs two 20g executors of priority 100, node-2 two of
/// priority 200 (pinned by hostname node selectors). An executor of priority 400 that
/// needs 17.6 GiB fits on neither, and one victim would do on either node: the node
/// whose highest victim has the lowest priority wins.
#[test]
fn preemption_prefers_the_node_with_the_lowest_victims() {
    let mut world = World::new(3, SimParams::default());
    let mut ng = NodeGroupSpec::new("ng", "r5.2xlarge", 2);
    ng.max_size = 2;
    world
        .create_cluster(ClusterSpec::new("c", "1.35", ng))
        .expect("cluster");
    world.run_until(3_600_000, |w| {
        w.nodes("c")
            .is_ok_and(|n| n.len() == 2 && n.iter().all(|n| n.ready))
    });
    for (name, value, default) in [("low", 100, false), ("mid", 200, false), ("top", 400, true)] {
        world
            .create_priority_class("c", PriorityClassSpec::new(name, value, default))
            .expect("class");
    }
    world.create_namespace("c", "ns").expect("ns");
    let vc = world.create_virtual_cluster("vc", "c", "ns").expect("vc");
    let nodes: Vec<String> = world
        .nodes("c")
        .expect("nodes")
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    let pinned = |class: &str, node: &str| {
        let mut selector = BTreeMap::new();
        selector.insert(LABEL_HOSTNAME.to_string(), node.to_string());
        PodTemplateSource::Inline(PodTemplate {
            priority_class_name: Some(class.to_string()),
            node_selector: selector,
            ..PodTemplate::default()
        })
    };
    let filler = |name: &str, class: &str, node: &str| {
        let mut j = JobSubmission::new(vc.clone(), name, "emr-6.15.0-latest");
        j.executors = 2;
        j.executor_memory = "20g".to_string();
        j.driver_pod_template = Some(template("top"));
        j.executor_pod_template = Some(pinned(class, node));
        j.task_durations_ms = Some(vec![600_000, 600_000]);
        j
    };
    let low = world
        .submit_job_run(filler("low", "low", &nodes[0]))
        .expect("low")
        .id;
    let mid = world
        .submit_job_run(filler("mid", "mid", &nodes[1]))
        .expect("mid")
        .id;
    let t = world.now();
    run_checked(&mut world, t + 120_000);
    let mut urgent = JobSubmission::new(vc.clone(), "urgent", "emr-6.15.0-latest");
    urgent.executors = 1;
    urgent.executor_memory = "16g".to_string();
    urgent.driver_pod_template = Some(template("top"));
    urgent.executor_pod_template = Some(template("top"));
    let urgent = world.submit_job_run(urgent).expect("urgent").id;
    run_checked(&mut world, t + 240_000);
    let victims: Vec<(String, String, String)> = world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PodPreempted(p) => Some((
                p.pod.job_id.as_deref().unwrap_or_default().to_string(),
                p.preemptor
                    .job_id
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
                p.node.to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        victims,
        vec![(low.clone(), urgent, nodes[0].clone())],
        "one victim, of the low job"
    );
    assert!(world.job_pods(&mid).iter().all(|p| !p.preempted()));
}

/// Equal victim priorities on both nodes: the node where one victim is enough wins
/// over the node that would need two (smaller priority sum, fewer victims).
#[test]
fn preemption_prefers_fewer_victims_at_equal_priority() {
    let mut world = World::new(5, SimParams::default());
    let mut ng = NodeGroupSpec::new("ng", "r5.2xlarge", 2);
    ng.max_size = 2;
    world
        .create_cluster(ClusterSpec::new("c", "1.35", ng))
        .expect("cluster");
    world.run_until(3_600_000, |w| {
        w.nodes("c")
            .is_ok_and(|n| n.len() == 2 && n.iter().all(|n| n.ready))
    });
    for (name, value, default) in [("low", 100, false), ("top", 400, true)] {
        world
            .create_priority_class("c", PriorityClassSpec::new(name, value, default))
            .expect("class");
    }
    world.create_namespace("c", "ns").expect("ns");
    let vc = world.create_virtual_cluster("vc", "c", "ns").expect("vc");
    let nodes: Vec<String> = world
        .nodes("c")
        .expect("nodes")
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    let filler = |name: &str, node: &str, executors: u32, memory: &str| {
        let mut selector = BTreeMap::new();
        selector.insert(LABEL_HOSTNAME.to_string(), node.to_string());
        let mut j = JobSubmission::new(vc.clone(), name, "emr-6.15.0-latest");
        j.executors = executors;
        j.executor_memory = memory.to_string();
        j.driver_pod_template = Some(template("top"));
        j.executor_pod_template = Some(PodTemplateSource::Inline(PodTemplate {
            priority_class_name: Some("low".to_string()),
            node_selector: selector,
            ..PodTemplate::default()
        }));
        j.task_durations_ms = Some(vec![600_000; executors as usize]);
        j
    };
    // node-1: three 14g executors (15769Mi each); node-2: one 40g executor (45056Mi).
    let three = world
        .submit_job_run(filler("three", &nodes[0], 3, "14g"))
        .expect("three")
        .id;
    let one = world
        .submit_job_run(filler("one", &nodes[1], 1, "40g"))
        .expect("one")
        .id;
    let t = world.now();
    run_checked(&mut world, t + 120_000);
    let mut urgent = JobSubmission::new(vc.clone(), "urgent", "emr-6.15.0-latest");
    urgent.executors = 1;
    urgent.executor_memory = "24g".to_string();
    urgent.driver_pod_template = Some(template("top"));
    urgent.executor_pod_template = Some(template("top"));
    world.submit_job_run(urgent).expect("urgent");
    run_checked(&mut world, t + 240_000);
    let victims: Vec<String> = world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PodPreempted(p) => p.pod.job_id.as_deref().map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(
        victims,
        vec![one],
        "one victim on node-2 rather than two on node-1"
    );
    assert!(world.job_pods(&three).iter().all(|p| !p.preempted()));
}

#[test]
fn create_and_delete_errors_mirror_aws() {
    let mut world = World::new(9, SimParams::default());
    let spec = ClusterSpec::new("c", "1.35", NodeGroupSpec::new("ng", "m5.large", 1));
    world.create_cluster(spec.clone()).expect("created");
    assert_eq!(
        world
            .create_cluster(spec)
            .expect_err("duplicate")
            .aws_code(),
        "ResourceInUseException"
    );
    assert!(matches!(
        world.create_namespace("c", "ns"),
        Err(SimError::ClusterNotActive { .. })
    ));
    let bad = ClusterSpec::new("d", "1.35", NodeGroupSpec::new("ng", "t2.nano", 1));
    assert!(matches!(
        world.create_cluster(bad),
        Err(SimError::UnknownInstanceType { .. })
    ));
    // The walkthrough's version: EKS retired it, and says so as EKS does.
    let retired = ClusterSpec::new("e", "1.22", NodeGroupSpec::new("ng", "m5.large", 1));
    let refused = world.create_cluster(retired).expect_err("1.22 is retired");
    assert_eq!(refused.aws_code(), "InvalidParameterException");
    assert!(
        refused
            .to_string()
            .starts_with("unsupported Kubernetes version 1.22 "),
        "{refused}"
    );
    assert!(world.cluster("e").is_err(), "nothing was created");
    world.advance_by(3_600_000);
    world.create_namespace("c", "ns").expect("ns");
    assert!(
        world
            .create_namespace("c", "ns")
            .expect_err("dup")
            .is_already_exists()
    );
    assert!(matches!(
        world.delete_namespace("c", "kube-system"),
        Err(SimError::NamespaceProtected { .. })
    ));
    let vc = world.create_virtual_cluster("vc", "c", "ns").expect("vc");
    assert_eq!(vc.len(), 25);
    assert!(
        vc.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert!(
        world
            .create_virtual_cluster("vc2", "c", "ns")
            .expect_err("namespace taken")
            .is_already_exists()
    );
    assert!(
        world
            .delete_virtual_cluster("nope")
            .expect_err("missing")
            .is_not_found()
    );
    world.create_role("r", None).expect("role");
    assert_eq!(
        world.create_role("r", None).expect_err("dup").aws_code(),
        "EntityAlreadyExists"
    );
    world
        .create_log_group("/emr-on-eks/c/ns", Some(7))
        .expect("lg");
    assert_eq!(
        world
            .create_log_group("/emr-on-eks/c/ns", None)
            .expect_err("dup")
            .aws_code(),
        "ResourceAlreadyExistsException"
    );
    // us-east-1: re-creating one's own bucket is a success.
    world.create_bucket("b").expect("bucket");
    world.create_bucket("b").expect("us-east-1 answers 200");
    world.put_object("b", "k", "x").expect("put");
    assert_eq!(
        world
            .delete_bucket("b", false)
            .expect_err("not empty")
            .aws_code(),
        "BucketNotEmpty"
    );
    world.delete_bucket("b", true).expect("force");
    assert!(
        world
            .delete_bucket("b", true)
            .expect_err("gone")
            .is_not_found()
    );
    // Elsewhere it is BucketAlreadyOwnedByYou.
    let mut ohio = World::new(
        1,
        SimParams {
            region: "us-east-2".to_string(),
            ..SimParams::default()
        },
    );
    ohio.create_bucket("b").expect("bucket");
    assert_eq!(
        ohio.create_bucket("b").expect_err("dup").aws_code(),
        "BucketAlreadyOwnedByYou"
    );
    assert!(matches!(
        world.resolve_pod_template("https://x/y"),
        Err(SimError::InvalidS3Uri { .. })
    ));
}

#[test]
fn deleting_the_namespace_kills_the_job() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let id = world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("job")
        .id;
    run_checked(&mut world, start + 100_000);
    world
        .delete_namespace(demo::CLUSTER_NAME, demo::LOW_NAMESPACE)
        .expect("delete");
    run_checked(&mut world, start + 200_000);
    let j = world.job_run_by_id(&id).expect("job");
    assert_eq!(j.state, JobState::Failed);
    assert!(world.job_pods(&id).iter().all(|p| p.is_deleted()));
}

#[test]
fn autoscaler_leaves_pods_that_preempt_to_the_scheduler() {
    // With Karpenter on, the priority story's high-priority executor could run on a
    // Karpenter on-demand node (its node affinity allows both kinds), but it can
    // preempt, and the scheduler nominates it at once: Karpenter does not provision
    // for a nominated pod, so the preemption happens as without autoscaling.
    let options = DemoOptions {
        autoscaling: true,
        ..DemoOptions::default()
    };
    let (mut world, setup, account) = new_demo(&options);
    let start = world.now();
    world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("low");
    run_checked(&mut world, start + demo::HIGH_JOB_DELAY_MS);
    world
        .submit_job_run(setup.high_priority_job(&account))
        .expect("high");
    run_checked(&mut world, start + 3_600_000);
    let kinds: Vec<&str> = world
        .events()
        .iter()
        .filter(|e| e.time_ms >= start)
        .map(|e| e.kind.type_name())
        .filter(|k| matches!(*k, "PodPreempted" | "NodeLaunched" | "NodeRemoved"))
        .collect();
    // The preemption happens at once; the replacement executor #3 (no selector)
    // then gets a Karpenter node, which goes away when the job is done.
    assert_eq!(kinds, vec!["PodPreempted", "NodeLaunched", "NodeRemoved"]);
}

#[test]
fn invalid_autoscaler_specs_are_rejected() {
    let (mut world, _, _) = new_demo(&DemoOptions::default());
    let mut spec = AutoscalerSpec::walkthrough();
    spec.capacity_types.clear();
    assert!(matches!(
        world.enable_autoscaling(demo::CLUSTER_NAME, spec),
        Err(SimError::InvalidAutoscaler { .. })
    ));
    let mut spec = AutoscalerSpec::walkthrough();
    spec.instance_types = Some(vec!["x1.32xlarge".to_string()]);
    assert!(world.enable_autoscaling(demo::CLUSTER_NAME, spec).is_err());
}

fn story_world(seed: u64) -> World {
    let mut world = World::new(seed, SimParams::default());
    let setup = demo::setup(&mut world, &DemoOptions::default()).expect("setup");
    let account = world.params().account_id.clone();
    let start = world.now();
    world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("low");
    world
        .advance_to(start + demo::HIGH_JOB_DELAY_MS)
        .expect("time");
    world
        .submit_job_run(setup.high_priority_job(&account))
        .expect("high");
    world
}

#[test]
fn same_seed_same_event_log() {
    let mut a = story_world(42);
    let mut b = story_world(42);
    a.run_until_idle();
    b.run_until_idle();
    let ja = serde_json::to_string(a.events()).expect("json");
    let jb = serde_json::to_string(b.events()).expect("json");
    assert_eq!(ja, jb);
    let mut c = story_world(43);
    c.run_until_idle();
    assert_ne!(
        ja,
        serde_json::to_string(c.events()).expect("json"),
        "ids come from the seed"
    );
}

#[test]
fn restored_snapshot_continues_identically() {
    let mut original = story_world(7);
    let mut step = 0;
    while original.step() {
        step += 1;
        if step % 7 != 0 {
            continue;
        }
        let json = serde_json::to_string(&original).expect("serialize");
        let mut restored: World = serde_json::from_str(&json).expect("deserialize");
        let mut reference = original.clone();
        reference.run_until_idle();
        restored.run_until_idle();
        assert_eq!(
            serde_json::to_string(restored.events()).expect("json"),
            serde_json::to_string(reference.events()).expect("json"),
            "diverged after restoring at step {step}"
        );
        assert_eq!(
            serde_json::to_string(&restored).expect("json"),
            serde_json::to_string(&reference).expect("json")
        );
    }
}

/// A named world handed to the next run forgets its event log and nothing else: it
/// goes on exactly as it would have, telling only what happens from then on.
#[test]
fn a_world_that_forgets_its_events_goes_on_identically() {
    let mut original = story_world(11);
    for _ in 0..20 {
        original.step();
    }
    let told_before = original.events().len();
    let mut handed_over = original.clone();
    handed_over.forget_events();
    assert!(handed_over.events().is_empty());
    original.run_until_idle();
    handed_over.run_until_idle();
    let after = |events: &[runbook_sim::Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| format!("{} {:?}", e.time_ms, e.kind))
            .collect()
    };
    assert_eq!(
        after(handed_over.events()),
        after(&original.events()[told_before..])
    );
    assert_eq!(handed_over.now(), original.now());
    assert_eq!(
        handed_over.job_runs().count(),
        original.job_runs().count(),
        "what exists is kept"
    );
}

#[test]
fn events_serialize_self_describing() {
    let mut world = story_world(1);
    world.run_until_idle();
    let preempted = world
        .events()
        .iter()
        .find(|e| e.kind.type_name() == "PodPreempted")
        .expect("the story has a preemption");
    let v = serde_json::to_value(preempted).expect("json");
    assert_eq!(v["kind"]["type"], "PodPreempted");
    assert_eq!(v["kind"]["pod"]["role"], "executor");
    assert_eq!(v["kind"]["pod"]["executor_id"], 2);
    assert_eq!(v["kind"]["reason"], "Preempted");
    assert!(
        v["kind"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Preempted by pod "))
    );
    let back: runbook_sim::Event = serde_json::from_value(v).expect("round trip");
    assert_eq!(&back, preempted);
    let since = world.events_since(preempted.index);
    assert_eq!(since.first(), Some(preempted));
    assert!(world.events_since(u64::MAX).is_empty());
}

#[test]
fn apply_manifests_understands_priority_classes_and_karpenter() {
    let mut world = World::new(2, SimParams::default());
    world
        .create_cluster(ClusterSpec::new(
            "c",
            "1.35",
            NodeGroupSpec::new("ng", "c5.2xlarge", 1),
        ))
        .expect("cluster");
    world.advance_by(3_600_000);
    let yaml = r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical-priority}
value: 400
globalDefault: true
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low-priority}
value: 100
---
apiVersion: v1
kind: Namespace
metadata: {name: monthly-batch}
---
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
  labels: {intent: emr-job}
  ttlSecondsAfterEmpty: 30
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
"#;
    let applied = world.apply_manifests("c", yaml).expect("valid manifests");
    let outcomes: Vec<(&str, &str)> = applied
        .iter()
        .map(|a| (a.name.as_str(), a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("critical-priority", "created"),
            ("low-priority", "created"),
            ("monthly-batch", "created"),
            ("default", "created"),
            ("other", "not modelled"),
        ]
    );
    // Applying again changes nothing (kubectl apply is idempotent).
    let again = world.apply_manifests("c", yaml).expect("valid manifests");
    assert_eq!(again[0].outcome, "unchanged");
    let cluster = world.cluster("c").expect("cluster");
    assert_eq!(
        cluster
            .autoscaler
            .as_ref()
            .and_then(|a| a.spec.ttl_seconds_after_empty),
        Some(30)
    );
    assert_eq!(
        cluster
            .priority_classes
            .global_default()
            .map(|c| c.name.to_string()),
        Some("critical-priority".to_string())
    );
}

#[test]
fn a_pod_that_never_ran_is_deleted_without_a_terminal_phase() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let mut job = setup.low_priority_job(&account);
    // Executors too big for any node: they stay Pending until the job is cancelled.
    job.executor_memory = "64G".to_string();
    let vc = job.virtual_cluster_id.clone();
    let id = world.submit_job_run(job).expect("submitted").id;
    let later = world.now() + 180_000;
    run_checked(&mut world, later);
    let pending: Vec<String> = world
        .job_pods(&id)
        .iter()
        .filter(|p| p.role == PodRole::Executor && p.phase == runbook_sim::PodPhase::Pending)
        .map(|p| p.name.to_string())
        .collect();
    assert!(!pending.is_empty(), "the executors never fit");
    world.cancel_job_run(&vc, &id).expect("cancel");
    let end = world.now() + 120_000;
    run_checked(&mut world, end);
    for pod in world
        .all_pods()
        .iter()
        .filter(|p| pending.contains(&p.name.to_string()))
    {
        assert!(pod.is_deleted(), "{} is deleted", pod.name);
        assert_eq!(
            pod.phase,
            runbook_sim::PodPhase::Pending,
            "{} never ran",
            pod.name
        );
    }
}
