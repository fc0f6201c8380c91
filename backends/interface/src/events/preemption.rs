//! What a `PodPreempted` event says: the victim, the preemptor and the scheduler's words.

use serde::{Deserialize, Serialize};

use super::{PodRef, SharedStr};

/// The content of a [`EventKind::PodPreempted`](super::EventKind::PodPreempted) event (boxed: it is the largest
/// event and rare, and keeping it out of line keeps every other event small).
///
/// The Kubernetes event's UID, reason and message default to empty when a stored
/// event lacks them: the victim, its node and the preemptor are what readers need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preemption {
    /// The victim.
    pub pod: PodRef,
    /// The victim's node.
    pub node: SharedStr,
    /// The victim's priority.
    pub priority: i32,
    /// The pod it made room for.
    pub preemptor: PodRef,
    /// The preemptor's UID (the Kubernetes event names the preemptor by UID).
    #[serde(default)]
    pub preemptor_uid: SharedStr,
    /// The preemptor's priority.
    pub preemptor_priority: i32,
    /// Kubernetes event reason: `Preempted`.
    #[serde(default)]
    pub reason: SharedStr,
    /// Kubernetes event message: `Preempted by pod <uid> on node <node>`.
    #[serde(default)]
    pub message: SharedStr,
}
