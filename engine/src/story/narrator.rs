//! The run's narrator: listens to the target and tells the story through the
//! reporter as it happens.

use std::sync::{Arc, Mutex, PoisonError};

use runbook_backend::{EventListener, ObservedEvent};

use super::Narration;
use crate::masker::Masker;
use crate::progress::Reporter;

/// Tells each event the target records, the moment it records it: on `sim` that is
/// when virtual time reaches it (so at `--sim-speed` a preemption is shown when it
/// happens, and at full speed every line still comes before the output of the steps
/// that run after it); on `aws`, when a watch delivers it. It is no participant in
/// virtual time: it never holds it up.
pub struct Narrator {
    narration: Mutex<Narration>,
    reporter: Arc<dyn Reporter>,
    /// Secret values hidden in the lines (a cluster named after one).
    masker: Masker,
}

impl Narrator {
    /// A narrator of the story, with its detail when `verbose`.
    pub fn new(reporter: Arc<dyn Reporter>, masker: Masker, verbose: bool) -> Narrator {
        Narrator {
            narration: Mutex::new(Narration::new(verbose)),
            reporter,
            masker,
        }
    }

    fn narration(&self) -> std::sync::MutexGuard<'_, Narration> {
        // A panic while telling one line leaves the cast as it was: go on telling.
        self.narration
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventListener for Narrator {
    fn earlier(&self, events: &[ObservedEvent]) {
        let mut narration = self.narration();
        for event in events {
            narration.learn(event);
        }
    }

    fn observed(&self, events: &[ObservedEvent]) {
        let mut narration = self.narration();
        for event in events {
            if let Some(mut line) = narration.tell(event) {
                if !self.masker.is_empty() {
                    line.text = self.masker.text(&line.text);
                }
                self.reporter.narrate(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use runbook_backend::Clock;
    use runbook_backend::events::EventKind;

    use super::*;
    use crate::progress::PlainReporter;

    fn cluster_active(cluster: &str) -> ObservedEvent {
        let kind: EventKind = serde_json::from_value(
            serde_json::json!({"type": "ClusterActive", "cluster": cluster}),
        )
        .expect("an event kind");
        ObservedEvent { at_ms: 0, kind }
    }

    /// A secret a line would carry (a cluster named after a secret param) is hidden in
    /// the story as in every other output.
    #[test]
    fn secrets_are_hidden_in_the_lines_told() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        let reporter = Arc::new(PlainReporter::to_file(
            Clock::Real,
            file.reopen().expect("reopen"),
        ));
        let narrator = Narrator::new(reporter, Masker::new(["s3cr3t-name".to_string()]), false);

        narrator.observed(&[cluster_active("s3cr3t-name"), cluster_active("public")]);

        let mut told = String::new();
        file.read_to_string(&mut told).expect("read");
        assert!(told.contains("* cluster *** ACTIVE"), "{told}");
        assert!(told.contains("* cluster public ACTIVE"), "{told}");
        assert!(!told.contains("s3cr3t"), "{told}");
    }
}
