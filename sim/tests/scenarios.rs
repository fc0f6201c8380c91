//! The acceptance scenarios of the simulator: the walkthrough's priority story and its
//! variations, each with the exact expected sequence of events, checking the
//! scheduler invariants after every step.

mod common;

use common::{Namer, assert_timeline, check_invariants};
use runbook_sim::demo::{self, Demo, DemoOptions};
use runbook_sim::pod::{ConditionType, LABEL_EMR_COMPONENT, LABEL_EMR_JOB_ID, LABEL_SPARK_EXEC_ID};
use runbook_sim::{EventKind, JobState, PodPhase, PodRole, SimError, SimParams, World};

const STORY_KINDS: &[&str] = &[
    "JobStateChanged",
    "PodScheduled",
    "PodPreempted",
    "PodNominated",
    "PodUnschedulable",
    "ExecutorRequested",
    "ExecutorLost",
    "PodDeleted",
];

fn new_demo(options: &DemoOptions) -> (World, Demo, String) {
    let mut world = World::new(1, SimParams::default());
    let setup = demo::setup(&mut world, options).expect("demo setup");
    let account = world.params().account_id.clone();
    (world, setup, account)
}

/// Steps until `t` (inclusive), checking the invariants after each step.
fn step_until(world: &mut World, t: u64) {
    while world.next_event_time().is_some_and(|next| next <= t) {
        world.step();
        check_invariants(world);
    }
    world.advance_to(t).expect("forward in time");
}

fn step_until_idle(world: &mut World) {
    while world.step() {
        check_invariants(world);
    }
}

struct Story {
    world: World,
    low: String,
    high: String,
    start: u64,
}

/// The demo: the low-priority job, then the high-priority one `high_delay_ms` later,
/// run to completion.
fn run_story(options: DemoOptions, high_delay_ms: u64) -> Story {
    let (mut world, setup, account) = new_demo(&options);
    let start = world.now();
    let low = world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("low job accepted")
        .id;
    step_until(&mut world, start + high_delay_ms);
    let high = world
        .submit_job_run(setup.high_priority_job(&account))
        .expect("high job accepted")
        .id;
    step_until_idle(&mut world);
    Story {
        world,
        low,
        high,
        start,
    }
}

fn namer(world: &World, jobs: &[(&str, &str)]) -> Namer {
    let mut n = Namer::new(world, demo::CLUSTER_NAME, jobs);
    n.learn_nodes(world);
    n
}

fn preemptions(world: &World) -> Vec<runbook_sim::event::Preemption> {
    world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PodPreempted(p) => Some((**p).clone()),
            _ => None,
        })
        .collect()
}

fn job_states(world: &World, job: &str) -> Vec<JobState> {
    world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobStateChanged { job_id, to, .. } if job_id == job => Some(*to),
            _ => None,
        })
        .collect()
}

