//! The board during a run: it listens to the target (each event changes the board as
//! it is recorded), takes the story and the steps from the reporter (nothing is printed
//! over the full-screen view), and hands the screen back when the run finishes, to the
//! reporter the run would have had, which then tells how it ended.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use runbook_backend::{Clock, EventListener, ObservedEvent, Participant};

use super::app::{Board, Controls};
use super::model::BoardModel;
use crate::pace::{GoOn, PaceEvent};
use crate::progress::{Reporter, Shown};
use crate::story::StoryLine;

/// The board's model, shared by the listener, the reporter and the drawing thread.
pub type SharedModel = Arc<Mutex<BoardModel>>;

fn lock(model: &SharedModel) -> MutexGuard<'_, BoardModel> {
    model.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies each recorded event to the board.
pub struct BoardListener(pub SharedModel);

impl EventListener for BoardListener {
    fn earlier(&self, events: &[ObservedEvent]) {
        let mut model = lock(&self.0);
        for event in events {
            model.apply(event);
        }
    }

    fn observed(&self, events: &[ObservedEvent]) {
        let mut model = lock(&self.0);
        for event in events {
            model.apply(event);
        }
    }
}

/// What the presenter's keys do: space holds virtual time (a participant of the
/// clock that never waits) and lets it go; Enter ends a `--pause-before` pause;
/// `q` interrupts the run as SIGINT does (it stays resumable).
pub struct BoardControls {
    pub clock: Clock,
    pub go_on: GoOn,
    held: Mutex<Option<Participant>>,
}

impl BoardControls {
    pub fn new(clock: Clock, go_on: GoOn) -> BoardControls {
        BoardControls {
            clock,
            go_on,
            held: Mutex::new(None),
        }
    }
}

impl Controls for BoardControls {
    fn toggle_pause(&self) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.take() {
            Some(participant) => {
                drop(participant);
                false
            }
            None => {
                *held = Some(self.clock.enter());
                true
            }
        }
    }

    fn go_on(&self) {
        self.go_on.go_on();
    }

    fn stop(&self) {
        // The run's own SIGINT handling records the interruption; raising it here
        // makes `q` exactly what Ctrl-C is without the board.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT);
    }
}

/// The run's reporter while the board is on the screen.
pub struct BoardReporter {
    model: SharedModel,
    board: Mutex<Option<Board>>,
    /// The reporter the run would have had on the screen without the board: it gets
    /// the run's end, once the board has given the screen back.
    after: Arc<dyn Reporter>,
    /// The `--log-file`'s reporter, which gets everything as without the board.
    log: Option<Arc<dyn Reporter>>,
}

impl BoardReporter {
    pub fn new(
        model: SharedModel,
        board: Board,
        after: Arc<dyn Reporter>,
        log: Option<Arc<dyn Reporter>>,
    ) -> BoardReporter {
        BoardReporter {
            model,
            board: Mutex::new(Some(board)),
            after,
            log,
        }
    }

    /// The log file's reporter, if there is one.
    fn log(&self) -> Option<&dyn Reporter> {
        self.log.as_deref()
    }

    fn status(&self, text: String) {
        lock(&self.model).status = text;
    }

    /// Gives the screen back (once).
    fn close(&self) {
        let board = self
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(board) = board
            && let Err(e) = board.close()
        {
            eprintln!("warning: the board could not give the terminal back cleanly: {e}");
        }
    }
}

impl Drop for BoardReporter {
    fn drop(&mut self) {
        self.close();
    }
}

impl Reporter for BoardReporter {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool) {
        if let Some(log) = self.log() {
            log.run_started(run_id, runbook, target, resumed);
        }
        let verb = if resumed { "resumed" } else { "started" };
        self.status(format!("run {run_id} {verb} on {target}"));
    }

    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool) {
        if let Some(log) = self.log() {
            log.step_started(key, action, attempt, resumed);
        }
        self.status(format!("step {key} ({action})"));
    }

    fn step_message(&self, key: &str, text: &str) {
        if let Some(log) = self.log() {
            log.step_message(key, text);
        }
    }

    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str) {
        if let Some(log) = self.log() {
            log.step_retrying(key, next_attempt, delay, error);
        }
        self.status(format!("step {key}: retrying (attempt {next_attempt})"));
    }

    fn step_finished(&self, key: &str, shown: Shown, elapsed: Duration, detail: Option<&str>) {
        if let Some(log) = self.log() {
            log.step_finished(key, shown, elapsed, detail);
        }
        if matches!(shown, Shown::Failed) {
            self.status(format!("step {key} failed"));
        }
    }

    fn run_finished(&self, run_id: &str, status: &str, elapsed: Duration, detail: Option<&str>) {
        self.close();
        if let Some(log) = self.log() {
            log.run_finished(run_id, status, elapsed, detail);
        }
        self.after.run_finished(run_id, status, elapsed, detail);
    }

    fn notice(&self, text: &str) {
        if let Some(log) = self.log() {
            log.notice(text);
        }
        let mut model = lock(&self.model);
        let at = model.now_ms;
        model.say(at, text);
    }

    fn narrate(&self, line: &StoryLine) {
        if let Some(log) = self.log() {
            log.narrate(line);
        }
        lock(&self.model).say(line.at_ms, &line.text);
    }

    fn pace(&self, event: &PaceEvent) {
        if let Some(log) = self.log() {
            log.pace(event);
        }
        let text = match event {
            PaceEvent::Paused { step, .. } => format!("PAUSED before {step} (Enter goes on)"),
            other => other.text(),
        };
        self.status(text);
    }
}
