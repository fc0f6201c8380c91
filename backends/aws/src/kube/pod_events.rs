//! Turning what the pod and event watches deliver into the run's pod events, the
//! interface's [`EventKind`]s the simulator records too (`PodCreated`, `PodStarted`,
//! `PodPreempted`, `PodSucceeded`, `PodFailed`, `PodDeleted`), so `assert-eviction`
//! and the report read a real cluster's run exactly like a simulated one.
//!
//! The scheduler marks a preemption victim twice: it patches the `DisruptionTarget`
//! condition (reason `PreemptionByScheduler`) onto the pod, and it records a
//! `Preempted` event whose message and `related` object name the preemptor. The two
//! arrive on different watches in either order, and only the event says who the
//! preemptor was; so a victim waits here until both, and the preemptor's pod, are
//! known (or [`PENDING_LIMIT_MS`] passes, deleted or not) and is then reported once.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Event, Pod};

use runbook_backend::ObservedEvent;
use runbook_backend::events::{
    EventKind, PodRef, PodRole, Preemption, Resources, SharedStr, TerminationReason,
};

/// How long a preemption waits for its other half (the condition or the event)
/// before it is reported with what is known. Events reach the API server within
/// about a second; a victim is deleted after its grace period.
pub(super) const PENDING_LIMIT_MS: i64 = 10_000;

/// What is remembered about a pod: enough to name it after it is gone (a preemptor
/// is named by UID only) and to report each transition once.
struct Tracked {
    pod_ref: PodRef,
    namespace: String,
    name: String,
    node: Option<String>,
    priority: i32,
    started: bool,
    finished: bool,
    deleted: bool,
}

/// A victim whose preemption is known from one side so far.
#[derive(Default)]
struct Pending {
    /// When it was first noticed here (for [`PENDING_LIMIT_MS`]).
    noticed_ms: i64,
    /// When the condition was set or the event happened.
    at_ms: Option<i64>,
    preemptor_uid: Option<String>,
    /// `namespace/name` of the preemptor, from the older message format.
    preemptor_name: Option<(String, String)>,
    message: Option<String>,
    node: Option<String>,
    /// Whether the event was seen (the condition alone does not name the preemptor).
    event_seen: bool,
}

/// The pods of one cluster as far as the watches told, and what was reported.
pub(super) struct PodTracker {
    cluster: String,
    pods: HashMap<String, Tracked>,
    pending: BTreeMap<String, Pending>,
    preempted: HashSet<String>,
    /// Victims reported with an unknown preemptor (the `Preempted` event had not come
    /// within [`PENDING_LIMIT_MS`]), with when they were preempted: a late event
    /// completes them.
    preemptor_unknown: HashMap<String, i64>,
    /// UIDs seen during a re-list (`Init` .. `InitDone`), to find pods deleted while
    /// the watch was down.
    relisted: Option<HashSet<String>>,
}

impl PodTracker {
    pub(super) fn new(cluster: &str) -> PodTracker {
        PodTracker {
            cluster: cluster.to_string(),
            pods: HashMap::new(),
            pending: BTreeMap::new(),
            preempted: HashSet::new(),
            preemptor_unknown: HashMap::new(),
            relisted: None,
        }
    }

    /// A re-list starts: every pod it does not list again is gone.
    pub(super) fn relist_started(&mut self) {
        self.relisted = Some(HashSet::new());
    }

    /// The re-list ended: pods it did not list were deleted while nobody watched.
    pub(super) fn relist_done(&mut self, now_ms: i64) -> Vec<ObservedEvent> {
        let Some(listed) = self.relisted.take() else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .pods
            .iter()
            .filter(|(uid, t)| !t.deleted && !listed.contains(*uid))
            .map(|(uid, _)| uid.clone())
            .collect();
        let mut out = Vec::new();
        for uid in gone {
            self.deleted(&uid, now_ms, &mut out);
        }
        out
    }

