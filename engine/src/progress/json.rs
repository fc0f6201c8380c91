//! JSON lines (`--output json`), one object per event, for machines.

use std::io::Write;
use std::time::Duration;

use runbook_backend::Clock;
use serde_json::{Value, json};

use super::{Reporter, Shown};
use crate::pace::PaceEvent;
use crate::story::StoryLine;
use crate::timefmt;

pub struct JsonReporter {
    clock: Clock,
}

impl JsonReporter {
    pub fn new(clock: Clock) -> Self {
        JsonReporter { clock }
    }

    fn emit(&self, event: &str, fields: Value) {
        let at = self.clock.is_virtual().then(|| self.clock.now_ms());
        self.emit_at(at, event, fields);
    }

    /// An object with `sim_ms` of virtual time `at_ms` (on `sim`; `None` on `aws`).
    fn emit_at(&self, at_ms: Option<i64>, event: &str, mut fields: Value) {
        if let Value::Object(map) = &mut fields {
            map.insert(
                "ts".into(),
                Value::from(timefmt::rfc3339_ms(Clock::Real.now_ms())),
            );
            if let Some(at) = at_ms {
                map.insert("sim_ms".into(), Value::from(at));
            }
            map.insert("event".into(), Value::from(event));
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{fields}");
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Reporter for JsonReporter {
    fn run_started(&self, run_id: &str, runbook: &str, target: &str, resumed: bool) {
        self.emit(
            "run_started",
            json!({"run": run_id, "runbook": runbook, "target": target, "resumed": resumed}),
        );
    }
    fn step_started(&self, key: &str, action: &str, attempt: u32, resumed: bool) {
        self.emit(
            "step_started",
            json!({"step": key, "action": action, "attempt": attempt, "resumed": resumed}),
        );
    }
    fn step_message(&self, key: &str, text: &str) {
        self.emit("step_message", json!({"step": key, "message": text}));
    }
    fn step_retrying(&self, key: &str, next_attempt: u32, delay: Duration, error: &str) {
        self.emit(
            "step_retrying",
            json!({"step": key, "next_attempt": next_attempt, "delay_ms": ms(delay), "error": error}),
        );
    }
    fn step_finished(&self, key: &str, shown: Shown, elapsed: Duration, detail: Option<&str>) {
        self.emit(
            "step_finished",
            json!({"step": key, "status": shown.as_str(), "elapsed_ms": ms(elapsed), "detail": detail}),
        );
    }
    fn run_finished(&self, run_id: &str, status: &str, elapsed: Duration, detail: Option<&str>) {
        self.emit(
            "run_finished",
            json!({"run": run_id, "status": status, "elapsed_ms": ms(elapsed), "detail": detail}),
        );
    }
    fn notice(&self, text: &str) {
        self.emit("notice", json!({"message": text}));
    }

    /// `{"event":"narration","at_ms":...,"kind":"PodPreempted","text":...}`: `at_ms`
    /// is the event's time (virtual on `sim`, where `sim_ms` is the same; Unix on
    /// `aws`).
    fn narrate(&self, line: &StoryLine) {
        let at = self.clock.is_virtual().then_some(line.at_ms);
        self.emit_at(
            at,
            "narration",
            json!({"at_ms": line.at_ms, "kind": line.kind, "text": line.text}),
        );
    }

    fn pace(&self, event: &PaceEvent) {
        let mut fields = match event {
            PaceEvent::Slowed { step, speed } => {
                json!({"pace": "slowed", "step": step, "speed": speed})
            }
            PaceEvent::Paused { step, .. } => json!({"pace": "paused", "step": step}),
            PaceEvent::GoingOn { step, paused_for } => {
                json!({"pace": "going_on", "step": step, "paused_ms": ms(*paused_for)})
            }
            PaceEvent::NotPaused { step } => json!({"pace": "not_paused", "step": step}),
        };
        if let Value::Object(map) = &mut fields {
            map.insert("message".into(), Value::from(event.text()));
        }
        self.emit("pace", fields);
    }
}