/// Walkthrough rows 9, 10 and 17 on one c5.2xlarge (allocatable 7910m / 14162Mi):
/// - CoreDNS takes 140Mi; each job's runner 456Mi; each PySpark driver
///   1024 + 409 + 200 = 1633Mi; each 2G executor 2048 + 819 + 200 = 3067Mi.
/// - The low job takes 8223Mi, leaving 5799Mi; the high job's runner and driver
///   leave 3710Mi: room for one 3067Mi executor, not two.
/// - The second high executor (priority 400) preempts one low executor (100); the
///   reprieve keeps executor #1 (started as early, admitted first) and evicts #2.
/// - Everything else on the node has priority 400 (drivers by template, job runners
///   by the `critical-priority` global default), so nothing else can be a victim.
#[test]
fn priority_story_on_one_node() {
    let story = run_story(DemoOptions::default(), demo::HIGH_JOB_DELAY_MS);
    let world = &story.world;
    let n = namer(world, &[(&story.low, "low"), (&story.high, "high")]);
    assert_timeline(
        &n.timeline(world.events(), story.start, STORY_KINDS),
        &[
            "   0.0 JobStateChanged low PENDING",
            "   5.0 JobStateChanged low SUBMITTED",
            "   5.0 PodScheduled low/controller -> node-1",
            "  25.0 PodScheduled low/driver -> node-1",
            "  57.0 JobStateChanged low RUNNING",
            "  60.0 JobStateChanged high PENDING",
            "  65.0 JobStateChanged high SUBMITTED",
            "  65.0 PodScheduled high/controller -> node-1",
            "  67.0 ExecutorRequested low/executor-1",
            "  67.0 ExecutorRequested low/executor-2",
            "  67.0 PodScheduled low/executor-1 -> node-1",
            "  67.0 PodScheduled low/executor-2 -> node-1",
            "  75.0 PodScheduled high/driver -> node-1",
            "  77.0 JobStateChanged high RUNNING",
            "  87.0 ExecutorRequested high/executor-1",
            "  87.0 ExecutorRequested high/executor-2",
            "  87.0 PodScheduled high/executor-1 -> node-1",
            "  87.0 PodPreempted low/executor-2 by high/executor-2 on node-1",
            "  87.0 ExecutorLost low/executor-2",
            "  87.0 PodNominated high/executor-2 to node-1",
            " 117.0 PodDeleted low/executor-2",
            " 117.0 PodScheduled high/executor-2 -> node-1",
            " 118.0 ExecutorRequested low/executor-3",
            " 118.0 PodUnschedulable low/executor-3",
            " 285.0 PodDeleted high/executor-1",
            " 285.0 PodDeleted high/executor-2",
            " 285.0 PodScheduled low/executor-3 -> node-1",
            " 288.0 JobStateChanged high COMPLETED",
            " 375.0 PodDeleted low/executor-1",
            " 375.0 PodDeleted low/executor-3",
            " 378.0 JobStateChanged low COMPLETED",
        ],
    );

    // Executor #2 of the low job is the one victim, right after the high job's
    // executors appear, for a high-priority pod.
    let p = preemptions(world);
    assert_eq!(p.len(), 1, "exactly one preemption");
    let victim = &p[0];
    assert_eq!(victim.pod.job_id.as_deref(), Some(story.low.as_str()));
    assert_eq!(
        (victim.pod.role, victim.pod.executor_id),
        (PodRole::Executor, Some(2))
    );
    assert_eq!(
        victim.preemptor.job_id.as_deref(),
        Some(story.high.as_str())
    );
    assert_eq!((victim.priority, victim.preemptor_priority), (100, 400));
    assert_eq!(victim.reason, "Preempted");
    let victim_pod = world
        .pod(demo::CLUSTER_NAME, &victim.pod.namespace, &victim.pod.name)
        .expect("victim recorded");
    let condition = victim_pod
        .condition(ConditionType::DisruptionTarget)
        .expect("victim has DisruptionTarget");
    assert!(condition.status);
    assert_eq!(condition.reason.as_deref(), Some("PreemptionByScheduler"));
    assert!(victim_pod.preempted());
    let preemptor = world
        .pod_by_uid(&victim.preemptor_uid)
        .expect("preemptor exists");
    assert_eq!(
        victim.message,
        format!("Preempted by pod {} on node {}", preemptor.uid, victim.node)
    );
    // The preemptor bound only after the victim's 30 s grace period.
    assert_eq!(
        preemptor.scheduled_at_ms.expect("bound")
            - victim_pod.deletion_timestamp_ms.expect("deleted"),
        30_000
    );

    // The low job's driver is never preempted and finishes.
    let low_pods = world.job_pods(&story.low);
    let driver = low_pods
        .iter()
        .find(|p| p.role == PodRole::Driver)
        .expect("driver");
    assert_eq!(
        driver.priority_class_name.as_deref(),
        Some("critical-priority")
    );
    assert!(!driver.preempted());
    assert_eq!(driver.phase, PodPhase::Succeeded);
    assert!(driver.deletion_timestamp_ms.is_none());

    // The job runner has no template: the global default gives it priority 400.
    let controller = low_pods
        .iter()
        .find(|p| p.role == PodRole::Controller)
        .expect("runner");
    assert_eq!(
        (
            controller.priority,
            controller.priority_class_name.as_deref()
        ),
        (400, Some("critical-priority"))
    );
    assert_eq!(
        controller
            .labels
            .get(LABEL_EMR_COMPONENT)
            .map(|v| v.as_str()),
        Some("controller")
    );

    // The high job completes first; the low job then gets executor #3 and completes.
    let low_run = world.job_run_by_id(&story.low).expect("low job");
    let high_run = world.job_run_by_id(&story.high).expect("high job");
    assert_eq!(
        (low_run.state, high_run.state),
        (JobState::Completed, JobState::Completed)
    );
    assert!(high_run.finished_at_ms < low_run.finished_at_ms);
    let exec3 = low_pods
        .iter()
        .find(|p| p.executor_id == Some(3))
        .expect("a replacement executor #3");
    assert_eq!(
        exec3.labels.get(LABEL_SPARK_EXEC_ID).map(|v| v.as_str()),
        Some("3")
    );
    assert_eq!(
        exec3.labels.get(LABEL_EMR_JOB_ID).map(|v| v.as_str()),
        Some(story.low.as_str())
    );
    let high_last_executor_gone = world
        .job_pods(&story.high)
        .iter()
        .filter(|p| p.role == PodRole::Executor)
        .filter_map(|p| p.deleted_at_ms)
        .max()
        .expect("high executors deleted");
    assert_eq!(exec3.scheduled_at_ms, Some(high_last_executor_gone));
    assert_eq!(
        low_run.executors.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for state in [
        &job_states(world, &story.low),
        &job_states(world, &story.high),
    ] {
        assert_eq!(
            state,
            &[
                JobState::Pending,
                JobState::Submitted,
                JobState::Running,
                JobState::Completed
            ]
        );
    }
    // The task executor #2 was running was lost and run again.
    assert!(low_run.tasks.iter().any(|t| t.attempts == 2));
}

/// With Container Insights (two more DaemonSet pods, 300m / 400Mi) the node has less
/// room, yet the same single executor gives way: the story does not hinge on exact
/// slack.
#[test]
fn priority_story_with_container_insights() {
    let options = DemoOptions {
        container_insights: true,
        ..DemoOptions::default()
    };
    let story = run_story(options, demo::HIGH_JOB_DELAY_MS);
    let p = preemptions(&story.world);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].pod.role, p[0].pod.executor_id),
        (PodRole::Executor, Some(2))
    );
    let low = story.world.job_run_by_id(&story.low).expect("low");
    let high = story.world.job_run_by_id(&story.high).expect("high");
    assert!(high.finished_at_ms < low.finished_at_ms);
    assert_eq!(low.max_executor_id(), Some(3));
    let agents = story
        .world
        .pods()
        .filter(|p| p.namespace == "amazon-cloudwatch")
        .count();
    assert_eq!(
        agents, 2,
        "one cloudwatch-agent and one fluentd pod on the node"
    );
}