    /// A pod was added or changed.
    pub(super) fn apply_pod(&mut self, pod: &Pod, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        let Some(uid) = pod.metadata.uid.clone() else {
            return out;
        };
        if let Some(listed) = &mut self.relisted {
            listed.insert(uid.clone());
        }
        let status = pod.status.as_ref();
        let spec = pod.spec.as_ref();
        let node = spec.and_then(|s| s.node_name.clone());
        let priority = spec.and_then(|s| s.priority).unwrap_or(0);
        let pod_ref = self.pod_ref(pod);
        if !self.pods.contains_key(&uid) {
            let at = pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(now_ms, |t| t.0.timestamp_millis());
            out.push(ObservedEvent {
                at_ms: at,
                kind: EventKind::PodCreated {
                    pod: pod_ref.clone(),
                    priority,
                    priority_class: spec
                        .and_then(|s| s.priority_class_name.as_deref())
                        .map(SharedStr::from),
                    requests: requests(pod),
                },
            });
            self.pods.insert(
                uid.clone(),
                Tracked {
                    pod_ref: pod_ref.clone(),
                    namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                    name: pod.metadata.name.clone().unwrap_or_default(),
                    node: None,
                    priority,
                    started: false,
                    finished: false,
                    deleted: false,
                },
            );
        }
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        let Some(tracked) = self.pods.get_mut(&uid) else {
            return out;
        };
        tracked.pod_ref = pod_ref.clone();
        tracked.priority = priority;
        if node.is_some() {
            tracked.node.clone_from(&node);
        }
        let node_value = tracked.node.clone();
        if phase == "Running" && !tracked.started {
            tracked.started = true;
            out.push(ObservedEvent {
                at_ms: started_at(pod).unwrap_or(now_ms),
                kind: EventKind::PodStarted {
                    pod: pod_ref.clone(),
                    node: node_value.as_deref().unwrap_or_default().into(),
                },
            });
        }
        if matches!(phase, "Succeeded" | "Failed") && !tracked.finished {
            tracked.finished = true;
            let kind = if phase == "Succeeded" {
                EventKind::PodSucceeded {
                    pod: pod_ref,
                    node: node_value.as_deref().unwrap_or_default().into(),
                }
            } else {
                let reason = status
                    .and_then(|s| s.reason.clone().or_else(|| s.message.clone()))
                    .or_else(|| terminated_reason(pod))
                    .unwrap_or_else(|| "Failed".to_string());
                EventKind::PodFailed {
                    pod: pod_ref,
                    node: node_value.as_deref().map(SharedStr::from),
                    reason: reason.into(),
                }
            };
            out.push(ObservedEvent {
                at_ms: finished_at(pod).unwrap_or(now_ms),
                kind,
            });
        }
        let disruption = status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| {
                c.type_ == "DisruptionTarget"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("PreemptionByScheduler")
            });
        if let Some(condition) = disruption {
            if !self.preempted.contains(&uid) {
                let pending = self.pending.entry(uid.clone()).or_insert_with(|| Pending {
                    noticed_ms: now_ms,
                    ..Pending::default()
                });
                let at = condition
                    .last_transition_time
                    .as_ref()
                    .map(|t| t.0.timestamp_millis());
                // The condition is set before the event is recorded: its time is the
                // better one.
                if at.is_some() {
                    pending.at_ms = at;
                }
                if pending.node.is_none() {
                    pending.node = node_value;
                }
            }
        }
        // This pod may be the victim, or the preemptor, of a pending preemption.
        self.report_resolved(now_ms, &mut out);
        out
    }

    /// Reports the pending preemptions whose victim and preemptor are both known.
    fn report_resolved(&mut self, now_ms: i64, out: &mut Vec<ObservedEvent>) {
        let ready: Vec<String> = self
            .pending
            .iter()
            .filter(|(victim, p)| self.pods.contains_key(*victim) && self.resolved(p))
            .map(|(victim, _)| victim.clone())
            .collect();
        for victim in ready {
            self.report_preemption(&victim, now_ms, out);
        }
    }

    /// Whether the event arrived and the pod watch has seen the preemptor it names
    /// (the two watches deliver in any order).
    fn resolved(&self, pending: &Pending) -> bool {
        if !pending.event_seen {
            return false;
        }
        match (&pending.preemptor_uid, &pending.preemptor_name) {
            (Some(uid), _) => self.pods.contains_key(uid),
            (None, Some((namespace, name))) => self
                .pods
                .values()
                .any(|t| &t.namespace == namespace && &t.name == name),
            // The message names nobody: there is nothing more to wait for.
            (None, None) => true,
        }
    }

    /// A pod was deleted.
    pub(super) fn delete_pod(&mut self, pod: &Pod, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        let Some(uid) = pod.metadata.uid.clone() else {
            return out;
        };
        if !self.pods.contains_key(&uid) {
            // Never seen alive: report its creation first, so every PodDeleted has one.
            out.extend(self.apply_pod(pod, now_ms));
        }
        self.deleted(&uid, now_ms, &mut out);
        out
    }

    fn deleted(&mut self, uid: &str, now_ms: i64, out: &mut Vec<ObservedEvent>) {
        // A victim is deleted after its grace period, but the other watch may not have
        // delivered the event (or the preemptor's pod) yet: an unresolved preemption
        // keeps waiting for them, up to [`PENDING_LIMIT_MS`].
        let pending = self.pending.get(uid).map(|p| self.resolved(p));
        if pending == Some(true) {
            self.report_preemption(uid, now_ms, out);
        }
        let preempted = self.preempted.contains(uid) || pending.is_some();
        let Some(tracked) = self.pods.get_mut(uid) else {
            return;
        };
        if tracked.deleted {
            return;
        }
        tracked.deleted = true;
        out.push(ObservedEvent {
            at_ms: now_ms,
            kind: EventKind::PodDeleted {
                pod: tracked.pod_ref.clone(),
                node: tracked.node.as_deref().map(SharedStr::from),
                reason: preempted.then_some(TerminationReason::Preempted),
            },
        });
    }

    /// A core/v1 Event (the watch asks for reason `Preempted` only).
    pub(super) fn apply_event(&mut self, event: &Event, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        if event.reason.as_deref() != Some("Preempted") {
            return out;
        }
        let victim = &event.involved_object;
        let Some(uid) = victim.uid.clone().or_else(|| {
            // Events name their object by UID; fall back to the name for safety.
            self.pods
                .iter()
                .find(|(_, t)| {
                    Some(t.namespace.as_str()) == victim.namespace.as_deref()
                        && Some(t.name.as_str()) == victim.name.as_deref()
                })
                .map(|(uid, _)| uid.clone())
        }) else {
            return out;
        };
        // A preemption reported already is only told again when this event names
        // the preemptor its report lacked: the second report supersedes the first.
        let completes = self.preemptor_unknown.remove(&uid);
        if self.preempted.contains(&uid) && completes.is_none() {
            return out;
        }
        let message = event.message.clone().unwrap_or_default();
        let (from_message, node) = parse_message(&message);
        let at = event
            .event_time
            .as_ref()
            .map(|t| t.0.timestamp_millis())
            .or_else(|| {
                event
                    .last_timestamp
                    .as_ref()
                    .map(|t| t.0.timestamp_millis())
            })
            .or_else(|| {
                event
                    .first_timestamp
                    .as_ref()
                    .map(|t| t.0.timestamp_millis())
            });
        let pending = self.pending.entry(uid.clone()).or_insert_with(|| Pending {
            noticed_ms: now_ms,
            ..Pending::default()
        });
        pending.event_seen = true;
        pending.message = Some(message);
        if let Some(preempted_at) = completes {
            pending.at_ms = Some(preempted_at);
        }
        if pending.at_ms.is_none() {
            pending.at_ms = at;
        }
        if pending.node.is_none() {
            pending.node = node;
        }
        match (
            event.related.as_ref().and_then(|r| r.uid.clone()),
            from_message,
        ) {
            (Some(related), _) => pending.preemptor_uid = Some(related),
            (None, Some(Preemptor::Uid(uid))) => pending.preemptor_uid = Some(uid),
            (None, Some(Preemptor::Name(ns, name))) => pending.preemptor_name = Some((ns, name)),
            (None, None) => {}
        }
        if completes.is_some() {
            self.report_preemption(&uid, now_ms, &mut out);
        } else {
            self.report_resolved(now_ms, &mut out);
        }
        out
    }

    /// Reports preemptions that waited too long for their other half.
    pub(super) fn flush_stale(&mut self, now_ms: i64) -> Vec<ObservedEvent> {
        let mut out = Vec::new();
        let stale: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now_ms - p.noticed_ms >= PENDING_LIMIT_MS)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            if self.pods.contains_key(&uid) {
                self.report_preemption(&uid, now_ms, &mut out);
            } else {
                // An event about a pod this watch never saw (gone before it started).
                self.pending.remove(&uid);
            }
        }
        out
    }

    fn report_preemption(&mut self, victim_uid: &str, now_ms: i64, out: &mut Vec<ObservedEvent>) {
        let Some(pending) = self.pending.remove(victim_uid) else {
            return;
        };
        let Some(victim) = self.pods.get(victim_uid) else {
            return;
        };
        self.preempted.insert(victim_uid.to_string());
        let preemptor = pending
            .preemptor_uid
            .as_ref()
            .and_then(|uid| self.pods.get(uid));
        if !pending.event_seen {
            self.preemptor_unknown
                .insert(victim_uid.to_string(), pending.at_ms.unwrap_or(now_ms));
        }
        let (preemptor_ref, preemptor_priority) = match (preemptor, &pending.preemptor_name) {
            (Some(p), _) => (p.pod_ref.clone(), p.priority),
            (None, named) => {
                // Not seen by the pod watch (or the event never came): name what is
                // known, so the event keeps the simulator's shape.
                let (namespace, name) = named.clone().unwrap_or_else(|| {
                    (
                        String::new(),
                        pending
                            .preemptor_uid
                            .clone()
                            .unwrap_or_else(|| "unknown".into()),
                    )
                });
                let named = self
                    .pods
                    .values()
                    .find(|t| t.namespace == namespace && t.name == name);
                match named {
                    Some(p) => (p.pod_ref.clone(), p.priority),
                    None => (
                        PodRef {
                            cluster: self.cluster.as_str().into(),
                            namespace: namespace.into(),
                            name: name.into(),
                            role: PodRole::System,
                            job_id: None,
                            executor_id: None,
                        },
                        0,
                    ),
                }
            }
        };
        let node = pending
            .node
            .clone()
            .or_else(|| victim.node.clone())
            .unwrap_or_default();
        let preemptor_uid = pending.preemptor_uid.clone().unwrap_or_default();
        let message = pending
            .message
            .clone()
            .unwrap_or_else(|| format!("Preempted by pod {preemptor_uid} on node {node}"));
        out.push(ObservedEvent {
            at_ms: pending.at_ms.unwrap_or(now_ms),
            kind: EventKind::PodPreempted(Box::new(Preemption {
                pod: victim.pod_ref.clone(),
                node: node.into(),
                priority: victim.priority,
                preemptor: preemptor_ref,
                preemptor_uid: preemptor_uid.into(),
                preemptor_priority,
                reason: "Preempted".into(),
                message: message.into(),
            })),
        });
    }

    /// How events name a pod: its EMR role, job and executor from the labels EMR and
    /// Spark put on job pods.
    fn pod_ref(&self, pod: &Pod) -> PodRef {
        let labels = pod.metadata.labels.as_ref();
        let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
        PodRef {
            cluster: self.cluster.as_str().into(),
            namespace: pod.metadata.namespace.as_deref().unwrap_or_default().into(),
            name: pod.metadata.name.as_deref().unwrap_or_default().into(),
            role: PodRole::from_component(label("emr-containers.amazonaws.com/component")),
            job_id: label("emr-containers.amazonaws.com/job.id").map(SharedStr::from),
            executor_id: label("spark-exec-id").and_then(|id| id.parse::<u32>().ok()),
        }
    }
}

