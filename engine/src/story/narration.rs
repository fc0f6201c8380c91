//! Events into the story's lines, in the words of the priority demo's summary
//! ("executor #2 of the low-priority job preempted on NODE by POD (priority 400 >
//! 100)", "replacement executor #3 ... running", "... COMPLETED after 6m18s").
//!
//! The story is what a presenter talks about: jobs submitted and their states,
//! drivers and executors running, preemptions, replacements, nodes the autoscaler adds
//! and removes, and the cluster's own life. The rest (every task, every pod scheduled
//! or deleted, the cluster's system pods) is detail, told only when asked for
//! (`--verbose`).

use std::time::Duration;

use runbook_backend::ObservedEvent;
use runbook_backend::duration::Humane;
use runbook_backend::events::{EventKind, JobState, PodRef, PodRole};

use super::cast::Cast;
use super::{StoryLine, Tone};

/// Tells a run's events as lines, remembering who is who.
#[derive(Debug)]
pub struct Narration {
    cast: Cast,
    /// Whether detail is told too.
    detail: bool,
}

/// A line's words and tone, or detail (told only with `--verbose`).
enum Told {
    Story(String, Tone),
    Detail(String),
}

impl Narration {
    /// A narration of the story alone, or with its detail (`--verbose`).
    pub fn new(detail: bool) -> Narration {
        Narration {
            cast: Cast::default(),
            detail,
        }
    }

    /// Learns who is who from an event without telling it (what happened before a
    /// resumed run's process started).
    pub fn learn(&mut self, event: &ObservedEvent) {
        self.cast.learn(&event.kind, event.at_ms);
    }

    /// The line that tells `event`, if it is part of the story (or of its detail, when
    /// that is told).
    pub fn tell(&mut self, event: &ObservedEvent) -> Option<StoryLine> {
        self.learn(event);
        let (text, tone) = match self.words(event)? {
            Told::Story(text, tone) => (text, tone),
            Told::Detail(text) => (text, Tone::Plain),
        };
        Some(StoryLine {
            at_ms: event.at_ms,
            kind: event.type_name(),
            text,
            tone,
        })
    }

    /// Detail, if it is told: its words are only made then (a run's tasks and pods
    /// far outnumber its story).
    fn detail(&self, words: impl FnOnce() -> String) -> Option<Told> {
        self.detail.then(|| Told::Detail(words()))
    }

