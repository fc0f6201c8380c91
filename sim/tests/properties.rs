//! Property tests of the scheduler and the whole world, on random workloads: random
//! node types and counts, priority classes (with or without a global default), jobs
//! of random sizes and priorities submitted at random times, cancellations, and
//! sometimes the autoscaler or Container Insights.
//!
//! After every step of the simulation:
//! - no node is over its allocatable CPU, memory or pod count;
//! - no pod was preempted for a pod of equal or lower priority;
//! - no pending pod fits on any node as things stand.
//!
//! And a world serialized at any step and restored continues with exactly the same
//! events as the original.

mod common;

use common::check_invariants;
use proptest::prelude::*;
use runbook_sim::{
    AutoscalerSpec, ClusterSpec, JobSubmission, NodeGroupSpec, PodTemplate, PodTemplateSource,
    PriorityClassSpec, SimParams, World,
};

const TYPES: &[&str] = &[
    "c5.large",
    "c5.xlarge",
    "m5.large",
    "m5.xlarge",
    "r5.large",
    "c5.2xlarge",
];
const CLASSES: &[Option<&str>] = &[None, Some("low"), Some("mid"), Some("high")];

#[derive(Clone, Debug)]
struct JobPlan {
    at_s: u64,
    driver_class: usize,
    executor_class: usize,
    executors: u32,
    cores: u32,
    memory_gib: u32,
    non_jvm: bool,
    tasks_s: Vec<u64>,
    cancel_after_s: Option<u64>,
}

#[derive(Clone, Debug)]
struct Plan {
    seed: u64,
    instance_type: usize,
    nodes: u32,
    global_default: bool,
    autoscaling: bool,
    container_insights: bool,
    jobs: Vec<JobPlan>,
}

fn job_plan() -> impl Strategy<Value = JobPlan> {
    (
        0u64..240,
        0..CLASSES.len(),
        0..CLASSES.len(),
        1u32..=4,
        1u32..=2,
        1u32..=6,
        any::<bool>(),
        prop::collection::vec(5u64..=60, 1..=5),
        prop::option::weighted(0.2, 1u64..200),
    )
        .prop_map(
            |(
                at_s,
                driver_class,
                executor_class,
                executors,
                cores,
                memory_gib,
                non_jvm,
                tasks_s,
                cancel_after_s,
            )| {
                JobPlan {
                    at_s,
                    driver_class,
                    executor_class,
                    executors,
                    cores,
                    memory_gib,
                    non_jvm,
                    tasks_s,
                    cancel_after_s,
                }
            },
        )
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        any::<u64>(),
        0..TYPES.len(),
        1u32..=3,
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
        prop::collection::vec(job_plan(), 1..=6),
    )
        .prop_map(
            |(
                seed,
                instance_type,
                nodes,
                global_default,
                autoscaling,
                container_insights,
                jobs,
            )| Plan {
                seed,
                instance_type,
                nodes,
                global_default,
                autoscaling,
                container_insights,
                jobs,
            },
        )
}

enum Command {
    Submit(Box<JobSubmission>),
    Cancel(usize),
}

/// Builds the world and the timed commands of a plan.
fn build(plan: &Plan) -> (World, Vec<(u64, Command)>) {
    let mut world = World::new(plan.seed, SimParams::default());
    let mut ng = NodeGroupSpec::new("ng", TYPES[plan.instance_type], plan.nodes);
    ng.max_size = plan.nodes.max(10);
    world
        .create_cluster(ClusterSpec::new("c", "1.35", ng))
        .expect("valid cluster");
    world.advance_to(3_600_000).expect("forward");
    let classes = [("low", 100), ("mid", 200), ("high", 300)];
    for (name, value) in classes {
        world
            .create_priority_class("c", PriorityClassSpec::new(name, value, false))
            .expect("class");
    }
    if plan.global_default {
        world
            .create_priority_class("c", PriorityClassSpec::new("default", 150, true))
            .expect("default class");
    }
    if plan.autoscaling {
        world
            .enable_autoscaling("c", AutoscalerSpec::walkthrough())
            .expect("autoscaler");
    }
    if plan.container_insights {
        world.enable_container_insights("c").expect("insights");
    }
    world.create_namespace("c", "ns").expect("ns");
    let vc = world.create_virtual_cluster("vc", "c", "ns").expect("vc");
    let base = world.now();
    let template = |i: usize| {
        PodTemplateSource::Inline(PodTemplate {
            priority_class_name: CLASSES[i].map(str::to_string),
            ..PodTemplate::default()
        })
    };
    let mut commands = Vec::new();
    for (i, j) in plan.jobs.iter().enumerate() {
        let mut sub = JobSubmission::new(vc.clone(), format!("job-{i}"), "emr-6.15.0-latest");
        sub.executors = j.executors;
        sub.executor_cores = j.cores;
        sub.executor_memory = format!("{}g", j.memory_gib);
        sub.non_jvm = j.non_jvm;
        sub.monitoring = i % 2 == 0;
        sub.driver_pod_template = Some(template(j.driver_class));
        sub.executor_pod_template = Some(template(j.executor_class));
        sub.task_durations_ms = Some(j.tasks_s.iter().map(|s| s * 1000).collect());
        let at = base + j.at_s * 1000;
        commands.push((at, Command::Submit(Box::new(sub))));
        if let Some(after) = j.cancel_after_s {
            commands.push((at + after * 1000, Command::Cancel(i)));
        }
    }
    commands.sort_by_key(|(at, _)| *at);
    (world, commands)
}

