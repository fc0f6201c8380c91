//! The board drawn through ratatui's test backend from the events of real runs of the
//! canned demos on `sim` (`engine/testdata/board/*.events.jsonl`, as the state DB
//! stores them), at the instants a presenter points at.

use std::path::Path;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use runbook_backend::events::{EventKind, ObservedEvent};

use super::{BoardModel, view};

fn events(demo: &str) -> Vec<ObservedEvent> {
    super::recorded::read_events(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("engine/testdata/board")
            .join(format!("{demo}.events.jsonl")),
    )
}

/// The board after every event up to and including the first for which `until` holds
/// (offset by `after` more events), drawn 120 x 30, as text.
fn board_at(
    demo: &str,
    until: impl Fn(&ObservedEvent) -> bool,
    after: usize,
) -> (BoardModel, String) {
    let events = events(demo);
    let at = events
        .iter()
        .position(until)
        .expect("the instant is in the run")
        + after;
    let mut model = BoardModel::new(0);
    let mut narration = crate::story::Narration::new(false);
    for event in &events[..=at.min(events.len() - 1)] {
        model.apply(event);
        if let Some(line) = narration.tell(event) {
            model.say(line.at_ms, &line.text);
        }
    }
    model.status = "running".into();
    let text = render(&model, 120, 30);
    (model, text)
}

fn render(model: &BoardModel, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view::draw(frame, model, "runbook · priority-demo"))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        text.push_str(row.trim_end());
        text.push('\n');
    }
    text
}

fn is_preemption(e: &ObservedEvent) -> bool {
    matches!(e.kind, EventKind::PodPreempted(_))
}

#[test]
fn before_the_preemption_the_low_job_fills_the_node() {
    let (model, text) = board_at(
        "priority-demo",
        |e| matches!(&e.kind, EventKind::JobStateChanged { job_name, .. } if job_name.contains("high")),
        0,
    );
    assert_eq!(model.nodes.len(), 1, "{text}");
    insta::assert_snapshot!("priority_demo_before_preemption", text);
}

#[test]
fn at_the_preemption_the_victim_is_marked_and_the_preemptor_pending() {
    let (model, text) = board_at("priority-demo", is_preemption, 0);
    assert!(text.contains("PREEMPTED"), "{text}");
    assert!(
        model.pods.values().any(|p| p.preempted_at_ms.is_some()),
        "{text}"
    );
    insta::assert_snapshot!("priority_demo_at_preemption", text);
}

#[test]
fn after_the_preemption_the_preemptor_runs_in_the_victims_place() {
    let events = events("priority-demo");
    let preempted_at = events
        .iter()
        .find(|e| is_preemption(e))
        .map(|e| e.at_ms)
        .expect("a preemption");
    let (model, text) = board_at(
        "priority-demo",
        |e| {
            e.at_ms >= preempted_at + super::model::VICTIM_SHOWN_MS
                && matches!(e.kind, EventKind::PodStarted { .. })
        },
        0,
    );
    assert!(
        model.pods.values().all(|p| p.preempted_at_ms.is_none()),
        "the victim has left: {text}"
    );
    insta::assert_snapshot!("priority_demo_after_preemption", text);
}

#[test]
fn an_autoscaled_node_is_drawn_as_such() {
    let (model, text) = board_at(
        "autoscaling-demo",
        |e| matches!(&e.kind, EventKind::NodeReady { node, .. } if !node.is_empty()) && e.at_ms > 0,
        0,
    );
    let _ = model;
    let events = events("autoscaling-demo");
    let mut model = BoardModel::new(0);
    let mut saw_autoscaled = false;
    for e in &events {
        model.apply(e);
        saw_autoscaled |= model.nodes.values().any(|n| n.autoscaled);
    }
    assert!(saw_autoscaled, "{text}");
}

#[test]
fn a_thousand_nodes_draw_what_fits_and_count_the_rest() {
    let mut model = BoardModel::new(0);
    for i in 0..1000 {
        model.apply(&ObservedEvent {
            at_ms: 0,
            kind: serde_json::from_value(serde_json::json!({
                "type": "NodeAdded",
                "cluster": "c",
                "node": format!("ip-10-0-{}-{}", i / 256, i % 256),
                "instance_type": "m5.2xlarge",
                "capacity_type": "OnDemand",
                "allocatable": {"cpu_millis": 7910, "memory_mib": 29000},
            }))
            .expect("a NodeAdded event"),
        });
    }
    let text = render(&model, 120, 30);
    assert!(text.contains("more nodes"), "{text}");
}
