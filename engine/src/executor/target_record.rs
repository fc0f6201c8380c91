//! What a target observed, as the state DB stores it: the events since the last
//! checkpoint, and the target's snapshot if its state changed.

use runbook_backend::events::EventKind;
use runbook_backend::{Clock, ObservedEvent, Target};
use runbook_state::{EventRecord, NewEvent, Snapshot};
use serde::Deserialize;

use crate::masker::Masker;

/// The events the target observed since the last call, and its snapshot if its state
/// changed, with secrets masked: a secret given to a service (a cluster's name, an
/// object's content) is in the target's events and state. Every writer of a run's
/// target record (a step's checkpoint, the scheduler's last one, `abandon
/// --cancel-jobs`) goes through here.
pub(crate) fn target_record(
    target: &Target,
    clock: &Clock,
    masker: &Masker,
) -> (Vec<NewEvent>, Option<Snapshot>) {
    let events = target
        .observer
        .drain_events()
        .into_iter()
        .map(|e| {
            let mut data = e.to_json();
            masker.json_in_place(&mut data);
            NewEvent {
                at_ms: e.at_ms,
                kind: e.type_name().to_string(),
                step_key: None,
                subject: e.subject().map(|s| masker.text(&s)),
                data,
            }
        })
        .collect();
    let snapshot = target.observer.snapshot().map(|data| Snapshot {
        at_ms: clock.now_ms(),
        data: masker.serialized(data),
    });
    (events, snapshot)
}

/// The target's events among a run's stored events, read back as the target observed
/// them (the engine's own events, and kinds this version does not know, are skipped):
/// on resume they go back to a target that cannot recreate them (Kubernetes watches
/// see only what exists now), so a judgment after the resume sees what happened
/// before it.
pub(crate) fn observed_events(stored: &[EventRecord]) -> Vec<ObservedEvent> {
    stored
        .iter()
        .filter(|e| e.step_key.is_none())
        .filter_map(|e| {
            EventKind::deserialize(&e.data)
                .ok()
                .map(|kind| ObservedEvent {
                    at_ms: e.at_ms,
                    kind,
                })
        })
        .collect()
}