/// The same two jobs on two nodes: room for everything, no preemption at all.
#[test]
fn two_nodes_no_preemption() {
    let options = DemoOptions {
        nodes: 2,
        ..DemoOptions::default()
    };
    let story = run_story(options, demo::HIGH_JOB_DELAY_MS);
    let world = &story.world;
    let n = namer(world, &[(&story.low, "low"), (&story.high, "high")]);
    assert_timeline(
        &n.timeline(world.events(), story.start, STORY_KINDS),
        &[
            "   0.0 JobStateChanged low PENDING",
            "   5.0 JobStateChanged low SUBMITTED",
            "   5.0 PodScheduled low/controller -> node-1",
            "  25.0 PodScheduled low/driver -> node-2",
            "  57.0 JobStateChanged low RUNNING",
            "  60.0 JobStateChanged high PENDING",
            "  65.0 JobStateChanged high SUBMITTED",
            "  65.0 PodScheduled high/controller -> node-1",
            "  67.0 ExecutorRequested low/executor-1",
            "  67.0 ExecutorRequested low/executor-2",
            "  67.0 PodScheduled low/executor-1 -> node-1",
            "  67.0 PodScheduled low/executor-2 -> node-2",
            "  75.0 PodScheduled high/driver -> node-1",
            "  99.0 JobStateChanged high RUNNING",
            " 109.0 ExecutorRequested high/executor-1",
            " 109.0 ExecutorRequested high/executor-2",
            " 109.0 PodScheduled high/executor-1 -> node-2",
            " 109.0 PodScheduled high/executor-2 -> node-1",
            " 265.0 PodDeleted low/executor-1",
            " 265.0 PodDeleted low/executor-2",
            " 268.0 JobStateChanged low COMPLETED",
            " 297.0 PodDeleted high/executor-1",
            " 297.0 PodDeleted high/executor-2",
            " 300.0 JobStateChanged high COMPLETED",
        ],
    );
    assert!(preemptions(world).is_empty());
    // The high job's driver waited 22 s longer than on one node: node-1 had to pull
    // the Spark image first. Nothing was ever unschedulable.
    assert!(
        world
            .events_since(0)
            .iter()
            .filter(|e| e.time_ms >= story.start)
            .all(|e| e.kind.type_name() != "PodUnschedulable")
    );
}

