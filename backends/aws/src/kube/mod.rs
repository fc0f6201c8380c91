//! The Kubernetes half of the `aws` target: [`AwsKube`] implements the `Kube`
//! service with kube-rs against the clusters' API servers (EKS tokens, or a
//! kubeconfig context), and [`AwsObserver`] watches their pods, nodes and preemption
//! events.
//!
//! The identity runbook runs as needs, cluster-wide: list and watch on pods, nodes
//! and events (the observer); create and delete on namespaces and PriorityClasses;
//! create and update on Roles and RoleBindings in the job namespaces (which the
//! API server only allows to holders of those permissions, or `escalate`/`bind`); get,
//! create and update on ConfigMap `kube-system/aws-auth`; and patch on whatever
//! `apply-manifest` and `enable-autoscaling` apply (Karpenter NodePools and
//! EC2NodeClasses), with list and delete on the NodePools and EC2NodeClasses
//! `delete-cluster` removes. The cluster
//! creator's admin access, which EKS grants by default, covers all of it.

mod access;
mod autoscaler;
mod bearer;
mod connect;
mod eks_token;
mod karpenter;
mod node_class;
mod node_events;
mod node_pool;
mod observer;
mod pod_events;
mod service;
mod status;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

pub use observer::AwsObserver;
use runbook_backend::calls::CallLog;
pub use service::grant_emr_access_through;

/// The clusters' Kubernetes APIs, with one kube-rs client per cluster.
pub struct AwsKube {
    connection: connect::Connection,
    /// Clients built so far, by cluster name. Building one may call EKS, so it is
    /// done once per cluster, under this lock.
    clients: tokio::sync::Mutex<HashMap<String, ::kube::Client>>,
    observer: Arc<AwsObserver>,
    /// The ARN partition of the account (for the role ARNs in aws-auth).
    partition: String,
    /// The run's record of its calls, which the clients built here write to.
    calls: Option<CallLog>,
}

impl AwsKube {
    /// Connects through EKS: each cluster's endpoint and CA from `DescribeCluster`,
    /// and a bearer token signed with `sdk`'s credentials; or, when `kube_context`
    /// names a kubeconfig context (`KUBECONFIG` is honoured), through that context for
    /// every cluster (then EKS is not used here). The first client of a cluster starts `observer`'s watches on it.
    pub fn new(
        eks: aws_sdk_eks::Client,
        sdk: aws_config::SdkConfig,
        kube_context: Option<String>,
        observer: Arc<AwsObserver>,
    ) -> AwsKube {
        let partition = sdk.region().map_or("aws", |region| {
            runbook_backend::arn::partition_of_region(region.as_ref())
        });
        let connection = match kube_context {
            Some(context) => connect::Connection::Context { context },
            None => connect::Connection::Eks {
                eks,
                sdk: Box::new(sdk),
            },
        };
        AwsKube {
            connection,
            clients: tokio::sync::Mutex::new(HashMap::new()),
            observer,
            partition: partition.to_string(),
            calls: None,
        }
    }

    /// Writes ARNs in `partition` (the STS caller's) instead of the region's.
    #[must_use]
    pub fn in_partition(mut self, partition: &str) -> AwsKube {
        self.partition = partition.to_string();
        self
    }

    /// Records every request of the clients built from now on in `calls`.
    #[must_use]
    pub fn recording_calls(mut self, calls: Option<CallLog>) -> AwsKube {
        self.calls = calls;
        self
    }

    /// Talks to `cluster` through `client` and knows no other cluster (tests give a
    /// client over a mock API server).
    pub fn with_client(
        cluster: &str,
        client: ::kube::Client,
        observer: Arc<AwsObserver>,
    ) -> AwsKube {
        AwsKube {
            connection: connect::Connection::Fixed {
                cluster: cluster.to_string(),
            },
            clients: tokio::sync::Mutex::new(HashMap::from([(cluster.to_string(), client)])),
            observer,
            partition: "aws".to_string(),
            calls: None,
        }
    }
}
