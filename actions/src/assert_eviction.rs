//! `assert-eviction`: the walkthrough's outcome as an assertion that can fail.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::observed::Observed;
use crate::planned_call::{PlanContext, PlannedCall, Service};
use runbook_backend::ActionError;
use runbook_backend::ObservedEvent;
use runbook_backend::duration::{Humane, HumaneDuration};
use runbook_backend::events::{EventKind, PodRef, PodRole, Preemption, TerminationReason};

/// The action; [`AssertEvictionInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct AssertEviction;

/// Checks, from the pods' `DisruptionTarget`/`PreemptionByScheduler` records and the
/// `Preempted` events, that executors of the victim job were preempted by pods of a
/// higher priority (of the preemptor job, if given, within `within` of its first pod),
/// that the victim's driver was not, and that Spark brought replacement executors back.
/// When it fails it says what happened instead.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssertEvictionInput {
    /// The job whose executors should have been preempted (job run id).
    victim_job: String,
    /// The job whose pods should have preempted them (job run id).
    #[serde(default)]
    preemptor_job: Option<String>,
    /// Preemptions must happen within this long after the preemptor job's first pod
    /// appeared (needs `preemptor_job`).
    #[serde(default)]
    within: Option<HumaneDuration>,
    /// At least this many executors must have been preempted.
    #[serde(default = "one")]
    min_evicted: usize,
    /// The victim's driver must not have been preempted (the walkthrough keeps it at a
    /// high priority for exactly this).
    #[serde(default = "yes")]
    driver_survives: bool,
    /// Each preempted executor must have been replaced by a new executor that started.
    #[serde(default = "yes")]
    replacements: bool,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

/// A preempted pod.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Eviction {
    /// The preempted pod.
    pod: String,
    /// Its Spark executor id.
    executor_id: Option<u64>,
    /// The node it ran on.
    node: String,
    /// When it was preempted (ms; virtual time on sim).
    at_ms: i64,
    /// The pod that preempted it.
    preemptor_pod: String,
    /// The job of the pod that preempted it.
    preemptor_job: Option<String>,
}

/// An executor that came back.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Replacement {
    /// The new executor's pod.
    pod: String,
    /// Its executor id (higher than the preempted ones').
    executor_id: u64,
    /// When it started running (ms).
    started_at_ms: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AssertEvictionOutput {
    /// The victim's preempted executors.
    evicted: Vec<Eviction>,
    /// The first pod that preempted one of them.
    preemptor: String,
    /// Executors that replaced them.
    replacements: Vec<Replacement>,
}

/// Whether `pod` is a pod of `job` in `role`.
fn is_job_pod(pod: &PodRef, job: &str, role: PodRole) -> bool {
    pod.job_id.as_deref() == Some(job) && pod.role == role
}

/// The preemptions recorded, with when each happened.
/// Each preempted pod once, in the order they were preempted. A later record of the
/// same pod's preemption supersedes the earlier one: on `aws` a `Preempted` event that
/// came late completes a preemption first recorded without its preemptor.
fn preemptions(events: &[ObservedEvent]) -> Vec<(i64, &Preemption)> {
    let mut found: Vec<(i64, &Preemption)> = Vec::new();
    for e in events {
        let EventKind::PodPreempted(p) = &e.kind else {
            continue;
        };
        let same_pod = |(_, seen): &&mut (i64, &Preemption)| {
            seen.pod.cluster == p.pod.cluster
                && seen.pod.namespace == p.pod.namespace
                && seen.pod.name == p.pod.name
        };
        match found.iter_mut().find(same_pod) {
            Some(earlier) => earlier.1 = p,
            None => found.push((e.at_ms, p)),
        }
    }
    found
}

impl Action for AssertEviction {
    type Input = AssertEvictionInput;
    type Output = AssertEvictionOutput;
    const NAME: &'static str = "assert-eviction";
    const SUMMARY: &'static str = "Assert that a job's executors were preempted by a higher-priority job, its driver survived, and replacements came back.";
    const EFFECTS: Effects = Effects::Pure;