/// Runs the commands from `from` on, stepping the world between them. `observe` sees
/// the world after every step (with the index of the next command).
fn drive(
    world: &mut World,
    commands: &[(u64, Command)],
    from: usize,
    mut observe: impl FnMut(&World, usize),
) {
    for (i, (at, command)) in commands.iter().enumerate().skip(from) {
        while world.next_event_time().is_some_and(|t| t <= *at) {
            world.step();
            observe(world, i);
        }
        world.advance_to(*at).expect("commands are sorted");
        match command {
            Command::Submit(sub) => {
                world.submit_job_run((**sub).clone()).expect("valid job");
            }
            Command::Cancel(job) => {
                let name = format!("job-{job}");
                let found = world
                    .job_runs()
                    .find(|j| j.name == name)
                    .map(|j| (j.virtual_cluster_id.to_string(), j.id.to_string(), j.state));
                if let Some((vc, id, state)) = found {
                    if !state.is_terminal() {
                        world.cancel_job_run(&vc, &id).expect("cancellable");
                    }
                }
            }
        }
    }
    let mut guard = 0;
    while world.step() {
        observe(world, commands.len());
        guard += 1;
        assert!(guard < 200_000, "the world does not settle");
    }
}

fn job(
    at_s: u64,
    classes: (usize, usize),
    executors: u32,
    memory_gib: u32,
    non_jvm: bool,
    tasks_s: &[u64],
) -> JobPlan {
    JobPlan {
        at_s,
        driver_class: classes.0,
        executor_class: classes.1,
        executors,
        cores: 1,
        memory_gib,
        non_jvm,
        tasks_s: tasks_s.to_vec(),
        cancel_after_s: None,
    }
}

fn run_checked(plan: &Plan) {
    let (mut world, commands) = build(plan);
    drive(&mut world, &commands, 0, |w, _| check_invariants(w));
}

/// Regressions the property tests found, kept as fixed cases.
#[test]
fn regression_preemptor_deleted_with_its_victims() {
    // An executor evicts its own job's driver; the job fails and deletes the
    // executor; it must not stay nominated (its phantom reservation blocked a node).
    run_checked(&Plan {
        seed: 11592295839692327739,
        instance_type: 0,
        nodes: 3,
        global_default: false,
        autoscaling: false,
        container_insights: true,
        jobs: vec![
            job(74, (0, 0), 1, 1, false, &[5]),
            job(0, (0, 0), 1, 1, false, &[5]),
            job(0, (1, 0), 1, 1, false, &[5]),
            job(77, (1, 2), 2, 1, false, &[5]),
        ],
    });
}

#[test]
fn regression_waiting_preemptor_binds_elsewhere() {
    // A pod nominated to one node binds on another node that frees up first.
    run_checked(&Plan {
        seed: 11592295839692327739,
        instance_type: 1,
        nodes: 2,
        global_default: true,
        autoscaling: false,
        container_insights: true,
        jobs: vec![
            job(105, (0, 0), 1, 1, false, &[5]),
            job(74, (0, 2), 1, 1, true, &[5]),
            job(27, (0, 0), 1, 3, false, &[5]),
            JobPlan {
                cores: 2,
                ..job(21, (0, 1), 1, 1, false, &[5])
            },
            job(74, (1, 0), 1, 1, false, &[5]),
        ],
    });
}

