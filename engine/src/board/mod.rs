//! The presenter's board (`runbook run --board`): a live full-screen view of the
//! cluster while a run tells its story, to point at instead of `kubectl get pods -w`.
//!
//! `model` keeps what is on the board from the run's observed events; `view` draws it
//! with ratatui; `app` puts it on the terminal and reads the presenter's keys; `live`
//! connects it to a run (the target's events, the reporter, the keys' effects).

pub mod app;
pub mod live;
pub mod model;
pub mod recorded;
pub mod view;

pub use app::{Board, Controls};
pub use model::BoardModel;

#[cfg(test)]
mod tests;
