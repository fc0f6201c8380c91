//! The `aws` target: real AWS services through aws-sdk-rust, and the clusters' Kubernetes APIs through kube-rs.
pub mod kube;