    async fn run(
        &self,
        input: AssertEvictionInput,
        ctx: &StepContext,
    ) -> Result<AssertEvictionOutput, ActionError> {
        let observed = Observed::now(ctx).await;
        observed.explained(judge(input, &observed.events))
    }

    fn planned_calls(
        input: &AssertEvictionInput,
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check_window(input)?;
        Ok(vec![
            PlannedCall::new(
                Service::Local,
                "read observed events",
                json!({"victim_job": input.victim_job, "preemptor_job": input.preemptor_job}),
            )
            .note("pods' DisruptionTarget conditions and Preempted events recorded by the run's watch; no call"),
        ])
    }
}

/// `within` is measured from the preemptor job's first pod, so it needs that job.
fn check_window(input: &AssertEvictionInput) -> Result<(), ActionError> {
    if input.within.is_some() && input.preemptor_job.is_none() {
        return Err(ActionError::InvalidInput(
            "`within` needs `preemptor_job`".into(),
        ));
    }
    Ok(())
}

/// What happened to the victim's executors, when too few were preempted.
fn explain_no_eviction(
    events: &[ObservedEvent],
    victim: &str,
    input: &AssertEvictionInput,
    found: usize,
) -> String {
    let executors: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PodCreated { pod, .. } if is_job_pod(pod, victim, PodRole::Executor) => {
                Some(pod.name.as_str())
            }
            _ => None,
        })
        .collect();
    let ran = |name: &str| {
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::PodStarted { pod, .. } if pod.name == name))
    };
    let finished = |name: &str| {
        events.iter().any(|e| match &e.kind {
            EventKind::PodSucceeded { pod, .. } => pod.name == name,
            EventKind::PodDeleted { pod, reason, .. } => {
                pod.name == name && *reason == Some(TerminationReason::ApplicationFinished)
            }
            _ => false,
        })
    };
    // Only executors that ran count: one created but never scheduled is deleted with
    // the application, and may even be reported Succeeded, without running at all.
    let completed = executors.iter().filter(|n| ran(n) && finished(n)).count();
    let preempted_by_others = if input.preemptor_job.is_some() {
        preemptions(events)
            .iter()
            .filter(|(_, p)| is_job_pod(&p.pod, victim, PodRole::Executor))
            .count()
    } else {
        0
    };
    let mut text = if found == 0 {
        format!("no executor of job {victim} was preempted")
    } else {
        format!(
            "only {found} executor(s) of job {victim} were preempted, {} expected",
            input.min_evicted
        )
    };
    if let Some(p) = &input.preemptor_job {
        text.push_str(&format!(" by job {p}"));
        if preempted_by_others > found {
            text.push_str(&format!(" ({} by other pods)", preempted_by_others - found));
        }
    }
    if executors.is_empty() {
        text.push_str("; it never had executors");
    } else {
        let still = executors.len() - completed;
        text.push_str(&format!(
            "; {completed} of its {} executor(s) ran to completion",
            executors.len()
        ));
        if still > 0 && completed > 0 {
            text.push_str(&format!(", {still} did not"));
        }
    }
    text
}

