//! Whether a cluster can autoscale with Karpenter, for `runbook preflight`: the API
//! server serves Karpenter's `NodePool` kind (`enable-autoscaling` applies one), and
//! Karpenter's controller runs (else a NodePool is accepted but launches no nodes).

use std::collections::BTreeMap;

use ::kube::Client;
use ::kube::discovery;
use ::kube::error::DiscoveryError;

use super::AwsKube;
use super::node_pool::node_pool_kind;
use super::service::{label_selector, list_pods_call};
use super::status::kube_error;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{AutoscalerStatus, Kube, PodInfo, TargetResult};

/// The label Karpenter's Helm chart puts on its controller pods, wherever it is
/// installed (`kube-system` or `karpenter`, by the install guide's choice).
const CONTROLLER_LABEL: (&str, &str) = ("app.kubernetes.io/name", "karpenter");

/// What the cluster has of Karpenter: the NodePool API and the running controller pods.
pub(super) async fn autoscaler_status(
    kube: &AwsKube,
    cluster: &str,
) -> TargetResult<AutoscalerStatus> {
    let client = kube.client(cluster).await?;
    let node_pool_api = serves_node_pool(&client).await?;
    let pods = kube.pods(cluster, None, &controller_selector()).await?;
    Ok(AutoscalerStatus {
        node_pool_api,
        controller_pods: running(&pods),
    })
}

/// Asks discovery (which any authenticated user may read) rather than listing
/// NodePools, which needs a permission preflight should not require. A group the
/// server does not serve is a 404, plain text on a real API server; a served group
/// without the kind is discovery's `MissingKind`. Both mean no NodePool API.
pub(super) async fn serves_node_pool(client: &Client) -> TargetResult<bool> {
    let kind = node_pool_kind();
    match declared(
        discover_node_pool_call(),
        discovery::pinned_kind(client, &kind),
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(::kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(::kube::Error::Discovery(DiscoveryError::MissingKind(_))) => Ok(false),
        Err(e) => Err(kube_error(
            "discover",
            &format!("{}/{}/{}", kind.group, kind.version, kind.kind),
            &e,
        )),
    }
}

/// The names of the pods that are running (a pending or crashed controller launches
/// no nodes).
fn running(pods: &[PodInfo]) -> Vec<String> {
    pods.iter()
        .filter(|p| p.phase == "Running")
        .map(|p| p.name.clone())
        .collect()
}

/// The calls [`autoscaler_status`] makes.
pub(super) fn planned_autoscaler_status() -> Vec<PlannedCall> {
    vec![
        discover_node_pool_call(),
        list_pods_call(None, &label_selector(&controller_selector())),
    ]
}

/// The selector of Karpenter's controller pods.
fn controller_selector() -> BTreeMap<String, String> {
    BTreeMap::from([(
        CONTROLLER_LABEL.0.to_string(),
        CONTROLLER_LABEL.1.to_string(),
    )])
}

/// Discovery of Karpenter's API group: does it serve NodePool?
pub(super) fn discover_node_pool_call() -> PlannedCall {
    let kind = node_pool_kind();
    PlannedCall::new(
        Service::Kubernetes,
        format!("discover {}/{}", kind.group, kind.version),
        serde_json::json!({"kind": kind.kind}),
    )
}
