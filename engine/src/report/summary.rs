//! The plain-text summary at the top of the report: what happened, in the words the
//! priority demo's own summary uses ("executor #2 preempted on NODE by POD; its driver
//! kept running", "replacement executor #3 running", "COMPLETED"), plus the node count
//! and the cost, so a reader gets the story without reading the charts.

use std::time::Duration;

use runbook_backend::duration::Humane;
use runbook_backend::events::JobState;

use super::cost::CostEstimate;
use super::model::{PodEnd, Role, RunModel};

/// At most this many "what happened" lines; a run with thousands of preemptions says
/// how many more there were instead.
const MAX_LINES: usize = 40;

/// The summary of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// One sentence: the run, its target, its outcome and its length.
    pub headline: String,
    /// Jobs, pods, preemptions, replacements.
    pub counts: String,
    /// `Nodes: ...`: the peak node count, by instance and capacity type, added/removed.
    pub nodes: String,
    /// `Estimated node cost: ...`.
    pub cost: String,
    /// What `+0s` of [`Summary::lines`] is.
    pub reference: String,
    /// What happened, in order: `(seconds after the reference, text)`.
    pub lines: Vec<(i64, String)>,
    /// How many lines were left out (beyond [`MAX_LINES`]).
    pub more: usize,
}

/// A duration for people: `17m18s`, `56ms`.
pub fn human_ms(ms: i64) -> String {
    Humane(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).to_string()
}

