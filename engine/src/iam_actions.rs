//! The IAM actions a call needs: what `preflight` asks `iam:SimulatePrincipalPolicy`
//! about, and what `plan --iam-policy` grants.
//!
//! Most operations are authorized by the action of the same name in the service's
//! prefix (`eks:CreateCluster`). The exceptions are S3's, whose actions are not named
//! after its operations (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html>),
//! and the calls that hand a role to a service, which also need `iam:PassRole`
//! (EKS CreateCluster and CreateNodegroup pass the cluster and node roles:
//! <https://docs.aws.amazon.com/eks/latest/userguide/create-cluster.html>), and
//! CreateNodegroup, which EKS checks the subnets and node role of with the caller's
//! rights (`ec2:DescribeSubnets`, `iam:GetRole`, `iam:ListAttachedRolePolicies`, as
//! Step Functions' generated policy for `eks:createNodegroup` lists them).
//! EC2's creates that tag what they create also need `ec2:CreateTags`
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html>).
//! Kubernetes calls are authorized by the cluster's RBAC, not IAM, and local programs
//! by nobody.

/// The IAM actions the call `operation` of `service` (as `plan` names them) needs.
pub fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let prefix = match service {
        "EKS" => "eks",
        "EMR on EKS" => "emr-containers",
        "IAM" => "iam",
        "CloudWatch Logs" => "logs",
        "STS" => "sts",
        "EC2" => "ec2",
        "S3" => return s3_actions(operation),
        _ => return Vec::new(),
    };
    let mut actions = vec![format!("{prefix}:{operation}")];
    if service == "EKS" && matches!(operation, "CreateCluster" | "CreateNodegroup") {
        actions.push("iam:PassRole".to_string());
    }
    // EKS checks a new node group's subnets and node role with the caller's rights
    // (Step Functions' policy for eks:createNodegroup, "IAM policies for Amazon EKS").
    if service == "EKS" && operation == "CreateNodegroup" {
        actions.extend(
            [
                "ec2:DescribeSubnets",
                "iam:GetRole",
                "iam:ListAttachedRolePolicies",
            ]
            .map(String::from),
        );
    }
    // EC2 authorizes tags given at creation (TagSpecifications) as ec2:CreateTags.
    if service == "EC2"
        && (operation.starts_with("Create") || operation == "AllocateAddress")
        && operation != "CreateTags"
        && operation != "CreateRoute"
    {
        actions.push("ec2:CreateTags".to_string());
    }
    actions
}

/// S3's operations and the actions that authorize them.
fn s3_actions(operation: &str) -> Vec<String> {
    let action = match operation {
        "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "DeleteObjects" => "DeleteObject",
        other => other,
    };
    vec![format!("s3:{action}")]
}

#[cfg(test)]
mod tests {
    use super::iam_actions;

    #[test]
    fn operations_map_to_the_actions_that_authorize_them() {
        assert_eq!(
            iam_actions("EKS", "CreateCluster"),
            ["eks:CreateCluster", "iam:PassRole"]
        );
        assert_eq!(
            iam_actions("EMR on EKS", "StartJobRun"),
            ["emr-containers:StartJobRun"]
        );
        assert_eq!(
            iam_actions("CloudWatch Logs", "CreateLogGroup"),
            ["logs:CreateLogGroup"]
        );
        assert_eq!(iam_actions("S3", "ListObjectsV2"), ["s3:ListBucket"]);
        assert_eq!(iam_actions("S3", "DeleteObjects"), ["s3:DeleteObject"]);
        assert_eq!(iam_actions("S3", "PutObject"), ["s3:PutObject"]);
        assert_eq!(
            iam_actions("EC2", "CreateVpc"),
            ["ec2:CreateVpc", "ec2:CreateTags"]
        );
        assert_eq!(iam_actions("EC2", "CreateRoute"), ["ec2:CreateRoute"]);
        assert_eq!(iam_actions("EC2", "DeleteVpc"), ["ec2:DeleteVpc"]);
        assert!(iam_actions("Kubernetes", "create Namespace").is_empty());
        assert!(iam_actions("local", "run").is_empty());
    }
}
