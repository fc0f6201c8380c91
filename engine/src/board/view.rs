//! Drawing the board with ratatui: a title with the run's time and status, one box per
//! node (its CPU and memory bars filled by its pods, coloured by job, each pod listed
//! with its priority class), the pending pods beside them, and the story below.
//!
//! Only what fits is drawn: with 1,000 nodes the board shows the first boxes and says
//! how many more there are, so a redraw costs the same whatever the cluster's size.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use runbook_backend::events::{CapacityType, PodRole, Resources};

use super::model::{BoardModel, NodeBox, PodTile, requested};

/// The width of a node's box, borders included.
const NODE_WIDTH: u16 = 50;
/// The width of the pending pods' column.
const PENDING_WIDTH: u16 = 30;
/// How many story lines the bottom panel shows at most.
const STORY_HEIGHT: u16 = 8;

/// Job colours, by the order jobs were submitted; pods of no job are grey.
const JOB_COLOURS: [Color; 6] = [
    Color::Yellow,
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::Blue,
    Color::Red,
];

/// Draws the whole board into the frame.
pub fn draw(frame: &mut Frame<'_>, model: &BoardModel, title: &str) {
    let area = frame.area();
    let story_height = STORY_HEIGHT.min(area.height / 3).max(3);
    let [head, body, story] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(story_height),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(model, title)), head);
    let [nodes_area, pending_area] = Layout::horizontal([
        Constraint::Min(NODE_WIDTH),
        Constraint::Length(PENDING_WIDTH),
    ])
    .areas(body);
    draw_nodes(frame, model, nodes_area);
    draw_pending(frame, model, pending_area);
    draw_story(frame, model, story);
}

fn title_line(model: &BoardModel, title: &str) -> Line<'static> {
    let secs = (model.now_ms - model.origin_ms).max(0) / 1000;
    Line::from(vec![
        Span::styled(
            format!(" {title} "),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" t+{}m{:02}s  ", secs / 60, secs % 60)),
        Span::styled(
            model.status.clone(),
            Style::default().add_modifier(Modifier::REVERSED),
        ),
        Span::raw(legend(model)),
    ])
}

/// `  A monthly-batch-low-priority-job RUNNING ...`: which letter (and colour) is
/// which job; pods are marked with their job's letter, which reads without colour too.
fn legend(model: &BoardModel) -> String {
    model
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| format!("   {} {} {}", job_letter(i), j.name, j.state))
        .collect()
}

fn job_letter(index: usize) -> char {
    char::from(b'A' + u8::try_from(index % 26).unwrap_or(0))
}

/// The index of the pod's job among the jobs on the board.
fn job_index(model: &BoardModel, pod: &PodTile) -> Option<usize> {
    pod.job_id
        .as_ref()
        .and_then(|id| model.jobs.iter().position(|j| &j.id == id))
}

fn job_colour(model: &BoardModel, pod: &PodTile) -> Color {
    job_index(model, pod).map_or(Color::DarkGray, |i| JOB_COLOURS[i % JOB_COLOURS.len()])
}

fn draw_nodes(frame: &mut Frame<'_>, model: &BoardModel, area: Rect) {
    let columns = (area.width / NODE_WIDTH).max(1);
    let height = node_height(model);
    let rows = (area.height / height).max(1);
    let fit = usize::from(columns * rows);
    let total = model.nodes.len();
    // When not all fit, the last place says how many are not shown.
    let shown = if total > fit { fit - 1 } else { total };
    for (i, node) in model.nodes.values().take(shown).enumerate() {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        let rect = Rect {
            x: area.x + (i % columns) * NODE_WIDTH,
            y: area.y + (i / columns) * height,
            width: NODE_WIDTH.min(area.width),
            height: height.min(area.height),
        };
        draw_node(frame, model, node, rect);
    }
    if total > shown {
        let i = u16::try_from(shown).unwrap_or(u16::MAX);
        let rect = Rect {
            x: area.x + (i % columns) * NODE_WIDTH,
            y: area.y + (i / columns) * height,
            width: NODE_WIDTH.min(area.width),
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(format!("... and {} more nodes", total - shown)),
            rect,
        );
    }
    if total == 0 {
        frame.render_widget(Paragraph::new("no nodes yet"), area);
    }
}

/// Every box has the height of the fullest node (its job pods, and one line for its
/// system pods): rows line up.
fn node_height(model: &BoardModel) -> u16 {
    let most = model
        .nodes
        .values()
        .map(|n| {
            n.pods
                .iter()
                .filter_map(|k| model.pods.get(k))
                .filter(|p| p.role != PodRole::System)
                .count()
                + 1
        })
        .max()
        .unwrap_or(0);
    u16::try_from(most)
        .unwrap_or(u16::MAX)
        .saturating_add(4)
        .min(16)
}