/// The judgment on the recorded `events` (pure: the record is read once, by the
/// caller, with why it may be incomplete).
fn judge(
    input: AssertEvictionInput,
    events: &[ObservedEvent],
) -> Result<AssertEvictionOutput, ActionError> {
    check_window(&input)?;
    let victim = input.victim_job.as_str();
    let preempted = preemptions(events);
    let driver_hit = preempted
        .iter()
        .find(|(_, p)| is_job_pod(&p.pod, victim, PodRole::Driver));
    let mut evictions: Vec<(i64, &Preemption)> = preempted
        .iter()
        .copied()
        .filter(|(_, p)| is_job_pod(&p.pod, victim, PodRole::Executor))
        .collect();
    if let Some(preemptor) = &input.preemptor_job {
        evictions.retain(|(_, p)| p.preemptor.job_id.as_deref() == Some(preemptor.as_str()));
    }
    // A preempted driver comes first: it explains the rest (its executors go with
    // it, and may not be recorded as preempted themselves).
    if input.driver_survives {
        if let Some((_, hit)) = driver_hit {
            return Err(ActionError::Failed(format!(
                "the driver of job {victim} ({}) was preempted by {}; give the driver a higher priority class than the executors",
                hit.pod.name, hit.preemptor.name
            )));
        }
    }
    if evictions.len() < input.min_evicted {
        return Err(ActionError::Failed(explain_no_eviction(
            events,
            victim,
            &input,
            evictions.len(),
        )));
    }
    if let (Some(window), Some(preemptor)) = (input.within, &input.preemptor_job) {
        let first = events
            .iter()
            .find(|e| {
                matches!(&e.kind, EventKind::PodCreated { pod, .. }
                        if pod.job_id.as_deref() == Some(preemptor.as_str()))
            })
            .map(|e| e.at_ms);
        if let Some(t0) = first {
            let limit = t0 + i64::try_from(window.0.as_millis()).unwrap_or(i64::MAX);
            if let Some((at_ms, late)) = evictions.iter().find(|(at_ms, _)| *at_ms > limit) {
                return Err(ActionError::Failed(format!(
                    "executor pod {} of job {victim} was preempted {} after job {preemptor}'s first pod appeared, later than the {} allowed",
                    late.pod.name,
                    Humane(Duration::from_millis((at_ms - t0).unsigned_abs())),
                    Humane(window.0)
                )));
            }
        }
    }
    let max_evicted = evictions
        .iter()
        .filter_map(|(_, p)| p.pod.executor_id)
        .max()
        .unwrap_or(0);
    let first_eviction = evictions.iter().map(|(at_ms, _)| *at_ms).min().unwrap_or(0);
    let replacements: Vec<Replacement> = events
        .iter()
        .filter(|e| e.at_ms >= first_eviction)
        .filter_map(|e| match &e.kind {
            EventKind::PodStarted { pod, .. } if is_job_pod(pod, victim, PodRole::Executor) => {
                let id = pod.executor_id?;
                (id > max_evicted).then(|| Replacement {
                    pod: pod.name.to_string(),
                    executor_id: u64::from(id),
                    started_at_ms: e.at_ms,
                })
            }
            _ => None,
        })
        .collect();
    if input.replacements && replacements.len() < evictions.len() {
        return Err(ActionError::Failed(format!(
            "{} executor(s) of job {victim} were preempted but only {} replacement(s) started",
            evictions.len(),
            replacements.len()
        )));
    }
    let preemptor = evictions[0].1.preemptor.name.to_string();
    Ok(AssertEvictionOutput {
        evicted: evictions
            .iter()
            .map(|(at_ms, p)| Eviction {
                pod: p.pod.name.to_string(),
                executor_id: p.pod.executor_id.map(u64::from),
                node: p.node.to_string(),
                at_ms: *at_ms,
                preemptor_pod: p.preemptor.name.to_string(),
                preemptor_job: p.preemptor.job_id.as_deref().map(str::to_string),
            })
            .collect(),
        preemptor,
        replacements,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use runbook_sim::{EventKind, PodRole};
    use serde_json::json;

    use runbook_sim::demo;

    use crate::test_support::{SimWorld, high_job, low_job, template_uri};
    use runbook_backend::ActionError;

    fn story_input(low: &str, high: &str) -> serde_json::Value {
        json!({
            "victim_job": low,
            "preemptor_job": high,
            "within": "2m",
            "driver_survives": true,
            "replacements": true,
        })
    }

    #[tokio::test]
    async fn the_walkthroughs_story_on_one_node_passes() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let (low, high) = world.priority_story().await;
        let out = world
            .run("assert-eviction", story_input(&low, &high))
            .await
            .expect("one executor of the low job was preempted");

        let evicted = out["evicted"].as_array().expect("evicted");
        assert_eq!(evicted.len(), 1, "{out}");
        let e = &evicted[0];
        assert_eq!(e["executor_id"], 2);
        assert_eq!(e["preemptor_job"], high.as_str());
        assert_eq!(out["preemptor"], e["preemptor_pod"]);
        let replacements = out["replacements"].as_array().expect("replacements");
        assert_eq!(replacements.len(), 1, "{out}");
        assert_eq!(replacements[0]["executor_id"], 3);
        assert!(replacements[0]["started_at_ms"].as_i64() > e["at_ms"].as_i64());

        // The output agrees with the world's own record.
        let w = world.sim.world();
        let preempted: Vec<_> = w
            .events()
            .iter()
            .filter_map(|ev| match &ev.kind {
                EventKind::PodPreempted(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(preempted.len(), 1);
        let p = &preempted[0];
        assert_eq!(e["pod"], p.pod.name.as_ref());
        assert_eq!(e["node"], p.node.as_ref());
        assert_eq!(p.pod.role, PodRole::Executor);
        assert_eq!(p.pod.job_id.as_deref(), Some(low.as_str()));
        let drivers_preempted = w
            .job_pods(&low)
            .iter()
            .filter(|pod| pod.role == PodRole::Driver && pod.preempted())
            .count();
        assert_eq!(drivers_preempted, 0, "the driver survived");
        let finished = |id: &str| w.job_run_by_id(id).and_then(|j| j.finished_at_ms);
        assert!(
            finished(&high) < finished(&low),
            "the high job finished first"
        );
    }

    /// A preemption recorded twice (first without its preemptor, then complete, as the
    /// aws watches record a late `Preempted` event) is judged once, as completed, so
    /// the check on the preemptor's job passes.
    #[tokio::test]
    async fn a_later_record_of_a_preemption_supersedes_the_first() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let (low, high) = world.priority_story().await;
        let mut events = world.sim.target().observer.events();
        let at = events
            .iter()
            .position(|e| matches!(e.kind, EventKind::PodPreempted(_)))
            .expect("the story's preemption");
        let mut unknown = events[at].clone();
        if let EventKind::PodPreempted(p) = &mut unknown.kind {
            p.preemptor.name = "unknown".into();
            p.preemptor.job_id = None;
        }
        let complete = std::mem::replace(&mut events[at], unknown);
        events.push(complete);
        let input = serde_json::from_value(story_input(&low, &high)).expect("input");
        let out = super::judge(input, &events).expect("judged on the completed record");
        assert_eq!(out.evicted.len(), 1, "one preemption, recorded twice");
        assert_eq!(super::preemptions(&events).len(), 1);
        assert_eq!(
            super::preemptions(&events)[0].1.preemptor.job_id.as_deref(),
            Some(high.as_str())
        );
    }

    /// Spark's sizing settings decide whether anything is preempted, on `sim` as on
    /// EKS: with a 64m memory overhead instead of PySpark's 40 % (819m), both jobs'
    /// pods fit on the one node, so nothing is preempted (with Spark's defaults, the
    /// walkthrough's story test above preempts one executor).
    #[tokio::test]
    async fn smaller_overheads_from_spark_settings_need_no_preemption() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let small =
            json!({"spark.executor.memoryOverhead": "64m", "spark.driver.memoryOverhead": "64m"});
        let mut high = crate::test_support::high_job();
        high["spark_conf"] = small.clone();
        let mut low = crate::test_support::low_job();
        low["spark_conf"] = small;
        let (low, high) = world.priority_story_of(low, high).await;
        let err = world
            .run("assert-eviction", story_input(&low, &high))
            .await
            .expect_err("both jobs fit: no preemption");
        assert!(
            err.to_string().starts_with(&format!(
                "no executor of job {low} was preempted by job {high}"
            )),
            "{err}"
        );
    }

    /// A pod whose class has `preemption_policy: Never` waits instead of evicting: the
    /// walkthrough's story on one node, with the high job's executors in such a class
    /// of the same value, preempts nothing (with the default policy it preempts one
    /// executor, see the story test above).
    #[tokio::test]
    async fn a_class_that_never_preempts_waits_instead() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        world
            .run(
                "create-priority-class",
                json!({"cluster": demo::CLUSTER_NAME, "name": "polite-critical", "value": 400, "preemption_policy": "Never"}),
            )
            .await
            .expect("class made");
        let key = "polite_executor_pod_template.yml";
        let template =
            demo::HIGH_EXECUTOR_TEMPLATE_YAML.replace("critical-priority", "polite-critical");
        assert_ne!(
            template,
            demo::HIGH_EXECUTOR_TEMPLATE_YAML,
            "the template names the class"
        );
        world
            .run(
                "put-object",
                json!({"bucket": crate::test_support::templates_bucket(), "key": key, "content": template}),
            )
            .await
            .expect("template uploaded");
        let mut high = crate::test_support::high_job();
        high["executor_pod_template"] = json!(template_uri(key));
        let (low, high) = world
            .priority_story_of(crate::test_support::low_job(), high)
            .await;
        let err = world
            .run("assert-eviction", story_input(&low, &high))
            .await
            .expect_err("a Never class does not preempt");
        assert!(
            err.to_string().starts_with(&format!(
                "no executor of job {low} was preempted by job {high}"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn on_two_nodes_it_fails_and_says_what_happened_instead() {
        let world = SimWorld::new();
        world.priority_platform(2).await;
        let (low, high) = world.priority_story().await;
        let err = world
            .run("assert-eviction", story_input(&low, &high))
            .await
            .expect_err("room for both jobs: no preemption");
        assert!(matches!(err, ActionError::Failed(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "no executor of job {low} was preempted by job {high}; 2 of its 2 executor(s) ran to completion"
            )
        );
    }

    /// The simulator's record, but with the watches of the aws target failing (a
    /// `Forbidden` list): a record that may have missed the preemption.
    struct BlindObserver(Arc<dyn runbook_backend::Observer>);

    #[async_trait::async_trait]
    impl runbook_backend::Observer for BlindObserver {
        fn events(&self) -> Vec<runbook_backend::ObservedEvent> {
            self.0.events()
        }
        fn watch_errors(&self) -> Vec<String> {
            vec![
                "eks-emr-cluster: pods is forbidden: User \"demo\" cannot watch resource \"pods\""
                    .into(),
            ]
        }
    }

    /// A failed judgment names the failing watches: the record, not the cluster, may
    /// be what is wrong. A passing one is not blamed on them.
    #[tokio::test]
    async fn a_failure_names_the_watches_that_are_failing() {
        let world = SimWorld::new();
        world.priority_platform(2).await;
        let (low, high) = world.priority_story().await;
        let mut target = world.sim.target();
        target.observer = Arc::new(BlindObserver(target.observer.clone()));
        let ctx = world.ctx_on(target, "check", "rb-test-token");
        let action = crate::find("assert-eviction").expect("action");
        let err = action
            .run(story_input(&low, &high), &ctx)
            .await
            .expect_err("room for both jobs: no preemption");
        assert_eq!(
            err.to_string(),
            format!(
                "no executor of job {low} was preempted by job {high}; 2 of its 2 executor(s) ran to completion; but the Kubernetes watches are failing, so what happened may not have been seen (eks-emr-cluster: pods is forbidden: User \"demo\" cannot watch resource \"pods\")"
            )
        );
    }

    #[tokio::test]
    async fn each_check_can_fail() {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let (low, high) = world.priority_story().await;

        let mut input = story_input(&low, &high);
        input["within"] = json!("1s");
        let err = world
            .run("assert-eviction", input)
            .await
            .expect_err("preempted later than 1 s after the high job's first pod");
        let message = err.to_string();
        assert!(
            message.contains(&format!("of job {low} was preempted"))
                && message.contains(&format!("after job {high}'s first pod appeared"))
                && message.ends_with("later than the 1s allowed"),
            "{message}"
        );

        let mut input = story_input(&low, &high);
        input["min_evicted"] = json!(2);
        let err = world
            .run("assert-eviction", input)
            .await
            .expect_err("only one was preempted");
        assert_eq!(
            err.to_string(),
            format!(
                "only 1 executor(s) of job {low} were preempted, 2 expected by job {high}; 2 of its 3 executor(s) ran to completion, 1 did not"
            )
        );

        // The high job's executors were never preempted by anybody.
        let err = world
            .run(
                "assert-eviction",
                json!({"victim_job": high, "preemptor_job": low}),
            )
            .await
            .expect_err("roles reversed");
        assert!(
            err.to_string()
                .starts_with(&format!("no executor of job {high} was preempted")),
            "{err}"
        );

        let err = world
            .run(
                "assert-eviction",
                json!({"victim_job": low, "within": "2m"}),
            )
            .await
            .expect_err("within needs the preemptor");
        assert_eq!(
            err.to_string(),
            "invalid input: `within` needs `preemptor_job`"
        );

        let err = world
            .run(
                "assert-eviction",
                json!({"victim_job": "0000000000000000000"}),
            )
            .await
            .expect_err("unknown job");
        assert!(
            err.to_string().ends_with("; it never had executors"),
            "{err}"
        );
    }

    /// A variant of the story that the walkthrough's templates prevent: the low job's
    /// driver runs at low priority too, and the high job has one executor of
    /// `executor_memory`, submitted as soon as the low executors run. Returns the
    /// world and the ids of the low and the high job, both ended.
    async fn lopsided_story(executor_memory: &str) -> (SimWorld, String, String) {
        let world = SimWorld::new();
        world.priority_platform(1).await;
        let mut low = low_job();
        low["driver_pod_template"] = json!(template_uri(demo::LOW_EXECUTOR_TEMPLATE_KEY));
        let low = world.submit(low, "low").await;
        world
            .run(
                "wait-for-pods",
                json!({"job": low, "role": "executor", "running": 2}),
            )
            .await
            .expect("running");
        let mut high = high_job();
        high["executors"] = json!(1);
        high["executor_memory"] = json!(executor_memory);
        let high = world.submit(high, "high").await;
        for job in [&high, &low] {
            world
                .run(
                    "wait-for-job",
                    json!({"job": job, "expect": ["COMPLETED", "FAILED"]}),
                )
                .await
                .expect("ended");
        }
        (world, low, high)
    }

    #[tokio::test]
    async fn a_preempted_driver_fails_the_driver_check() {
        // With Spark's 0.4 overhead for PySpark, a 7G executor only fits once all three
        // low-priority pods are gone, the driver included.
        let (world, low, high) = lopsided_story("7G").await;
        let err = world
            .run(
                "assert-eviction",
                json!({"victim_job": low, "preemptor_job": high}),
            )
            .await
            .expect_err("the driver was preempted");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "the driver of job {low} (spark-{low}-driver) was preempted by intra-day-batch-high-priority-"
            )) && message.ends_with("give the driver a higher priority class than the executors"),
            "{message}"
        );
        let w = world.sim.world();
        let job = w.job_run_by_id(&low).expect("job");
        assert_eq!(
            job.state,
            runbook_sim::JobState::Failed,
            "it lost its driver"
        );
    }

    #[tokio::test]
    async fn an_executor_that_never_came_back_fails_the_replacement_check() {
        // A 3G executor takes one low executor's place; the other low executor finishes
        // the work before the replacement finds room.
        let (world, low, high) = lopsided_story("3G").await;
        let input = json!({"victim_job": low, "preemptor_job": high});
        let err = world
            .run("assert-eviction", input.clone())
            .await
            .expect_err("the replacement never ran");
        assert_eq!(
            err.to_string(),
            format!("1 executor(s) of job {low} were preempted but only 0 replacement(s) started")
        );
        let mut lenient = input.clone();
        lenient["replacements"] = json!(false);
        let out = world
            .run("assert-eviction", lenient)
            .await
            .expect("without the replacement check");
        assert_eq!(out["replacements"], json!([]));

        // The replacement was created but never ran: it did not run to completion.
        let mut two = input;
        two["min_evicted"] = json!(2);
        let err = world
            .run("assert-eviction", two)
            .await
            .expect_err("only one was preempted");
        assert_eq!(
            err.to_string(),
            format!(
                "only 1 executor(s) of job {low} were preempted, 2 expected by job {high}; 1 of its 3 executor(s) ran to completion, 2 did not"
            )
        );
    }
}
