//! One line of the story, as the reporters show it.

/// How a line stands out: a preemption or an autoscaler's node is the moment the
/// audience came for; a job's end is good or bad news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Highlight,
    Good,
    Bad,
}

/// Something that happened, in words, with when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryLine {
    /// The event's time: virtual milliseconds on `sim`, Unix milliseconds on `aws`.
    /// A reporter shows this, not the clock's time, which it may not read while the
    /// story is told (see [`runbook_backend::EventListener`]).
    pub at_ms: i64,
    /// The event's type (`PodPreempted`), for machines (`--output json`).
    pub kind: &'static str,
    /// The words.
    pub text: String,
    pub tone: Tone,
}