/// Walkthrough row 21: both jobs at once with the Karpenter provisioner. The high
/// executors are placed first (priority order), the second low executor fits nowhere
/// and cannot preempt (everything else has priority >= 100), so after the 1 s batch
/// window the autoscaler launches the cheapest type that holds it plus the DaemonSet
/// pods: a c5.large, spot (allowed and cheaper). The node is removed 30 s after the
/// low job's executors leave it.
#[test]
fn autoscaling_adds_a_node_instead_of_preempting() {
    let options = DemoOptions {
        autoscaling: true,
        ..DemoOptions::default()
    };
    let story = run_story(options, 0);
    let world = &story.world;
    let n = namer(world, &[(&story.low, "low"), (&story.high, "high")]);
    let kinds = [
        STORY_KINDS,
        &[
            "NodeLaunched",
            "NodeAdded",
            "NodeReady",
            "NodeEmpty",
            "NodeRemoved",
        ],
    ]
    .concat();
    assert_timeline(
        &n.timeline(world.events(), story.start, &kinds),
        &[
            "   0.0 JobStateChanged low PENDING",
            "   0.0 JobStateChanged high PENDING",
            "   5.0 JobStateChanged low SUBMITTED",
            "   5.0 JobStateChanged high SUBMITTED",
            "   5.0 PodScheduled low/controller -> node-1",
            "   5.0 PodScheduled high/controller -> node-1",
            "  25.0 PodScheduled low/driver -> node-1",
            "  25.0 PodScheduled high/driver -> node-1",
            "  57.0 JobStateChanged low RUNNING",
            "  57.0 JobStateChanged high RUNNING",
            "  67.0 ExecutorRequested low/executor-1",
            "  67.0 ExecutorRequested low/executor-2",
            "  67.0 ExecutorRequested high/executor-1",
            "  67.0 ExecutorRequested high/executor-2",
            "  67.0 PodScheduled high/executor-1 -> node-1",
            "  67.0 PodScheduled high/executor-2 -> node-1",
            "  67.0 PodScheduled low/executor-1 -> node-1",
            "  67.0 PodUnschedulable low/executor-2",
            "  68.0 NodeLaunched node-2 c5.large spot",
            " 113.0 NodeAdded node-2",
            " 113.0 PodScheduled kube-system/aws-node -> node-2",
            " 113.0 PodScheduled kube-system/kube-proxy -> node-2",
            " 128.0 NodeReady node-2",
            " 128.0 PodScheduled low/executor-2 -> node-2",
            " 255.0 PodDeleted high/executor-1",
            " 255.0 PodDeleted high/executor-2",
            " 258.0 JobStateChanged high COMPLETED",
            " 295.0 PodDeleted low/executor-1",
            " 295.0 PodDeleted low/executor-2",
            " 295.0 NodeEmpty node-2",
            " 298.0 JobStateChanged low COMPLETED",
            " 325.0 PodDeleted kube-system/aws-node",
            " 325.0 PodDeleted kube-system/kube-proxy",
            " 325.0 NodeRemoved node-2 (empty for 30s (ttlSecondsAfterEmpty))",
        ],
    );
    assert!(
        preemptions(world).is_empty(),
        "a node is added instead of preempting"
    );
    let added = world
        .all_nodes()
        .iter()
        .find(|n| n.provisioner.is_some())
        .expect("the autoscaler launched a node");
    assert_eq!(
        added
            .labels
            .get("karpenter.sh/capacity-type")
            .map(String::as_str),
        Some("spot")
    );
    assert_eq!(
        added.labels.get("intent").map(String::as_str),
        Some("emr-job")
    );
    // Karpenter nodes do not carry the managed node group label: the on-demand
    // drivers and high executors reach them through their second affinity term
    // (`karpenter.sh/capacity-type: on-demand`), which this spot node does not match.
    assert!(!added.labels.contains_key("eks.amazonaws.com/capacityType"));
    assert_eq!(
        added.removed_at_ms.expect("removed") - added.empty_since_ms.expect("was empty"),
        demo::TTL_SECONDS_AFTER_EMPTY * 1000
    );
}

