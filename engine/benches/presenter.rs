//! Presenter-mode benchmarks (`cargo bench -p runbook --bench presenter`), issue 16's
//! targets:
//!
//! 1. What narration and the board add to `priority-demo` at full speed (target: under
//!    10%). The run itself is timed through the release binary; what the story and the
//!    board cost on top is the work their listener does for the run's events (the
//!    recorded events of a real run, `engine/testdata/board/priority-demo.events.jsonl`):
//!    telling each event and printing its line through the plain reporter, taking each
//!    into the board's model, and the board's redraws (at most 30 a second, so at
//!    least one and one more per 33 ms of the run), each a full 200 x 60 frame.
//! 2. The board with 1,000 nodes and 20,000 pods: taking the events in and drawing one
//!    200 x 60 frame (target: a frame within the 33 ms of a redraw at 30 a second).
//!
//! Figures are printed; the README's performance section records them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use runbook::board::{BoardModel, recorded, view};
use runbook::progress::{PlainReporter, Reporter};
use runbook::story::Narration;
use runbook_backend::Clock;
use runbook_backend::events::{EventKind, ObservedEvent};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// The board redraws at most 30 times a second.
const FRAME: Duration = Duration::from_millis(33);

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_runbook");
    let dir = tempfile::tempdir().expect("temp dir");

    let runs = 15;
    let mut walls = Vec::new();
    for i in 0..runs {
        let started = Instant::now();
        let status = Command::new(bin)
            .args(["--output", "plain", "--state"])
            .arg(dir.path().join(format!("demo-{i}.db")))
            .arg("run")
            .arg(root.join("runbooks/priority-demo.yaml"))
            .stdout(Stdio::null())
            .status()
            .expect("run runbook");
        walls.push(started.elapsed());
        assert!(status.success(), "the priority demo failed");
    }
    walls.sort();
    let run = walls[runs / 2];

    let events =
        recorded::read_events(&root.join("engine/testdata/board/priority-demo.events.jsonl"));
    let redraws = 1 + (run.as_micros() / FRAME.as_micros()) as usize;
    let mut costs: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            tell_and_show(&events, redraws);
            started.elapsed()
        })
        .collect();
    costs.sort();
    let cost = costs[costs.len() / 2];
    println!(
        "priority-demo at full speed: median {:.1} ms, best {:.1} ms ({runs} runs of the release binary)",
        ms(run),
        ms(walls[0])
    );
    println!(
        "  narration and board for its {} events ({redraws} redraws of {WIDTH}x{HEIGHT}): median {:.2} ms, {:.1}% of the run",
        events.len(),
        ms(cost),
        cost.as_secs_f64() / run.as_secs_f64() * 100.0
    );

    let (model, took_in) = {
        let started = Instant::now();
        let model = thousand_node_board();
        (model, started.elapsed())
    };
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    let mut frames: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            terminal
                .draw(|frame| view::draw(frame, &model, "runbook · bench"))
                .expect("draw");
            started.elapsed()
        })
        .collect();
    frames.sort();
    println!(
        "board of {} nodes and {} pods: events taken in {:.1} ms; one {WIDTH}x{HEIGHT} frame median {:.2} ms, worst {:.2} ms (budget {} ms)",
        model.nodes.len(),
        model.pods.len(),
        ms(took_in),
        ms(frames[frames.len() / 2]),
        ms(frames[frames.len() - 1]),
        FRAME.as_millis()
    );
}

/// What the presenter's listeners do for a run's events: the narration tells each and
/// the plain reporter prints its line; the board takes each in and redraws `redraws`
/// times.
fn tell_and_show(events: &[ObservedEvent], redraws: usize) {
    let sink = std::fs::File::create("/dev/null").expect("/dev/null");
    let reporter = PlainReporter::to_file(Clock::Real, sink);
    let mut narration = Narration::new(false);
    let mut model = BoardModel::new(0);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    let every = events.len().div_ceil(redraws).max(1);
    for (i, event) in events.iter().enumerate() {
        model.apply(event);
        if let Some(line) = narration.tell(event) {
            reporter.narrate(&line);
            model.say(line.at_ms, &line.text);
        }
        if (i + 1) % every == 0 || i + 1 == events.len() {
            terminal
                .draw(|frame| view::draw(frame, &model, "runbook · priority-demo"))
                .expect("draw");
        }
    }
}

/// 1,000 nodes, each running 20 executor pods of one of 50 jobs.
fn thousand_node_board() -> BoardModel {
    let mut model = BoardModel::new(0);
    for n in 0..1000 {
        let node = format!("ip-10-0-{}-{}.us-east-2.compute.internal", n / 256, n % 256);
        model.apply(&event(serde_json::json!({
            "type": "NodeAdded",
            "cluster": "c",
            "node": node,
            "instance_type": "m5.2xlarge",
            "capacity_type": "OnDemand",
            "allocatable": {"cpu_millis": 7910, "memory_mib": 29000},
        })));
        for p in 0..20 {
            let job = (n * 20 + p) % 50;
            let pod = serde_json::json!({
                "cluster": "c",
                "namespace": "monthly-batch",
                "name": format!("job-{job}-exec-{n}-{p}"),
                "role": "executor",
                "job_id": format!("job-{job}"),
                "executor_id": p + 1,
            });
            model.apply(&event(serde_json::json!({
                "type": "PodCreated",
                "pod": pod,
                "priority": 100,
                "priority_class": "low-priority",
                "requests": {"cpu_millis": 350, "memory_mib": 1400},
            })));
            model.apply(&event(
                serde_json::json!({"type": "PodStarted", "pod": pod, "node": node}),
            ));
        }
    }
    model
}

fn event(kind: serde_json::Value) -> ObservedEvent {
    let kind: EventKind = serde_json::from_value(kind).expect("an event kind");
    ObservedEvent { at_ms: 0, kind }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
