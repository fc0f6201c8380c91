//! Recorded runs to replay on the board: the observed events of a run, one JSON object
//! (`{"at_ms": ..., "kind": {...}}`, as the state DB stores them) per line, as
//! `engine/testdata/board/*.events.jsonl` keeps the canned demos'. The board's
//! snapshot tests and the presenter benchmark replay them.

use std::path::Path;

use runbook_backend::events::ObservedEvent;

/// The events recorded in `path`, in order.
///
/// # Panics
/// When the file cannot be read or a line is not a recorded event: the files are the
/// project's own test data.
pub fn read_events(path: &Path) -> Vec<ObservedEvent> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            ObservedEvent {
                at_ms: value["at_ms"].as_i64().expect("at_ms"),
                kind: serde_json::from_value(value["kind"].clone()).expect("an event kind"),
            }
        })
        .collect()
}