/// A critical-priority job whose executors (24G) cannot fit on a c5.2xlarge even with
/// every lower-priority pod gone: no one is evicted for nothing; its executors stay
/// Pending while the low job runs to completion undisturbed.
#[test]
fn impossible_high_priority_job_stays_pending_without_evictions() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let low = world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("low")
        .id;
    step_until(&mut world, start + demo::HIGH_JOB_DELAY_MS);
    let mut big = setup.high_priority_job(&account);
    big.executor_memory = "24G".to_string();
    let high = world.submit_job_run(big).expect("accepted").id;
    step_until(&mut world, start + 3_600_000);
    let n = namer(&world, &[(&low, "low"), (&high, "high")]);
    assert_timeline(
        &n.timeline(world.events(), start, STORY_KINDS),
        &[
            "   0.0 JobStateChanged low PENDING",
            "   5.0 JobStateChanged low SUBMITTED",
            "   5.0 PodScheduled low/controller -> node-1",
            "  25.0 PodScheduled low/driver -> node-1",
            "  57.0 JobStateChanged low RUNNING",
            "  60.0 JobStateChanged high PENDING",
            "  65.0 JobStateChanged high SUBMITTED",
            "  65.0 PodScheduled high/controller -> node-1",
            "  67.0 ExecutorRequested low/executor-1",
            "  67.0 ExecutorRequested low/executor-2",
            "  67.0 PodScheduled low/executor-1 -> node-1",
            "  67.0 PodScheduled low/executor-2 -> node-1",
            "  75.0 PodScheduled high/driver -> node-1",
            "  77.0 JobStateChanged high RUNNING",
            "  87.0 ExecutorRequested high/executor-1",
            "  87.0 ExecutorRequested high/executor-2",
            "  87.0 PodUnschedulable high/executor-1",
            "  87.0 PodUnschedulable high/executor-2",
            " 255.0 PodDeleted low/executor-1",
            " 255.0 PodDeleted low/executor-2",
            " 258.0 JobStateChanged low COMPLETED",
        ],
    );
    assert!(preemptions(&world).is_empty());
    let pending: Vec<_> = world
        .job_pods(&high)
        .into_iter()
        .filter(|p| p.role == PodRole::Executor)
        .collect();
    assert_eq!(pending.len(), 2);
    for p in pending {
        assert_eq!((p.phase, p.node_name.as_ref()), (PodPhase::Pending, None));
        let c = p
            .condition(ConditionType::PodScheduled)
            .expect("condition set");
        assert!(!c.status);
        assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
        assert_eq!(
            c.message.as_deref(),
            Some(
                "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
            )
        );
    }
    assert_eq!(
        world.job_run_by_id(&high).map(|j| j.state),
        Some(JobState::Running)
    );
}

