//! Test helpers: a step context on a fresh simulated world, driven by a virtual clock.

use std::sync::Arc;

use crate::context::{CancelSignal, StepContext, StepReporter};
use crate::target::sim::SimTarget;
use crate::target::{Clock, VirtualClock};

/// Collects what actions say.
#[derive(Default)]
pub(crate) struct Said(pub(crate) std::sync::Mutex<Vec<String>>);

impl StepReporter for Said {
    fn message(&self, _step_key: &str, text: &str) {
        self.0.lock().expect("lock").push(text.to_string());
    }
}

/// A simulated world and a way to make step contexts on it.
pub(crate) struct SimWorld {
    pub(crate) sim: Arc<SimTarget>,
    pub(crate) clock: Clock,
}

impl SimWorld {
    /// A fresh world at virtual time 0. Call inside a tokio runtime.
    pub(crate) fn new() -> SimWorld {
        let clock = VirtualClock::new(0, None);
        let sim = SimTarget::new(7, Arc::clone(&clock));
        SimWorld {
            sim,
            clock: Clock::Virtual(clock),
        }
    }

    /// A context for one attempt of step `key` with idempotency key `token`.
    pub(crate) fn ctx(&self, key: &str, token: &str) -> StepContext {
        StepContext {
            run_id: "run".into(),
            step_key: key.into(),
            attempt: 1,
            idempotency_key: token.into(),
            resumed: false,
            target: Arc::new(self.sim.target()),
            clock: self.clock.clone(),
            participant: Arc::new(self.clock.enter()),
            raw_input: serde_json::Value::Null,
            reporter: Arc::new(Said::default()),
            cancel: CancelSignal::never(),
        }
    }

    /// Runs an action by name with a JSON input, as the engine would.
    pub(crate) async fn run(&self, action: &str, input: serde_json::Value) -> Result<serde_json::Value, crate::ActionError> {
        let action = crate::find(action).unwrap_or_else(|| panic!("no action `{action}`"));
        let ctx = self.ctx("step", "rb-test-token");
        action.run(input, &ctx).await
    }
}