/// `$0.0413`, with more digits for small sums (a demo's nodes cost cents).
pub fn dollars(usd: f64) -> String {
    if usd >= 10.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

/// Builds the summary.
pub fn summarize(m: &RunModel, cost: &CostEstimate) -> Summary {
    let clock = &m.clock;
    let span = clock.end_ms - clock.origin_ms;
    let time_kind = if clock.virtual_time {
        "virtual time"
    } else {
        "wall-clock time"
    };
    let outcome = match m.run.status {
        runbook_state::RunStatus::Succeeded => "succeeded".to_owned(),
        runbook_state::RunStatus::Failed => "failed".to_owned(),
        runbook_state::RunStatus::Interrupted => "was interrupted".to_owned(),
        runbook_state::RunStatus::Abandoned => "was abandoned".to_owned(),
        runbook_state::RunStatus::Running => "did not record an end".to_owned(),
    };
    let mut headline = format!(
        "Run {} of {} on {} {outcome}; the record spans {} of {time_kind}",
        m.run.id,
        m.run.runbook_name,
        m.run.target,
        human_ms(span)
    );
    if let (true, Some(finished)) = (clock.virtual_time, m.run.finished_at_ms) {
        headline.push_str(&format!(
            " ({} of wall-clock time)",
            human_ms(finished - m.run.started_at_ms)
        ));
    }
    headline.push('.');

    let mut by_state: Vec<(String, usize)> = Vec::new();
    for job in &m.jobs {
        let state = job
            .states
            .last()
            .map_or_else(|| "state unknown".to_owned(), |s| s.state.to_string());
        match by_state.iter_mut().find(|(s, _)| *s == state) {
            Some(entry) => entry.1 += 1,
            None => by_state.push((state, 1)),
        }
    }
    let jobs_text = if m.jobs.is_empty() {
        "No EMR job runs".to_owned()
    } else {
        let states: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
        format!("{} EMR job run(s): {}", m.jobs.len(), states.join(", "))
    };
    let counts = format!(
        "{jobs_text}. {} pod(s); {} preempted; {} replacement executor(s).",
        m.pods.len(),
        m.preemptions.len(),
        m.replacements.len()
    );

    let nodes = nodes_line(m);
    let cost_text = if cost.lines.is_empty() {
        "Estimated node cost: no nodes were recorded.".to_owned()
    } else {
        let parts: Vec<String> = cost
            .lines
            .iter()
            .map(|l| {
                format!(
                    "{} × {} {} for {} node-time",
                    l.nodes,
                    l.instance_type,
                    l.capacity.karpenter_label(),
                    human_ms((l.billed_seconds * 1000.0) as i64)
                )
            })
            .collect();
        let mut text = format!(
            "Estimated node cost: {} ({}).",
            dollars(cost.total_usd),
            parts.join(", ")
        );
        if !cost.unpriced.is_empty() {
            text.push_str(&format!(
                " Not priced (not in the table): {}.",
                cost.unpriced.join(", ")
            ));
        }
        text
    };

    let first_job = m.jobs.iter().filter_map(super::model::Job::first_ms).min();
    let (zero, reference) = match first_job {
        Some(t) => (
            t,
            format!(
                "seconds after the first job was submitted ({})",
                crate::timefmt::virtual_offset(clock.offset(t))
            ),
        ),
        None => (clock.origin_ms, "seconds after the run started".to_owned()),
    };
    let mut lines = story(m, zero);
    lines.sort_by_key(|(t, _)| *t);
    let more = lines.len().saturating_sub(MAX_LINES);
    lines.truncate(MAX_LINES);
    Summary {
        headline,
        counts,
        nodes,
        cost: cost_text,
        reference,
        lines: lines
            .into_iter()
            .map(|(t, text)| ((t - zero).div_euclid(1000), text))
            .collect(),
        more,
    }
}

fn nodes_line(m: &RunModel) -> String {
    if m.nodes.is_empty() {
        return "Nodes: none were recorded in this run.".to_owned();
    }
    let peak = m.usage.nodes.iter().map(|&(_, n)| n).max().unwrap_or(0);
    let at_end = m.usage.nodes.last().map_or(0, |&(_, n)| n);
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for n in &m.nodes {
        let kind = format!("{} {}", n.instance_type, n.capacity.karpenter_label());
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some(entry) => entry.1 += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    let removed = m.nodes.iter().filter(|n| n.removed_ms.is_some()).count();
    format!(
        "Nodes: {peak} at peak, {at_end} at the end; {} node(s) in all ({}), {removed} removed.",
        m.nodes.len(),
        kinds.join(", ")
    )
}

/// (victim job, preemptor job) of a preemption.
type JobPair<'a> = (Option<&'a str>, Option<&'a str>);

/// Above this many jobs (or nodes added), submissions and completions (or node
/// changes) are told as one line each instead of one line per job (or node).
const MAX_DETAILED: usize = 12;

/// The events worth a line, as `(time, text)`. A handful of events get a line each,
/// in the words of the priority demo's summary; many of a kind (a batch of 100 jobs,
/// eight executors of one job preempted at once) get one line per kind and job.
fn story(m: &RunModel, zero: i64) -> Vec<(i64, String)> {
    let rel = |t: i64| format!("{:+}s", (t - zero).div_euclid(1000));
    let span = |times: &[i64]| -> String {
        let (a, b) = (
            times.iter().min().copied().unwrap_or(zero),
            times.iter().max().copied().unwrap_or(zero),
        );
        if a == b {
            format!("at {}", rel(a))
        } else {
            format!("from {} to {}", rel(a), rel(b))
        }
    };
    let mut lines = Vec::new();
    job_lines(m, &mut lines, &span);
    let job_name = |id: Option<&str>| -> String {
        id.map(|id| {
            m.jobs
                .iter()
                .find(|j| j.id == id)
                .map_or_else(|| id.to_owned(), |j| j.label().to_owned())
        })
        .unwrap_or_default()
    };

    // Preemptions, per (victim job, preemptor job).
    let mut by_jobs: Vec<(JobPair<'_>, Vec<usize>)> = Vec::new();
    for &i in &m.preemptions {
        let pod = &m.pods[i];
        let Some(p) = &pod.preempted else { continue };
        let key = (pod.job_id.as_deref(), p.by_job.as_deref());
        match by_jobs.iter_mut().find(|(k, _)| *k == key) {
            Some((_, pods)) => pods.push(i),
            None => by_jobs.push((key, vec![i])),
        }
    }
    for ((victim_job, by_job), pods) in &by_jobs {
        let fate = |job: Option<&str>| match job.and_then(|j| driver_fate(m, j)) {
            Some(true) => "; its driver kept running",
            Some(false) => "; its driver did not survive",
            None => "",
        };
        if let [i] = pods.as_slice() {
            let pod = &m.pods[*i];
            let Some(p) = &pod.preempted else { continue };
            let whose = match victim_job {
                Some(job) => format!("{} of {}", pod.short_label(), job_name(Some(job))),
                None => format!("pod {}/{}", pod.namespace, pod.name),
            };
            let mut line = format!("{whose} preempted");
            if let Some(node) = &p.node {
                line.push_str(&format!(" on {node}"));
            }
            line.push_str(&format!(" by {}", p.by_pod));
            if let (Some(by), Some(victim)) = (p.by_priority, p.victim_priority) {
                line.push_str(&format!(" (priority {by} over {victim})"));
            }
            if pod.role == Role::Executor {
                line.push_str(fate(*victim_job));
            }
            lines.push((p.at_ms, line));
            continue;
        }
        let times: Vec<i64> = pods
            .iter()
            .filter_map(|&i| m.pods[i].preempted.as_ref().map(|p| p.at_ms))
            .collect();
        let labels: Vec<String> = pods.iter().map(|&i| m.pods[i].short_label()).collect();
        let whose = match victim_job {
            Some(job) => format!("of {}", job_name(Some(job))),
            None => "of no job".to_owned(),
        };
        let by = match by_job {
            Some(job) => format!("pods of {}", job_name(Some(job))),
            None => "other pods".to_owned(),
        };
        let all_executors = pods.iter().all(|&i| m.pods[i].role == Role::Executor);
        lines.push((
            times.iter().min().copied().unwrap_or(zero),
            format!(
                "{} pods {whose} preempted by {by} {} ({}){}",
                pods.len(),
                span(&times),
                listed(&labels),
                if all_executors { fate(*victim_job) } else { "" }
            ),
        ));
    }

    // Replacement executors, per job.
    let mut by_job: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for &i in &m.replacements {
        let key = m.pods[i].job_id.as_deref();
        match by_job.iter_mut().find(|(k, _)| *k == key) {
            Some((_, pods)) => pods.push(i),
            None => by_job.push((key, vec![i])),
        }
    }
    for (job, pods) in &by_job {
        let job = job_name(*job);
        let at = |i: usize| m.pods[i].started_ms.unwrap_or(m.pods[i].created_ms);
        let of = |i: usize| {
            m.pods[i].replaces.as_ref().map_or_else(String::new, |r| {
                r.executor_id
                    .map_or_else(|| r.pod.clone(), |id| format!("#{id}"))
            })
        };
        if let [i] = pods.as_slice() {
            let pod = &m.pods[*i];
            let line = match pod.started_ms {
                Some(_) => format!(
                    "{job}'s replacement {} running (for {})",
                    pod.short_label(),
                    of(*i)
                ),
                None => format!(
                    "{job}'s replacement {} created (for {}); it never ran",
                    pod.short_label(),
                    of(*i)
                ),
            };
            lines.push((at(*i), line));
            continue;
        }
        let times: Vec<i64> = pods.iter().map(|&i| at(i)).collect();
        let running = pods
            .iter()
            .filter(|&&i| m.pods[i].started_ms.is_some())
            .count();
        let fors: Vec<String> = pods.iter().map(|&i| of(i)).collect();
        lines.push((
            times.iter().min().copied().unwrap_or(zero),
            format!(
                "{job}'s {} replacement executors, {running} running, {} (for {})",
                pods.len(),
                span(&times),
                listed(&fors)
            ),
        ));
    }
    node_lines(m, zero, &mut lines, &span);
    lines
}

/// Submissions and ends of the jobs.
fn job_lines(m: &RunModel, lines: &mut Vec<(i64, String)>, span: &dyn Fn(&[i64]) -> String) {
    if m.jobs.len() > MAX_DETAILED {
        let submitted: Vec<i64> = m
            .jobs
            .iter()
            .filter_map(super::model::Job::first_ms)
            .collect();
        if let Some(&first) = submitted.iter().min() {
            lines.push((
                first,
                format!("{} jobs submitted {}", submitted.len(), span(&submitted)),
            ));
        }
        let mut ends: Vec<(JobState, Vec<i64>)> = Vec::new();
        for job in &m.jobs {
            if let Some(end) = job.terminal() {
                match ends.iter_mut().find(|(s, _)| *s == end.state) {
                    Some((_, times)) => times.push(end.at_ms),
                    None => ends.push((end.state, vec![end.at_ms])),
                }
            }
        }
        for (state, times) in ends {
            let first = times.iter().min().copied().unwrap_or_default();
            lines.push((
                first,
                format!("{} jobs {state} {}", times.len(), span(&times)),
            ));
        }
        return;
    }
    for job in &m.jobs {
        let Some(first) = job.first_ms() else {
            continue;
        };
        let mut line = format!("job {} ({}) submitted", job.label(), job.id);
        if !job.namespace.is_empty() {
            line.push_str(&format!(" to {}", job.namespace));
        }
        let class_of = |role: Role| {
            m.pods
                .iter()
                .find(|p| p.role == role && p.job_id.as_deref() == Some(job.id.as_str()))
                .and_then(|p| p.priority_class.clone())
        };
        if let (Some(driver), Some(executors)) = (class_of(Role::Driver), class_of(Role::Executor))
        {
            line.push_str(&format!(" (driver {driver}, executors {executors})"));
        }
        lines.push((first, line));
        if let Some(end) = job.terminal() {
            let mut line = format!("job {} {}", job.label(), end.state);
            if let Some(details) = &end.details {
                line.push_str(&format!(": {details}"));
            }
            lines.push((end.at_ms, line));
        }
    }
}

/// Nodes added and removed after the first job: the nodes that were there before are
/// the starting point (the node count line covers them).
fn node_lines(
    m: &RunModel,
    zero: i64,
    lines: &mut Vec<(i64, String)>,
    span: &dyn Fn(&[i64]) -> String,
) {
    let added: Vec<&super::model::Node> = m
        .nodes
        .iter()
        .filter(|n| n.added_ms.is_some_and(|t| t >= zero))
        .collect();
    let removed: Vec<&super::model::Node> = m
        .nodes
        .iter()
        .filter(|n| n.removed_ms.is_some_and(|t| t >= zero))
        .collect();
    if added.len() + removed.len() > MAX_DETAILED {
        let added_at: Vec<i64> = added.iter().filter_map(|n| n.added_ms).collect();
        let removed_at: Vec<i64> = removed.iter().filter_map(|n| n.removed_ms).collect();
        for (what, nodes, times) in [("added", added, added_at), ("removed", removed, removed_at)] {
            let Some(&first) = times.iter().min() else {
                continue;
            };
            let mut kinds: Vec<(String, usize)> = Vec::new();
            for n in nodes {
                let kind = format!("{} {}", n.instance_type, n.capacity.karpenter_label());
                match kinds.iter_mut().find(|(k, _)| *k == kind) {
                    Some(entry) => entry.1 += 1,
                    None => kinds.push((kind, 1)),
                }
            }
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
            lines.push((
                first,
                format!(
                    "{} nodes {what} {} ({})",
                    times.len(),
                    span(&times),
                    kinds.join(", ")
                ),
            ));
        }
        return;
    }
    for n in added {
        let by = n
            .launched_by
            .as_ref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        lines.push((
            n.added_ms.unwrap_or(zero),
            format!(
                "node {} ({}, {}) added{by}",
                n.name,
                n.instance_type,
                n.capacity.karpenter_label()
            ),
        ));
    }
    for n in removed {
        let why = n
            .removed_reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        lines.push((
            n.removed_ms.unwrap_or(zero),
            format!("node {} removed{why}", n.name),
        ));
    }
}

/// `a, b, c` or `a, b, c, ... (n in all)` for long lists.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 4;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{}, ...", items[..SHOWN].join(", "))
    }
}

/// Whether the job's driver kept running through the job (`None`: no driver seen).
fn driver_fate(m: &RunModel, job: &str) -> Option<bool> {
    let driver = m
        .pods
        .iter()
        .find(|p| p.role == Role::Driver && p.job_id.as_deref() == Some(job))?;
    let lost = driver.preempted.is_some()
        || matches!(&driver.end, Some(PodEnd::Failed(_)))
        || matches!(&driver.end, Some(PodEnd::Deleted(Some(r))) if r.loses_executor());
    Some(!lost)
}

#[cfg(test)]
mod tests {
    use runbook_state::{EventRecord, RunRecord, RunStatus};
    use serde_json::{Value, json};

    use super::*;
    use crate::report::model::{Liveness, build};

    fn run() -> RunRecord {
        RunRecord {
            id: "r1".into(),
            runbook_name: "demo".into(),
            runbook_path: "demo.yaml".into(),
            content_hash: "h".into(),
            params: json!({}),
            lock_key: "k".into(),
            target: "sim".into(),
            status: RunStatus::Succeeded,
            started_at_ms: 0,
            finished_at_ms: Some(50),
            pid: 1,
            resume_count: 0,
            error: None,
            host: "test".into(),
            settings: json!({"target": "sim"}),
            world: None,
        }
    }

    fn records(events: Vec<(i64, Value)>) -> Vec<EventRecord> {
        events
            .into_iter()
            .zip(1..)
            .map(|((at_ms, data), seq)| EventRecord {
                seq,
                run_id: "r1".into(),
                at_ms,
                kind: data["type"].as_str().unwrap_or_default().to_owned(),
                step_key: None,
                subject: None,
                data,
            })
            .collect()
    }

    fn pod(job: usize, role: &str, executor: Option<u32>) -> Value {
        let name = match executor {
            Some(e) => format!("job{job}-exec-{e}"),
            None => format!("job{job}-{role}"),
        };
        let mut p = json!({"cluster": "c", "namespace": "ns", "name": name, "role": role, "job_id": format!("id{job}")});
        if let Some(e) = executor {
            p["executor_id"] = json!(e);
        }
        p
    }

    /// `jobs` jobs submitted 10 s apart; job 1's executors 1..=`preempted` are
    /// preempted by job 0's executors and each replaced.
    fn world(jobs: usize, preempted: u32) -> RunModel {
        let mut events = vec![
            (
                0,
                json!({"type": "NodeLaunched", "cluster": "c", "node": "n1.us-east-2.compute.internal", "instance_type": "m5.xlarge", "capacity_type": "OnDemand", "pending_pods": 0}),
            ),
            (
                0,
                json!({"type": "NodeAdded", "cluster": "c", "node": "n1.us-east-2.compute.internal", "instance_type": "m5.xlarge", "capacity_type": "OnDemand", "allocatable": {"cpu_millis": 3920, "memory_mib": 14_000}}),
            ),
        ];
        for j in 0..jobs {
            let t = 10_000 * i64::try_from(j).expect("small") + 1_000;
            events.push((t, json!({"type": "JobStateChanged", "job_id": format!("id{j}"), "job_name": format!("job-{j}"), "namespace": "ns", "to": "PENDING"})));
            for (role, id) in [
                ("driver", None),
                ("executor", Some(1)),
                ("executor", Some(2)),
                ("executor", Some(3)),
            ] {
                let p = pod(j, role, id);
                let class = if role == "driver" { "critical" } else { "low" };
                events.push((t, json!({"type": "PodCreated", "pod": p, "priority": 1, "priority_class": class, "requests": {"cpu_millis": 100, "memory_mib": 100}})));
                events.push((t + 1_000, json!({"type": "PodStarted", "pod": p, "node": "n1.us-east-2.compute.internal"})));
            }
        }
        for e in 1..=preempted {
            let at = 20_000 + i64::from(e) * 1_000;
            events.push((at, json!({"type": "PodPreempted", "pod": pod(1, "executor", Some(e)), "node": "n1.us-east-2.compute.internal", "priority": 100, "preemptor": pod(0, "executor", Some(e)), "preemptor_priority": 400})));
            events.push((at + 5_000, json!({"type": "PodCreated", "pod": pod(1, "executor", Some(10 + e)), "priority": 100, "requests": {"cpu_millis": 100, "memory_mib": 100}})));
            events.push((at + 9_000, json!({"type": "PodStarted", "pod": pod(1, "executor", Some(10 + e)), "node": "n1.us-east-2.compute.internal"})));
        }
        for j in 0..jobs {
            events.push((900_000, json!({"type": "JobStateChanged", "job_id": format!("id{j}"), "job_name": format!("job-{j}"), "namespace": "ns", "from": "RUNNING", "to": "COMPLETED"})));
        }
        build(run(), &[], &records(events), Liveness::Unknown)
    }

    fn texts(s: &Summary) -> Vec<String> {
        s.lines
            .iter()
            .map(|(t, text)| format!("{t:+}s {text}"))
            .collect()
    }

    #[test]
    fn a_few_events_get_a_line_each_in_the_demo_s_words() {
        let m = world(2, 1);
        let s = summarize(&m, &crate::report::node_cost(&m));
        assert_eq!(
            texts(&s),
            [
                "+0s job job-0 (id0) submitted to ns (driver critical, executors low)",
                "+10s job job-1 (id1) submitted to ns (driver critical, executors low)",
                "+20s executor #1 of job-1 preempted on n1.us-east-2.compute.internal by job0-exec-1 (priority 400 over 100); its driver kept running",
                "+29s job-1's replacement executor #11 running (for #1)",
                "+899s job job-0 COMPLETED",
                "+899s job job-1 COMPLETED",
            ]
        );
        assert_eq!(
            s.reference,
            "seconds after the first job was submitted (t+0m01s)"
        );
        assert_eq!(
            s.nodes,
            "Nodes: 1 at peak, 1 at the end; 1 node(s) in all (1 × m5.xlarge on-demand), 0 removed."
        );
        assert!(
            s.counts
                .starts_with("2 EMR job run(s): 2 COMPLETED. 9 pod(s); 1 preempted; 1 replacement")
        );
        // 900 s of m5.xlarge on-demand at $0.192/h.
        assert_eq!(
            s.cost,
            "Estimated node cost: $0.0480 (1 × m5.xlarge on-demand for 15m node-time)."
        );
    }

    #[test]
    fn many_of_a_kind_are_told_in_one_line_per_kind_and_job() {
        let m = world(20, 3);
        let s = summarize(&m, &crate::report::node_cost(&m));
        assert_eq!(
            texts(&s),
            [
                "+0s 20 jobs submitted from +0s to +190s",
                "+20s 3 pods of job-1 preempted by pods of job-0 from +20s to +22s (executor #1, executor #2, executor #3); its driver kept running",
                "+29s job-1's 3 replacement executors, 3 running, from +29s to +31s (for #1, #2, #3)",
                "+899s 20 jobs COMPLETED at +899s",
            ]
        );
    }
}
