//! End-to-end tests of the `runbook` binary: one integration-test binary (fast to link),
//! with the builder of `harness` and one module per area.

mod aws_faults;
mod aws_harness;
mod aws_karpenter;
mod aws_sdk;
mod aws_target;
mod canned_runbooks;
mod crash_resume;
mod cron;
mod eks_connection;
mod eks_versions;
mod eksctl_parity;
mod exec_group;
mod failures;
mod fault_injection;
mod harness;
mod history;
mod json_shapes;
mod kube_faults;
mod lifecycle;
mod locking;
mod no_panics;
mod plan_aws;
mod plan_matches_run;
mod preflight;
mod random_kills;
mod report;
mod retries;
mod run_basics;
mod secret_scan;
mod secrets;
mod shared_world;
mod signals;
mod stored_events;
mod validation;
mod wait_faults;
