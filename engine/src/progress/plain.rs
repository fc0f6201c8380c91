//! Plain lines for logs and cron: `2026-11-25T17:40:01.123Z [t+1m00s] step ...`.

use std::io::Write;
use std::time::Duration;

use runbook_backend::Clock;

use super::{Reporter, Shown, elapsed};
use crate::pace::PaceEvent;
use crate::story::StoryLine;
use crate::timefmt;

pub struct PlainReporter {
    clock: Clock,
    /// A log file (`--log-file`); stdout when `None`.
    file: Option<std::sync::Mutex<std::fs::File>>,
}

impl PlainReporter {
    pub fn new(clock: Clock) -> Self {
        PlainReporter { clock, file: None }
    }

    /// Appends the lines to a log file instead of stdout.
    pub fn to_file(clock: Clock, file: std::fs::File) -> Self {
        PlainReporter {
            clock,
            file: Some(std::sync::Mutex::new(file)),
        }
    }

    fn line(&self, text: &str) {
        let at = self.clock.is_virtual().then(|| self.clock.now_ms());
        self.line_at(at, text);
    }

    /// A line at virtual time `at_ms` (on `sim`; `None` on `aws`).
    fn line_at(&self, at_ms: Option<i64>, text: &str) {
        let now = timefmt::rfc3339_ms(Clock::Real.now_ms());
        let sim = match at_ms {
            Some(at) => format!(" [{}]", timefmt::virtual_offset(at)),
            None => String::new(),
        };
        // A closed stdout (e.g. `| head`) or a full disk must not stop the run.
        match &self.file {
            Some(file) => {
                let mut file = file
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let _ = writeln!(file, "{now}{sim} {text}");
            }
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{now}{sim} {text}");
            }
        }
    }
}

impl Reporter for PlainReporter {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool) {
        let verb = if resumed { "resumed" } else { "started" };
        self.line(&format!(
            "run {run_id} {verb}: {runbook} on target {target}"
        ));
    }

    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool) {
        let mut text = format!("step {key} ({action}) started");
        if attempt > 1 {
            text.push_str(&format!(", attempt {attempt}"));
        }
        if resumed {
            text.push_str(", re-entered after interruption");
        }
        self.line(&text);
    }

    fn step_message(&self, key: &str, text: &str) {
        for l in text.lines() {
            self.line(&format!("{key}: {l}"));
        }
    }

    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str) {
        self.line(&format!(
            "step {key} failed: {error}; attempt {next_attempt} in {}",
            elapsed(delay)
        ));
    }

    fn step_finished(&self, key: &str, shown: Shown, took: Duration, detail: Option<&str>) {
        let mut text = format!("step {key} {}", shown.as_str());
        if matches!(
            shown,
            Shown::Succeeded | Shown::Failed | Shown::FailedContinuing
        ) {
            text.push_str(&format!(" in {}", elapsed(took)));
        }
        if let Some(d) = detail {
            text.push_str(": ");
            text.push_str(d);
        }
        self.line(&text);
    }

    fn run_finished(&self, run_id: &str, status: &str, took: Duration, detail: Option<&str>) {
        let mut text = format!("run {run_id} {status} in {}", elapsed(took));
        if let Some(d) = detail {
            text.push_str(": ");
            text.push_str(d);
        }
        self.line(&text);
    }

    fn notice(&self, text: &str) {
        self.line(text);
    }

    /// `... [t+12m36s] * executor #2 of the low-priority job preempted ...`: the
    /// event's own time (the clock may not be read here), and a `*` that sets the
    /// story apart from the steps' lines (`grep ' \* '`).
    fn narrate(&self, line: &StoryLine) {
        let at = self.clock.is_virtual().then_some(line.at_ms);
        self.line_at(at, &format!("* {}", line.text));
    }

    fn pace(&self, event: &PaceEvent) {
        self.line(&event.text());
    }
}
