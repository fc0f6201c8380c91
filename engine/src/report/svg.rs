//! The charts, as inline SVG: the pod timeline, the cluster over time and the Gantt of
//! the steps.
//!
//! The SVG is kept small enough for a run of 10,000 pods to stay a few megabytes: each
//! pod is one `<path>` (its pending, running and terminating phases are rectangles of
//! different heights in one path, coloured by role) and one label; only markers
//! (preemptions, replacements, job state changes) get elements of their own, and the
//! step functions of the resource charts are reduced to at most a few points per pixel
//! column. Tooltips are native `<title>`s, so the file needs no script to be read.

use std::fmt::Write;

use runbook_backend::events::CapacityType;
use runbook_state::StepStatus;

use super::model::{Pod, PodEnd, PodGroup, Role, RunModel, Series, sum, value_at};
use super::summary::human_ms;

/// Width of every chart, px.
pub const WIDTH: f64 = 1240.0;
/// Where the plot area starts (left of it: the labels).
const PLOT_X: f64 = 262.0;
/// Width of the plot area.
const PLOT_W: f64 = 950.0;
/// Height of the time axis at the top of each chart.
const AXIS_H: f64 = 26.0;
/// A pod row.
const POD_ROW: f64 = 16.0;
/// A group header row: the job's name, its namespace and id, and its states.
const GROUP_ROW: f64 = 36.0;
/// Space after a group.
const GROUP_GAP: f64 = 8.0;
/// Draw vertical guide lines for at most this many preemptions.
const MAX_GUIDES: usize = 12;

/// Escapes text for HTML and SVG (content and attribute values).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Maps times to x positions in the plot area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    /// First instant shown.
    pub t0: i64,
    /// Last instant shown (> `t0`).
    pub t1: i64,
    /// The run's start: tick labels are offsets from it.
    pub origin: i64,
}

impl Axis {
    /// An axis from `t0` to `t1` (widened to at least one second).
    pub fn new(t0: i64, t1: i64, origin: i64) -> Axis {
        Axis {
            t0,
            t1: t1.max(t0 + 1000),
            origin,
        }
    }

    /// The x position of `t`, clamped to the plot area.
    pub fn x(&self, t: i64) -> f64 {
        let t = t.clamp(self.t0, self.t1);
        PLOT_X + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * PLOT_W
    }

    /// Right edge of the plot area.
    fn x_end(&self) -> f64 {
        PLOT_X + PLOT_W
    }

    /// Round tick instants, at most about ten, at offsets from the origin.
    fn ticks(&self) -> Vec<i64> {
        const STEPS_S: [i64; 22] = [
            1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10800,
            21600, 43200, 86400, 604_800,
        ];
        let span = self.t1 - self.t0;
        let step = STEPS_S
            .iter()
            .map(|s| s * 1000)
            .find(|s| span / s <= 10)
            .unwrap_or(span.max(1));
        let first = self.origin + (self.t0 - self.origin).div_euclid(step) * step;
        let mut ticks = Vec::new();
        let mut t = if first < self.t0 { first + step } else { first };
        while t <= self.t1 {
            ticks.push(t);
            t += step;
        }
        ticks
    }
}

/// `m:ss` or `h:mm:ss` after the run's start.
pub fn clock_label(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { "-" } else { "" };
    let s = offset_ms.abs() / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m}:{s:02}")
    }
}

/// Opens an `<svg>` of the report's width.
fn open_svg(out: &mut String, id: &str, height: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg id="{id}" data-chart="{id}" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{}">"#,
        esc(title)
    );
}

/// Tick labels at the top and grid lines down to `bottom`.
fn axis(out: &mut String, axis: &Axis, bottom: f64) {
    let mut grid = String::new();
    for t in axis.ticks() {
        let x = axis.x(t);
        let _ = write!(grid, "M{x:.1} {AXIS_H}V{bottom:.0}");
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="16" text-anchor="middle">{}</text>"#,
            clock_label(t - axis.origin)
        );
    }
    let _ = write!(
        out,
        r#"<path class="grid" d="{grid}"/><path class="baseline" d="M{PLOT_X} {AXIS_H}H{:.1}"/>"#,
        axis.x_end()
    );
}

/// A rectangle as path data, at least `min_w` wide.
fn rect(d: &mut String, x0: f64, x1: f64, y_mid: f64, h: f64, min_w: f64) {
    let w = N((x1 - x0).max(min_w));
    let _ = write!(d, "M{} {}h{w}v{h}h-{w}z", N(x0), N(y_mid - h / 2.0));
}