fn draw_node(frame: &mut Frame<'_>, model: &BoardModel, node: &NodeBox, rect: Rect) {
    let capacity = match node.capacity_type {
        CapacityType::OnDemand => "on-demand",
        CapacityType::Spot => "spot",
    };
    let origin = if node.autoscaled { " +autoscaled" } else { "" };
    let state = if node.ready { "" } else { " (not ready)" };
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} {} {capacity}{origin}{state} ",
        short_node(&node.name),
        node.instance_type
    ));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let bar_width = usize::from(inner.width.saturating_sub(16)).max(4);
    let used = model.used(node);
    let mut lines = vec![
        bar_line(
            "cpu",
            model,
            node,
            bar_width,
            |r| r.cpu_millis,
            format!(
                "{}/{}",
                cpus(used.cpu_millis),
                cpus(node.allocatable.cpu_millis)
            ),
        ),
        bar_line(
            "mem",
            model,
            node,
            bar_width,
            |r| r.memory_mib,
            format!(
                "{}/{}G",
                gib(used.memory_mib),
                gib(node.allocatable.memory_mib)
            ),
        ),
    ];
    // System pods (DaemonSets, CoreDNS) are one line: the audience watches the jobs.
    let (system, job_pods): (Vec<&PodTile>, Vec<&PodTile>) = node
        .pods
        .iter()
        .filter_map(|k| model.pods.get(k))
        .partition(|p| p.role == PodRole::System);
    if !system.is_empty() {
        let requests = requested(system.iter().copied());
        lines.push(Line::styled(
            format!(
                "  {:<31} {}c {}G",
                format!("{} system pods", system.len()),
                cpus(requests.cpu_millis),
                gib(requests.memory_mib)
            ),
            Style::default().fg(Color::DarkGray),
        ));
    }
    for pod in job_pods {
        lines.push(pod_line(model, pod));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `ip-192-168-87-33` of `ip-192-168-87-33.us-east-2.compute.internal`.
fn short_node(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// A resource bar: each pod's share in its job's colour, then the free part.
fn bar_line(
    label: &'static str,
    model: &BoardModel,
    node: &NodeBox,
    width: usize,
    amount: impl Fn(&Resources) -> u64,
    figures: String,
) -> Line<'static> {
    let total = amount(&node.allocatable).max(1);
    let mut spans = vec![Span::raw(format!("{label} "))];
    let mut filled = 0;
    for pod in node.pods.iter().filter_map(|k| model.pods.get(k)) {
        if pod.preempted_at_ms.is_some() {
            continue;
        }
        let cells = usize::try_from(amount(&pod.requests) * width as u64 / total)
            .unwrap_or(width)
            .min(width - filled);
        if cells == 0 {
            continue;
        }
        filled += cells;
        spans.push(Span::styled(
            "█".repeat(cells),
            Style::default().fg(job_colour(model, pod)),
        ));
    }
    spans.push(Span::styled(
        "░".repeat(width - filled),
        Style::default().fg(Color::DarkGray),
    ));
    spans.push(Span::raw(format!(" {figures}")));
    Line::from(spans)
}

/// `■ A exec #1    low-priority       1.0c 2.4G`, or `✗ A exec #2    PREEMPTED ...`.
fn pod_line(model: &BoardModel, pod: &PodTile) -> Line<'static> {
    let job = job_index(model, pod).map_or(' ', job_letter);
    let (mark, class, style) = match pod.preempted_at_ms {
        Some(_) => (
            "✗",
            "PREEMPTED".to_string(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        None if pod.running => (
            "■",
            pod.priority_class.clone().unwrap_or_else(|| "-".into()),
            Style::default(),
        ),
        None => (
            "□",
            pod.priority_class.clone().unwrap_or_else(|| "-".into()),
            Style::default().add_modifier(Modifier::DIM),
        ),
    };
    Line::from(vec![
        Span::styled(mark, Style::default().fg(job_colour(model, pod))),
        Span::styled(
            format!(
                " {job} {:<10} {:<18.18} {}c {}G",
                pod.label(),
                class,
                cpus(pod.requests.cpu_millis),
                gib(pod.requests.memory_mib)
            ),
            style,
        ),
    ])
}

fn draw_pending(frame: &mut Frame<'_>, model: &BoardModel, area: Rect) {
    let pending = model.pending();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" pending ({}) ", pending.len()));
    let lines: Vec<Line<'static>> = pending
        .iter()
        .filter(|p| p.role != PodRole::System)
        .map(|p| {
            Line::from(vec![
                Span::styled("□ ", Style::default().fg(job_colour(model, p))),
                Span::raw(format!(
                    "{} {} {}",
                    job_index(model, p).map_or(' ', job_letter),
                    p.label(),
                    p.priority_class.as_deref().unwrap_or("-")
                )),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_story(frame: &mut Frame<'_>, model: &BoardModel, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(" story ");
    let room = usize::from(block.inner(area).height);
    let lines: Vec<Line<'static>> = model
        .story
        .iter()
        .skip(model.story.len().saturating_sub(room))
        .map(|l| Line::raw(l.clone()))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Milli-CPUs as `1.5`.
fn cpus(millis: u64) -> String {
    format!("{:.1}", millis as f64 / 1000.0)
}

/// MiB as GiB, `2.4`.
fn gib(mib: u64) -> String {
    format!("{:.1}", mib as f64 / 1024.0)
}
