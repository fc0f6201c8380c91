//! Who is who in the story: the jobs by the names a presenter says ("the low-priority
//! job"), the priorities of their pods, and which executors were lost and replaced,
//! learned from the events as they come.

use std::collections::{BTreeMap, BTreeSet};

use runbook_backend::events::{EventKind, PodRef, PodRole};

/// What the story knows of each job and pod so far.
#[derive(Debug, Default)]
pub(super) struct Cast {
    jobs: BTreeMap<String, Job>,
    /// How many jobs have each label (two with one are told apart by id).
    labels: BTreeMap<String, usize>,
    /// Pods that are not deleted yet, by `namespace/name`.
    pods: BTreeMap<String, Pod>,
}

#[derive(Debug, Default)]
struct Job {
    /// What people call it (`low-priority` of `monthly-batch-low-priority-job`), when
    /// EMR's record of it was seen (on `aws` only its pods are).
    label: Option<String>,
    /// When it was submitted, if that was seen.
    submitted_ms: Option<i64>,
    /// Executor pods it lost (preempted, failed, removed with their node), by name.
    lost: BTreeSet<String>,
    /// Those of them that were preempted.
    preempted: BTreeSet<String>,
    /// How many of those have a replacement running.
    replaced: usize,
}

#[derive(Debug, Default)]
struct Pod {
    priority: Option<i32>,
    priority_class: Option<String>,
    /// An executor started after its job lost one.
    replacement: bool,
}

/// How a line names a job.
pub(super) struct JobName {
    label: Option<String>,
    id: String,
    /// Another job has the same label: the id tells them apart.
    ambiguous: bool,
}

impl JobName {
    /// At the start of a line: `low-priority job`, or `job 0000...` for a job known
    /// only by its id.
    pub(super) fn subject(&self) -> String {
        match &self.label {
            Some(label) if self.ambiguous => format!("{label} job {}", self.id),
            Some(label) => format!("{label} job"),
            None => format!("job {}", self.id),
        }
    }

    /// After `of`: `the low-priority job`, or `job 0000...`.
    pub(super) fn object(&self) -> String {
        match &self.label {
            Some(_) => format!("the {}", self.subject()),
            None => self.subject(),
        }
    }

    /// With its id whatever happens (the first time it is named).
    pub(super) fn with_id(&self) -> String {
        match &self.label {
            Some(label) => format!("{label} job {}", self.id),
            None => format!("job {}", self.id),
        }
    }
}

/// `low-priority` of the job `monthly-batch-low-priority-job` in `monthly-batch`: the
/// name without its namespace's prefix and a `-job` suffix, which every job of a
/// virtual cluster repeats.
pub(super) fn job_label(name: &str, namespace: &str) -> String {
    let bare = name
        .strip_prefix(namespace)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name);
    bare.strip_suffix("-job")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(bare)
        .to_string()
}

fn pod_key(pod: &PodRef) -> String {
    pod.to_string()
}

impl Cast {
    /// Takes in what `kind` says about who is who.
    pub(super) fn learn(&mut self, kind: &EventKind, at_ms: i64) {
        match kind {
            EventKind::JobStateChanged {
                job_id,
                job_name,
                namespace,
                from,
                ..
            } => {
                let job = self.jobs.entry(job_id.to_string()).or_default();
                if job.label.is_none() && !job_name.is_empty() {
                    let label = job_label(job_name, namespace);
                    *self.labels.entry(label.clone()).or_default() += 1;
                    job.label = Some(label);
                }
                if from.is_none() {
                    job.submitted_ms = Some(at_ms);
                }
            }
            EventKind::PodCreated {
                pod,
                priority,
                priority_class,
                ..
            } => {
                let entry = self.pods.entry(pod_key(pod)).or_default();
                entry.priority = Some(*priority);
                entry.priority_class = priority_class.as_ref().map(ToString::to_string);
                if let Some(job_id) = &pod.job_id {
                    self.jobs.entry(job_id.to_string()).or_default();
                }
            }
            EventKind::PodStarted { pod, .. } if pod.role == PodRole::Executor => {
                if let Some(job) = pod.job_id.as_ref().and_then(|id| self.jobs.get_mut(&**id))
                    && job.lost.len() > job.replaced
                {
                    job.replaced += 1;
                    self.pods.entry(pod_key(pod)).or_default().replacement = true;
                }
            }
            EventKind::PodPreempted(p) => {
                if let Some(job_id) = &p.pod.job_id {
                    self.jobs
                        .entry(job_id.to_string())
                        .or_default()
                        .preempted
                        .insert(p.pod.name.to_string());
                }
                self.lose(&p.pod);
            }
            EventKind::PodFailed { pod, .. } => self.lose(pod),
            EventKind::ExecutorLost { job_id, pod, .. } => {
                self.jobs
                    .entry(job_id.to_string())
                    .or_default()
                    .lost
                    .insert(pod.to_string());
            }
            EventKind::PodDeleted { pod, .. } => {
                self.pods.remove(&pod_key(pod));
            }
            _ => {}
        }
    }