/// A coordinate with one decimal, without a trailing `.0` (bytes add up at 10,000
/// rows).
struct N(f64);

impl std::fmt::Display for N {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        if tenths % 10 == 0 {
            write!(f, "{}", tenths / 10)
        } else {
            let sign = if tenths < 0 { "-" } else { "" };
            write!(f, "{sign}{}.{}", (tenths / 10).abs(), (tenths % 10).abs())
        }
    }
}

// ----- pods ---------------------------------------------------------------------------

/// The window of the pod and cluster charts: from the first job (or the first pod or
/// node, if there are no jobs) to the end of the record. `None` when nothing of the
/// world was recorded (utility-only runs, or the `aws` target without an observer).
pub fn world_window(m: &RunModel) -> Option<(i64, i64)> {
    let first_job = m.jobs.iter().filter_map(super::model::Job::first_ms).min();
    let first_job_pod = m
        .pods
        .iter()
        .filter(|p| p.job_id.is_some())
        .map(|p| p.created_ms)
        .min();
    let first_any = m
        .pods
        .iter()
        .map(|p| p.created_ms)
        .chain(m.nodes.iter().map(|n| n.launched_ms))
        .min();
    let start = match (first_job, first_job_pod) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b).or(first_any),
    }?;
    // A little room before the first event, so its marker is not on the edge.
    let span = (m.clock.end_ms - start).max(1000);
    Some((start - span / 50, m.clock.end_ms + span / 100))
}

/// The pod timeline: one row per pod, grouped by job and namespace.
pub fn pods_chart(m: &RunModel, ax: &Axis) -> String {
    let rows: usize = m.groups.iter().map(|g| g.pods.len()).sum();
    let height = AXIS_H
        + 6.0
        + m.groups.len() as f64 * (GROUP_ROW + GROUP_GAP)
        + rows as f64 * POD_ROW
        + 10.0;
    let mut out = String::with_capacity(256 + rows * 330);
    open_svg(&mut out, "pods", height, "Pods over time");
    axis(&mut out, ax, height - 6.0);
    let mut marks = String::new();
    let mut y = AXIS_H + 6.0;
    for group in &m.groups {
        group_header(&mut out, &mut marks, m, group, ax, y);
        y += GROUP_ROW;
        // The group's row labels are one <text>, a line per pod (a third of the bytes
        // of a <text> per row, which matters at 10,000 pods).
        let mut labels = format!(
            r#"<text class="pod-label" x="30" y="{}">"#,
            N(y + POD_ROW / 2.0 + 4.0 - POD_ROW)
        );
        for &i in &group.pods {
            let _ = write!(
                labels,
                r#"<tspan x="30" dy="{POD_ROW}">{}</tspan>"#,
                esc(&truncate(&m.pods[i].short_label(), 32))
            );
            pod_row(&mut out, &mut marks, m, &m.pods[i], ax, y);
            y += POD_ROW;
        }
        labels.push_str("</text>");
        out.push_str(&labels);
        y += GROUP_GAP;
    }
    if m.preemptions.len() <= MAX_GUIDES {
        let mut d = String::new();
        for &i in &m.preemptions {
            if let Some(p) = &m.pods[i].preempted {
                let x = ax.x(p.at_ms);
                let _ = write!(d, "M{x:.1} {AXIS_H}V{:.0}", height - 6.0);
            }
        }
        if !d.is_empty() {
            let _ = write!(out, r#"<path class="guide" d="{d}"/>"#);
        }
    }
    out.push_str(&marks);
    out.push_str("</svg>");
    out
}

fn group_header(
    out: &mut String,
    marks: &mut String,
    m: &RunModel,
    group: &PodGroup,
    ax: &Axis,
    y: f64,
) {
    let _ = write!(
        out,
        r#"<rect class="group-bg" x="0" y="{y:.0}" width="{WIDTH}" height="{GROUP_ROW}"/>"#
    );
    let Some(job) = group.job.map(|j| &m.jobs[j]) else {
        let _ = write!(
            out,
            r#"<text class="group" x="8" y="{:.0}">{}</text><text class="group-sub" x="8" y="{:.0}">{} pod(s) of no job</text>"#,
            y + 15.0,
            esc(&truncate(&group.namespace, 34)),
            y + 30.0,
            group.pods.len()
        );
        return;
    };
    let _ = write!(
        out,
        r#"<text class="group" x="8" y="{:.0}">{}<title>job {} ({}) in namespace {}</title></text><text class="group-sub" x="8" y="{:.0}">{} · {}</text>"#,
        y + 15.0,
        esc(&truncate(job.label(), 34)),
        esc(job.label()),
        esc(&job.id),
        esc(&group.namespace),
        y + 30.0,
        esc(&truncate(&group.namespace, 20)),
        esc(&job.id)
    );
    // The job's states as a band, one segment per state.
    let band_y = y + 24.0;
    for (k, s) in job.states.iter().enumerate() {
        let until = job.states.get(k + 1).map_or(
            if s.is_terminal() {
                s.at_ms
            } else {
                m.clock.end_ms
            },
            |n| n.at_ms,
        );
        let (x0, x1) = (ax.x(s.at_ms), ax.x(until));
        if x1 > x0 {
            let _ = write!(
                out,
                r#"<rect class="state {}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="6"/>"#,
                state_class(s.state.as_str()),
                band_y - 3.0,
                x1 - x0
            );
        }
    }
    // A diamond per change; labels where they do not overlap the previous one
    // (terminal states always, they are what a reader looks for).
    let mut free_from = f64::MIN;
    for s in &job.states {
        let x = ax.x(s.at_ms);
        let label = s.state.as_str();
        let width = label.len() as f64 * 6.2;
        let show = s.is_terminal() || x - width / 2.0 >= free_from;
        let mut tip = format!(
            "{} {} at {}",
            job.label(),
            s.state,
            clock_label(s.at_ms - ax.origin)
        );
        if let Some(d) = &s.details {
            tip.push_str(&format!(": {d}"));
        }
        let _ = write!(
            marks,
            r#"<g class="mark job-state {}" data-job="{}" data-state="{}"><path d="M{x:.1} {:.1}l4 4l-4 4l-4-4z"/><title>{}</title>"#,
            state_class(s.state.as_str()),
            esc(&job.id),
            esc(s.state.as_str()),
            band_y - 4.0,
            esc(&tip)
        );
        if show {
            let (anchor, lx) = if x + width / 2.0 > ax.x_end() {
                ("end", ax.x_end())
            } else {
                ("middle", x.max(PLOT_X + width / 2.0))
            };
            let _ = write!(
                marks,
                r#"<text class="state-label" x="{lx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                band_y - 8.0,
                esc(label)
            );
            free_from = lx + width / 2.0 + 4.0;
        }
        marks.push_str("</g>");
    }
}

fn state_class(state: &str) -> &'static str {
    match state {
        "PENDING" => "st-pending",
        "SUBMITTED" => "st-submitted",
        "RUNNING" => "st-running",
        "COMPLETED" => "st-completed",
        "FAILED" => "st-failed",
        "CANCELLED" | "CANCEL_PENDING" => "st-cancelled",
        _ => "st-other",
    }
}

