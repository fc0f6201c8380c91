//! The Karpenter v1 NodePool that `enable-autoscaling` applies on `aws` (the document
//! itself is the interface's, `runbook_backend::karpenter_node_pool`, which the `sim`
//! target reads too).

use ::kube::api::GroupVersionKind;

pub(super) use runbook_backend::karpenter_node_pool::{MANAGED_BY, NODE_POOL_LABEL, node_pool};

/// Karpenter v1's NodePool kind, the only one runbook applies (v1beta1 and the older
/// Provisioner are gone from current Karpenter).
pub(super) fn node_pool_kind() -> GroupVersionKind {
    GroupVersionKind::gvk("karpenter.sh", "v1", "NodePool")
}