/// Who the `Preempted` event's message names.
enum Preemptor {
    /// `Preempted by pod <uid> on node <node>` (Kubernetes 1.26+).
    Uid(String),
    /// `Preempted by <namespace>/<name> on node <node>` (older releases).
    Name(String, String),
}

/// The preemptor and node of `Preempted by pod <uid> on node <node>`.
fn parse_message(message: &str) -> (Option<Preemptor>, Option<String>) {
    let Some(rest) = message.strip_prefix("Preempted by ") else {
        return (None, None);
    };
    let (who, node) = match rest.split_once(" on node ") {
        Some((who, node)) => (who, Some(node.trim().to_string())),
        None => (rest, None),
    };
    let preemptor = match who.strip_prefix("pod ") {
        Some(uid) => Some(Preemptor::Uid(uid.trim().to_string())),
        None => who
            .split_once('/')
            .map(|(ns, name)| Preemptor::Name(ns.to_string(), name.to_string())),
    };
    (preemptor, node)
}

/// When the first container started running.
fn started_at(pod: &Pod) -> Option<i64> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0.timestamp_millis())
        .min()
}

/// When the last container finished.
fn finished_at(pod: &Pod) -> Option<i64> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0.timestamp_millis())
        .max()
}

/// Why a failed pod's first failed container ended (`Error`, `OOMKilled`, ...).
fn terminated_reason(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .find(|t| t.exit_code != 0)
        .and_then(|t| t.reason.clone())
}