fn role_class(role: Role) -> &'static str {
    match role {
        Role::JobRunner => "r-jr",
        Role::Driver => "r-dr",
        Role::Executor => "r-ex",
        Role::System => "r-sys",
    }
}

fn pod_row(out: &mut String, marks: &mut String, m: &RunModel, pod: &Pod, ax: &Axis, y: f64) {
    let mid = y + POD_ROW / 2.0;
    let end = m.clock.end_ms;
    let cls = role_class(pod.role);
    let mut d = String::new();
    // Pending: created until started (or until it went away without running).
    let pending_until = pod.started_ms.or(pod.stopped_ms()).unwrap_or(end);
    if pending_until > pod.created_ms {
        rect(
            &mut d,
            ax.x(pod.created_ms),
            ax.x(pending_until),
            mid,
            2.0,
            0.0,
        );
    }
    // Running: started until it finished or began terminating.
    if let Some(started) = pod.started_ms {
        let until = pod.stopped_ms().filter(|&t| t >= started).unwrap_or(end);
        rect(&mut d, ax.x(started), ax.x(until), mid, 10.0, 1.5);
    }
    // Terminating: the grace period, until the pod is gone.
    if let (Some(from), Some(_)) = (pod.terminating_ms, pod.started_ms) {
        let until = pod.deleted_ms.unwrap_or(end);
        if until > from {
            rect(&mut d, ax.x(from), ax.x(until), mid, 5.0, 0.0);
        }
    }
    if d.is_empty() {
        // Seen only at one instant: a sliver, so the row is not empty.
        rect(
            &mut d,
            ax.x(pod.created_ms),
            ax.x(pod.created_ms),
            mid,
            10.0,
            1.5,
        );
    }
    let _ = write!(
        out,
        r#"<path class="pod {cls}" d="{d}"><title>{}</title></path>"#,
        esc(&pod_tooltip(pod, ax.origin))
    );
    if let Some(p) = &pod.preempted {
        let x = ax.x(p.at_ms);
        let label = format!("preempted by {}", p.by_pod);
        let (anchor, lx) = label_side(&label, x, ax, true);
        let mut tip = format!(
            "preempted at {} by {}/{}",
            clock_label(p.at_ms - ax.origin),
            p.by_namespace,
            p.by_pod
        );
        if let Some(job) = &p.by_job {
            tip.push_str(&format!(" (job {job})"));
        }
        if let (Some(by), Some(v)) = (p.by_priority, p.victim_priority) {
            tip.push_str(&format!(", priority {by} over {v}"));
        }
        let _ = write!(
            marks,
            r#"<g class="mark preempt" data-pod="{}/{}" data-preemptor="{}/{}"><path d="M{} {}l8 8m0-8l-8 8"/><text class="mark-label" x="{}" y="{}"{anchor}>{}</text><title>{}</title></g>"#,
            esc(&pod.namespace),
            esc(&pod.name),
            esc(&p.by_namespace),
            esc(&p.by_pod),
            N(x - 4.0),
            N(mid - 4.0),
            N(lx),
            N(mid + 4.0),
            esc(&label),
            esc(&tip)
        );
    }
    if let Some(r) = &pod.replaces {
        let at = pod.started_ms.unwrap_or(pod.created_ms);
        let x = ax.x(at);
        let of = r
            .executor_id
            .map_or_else(|| r.pod.clone(), |id| format!("executor #{id}"));
        let label = format!("replaces {of}");
        let (anchor, lx) = label_side(&label, x, ax, false);
        let _ = write!(
            marks,
            r#"<g class="mark replace" data-pod="{}/{}" data-replaces="{}"><circle cx="{}" cy="{}" r="4.5"/><text class="mark-label" x="{}" y="{}"{anchor}>{}</text><title>for the lost {}, running from {}</title></g>"#,
            esc(&pod.namespace),
            esc(&pod.name),
            r.executor_id.map(|id| id.to_string()).unwrap_or_default(),
            N(x),
            N(mid),
            N(lx),
            N(mid + 4.0),
            esc(&label),
            esc(&r.pod),
            clock_label(at - ax.origin)
        );
    }
}

