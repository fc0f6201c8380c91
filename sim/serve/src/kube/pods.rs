//! Pods as the API shows them, at any instant of the world's past or present.
//!
//! The simulator keeps one record per pod with the instant of each change (bound,
//! running, finished, given a deletion timestamp, gone), so a pod can be shown as it
//! was when an event happened: a watch replays the log with each pod as it was at
//! that event, not as it is now.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod as KubePod, PodCondition, PodSpec, PodStatus,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::pod::ConditionType;
use runbook_sim::priority::PreemptionPolicy;
use runbook_sim::{Pod, PodPhase, Resources};
use serde::Serialize;
use serde_json::Value;

use super::object::Object;
use super::table::Shows;
use crate::time::Instants;

/// A pod as the API shows it at an instant, in the API's types: the object (only its
/// metadata unless whole) and its table row. A list writes it straight out, one pod at
/// a time and with no JSON tree between; a get or a watch takes it as an [`Object`].
pub(crate) struct Shown<'a> {
    pub(crate) object: KubePod,
    pub(crate) cells: Cells<'a>,
}

/// A pod's row, in the order of its table's columns (`table::columns`): name, ready,
/// status, restarts, age, IP, node, nominated node, readiness gates.
pub(crate) type Cells<'a> = (
    &'a str,
    String,
    &'static str,
    u8,
    String,
    String,
    &'a str,
    &'a str,
    &'static str,
);

impl Shows for Shown<'_> {
    fn cells(&self) -> impl Serialize {
        &self.cells
    }

    fn metadata(&self) -> impl Serialize {
        &self.object.metadata
    }

    fn whole(&self) -> impl Serialize {
        &self.object
    }
}

/// `pod` as it was at virtual instant `at` (its present when `at` is the world's now):
/// `whole`, or only its metadata (with its table row either way), which is all a
/// table's rows carry and a fraction of the cost.
pub(crate) fn shown<'a>(pod: &'a Pod, at: u64, instants: &Instants, whole: bool) -> Shown<'a> {
    let seen = Seen { pod, at };
    let bound = seen.node();
    let phase = seen.phase();
    let running = phase == PodPhase::Running;
    let nominated = if bound.is_none() && seen.is_present() {
        pod.nominated_node_name.as_deref()
    } else {
        None
    };
    let metadata = ObjectMeta {
        name: Some(pod.name.to_string()),
        namespace: Some(pod.namespace.to_string()),
        uid: Some(pod.uid.to_string()),
        labels: Some(labels(pod)),
        creation_timestamp: Some(instants.time(pod.created_at_ms)),
        deletion_timestamp: seen
            .terminating()
            .then(|| pod.deletion_timestamp_ms.map(|t| instants.time(t)))
            .flatten(),
        deletion_grace_period_seconds: seen
            .terminating()
            .then(|| i64::try_from(pod.termination_grace_period_seconds).unwrap_or(i64::MAX)),
        ..ObjectMeta::default()
    };
    let ready = format!(
        "{}/{}",
        if running && !seen.terminating() {
            pod.containers.len()
        } else {
            0
        },
        pod.containers.len()
    );
    let cells = (
        pod.name.as_ref(),
        ready,
        seen.shown_status(),
        0,
        instants.age(pod.created_at_ms),
        bound.map_or_else(|| "<none>".to_string(), |_| pod_ip(pod)),
        bound.unwrap_or("<none>"),
        nominated.unwrap_or("<none>"),
        "<none>",
    );
    let object = if whole {
        whole_pod(&seen, metadata, nominated.map(str::to_string), instants)
    } else {
        KubePod {
            metadata,
            ..KubePod::default()
        }
    };
    Shown { object, cells }
}

/// `pod` as it was at virtual instant `at`, as an [`Object`] (see [`shown`]).
pub(crate) fn pod(pod: &Pod, at: u64, instants: &Instants, whole: bool) -> Object {
    let Shown { object, cells } = shown(pod, at, instants, whole);
    let value = serde_json::to_value(&object).unwrap_or(Value::Null);
    let cells = match serde_json::to_value(cells) {
        Ok(Value::Array(cells)) => cells,
        _ => Vec::new(),
    };
    fields(pod, at).into_iter().fold(
        Object::new(Some(&pod.namespace), &pod.name, labels(pod), value, cells),
        |object, (name, value)| object.field(name, value),
    )
}