#[test]
fn regression_nominated_pod_in_a_parked_shape() {
    // The first pod of a shape fails; a later, nominated pod of the same shape must
    // still get its own attempt when its node frees up.
    run_checked(&Plan {
        seed: 0,
        instance_type: 4,
        nodes: 2,
        global_default: false,
        autoscaling: true,
        container_insights: false,
        jobs: vec![
            job(96, (1, 1), 2, 5, true, &[5]),
            job(18, (1, 0), 3, 3, false, &[31]),
            job(174, (2, 0), 1, 1, false, &[5]),
        ],
    });
}

#[test]
fn regression_unscheduled_job_runner_of_a_timed_out_job() {
    // A job that times out while its runner was never scheduled: the runner must
    // leave the queue, not be bound later as a finished pod.
    run_checked(&Plan {
        seed: 0,
        instance_type: 0,
        nodes: 1,
        global_default: false,
        autoscaling: false,
        container_insights: false,
        jobs: vec![
            job(0, (0, 0), 1, 1, false, &[5]),
            job(196, (0, 0), 1, 1, false, &[5]),
            job(0, (0, 0), 1, 1, false, &[5]),
            job(196, (0, 0), 1, 1, false, &[5]),
        ],
    });
}

#[test]
fn regression_preemption_ping_pong() {
    // A nominated preemptor whose victims were already terminating (their job had
    // failed) kept "preempting" them again, each time withdrawing a lower pod's
    // nomination, which woke it again: an endless loop within one instant.
    run_checked(&Plan {
        seed: 6985759449964828748,
        instance_type: 2,
        nodes: 1,
        global_default: false,
        autoscaling: true,
        container_insights: true,
        jobs: vec![
            job(224, (1, 3), 1, 1, false, &[37]),
            job(87, (0, 1), 4, 6, true, &[37, 39]),
            job(165, (3, 3), 4, 2, true, &[16, 20, 42]),
            job(179, (3, 2), 1, 2, true, &[39, 18, 19, 15]),
        ],
    });
}

/// 48 cases by default (each simulates a cluster for an hour of virtual time);
/// `PROPTEST_CASES=2000` for a deeper search.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 48;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scheduler_invariants_hold_after_every_step(plan in plan()) {
        let (mut world, commands) = build(&plan);
        drive(&mut world, &commands, 0, |w, _| check_invariants(w));
        // Every job ends, or waits for capacity that never comes.
        for j in world.job_runs() {
            prop_assert!(
                j.state.is_terminal() || matches!(j.state, runbook_sim::JobState::Running | runbook_sim::JobState::Submitted),
                "job {} stuck in {}", j.name, j.state
            );
        }
    }

    #[test]
    fn snapshot_at_any_step_continues_identically(plan in plan(), at in 0.0f64..1.0) {
        let (world, commands) = build(&plan);
        // Count the steps of a full run to pick the snapshot point.
        let mut probe = world.clone();
        let mut steps = 0usize;
        drive(&mut probe, &commands, 0, |_, _| steps += 1);
        let target = ((steps as f64) * at) as usize;

        let mut original = world.clone();
        let mut seen = 0usize;
        let mut snapshot: Option<(String, usize)> = None;
        drive(&mut original, &commands, 0, |w, next| {
            if seen == target && snapshot.is_none() {
                snapshot = Some((serde_json::to_string(w).expect("serialize"), next));
            }
            seen += 1;
        });
        let Some((json, next)) = snapshot else {
            return Ok(());
        };
        let mut restored: World = serde_json::from_str(&json).expect("deserialize");
        drive(&mut restored, &commands, next, |_, _| {});
        prop_assert_eq!(
            serde_json::to_string(restored.events()).expect("json"),
            serde_json::to_string(original.events()).expect("json")
        );
        prop_assert_eq!(restored.now(), original.now());
    }

    #[test]
    fn same_seed_and_commands_give_the_same_log(plan in plan()) {
        let (mut a, commands_a) = build(&plan);
        let (mut b, commands_b) = build(&plan);
        drive(&mut a, &commands_a, 0, |_, _| {});
        drive(&mut b, &commands_b, 0, |_, _| {});
        prop_assert_eq!(
            serde_json::to_string(a.events()).expect("json"),
            serde_json::to_string(b.events()).expect("json")
        );
    }
}
