//! Required node affinity in the scheduler and the autoscaler: the demo's on-demand
//! templates (two ORed terms, the node group's capacity label or Karpenter's) land on
//! on-demand nodes of either kind and never on spot ones, and the autoscaler launches
//! for them only what satisfies a term.

mod common;

use common::check_invariants;
use runbook_sim::demo;
use runbook_sim::node::CapacityType;
use runbook_sim::pod::ConditionType;
use runbook_sim::{
    AutoscalerSpec, ClusterSpec, EventKind, JobSubmission, NodeGroupSpec, PodRole, PodTemplate,
    PodTemplateSource, PriorityClassSpec, SimParams, World,
};

/// A ready cluster `c` with the node groups `groups` (name, type, capacity type, size),
/// the demo's PriorityClasses, and a virtual cluster on namespace `ns`; returns the
/// virtual cluster id.
fn cluster(world: &mut World, groups: &[(&str, &str, CapacityType, u32)]) -> String {
    let mut spec: Option<ClusterSpec> = None;
    for &(name, instance_type, capacity_type, size) in groups {
        let mut ng = NodeGroupSpec::new(name, instance_type, size);
        ng.capacity_type = capacity_type;
        match spec.as_mut() {
            Some(s) => s.nodegroups.push(ng),
            None => spec = Some(ClusterSpec::new("c", "1.35", ng)),
        }
    }
    world
        .create_cluster(spec.expect("a node group"))
        .expect("cluster");
    let total: u32 = groups.iter().map(|g| g.3).sum();
    world.run_until(3_600_000, |w| {
        w.nodes("c")
            .is_ok_and(|n| n.len() == total as usize && n.iter().all(|n| n.ready))
    });
    for (name, value, default) in demo::PRIORITY_CLASSES {
        world
            .create_priority_class("c", PriorityClassSpec::new(name, value, default))
            .expect("class");
    }
    world.create_namespace("c", "ns").expect("ns");
    world.create_virtual_cluster("vc", "c", "ns").expect("vc")
}

fn template(yaml: &str) -> PodTemplateSource {
    PodTemplateSource::Inline(PodTemplate::from_yaml(yaml).expect("valid template"))
}

/// A template of `class` whose pods require `term`s (each a YAML flow list of
/// `matchExpressions`), ORed.
fn affinity(class: &str, terms: &[&str]) -> String {
    let mut yaml = format!(
        "apiVersion: v1\nkind: Pod\nspec:\n  priorityClassName: {class}\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n"
    );
    for term in terms {
        yaml.push_str(&format!("        - matchExpressions: {term}\n"));
    }
    yaml
}

/// Submits a job of two executors whose driver uses the demo's driver template;
/// returns its id.
fn submit(
    world: &mut World,
    vc: &str,
    name: &str,
    executor_template: &str,
    executor_memory: &str,
) -> String {
    let mut j = JobSubmission::new(vc.to_string(), name, "emr-7.13.0-latest");
    j.executors = 2;
    j.executor_memory = executor_memory.to_string();
    j.driver_pod_template = Some(template(demo::DRIVER_TEMPLATE_YAML));
    j.executor_pod_template = Some(template(executor_template));
    j.task_durations_ms = Some(vec![120_000, 120_000]);
    world.submit_job_run(j).expect("submitted").id
}

fn run_checked(world: &mut World, until: u64) {
    while world.next_event_time().is_some_and(|t| t <= until) {
        world.step();
        check_invariants(world);
    }
}

/// The nodes (by node group or provisioner) the job's driver and executors were
/// bound to.
fn placements(world: &World, job_id: &str) -> Vec<(PodRole, String)> {
    let node_owner = |name: &str| {
        world
            .all_nodes()
            .iter()
            .find(|n| n.name.as_str() == name)
            .and_then(|n| n.nodegroup.clone().or_else(|| n.provisioner.clone()))
            .unwrap_or_default()
    };
    let mut placed: Vec<(PodRole, String)> = world
        .job_pods(job_id)
        .iter()
        .filter(|p| matches!(p.role, PodRole::Driver | PodRole::Executor))
        .filter_map(|p| p.node_name.as_deref().map(|n| (p.role, node_owner(n))))
        .collect();
    placed.sort_by_key(|(role, owner)| (role.as_str(), owner.clone()));
    placed
}

