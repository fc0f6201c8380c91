//! The story a run tells while it runs: what the target observed (a job submitted, an
//! executor preempted, a node added by the autoscaler), told in the demo's words the
//! moment it happens, before anything a later step prints. On `sim` the simulated
//! world tells it as virtual time reaches each event; on `aws` the Kubernetes watches
//! tell it as they deliver.
//!
//! [`Narration`] turns events into lines (pure, testable: the same events give the
//! same lines); [`Narrator`] is the target's listener that hands them to the run's
//! reporter.

mod cast;
mod line;
mod narration;
mod narrator;

pub use line::{StoryLine, Tone};
pub use narration::Narration;
pub use narrator::Narrator;