/// The fields a field selector may name of `pod` as it was at `at`.
pub(crate) fn fields(pod: &Pod, at: u64) -> BTreeMap<&'static str, String> {
    let seen = Seen { pod, at };
    BTreeMap::from([
        ("metadata.name", pod.name.to_string()),
        ("metadata.namespace", pod.namespace.to_string()),
        ("spec.nodeName", seen.node().unwrap_or_default().to_string()),
        ("status.phase", phase_name(seen.phase()).to_string()),
        ("spec.schedulerName", "default-scheduler".to_string()),
        ("metadata.uid", pod.uid.to_string()),
    ])
}

/// The whole pod as it was `seen`.
fn whole_pod(
    seen: &Seen<'_>,
    metadata: ObjectMeta,
    nominated: Option<String>,
    instants: &Instants,
) -> KubePod {
    let (pod, at) = (seen.pod, seen.at);
    let bound = seen.node();
    let containers: Vec<Container> = pod
        .containers
        .iter()
        .map(|(name, requests)| Container {
            name: name.to_string(),
            image: Some(pod.image.to_string()),
            resources: Some(ResourceRequirements {
                requests: Some(quantities(*requests)),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        })
        .collect();
    let phase = seen.phase();
    let running = phase == PodPhase::Running;
    let statuses: Vec<ContainerStatus> = pod
        .containers
        .iter()
        .map(|(name, _)| ContainerStatus {
            name: name.to_string(),
            image: pod.image.to_string(),
            image_id: String::new(),
            ready: running && !seen.terminating(),
            restart_count: 0,
            started: Some(running),
            state: Some(seen.container_state(instants)),
            ..ContainerStatus::default()
        })
        .collect();
    KubePod {
        metadata,
        spec: Some(PodSpec {
            containers,
            node_name: bound.map(str::to_string),
            node_selector: None,
            priority: Some(pod.priority),
            priority_class_name: pod.priority_class_name.as_ref().map(ToString::to_string),
            preemption_policy: Some(
                match pod.preemption_policy {
                    PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
                    PreemptionPolicy::Never => "Never",
                }
                .to_string(),
            ),
            scheduler_name: Some("default-scheduler".into()),
            restart_policy: Some("Never".into()),
            termination_grace_period_seconds: Some(
                i64::try_from(pod.termination_grace_period_seconds).unwrap_or(i64::MAX),
            ),
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase_name(phase).into()),
            conditions: Some(seen.conditions(instants)),
            host_ip: bound.and_then(node_ip),
            pod_ip: bound.map(|_| pod_ip(pod)),
            nominated_node_name: nominated,
            start_time: pod
                .start_time_ms
                .filter(|t| *t <= at)
                .map(|t| instants.time(t)),
            container_statuses: Some(statuses),
            qos_class: Some("Burstable".into()),
            ..PodStatus::default()
        }),
    }
}

/// A pod at an instant.
struct Seen<'a> {
    pod: &'a Pod,
    at: u64,
}

impl<'a> Seen<'a> {
    fn happened(&self, t: Option<u64>) -> bool {
        t.is_some_and(|t| t <= self.at)
    }

    /// The object still exists.
    fn is_present(&self) -> bool {
        !self.happened(self.pod.deleted_at_ms)
    }

    fn terminating(&self) -> bool {
        self.happened(self.pod.deletion_timestamp_ms)
    }