#[test]
fn the_scheduler_places_pods_only_on_nodes_a_term_matches() {
    let mut world = World::new(7, SimParams::default());
    let vc = cluster(
        &mut world,
        &[
            ("spot", "r5.2xlarge", CapacityType::Spot, 1),
            ("ondemand", "r5.2xlarge", CapacityType::OnDemand, 1),
        ],
    );
    // The demo's on-demand executors: the node group's label matches (Karpenter's
    // term matches no node here).
    let on_demand = submit(
        &mut world,
        &vc,
        "od",
        demo::HIGH_EXECUTOR_TEMPLATE_YAML,
        "2g",
    );
    // NotIn: anything but on-demand, so the spot group.
    let not_on_demand = affinity(
        "low-priority",
        &["[{key: eks.amazonaws.com/capacityType, operator: NotIn, values: [ON_DEMAND]}]"],
    );
    let spot = submit(&mut world, &vc, "spot", &not_on_demand, "2g");
    // Exists on a label no node has, ANDed with one every node has: nowhere.
    let nowhere = affinity(
        "low-priority",
        &[
            "[{key: kubernetes.io/os, operator: In, values: [linux]}, {key: karpenter.sh/nodepool, operator: Exists}]",
        ],
    );
    let stuck = submit(&mut world, &vc, "stuck", &nowhere, "2g");
    let t = world.now();
    run_checked(&mut world, t + 100_000);

    assert_eq!(
        placements(&world, &on_demand),
        vec![
            (PodRole::Driver, "ondemand".to_string()),
            (PodRole::Executor, "ondemand".to_string()),
            (PodRole::Executor, "ondemand".to_string()),
        ]
    );
    assert_eq!(
        placements(&world, &spot),
        vec![
            (PodRole::Driver, "ondemand".to_string()),
            (PodRole::Executor, "spot".to_string()),
            (PodRole::Executor, "spot".to_string()),
        ]
    );
    let stuck_executors: Vec<_> = world
        .job_pods(&stuck)
        .into_iter()
        .filter(|p| p.role == PodRole::Executor)
        .collect();
    assert_eq!(stuck_executors.len(), 2);
    assert!(
        stuck_executors.iter().all(|p| p.node_name.is_none()
            && p.condition(ConditionType::PodScheduled)
                .is_some_and(|c| !c.status)),
        "no node satisfies the term: {stuck_executors:?}"
    );
}

#[test]
fn the_autoscaler_launches_what_a_term_allows() {
    let mut world = World::new(7, SimParams::default());
    let vc = cluster(
        &mut world,
        &[("ondemand", "c5.xlarge", CapacityType::OnDemand, 1)],
    );
    let mut pool = AutoscalerSpec::walkthrough();
    pool.name = "runbook-emr".into();
    world.enable_autoscaling("c", pool).expect("autoscaler");
    // Critical executors that cannot fit on the c5.xlarge and have nothing to preempt:
    // only Karpenter's term can be satisfied by a new node, and only on-demand (spot
    // is allowed and cheaper, but the term says on-demand).
    let on_demand = submit(
        &mut world,
        &vc,
        "od",
        demo::HIGH_EXECUTOR_TEMPLATE_YAML,
        "6g",
    );
    // The walkthrough's selector alone: a node group label no Karpenter node has.
    let group_only = affinity(
        "critical-priority",
        &["[{key: eks.amazonaws.com/capacityType, operator: In, values: [ON_DEMAND]}]"],
    );
    let stuck = submit(&mut world, &vc, "group-only", &group_only, "6g");
    let t = world.now();
    run_checked(&mut world, t + 400_000);

    let launched: Vec<&runbook_sim::Node> = world
        .all_nodes()
        .iter()
        .filter(|n| n.provisioner.is_some())
        .collect();
    assert!(!launched.is_empty(), "the autoscaler launched a node");
    for node in &launched {
        assert_eq!(node.capacity_type, CapacityType::OnDemand, "{node:?}");
        for (key, value) in [
            ("karpenter.sh/capacity-type", "on-demand"),
            ("karpenter.sh/nodepool", "runbook-emr"),
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/os", "linux"),
        ] {
            assert_eq!(
                node.labels.get(key).map(String::as_str),
                Some(value),
                "{key} on {}",
                node.name
            );
        }
    }
    let executors_on_karpenter = placements(&world, &on_demand)
        .into_iter()
        .filter(|(role, owner)| *role == PodRole::Executor && owner == "runbook-emr")
        .count();
    assert_eq!(executors_on_karpenter, 2);
    // Every launch was for the on-demand job's pods, none for the group-only ones.
    let launches_for: u32 = world
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NodeLaunched {
                pending_pods,
                provisioner: Some(_),
                ..
            } => Some(*pending_pods),
            _ => None,
        })
        .sum();
    assert_eq!(launches_for, 2, "only the two on-demand executors");
    assert!(
        world
            .job_pods(&stuck)
            .iter()
            .filter(|p| p.role == PodRole::Executor)
            .all(|p| p.node_name.is_none()),
        "no Karpenter node can carry the node group's label"
    );
}
