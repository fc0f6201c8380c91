//! The runbook action catalog.
//!
//! Every action is one file with a typed input struct (unknown fields rejected, a doc
//! comment on every field: they become `runbook actions NAME` and the JSON Schema), a
//! typed output struct and its behaviour on each target. The catalog in [`catalog`] is
//! the one closed list of actions; adding an action means adding a file and a line there.

pub mod action;
pub mod catalog;
pub mod context;
pub mod input_error;
pub mod planned_call;
pub mod process_group;

mod apply_manifest;
mod assert;
mod assert_autoscaling;
mod assert_eviction;
mod cancel_job;
mod capacity_type;
mod cluster_lookup;
mod create_bucket;
mod create_cluster;
mod create_job_role;
mod create_log_group;
mod create_namespace;
mod create_priority_class;
mod deadline;
mod delete_bucket;
mod delete_cluster;
mod delete_job_role;
mod delete_log_group;
mod delete_namespace;
mod delete_priority_class;
mod delete_vc;
mod enable_autoscaling;
mod exec;
mod job_lookup;
mod karpenter_install;
mod log;
mod node_pool_teardown;
mod observed;
mod patient;
mod put_object;
mod register_vc;
mod sleep;
mod submit_job;
mod wait_for_job;
mod wait_for_pods;

#[cfg(test)]
mod test_support;

pub use action::{Action, Effects, ErasedAction};
pub use catalog::{catalog, find};
pub use context::{CancelSignal, StepContext, StepReporter};
pub use input_error::{InputError, PathSegment};
pub use planned_call::{PlanContext, PlannedCall, Service};