/// Two jobs of equal (low) executor priority: the second one's executors cannot
/// preempt the first one's and wait. Cancelling the first removes its pods after
/// their 30 s grace period, and the waiting executors take the freed room.
#[test]
fn cancel_frees_capacity_for_pending_pods() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let first = world
        .submit_job_run(setup.low_priority_job(&account))
        .expect("first")
        .id;
    let mut second_job = setup.low_priority_job(&account);
    second_job.name = "second-low-priority-job".to_string();
    second_job.virtual_cluster_id = setup.virtual_clusters["nightly-batch"].clone();
    step_until(&mut world, start + 60_000);
    let second = world.submit_job_run(second_job).expect("second").id;
    step_until(&mut world, start + 120_000);
    let vc = setup.virtual_clusters[demo::LOW_NAMESPACE].clone();
    world.cancel_job_run(&vc, &first).expect("cancellable");
    assert_eq!(
        world.job_run(&vc, &first).map(|j| j.state),
        Ok(JobState::CancelPending)
    );
    step_until_idle(&mut world);
    let n = namer(&world, &[(&first, "first"), (&second, "second")]);
    assert_timeline(
        &n.timeline(world.events(), start, STORY_KINDS),
        &[
            "   0.0 JobStateChanged first PENDING",
            "   5.0 JobStateChanged first SUBMITTED",
            "   5.0 PodScheduled first/controller -> node-1",
            "  25.0 PodScheduled first/driver -> node-1",
            "  57.0 JobStateChanged first RUNNING",
            "  60.0 JobStateChanged second PENDING",
            "  65.0 JobStateChanged second SUBMITTED",
            "  65.0 PodScheduled second/controller -> node-1",
            "  67.0 ExecutorRequested first/executor-1",
            "  67.0 ExecutorRequested first/executor-2",
            "  67.0 PodScheduled first/executor-1 -> node-1",
            "  67.0 PodScheduled first/executor-2 -> node-1",
            "  75.0 PodScheduled second/driver -> node-1",
            "  77.0 JobStateChanged second RUNNING",
            "  87.0 ExecutorRequested second/executor-1",
            "  87.0 ExecutorRequested second/executor-2",
            "  87.0 PodScheduled second/executor-1 -> node-1",
            "  87.0 PodUnschedulable second/executor-2",
            " 120.0 JobStateChanged first CANCEL_PENDING",
            " 150.0 PodDeleted first/executor-1",
            " 150.0 PodDeleted first/executor-2",
            " 150.0 PodDeleted first/driver",
            " 150.0 PodDeleted first/controller",
            " 150.0 JobStateChanged first CANCELLED",
            " 150.0 PodScheduled second/executor-2 -> node-1",
            " 315.0 PodDeleted second/executor-1",
            " 315.0 PodDeleted second/executor-2",
            " 318.0 JobStateChanged second COMPLETED",
        ],
    );
    assert!(
        preemptions(&world).is_empty(),
        "equal priority never preempts"
    );
    assert!(matches!(
        world.cancel_job_run(&vc, &first),
        Err(SimError::JobRunNotCancellable { .. })
    ));
}

/// The crate docs claim the story does not depend on PySpark's 0.4 overhead factor:
/// with JVM jobs (2632Mi executors) exactly one low executor still gives way.
#[test]
fn priority_story_with_jvm_jobs() {
    let (mut world, setup, account) = new_demo(&DemoOptions::default());
    let start = world.now();
    let mut low = setup.low_priority_job(&account);
    low.non_jvm = false;
    let low = world.submit_job_run(low).expect("low").id;
    step_until(&mut world, start + demo::HIGH_JOB_DELAY_MS);
    let mut high = setup.high_priority_job(&account);
    high.non_jvm = false;
    let high = world.submit_job_run(high).expect("high").id;
    step_until_idle(&mut world);
    let p = preemptions(&world);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].pod.role, p[0].pod.executor_id),
        (PodRole::Executor, Some(2))
    );
    let low = world.job_run_by_id(&low).expect("low");
    let high = world.job_run_by_id(&high).expect("high");
    assert_eq!(low.executor_sizing.requests.memory_mib, 2632);
    assert!(high.finished_at_ms < low.finished_at_ms);
}
