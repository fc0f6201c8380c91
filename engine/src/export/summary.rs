//! `runbook export --dry-run`: what the export holds, without writing it: the states,
//! each step's mapping, the role's actions, and what was skipped or refused.

use std::fmt;

/// What an export made of a runbook.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub runbook: String,
    pub file: String,
    /// How many states the definition has, those inside Map states included.
    pub states: usize,
    pub steps: Vec<StepSummary>,
    /// Steps left out: id, action, why.
    pub skipped: Vec<(String, String, String)>,
    /// The IAM actions the state machine's role is allowed.
    pub role_actions: Vec<String>,
    /// Steps refused (their diagnostics are printed as errors).
    pub refused: Vec<String>,
    /// The schedule that starts the state machine, and how a time runs once.
    pub schedule: Option<String>,
    /// How `needs` was written: the Parallel states, or why there are none.
    pub side_by_side: Option<String>,
}

/// One exported step and the integrations it maps to.
#[derive(Debug)]
pub(crate) struct StepSummary {
    pub id: String,
    pub action: String,
    pub mapping: String,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "export of {} ({}) to Step Functions; nothing is written",
            self.runbook, self.file
        )?;
        writeln!(f, "states: {}", self.states)?;
        writeln!(f, "steps:")?;
        for step in &self.steps {
            writeln!(f, "  {} ({}): {}", step.id, step.action, step.mapping)?;
        }
        if let Some(side_by_side) = &self.side_by_side {
            writeln!(f, "side by side: {side_by_side}")?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "skipped:")?;
            for (id, action, why) in &self.skipped {
                writeln!(f, "  {id} ({action}): {why}")?;
            }
        }
        if self.refused.is_empty() {
            writeln!(f, "role actions: {}", self.role_actions.join(", "))?;
            if let Some(schedule) = &self.schedule {
                writeln!(f, "schedule: {schedule}")?;
            }
            writeln!(f, "refused: none")
        } else {
            writeln!(f, "refused: {} (see the errors)", self.refused.join(", "))
        }
    }
}
