//! `runbook`: a workflow engine for templated YAML runbooks that stand up and exercise
//! Amazon EMR on EKS, with SQLite checkpoints and resume.

pub mod diagnostic;
pub mod runbook;
pub mod template;
pub mod yaml;
