//! The simulated world on the wire: `runbook run --serve ADDR` and `runbook sim serve`
//! answer the Kubernetes API from the `sim` target's world, on loopback, so the real
//! `kubectl` (and any kube-rs client) can watch the priority demo as it happens.
//!
//! On the same port it answers EKS (`/clusters...`) and EMR on EKS
//! (`/virtualclusters...`) on their rest-json wire protocol, for the AWS SDKs and CLI
//! (`AWS_ENDPOINT_URL_EKS`, `AWS_ENDPOINT_URL_EMR_CONTAINERS`).
//!
//! The server reads the run's own world (the [`SimTarget`] its steps act on), under the
//! world's lock for the length of one request, so every answer is a consistent view of
//! one instant of virtual time. Watches follow the world's append-only event log: a
//! resource version is a position in that log, so a watch resumed from one loses
//! nothing. See [`kube`] for what is served and how it maps the simulator's model onto
//! the API's objects.
//!
//! [`SimTarget`]: runbook_backend_sim::SimTarget

mod account;
mod aws_error;
mod body;
mod eks;
mod emr;
pub mod kube;
pub mod kubeconfig;
mod server;
mod time;

pub use account::Account;
pub use server::{Served, serve};
