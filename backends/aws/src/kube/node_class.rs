//! The Karpenter v1 `EC2NodeClass` that `enable-autoscaling` applies on `aws` beside
//! its NodePool: how Karpenter launches the NodePool's instances (the IAM role they
//! run as, the AMI, the subnets and security groups), as eksctl's Karpenter setup and
//! Karpenter's getting-started guide make it.

use ::kube::api::GroupVersionKind;
use serde_json::{Value, json};

use super::node_pool::MANAGED_BY;

/// Karpenter v1's EC2NodeClass kind (`karpenter.k8s.aws/v1`).
pub(super) fn node_class_kind() -> GroupVersionKind {
    GroupVersionKind::gvk("karpenter.k8s.aws", "v1", "EC2NodeClass")
}

/// The tag Karpenter finds the cluster's subnets and security groups by; eksctl puts
/// `karpenter.sh/discovery: <cluster>` on both when it sets Karpenter up.
pub(super) const DISCOVERY_TAG: &str = "karpenter.sh/discovery";

/// An `EC2NodeClass` named `name` for the nodes of `cluster`: they run as IAM role
/// `role` (a name, or an ARN whose last path segment is the name: Karpenter makes the
/// instance profile from the role's name), on the latest Amazon Linux 2023 EKS AMI
/// (`alias: al2023@latest`, which selects the AMI family too), in the subnets and with
/// the security groups tagged for the cluster's discovery. Labelled as runbook's, so
/// `delete-cluster` knows what to remove.
pub(super) fn node_class(name: &str, cluster: &str, role: &str) -> Value {
    let role_name = role.rsplit('/').next().unwrap_or(role);
    let discovery = json!([{ "tags": { DISCOVERY_TAG: cluster } }]);
    json!({
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
        "spec": {
            "role": role_name,
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": discovery,
            "securityGroupSelectorTerms": discovery,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::node_class;

    #[test]
    fn node_class_names_the_role_the_ami_and_the_discovery_tags() {
        let class = node_class(
            "runbook-emr",
            "demo",
            "arn:aws:iam::123456789012:role/demo-ng-NodeInstanceRole",
        );
        assert_eq!(
            class,
            json!({
                "apiVersion": "karpenter.k8s.aws/v1",
                "kind": "EC2NodeClass",
                "metadata": {
                    "name": "runbook-emr",
                    "labels": {"app.kubernetes.io/managed-by": "runbook"},
                },
                "spec": {
                    "role": "demo-ng-NodeInstanceRole",
                    "amiSelectorTerms": [{"alias": "al2023@latest"}],
                    "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
                    "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
                }
            })
        );
    }

    #[test]
    fn a_role_name_or_a_role_with_a_path_gives_the_name() {
        assert_eq!(
            node_class("n", "c", "KarpenterNodeRole-c")["spec"]["role"],
            "KarpenterNodeRole-c"
        );
        assert_eq!(
            node_class("n", "c", "arn:aws-cn:iam::1:role/team/nodes/emr-nodes")["spec"]["role"],
            "emr-nodes"
        );
    }
}
