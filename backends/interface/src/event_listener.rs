//! Being told of events as a target records them, rather than asking for them after.

use crate::ObservedEvent;

/// Someone who wants each event the moment the target records it: the engine's live
/// narration, which must print what happened when it happens (when virtual time
/// reaches it on `sim`, when a watch delivers it on `aws`), in order, and before
/// anything a step prints after it. Asking with [`Observer::events`](crate::Observer::events)
/// at a step's end cannot give that: a step can wait through a whole story.
///
/// The target calls it from where it records events, which may be inside the virtual
/// clock's jump (its lock held) or a watch task: an implementation must be quick and
/// must not call back into the target or read the run's clock.
pub trait EventListener: Send + Sync {
    /// What was observed before the subscription (a resumed run's world, or its
    /// restored record): to learn who is who, not to tell again.
    fn earlier(&self, _events: &[ObservedEvent]) {}

    /// Events just recorded, oldest first; each is given once.
    fn observed(&self, events: &[ObservedEvent]);
}