/// Where a marker's label goes: after the marker (`prefer_right`) or before it, on the
/// other side when it would leave the plot. Returns the `text-anchor` attribute (empty
/// for the default, start) and the label's x.
fn label_side(label: &str, x: f64, ax: &Axis, prefer_right: bool) -> (&'static str, f64) {
    let width = label_width(label);
    let fits_right = x + 9.0 + width <= ax.x_end() + 15.0;
    let fits_left = x - 9.0 - width >= PLOT_X - 4.0;
    if (prefer_right && fits_right) || (!prefer_right && !fits_left) {
        ("", x + 9.0)
    } else {
        (r#" text-anchor="end""#, x - 9.0)
    }
}

/// The estimated width of a marker label (11.5 px, semi-bold).
fn label_width(label: &str) -> f64 {
    label.chars().count() as f64 * 6.6
}

/// The pod's details, for its row's tooltip: what it is, where it ran, when.
fn pod_tooltip(pod: &Pod, origin: i64) -> String {
    let at = |t: i64| clock_label(t - origin);
    let mut tip = pod.name.clone();
    if let Some(node) = &pod.node {
        tip.push_str(&format!(" on {}", short_node(node)));
    }
    tip.push('\n');
    match (&pod.priority_class, pod.priority) {
        (Some(c), Some(p)) => tip.push_str(&format!("{c} ({p}) · ")),
        (None, Some(p)) => tip.push_str(&format!("priority {p} · ")),
        (Some(c), None) => tip.push_str(&format!("{c} · ")),
        (None, None) => {}
    }
    tip.push_str(&format!(
        "{}m CPU · {} MiB\ncreated {}",
        pod.cpu_millis,
        pod.memory_mib,
        at(pod.created_ms)
    ));
    if let Some(t) = pod.started_ms {
        tip.push_str(&format!(", running {}", at(t)));
    }
    match (&pod.end, pod.finished_ms) {
        (Some(PodEnd::Succeeded), Some(t)) => tip.push_str(&format!(", succeeded {}", at(t))),
        (Some(PodEnd::Failed(r)), Some(t)) => tip.push_str(&format!(", failed {} ({r})", at(t))),
        _ => {}
    }
    if let Some(t) = pod.deleted_ms {
        tip.push_str(&format!(", deleted {}", at(t)));
        if let Some(PodEnd::Deleted(Some(r))) = &pod.end {
            tip.push_str(&format!(" ({r})"));
        }
    }
    if pod.stopped_ms().is_none() {
        tip.push_str(", still there at the end of the record");
    }
    if let Some(msg) = &pod.unschedulable {
        tip.push_str(&format!("\nwaited: {msg}"));
    }
    tip
}

/// An EC2 node name without its `.<region>.compute.internal` domain (the nodes chart
/// shows the full name): 10,000 pod tooltips repeat it.
fn short_node(name: &str) -> &str {
    if name.ends_with(".compute.internal") {
        name.split('.').next().unwrap_or(name)
    } else {
        name
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

// ----- cluster ------------------------------------------------------------------------

const NODE_ROW: f64 = 18.0;
const PANEL_H: f64 = 130.0;
const COUNT_H: f64 = 56.0;
const PANEL_GAP: f64 = 26.0;

/// The cluster over time: a lane per node (by capacity type), then CPU and memory
/// requested vs allocatable, then the node count.
pub fn cluster_chart(m: &RunModel, ax: &Axis) -> String {
    let lanes_h = 22.0 + m.nodes.len() as f64 * NODE_ROW;
    let height = AXIS_H + 6.0 + lanes_h + 2.0 * (PANEL_H + PANEL_GAP) + COUNT_H + PANEL_GAP + 8.0;
    let mut out = String::with_capacity(16_384 + m.nodes.len() * 400);
    open_svg(&mut out, "cluster", height, "The cluster over time");
    axis(&mut out, ax, height - 8.0);
    let end = m.clock.end_ms;
    let mut y = AXIS_H + 6.0;
    let _ = write!(
        out,
        r#"<text class="panel-title" x="8" y="{:.0}">Nodes</text>"#,
        y + 15.0
    );
    y += 22.0;
    for n in &m.nodes {
        let mid = y + NODE_ROW / 2.0;
        let cap = match n.capacity {
            CapacityType::OnDemand => "cap-od",
            CapacityType::Spot => "cap-spot",
        };
        let _ = write!(
            out,
            r#"<text class="pod-label" x="30" y="{:.1}"><tspan class="sw {cap}">■</tspan> {} · {}</text>"#,
            mid + 4.0,
            esc(&n.instance_type),
            n.capacity.karpenter_label()
        );
        let until = n.removed_ms.unwrap_or(end);
        let mut provisioning = String::new();
        let ready_from = n.ready_ms.or(n.added_ms).unwrap_or(n.launched_ms);
        if ready_from > n.launched_ms {
            rect(
                &mut provisioning,
                ax.x(n.launched_ms),
                ax.x(ready_from),
                mid,
                6.0,
                0.0,
            );
        }
        let mut ready = String::new();
        if until > ready_from || n.removed_ms.is_none() {
            rect(&mut ready, ax.x(ready_from), ax.x(until), mid, 12.0, 1.5);
        }
        let mut tip = format!(
            "{} ({}, {})",
            n.name,
            n.instance_type,
            n.capacity.karpenter_label()
        );
        if let Some(by) = &n.launched_by {
            tip.push_str(&format!(", launched by {by}"));
        }
        tip.push_str(&format!(
            "\nlaunched {}",
            clock_label(n.launched_ms - ax.origin)
        ));
        if let Some(t) = n.ready_ms {
            tip.push_str(&format!(", ready {}", clock_label(t - ax.origin)));
        }
        match (n.removed_ms, &n.removed_reason) {
            (Some(t), Some(r)) => {
                tip.push_str(&format!(", removed {}: {r}", clock_label(t - ax.origin)));
            }
            (Some(t), None) => tip.push_str(&format!(", removed {}", clock_label(t - ax.origin))),
            _ => {}
        }
        tip.push_str(&format!(
            "\nallocatable {:.2} vCPU, {:.1} GiB",
            n.cpu_millis as f64 / 1000.0,
            n.memory_mib as f64 / 1024.0
        ));
        let _ = write!(
            out,
            r#"<g class="node {cap}" data-node="{}"><path class="provisioning" d="{provisioning}"/><path d="{ready}"/><title>{}</title></g>"#,
            esc(&n.name),
            esc(&tip)
        );
        if let Some(t) = n.removed_ms {
            let _ = write!(
                out,
                r#"<text class="mark-label dim" x="{:.1}" y="{:.1}">removed</text>"#,
                ax.x(t) + 5.0,
                mid + 4.0
            );
        }
        y += NODE_ROW;
    }
    y += PANEL_GAP;
    let u = &m.usage;
    panel(
        &mut out,
        ax,
        y,
        PANEL_H,
        "CPU (vCPU)",
        1000.0,
        &u.cpu_allocatable,
        &u.cpu_requested,
        &sum(&u.cpu_requested, &u.cpu_pending),
    );
    y += PANEL_H + PANEL_GAP;
    panel(
        &mut out,
        ax,
        y,
        PANEL_H,
        "Memory (GiB)",
        1024.0,
        &u.memory_allocatable,
        &u.memory_requested,
        &sum(&u.memory_requested, &u.memory_pending),
    );
    y += PANEL_H + PANEL_GAP;
    count_panel(&mut out, ax, y, &u.nodes);
    out.push_str("</svg>");
    out
}

/// Points of a step function within the axis window, at most three per pixel column
/// (entering value, the extreme within the column, leaving value), as `(x, value)`.
fn step_points(series: &Series, ax: &Axis) -> Vec<(f64, i64)> {
    let mut points = vec![(ax.x(ax.t0), value_at(series, ax.t0))];
    let start = series.partition_point(|&(t, _)| t <= ax.t0);
    for &(t, v) in &series[start..] {
        if t > ax.t1 {
            break;
        }
        let x = (ax.x(t) * 2.0).round() / 2.0;
        let n = points.len();
        if n >= 3 && points[n - 1].0 == x && points[n - 2].0 == x {
            // Same half-pixel: keep the extreme and the latest value.
            let (keep, last) = (points[n - 2].1, points[n - 1].1);
            if (last - points[n - 3].1).abs() > (keep - points[n - 3].1).abs() {
                points[n - 2].1 = last;
            }
            points[n - 1].1 = v;
        } else {
            points.push((x, v));
        }
    }
    points
}

/// Path data of a step function, scaled by `y_of`.
fn step_path(points: &[(f64, i64)], end_x: f64, y_of: impl Fn(i64) -> f64) -> String {
    let mut d = String::with_capacity(points.len() * 16);
    let Some(&(x0, v0)) = points.first() else {
        return d;
    };
    let _ = write!(d, "M{x0:.1} {:.1}", y_of(v0));
    for &(x, v) in &points[1..] {
        let _ = write!(d, "H{x:.1}V{:.1}", y_of(v));
    }
    let _ = write!(d, "H{end_x:.1}");
    d
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call per panel; a struct would only rename the arguments"
)]
fn panel(
    out: &mut String,
    ax: &Axis,
    y: f64,
    h: f64,
    title: &str,
    unit: f64,
    allocatable: &Series,
    requested: &Series,
    demanded: &Series,
) {
    let alloc = step_points(allocatable, ax);
    let req = step_points(requested, ax);
    let dem = step_points(demanded, ax);
    let max = alloc
        .iter()
        .chain(&req)
        .chain(&dem)
        .map(|&(_, v)| v)
        .max()
        .unwrap_or(0)
        .max(1) as f64
        / unit;
    let top = nice_ceiling(max * 1.08);
    let y_of = |v: i64| y + h - (v as f64 / unit) / top * h;
    let _ = write!(
        out,
        r#"<text class="panel-title" x="8" y="{:.0}">{}</text>"#,
        y + 14.0,
        esc(title)
    );
    // Value grid: 0, top/2, top.
    for k in 0..=2 {
        let v = top * f64::from(k) / 2.0;
        let gy = y + h - v / top * h;
        let _ = write!(
            out,
            r#"<path class="vgrid" d="M{PLOT_X} {gy:.1}H{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            ax.x_end(),
            PLOT_X - 6.0,
            gy + 4.0,
            trim_number(v)
        );
    }
    let end_x = ax.x_end();
    let req_d = step_path(&req, end_x, y_of);
    if !req_d.is_empty() {
        let _ = write!(
            out,
            r#"<path class="requested" d="{req_d}V{:.1}H{PLOT_X}Z"/>"#,
            y + h
        );
    }
    let _ = write!(
        out,
        r#"<path class="demanded" d="{}"/><path class="allocatable" d="{}"/>"#,
        step_path(&dem, end_x, y_of),
        step_path(&alloc, end_x, y_of)
    );
    // Peak reservation, as Container Insights shows it.
    let peak = peak_ratio(requested, allocatable);
    if let Some(p) = peak {
        let _ = write!(
            out,
            r#"<text class="panel-note" x="8" y="{:.0}">peak reserved {:.0}%</text>"#,
            y + 32.0,
            p * 100.0
        );
    }
}

/// The highest requested/allocatable ratio over time.
fn peak_ratio(requested: &Series, allocatable: &Series) -> Option<f64> {
    let mut peak: Option<f64> = None;
    for &(t, _) in requested.iter().chain(allocatable) {
        let a = value_at(allocatable, t);
        if a > 0 {
            let r = value_at(requested, t) as f64 / a as f64;
            peak = Some(peak.map_or(r, |p: f64| p.max(r)));
        }
    }
    peak
}

fn count_panel(out: &mut String, ax: &Axis, y: f64, nodes: &Series) {
    let points = step_points(nodes, ax);
    let max = points.iter().map(|&(_, v)| v).max().unwrap_or(0).max(1);
    let h = COUNT_H - 10.0;
    let y_of = |v: i64| y + h - v as f64 / max as f64 * h;
    let _ = write!(
        out,
        r#"<text class="panel-title" x="8" y="{:.0}">Node count</text><path class="vgrid" d="M{PLOT_X} {:.1}H{:.1}M{PLOT_X} {:.1}H{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{max}</text><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">0</text>"#,
        y + 14.0,
        y_of(max),
        ax.x_end(),
        y_of(0),
        ax.x_end(),
        PLOT_X - 6.0,
        y_of(max) + 4.0,
        PLOT_X - 6.0,
        y_of(0) + 4.0
    );
    let _ = write!(
        out,
        r#"<path class="node-count" d="{}"/>"#,
        step_path(&points, ax.x_end(), y_of)
    );
}

/// 1, 2, 2.5, 5 × 10^k at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v - 1e-9 {
            return m * mag;
        }
    }
    10.0 * mag
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