    fn words(&self, event: &ObservedEvent) -> Option<Told> {
        let cast = &self.cast;
        let story = |text: String| Some(Told::Story(text, Tone::Plain));
        match &event.kind {
            EventKind::ClusterCreating { cluster } => {
                story(format!("cluster {cluster} being created"))
            }
            EventKind::ClusterActive { cluster } => story(format!("cluster {cluster} ACTIVE")),
            EventKind::ClusterDeleting { cluster } => {
                story(format!("cluster {cluster} being deleted"))
            }
            EventKind::ClusterDeleted { cluster } => story(format!("cluster {cluster} deleted")),
            EventKind::NodeLaunched {
                node,
                instance_type,
                capacity_type,
                nodegroup,
                provisioner,
                pending_pods,
                ..
            } => {
                let node = node_name(node);
                let what = format!("{instance_type} {capacity_type}");
                match (provisioner, nodegroup) {
                    (Some(pool), _) => {
                        let mut text =
                            format!("node {node} added by the autoscaler (NodePool {pool}, {what}");
                        match pending_pods {
                            0 => {}
                            1 => text.push_str(", for 1 pending pod"),
                            n => text.push_str(&format!(", for {n} pending pods")),
                        }
                        text.push(')');
                        Some(Told::Story(text, Tone::Highlight))
                    }
                    (None, Some(group)) => story(format!(
                        "node {node} launched for node group {group} ({what})"
                    )),
                    (None, None) => story(format!("node {node} launched ({what})")),
                }
            }
            EventKind::NodeAdded {
                node, allocatable, ..
            } => self.detail(|| {
                format!(
                    "node {} registered (allocatable {allocatable})",
                    node_name(node)
                )
            }),
            EventKind::NodeReady { node, .. } => story(format!("node {} ready", node_name(node))),
            EventKind::NodeEmpty {
                node,
                expires_at_ms,
                ..
            } => self.detail(|| {
                let left = expires_at_ms.saturating_sub(u64::try_from(event.at_ms).unwrap_or(0));
                format!(
                    "node {} empty: removed in {} unless a pod lands on it",
                    node_name(node),
                    Humane(Duration::from_millis(left))
                )
            }),
            EventKind::NodeRemoved { node, reason, .. } => Some(Told::Story(
                format!("node {} removed: {reason}", node_name(node)),
                Tone::Highlight,
            )),
            EventKind::PodCreated { pod, .. } => {
                match pod.job_id.as_deref() {
                    // Only its pods tell of a job whose EMR record is not watched (aws).
                    Some(job) if pod.role == PodRole::Controller && !cast.knows_states_of(job) => {
                        story(format!(
                            "{} submitted: its job runner pod was created in {}",
                            cast.job(job).with_id(),
                            pod.namespace
                        ))
                    }
                    _ => self.detail(|| {
                        format!("{} created{}", cast.pod(pod), in_parens(cast.priority(pod)))
                    }),
                }
            }
            EventKind::PodUnschedulable { pod, message } => {
                // kube-scheduler's message ends with what preemption could not do.
                let why = message
                    .split(" preemption:")
                    .next()
                    .unwrap_or(message)
                    .trim();
                if is_job_pod(pod) {
                    story(format!("{} pending: {why}", cast.pod(pod)))
                } else {
                    self.detail(|| format!("{} pending: {why}", cast.pod(pod)))
                }
            }
            EventKind::PodNominated { pod, node } => self.detail(|| {
                format!(
                    "{} to run on {} once its victims are gone",
                    cast.pod(pod),
                    node_name(node)
                )
            }),
            EventKind::PodScheduled { pod, node } => {
                self.detail(|| format!("{} scheduled on {}", cast.pod(pod), node_name(node)))
            }
            EventKind::PodStarted { pod, node } => match (pod.role, node_name(node)) {
                (PodRole::Executor, node) if cast.is_replacement(pod) => Some(Told::Story(
                    format!("replacement {} running on {node}", cast.pod(pod)),
                    Tone::Highlight,
                )),
                (PodRole::Driver | PodRole::Executor, node) => story(format!(
                    "{} running on {node}{}",
                    cast.pod(pod),
                    in_parens(cast.priority(pod))
                )),
                (PodRole::Controller | PodRole::System, node) => {
                    self.detail(|| format!("{} running on {node}", cast.pod(pod)))
                }
            },
            EventKind::PodPreempted(p) => {
                let mut text = format!(
                    "{} preempted on {} by {}",
                    cast.pod(&p.pod),
                    node_name(&p.node),
                    p.preemptor.name
                );
                text.push_str(&format!(
                    " (priority {} > {})",
                    p.preemptor_priority, p.priority
                ));
                Some(Told::Story(text, Tone::Highlight))
            }
            EventKind::PodTerminating {
                pod,
                grace_period_seconds,
                reason,
                ..
            } => self.detail(|| {
                format!(
                    "{} terminating ({reason}, {grace_period_seconds}s grace)",
                    cast.pod(pod)
                )
            }),
            EventKind::PodSucceeded { pod, .. } => match pod.job_id.as_deref() {
                Some(job) if pod.role == PodRole::Driver && !cast.knows_states_of(job) => Some(
                    Told::Story(format!("{} succeeded", cast.pod(pod)), Tone::Good),
                ),
                _ => self.detail(|| format!("{} succeeded", cast.pod(pod))),
            },
            EventKind::PodFailed { pod, reason, .. } => {
                if is_job_pod(pod) {
                    Some(Told::Story(
                        format!("{} failed: {reason}", cast.pod(pod)),
                        Tone::Bad,
                    ))
                } else {
                    self.detail(|| format!("{} failed: {reason}", cast.pod(pod)))
                }
            }
            EventKind::PodDeleted { pod, reason, .. } => self.detail(|| {
                let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                format!("{} deleted{why}", cast.pod(pod))
            }),
            EventKind::JobStateChanged {
                job_id,
                namespace,
                from,
                to,
                state_details,
                failure_reason,
                ..
            } => {
                let job = cast.job(job_id);
                if from.is_none() {
                    return story(format!("{} submitted to {namespace}", job.with_id()));
                }
                let after = cast
                    .submitted_ms(job_id)
                    .map(|t| {
                        let ms = u64::try_from(event.at_ms.saturating_sub(t)).unwrap_or(0);
                        format!(" after {}", Humane(Duration::from_millis(ms)))
                    })
                    .unwrap_or_default();
                let mut text = format!("{} {to}", job.subject());
                if to.is_terminal() {
                    text.push_str(&after);
                }
                let why: Vec<String> = failure_reason
                    .map(|r| r.to_string())
                    .into_iter()
                    .chain(state_details.as_ref().map(ToString::to_string))
                    .collect();
                if !why.is_empty() {
                    text.push_str(&format!(": {}", why.join(": ")));
                }
                let tone = match to {
                    JobState::Completed => Tone::Good,
                    JobState::Failed => Tone::Bad,
                    _ => Tone::Plain,
                };
                Some(Told::Story(text, tone))
            }
            EventKind::ExecutorRequested {
                job_id,
                executor_id,
                ..
            } => self.detail(|| {
                format!(
                    "executor #{executor_id} of {} requested",
                    cast.job(job_id).object()
                )
            }),
            EventKind::ExecutorRegistered {
                job_id,
                executor_id,
                ..
            } => self.detail(|| {
                format!(
                    "executor #{executor_id} of {} registered with its driver",
                    cast.job(job_id).object()
                )
            }),
            EventKind::ExecutorLost {
                job_id,
                executor_id,
                pod,
                reason,
            } => {
                let text = || {
                    format!(
                        "{} lost executor #{executor_id}: {reason}",
                        cast.job(job_id).subject()
                    )
                };
                if cast.was_preempted(job_id, pod) {
                    // Its preemption told it.
                    self.detail(text)
                } else {
                    Some(Told::Story(text(), Tone::Bad))
                }
            }
            EventKind::TaskStarted {
                job_id,
                task,
                attempt,
                executor_id,
                duration_ms,
            } => self.detail(|| {
                format!(
                    "task {task}{} of {} started on executor #{executor_id} ({})",
                    attempt_text(*attempt),
                    cast.job(job_id).object(),
                    Humane(Duration::from_millis(*duration_ms))
                )
            }),
            EventKind::TaskFinished {
                job_id,
                task,
                attempt,
                ..
            } => self.detail(|| {
                format!(
                    "task {task}{} of {} finished",
                    attempt_text(*attempt),
                    cast.job(job_id).object()
                )
            }),
            EventKind::TaskLost {
                job_id,
                task,
                attempt,
                executor_id,
            } => self.detail(|| {
                format!(
                    "task {task}{} of {} lost with executor #{executor_id}; it runs again",
                    attempt_text(*attempt),
                    cast.job(job_id).object()
                )
            }),
        }
    }
}

