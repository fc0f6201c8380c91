//! `runbook report`: one self-contained HTML file that shows what happened in a run,
//! the picture the walkthrough gets from the Spark UI and Container Insights:
//!
//! - a plain summary (preemptions, replacements, job completions, nodes, cost);
//! - a timeline with one row per pod, grouped by job and namespace, coloured by role,
//!   with markers for preemptions (and the preemptor), replacement executors and job
//!   state changes;
//! - the cluster over time: nodes by capacity type, CPU and memory requested vs
//!   allocatable;
//! - a Gantt of the runbook's steps with status and attempts;
//! - an estimated cost of the nodes.
//!
//! Everything comes from the state DB through [`runbook_state::Store`]: the run, its
//! step attempts and its events. The same code serves both targets (on `aws` there are
//! fewer event kinds, and the sections without data say so) and incomplete runs (the
//! report says why the run is incomplete and shows what was recorded).
//!
//! [`model`] rebuilds the run from its records, [`summary`] tells it in words,
//! [`cost`] prices the nodes, [`svg`] draws the charts and [`html`] assembles the page.

pub mod cost;
pub mod html;
pub mod model;
pub mod summary;
pub mod svg;

use runbook_state::{StateError, Store};

pub use model::{Liveness, RunModel};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run id is not in the state DB.
    #[error("no run `{0}` in the state DB; `runbook runs` lists them")]
    NoSuchRun(String),
    /// The state DB could not be read.
    #[error("failed to read run {run} from the state DB: {source}")]
    State {
        /// The run.
        run: String,
        /// What went wrong.
        #[source]
        source: Box<StateError>,
    },
}

/// Loads a run's records and builds its model. `liveness` is asked about the run's
/// process only when the run is recorded as `running` (killed, or still going).
pub fn load(
    store: &Store,
    run_id: &str,
    liveness: impl FnOnce(u32) -> Liveness,
) -> Result<RunModel, ReportError> {
    // Boxed: a state error is large, and the report's error travels by value.
    let state = |source| ReportError::State {
        run: run_id.to_owned(),
        source: Box::new(source),
    };
    let run = store
        .run(run_id)
        .map_err(state)?
        .ok_or_else(|| ReportError::NoSuchRun(run_id.to_owned()))?;
    let attempts = store.attempts(run_id).map_err(state)?;
    let events = store.events(run_id).map_err(state)?;
    let alive = if run.status == runbook_state::RunStatus::Running {
        liveness(run.pid)
    } else {
        Liveness::Unknown
    };
    Ok(model::build(run, &attempts, &events, alive))
}

/// The estimated cost of the run's nodes.
pub fn node_cost(m: &RunModel) -> cost::CostEstimate {
    cost::estimate(m.nodes.iter().map(|n| cost::BilledNode {
        instance_type: &n.instance_type,
        capacity: n.capacity,
        lifetime_ms: n.removed_ms.unwrap_or(m.clock.end_ms) - n.launched_ms,
    }))
}

/// Renders the report page of a model.
pub fn render(m: &RunModel, generated_at_ms: i64) -> String {
    let cost = node_cost(m);
    let summary = summary::summarize(m, &cost);
    html::page(m, &summary, &cost, generated_at_ms)
}
