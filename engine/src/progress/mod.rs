//! What a run shows while it runs: a spinner line per running step on a terminal,
//! plain timestamped lines when stdout is not a terminal (cron, CI), or JSON lines;
//! in each, the story as it happens ([`crate::story`]) and the presenter's pace.

mod json;
mod plain;
mod terminal;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

pub use json::JsonReporter;
pub use plain::PlainReporter;
pub use terminal::TerminalReporter;

use runbook_actions::StepReporter;
use runbook_backend::Clock;

use crate::pace::PaceEvent;
use crate::story::StoryLine;

/// How the user asked for output (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// Progress spinners on a terminal, plain lines otherwise.
    Auto,
    /// Timestamped lines, one per event.
    Plain,
    /// One JSON object per line.
    Json,
}

/// How a step ended, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Succeeded,
    Failed,
    /// Failed, and the run goes on (`continue_on_error`).
    FailedContinuing,
    Skipped,
    Interrupted,
}

impl Shown {
    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Succeeded => "succeeded",
            Shown::Failed => "failed",
            Shown::FailedContinuing => "failed (continuing)",
            Shown::Skipped => "skipped",
            Shown::Interrupted => "interrupted",
        }
    }
}

/// Receives everything a run does that a user may want to see.
pub trait Reporter: Send + Sync {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool);
    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool);
    fn step_message(&self, key: &str, text: &str);
    /// The live status of a running step (terminal only; logs get the outcome).
    fn step_progress(&self, _key: &str, _text: &str) {}
    /// Whether `step_progress` is shown (only on a terminal).
    fn wants_progress(&self) -> bool {
        false
    }
    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str);
    fn step_finished(&self, key: &str, shown: Shown, elapsed: Duration, detail: Option<&str>);
    /// `status` is `succeeded`, `failed` or `interrupted`.
    fn run_finished(&self, run_id: &str, status: &str, elapsed: Duration, detail: Option<&str>);
    /// A notice that is not about one step ("interrupting...").
    fn notice(&self, text: &str);
    /// A line of the story ([`crate::story`]), told as it happens. It is called from
    /// where the target records events, possibly while the virtual clock is locked:
    /// show `line.at_ms`, and do not read the run's clock.
    fn narrate(&self, _line: &StoryLine) {}
    /// The presenter's pace changed: paused, going on, slowed (`--fast-until`).
    fn pace(&self, _event: &PaceEvent) {}
}

/// Chooses the reporter for `mode`; `clock` adds virtual time to lines on `sim`. With a
/// log file, plain lines also go there.
pub fn reporter_for(
    mode: OutputMode,
    clock: Clock,
    log_file: Option<std::fs::File>,
) -> Arc<dyn Reporter> {
    let screen = screen_reporter(mode, clock.clone());
    match log_file {
        Some(file) => Arc::new(Tee(screen, PlainReporter::to_file(clock, file))),
        None => screen,
    }
}

fn screen_reporter(mode: OutputMode, clock: Clock) -> Arc<dyn Reporter> {
    match mode {
        OutputMode::Json => Arc::new(JsonReporter::new(clock)),
        OutputMode::Plain => Arc::new(PlainReporter::new(clock)),
        OutputMode::Auto if std::io::stdout().is_terminal() => {
            Arc::new(TerminalReporter::new(clock))
        }
        OutputMode::Auto => Arc::new(PlainReporter::new(clock)),
    }
}

/// Lets actions talk through the run's reporter.
/// Secret parameter values are masked here, since actions print what they are given.
pub struct StepSink {
    pub reporter: Arc<dyn Reporter>,
    pub masker: crate::masker::Masker,
}

impl StepReporter for StepSink {
    fn message(&self, step_key: &str, text: &str) {
        self.reporter
            .step_message(step_key, &self.masker.text(text));
    }

    fn progress(&self, step_key: &str, text: &str) {
        self.reporter
            .step_progress(step_key, &self.masker.text(text));
    }

    fn wants_progress(&self) -> bool {
        self.reporter.wants_progress()
    }
}

/// `12ms`, `3.2s`, `1m05s`.
pub fn elapsed(d: Duration) -> String {
    runbook_backend::duration::Humane(d).to_string()
}

/// Reports to the screen and to a log file.
struct Tee(Arc<dyn Reporter>, PlainReporter);

impl Reporter for Tee {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool) {
        self.0.run_started(run_id, runbook, target, resumed);
        self.1.run_started(run_id, runbook, target, resumed);
    }
    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool) {
        self.0.step_started(key, action, attempt, resumed);
        self.1.step_started(key, action, attempt, resumed);
    }
    fn step_message(&self, key: &str, text: &str) {
        self.0.step_message(key, text);
        self.1.step_message(key, text);
    }
    fn step_progress(&self, key: &str, text: &str) {
        self.0.step_progress(key, text);
    }
    fn wants_progress(&self) -> bool {
        self.0.wants_progress()
    }
    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str) {
        self.0.step_retrying(key, next_attempt, delay, error);
        self.1.step_retrying(key, next_attempt, delay, error);
    }
    fn step_finished(&self, key: &str, shown: Shown, elapsed: Duration, detail: Option<&str>) {
        self.0.step_finished(key, shown, elapsed, detail);
        self.1.step_finished(key, shown, elapsed, detail);
    }
    fn run_finished(&self, run_id: &str, status: &str, elapsed: Duration, detail: Option<&str>) {
        self.0.run_finished(run_id, status, elapsed, detail);
        self.1.run_finished(run_id, status, elapsed, detail);
    }
    fn notice(&self, text: &str) {
        self.0.notice(text);
        self.1.notice(text);
    }
    fn narrate(&self, line: &StoryLine) {
        self.0.narrate(line);
        self.1.narrate(line);
    }
    fn pace(&self, event: &PaceEvent) {
        self.0.pace(event);
        self.1.pace(event);
    }
}