/// A node as a line names it: `ip-192-168-87-33` of
/// `ip-192-168-87-33.us-east-2.compute.internal`. Every node of a cluster shares the
/// rest (its region's private DNS domain), which would make each line half domain.
fn node_name(node: &str) -> &str {
    node.split('.').next().unwrap_or(node)
}

/// A pod of an EMR job (not the cluster's own).
fn is_job_pod(pod: &PodRef) -> bool {
    pod.job_id.is_some() && pod.role != PodRole::System
}

fn in_parens(text: Option<String>) -> String {
    text.map(|t| format!(" ({t})")).unwrap_or_default()
}

/// ` (attempt 2)` for a task's second attempt (attempts count from 0).
fn attempt_text(attempt: u32) -> String {
    if attempt == 0 {
        String::new()
    } else {
        format!(" (attempt {})", attempt + 1)
    }
}

#[cfg(test)]
mod tests {
    use runbook_backend::events::{PodRef, PodRole, Preemption, SharedStr};

    use super::*;

    fn pod(
        namespace: &str,
        name: &str,
        role: PodRole,
        job: Option<&str>,
        exec: Option<u32>,
    ) -> PodRef {
        PodRef {
            cluster: "demo".into(),
            namespace: namespace.into(),
            name: name.into(),
            role,
            job_id: job.map(SharedStr::from),
            executor_id: exec,
        }
    }

    fn at(at_ms: i64, kind: EventKind) -> ObservedEvent {
        ObservedEvent { at_ms, kind }
    }

    fn told(narration: &mut Narration, events: &[ObservedEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| narration.tell(e))
            .map(|l| format!("{} {}", l.at_ms / 1000, l.text))
            .collect()
    }