    fn node(&self) -> Option<&'a str> {
        self.happened(self.pod.scheduled_at_ms)
            .then_some(self.pod.node_name.as_deref())
            .flatten()
    }

    fn phase(&self) -> PodPhase {
        if self.happened(self.pod.finished_at_ms) {
            if self.pod.phase.is_terminal() {
                self.pod.phase
            } else {
                PodPhase::Failed
            }
        } else if self.happened(self.pod.running_at_ms) {
            PodPhase::Running
        } else {
            PodPhase::Pending
        }
    }

    /// The STATUS column as kubectl computes it: the phase, a waiting or terminated
    /// container's reason, or `Terminating` once the pod has a deletion timestamp.
    fn shown_status(&self) -> &'static str {
        if self.terminating() && self.is_present() {
            return "Terminating";
        }
        match self.phase() {
            PodPhase::Pending if self.node().is_some() => "ContainerCreating",
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Completed",
            PodPhase::Failed => "Error",
        }
    }

    fn container_state(&self, instants: &Instants) -> ContainerState {
        match self.phase() {
            PodPhase::Running => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: self.pod.running_at_ms.map(|t| instants.time(t)),
                }),
                ..ContainerState::default()
            },
            PodPhase::Succeeded | PodPhase::Failed => {
                let ok = self.phase() == PodPhase::Succeeded;
                ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: if ok { 0 } else { 137 },
                        reason: Some(if ok { "Completed" } else { "Error" }.into()),
                        started_at: self.pod.running_at_ms.map(|t| instants.time(t)),
                        finished_at: self.pod.finished_at_ms.map(|t| instants.time(t)),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }
            }
            PodPhase::Pending => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(
                        if self.node().is_some() {
                            "ContainerCreating"
                        } else {
                            "Pending"
                        }
                        .into(),
                    ),
                    message: None,
                }),
                ..ContainerState::default()
            },
        }
    }

    /// `status.conditions` as of the instant: PodScheduled (False with the
    /// scheduler's reason while unbound, if it reported one), Ready while running,
    /// DisruptionTarget once the scheduler chose the pod as a victim.
    fn conditions(&self, instants: &Instants) -> Vec<PodCondition> {
        let mut conditions = Vec::new();
        match self.pod.scheduled_at_ms.filter(|t| *t <= self.at) {
            Some(t) => conditions.push(condition("PodScheduled", true, t, None, None, instants)),
            None => {
                if let Some(c) = self
                    .pod
                    .condition(ConditionType::PodScheduled)
                    .filter(|c| c.last_transition_ms <= self.at)
                {
                    conditions.push(condition(
                        "PodScheduled",
                        false,
                        c.last_transition_ms,
                        c.reason.as_deref(),
                        c.message.as_deref(),
                        instants,
                    ));
                }
            }
        }
        if let Some(t) = self.pod.running_at_ms.filter(|t| *t <= self.at) {
            let ready = self.phase() == PodPhase::Running && !self.terminating();
            let since = if ready {
                t
            } else {
                self.pod
                    .finished_at_ms
                    .or(self.pod.deletion_timestamp_ms)
                    .unwrap_or(t)
            };
            conditions.push(condition("Ready", ready, since, None, None, instants));
        }
        if let Some(c) = self
            .pod
            .condition(ConditionType::DisruptionTarget)
            .filter(|c| c.last_transition_ms <= self.at)
        {
            conditions.push(condition(
                "DisruptionTarget",
                c.status,
                c.last_transition_ms,
                c.reason.as_deref(),
                c.message.as_deref(),
                instants,
            ));
        }
        conditions
    }
}

fn condition(
    kind: &str,
    status: bool,
    at: u64,
    reason: Option<&str>,
    message: Option<&str>,
    instants: &Instants,
) -> PodCondition {
    PodCondition {
        type_: kind.into(),
        status: if status { "True" } else { "False" }.into(),
        last_transition_time: Some(instants.time(at)),
        reason: reason.map(str::to_string),
        message: message.map(str::to_string),
        ..PodCondition::default()
    }
}

fn phase_name(phase: PodPhase) -> &'static str {
    match phase {
        PodPhase::Pending => "Pending",
        PodPhase::Running => "Running",
        PodPhase::Succeeded => "Succeeded",
        PodPhase::Failed => "Failed",
    }
}

fn labels(pod: &Pod) -> BTreeMap<String, String> {
    pod.labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Requests as quantities (`1000m` CPU is shown as `1`, as the API canonicalises it).
pub(crate) fn quantities(r: Resources) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu(r.cpu_millis))),
        (
            "memory".to_string(),
            Quantity(format!("{}Mi", r.memory_mib)),
        ),
    ])
}

fn cpu(millis: u64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// The node's address from its EC2 private DNS name (`ip-192-168-87-33...` is
/// 192.168.87.33).
pub(crate) fn node_ip(node: &str) -> Option<String> {
    let host = node.strip_prefix("ip-")?.split('.').next()?;
    let parts: Vec<&str> = host.split('-').collect();
    (parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok())).then(|| parts.join("."))
}

/// A pod address the simulator assigns (the VPC CNI gives pods VPC addresses): stable
/// for the pod, from its UID.
fn pod_ip(pod: &Pod) -> String {
    let hash = pod.uid.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    format!("192.168.{}.{}", (hash >> 8) % 256, hash % 253 + 2)
}
