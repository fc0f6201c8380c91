//! `runbook`: a workflow engine for templated YAML runbooks that stand up and exercise
//! Amazon EMR on EKS, with SQLite checkpoints and resume.

pub mod board;
pub mod cli;
pub mod diagnostic;
mod error;
pub mod executor;
pub mod exit;
pub(crate) mod export;
pub mod iam_actions;
pub mod iam_policy;
pub mod inflight_jobs;
pub mod lifecycle;
pub mod masker;
pub mod pace;
pub mod params;
pub mod preflight;
pub mod progress;
pub mod rbac_role;
pub mod report;
pub mod run_settings;
pub mod runbook;
pub mod signals;
pub mod step_key;
pub mod story;
pub mod template;
pub mod template_names;
pub mod timefmt;
pub mod yaml;