    /// What the `aws` target's watches give: pods and nodes, no EMR job records.
    #[test]
    fn a_job_seen_only_through_its_pods_is_told_by_them() {
        let runner = pod("batch", "j1-abcde", PodRole::Controller, Some("j1"), None);
        let driver = pod(
            "batch",
            "spark-j1-driver",
            PodRole::Driver,
            Some("j1"),
            None,
        );
        let exec2 = pod(
            "batch",
            "app-exec-2",
            PodRole::Executor,
            Some("j1"),
            Some(2),
        );
        let exec3 = pod(
            "batch",
            "app-exec-3",
            PodRole::Executor,
            Some("j1"),
            Some(3),
        );
        let high = pod("rt", "hi-exec-1", PodRole::Executor, Some("j2"), Some(1));
        let created = |p: &PodRef, priority| EventKind::PodCreated {
            pod: p.clone(),
            priority,
            priority_class: None,
            requests: Default::default(),
        };
        let started = |p: &PodRef| EventKind::PodStarted {
            pod: p.clone(),
            node: "ip-10-0-1-2.ec2.internal".into(),
        };
        let events = [
            at(1_000, created(&runner, 400)),
            at(2_000, created(&driver, 400)),
            at(3_000, started(&driver)),
            at(4_000, created(&exec2, 100)),
            at(5_000, started(&exec2)),
            at(
                6_000,
                EventKind::PodPreempted(Box::new(Preemption {
                    pod: exec2.clone(),
                    node: "ip-10-0-1-2.ec2.internal".into(),
                    priority: 100,
                    preemptor: high.clone(),
                    preemptor_uid: "".into(),
                    preemptor_priority: 400,
                    reason: "Preempted".into(),
                    message: "".into(),
                })),
            ),
            at(7_000, created(&exec3, 100)),
            at(8_000, started(&exec3)),
            at(
                9_000,
                EventKind::PodSucceeded {
                    pod: driver.clone(),
                    node: "ip-10-0-1-2.ec2.internal".into(),
                },
            ),
        ];
        assert_eq!(
            told(&mut Narration::new(false), &events),
            [
                "1 job j1 submitted: its job runner pod was created in batch",
                "3 driver of job j1 running on ip-10-0-1-2 (priority 400)",
                "5 executor #2 of job j1 running on ip-10-0-1-2 (priority 100)",
                "6 executor #2 of job j1 preempted on ip-10-0-1-2 by hi-exec-1 (priority 400 > 100)",
                "8 replacement executor #3 of job j1 running on ip-10-0-1-2",
                "9 driver of job j1 succeeded",
            ]
        );
    }

    #[test]
    fn jobs_of_one_name_are_told_apart_and_a_lost_executor_is_bad_news() {
        let submitted = |id: &str| EventKind::JobStateChanged {
            job_id: id.into(),
            job_name: "nightly-batch-etl".into(),
            virtual_cluster_id: "vc".into(),
            namespace: "nightly-batch".into(),
            from: None,
            to: JobState::Pending,
            state_details: None,
            failure_reason: None,
        };
        let events = [
            at(0, submitted("j1")),
            at(1_000, submitted("j2")),
            at(
                61_000,
                EventKind::ExecutorLost {
                    job_id: "j1".into(),
                    executor_id: 1,
                    pod: "etl-exec-1".into(),
                    reason: "executor pod etl-exec-1 failed: OOMKilled".into(),
                },
            ),
            at(
                90_000,
                EventKind::JobStateChanged {
                    job_id: "j2".into(),
                    job_name: "nightly-batch-etl".into(),
                    virtual_cluster_id: "vc".into(),
                    namespace: "nightly-batch".into(),
                    from: Some(JobState::Running),
                    to: JobState::Failed,
                    state_details: Some("driver lost".into()),
                    failure_reason: Some(runbook_backend::events::FailureReason::UserError),
                },
            ),
        ];
        let mut narration = Narration::new(false);
        let lines: Vec<StoryLine> = events.iter().filter_map(|e| narration.tell(e)).collect();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "etl job j1 submitted to nightly-batch",
                "etl job j2 submitted to nightly-batch",
                "etl job j1 lost executor #1: executor pod etl-exec-1 failed: OOMKilled",
                "etl job j2 FAILED after 1m29s: USER_ERROR: driver lost",
            ]
        );
        assert_eq!(lines[2].tone, Tone::Bad);
        assert_eq!(lines[3].tone, Tone::Bad);
    }

    #[test]
    fn detail_is_told_only_when_asked_for() {
        let task = at(
            5_000,
            EventKind::TaskStarted {
                job_id: "j1".into(),
                task: 3,
                attempt: 1,
                executor_id: 2,
                duration_ms: 80_000,
            },
        );
        assert_eq!(Narration::new(false).tell(&task), None);
        assert_eq!(
            Narration::new(true).tell(&task).map(|l| l.text),
            Some("task 3 (attempt 2) of job j1 started on executor #2 (1m20s)".into())
        );
    }

    #[test]
    fn what_was_learned_before_a_resume_names_the_jobs_after_it() {
        let mut narration = Narration::new(false);
        narration.learn(&at(
            0,
            EventKind::JobStateChanged {
                job_id: "j1".into(),
                job_name: "monthly-batch-low-priority-job".into(),
                virtual_cluster_id: "vc".into(),
                namespace: "monthly-batch".into(),
                from: None,
                to: JobState::Pending,
                state_details: None,
                failure_reason: None,
            },
        ));
        let done = narration.tell(&at(
            378_000,
            EventKind::JobStateChanged {
                job_id: "j1".into(),
                job_name: "monthly-batch-low-priority-job".into(),
                virtual_cluster_id: "vc".into(),
                namespace: "monthly-batch".into(),
                from: Some(JobState::Running),
                to: JobState::Completed,
                state_details: None,
                failure_reason: None,
            },
        ));
        assert_eq!(
            done.map(|l| (l.text, l.tone)),
            Some(("low-priority job COMPLETED after 6m18s".into(), Tone::Good))
        );
    }
}
