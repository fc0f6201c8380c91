//! An event as a target hands it to the engine: when, and what.

use super::EventKind;

/// Something a target observed (a pod preempted, a node added, a job state change):
/// the simulator records these as they happen, and the `aws` observer builds them
/// from Kubernetes watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEvent {
    /// Milliseconds (virtual time on `sim`, Unix time on `aws`).
    pub at_ms: i64,
    /// What happened.
    pub kind: EventKind,
}

impl ObservedEvent {
    /// The event's `type` (`PodPreempted`, `NodeAdded`, ...), stored as its kind.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The pod, node or job it is about, stored as its subject.
    pub fn subject(&self) -> Option<String> {
        self.kind.subject()
    }

    /// The event as stored: every field of its kind, tagged with `type`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.kind)
            .expect("a bug: an event kind holds only strings, numbers and structs of them, which always serialize")
    }
}