/// The sum of the containers' requests.
fn requests(pod: &Pod) -> Resources {
    let mut cpu_millis = 0u64;
    let mut memory_mib = 0u64;
    for container in pod.spec.iter().flat_map(|s| &s.containers) {
        let Some(requests) = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
        else {
            continue;
        };
        if let Some(cpu) = requests.get("cpu") {
            cpu_millis += quantity(&cpu.0).map_or(0, |c| (c * 1000.0).ceil() as u64);
        }
        if let Some(memory) = requests.get("memory") {
            memory_mib += quantity(&memory.0).map_or(0, |m| (m / 1_048_576.0).ceil() as u64);
        }
    }
    Resources::new(cpu_millis, memory_mib)
}

/// A Kubernetes quantity (`500m`, `2`, `4505Mi`, `1G`, `1e3`) as a number.
pub(super) fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Event, Pod};
    use runbook_backend::ObservedEvent;
    use runbook_backend::events::{EventKind, Preemption, TerminationReason};
    use serde_json::json;

    use super::{PENDING_LIMIT_MS, PodTracker, Preemptor, parse_message, quantity};

    fn pod(uid: &str, name: &str, job: &str, role: &str, condition: bool) -> Pod {
        let conditions = if condition {
            json!([{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}])
        } else {
            json!([])
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "spark", "uid": uid, "labels": {
                "emr-containers.amazonaws.com/component": role,
                "emr-containers.amazonaws.com/job.id": job,
            }},
            "spec": {"nodeName": "n1", "priority": if role == "driver" { 1000 } else { 10 }, "containers": []},
            "status": {"phase": "Pending", "conditions": conditions},
        }))
        .expect("pod")
    }

    fn preempted_event(victim_uid: &str, message: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "spark"},
            "involvedObject": {"kind": "Pod", "namespace": "spark", "name": "victim", "uid": victim_uid},
            "reason": "Preempted",
            "message": message,
        }))
        .expect("event")
    }

    fn kinds(events: &[ObservedEvent]) -> Vec<&str> {
        events.iter().map(ObservedEvent::type_name).collect()
    }

    fn preemption(event: &ObservedEvent) -> &Preemption {
        match &event.kind {
            EventKind::PodPreempted(p) => p,
            other => panic!("not a preemption: {other:?}"),
        }
    }

    /// The victim's deletion can reach the pod watch before the preemptor's pod does
    /// (two watches, no order between them): the preemption still names its job.
    #[test]
    fn a_victim_deleted_before_its_preemptor_is_seen_still_names_the_preemptor() {
        let mut tracker = PodTracker::new("demo");
        tracker.apply_pod(&pod("a", "victim", "job-a", "executor", false), 0);
        tracker.apply_event(&preempted_event("a", "Preempted by pod b on node n1"), 1);
        let gone = tracker.delete_pod(&pod("a", "victim", "job-a", "executor", true), 2);
        assert_eq!(kinds(&gone), ["PodDeleted"]);
        let seen = tracker.apply_pod(&pod("b", "job-b-exec-1", "job-b", "executor", false), 3);
        assert_eq!(kinds(&seen), ["PodCreated", "PodPreempted"]);
        assert_eq!(preemption(&seen[1]).pod.job_id.as_deref(), Some("job-a"));
        assert_eq!(
            preemption(&seen[1]).preemptor.job_id.as_deref(),
            Some("job-b")
        );
    }

    #[test]
    fn an_event_before_its_preemptor_is_seen_waits_for_the_preemptor() {
        let mut tracker = PodTracker::new("demo");
        tracker.apply_pod(&pod("a", "victim", "job-a", "executor", false), 0);
        let early = tracker.apply_event(&preempted_event("a", "Preempted by pod b on node n1"), 1);
        assert!(early.is_empty(), "{early:?}");
        let seen = tracker.apply_pod(&pod("b", "job-b-driver", "job-b", "driver", false), 2);
        assert_eq!(kinds(&seen), ["PodCreated", "PodPreempted"]);
        let preempted = preemption(&seen[1]);
        assert_eq!(preempted.preemptor.job_id.as_deref(), Some("job-b"));
        assert_eq!(preempted.preemptor_priority, 1000);
        // The condition that follows is the same preemption.
        let again = tracker.apply_pod(&pod("a", "victim", "job-a", "executor", true), 3);
        assert!(again.is_empty(), "{again:?}");
    }

    /// The `Preempted` event comes after the pairing limit: the preemption was reported
    /// with an unknown preemptor, and the late event reports it again, complete, at
    /// the time it happened (the second report supersedes the first). A repeat of the
    /// event adds nothing.
    #[test]
    fn a_late_event_completes_a_preemption_reported_without_its_preemptor() {
        let mut tracker = PodTracker::new("demo");
        tracker.apply_pod(&pod("a", "victim", "job-a", "executor", false), 0);
        tracker.apply_pod(&pod("b", "job-b-driver", "job-b", "driver", false), 0);
        tracker.apply_pod(&pod("a", "victim", "job-a", "executor", true), 5);
        let unknown = tracker.flush_stale(5 + PENDING_LIMIT_MS);
        assert_eq!(kinds(&unknown), ["PodPreempted"]);
        assert_eq!(preemption(&unknown[0]).preemptor.name, "unknown");
        let at = unknown[0].at_ms;

        let late = tracker.apply_event(
            &preempted_event("a", "Preempted by pod b on node n1"),
            20 + PENDING_LIMIT_MS,
        );
        assert_eq!(kinds(&late), ["PodPreempted"]);
        assert_eq!(
            late[0].at_ms, at,
            "when it happened, not when the event came"
        );
        let completed = preemption(&late[0]);
        assert_eq!(completed.preemptor.name, "job-b-driver");
        assert_eq!(completed.preemptor.job_id.as_deref(), Some("job-b"));
        assert_eq!(completed.preemptor_priority, 1000);

        let repeat = tracker.apply_event(
            &preempted_event("a", "Preempted by pod b on node n1"),
            30 + PENDING_LIMIT_MS,
        );
        assert!(repeat.is_empty(), "{repeat:?}");
    }

    #[test]
    fn a_condition_without_an_event_is_reported_after_the_limit_even_once_deleted() {
        let mut tracker = PodTracker::new("demo");
        tracker.apply_pod(&pod("a", "victim", "job-a", "executor", false), 0);
        assert!(
            tracker
                .apply_pod(&pod("a", "victim", "job-a", "executor", true), 1)
                .is_empty()
        );
        // Deleted before the event came: it may still come on the other watch.
        let gone = tracker.delete_pod(&pod("a", "victim", "job-a", "executor", true), 2);
        assert_eq!(kinds(&gone), ["PodDeleted"]);
        assert!(
            matches!(
                gone[0].kind,
                EventKind::PodDeleted {
                    reason: Some(TerminationReason::Preempted),
                    ..
                }
            ),
            "{gone:?}"
        );
        assert!(tracker.flush_stale(PENDING_LIMIT_MS).is_empty());
        let late = tracker.flush_stale(1 + PENDING_LIMIT_MS);
        assert_eq!(kinds(&late), ["PodPreempted"]);
        assert_eq!(preemption(&late[0]).preemptor.name, "unknown");

        tracker.apply_pod(&pod("c", "other", "job-a", "executor", true), 10);
        assert!(tracker.flush_stale(10 + PENDING_LIMIT_MS - 1).is_empty());
        let late = tracker.flush_stale(10 + PENDING_LIMIT_MS);
        assert_eq!(kinds(&late), ["PodPreempted"]);
        assert_eq!(preemption(&late[0]).pod.name, "other");
    }

    #[test]
    fn pods_missing_from_a_relist_were_deleted_while_the_watch_was_down() {
        let mut tracker = PodTracker::new("demo");
        tracker.relist_started();
        tracker.apply_pod(&pod("a", "kept", "job-a", "executor", false), 0);
        tracker.apply_pod(&pod("b", "gone", "job-a", "executor", false), 0);
        assert!(tracker.relist_done(1).is_empty());
        // The watch expired (410 Gone) and kube-rs lists again.
        tracker.relist_started();
        assert!(
            tracker
                .apply_pod(&pod("a", "kept", "job-a", "executor", false), 5)
                .is_empty()
        );
        let after = tracker.relist_done(6);
        assert_eq!(kinds(&after), ["PodDeleted"]);
        assert_eq!(after[0].subject().as_deref(), Some("spark/gone"));
        assert!(tracker.relist_done(7).is_empty());
    }

    #[test]
    fn quantities_in_kubernetes_notation() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("4505Mi"), Some(4505.0 * 1_048_576.0));
        assert_eq!(quantity("1G"), Some(1e9));
        assert_eq!(quantity("bogus"), None);
    }

    #[test]
    fn both_message_formats_name_the_preemptor_and_node() {
        match parse_message("Preempted by pod 1b2c-uid on node ip-10-0-1-5") {
            (Some(Preemptor::Uid(uid)), Some(node)) => {
                assert_eq!(uid, "1b2c-uid");
                assert_eq!(node, "ip-10-0-1-5");
            }
            _ => panic!("uid format not parsed"),
        }
        match parse_message("Preempted by spark/job-b-driver on node n1") {
            (Some(Preemptor::Name(ns, name)), Some(node)) => {
                assert_eq!(
                    (ns.as_str(), name.as_str(), node.as_str()),
                    ("spark", "job-b-driver", "n1")
                );
            }
            _ => panic!("name format not parsed"),
        }
        assert!(parse_message("Scheduled").0.is_none());
    }
}
