//! The events a target records, one typed vocabulary for everybody: the simulator
//! (`runbook-sim`) records its world in it, the `aws` observer translates Kubernetes
//! watches into it, the actions (`assert-eviction`, `assert-autoscaling`) match on it,
//! and the report reads the stored rows back into it. Nobody digs into event JSON by
//! path, and a kind or field added here reaches every producer and reader at once.
//!
//! It lives in the target interface, and `runbook-sim` depends on this crate for it
//! (re-exporting the types from their old paths, `runbook_sim::EventKind` and so on),
//! rather than in a crate of its own: the interface is already the light crate both
//! sides build on (serde, no cloud SDK), and one more crate would add a manifest and a
//! name to learn for a few hundred lines. The simulator links tokio through it, but
//! uses nothing async.
//!
//! Stored events are [`EventKind`] serialized with a `type` tag. Reading is tolerant of
//! what older runs stored: capacity types in any spelling the targets used
//! ([`CapacityType`]), and descriptive fields the `aws` observer or older versions
//! left out default to empty.

mod capacity_type;
mod event_kind;
mod failure_reason;
mod job_state;
mod observed_event;
mod pod_ref;
mod pod_role;
mod preemption;
mod resources;
mod shared_str;
mod termination_reason;

pub use capacity_type::CapacityType;
pub use event_kind::EventKind;
pub use failure_reason::FailureReason;
pub use job_state::JobState;
pub use observed_event::ObservedEvent;
pub use pod_ref::PodRef;
pub use pod_role::PodRole;
pub use preemption::Preemption;
pub use resources::Resources;
pub use shared_str::SharedStr;
pub use termination_reason::TerminationReason;

#[cfg(test)]
mod tests;