    /// An executor of a job is gone before its job ended. The simulator also says so
    /// with `ExecutorLost` (by pod name, as here); the `aws` target knows it only
    /// from the pod.
    fn lose(&mut self, pod: &PodRef) {
        if pod.role != PodRole::Executor {
            return;
        }
        if let Some(job_id) = &pod.job_id {
            self.jobs
                .entry(job_id.to_string())
                .or_default()
                .lost
                .insert(pod.name.to_string());
        }
    }

    /// How lines name job `id`.
    pub(super) fn job(&self, id: &str) -> JobName {
        let label = self.jobs.get(id).and_then(|j| j.label.clone());
        let ambiguous = label
            .as_ref()
            .is_some_and(|label| self.labels.get(label).is_some_and(|&n| n > 1));
        JobName {
            label,
            id: id.to_string(),
            ambiguous,
        }
    }

    /// Whether EMR's record of job `id` was seen (its submission and states), or only
    /// its pods (on `aws`), whose lines must then tell its start and end.
    pub(super) fn knows_states_of(&self, id: &str) -> bool {
        self.jobs.get(id).is_some_and(|j| j.label.is_some())
    }

    /// When job `id` was submitted, if that was seen.
    pub(super) fn submitted_ms(&self, id: &str) -> Option<i64> {
        self.jobs.get(id).and_then(|j| j.submitted_ms)
    }

    /// `executor #2 of the low-priority job`, `driver of job 0000...`, or `pod
    /// kube-system/coredns-...`.
    pub(super) fn pod(&self, pod: &PodRef) -> String {
        let Some(job_id) = &pod.job_id else {
            return format!("pod {pod}");
        };
        let job = self.job(job_id).object();
        match (pod.role, pod.executor_id) {
            (PodRole::Executor, Some(n)) => format!("executor #{n} of {job}"),
            (PodRole::Executor, None) => format!("executor {} of {job}", pod.name),
            (PodRole::Driver, _) => format!("driver of {job}"),
            (PodRole::Controller, _) => format!("job runner of {job}"),
            (PodRole::System, _) => format!("pod {pod}"),
        }
    }

    /// `critical-priority, 400`: the pod's priority as admission resolved it.
    pub(super) fn priority(&self, pod: &PodRef) -> Option<String> {
        let known = self.pods.get(&pod_key(pod))?;
        let priority = known.priority?;
        Some(match &known.priority_class {
            Some(class) => format!("{class}, {priority}"),
            None => format!("priority {priority}"),
        })
    }

    /// Whether job `job_id`'s pod `name` was preempted (the loss of its executor is
    /// that story, told already).
    pub(super) fn was_preempted(&self, job_id: &str, name: &str) -> bool {
        self.jobs
            .get(job_id)
            .is_some_and(|j| j.preempted.contains(name))
    }

    /// Whether the executor pod started in place of one its job lost.
    pub(super) fn is_replacement(&self, pod: &PodRef) -> bool {
        self.pods.get(&pod_key(pod)).is_some_and(|p| p.replacement)
    }
}

#[cfg(test)]
mod tests {
    use super::job_label;

    #[test]
    fn a_job_is_called_by_its_name_without_what_every_job_of_its_namespace_repeats() {
        assert_eq!(
            job_label("monthly-batch-low-priority-job", "monthly-batch"),
            "low-priority"
        );
        assert_eq!(
            job_label("intra-day-batch-high-priority-job", "intra-day-batch"),
            "high-priority"
        );
        assert_eq!(job_label("pi-4", "monthly-batch"), "pi-4");
        assert_eq!(job_label("monthly-batch", "monthly-batch"), "monthly-batch");
        assert_eq!(job_label("monthly-batch-job", "monthly-batch"), "job");
        assert_eq!(job_label("-job", "ns"), "-job");
    }
}
