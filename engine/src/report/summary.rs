//! The plain-text summary at the top of the report: what happened, in the words the
//! priority demo's own summary uses ("executor #2 preempted on NODE by POD; its driver
//! kept running", "replacement executor #3 running", "COMPLETED"), plus the node count
//! and the cost, so a reader gets the story without reading the charts.

use std::time::Duration;

use runbook_actions::duration::Humane;

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
            .map_or_else(|| "state unknown".to_owned(), |s| s.state.clone());
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
                    l.capacity.as_str(),
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
        let kind = format!("{} {}", n.instance_type, n.capacity.as_str());
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

/// The events worth a line, as `(time, text)`.
fn story(m: &RunModel, zero: i64) -> Vec<(i64, String)> {
    let mut lines = Vec::new();
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
    let job_name = |id: Option<&str>| -> String {
        id.map(|id| {
            m.jobs
                .iter()
                .find(|j| j.id == id)
                .map_or_else(|| id.to_owned(), |j| j.label().to_owned())
        })
        .unwrap_or_default()
    };
    for &i in &m.preemptions {
        let pod = &m.pods[i];
        let Some(p) = &pod.preempted else { continue };
        let whose = match &pod.job_id {
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
            if let Some(job) = &pod.job_id {
                match driver_fate(m, job) {
                    Some(true) => line.push_str("; its driver kept running"),
                    Some(false) => line.push_str("; its driver did not survive"),
                    None => {}
                }
            }
        }
        lines.push((p.at_ms, line));
    }
    for &i in &m.replacements {
        let pod = &m.pods[i];
        let Some(r) = &pod.replaces else { continue };
        let of = r
            .executor_id
            .map_or_else(|| r.pod.clone(), |id| format!("#{id}"));
        let job = job_name(pod.job_id.as_deref());
        let line = match pod.started_ms {
            Some(_) => format!(
                "{job}'s replacement {} running (for {of})",
                pod.short_label()
            ),
            None => format!(
                "{job}'s replacement {} created (for {of}); it never ran",
                pod.short_label()
            ),
        };
        lines.push((pod.started_ms.unwrap_or(pod.created_ms), line));
    }
    for n in &m.nodes {
        // The nodes that were there before the first job are the starting point (the
        // node count line covers them); later ones are part of the story.
        if let Some(added) = n.added_ms.filter(|&t| t >= zero) {
            let by = n
                .launched_by
                .as_ref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            lines.push((
                added,
                format!(
                    "node {} ({}, {}) added{by}",
                    n.name,
                    n.instance_type,
                    n.capacity.as_str()
                ),
            ));
        }
        if let Some(removed) = n.removed_ms.filter(|&t| t >= zero) {
            let why = n
                .removed_reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            lines.push((removed, format!("node {} removed{why}", n.name)));
        }
    }
    lines
}

/// Whether the job's driver kept running through the job (`None`: no driver seen).
fn driver_fate(m: &RunModel, job: &str) -> Option<bool> {
    let driver = m
        .pods
        .iter()
        .find(|p| p.role == Role::Driver && p.job_id.as_deref() == Some(job))?;
    let lost = driver.preempted.is_some()
        || matches!(&driver.end, Some(PodEnd::Failed(_)))
        || matches!(&driver.end, Some(PodEnd::Deleted(Some(r))) if r == "Preempted" || r == "NodeRemoved");
    Some(!lost)
}