// ----- steps --------------------------------------------------------------------------

const STEP_ROW: f64 = 20.0;

/// The Gantt of the steps over the whole run, with the pod window shaded.
pub fn steps_chart(m: &RunModel, ax: &Axis, window: Option<(i64, i64)>) -> String {
    let height = AXIS_H + 8.0 + m.steps.len() as f64 * STEP_ROW + 10.0;
    let mut out = String::with_capacity(4096 + m.steps.len() * 400);
    open_svg(&mut out, "steps", height, "Steps over time");
    if let Some((w0, w1)) = window {
        let (x0, x1) = (ax.x(w0), ax.x(w1));
        let _ = write!(
            out,
            r#"<rect class="window" x="{x0:.1}" y="{AXIS_H}" width="{:.1}" height="{:.0}"><title>the window of the pod and cluster charts</title></rect>"#,
            (x1 - x0).max(1.0),
            height - AXIS_H - 4.0
        );
    }
    axis(&mut out, ax, height - 4.0);
    let mut y = AXIS_H + 8.0;
    for step in &m.steps {
        let mid = y + STEP_ROW / 2.0;
        let status = step.status();
        let _ = write!(
            out,
            r#"<g class="step" data-step="{}" data-status="{}" data-attempts="{}"><text class="step-label{}" x="8" y="{:.1}">{}</text>"#,
            esc(&step.key),
            status.as_str(),
            step.attempts.len(),
            if step.is_finally { " finally" } else { "" },
            mid + 4.0,
            esc(&truncate(&step.key, 34))
        );
        let mut last_x = PLOT_X;
        let mut first_x = f64::MAX;
        for a in &step.attempts {
            let x0 = ax.x(a.start_ms);
            let open = a.end_ms.is_none();
            let x1 = a.end_ms.map_or(ax.x_end(), |e| ax.x(e));
            let w = (x1 - x0).max(3.0);
            let mut cls = format!("bar {}", a.status.as_str());
            if a.start_estimated {
                cls.push_str(" estimated");
            }
            let mut tip = format!(
                "{} attempt {}: {}",
                step.key,
                a.attempt,
                if open {
                    "running when the record ends".to_owned()
                } else {
                    a.status.as_str().to_owned()
                }
            );
            if a.start_estimated {
                tip.push_str(" (start not recorded: placed after the steps before it)");
            } else {
                tip.push_str(&format!(", from {}", clock_label(a.start_ms - ax.origin)));
            }
            if let Some(e) = a.end_ms {
                tip.push_str(&format!(
                    " to {} ({})",
                    clock_label(e - ax.origin),
                    human_ms(e - a.start_ms)
                ));
            }
            if a.resumed {
                tip.push_str(", re-entered on resume");
            }
            if let Some(err) = &a.error {
                tip.push_str(&format!("\nerror: {err}"));
            }
            let _ = write!(
                out,
                r#"<rect class="{cls}" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="12" rx="2"><title>{}</title></rect>"#,
                mid - 6.0,
                esc(&tip)
            );
            if step.attempts.len() > 1 {
                let _ = write!(
                    out,
                    r##"<text class="attempt" x="{:.1}" y="{:.1}">#{}</text>"##,
                    x0 + w / 2.0,
                    mid - 8.0,
                    a.attempt
                );
            }
            last_x = last_x.max(x0 + w);
            first_x = first_x.min(x0);
        }
        let note = step_note(step, status);
        let width = note.chars().count() as f64 * 5.8;
        let (anchor, nx) = if last_x + 6.0 + width <= ax.x_end() + 15.0 {
            ("start", last_x + 6.0)
        } else {
            ("end", first_x - 6.0)
        };
        let _ = write!(
            out,
            r#"<text class="step-note {}" x="{nx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text></g>"#,
            status.as_str(),
            mid + 4.0,
            esc(&note)
        );
        y += STEP_ROW;
    }
    out.push_str("</svg>");
    out
}

