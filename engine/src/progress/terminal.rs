//! indicatif progress on a terminal: a spinner line per running step with its elapsed
//! time; finished steps scroll up as one line each.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use runbook_backend::Clock;

use super::{Reporter, Shown, elapsed};
use crate::pace::PaceEvent;
use crate::story::{StoryLine, Tone};
use crate::timefmt;

pub struct TerminalReporter {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    clock: Clock,
}

impl TerminalReporter {
    pub fn new(clock: Clock) -> Self {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            console::set_colors_enabled(false);
        }
        TerminalReporter {
            multi: MultiProgress::new(),
            bars: Mutex::new(BTreeMap::new()),
            clock,
        }
    }

    fn println(&self, text: &str) {
        let at = self.clock.is_virtual().then(|| self.clock.now_ms());
        self.println_at(at, text);
    }

    /// A line above the spinners at virtual time `at_ms` (on `sim`; `None` on `aws`).
    fn println_at(&self, at_ms: Option<i64>, text: &str) {
        let sim = match at_ms {
            Some(at) => format!(
                "{} ",
                style(format!("[{}]", timefmt::virtual_offset(at))).dim()
            ),
            None => String::new(),
        };
        // println only fails when the terminal is gone; the run goes on.
        let _ = self.multi.println(format!("{sim}{text}"));
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ProgressBar>> {
        self.bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Reporter for TerminalReporter {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool) {
        let verb = if resumed { "Resuming" } else { "Running" };
        self.println(&format!(
            "{} {runbook} on {target} (run {run_id})",
            style(verb).bold()
        ));
    }

    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool) {
        let spinner_style =
            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(spinner_style);
        bar.set_prefix(key.to_string());
        let mut msg = action.to_string();
        if attempt > 1 {
            msg.push_str(&format!(" (attempt {attempt})"));
        }
        if resumed {
            msg.push_str(" (re-entered)");
        }
        bar.set_message(msg);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars().insert(key.to_string(), bar);
    }

    fn step_message(&self, key: &str, text: &str) {
        for l in text.lines() {
            self.println(&format!("  {} {l}", style(format!("{key}:")).dim()));
        }
    }

    fn wants_progress(&self) -> bool {
        true
    }

    fn step_progress(&self, key: &str, text: &str) {
        if let Some(bar) = self.bars().get(key) {
            let action = bar.message();
            let action = action.split(" — ").next().unwrap_or_default().to_string();
            bar.set_message(format!("{action} — {text}"));
        }
    }

    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str) {
        self.println(&format!(
            "{} {key} failed: {error}; attempt {next_attempt} in {}",
            style("↻").yellow(),
            elapsed(delay)
        ));
    }

    fn step_finished(&self, key: &str, shown: Shown, took: Duration, detail: Option<&str>) {
        if let Some(bar) = self.bars().remove(key) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let mark = match shown {
            Shown::Succeeded => style("✔").green(),
            Shown::Skipped => style("–").dim(),
            Shown::Failed => style("✘").red(),
            Shown::FailedContinuing => style("✘").yellow(),
            Shown::Interrupted => style("■").yellow(),
        };
        let mut text = format!("{mark} {key} {}", shown.as_str());
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
        self.println(&text);
    }

    fn run_finished(&self, run_id: &str, status: &str, took: Duration, detail: Option<&str>) {
        let word = match status {
            "succeeded" => style(status).green().bold(),
            "interrupted" => style(status).yellow().bold(),
            _ => style(status).red().bold(),
        };
        let mut text = format!("Run {run_id} {word} in {}", elapsed(took));
        if let Some(d) = detail {
            text.push_str(": ");
            text.push_str(d);
        }
        self.println(&text);
    }

    fn notice(&self, text: &str) {
        self.println(&style(text).yellow().to_string());
    }

    /// Above the spinners, at the event's time, the moment it happens: a preemption
    /// or the autoscaler's node stands out, a job's end is green or red.
    fn narrate(&self, line: &StoryLine) {
        let text = match line.tone {
            Tone::Plain => style(line.text.as_str()),
            Tone::Highlight => style(line.text.as_str()).bold().magenta(),
            Tone::Good => style(line.text.as_str()).green(),
            Tone::Bad => style(line.text.as_str()).red(),
        };
        let at = self.clock.is_virtual().then_some(line.at_ms);
        self.println_at(at, &format!("{} {text}", style("»").cyan()));
    }

    fn pace(&self, event: &PaceEvent) {
        let mark = match event {
            PaceEvent::Paused { .. } => "⏸",
            PaceEvent::GoingOn { .. } | PaceEvent::NotPaused { .. } => "▶",
            PaceEvent::Slowed { .. } => "⏱",
        };
        self.println(
            &style(format!("{mark} {}", event.text()))
                .cyan()
                .bold()
                .to_string(),
        );
    }
}
