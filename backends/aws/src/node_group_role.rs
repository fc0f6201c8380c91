//! The IAM role a managed node group's nodes run as (EKS DescribeNodegroup), which
//! `enable-autoscaling` gives Karpenter's nodes by default: EKS mapped it in aws-auth
//! when it made the node group, so nodes launched with it can join the cluster.

use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupError;

use super::error::service_error;
use runbook_backend::TargetResult;

/// The node role ARN of node group `nodegroup` of `cluster`; `None` if the node group
/// is gone.
pub(crate) async fn node_group_role(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
) -> TargetResult<Option<String>> {
    match eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .nodegroup()
            .and_then(|n| n.node_role().map(str::to_string))),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeNodegroupError::ResourceNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(service_error(
            "EKS",
            "DescribeNodegroup",
            format!("{cluster}/{nodegroup}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
    use aws_sdk_eks::types::Nodegroup;
    use aws_sdk_eks::types::error::ResourceNotFoundException;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::sdk_mock::mocked;

    #[tokio::test]
    async fn the_role_of_a_node_group_and_none_for_one_that_is_gone() {
        let found = mock!(aws_sdk_eks::Client::describe_nodegroup)
            .match_requests(|r| {
                r.cluster_name() == Some("demo") && r.nodegroup_name() == Some("ng")
            })
            .then_output(|| {
                DescribeNodegroupOutput::builder()
                    .nodegroup(
                        Nodegroup::builder()
                            .node_role("arn:aws:iam::123456789012:role/demo-ng-NodeInstanceRole")
                            .build(),
                    )
                    .build()
            });
        let gone = mock!(aws_sdk_eks::Client::describe_nodegroup)
            .match_requests(|r| r.nodegroup_name() == Some("old"))
            .then_error(|| {
                DescribeNodegroupError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("No node group found")
                        .build(),
                )
            });
        let eks = mocked!(aws_sdk_eks, &found, &gone);
        assert_eq!(
            node_group_role(&eks, "demo", "ng")
                .await
                .expect("found")
                .as_deref(),
            Some("arn:aws:iam::123456789012:role/demo-ng-NodeInstanceRole")
        );
        assert_eq!(
            node_group_role(&eks, "demo", "old").await.expect("gone"),
            None
        );
    }
}