/// The words after a step's bar: its action, duration and, if it did not succeed, why.
fn step_note(step: &super::model::StepRow, status: StepStatus) -> String {
    let last = step.attempts.last();
    let took = last
        .and_then(|a| a.end_ms.map(|e| e - a.start_ms))
        .map(human_ms);
    let mut note = step.action.clone();
    match status {
        StepStatus::Succeeded => {
            if let Some(t) = took {
                note.push_str(&format!(" · {t}"));
            }
        }
        StepStatus::Skipped => note.push_str(" · skipped"),
        StepStatus::Running => note.push_str(" · running when the record ends"),
        StepStatus::Failed => {
            let err = last.and_then(|a| a.error.as_deref()).unwrap_or("failed");
            note.push_str(&format!(" · failed: {}", truncate(err, 70)));
        }
    }
    if step.attempts.len() > 1 {
        note.push_str(&format!(" · {} attempts", step.attempts.len()));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_offsets_from_the_run_start() {
        let ax = Axis::new(655_000, 1_040_000, 0);
        let ticks = ax.ticks();
        assert_eq!(ticks.first(), Some(&660_000));
        assert!(ticks.windows(2).all(|w| w[1] - w[0] == 60_000), "{ticks:?}");
        assert_eq!(clock_label(660_000), "11:00");
        assert_eq!(clock_label(3_725_000), "1:02:05");
        assert!((ax.x(655_000) - PLOT_X).abs() < 1e-9);
        assert!(
            (ax.x(2_000_000) - (PLOT_X + PLOT_W)).abs() < 1e-9,
            "clamped"
        );
    }

    #[test]
    fn step_points_are_bounded_per_pixel() {
        // 100,000 changes in a 1,000-pixel window.
        let series: Series = (0..100_000).map(|i| (i, i % 7)).collect();
        let ax = Axis::new(0, 100_000, 0);
        let points = step_points(&series, &ax);
        assert!(points.len() <= 3 * 2 * PLOT_W as usize, "{}", points.len());
        assert!(points.iter().all(|&(_, v)| (0..7).contains(&v)));
    }

    #[test]
    fn coordinates_are_short() {
        let shown: Vec<String> = [3.0, 3.04, 3.06, -0.5, -12.25, 0.0]
            .into_iter()
            .map(|v| N(v).to_string())
            .collect();
        assert_eq!(shown, ["3", "3", "3.1", "-0.5", "-12.3", "0"]);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn nice_ceilings() {
        assert!((nice_ceiling(8.5) - 10.0).abs() < 1e-9);
        assert!((nice_ceiling(14.2) - 20.0).abs() < 1e-9);
        assert!((nice_ceiling(0.3) - 0.5).abs() < 1e-9);
        assert!((nice_ceiling(2.1) - 2.5).abs() < 1e-9);
    }
}
